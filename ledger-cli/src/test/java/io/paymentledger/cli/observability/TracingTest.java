package io.paymentledger.cli.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.api.v1.PaymentsServiceGrpcClient;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.telemetry.Telemetry;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * One payment through `./ledger up`'s real processes is one trace: the merchant's {@code traceparent} → the router's
 * span → the leader node's span → the writer's queue wait, apply and commit (with the synchronous wait), exported
 * over OTLP/HTTP to a collector this test plays (it decodes what it receives with the OTLP protobuf classes).
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class TracingTest {

    /** One span as the collector received it. */
    record Received(String service, String traceId, String spanId, String parentSpanId, String name, long startNs, long endNs) {}

    @Test
    void onePaymentIsOneConnectedTraceFromTheRouterThroughTheLeaderToItsCommit() throws Exception {
        List<Received> spans = new CopyOnWriteArrayList<>();
        List<String> undecodable = new CopyOnWriteArrayList<>();
        Vertx vertx = Vertx.vertx();
        HttpServer collector = vertx.createHttpServer().requestHandler(req -> req.body().onSuccess(body -> {
            try {
                ExportTraceServiceRequest export = ExportTraceServiceRequest.parseFrom(body.getBytes());
                export.getResourceSpansList().forEach(rs -> {
                    String service = rs.getResource().getAttributesList().stream()
                            .filter(a -> a.getKey().equals("service.name")).map(a -> a.getValue().getStringValue())
                            .findFirst().orElse("?");
                    rs.getScopeSpansList().forEach(ss -> ss.getSpansList().forEach(s -> spans.add(new Received(service,
                            hex(s.getTraceId().toByteArray()), hex(s.getSpanId().toByteArray()),
                            hex(s.getParentSpanId().toByteArray()), s.getName(), s.getStartTimeUnixNano(), s.getEndTimeUnixNano()))));
                });
                req.response().putHeader("content-type", "application/x-protobuf")
                        .end(Buffer.buffer(ExportTraceServiceResponse.getDefaultInstance().toByteArray()));
            } catch (Exception | LinkageError e) {
                undecodable.add(e.toString());
                req.response().setStatusCode(400).end();
            }
        })).listen(0, "127.0.0.1").await();
        System.setProperty(Telemetry.ENDPOINT_PROPERTY, "http://127.0.0.1:" + collector.actualPort());
        // Calls without a traceparent are not traced at all here: every span received belongs to a traced call.
        System.setProperty(Telemetry.RATIO_PROPERTY, "0");
        LocalDeployment d = LocalDeployment.open(Files.createTempDirectory("ledger-tracing-"),
                new PrintStream(new ByteArrayOutputStream(), true));
        try (Clients merchant = Clients.tls(d.security(), d.security().merchant(DeploymentSecurity.LOAD_MERCHANT))) {
            d.up();
            String leader = d.awaitLeader(Duration.ofSeconds(60)).getRegion();
            var router = Clients.loopback(d.topology().routerPort());
            String run = Long.toString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE, 36);
            LedgerServiceGrpcClient.create(merchant.grpc(), router).createAccounts(CreateAccountsRequest.newBuilder()
                    .addAccounts(Account.newBuilder().setId("payer-" + run).setCurrency("EUR").setCode(1)
                            .setOwner(DeploymentSecurity.LOAD_MERCHANT))
                    .addAccounts(Account.newBuilder().setId("shop-" + run).setCurrency("EUR").setCode(2)
                            .setOwner(DeploymentSecurity.LOAD_MERCHANT)).build()).await(20, TimeUnit.SECONDS);
            assertThat(spans).as("an untraced call (sampling ratio 0) is not exported").isEmpty();

            String traceId = hex(randomBytes(16));
            String clientSpanId = hex(randomBytes(8));
            PaymentResponse paid = merchant.grpc().request(router, PaymentsServiceGrpcClient.Authorize).compose(req -> {
                req.headers().set("traceparent", "00-" + traceId + "-" + clientSpanId + "-01");
                req.end(AuthorizeRequest.newBuilder().setPaymentId("pay-" + run).setPayerAccountId("payer-" + run)
                        .setMerchantAccountId("shop-" + run).setAmount(500).setCurrency("EUR").setExpiresInSeconds(600).build());
                return req.response().compose(r -> r.last());
            }).await(20, TimeUnit.SECONDS);
            assertThat(paid.getResult().name()).isEqualTo("PAYMENT_RESULT_OK");

            // The router's, the node's and the three stage spans, exported within the exporters' 0.5 s delay.
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (spans.stream().filter(s -> s.traceId().equals(traceId)).count() < 5 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(undecodable).as("exports the collector could not decode").isEmpty();
            Map<String, Received> byName = spans.stream().filter(s -> s.traceId().equals(traceId))
                    .collect(Collectors.toMap(Received::name, s -> s, (x, y) -> x));
            assertThat(byName).as("spans of the payment's trace").containsKeys("router ledger.v1.PaymentsService/Authorize",
                    "ledger.v1.PaymentsService/Authorize", "ledger.queue_wait", "ledger.apply", "ledger.commit");
            Received atRouter = byName.get("router ledger.v1.PaymentsService/Authorize");
            Received atNode = byName.get("ledger.v1.PaymentsService/Authorize");
            assertThat(atRouter.service()).isEqualTo("ledger-router");
            assertThat(atRouter.parentSpanId()).as("the router's span is a child of the merchant's").isEqualTo(clientSpanId);
            assertThat(atNode.service()).as("served by the leader").isEqualTo("ledger-node-" + leader);
            assertThat(atNode.parentSpanId()).as("the node's span is a child of the router's").isEqualTo(atRouter.spanId());
            for (String stage : List.of("ledger.queue_wait", "ledger.apply", "ledger.commit")) {
                Received s = byName.get(stage);
                assertThat(s.parentSpanId()).as(stage + " is a child of the node's span").isEqualTo(atNode.spanId());
                assertThat(s.endNs()).as(stage + " ends after it starts").isGreaterThanOrEqualTo(s.startNs());
            }
            assertThat(byName.get("ledger.commit").startNs()).as("the commit follows the apply")
                    .isGreaterThanOrEqualTo(byName.get("ledger.apply").endNs());
            assertThat(byName.get("ledger.commit").endNs()).as("the node answers after its commit")
                    .isLessThanOrEqualTo(atNode.endNs());
        } finally {
            System.clearProperty(Telemetry.ENDPOINT_PROPERTY);
            System.clearProperty(Telemetry.RATIO_PROPERTY);
            d.destroy();
            collector.close();
            vertx.close();
        }
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        ThreadLocalRandom.current().nextBytes(b);
        b[0] |= 1; // never all zeros (an invalid id)
        return b;
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
