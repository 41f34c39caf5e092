package io.paymentledger.replication.coordinator;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A CP member in a process of its own, so that a test can freeze it (SIGSTOP): silence, as a paused VM or a cut link
 * gives, which a member in the test's JVM cannot play. It runs until its standard input closes.
 */
final class CpMemberProcess implements AutoCloseable {

    private final Process process;

    private CpMemberProcess(Process process) {
        this.process = process;
    }

    /** Starts {@code settings}' member in a child JVM (this JVM's class path). */
    static CpMemberProcess start(HazelcastCoordinator.Settings s, Path log) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), CpMemberProcess.class.getName(),
                s.clusterName(), s.memberName(), s.host(), Integer.toString(s.port()), String.join(",", s.members()),
                String.join(",", s.memberNames()), Integer.toString(s.sessionTtlSeconds()), Integer.toString(s.heartbeatSeconds()),
                Long.toString(s.callTimeout().toMillis())));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new CpMemberProcess(p);
    }

    long pid() {
        return process.pid();
    }

    void signal(String signal) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
        if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
            throw new IOException("kill -" + signal + " " + process.pid() + " failed");
        }
    }

    @Override
    public void close() throws Exception {
        signal("CONT");
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    public static void main(String[] args) throws Exception {
        HazelcastCoordinator.Settings s = new HazelcastCoordinator.Settings(args[0], args[1], args[2], Integer.parseInt(args[3]),
                Arrays.asList(args[4].split(",")), Arrays.asList(args[5].split(",")), Integer.parseInt(args[6]),
                Integer.parseInt(args[7]), 0, Duration.ofMillis(Long.parseLong(args[8])), 0);
        try (HazelcastCoordinator c = HazelcastCoordinator.start(s)) {
            while (System.in.read() >= 0) {
                // until the test closes our standard input (or kills us)
            }
        }
        System.exit(0);
    }
}
