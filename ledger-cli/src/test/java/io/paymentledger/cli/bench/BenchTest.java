package io.paymentledger.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.ledger.support.TestLedger;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The benchmark runs briefly against a real ledger node and its correctness check holds. Timings are not
 * asserted (they are benchmarks, not tests), except that a stall shows up in the open loop's tail.
 */
class BenchTest {

    private static TestLedger ledger;
    private static Bench bench;

    @BeforeAll
    static void start() {
        ledger = TestLedger.start();
        bench = new Bench(List.of(ledger.grpc), ledger::sql, System.out::println);
    }

    @AfterAll
    static void stop() {
        if (ledger != null) {
            ledger.close();
        }
    }

    private static Bench.Options brief(Bench.Scenario scenario) {
        return Bench.Options.of(scenario, 100, () -> ledger.address).duration(2, 0.5).seed(42);
    }

    private static void assertSound(BenchResult r) {
        System.out.println(BenchReport.table(List.of(r), null));
        assertThat(r.check().problems()).isEmpty();
        assertThat(r.check().passed()).isTrue();
        assertThat(r.check().accounts()).isEqualTo(10_000);
        assertThat(r.transfers()).isPositive();
        assertThat(r.acceptedTotal()).isGreaterThanOrEqualTo(r.transfers());
        assertThat(r.errors()).isEmpty();
        assertThat(r.latencySamples()).isPositive();
        assertThat(r.p50Ms()).isPositive();
        assertThat(r.p999Ms()).isGreaterThanOrEqualTo(r.p50Ms());
    }

    /**
     * `--preload`: writes exactly what is missing (its last request a partial one), the check of its accounts holds, the
     * journal still replays sound (the preload goes through the writer: nothing behind its back), and a second plan to the
     * same target has nothing to write.
     */
    @Test
    void preloadWritesWhatIsMissingAndTheJournalStaysSound() throws Exception {
        long before;
        try (Connection c = ledger.sql()) {
            before = Preload.transfersInLedger(c);
        }
        Preload.Plan plan = new Preload.Plan(before + 20_500, before);
        assertThat(plan.requests()).isEqualTo(3);
        Bench.Preloaded p = bench.preload(plan, Bench.Options.of(Preload.SCENARIO, Preload.BATCH, () -> ledger.address)
                .accounts(1_000).closedLoop(2).seed(7));
        assertThat(p.errors()).isEmpty();
        assertThat(p.check().problems()).isEmpty();
        assertThat(p.accepted()).isEqualTo(20_500);
        try (Connection c = ledger.sql()) {
            long after = Preload.transfersInLedger(c);
            assertThat(after).isEqualTo(before + 20_500);
            try (Statement st = c.createStatement(); java.sql.ResultSet rs = st.executeQuery("select count(*) from transfer")) {
                rs.next();
                assertThat(rs.getLong(1)).as("the journal's count is the rows'").isEqualTo(after);
            }
            assertThat(new Preload.Plan(before + 20_500, after).nothingToDo()).isTrue();
            io.paymentledger.ledger.journal.JournalVerifier.Report report = new io.paymentledger.ledger.journal.JournalVerifier(null).verify(c);
            assertThat(report.sound()).as("journal replay: " + report).isTrue();
        }
    }

