package io.paymentledger.router;

import io.paymentledger.router.support.ClientHeader;
import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.TestRegion;
import io.vertx.core.Vertx;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Leadership moves from region a (epoch 1) to region b (epoch 2) while merchants write through the router. The
 * two regions have separate databases in this harness (no replication), so every check counts per database.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class FailoverTest {

    private static final String PREFIX = "fo-";

    /** One acknowledged-or-not transfer. */
    record Sent(String id, int phase, Reply<CreateTransfersResponse> reply) {}

    @Test
    void leadershipMovesUnderSteadyWritesWithoutAnyClientVisibleError() throws Exception {
        try (TestRegion ra = TestRegion.start("a"); TestRegion rb = TestRegion.start("b")) {
            Vertx vertx = Vertx.vertx();
            GrpcClient client = TestLedger.newClient(vertx);
            // The same accounts in both databases: b writes them while it leads briefly, before the test starts.
            String debit = PREFIX + "debit-" + System.nanoTime();
            String credit = PREFIX + "credit-" + System.nanoTime();
            CreateAccountsRequest accounts = CreateAccountsRequest.newBuilder()
                    .addAccounts(account(debit, "EUR")).addAccounts(account(credit, "EUR")).build();
            rb.lead(1);
            assertThat(Calls.call(client, address(rb.port()), LedgerServiceGrpcClient.CreateAccounts, accounts, Map.of(),
                    10_000).status()).isEqualTo(GrpcStatus.OK);
            rb.stepDown("standby of a");
            ra.lead(1);
            assertThat(Calls.call(client, address(ra.port()), LedgerServiceGrpcClient.CreateAccounts, accounts, Map.of(),
                    10_000).status()).isEqualTo(GrpcStatus.OK);

            RegionRouter router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver())
                    .upstream("a", "127.0.0.1", ra.port())
                    .upstream("b", "127.0.0.1", rb.port())
                    .healthCheckIntervalMs(100)
                    .build());
            try {
                SocketAddress via = address(router.port());
                RouterTesting.awaitLeader(router, "a");

                // Reads: linearizable ones go to the leader, bounded-staleness ones to the standby.
                Reply<LookupAccountsResponse> linearizable = Calls.call(client, via, LedgerServiceGrpcClient.LookupAccounts,
                        LookupAccountsRequest.newBuilder().addIds(debit).build(), Map.of(), 10_000);
                assertThat(linearizable.status()).isEqualTo(GrpcStatus.OK);
                assertThat(linearizable.header("x-ledger-region")).isEqualTo("a");
                Reply<LookupAccountsResponse> bounded = Calls.call(client, via, LedgerServiceGrpcClient.LookupAccounts,
                        LookupAccountsRequest.newBuilder().addIds(debit).setRead(ReadOptions.newBuilder()
                                .setConsistency(ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS).setMaxStalenessMs(5000))
                                .build(), Map.of(), 10_000);
                assertThat(bounded.status()).isEqualTo(GrpcStatus.OK);
                assertThat(bounded.header("x-ledger-region")).isEqualTo("b");
                assertThat(bounded.body().getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);

                // A steady stream of idempotent transfers from several merchants.
                AtomicInteger phase = new AtomicInteger(1);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong seq = new AtomicLong();
                ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();
                List<Thread> writers = new ArrayList<>();
                for (int w = 0; w < 6; w++) {
                    String merchant = "m" + w;
                    writers.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                        while (!stop.get()) {
                            int p = phase.get();
                            String id = PREFIX + seq.incrementAndGet() + "-" + System.nanoTime();
                            Reply<CreateTransfersResponse> r = Calls.call(client, via, LedgerServiceGrpcClient.CreateTransfers,
                                    CreateTransfersRequest.newBuilder().addTransfers(transfer(id, debit, credit, 1, "EUR")).build(),
                                    Map.of("x-merchant-id", merchant), 20_000);
                            sent.add(new Sent(id, p, r));
                        }
                    }));
                }
                Thread.sleep(1000);
                // Failover: a stops leading; for a while nobody leads; then b leads with a higher epoch.
                ra.stepDown("failover drill");
                phase.set(2);
                Thread.sleep(800);
                rb.lead(2);
                RouterTesting.awaitLeader(router, "b");
                Thread.sleep(500);
                // a comes back claiming leadership with its old epoch: the router must not believe it.
                long aCommittedBefore = ra.node.writer().committedTransfers();
                ra.lead(1);
                phase.set(3);
                Thread.sleep(1000);
                stop.set(true);
                for (Thread t : writers) {
                    t.join(30_000);
                }
                long aCommittedAfter = ra.node.writer().committedTransfers();

                List<Sent> all = new ArrayList<>(sent);
                List<Sent> failed = all.stream().filter(s -> s.reply().status() != GrpcStatus.OK
                        || s.reply().body().getResults(0).getStatus() != CreateTransferStatus.CREATE_TRANSFER_CREATED
                        && s.reply().body().getResults(0).getStatus() != CreateTransferStatus.CREATE_TRANSFER_EXISTS).toList();
                assertThat(failed).as("client-visible errors").isEmpty();
                assertThat(all.stream().filter(s -> s.phase() == 1)).isNotEmpty();
                assertThat(all.stream().filter(s -> s.phase() == 2)).as("calls sent while nobody led").isNotEmpty();
                assertThat(all.stream().filter(s -> s.phase() == 3)).isNotEmpty();

                // Every acknowledged transfer exists, at most once per database.
                Set<String> inA = ids(ra);
                Set<String> inB = ids(rb);
                for (Sent s : all) {
                    assertThat(inA.contains(s.id()) || inB.contains(s.id())).as("acknowledged %s exists", s.id()).isTrue();
                }
                assertThat(count(ra, "select count(*) - count(distinct id) from transfer")).isZero();
                assertThat(count(rb, "select count(*) - count(distinct id) from transfer")).isZero();
                Set<String> acked = new HashSet<>();
                all.forEach(s -> acked.add(s.id()));
                assertThat(acked).containsAll(inA).containsAll(inB);
                long inBoth = all.stream().filter(s -> inA.contains(s.id()) && inB.contains(s.id())).count();

                // After b led, no write went to a, though a said SERVING again (with its deposed epoch 1).
                assertThat(aCommittedAfter).isEqualTo(aCommittedBefore);
                for (Sent s : all) {
                    if (s.phase() == 3) {
                        assertThat(inA).as("phase-3 transfer %s in a", s.id()).doesNotContain(s.id());
                        assertThat(s.reply().header("x-ledger-region")).isEqualTo("b");
                    }
                }
                RouterStatus st = router.status();
                System.out.println(st.summary());
                assertThat(st.summary()).contains("leader is b with epoch 2");
                assertThat(st.leaderRegion()).isEqualTo("b");
                assertThat(st.leaderEpoch()).isEqualTo(2);
                assertThat(st.highestEpochSeen()).isEqualTo(2);
                RouterStatus.UpstreamStatus a = st.upstreams().stream().filter(u -> u.region().equals("a")).findFirst().orElseThrow();
                assertThat(a.serving()).as("a says it serves").isTrue();
                assertThat(a.leader()).isFalse();
                assertThat(st.counters().held() + st.counters().retries()).as("the failover was hidden by holding/retrying")
                        .isPositive();
                assertThat(st.counters().leaderChanges()).isGreaterThanOrEqualTo(2);
                System.out.printf("failover: %d transfers (%d while nobody led), %d in a, %d in b, %d in both; held %d,"
                        + " retries %d, cut %d; longest call %d ms%n", all.size(),
                        all.stream().filter(s -> s.phase() == 2).count(), inA.size(), inB.size(), inBoth,
                        st.counters().held(), st.counters().retries(), st.counters().cut(),
                        all.stream().mapToLong(s -> s.reply().millis()).max().orElse(0));
            } finally {
                router.close();
                vertx.close().await();
            }
        }
    }

    private static SocketAddress address(int port) {
        return SocketAddress.inetSocketAddress(port, "127.0.0.1");
    }

    private static Set<String> ids(TestRegion r) throws Exception {
        Set<String> ids = new HashSet<>();
        try (Connection c = r.sql(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select id from transfer where id like '" + PREFIX + "%'")) {
            while (rs.next()) {
                ids.add(rs.getString(1));
            }
        }
        return ids;
    }

    private static long count(TestRegion r, String sql) throws Exception {
        return r.count(sql);
    }
}
