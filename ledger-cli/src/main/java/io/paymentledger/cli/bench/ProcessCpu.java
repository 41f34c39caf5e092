package io.paymentledger.cli.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * CPU time (user + system) of the processes a benchmark loads, read from {@code /proc/<pid>/stat} at the start
 * and the end of the measured window. CPU per call is much less sensitive to a busy neighbour on a shared host
 * than wall-clock throughput: it says what the ledger costs, not how much of the machine it got.
 *
 * <p>A PostgreSQL server is its postmaster plus every backend it forked: the postmaster's own time, the time of
 * its live children, and (cutime/cstime) of the children it has reaped, so a backend that exits during the
 * window is still counted.
 */
public final class ProcessCpu {

    /** Clock ticks per second of /proc's times (USER_HZ); Linux on x86-64 and arm64 always reports 100. */
    static final long TICKS_PER_SECOND = 100;
    private static final long NANOS_PER_TICK = 1_000_000_000L / TICKS_PER_SECOND;
    private static final Path PROC = Path.of("/proc");

    /** What is measured: one process (a JVM), or a PostgreSQL server with its backends. */
    public sealed interface Source {
        /** Shown in the report, e.g. "node-a" or "postgres-a". */
        String name();

        /** Part of the server (router, nodes, PostgreSQL), or the load generator / a bystander. */
        Role role();

        /** CPU time so far; empty when the process is gone. */
        Optional<Reading> read();
    }

    /**
     * CPU time in ns: the whole process, and of it the JIT compiler's and the garbage collector's threads (a JVM's
     * own upkeep, which a fresh JVM pays heavily for its first minute: the load generator starts anew each run).
     * The parts count only threads alive at both samples (compiler threads come and go), so they are lower bounds.
     */
    public record Reading(long totalNanos, Map<String, Long> partNanosByTask) {}

    public enum Role {
        /** Router, ledger nodes, PostgreSQL: what one call costs the service. */
        SERVER,
        /** The load generator itself. */
        GENERATOR,
        /** Measured and shown, but neither (e.g. the witness: the CP member that is not on the call path). */
        OTHER
    }

    /** One JVM; its threads' times are summed by the kernel in /proc/pid/stat, and listed per thread under task/. */
    public record JvmProcess(String name, Role role, long pid) implements Source {
        @Override
        public Optional<Reading> read() {
            return Stat.read(pid).map(s -> new Reading((s.utime + s.stime) * NANOS_PER_TICK, upkeepThreads(pid)));
        }
    }

    /** JVM thread names (as the kernel shows them, 15 characters) of the JIT compiler and the garbage collector. */
    static String upkeepOf(String threadName) {
        if (threadName.startsWith("C1 CompilerThre") || threadName.startsWith("C2 CompilerThre")) {
            return JIT;
        }
        if (threadName.startsWith("GC Thread") || threadName.startsWith("G1 ")) {
            return GC;
        }
        return null;
    }

    static final String JIT = "JIT";
    static final String GC = "GC";

    /** CPU ns of each JIT and GC thread, keyed "JIT/<tid>" / "GC/<tid>". */
    private static Map<String, Long> upkeepThreads(long pid) {
        Map<String, Long> out = new LinkedHashMap<>();
        Path tasks = PROC.resolve(Long.toString(pid)).resolve("task");
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(tasks)) {
            for (Path d : dirs) {
                try {
                    String part = upkeepOf(Files.readString(d.resolve("comm")).strip());
                    if (part != null) {
                        Stat st = parse(Files.readString(d.resolve("stat")));
                        out.put(part + "/" + d.getFileName(), (st.utime + st.stime) * NANOS_PER_TICK);
                    }
                } catch (IOException | RuntimeException gone) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            // no task list: no parts
        }
        return out;
    }

    private static Stat parse(String line) {
        return Stat.parse(line);
    }

    /** A PostgreSQL server: postmaster + backends (live and reaped). */
    public record PostgresServer(String name, long postmasterPid) implements Source {
        @Override
        public Role role() {
            return Role.SERVER;
        }

