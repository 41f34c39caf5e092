package io.paymentledger.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The bench's stage line reads only this run's calls from the processes' histograms, as Prometheus would. */
class StageLatencyTest {

    /** A node's exposition: the commit histogram over two methods' worth of labels, and a metric of no interest. */
    private static String node(long le1ms, long le5ms, long le10ms, long inf) {
        return """
                # HELP ledger_writer_commit_seconds one batch's epoch check, balances, journal row and COMMIT
                # TYPE ledger_writer_commit_seconds histogram
                ledger_writer_commit_seconds_bucket{le="0.001"} %d
                ledger_writer_commit_seconds_bucket{le="0.005"} %d
                ledger_writer_commit_seconds_bucket{le="0.01"} %d
                ledger_writer_commit_seconds_bucket{le="+Inf"} %d
                ledger_writer_commit_seconds_count %d
                ledger_request_seconds_bucket{method="CreateTransfers",status="OK",le="0.005"} %d
                ledger_request_seconds_bucket{method="CreateTransfers",status="OK",le="+Inf"} %d
                ledger_request_seconds_bucket{method="Authorize",status="OK",le="0.005"} 7
                ledger_request_seconds_bucket{method="Authorize",status="OK",le="+Inf"} 7
                process_cpu_usage 0.25
                jvm_gc_pause_seconds_bucket{le="0.001"} 99
                """.formatted(le1ms, le5ms, le10ms, inf, inf, le5ms, inf);
    }

    @Test
    void onlyTheCallsBetweenTheTwoScrapesCountAndTheirQuantilesAreReadLikeHistogramQuantile() {
        StageLatency.Scrape before = StageLatency.Scrape.parse(node(10, 20, 20, 20));
        // The run: 100 commits, 50 under 1 ms, 40 in (1, 5] ms, 10 in (5, 10] ms.
        StageLatency.Scrape after = StageLatency.Scrape.parse(node(60, 110, 120, 120));
        List<StageLatency.Stage> stages = StageLatency.between(before, after);
        StageLatency.Stage commit = stages.stream().filter(s -> s.label().equals("commit")).findFirst().orElseThrow();
        assertThat(commit.count()).isEqualTo(100);
        assertThat(commit.p50Ms()).as("rank 50 is the last of the first bucket").isCloseTo(1.0, within(1e-9));
        assertThat(commit.p99Ms()).as("rank 99: 9 of the 10 in (5, 10]").isCloseTo(5 + 5 * 9 / 10.0, within(1e-9));
        StageLatency.Stage node = stages.stream().filter(s -> s.label().equals("node call")).findFirst().orElseThrow();
        assertThat(node.count()).as("the other method's calls did not change, so they are not this run's").isEqualTo(100);
        StageLatency.Stage router = stages.stream().filter(s -> s.label().equals("router call")).findFirst().orElseThrow();
        assertThat(router.count()).as("a histogram neither scrape has").isZero();
        assertThat(router.p50Ms()).isNaN();
        assertThat(StageLatency.line(stages)).startsWith("stages p50/p99 ms: node call ").contains("commit 1.00/9.50")
                .doesNotContain("router call");
    }

    @Test
    void aRankAboveTheLastFiniteBucketIsSaidToBeAboveIt() {
        TreeMap<Double, Double> h = new TreeMap<>();
        h.put(0.01, 90.0);
        h.put(Double.POSITIVE_INFINITY, 100.0);
        assertThat(StageLatency.quantile(h, 100, 0.99)).isInfinite();
        assertThat(StageLatency.quantile(h, 100, 0.5)).isCloseTo(0.01 * 50 / 90, within(1e-12));
        assertThat(StageLatency.quantile(new TreeMap<>(), 0, 0.5)).isNaN();
    }

    @Test
    void aRunWhoseHistogramsDidNotMoveSaysSo() {
        StageLatency.Scrape same = StageLatency.Scrape.parse(node(1, 2, 3, 4));
        assertThat(StageLatency.line(StageLatency.between(same, same))).isEqualTo("stages: none seen (no histogram moved)");
    }
}
