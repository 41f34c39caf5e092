package io.paymentledger.router;

import io.paymentledger.router.support.ClientHeader;
import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.LookupTransfersResponse;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.TestRegion;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The router in front of one real ledger node on a real PostgreSQL: what goes through, and what does not. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProxyTest {

    static TestRegion region;
    static Vertx vertx;
    static RegionRouter router;
    static GrpcClient client;
    static SocketAddress routerAddress;
    static String a;
    static String b;

    @BeforeAll
    static void start() {
        region = TestRegion.start("a");
        region.lead(1);
        vertx = Vertx.vertx();
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver())
                .upstream("a", "127.0.0.1", region.port())
                .healthCheckIntervalMs(100)
                .maxMessageBytes(64 * 1024)
                .holdQueueBytes(1024 * 1024)
                .build());
        client = TestLedger.newClient(vertx);
        routerAddress = SocketAddress.inetSocketAddress(router.port(), "127.0.0.1");
        RouterTesting.awaitLeader(router, "a");
        a = id("a");
        b = id("b");
        Reply<CreateAccountsResponse> created = Calls.call(client, routerAddress, LedgerServiceGrpcClient.CreateAccounts,
                CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR")).build(),
                Map.of(), 10_000);
        assertThat(created.status()).isEqualTo(GrpcStatus.OK);
        assertThat(created.body().getResultsList()).allMatch(r -> r.getStatus() == CreateAccountStatus.CREATE_ACCOUNT_CREATED);
    }

    @AfterAll
    static void stop() {
        if (router != null) {
            router.close();
        }
        if (vertx != null) {
            vertx.close().await();
        }
        if (region != null) {
            region.close();
        }
    }

    @Test
    void forwardsUnaryCallsWithTheirResultsAndCorrelationIds() throws Exception {
        String t = id("t");
        Reply<CreateTransfersResponse> r = Calls.call(client, routerAddress, LedgerServiceGrpcClient.CreateTransfers,
                CreateTransfersRequest.newBuilder().addTransfers(transfer(t, a, b, 125, "EUR")).build(),
                Map.of("x-request-id", "corr-42"), 10_000);
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(r.body().getResults(0).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(r.body().getResults(0).getDebitAccountBalance().getDebitsPosted()).isGreaterThanOrEqualTo(125);
        assertThat(r.header("x-request-id")).isEqualTo("corr-42");
        assertThat(r.header("x-ledger-region")).isEqualTo("a");

        // Without a correlation id the router makes one and returns it; the node answered under the same id.
        Reply<LookupTransfersResponse> lookup = Calls.call(client, routerAddress, LedgerServiceGrpcClient.LookupTransfers,
                LookupTransfersRequest.newBuilder().addIds(t).build(), Map.of(), 10_000);
        assertThat(lookup.status()).isEqualTo(GrpcStatus.OK);
        assertThat(lookup.body().getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
        assertThat(lookup.body().getResults(0).getTransfer().getAmount()).isEqualTo(125);
        assertThat(lookup.header("x-request-id")).matches("[0-9a-f-]{36}");
        assertThat(lookup.header("x-request-id").split(",")).hasSize(1);

        assertThat(region.count("select count(*) from transfer where id = '" + t + "'")).isOne();
        assertThat(router.status().counters().completedOk()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void passesTheNodesErrorsThroughWithTheirMessages() {
        Reply<CreateTransfersResponse> empty = Calls.call(client, routerAddress, LedgerServiceGrpcClient.CreateTransfers,
                CreateTransfersRequest.getDefaultInstance(), Map.of(), 10_000);
        assertThat(empty.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
        assertThat(empty.message()).isNotBlank().doesNotContain("router");
        assertThat(empty.header("x-request-id")).isNotBlank();

        // The same call straight to the node says the same thing.
        Reply<CreateTransfersResponse> direct = Calls.call(client, SocketAddress.inetSocketAddress(region.port(), "127.0.0.1"),
                LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.getDefaultInstance(), Map.of(), 10_000);
        assertThat(direct.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
        assertThat(empty.message()).isEqualTo(direct.message());
    }

    @Test
    void propagatesTheDeadlineSoTheNodeDropsAWriteWhoseCallerGaveUp() throws Exception {
        String late = id("late");
        try (Connection blocker = region.sql()) {
            // Hold the leadership row: the node's next commit waits on it.
            blocker.setAutoCommit(false);
            blocker.createStatement().execute("select * from leadership for update");
            String slow = id("slow");
            Future<Reply<CreateTransfersResponse>> first = Calls.callAsync(client, routerAddress,
                    LedgerServiceGrpcClient.CreateTransfers,
                    CreateTransfersRequest.newBuilder().addTransfers(transfer(slow, a, b, 1, "EUR")).build(), Map.of(), 20_000);
            Thread.sleep(300);
            Reply<CreateTransfersResponse> r = Calls.call(client, routerAddress, LedgerServiceGrpcClient.CreateTransfers,
                    CreateTransfersRequest.newBuilder().addTransfers(transfer(late, a, b, 1, "EUR")).build(), Map.of(), 400);
            assertThat(r.status()).isEqualTo(GrpcStatus.DEADLINE_EXCEEDED);
            blocker.rollback();
            assertThat(Calls.await(first).status()).isEqualTo(GrpcStatus.OK);
        }
        Thread.sleep(300);
        // The node got the deadline with the call: it did not write the transfer after its caller had given up.
        assertThat(region.count("select count(*) from transfer where id = '" + late + "'")).isZero();
    }

    @Test
    void rejectsMalformedAndOversizedRequestsClearlyWithoutDisturbingOthers() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        List<GrpcStatus> others = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread background = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                others.add(Calls.call(client, routerAddress, LedgerServiceGrpcClient.LookupAccounts,
                        LookupAccountsRequest.newBuilder().addIds(a).build(), Map.of("x-merchant-id", "polite"), 10_000).status());
            }
        });
        try {
            // Oversized: more than the router's maxMessageBytes (64 KiB here).
            LookupAccountsRequest.Builder big = LookupAccountsRequest.newBuilder();
            for (int i = 0; i < 5000; i++) {
                big.addIds("account-" + i + "-padding-padding");
            }
            Reply<LookupAccountsResponse> tooBig = Calls.call(client, routerAddress, LedgerServiceGrpcClient.LookupAccounts,
                    big.build(), Map.of("x-merchant-id", "careless"), 10_000);
            assertThat(tooBig.status()).isEqualTo(GrpcStatus.RESOURCE_EXHAUSTED);
            assertThat(tooBig.message()).contains("exceeds the router's limit of 65536 bytes");

            // Not protobuf at all, to a read and to a write: the router says so, the node never sees them.
            Buffer garbage = Buffer.buffer(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x01, 0x02});
            long committedBefore = region.node.writer().committedBatches();
            for (String method : List.of("ledger.v1.LedgerService/LookupAccounts", "ledger.v1.LedgerService/CreateTransfers")) {
                Reply<Buffer> bad = Calls.raw(client, routerAddress, method, List.of(garbage),
                        Map.of("x-merchant-id", "careless"), 10_000);
                assertThat(bad.status()).as(method).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
                assertThat(bad.message()).contains("malformed request message for " + method);
            }
            assertThat(region.node.writer().committedBatches()).isEqualTo(committedBefore);

            // Well-framed but wrong inside (a string where a message belongs): the node's validation answers.
            Buffer wrongInside = Buffer.buffer(new byte[] {0x0a, 0x03, 'a', 'b', 'c'});
            Reply<Buffer> badWrite = Calls.raw(client, routerAddress, "ledger.v1.LedgerService/CreateTransfers",
                    List.of(wrongInside), Map.of("x-merchant-id", "careless"), 10_000);
            assertThat(badWrite.status()).isNotEqualTo(GrpcStatus.OK);
            assertThat(badWrite.header("x-ledger-region")).isEqualTo("a");

            // Two messages to a unary method, and none.
            Reply<Buffer> two = Calls.raw(client, routerAddress, "ledger.v1.LedgerService/LookupAccounts",
                    List.of(Buffer.buffer(), Buffer.buffer()), Map.of(), 10_000);
            assertThat(two.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
            assertThat(two.message()).contains("exactly one request message");
            Reply<Buffer> none = Calls.raw(client, routerAddress, "ledger.v1.LedgerService/LookupAccounts",
                    List.of(), Map.of(), 10_000);
            assertThat(none.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);

            // A method the router does not forward, and a merchant header that is not an id.
            Reply<Buffer> unknown = Calls.raw(client, routerAddress, "ledger.v1.LedgerService/DropAllTables",
                    List.of(Buffer.buffer()), Map.of(), 10_000);
            assertThat(unknown.status()).isEqualTo(GrpcStatus.UNIMPLEMENTED);
            assertThat(unknown.message()).contains("does not forward");
            // Labels come from a closed set: the client's method name never becomes one.
            assertThat(router.metrics().scrape()).contains("method=\"unknown\",process=\"router\",status=\"UNIMPLEMENTED\"")
                    .doesNotContain("DropAllTables");
            Reply<Buffer> badMerchant = Calls.raw(client, routerAddress, "ledger.v1.LedgerService/LookupAccounts",
                    List.of(Buffer.buffer()), Map.of("x-merchant-id", "no spaces allowed"), 10_000);
            assertThat(badMerchant.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
            assertThat(badMerchant.message()).contains("x-merchant-id");

            // A well-formed read after all that still works on the same connection.
            Reply<LookupAccountsResponse> fine = Calls.call(client, routerAddress, LedgerServiceGrpcClient.LookupAccounts,
                    LookupAccountsRequest.newBuilder().addIds(a).build(), Map.of("x-merchant-id", "careless"), 10_000);
            assertThat(fine.status()).isEqualTo(GrpcStatus.OK);
            assertThat(fine.body().getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
        } finally {
            stop.set(true);
            background.join(20_000);
        }
        assertThat(others).isNotEmpty().containsOnly(GrpcStatus.OK);
        RouterStatus.Counters c = router.status().counters();
        assertThat(c.rejectedTooLarge()).isGreaterThanOrEqualTo(1);
        assertThat(c.rejectedInvalid()).isGreaterThanOrEqualTo(4);
        assertThat(c.rejectedUnknownMethod()).isGreaterThanOrEqualTo(1);
    }
}
