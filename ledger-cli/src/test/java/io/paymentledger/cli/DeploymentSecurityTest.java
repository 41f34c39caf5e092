package io.paymentledger.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.CreateApiKeyRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.GetAccountTransfersRequest;
import io.paymentledger.api.v1.GetAccountTransfersResponse;
import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.RevokeApiKeyRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Future;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The local deployment as it runs: every listener on the PKI it generated, merchants confined to their own money
 * through the router and directly, forged identities ignored, expired/revoked certificates and API keys refused,
 * and no secret in any log.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeploymentSecurityTest {

    static LocalDeployment d;
    static DeploymentSecurity security;
    static Pki foreign;
    static final List<String> secretsSeen = new ArrayList<>();
    static final String M1 = "shop-one";
    static final String M2 = "shop-two";
    static String bank;
    static String m1Account;
    static String m2Account;

    @org.junit.jupiter.api.AfterAll
    static void release() {
        io.paymentledger.cli.support.SharedDeployment.release(DeploymentSecurityTest.class);
    }

    @BeforeAll
    static void up() throws Exception {
        d = io.paymentledger.cli.support.SharedDeployment.get();
        security = d.security();
        foreign = Pki.init(Files.createTempDirectory("ledger-foreign-pki-"), "ledger.local");
        secretsSeen.add(security.postgresPassword());
        secretsSeen.add(security.apiKeyPepper());
        String run = Long.toHexString(System.nanoTime());
        bank = "bank-" + run;
        m1Account = M1 + "-main-" + run;
        m2Account = M2 + "-main-" + run;
        try (Clients op = Clients.operator(d.topology())) {
            var ledger = LedgerServiceGrpcClient.create(op.grpc(), leaderAddress());
            ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(bank, "")).build()).await(10, TimeUnit.SECONDS);
        }
        assertThat(call(merchant(M1), router(), LedgerServiceGrpcClient.CreateAccounts,
                CreateAccountsRequest.newBuilder().addAccounts(account(m1Account, M1)).build(), Map.of()).status()).isEqualTo(GrpcStatus.OK);
        assertThat(call(merchant(M2), router(), LedgerServiceGrpcClient.CreateAccounts,
                CreateAccountsRequest.newBuilder().addAccounts(account(m2Account, M2)).build(), Map.of()).status()).isEqualTo(GrpcStatus.OK);
        try (Clients op = Clients.operator(d.topology())) {
            var ledger = LedgerServiceGrpcClient.create(op.grpc(), leaderAddress());
            var funded = ledger.createTransfers(CreateTransfersRequest.newBuilder()
                    .addTransfers(transfer("fund1-" + run, bank, m1Account, 1000))
                    .addTransfers(transfer("fund2-" + run, bank, m2Account, 1000)).build()).await(10, TimeUnit.SECONDS);
            assertThat(funded.getResultsList()).allMatch(r -> r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED);
        }
    }

    static Account account(String id, String owner) {
        return Account.newBuilder().setId(id).setCurrency("EUR").setCode(1).setOwner(owner).build();
    }

    static Transfer transfer(String id, String debit, String credit, long amount) {
        return Transfer.newBuilder().setId(id).setDebitAccountId(debit).setCreditAccountId(credit).setAmount(amount)
                .setCurrency("EUR").setCode(1).build();
    }

    static SocketAddress router() {
        return Clients.loopback(d.topology().routerPort());
    }

    static SocketAddress node(String region) {
        return Clients.loopback(d.topology().region(region).grpcPort());
    }

    static SocketAddress leaderAddress() {
        return node(d.awaitLeader(Duration.ofSeconds(30)).getRegion());
    }

    static HttpClientOptions merchant(String id) {
        IssuedCert c = security.merchant(id);
        return Tls.clientOptions(c.certFile(), c.keyFile(), security.caFile());
    }

    static HttpClientOptions noCertificate() {
        return Tls.clientOptions(null, null, security.caFile());
    }

    static HttpClientOptions plaintext() {
        return new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false);
    }

    record Answer<T>(GrpcStatus status, String message, T body) {}

    /** One call with its own connection; the status it ended with (UNAVAILABLE when no connection could be made). */
    static <Req extends Message, Resp> Answer<Resp> call(HttpClientOptions options, SocketAddress to, ServiceMethod<Resp, Req> method,
            Req request, Map<String, String> headers) {
        try (Clients c = new Clients(options)) {
            return c.grpc().request(to, method).compose(req -> {
                headers.forEach((k, v) -> req.headers().set(k, v));
                req.timeout(10, TimeUnit.SECONDS);
                req.end(request);
                return req.response().compose(resp -> resp.last().map(body -> new Answer<>(GrpcStatus.OK, "", body))
                        .recover(e -> Future.succeededFuture(new Answer<Resp>(resp.status(), resp.statusMessage(), null))));
            }).recover(e -> Future.succeededFuture(new Answer<Resp>(GrpcStatus.UNAVAILABLE, "no connection: " + e, null)))
                    .await(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            return new Answer<>(GrpcStatus.UNAVAILABLE, "no connection: " + e, null);
        }
    }

    static Answer<LookupAccountsResponse> lookup(HttpClientOptions who, SocketAddress to, String id, Map<String, String> headers) {
        return call(who, to, LedgerServiceGrpcClient.LookupAccounts, LookupAccountsRequest.newBuilder().addIds(id).build(), headers);
    }

    @Test
    @Order(1)
    void everyListenerRefusesPlaintextAndForeignCertificates() throws Exception {
        IssuedCert stranger = foreign.issueMerchant(M1, Duration.ofDays(1));
        HttpClientOptions foreignCert = Tls.clientOptions(stranger.certFile(), stranger.keyFile(), security.caFile());
        List<SocketAddress> listeners = List.of(node("a"), node("b"), router());
        for (SocketAddress listener : listeners) {
            assertThat(lookup(plaintext(), listener, m1Account, Map.of()).status()).as("plaintext to " + listener).isEqualTo(GrpcStatus.UNAVAILABLE);
            assertThat(lookup(foreignCert, listener, m1Account, Map.of()).status()).as("foreign CA to " + listener).isEqualTo(GrpcStatus.UNAVAILABLE);
        }
        // Nodes require a client certificate; the router lets a merchant in with an API key instead (below).
        assertThat(lookup(noCertificate(), node("a"), m1Account, Map.of()).status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(lookup(noCertificate(), router(), m1Account, Map.of()).status()).isEqualTo(GrpcStatus.UNAUTHENTICATED);
        // The certificate of this deployment works.
        assertThat(lookup(merchant(M1), router(), m1Account, Map.of()).body().getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
        // PostgreSQL: plaintext and foreign certificates refused.
        for (String region : d.topology().regions().keySet()) {
            var pg = d.postgres(region);
            Properties plain = new Properties();
            plain.setProperty("user", "postgres");
            plain.setProperty("password", security.postgresPassword());
            plain.setProperty("sslmode", "disable");
            assertThat(refused(pg.jdbcUrl("postgres"), plain)).as("plaintext to postgres " + region).isTrue();
            Properties wrongCa = io.paymentledger.replication.postgres.PgCluster.clientProperties(security.postgresSecurity(region),
                    stranger.certFile(), stranger.keyFile());
            assertThat(refused(pg.jdbcUrl("postgres"), wrongCa)).as("foreign certificate to postgres " + region).isTrue();
        }
    }

    static boolean refused(String url, Properties p) {
        try (var c = DriverManager.getConnection(url, p)) {
            return false;
        } catch (SQLException e) {
            return true;
        }
    }

    @Test
    @Order(2)
    void merchantsTouchOnlyTheirOwnMoneyThroughTheRouterAndDirectly() {
        String run = Long.toHexString(System.nanoTime());
        for (SocketAddress to : List.of(router(), leaderAddress())) {
            Answer<CreateAccountsResponse> created = call(merchant(M1), to, LedgerServiceGrpcClient.CreateAccounts,
                    CreateAccountsRequest.newBuilder().addAccounts(account("x1-" + run + to.port(), M1))
                            .addAccounts(account("x2-" + run + to.port(), M2)).build(), Map.of());
            assertThat(created.body().getResultsList()).extracting(r -> r.getStatus()).containsExactly(
                    CreateAccountStatus.CREATE_ACCOUNT_CREATED, CreateAccountStatus.CREATE_ACCOUNT_PERMISSION_DENIED);
            // Another merchant's account looks like one that does not exist (no oracle), on every path.
            assertThat(lookup(merchant(M1), to, m2Account, Map.of()).body().getResults(0).getStatus())
                    .isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
            Answer<CreateTransfersResponse> moves = call(merchant(M1), to, LedgerServiceGrpcClient.CreateTransfers,
                    CreateTransfersRequest.newBuilder()
                            .addTransfers(transfer("steal-" + run + to.port(), m2Account, m1Account, 10))
                            .addTransfers(transfer("pay-" + run + to.port(), m1Account, m2Account, 10))
                            .addTransfers(transfer("own-" + run + to.port(), m1Account, "x1-" + run + to.port(), 10)).build(), Map.of());
            assertThat(moves.body().getResultsList()).extracting(r -> r.getStatus()).containsExactly(
                    CreateTransferStatus.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND, CreateTransferStatus.CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND,
                    CreateTransferStatus.CREATE_TRANSFER_CREATED);
            Answer<GetAccountTransfersResponse> history = call(merchant(M1), to, LedgerServiceGrpcClient.GetAccountTransfers,
                    GetAccountTransfersRequest.newBuilder().setAccountId(m2Account).build(), Map.of());
            assertThat(history.status()).isEqualTo(GrpcStatus.NOT_FOUND);
            Answer<NodeStatus> nodeStatus = call(merchant(M1), to, NodeServiceGrpcClient.GetNodeStatus,
                    GetNodeStatusRequest.getDefaultInstance(), Map.of());
            assertThat(nodeStatus.status()).isEqualTo(GrpcStatus.PERMISSION_DENIED);
        }
    }

    @Test
    @Order(3)
    void identityHeadersFromAnyoneButTheRouterAreIgnored() {
        SocketAddress direct = leaderAddress();
        assertThat(lookup(merchant(M1), direct, m2Account, Map.of("x-merchant-id", M2)).body().getResults(0).getStatus())
                .isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
        assertThat(call(merchant(M1), direct, NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(),
                Map.of("x-merchant-id", "operator")).status()).isEqualTo(GrpcStatus.PERMISSION_DENIED);
        // Through the router, the client's own header is overwritten by what its certificate says.
        assertThat(lookup(merchant(M1), router(), m2Account, Map.of("x-merchant-id", M2)).body().getResults(0).getStatus())
                .isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
        assertThat(call(merchant(M1), router(), NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(),
                Map.of("x-merchant-id", "operator")).status()).isEqualTo(GrpcStatus.PERMISSION_DENIED);
        // The operator through the router: proved to the node by its own certificate, which the router forwards.
        IssuedCert operator = security.operator();
        HttpClientOptions asOperator = Tls.clientOptions(operator.certFile(), operator.keyFile(), security.caFile());
        assertThat(call(asOperator, router(), NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(),
                Map.of()).status()).isEqualTo(GrpcStatus.OK);
        assertThat(lookup(asOperator, router(), m2Account, Map.of()).body().getResults(0).getStatus())
                .isEqualTo(LookupStatus.LOOKUP_FOUND);
        // Another service's certificate is not a merchant either.
        IssuedCert node = security.node("b");
        assertThat(lookup(Tls.clientOptions(node.certFile(), node.keyFile(), security.caFile()), direct, m1Account,
                Map.of("x-merchant-id", M1)).status()).isEqualTo(GrpcStatus.PERMISSION_DENIED);
        // Nor is the metrics scraper's: it may read /metrics, and call nothing.
        IssuedCert scraper = security.prometheus();
        assertThat(lookup(Tls.clientOptions(scraper.certFile(), scraper.keyFile(), security.caFile()), direct, m1Account,
                Map.of()).status()).isEqualTo(GrpcStatus.PERMISSION_DENIED);
    }

    @Test
    @Order(4)
    void expiredAndRevokedCertificatesAreRefused() throws Exception {
        IssuedCert expired = security.pki().issue(io.paymentledger.security.pki.CertRequest
                .client("merchant-expired", "merchant/" + M1, Duration.ofHours(1)).withNotBefore(Instant.now().minus(Duration.ofDays(2))));
        HttpClientOptions expiredOptions = Tls.clientOptions(expired.certFile(), expired.keyFile(), security.caFile());
        assertThat(lookup(expiredOptions, router(), m1Account, Map.of()).status()).isNotEqualTo(GrpcStatus.OK);
        assertThat(lookup(expiredOptions, leaderAddress(), m1Account, Map.of()).status()).isEqualTo(GrpcStatus.UNAVAILABLE);

        String m3 = "shop-three";
        HttpClientOptions m3Options = merchant(m3);
        assertThat(lookup(m3Options, leaderAddress(), m1Account, Map.of()).status()).isEqualTo(GrpcStatus.OK);
        security.pki().revoke("merchant-" + m3);
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        GrpcStatus direct = GrpcStatus.OK;
        GrpcStatus routed = GrpcStatus.OK;
        while (System.nanoTime() < deadline && (direct == GrpcStatus.OK || routed == GrpcStatus.OK)) {
            Thread.sleep(500);
            direct = lookup(m3Options, leaderAddress(), m1Account, Map.of()).status();
            routed = lookup(m3Options, router(), m1Account, Map.of()).status();
        }
        assertThat(direct).as("revoked certificate, directly").isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(routed).as("revoked certificate, through the router").isNotEqualTo(GrpcStatus.OK);
    }

    @Test
    @Order(5)
    void anApiKeyIsAMerchantIdentityUntilRevoked() throws Exception {
        String key;
        String keyId;
        try (Clients op = Clients.operator(d.topology())) {
            var created = NodeServiceGrpcClient.create(op.grpc(), leaderAddress())
                    .createApiKey(CreateApiKeyRequest.newBuilder().setMerchantId(M1).build()).await(10, TimeUnit.SECONDS);
            key = created.getApiKey();
            keyId = created.getKeyId();
        }
        secretsSeen.add(key);
        Map<String, String> bearer = Map.of("authorization", "Bearer " + key);
        assertThat(lookup(noCertificate(), router(), m1Account, bearer).body().getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
        assertThat(lookup(noCertificate(), router(), m2Account, bearer).body().getResults(0).getStatus())
                .isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
        String forged = key.substring(0, key.length() - 2) + (key.endsWith("AA") ? "BB" : "AA");
        assertThat(lookup(noCertificate(), router(), m1Account, Map.of("authorization", "Bearer " + forged)).status())
                .isEqualTo(GrpcStatus.UNAUTHENTICATED);
        try (Clients op = Clients.operator(d.topology())) {
            assertThat(NodeServiceGrpcClient.create(op.grpc(), leaderAddress())
                    .revokeApiKey(RevokeApiKeyRequest.newBuilder().setKeyId(keyId).build()).await(10, TimeUnit.SECONDS).getRevoked()).isTrue();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        GrpcStatus after = GrpcStatus.OK;
        while (System.nanoTime() < deadline && after != GrpcStatus.UNAUTHENTICATED) {
            Thread.sleep(500);
            after = lookup(noCertificate(), router(), m1Account, bearer).status();
        }
        assertThat(after).isEqualTo(GrpcStatus.UNAUTHENTICATED);
    }

    @Test
    @Order(6)
    void noSecretAppearsInAnyLog() throws Exception {
        assertThat(secretsSeen).hasSizeGreaterThanOrEqualTo(3);
        List<Path> logs = new ArrayList<>();
        try (Stream<Path> s = Files.walk(d.topology().logs())) {
            s.filter(Files::isRegularFile).forEach(logs::add);
        }
        for (String region : d.topology().regions().keySet()) {
            logs.add(d.postgres(region).logFile());
        }
        assertThat(logs).hasSizeGreaterThanOrEqualTo(6);
        for (Path log : logs) {
            String text = Files.readString(log);
            for (String secret : secretsSeen) {
                assertThat(text).as("log " + log + " must not contain a secret").doesNotContain(secret);
            }
        }
    }
}
