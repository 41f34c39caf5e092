package io.paymentledger.cli.chaos;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Clock jumps: a process's wall clock set ahead of or behind real time, while its monotonic clock stays real — what
 * an NTP step, a restored VM or `date -s` does to a host. Done with Debian's libfaketime, preloaded into the process
 * when it starts: it reads the offset from {@code <dir>/run/clock-<process>} ("+30s", "-30s", "+0s") at most once per
 * {@link #RECHECK_SECONDS}, so a jump takes effect within that without a restart.
 *
 * <p>Opt-in: `./ledger up --clock-faults` creates the offset files (holding "+0s") for {@link #PROCESSES}; a process
 * is started under libfaketime exactly when its file exists, so the choice survives restarts and `./ledger destroy`
 * ends it. Without the flag no process is preloaded. What a process starts inherits its clock (the witness's
 * pg_receivewal and pg_basebackup; a PostgreSQL server a node restarts as a standby when it rejoins it).
 */
public final class ClockFaults {

    /** The processes whose clock can jump: the two ledger nodes and the witness (all three CP members). */
    public static final List<String> PROCESSES = List.of(LocalDeployment.nodeName("a"), LocalDeployment.nodeName("b"),
            LocalDeployment.WITNESS);
    /** How often libfaketime re-reads the offset file (0 would re-read it on every clock call: a core per JVM). */
    public static final int RECHECK_SECONDS = 1;
    /** The largest jump accepted, either way. */
    public static final int OFFSET_MAX_SECONDS = 3_600;
    static final String DEBIAN_PACKAGE = "faketime";
    private static final String LIBRARY = "libfaketimeMT.so.1";
    private static final Pattern OFFSET = Pattern.compile("[+-]\\d+s");

    private final Topology t;

    public ClockFaults(Topology t) {
        this.t = t;
    }

    static Path offsetFile(Topology t, String process) {
        return t.run().resolve("clock-" + process);
    }

    /** libfaketime's multi-threaded variant (JVMs are), wherever Debian put it for this machine's architecture. */
    static Optional<Path> library() {
        Path lib = Path.of("/usr/lib");
        if (!Files.isDirectory(lib)) {
            return Optional.empty();
        }
        try (var dirs = Files.list(lib)) {
            return java.util.stream.Stream.concat(java.util.stream.Stream.of(lib), dirs)
                    .map(d -> d.resolve("faketime").resolve(LIBRARY)).filter(Files::isReadable).findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static Path requireLibrary() {
        return library().orElseThrow(() -> new IllegalStateException("clock faults need libfaketime (" + LIBRARY
                + "), which is not installed: apt-get install " + DEBIAN_PACKAGE));
    }

    /** `./ledger up --clock-faults`: every process of {@link #PROCESSES} started from now on runs under libfaketime. */
    public List<String> enable() {
        requireLibrary();
        List<String> created = new ArrayList<>();
        for (String p : PROCESSES) {
            if (!Files.exists(offsetFile(t, p))) {
                write(p, 0);
                created.add(p);
            }
        }
        return created;
    }

    public boolean enabled() {
        return PROCESSES.stream().anyMatch(p -> Files.exists(offsetFile(t, p)));
    }

    /**
     * What {@link Processes#startJava} adds to {@code process}'s environment: the preload and its offset file when
     * clock faults are on for it, nothing otherwise.
     */
    public static Map<String, String> environment(Topology t, String process) {
        Path file = offsetFile(t, process);
        if (!Files.exists(file)) {
            return Map.of();
        }
        return Map.of("LD_PRELOAD", requireLibrary().toString(), "FAKETIME_TIMESTAMP_FILE", file.toString(),
                // System.nanoTime (leases, CP heartbeats, timeouts) stays real: a clock step does not touch it either.
                "FAKETIME_DONT_FAKE_MONOTONIC", "1", "FAKETIME_CACHE_DURATION", Integer.toString(RECHECK_SECONDS),
                // Its "monotonic fix" (on by default with this glibc) makes every timed wait of a JVM return at once
                // (LockSupport.parkNanos(1 s) took 2 µs, measured): Hazelcast then spins and loses its CP heartbeats.
                "FAKETIME_FORCE_MONOTONIC_FIX", "0");
    }

    /** Sets {@code process}'s clock {@code seconds} off real time (0: real time again); returns the file written. */
    public Path jump(String process, int seconds) {
        if (!PROCESSES.contains(process)) {
            throw new IllegalArgumentException("no clock faults for " + process + ": only " + String.join(", ", PROCESSES));
        }
        if (Math.abs(seconds) > OFFSET_MAX_SECONDS) {
            throw new IllegalArgumentException("a jump of " + seconds + " s: at most " + OFFSET_MAX_SECONDS + " s either way");
        }
        if (!Files.exists(offsetFile(t, process))) {
            throw new IllegalStateException("clock faults are off in " + t.dir() + ": start it with ./ledger up --clock-faults"
                    + " (processes already running pick it up once restarted: ./ledger down && ./ledger up --clock-faults)");
        }
        ProcessHandle h = Processes.running(t, process).orElseThrow(() -> new IllegalStateException(process
                + " is not running (./ledger up starts it, with its clock " + offset(process) + ")"));
        if (!preloaded(h.pid())) {
            throw new IllegalStateException(process + " (pid " + h.pid() + ") was started without libfaketime, before clock"
                    + " faults were on: restart it (./ledger down && ./ledger up) before jumping its clock");
        }
        write(process, seconds);
        return offsetFile(t, process);
    }

    /** The offset a process's clock has now ("+0s" when real). */
    public String offset(String process) {
        try {
            return Files.readString(offsetFile(t, process)).trim();
        } catch (IOException e) {
            return "+0s";
        }
    }

    /** Every clock back to real time; returns a phrase per clock that was off ("node-a's clock (was +30s)"). */
    public List<String> heal() {
        List<String> healed = new ArrayList<>();
        for (String p : PROCESSES) {
            if (Files.exists(offsetFile(t, p)) && !offset(p).equals(format(0))) {
                healed.add(p + "'s clock (was " + offset(p) + ")");
                write(p, 0);
            }
        }
        return healed;
    }

    static String format(int seconds) {
        return (seconds < 0 ? "-" : "+") + Math.abs(seconds) + "s";
    }

    /** Whether the process runs under libfaketime (its environment as the kernel shows it). */
    private static boolean preloaded(long pid) {
        try {
            String env = Files.readString(Path.of("/proc", Long.toString(pid), "environ"), java.nio.charset.StandardCharsets.ISO_8859_1);
            return env.contains("LD_PRELOAD=") && env.contains(LIBRARY);
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    /** Written whole and renamed into place: libfaketime must never read half a line. */
    private void write(String process, int seconds) {
        String offset = format(seconds);
        if (!OFFSET.matcher(offset).matches()) {
            throw new IllegalStateException("bad offset " + offset);
        }
        Path file = offsetFile(t, process);
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, offset + "\n");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
