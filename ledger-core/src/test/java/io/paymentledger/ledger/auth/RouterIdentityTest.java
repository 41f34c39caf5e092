package io.paymentledger.ledger.auth;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.security.identity.ForwardedCertificate;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Future;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Who a call through the region router is, as a real node with mutual TLS and {@link CertificateCallerResolver} decides:
 * {@code x-merchant-id} names a merchant and never the operator (whatever its value); the operator through the router
 * is proved by its own certificate, forwarded by the router, issued by the deployment's CA.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RouterIdentityTest {

    static final String TD = "ledger.test";
    static final String M1 = "shop-1";
    static Pki pki;
    static TestLedger t;
    static io.vertx.core.Vertx vertx;
    static GrpcClient asRouter;
    static GrpcClient asOperator;
    static GrpcClient asMerchant;
    static IssuedCert operatorCert;
    static IssuedCert merchantCert;
    static IssuedCert foreignOperatorCert;
    static String m1Account;

    @BeforeAll
    static void start() throws Exception {
        Path dir = Files.createTempDirectory("router-identity-");
        pki = Pki.init(dir.resolve("pki"), TD);
        IssuedCert node = pki.issueService("ledger-a", "a", "ledger", Duration.ofHours(1));
        IssuedCert router = pki.issueService("router-a", "a", "router", Duration.ofHours(1));
        operatorCert = pki.issueOperator(Duration.ofHours(1));
        merchantCert = pki.issueMerchant(M1, Duration.ofHours(1));
        foreignOperatorCert = Pki.init(dir.resolve("other-pki"), TD).issueOperator(Duration.ofHours(1));
        t = TestLedger.start(Tls.serverOptions(node.certFile(), node.keyFile(), pki.caCertFile(), pki.crlFile(),
                ClientAuth.REQUIRED).setHost("127.0.0.1").setPort(0), new CertificateCallerResolver(TD, null, pki.caCertificate()));
        vertx = io.vertx.core.Vertx.vertx();
        asRouter = client(router);
        asOperator = client(operatorCert);
        asMerchant = client(merchantCert);
        m1Account = id("m1");
        CreateAccountsResponse created = call(asOperator, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                .addAccounts(account(m1Account, "EUR").toBuilder().setOwner(M1)).build(), Map.of()).body();
        assertThat(created.getResults(0).getStatus()).isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_CREATED);
    }

    @AfterAll
    static void stop() {
        if (vertx != null) {
            vertx.close().await();
        }
        if (t != null) {
            t.close();
        }
    }

    @Test
    void aMerchantIdOfOperatorForwardedByTheRouterIsNotTheOperator() {
        for (String name : new String[] {"operator", "Operator", "OPERATOR"}) {
            Answer<NodeStatus> status = call(asRouter, NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(),
                    Map.of("x-merchant-id", name));
            assertThat(status.status()).as("an operator-only method for x-merchant-id: " + name).isEqualTo(GrpcStatus.UNAUTHENTICATED);
            assertThat(status.message()).contains("not a merchant id");
            Answer<LookupAccountsResponse> lookup = call(asRouter, LedgerServiceGrpcClient.LookupAccounts,
                    LookupAccountsRequest.newBuilder().addIds(m1Account).build(), Map.of("x-merchant-id", name));
            assertThat(lookup.status()).as("another merchant's account for x-merchant-id: " + name).isEqualTo(GrpcStatus.UNAUTHENTICATED);
            assertThat(lookup.body()).isNull();
        }
        // The merchant the router vouches for is still that merchant.
        assertThat(call(asRouter, LedgerServiceGrpcClient.LookupAccounts, LookupAccountsRequest.newBuilder().addIds(m1Account).build(),
                Map.of("x-merchant-id", M1)).body().getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
    }

    @Test
    void theOperatorThroughTheRouterIsProvedByItsOwnCertificate() throws Exception {
        Map<String, String> forwarded = Map.of(ForwardedCertificate.OPERATOR_HEADER, encoded(operatorCert));
        Answer<NodeStatus> status = call(asRouter, NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(), forwarded);
        assertThat(status.status()).isEqualTo(GrpcStatus.OK);
        assertThat(status.body().getRegion()).isEqualTo("a");
        assertThat(call(asRouter, LedgerServiceGrpcClient.LookupAccounts, LookupAccountsRequest.newBuilder().addIds(m1Account).build(),
                forwarded).body().getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);

        // Not a merchant's certificate, not an operator certificate of another CA, not garbage.
        for (String notTheOperator : new String[] {encoded(merchantCert), encoded(foreignOperatorCert), "not base64!"}) {
            Answer<NodeStatus> refused = call(asRouter, NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(),
                    Map.of(ForwardedCertificate.OPERATOR_HEADER, notTheOperator));
            assertThat(refused.status()).isEqualTo(GrpcStatus.UNAUTHENTICATED);
            assertThat(refused.message()).contains("not a valid operator certificate");
        }
        // From anyone but the router the header means nothing: a merchant stays that merchant.
        Answer<NodeStatus> merchant = call(asMerchant, NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(), forwarded);
        assertThat(merchant.status()).isEqualTo(GrpcStatus.PERMISSION_DENIED);
        // The operator's own connection.
        assertThat(call(asOperator, NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(), Map.of()).status())
                .isEqualTo(GrpcStatus.OK);
    }

    // ---- helpers ----

    record Answer<T>(GrpcStatus status, String message, T body) {}

    static String encoded(IssuedCert cert) throws Exception {
        return Base64.getEncoder().encodeToString(cert.cert().getEncoded());
    }

    static GrpcClient client(IssuedCert cert) {
        return GrpcClient.client(vertx, new GrpcClientOptions(), Tls.clientOptions(cert.certFile(), cert.keyFile(), pki.caCertFile()));
    }

    static <Req extends com.google.protobuf.Message, Resp> Answer<Resp> call(GrpcClient client, ServiceMethod<Resp, Req> method,
            Req request, Map<String, String> headers) {
        SocketAddress address = SocketAddress.inetSocketAddress(t.node.grpcPort(), "localhost");
        return client.request(address, method).compose(req -> {
            headers.forEach((k, v) -> req.headers().set(k, v));
            req.timeout(20, TimeUnit.SECONDS);
            req.end(request);
            return req.response().compose(resp -> resp.last().map(body -> new Answer<>(GrpcStatus.OK, "", body))
                    .recover(e -> Future.succeededFuture(new Answer<Resp>(resp.status(), resp.statusMessage(), null))));
        }).await();
    }
}
