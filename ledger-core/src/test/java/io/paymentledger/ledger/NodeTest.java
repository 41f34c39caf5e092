package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.ledger.grpc.NodeApi;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import java.sql.Connection;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class NodeTest {

    static final ServiceMethod<HealthCheckResponse, HealthCheckRequest> CHECK = ServiceMethod.client(
            ServiceName.create("grpc.health.v1", "Health"), "Check", GrpcMessageEncoder.encoder(),
            GrpcMessageDecoder.decoder(HealthCheckResponse.newBuilder()));

    record Health(GrpcStatus status, HealthCheckResponse.ServingStatus serving, String epoch, String region) {}

    static Health health(TestLedger t, String service) {
        return t.grpc.request(t.address, CHECK).compose(req -> {
            req.end(HealthCheckRequest.newBuilder().setService(service).build());
            return req.response();
        }).compose((GrpcClientResponse<HealthCheckRequest, HealthCheckResponse> resp) -> resp.last()
                .map(msg -> new Health(GrpcStatus.OK, msg.getStatus(), resp.headers().get(NodeApi.EPOCH_HEADER),
                        resp.headers().get(NodeApi.REGION_HEADER)))
                .recover(err -> io.vertx.core.Future.succeededFuture(new Health(resp.status(), null,
                        resp.headers().get(NodeApi.EPOCH_HEADER), null))))
                .await();
    }

    @Test
    void servesHealthWithItsEpochAndFencesItselfWhenTheEpochMoves() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            Health h = health(t, "");
            assertThat(h.serving()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
            assertThat(h.epoch()).isEqualTo("1");
            assertThat(h.region()).isEqualTo("a");
            assertThat(health(t, "ledger.v1.LedgerService").serving()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
            assertThat(health(t, "no.such.Service").status()).isEqualTo(GrpcStatus.NOT_FOUND);
            var status = t.nodeService.getNodeStatus(GetNodeStatusRequest.getDefaultInstance()).await();
            assertThat(status.getRole()).isEqualTo(NodeRole.NODE_ROLE_LEADER);
            assertThat(status.getEpoch()).isEqualTo(1);

            String a = id("a"), b = id("b");
            t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR")).build()).await();
            // Another leader raises the epoch in the database: this node's next write must not commit.
            try (Connection c = t.sql()) {
                c.createStatement().execute("update leadership set epoch = epoch + 1, region = 'b'");
            }
            String fenced = id("fenced");
            LedgerAssertions.assertGrpcStatus(GrpcStatus.UNAVAILABLE, () -> t.ledger.createTransfers(
                    CreateTransfersRequest.newBuilder().addTransfers(transfer(fenced, a, b, 1, "EUR")).build()).await());
            try (Connection c = t.sql()) {
                assertThat(LedgerAssertions.count(c, "select count(*) from transfer where id = '" + fenced + "'")).isZero();
            }
            assertThat(health(t, "").serving()).isEqualTo(HealthCheckResponse.ServingStatus.NOT_SERVING);
            LedgerAssertions.assertGrpcStatus(GrpcStatus.UNAVAILABLE,
                    () -> t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(a).build()).await());
        }
    }

    @Test
    void servesPrometheusMetricsOnItsOwnPort() {
        try (TestLedger t = TestLedger.start()) {
            String a = id("a"), b = id("b");
            t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR")).build()).await();
            t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id("t"), a, b, 5, "EUR")).build()).await();
            var http = t.clientVertx.createHttpClient();
            try {
                String body = http.request(io.vertx.core.http.HttpMethod.GET, t.node.grpcPort(), "127.0.0.1", "/metrics")
                        .compose(req -> req.send()).compose(resp -> resp.body()).await().toString();
                String labels = "process=\"node-a\",region=\"a\"";
                assertThat(body).contains("ledger_leader{" + labels + "} 1", "ledger_epoch{" + labels + "} 1",
                        "# TYPE ledger_committed_transfers_total counter", "ledger_write_queue_depth{" + labels + "} 0",
                        "ledger_write_queue_capacity{" + labels + "} 4096");
                assertThat(body).containsPattern("ledger_committed_transfers_total\\{" + labels + "\\} [1-9]");
                // Every answered call by method and status, with its latency; the writer's stages of the same writes.
                assertThat(body).containsPattern("ledger_request_seconds_count\\{method=\"ledger.v1.LedgerService/CreateTransfers\","
                        + labels + ",status=\"OK\"\\} 1\\b");
                assertThat(body).containsPattern("ledger_request_seconds_bucket\\{method=\"ledger.v1.LedgerService/CreateAccounts\","
                        + labels + ",status=\"OK\",le=\"15\\.0\"\\} 1\\b");
                assertThat(body).containsPattern("ledger_writer_commit_seconds_count\\{" + labels + "\\} [1-9]");
                assertThat(body).containsPattern("ledger_writer_commit_wait_seconds_count\\{" + labels + "\\} [1-9]");
                assertThat(body).containsPattern("ledger_writer_queue_wait_seconds_count\\{" + labels + "\\} [1-9]");
                assertThat(body).containsPattern("ledger_writer_batch_items_count\\{" + labels + "\\} [1-9]");
                assertThat(body).containsPattern("ledger_failovers_total\\{" + labels + "\\} 1\\b");
                // The leader's wall clock agrees with ledger time (LedgerClockDisagrees warns past 5 s).
                java.util.regex.Matcher offset = java.util.regex.Pattern.compile("ledger_clock_offset_seconds\\{"
                        + java.util.regex.Pattern.quote(labels) + "\\} (\\S+)").matcher(body);
                assertThat(offset.find()).as("ledger_clock_offset_seconds is served").isTrue();
                assertThat(Math.abs(Double.parseDouble(offset.group(1)))).isLessThan(1.0);
            } finally {
                http.close().await();
            }
        }
    }

    @Test
    void undecodableRequestBytesAreInvalidArgument() {
        try (TestLedger t = TestLedger.start()) {
            GrpcStatus status = t.grpc.request(t.address).compose(req -> {
                req.fullMethodName("ledger.v1.LedgerService/CreateTransfers");
                // Field 1, wire type 2 (length-delimited) with a length far beyond the message: not a protobuf.
                req.end(io.vertx.core.buffer.Buffer.buffer(new byte[] {0x0a, (byte) 0xff, (byte) 0xff, 0x7f, 0x01}));
                return req.response().compose(r -> r.end().map(x -> r.status()).recover(e -> io.vertx.core.Future.succeededFuture(r.status())));
            }).await();
            assertThat(status).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
        }
    }

    @Test
    void aWriteWhoseDeadlinePassesInTheQueueIsNotWritten() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            String a = id("a"), b = id("b");
            t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR")).build()).await();
            String slow = id("slow"), late = id("late");
            try (Connection blocker = t.sql()) {
                // Hold the leadership row: the writer's next commit waits on it.
                blocker.setAutoCommit(false);
                blocker.createStatement().execute("select * from leadership for update");
                CompletableFuture<CreateTransfersResponse> first = t.ledger.createTransfers(CreateTransfersRequest.newBuilder()
                        .addTransfers(transfer(slow, a, b, 1, "EUR")).build()).toCompletionStage().toCompletableFuture();
                Thread.sleep(300);
                var lateCall = t.grpc.request(t.address, LedgerServiceGrpcClient.CreateTransfers).compose(req -> {
                    req.timeout(300, TimeUnit.MILLISECONDS);
                    req.end(CreateTransfersRequest.newBuilder().addTransfers(transfer(late, a, b, 1, "EUR")).build());
                    return req.response().compose(r -> r.last().map(x -> r.status()).recover(e -> io.vertx.core.Future.succeededFuture(r.status())));
                });
                GrpcStatus lateStatus = lateCall.await();
                assertThat(lateStatus).isEqualTo(GrpcStatus.DEADLINE_EXCEEDED);
                // The node's deadline started when the call arrived, a moment after the client's: let it pass too
                // before the blocked commit may finish (else the late write can still be, correctly, in time there).
                Thread.sleep(200);
                blocker.rollback();
                assertThat(first.get(10, TimeUnit.SECONDS).getResults(0).getStatus())
                        .isEqualTo(io.paymentledger.api.v1.CreateTransferStatus.CREATE_TRANSFER_CREATED);
            }
            Thread.sleep(500);
            try (Connection c = t.sql()) {
                assertThat(LedgerAssertions.count(c, "select count(*) from transfer where id = '" + slow + "'")).isOne();
                assertThat(LedgerAssertions.count(c, "select count(*) from transfer where id = '" + late + "'")).isZero();
            }
        }
    }
}
