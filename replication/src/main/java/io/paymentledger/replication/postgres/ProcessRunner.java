package io.paymentledger.replication.postgres;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a short-lived command to completion with a time limit, capturing its output. */
public final class ProcessRunner {

    /** The first line of a tool's (or an exception's) message, for one-line logs and sentences; "" for null. */
    public static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }


    public record Result(int exitCode, String output) {}

    private ProcessRunner() {}

    /** Runs the command; throws with its output when it fails or exceeds {@code timeoutSeconds}. */
    public static Result run(List<String> command, long timeoutSeconds) {
        return run(command, timeoutSeconds, null, Map.of(), true);
    }

    public static Result run(List<String> command, long timeoutSeconds, Path workDir, Map<String, String> env,
            boolean failOnNonZero) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (workDir != null) {
            pb.directory(workDir.toFile());
        }
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
        try {
            // Read on a separate thread so a chatty process cannot block on a full pipe past the deadline.
            byte[][] out = new byte[1][];
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    out[0] = p.getInputStream().readAllBytes();
                } catch (IOException e) {
                    out[0] = new byte[0];
                }
            });
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out after " + timeoutSeconds + " s: " + String.join(" ", command));
            }
            reader.join(5_000);
            String text = out[0] == null ? "" : new String(out[0]);
            if (failOnNonZero && p.exitValue() != 0) {
                throw new IllegalStateException("command failed (exit " + p.exitValue() + "): "
                        + String.join(" ", command) + "\n" + text.strip());
            }
            return new Result(p.exitValue(), text);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + String.join(" ", command), e);
        }
    }
}
