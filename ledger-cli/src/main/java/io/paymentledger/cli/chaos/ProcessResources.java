package io.paymentledger.cli.chaos;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What every process of the deployment holds, read from the kernel ({@code /proc/<pid>/status} and {@code fd/}) and,
 * for a JVM, its heap from the JDK's own {@code jcmd <pid> GC.heap_info}: a long chaos run reports it at the start
 * and the end, so a leak of memory, threads or file descriptors under faults shows as a difference. A PostgreSQL
 * server counts its postmaster and every backend it forked (threads = processes there).
 */
public final class ProcessResources {

    /** How long jcmd may take to answer (it attaches to the JVM, which may be busy). */
    static final long JCMD_TIMEOUT_S = 15;
    private static final Path PROC = Path.of("/proc");
    /**
     * A heap or generation line of GC.heap_info: "garbage-first heap   total reserved 262144K, committed 68608K, used
     * 25284K" (G1, one line), "DefNew     total 116160K, used 31009K" and "Tenured    total 258048K, used 1166K"
     * (Serial: summed), "PSYoungGen total ..., used ..." and "ParOldGen ..." (Parallel); not Metaspace (no total).
     */
    private static final Pattern HEAP_USED = Pattern.compile("(?m)^[^\\n]*\\btotal\\b[^\\n]*?\\bused\\s+(\\d+)K");

    /**
     * One process (or PostgreSQL server) at one moment; -1 where it could not be read, {@code heapUsedKb} -1 also
     * for PostgreSQL. {@code pid} 0 when the process was not running.
     */
    public record Usage(String process, long pid, long rssKb, long threads, long fds, long heapUsedKb) {}

    private ProcessResources() {}

    /** Every process of the deployment that runs now, in a fixed order (router, nodes, PostgreSQL servers, witness). */
    public static List<Usage> snapshot(Topology t, LocalDeployment d) {
        List<Usage> out = new ArrayList<>();
        jvm(t, LocalDeployment.ROUTER).ifPresent(out::add);
        for (String region : t.regions().keySet()) {
            jvm(t, LocalDeployment.nodeName(region)).ifPresent(out::add);
        }
        for (String region : t.regions().keySet()) {
            d.postgres(region).postmasterPid().ifPresent(pid -> out.add(postgres("postgres-" + region, pid)));
        }
        jvm(t, LocalDeployment.WITNESS).ifPresent(out::add);
        return out;
    }

    private static Optional<Usage> jvm(Topology t, String name) {
        return Processes.running(t, name).map(h -> {
            long pid = h.pid();
            long[] s = status(pid);
            return new Usage(name, pid, s[0], s[1], fds(pid), heapUsedKb(pid));
        });
    }

    private static Usage postgres(String name, long postmaster) {
        List<Long> pids = new ArrayList<>();
        pids.add(postmaster);
        ProcessHandle.of(postmaster).ifPresent(h -> h.children().forEach(c -> pids.add(c.pid())));
        long rss = 0;
        long fds = 0;
        for (long pid : pids) {
            long[] s = status(pid);
            long f = fds(pid);
            rss = rss < 0 || s[0] < 0 ? -1 : rss + s[0];
            fds = fds < 0 || f < 0 ? -1 : fds + f;
        }
        return new Usage(name, postmaster, rss, pids.size(), fds, -1);
    }

    /** [VmRSS in kB, Threads] of a process; -1 each when unreadable. */
    static long[] status(long pid) {
        long rss = -1;
        long threads = -1;
        try {
            for (String line : Files.readAllLines(PROC.resolve(Long.toString(pid)).resolve("status"), StandardCharsets.UTF_8)) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("[^0-9]", ""));
                } else if (line.startsWith("Threads:")) {
                    threads = Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException gone) {
            // the process ended meanwhile
        }
        return new long[] {rss, threads};
    }

    static long fds(long pid) {
        try (Stream<Path> s = Files.list(PROC.resolve(Long.toString(pid)).resolve("fd"))) {
            return s.count();
        } catch (IOException gone) {
            return -1;
        }
    }

    /** The heap in use (kB) in jcmd's GC.heap_info text: the sum of its heap or generation lines; -1 when none. */
    static long heapUsedKb(String gcHeapInfo) {
        Matcher m = HEAP_USED.matcher(gcHeapInfo);
        long used = -1;
        while (m.find()) {
            used = Math.max(used, 0) + Long.parseLong(m.group(1));
        }
        return used;
    }

    /** The heap in use (kB) per the JVM itself; -1 when jcmd is missing, cannot attach, or takes too long. */
    static long heapUsedKb(long pid) {
        Path java = Path.of(ProcessHandle.current().info().command().orElse("java"));
        Path jcmd = java.resolveSibling("jcmd");
        if (!Files.isExecutable(jcmd)) {
            return -1;
        }
        try {
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "GC.heap_info").redirectErrorStream(true).start();
            String text;
            try (var in = p.getInputStream()) {
                if (!p.waitFor(JCMD_TIMEOUT_S, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return -1;
                }
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            return heapUsedKb(text);
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