        @Override
        public Optional<Reading> read() {
            Optional<Stat> master = Stat.read(postmasterPid);
            if (master.isEmpty()) {
                return Optional.empty();
            }
            Stat m = master.get();
            long ticks = m.utime + m.stime + m.cutime + m.cstime;
            for (Stat child : Stat.children(postmasterPid)) {
                ticks += child.utime + child.stime;
            }
            return Optional.of(new Reading(ticks * NANOS_PER_TICK, Map.of()));
        }
    }

    /** This JVM (the load generator). */
    public static Source self() {
        return new JvmProcess("load generator", Role.GENERATOR, ProcessHandle.current().pid());
    }

    /**
     * CPU seconds each source used between two samples (a source that vanished in between is left out), and of
     * those the JIT's and GC's seconds per source name ("node-a" -> {"JIT" -> 0.3, "GC" -> 0.1}).
     */
    public record Usage(Map<String, Double> secondsByName, Map<String, Role> roles, Map<String, Map<String, Double>> upkeep) {

        public double seconds(Role role) {
            double s = 0;
            for (Map.Entry<String, Double> e : secondsByName.entrySet()) {
                if (roles.get(e.getKey()) == role) {
                    s += e.getValue();
                }
            }
            return s;
        }

        public static Usage none() {
            return new Usage(Map.of(), Map.of(), Map.of());
        }
    }

    /** A sample of every source, to subtract from a later one. */
    public static final class Sample {
        private final Map<Source, Reading> readings = new LinkedHashMap<>();

        private Sample() {}

        public Usage until(Sample later) {
            Map<String, Double> seconds = new LinkedHashMap<>();
            Map<String, Role> roles = new LinkedHashMap<>();
            Map<String, Map<String, Double>> upkeep = new LinkedHashMap<>();
            for (Map.Entry<Source, Reading> e : readings.entrySet()) {
                Reading end = later.readings.get(e.getKey());
                if (end == null) {
                    continue;
                }
                String name = e.getKey().name();
                seconds.merge(name, (end.totalNanos() - e.getValue().totalNanos()) / 1e9, Double::sum);
                roles.put(name, e.getKey().role());
                Map<String, Double> parts = new LinkedHashMap<>();
                end.partNanosByTask().forEach((task, ns) -> {
                    Long before = e.getValue().partNanosByTask().get(task);
                    if (before != null) {
                        parts.merge(task.substring(0, task.indexOf('/')), (ns - before) / 1e9, Double::sum);
                    }
                });
                if (!parts.isEmpty()) {
                    upkeep.put(name, parts);
                }
            }
            return new Usage(seconds, roles, upkeep);
        }
    }

    private final List<Source> sources;

    public ProcessCpu(List<Source> sources) {
        this.sources = List.copyOf(sources);
    }

    public List<Source> sources() {
        return sources;
    }

    public Sample sample() {
        Sample s = new Sample();
        for (Source src : sources) {
            src.read().ifPresent(r -> s.readings.put(src, r));
        }
        return s;
    }

    /** The fields of /proc/pid/stat used here (proc(5): 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime). */
    record Stat(long ppid, long utime, long stime, long cutime, long cstime) {

        static Optional<Stat> read(long pid) {
            try {
                return Optional.of(parse(Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"))));
            } catch (IOException | RuntimeException gone) {
                return Optional.empty();
            }
        }

        /** The command name (field 2) is in parentheses and may hold spaces and ')': parse after the last ')'. */
        static Stat parse(String line) {
            String[] f = line.substring(line.lastIndexOf(')') + 2).split(" ");
            // f[0] is field 3 (state): field n is f[n - 3].
            return new Stat(Long.parseLong(f[1]), Long.parseLong(f[11]), Long.parseLong(f[12]), Long.parseLong(f[13]),
                    Long.parseLong(f[14]));
        }

        static List<Stat> children(long parent) {
            List<Stat> out = new ArrayList<>();
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, p -> isNumber(p.getFileName().toString()))) {
                for (Path d : dirs) {
                    read(Long.parseLong(d.getFileName().toString())).filter(s -> s.ppid == parent).ifPresent(out::add);
                }
            } catch (IOException e) {
                // no /proc: nothing to add
            }
            return out;
        }

        private static boolean isNumber(String s) {
            if (s.isEmpty()) {
                return false;
            }
            for (int i = 0; i < s.length(); i++) {
                if (!Character.isDigit(s.charAt(i))) {
                    return false;
                }
            }
            return true;
        }
    }
}
