package io.paymentledger.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.ledger.support.TestLedger;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Not part of the suite: a baseline table against an in-process TestLedger (one node, PostgreSQL with fsync off,
 * no standby), for comparing write-path changes without a deployment. Run it with
 * {@code ./mvnw -o -pl ledger-cli test -Dtest=BenchBaselineTest -Dbench.baseline=true
 * [-Dbench.seconds=10] [-Dbench.scenarios=uniform,hot,zipf,payments] [-Dbench.shapes=1,100,1000,8000]};
 * the table is in target/surefire-reports/…BenchBaselineTest-output.txt.
 *
 * <p>Mind the order: on a fresh database the first minute or so is several times slower for whatever runs first
 * (the writer's prepared statements get generic plans made while the tables were empty, until autovacuum's first
 * ANALYZE replans them). {@code -Dbench.prime=70} runs an unreported uniform × 1000 load that long first.
 */
@EnabledIfSystemProperty(named = "bench.baseline", matches = "true")
class BenchBaselineTest {

    @Test
    void baseline() throws Exception {
        double seconds = Double.parseDouble(System.getProperty("bench.seconds", "10"));
        List<Bench.Scenario> scenarios = List.of(System.getProperty("bench.scenarios", "uniform,hot,zipf,payments").split(","))
                .stream().map(Bench.Scenario::parse).toList();
        List<Integer> shapes = List.of(System.getProperty("bench.shapes", "1,100,1000,8000").split(",")).stream()
                .map(String::trim).map(Integer::parseInt).toList();
        try (TestLedger ledger = TestLedger.start()) {
            Bench bench = new Bench(List.of(ledger.grpc), ledger::sql, System.out::println);
            double prime = Double.parseDouble(System.getProperty("bench.prime", "0"));
            if (prime > 0) {
                BenchResult primed = bench.run(Bench.Options.of(Bench.Scenario.UNIFORM, 1000, () -> ledger.address)
                        .duration(prime, 0).seed(2));
                System.out.println("primed for " + prime + " s (not reported): " + primed.transfersPerSecond() + " transfers/s");
            }
            List<BenchResult> results = new ArrayList<>();
            for (Bench.Scenario s : scenarios) {
                for (int shape : s == Bench.Scenario.PAYMENTS ? List.of(1) : shapes) {
                    results.add(bench.run(Bench.Options.of(s, shape, () -> ledger.address).duration(seconds, 2).seed(1)));
                    System.out.print(BenchReport.table(results.subList(results.size() - 1, results.size()), null));
                }
            }
            System.out.println("BASELINE (TestLedger: one node, fsync off, no standby; closed loop, " + seconds + " s each)");
            System.out.print(BenchReport.table(results, null));
            assertThat(BenchReport.passed(results)).isTrue();
        }
    }
}
