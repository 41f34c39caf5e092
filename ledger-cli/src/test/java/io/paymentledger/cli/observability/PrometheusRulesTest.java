package io.paymentledger.cli.observability;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The alert rules that `./ledger up` loads into Prometheus are valid ({@code promtool check rules}) and do what
 * they promise ({@code promtool test rules}: each alert fires on the series that mean trouble, after its delay and
 * not before, and none fires on a healthy deployment). Needs Debian's {@code prometheus} package (promtool);
 * {@code .ci/run} installs it, and without it the test fails and says so.
 */
class PrometheusRulesTest {

    @TempDir
    Path work;

    @Test
    void alertRulesAreValidAndFireOnlyOnTrouble() throws Exception {
        String promtool = promtool();
        copy("/observability/alerts.yml", work.resolve("alerts.yml"));
        Path tests = Path.of("src/test/resources/observability/alerts-test.yml");
        Files.copy(tests, work.resolve("alerts-test.yml"));

        Result check = run(List.of(promtool, "check", "rules", "alerts.yml"));
        assertThat(check.exit()).as("promtool check rules:%n%s", check.output()).isZero();
        assertThat(check.output()).contains("SUCCESS: 11 rules found");

        Result test = run(List.of(promtool, "test", "rules", "alerts-test.yml"));
        assertThat(test.exit()).as("promtool test rules:%n%s", test.output()).isZero();
        assertThat(test.output()).contains("SUCCESS");
    }

    /** A rule that would page on a healthy deployment, or never page, makes promtool's unit tests fail. */
    @Test
    void theRuleTestsCatchABrokenRule() throws Exception {
        String promtool = promtool();
        String rules;
        try (InputStream in = getClass().getResourceAsStream("/observability/alerts.yml")) {
            rules = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        // Page on one copy only after a minute instead of 15 s: the "one copy only pages" case must notice.
        String broken = rules.replace("expr: max(ledger_sync_copies) < 2\n        for: 15s", "expr: max(ledger_sync_copies) < 2\n        for: 1m");
        assertThat(broken).isNotEqualTo(rules);
        Files.writeString(work.resolve("alerts.yml"), broken);
        Files.copy(Path.of("src/test/resources/observability/alerts-test.yml"), work.resolve("alerts-test.yml"));

        Result test = run(List.of(promtool, "test", "rules", "alerts-test.yml"));
        assertThat(test.exit()).as("promtool test rules on a broken rule:%n%s", test.output()).isNotZero();
        assertThat(test.output()).contains("LedgerFewerThanTwoSyncCopies");
    }

    static String promtool() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path p = Path.of(dir, "promtool");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new AssertionError("promtool not found on PATH: install Debian's prometheus package "
                + "(apt-get install prometheus; .ci/run does it)");
    }

    private void copy(String resource, Path to) throws IOException {
        try (InputStream in = getClass().getResourceAsStream(resource)) {
            assertThat(in).as("resource %s", resource).isNotNull();
            Files.copy(in, to);
        }
    }

    private record Result(int exit, String output) {}

    private Result run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(work.toFile()).redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(command + " did not finish in 30 s");
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
