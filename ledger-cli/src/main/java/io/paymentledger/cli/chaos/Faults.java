package io.paymentledger.cli.chaos;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Faults a process can suffer short of dying: a pause (SIGSTOP — what a long GC, a frozen VM or a stalled disk look
 * like from outside) and the matching resume (SIGCONT). A paused process keeps its sockets open: its peers see
 * silence, not a refused connection, so nothing can prove it dead and the CP session TTL has to run out. Every pause
 * is recorded in {@code <run>/chaos-paused} so {@link #heal} (and `./ledger chaos heal`) resumes whatever is still
 * paused, even from another command. Process names are the ones `./ledger kill` uses: node-a, postgres-a, witness,
 * router (and b).
 */
public final class Faults {

    private static final String PAUSED_FILE = "chaos-paused";
    private static final long SIGNAL_TIMEOUT_S = 10;

    private final LocalDeployment d;

    public Faults(LocalDeployment d) {
        this.d = d;
    }

    /** The process and everything it started (a PostgreSQL server's backends, the witness's pg_receivewal). */
    List<Long> tree(String name) {
        ProcessHandle root = root(name).orElseThrow(() -> new IllegalStateException(name + " is not running"));
        List<Long> pids = new ArrayList<>();
        pids.add(root.pid());
        root.descendants().forEach(p -> pids.add(p.pid()));
        return pids;
    }

    private Optional<ProcessHandle> root(String name) {
        Topology t = d.topology();
        if (name.startsWith("postgres-")) {
            String region = name.substring("postgres-".length());
            t.region(region);
            return d.postgres(region).postmasterPid().flatMap(ProcessHandle::of);
        }
        if (name.startsWith("node-")) {
            String region = name.substring("node-".length());
            t.region(region);
            return Processes.running(t, LocalDeployment.nodeName(region));
        }
        if (name.equals(LocalDeployment.WITNESS) || name.equals(LocalDeployment.ROUTER)) {
            return Processes.running(t, name);
        }
        throw new IllegalArgumentException("unknown process " + name + " (node-a, postgres-a, witness, router; or b)");
    }

    /** SIGSTOP to {@code name}'s whole process tree; returns the PIDs stopped. */
    public List<Long> pause(String name) {
        List<Long> pids = tree(name);
        Map<String, List<Long>> paused = readPaused();
        paused.put(name, pids);
        writePaused(paused);
        signal("STOP", pids);
        return pids;
    }

    /** SIGCONT to what {@link #pause} stopped of {@code name} (and its tree as it is now). */
    public List<Long> resume(String name) {
        Map<String, List<Long>> paused = readPaused();
        List<Long> pids = new ArrayList<>(paused.getOrDefault(name, List.of()));
        root(name).ifPresent(r -> Stream.concat(Stream.of(r), r.descendants()).map(ProcessHandle::pid)
                .filter(p -> !pids.contains(p)).forEach(pids::add));
        signal("CONT", pids);
        paused.remove(name);
        writePaused(paused);
        return pids;
    }

    /**
     * Undoes every fault still in place: resumes what is recorded as paused, sets every jumped clock back to real time
     * ({@link ClockFaults}) and, in a netns deployment, removes every cut link. Returns what was undone (process names,
     * "node-a's clock (was +30s)", cut descriptions).
     */
    public List<String> heal() {
        Map<String, List<Long>> paused = readPaused();
        List<String> names = new ArrayList<>(paused.keySet());
        for (Map.Entry<String, List<Long>> e : paused.entrySet()) {
            signal("CONT", e.getValue());
        }
        writePaused(Map.of());
        names.addAll(new ClockFaults(d.topology()).heal());
        if (d.topology().sites().netns()) {
            names.addAll(new NetworkFaults(d.topology()).heal());
        }
        return names;
    }

    /** Sends a signal with the system's kill(1): the JDK can only terminate processes, not stop or continue them. */
    private static void signal(String signal, List<Long> pids) {
        List<Long> alive = pids.stream().filter(p -> ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false)).toList();
        if (alive.isEmpty()) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of("kill", "-" + signal));
        alive.forEach(p -> cmd.add(Long.toString(p)));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (!p.waitFor(SIGNAL_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("kill -" + signal + " did not return within " + SIGNAL_TIMEOUT_S + " s");
            }
            // A process that exited meanwhile makes kill(1) fail for it alone; the others were signalled.
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run kill -" + signal, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while signalling", e);
        }
    }

    private Path pausedFile() {
        return d.topology().run().resolve(PAUSED_FILE);
    }

    private Map<String, List<Long>> readPaused() {
        Map<String, List<Long>> m = new LinkedHashMap<>();
        Path f = pausedFile();
        if (!Files.exists(f)) {
            return m;
        }
        try {
            for (String line : Files.readAllLines(f)) {
                String[] p = line.split(" ");
                if (p.length >= 2) {
                    List<Long> pids = new ArrayList<>();
                    for (int i = 1; i < p.length; i++) {
                        pids.add(Long.parseLong(p[i]));
                    }
                    m.put(p[0], pids);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return m;
    }

    private void writePaused(Map<String, List<Long>> paused) {
        StringBuilder s = new StringBuilder();
        paused.forEach((name, pids) -> {
            s.append(name);
            pids.forEach(p -> s.append(' ').append(p));
            s.append('\n');
        });
        try {
            Files.createDirectories(pausedFile().getParent());
            Files.writeString(pausedFile(), s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