    /** The read scenarios: full pages of a preloaded account's history, newest and oldest first, nothing written. */
    @Test
    void historyScenariosReadFullPagesOfAPreloadedAccount() throws Exception {
        long before;
        try (Connection c = ledger.sql()) {
            before = Preload.transfersInLedger(c);
        }
        Bench.Preloaded p = bench.preload(new Preload.Plan(before + 16_000, before), Bench.Options.of(Preload.SCENARIO,
                Preload.BATCH, () -> ledger.address).accounts(1_000).closedLoop(2).seed(11));
        assertThat(p.check().passed()).isTrue();
        Bench reader = new Bench(List.of(ledger.grpc), ledger::sql, System.out::println).historyAccounts(List.of(p.prefix() + "-a0"));
        for (Bench.Scenario s : List.of(Bench.Scenario.HISTORY_NEWEST, Bench.Scenario.parse("history-oldest"))) {
            BenchResult r = reader.run(Bench.Options.of(s, 1, () -> ledger.address).duration(1, 0.2));
            System.out.println(BenchReport.table(List.of(r), null));
            assertThat(r.errors()).isEmpty();
            assertThat(r.check().passed()).isTrue();
            assertThat(r.concurrency()).isEqualTo(1);
            assertThat(r.latencySamples()).isPositive();
            assertThat(r.transfers()).as("full pages").isPositive().isEqualTo(r.transfers() / Bench.HISTORY_PAGE * Bench.HISTORY_PAGE);
        }
        try (Connection c = ledger.sql()) {
            assertThat(Preload.transfersInLedger(c)).as("reads write nothing").isEqualTo(before + 16_000);
        }
    }

    @Test
    void closedLoopUniform() throws Exception {
        BenchResult r = bench.run(brief(Bench.Scenario.UNIFORM).closedLoop(8));
        assertSound(r);
        assertThat(r.mode()).isEqualTo("closed");
        assertThat(r.toJson().getJsonObject("latencyMs").getDouble("p99")).isEqualTo(r.p99Ms());
    }

    @Test
    void aLiveSubscriberBesideTheRunReportsHowLateTheEventsArrive() throws Exception {
        StreamLag subscriber = StreamLag.start(ledger.grpc, ledger.address);
        Thread.sleep(500); // subscribed (from now) before the run's accounts and transfers
        BenchResult r = bench.run(brief(Bench.Scenario.UNIFORM).closedLoop(4));
        long expected = 10_000 + r.transfers(); // the run's accounts and its measured transfers, at least
        long waitUntil = System.nanoTime() + 30_000_000_000L; // the last acknowledged events are on their way
        while (subscriber.received() < expected && System.nanoTime() - waitUntil < 0) {
            Thread.sleep(50);
        }
        StreamLag.Result lag = subscriber.stop();
        assertSound(r);
        assertThat(lag.problem()).as("the stream ran through the run").isEmpty();
        assertThat(lag.events()).isGreaterThanOrEqualTo(expected);
        assertThat(lag.p50Ms()).isNotNegative();
        assertThat(lag.p99Ms()).isGreaterThanOrEqualTo(lag.p50Ms());
        assertThat(lag.maxMs()).isGreaterThanOrEqualTo(lag.p99Ms());
        assertThat(lag.line()).startsWith("events: " + lag.events() + " received live, lag p50 ");
    }

    @Test
    void openLoopHotKeepsItsSchedule() throws Exception {
        // 5,000 transfers/s in requests of 100: one request due every 20 ms, 100 in the 2 s window.
        BenchResult r = bench.run(brief(Bench.Scenario.HOT).openLoop(5_000, 64));
        assertSound(r);
        assertThat(r.dropped()).isZero();
        assertThat(r.requests()).isBetween(95L, 101L);
    }

    @Test
    void closedLoopHotAndOpenLoopUniform() throws Exception {
        assertSound(bench.run(brief(Bench.Scenario.HOT).closedLoop(4).duration(1, 0.2)));
        assertSound(bench.run(brief(Bench.Scenario.UNIFORM).openLoop(3_000, 64).duration(1, 0.2)));
    }

    @Test
    void paymentsAuthorizeCaptureVoidRefund() throws Exception {
        BenchResult r = bench.run(Bench.Options.of(Bench.Scenario.PAYMENTS, 1, () -> ledger.address).duration(2, 0.5)
                .seed(7).closedLoop(16));
        assertSound(r);
        assertThat(r.shape()).isEqualTo(1);
    }

    @Test
    void theCheckNoticesABalanceThatDiffers() throws Exception {
        bench.beforeCheck = expected -> expected.corruptForTest(3);
        try {
            BenchResult r = bench.run(brief(Bench.Scenario.UNIFORM).closedLoop(2).duration(0.5, 0));
            assertThat(r.check().passed()).isFalse();
            assertThat(r.check().problems()).anySatisfy(p -> assertThat(p).contains("1 of 10000 accounts do not hold"));
            assertThat(r.check().problems()).anySatisfy(p -> assertThat(p).contains(r.runPrefix() + "-a3"));
        } finally {
            bench.beforeCheck = e -> {};
        }
    }

    @Test
    void anOpenLoopChargesAStallToTheRequestsDueDuringIt() throws Exception {
        // Holding the leadership row blocks the writer's commit (it reads the epoch FOR SHARE) for 600 ms.
        CountDownLatch loadStarts = new CountDownLatch(1);
        CountDownLatch locked = new CountDownLatch(1);
        bench.beforeLoad = loadStarts::countDown;
        Thread staller = Thread.ofVirtual().start(() -> {
            try (Connection c = ledger.sql()) {
                loadStarts.await();
                Thread.sleep(1_000); // 0.5 s warm-up, then 0.5 s into the measured window

                c.setAutoCommit(false);
                try (Statement st = c.createStatement()) {
                    st.execute("select epoch from leadership for update");
                    locked.countDown();
                    Thread.sleep(600);
                }
                c.rollback();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        BenchResult r;
        try {
            r = bench.run(brief(Bench.Scenario.UNIFORM).openLoop(5_000, 256));
        } finally {
            bench.beforeLoad = () -> {};
        }
        staller.join();
        assertThat(locked.getCount()).isZero();
        assertSound(r);
        assertThat(r.maxMs()).isGreaterThanOrEqualTo(400);
        assertThat(r.requests()).isBetween(95L, 101L);
    }

    @Test
    void scenariosDrawWhatTheyPromise() {
        TransferPool hot = TransferPool.build(Bench.Scenario.HOT, 10_000, 1);
        TransferPool uniform = TransferPool.build(Bench.Scenario.UNIFORM, 10_000, 1);
        TransferPool payments = TransferPool.build(Bench.Scenario.PAYMENTS, 10_000, 1);
        for (int i = 0; i < TransferPool.SIZE; i++) {
            assertThat(hot.credit[i]).isZero();
            assertThat(hot.debit[i]).isPositive();
            assertThat(uniform.debit[i]).isNotEqualTo(uniform.credit[i]);
            assertThat(payments.credit[i]).isLessThan(100);
            assertThat(payments.debit[i]).isGreaterThanOrEqualTo(100);
        }
        TransferPool.Zipf zipf = new TransferPool.Zipf(10_000, 1.0);
        double harmonic = 0;
        for (int k = 1; k <= 10_000; k++) {
            harmonic += 1.0 / k;
        }
        assertThat(zipf.probability(0)).isCloseTo(1 / harmonic, org.assertj.core.data.Offset.offset(1e-9));
        SplittableRandom r = new SplittableRandom(3);
        int top = 0;
        for (int i = 0; i < 100_000; i++) {
            top += zipf.sample(r) == 0 ? 1 : 0;
        }
        assertThat(top / 100_000.0).isCloseTo(1 / harmonic, org.assertj.core.data.Offset.offset(0.01));
    }

    @Test
    void parsesPgbenchOutput() {
        String out = """
                transaction type: <builtin: TPC-B (sort of)>
                scaling factor: 16
                number of clients: 16
                number of transactions actually processed: 2468
                latency average = 12.960 ms
                initial connection time = 21.410 ms
                tps = 1234.567890 (without initial connection time)
                """;
        assertThat(PgBenchComparison.parseTps(out)).isEqualTo(1234.56789);
    }

    @Test
    void comparePgbenchOnASynchronousPair() {
        // Scale 2 instead of 16 keeps the smoke test short (-i -s 16 alone takes ~10 s here); the path is the same.
        PgBenchComparison.Result r = PgBenchComparison.run(List.of(2, 1), 2, System.out::println);
        System.out.println(r.toJson().encode());
        assertThat(r.tpsByScale()).containsOnlyKeys(2, 1);
        assertThat(r.tpsByScale().values()).allSatisfy(tps -> assertThat(tps).isPositive());
    }
}
