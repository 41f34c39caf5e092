package io.paymentledger.cli.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The local deployment's processes: its Java processes (ledger nodes, witness, router) and the external programs
 * that watch them (Prometheus, PostgreSQL exporters), started detached in their own session ({@code setsid}) with a
 * pid file and a log file, stopped by that PID only.
 */
public final class Processes {

    private static final Logger LOG = Logger.getLogger(Processes.class.getName());
    public static final String MAIN_CLASS = "io.paymentledger.cli.Main";
    /**
     * The first JVM option of each process of ours names it: a recorded PID whose command line does not start
     * with it (the PID was reused by something else) is never signalled. First, because the kernel shows only
     * the first 4 KiB of a command line and the classpath is long.
     */
    static String marker(String name) {
        return "-Dledger.process=" + name;
    }

    /**
     * An external program of ours is recognised by its configuration file, named after the process in this
     * deployment's directory ({@code <dir>/prometheus/<name>.yml}), which its command line names.
     */
    public static Path externalConfig(Topology t, String name) {
        return t.prometheusDir().resolve(name + ".yml");
    }

    private static boolean ours(Topology t, String name, String commandLine) {
        return commandLine.contains(marker(name) + " ") || commandLine.contains(externalConfig(t, name).toString());
    }

    private Processes() {}

    public static Path pidFile(Topology t, String name) {
        return t.run().resolve(name + ".pid");
    }

    public static Path logFile(Topology t, String name) {
        return t.logs().resolve(name + ".log");
    }

    /** Starts {@code ledger <args>} as a detached Java process named {@code name}; returns its PID. */
    public static long startJava(Topology t, String name, List<String> jvmOptions, List<String> args) {
        return startJava(t, name, jvmOptions, System.getProperty("java.class.path"), MAIN_CLASS, args);
    }

    /**
     * Starts {@code mainClass <args>} on {@code classPath} as a detached Java process named {@code name} (a program
     * that is not ours, such as the Kafka broker, with its own classpath); returns its PID.
     */
    public static long startJava(Topology t, String name, List<String> jvmOptions, String classPath, String mainClass,
            List<String> args) {
        try {
            Files.createDirectories(t.run());
            Files.createDirectories(t.logs());
            String java = ProcessHandle.current().info().command().orElse("java");
            List<String> cmd = new ArrayList<>(List.of("setsid"));
            // A site's process lives in its site's network namespace (netns layout); `ip netns exec` execs in place,
            // so the recorded PID is the JVM's.
            t.siteOf(name).ifPresent(site -> cmd.addAll(t.sites().launcher(site)));
            cmd.addAll(List.of(java, marker(name)));
            if (Runtime.version().feature() >= 23) {
                // protobuf still uses sun.misc.Unsafe; JDK 23+ warns about it on every start.
                cmd.add("--sun-misc-unsafe-memory-access=allow");
            }
            if (Runtime.version().feature() >= 22) {
                // netty loads its native TLS (BoringSSL) and epoll libraries: JDK 22+ warns on every start unless allowed.
                cmd.add("--enable-native-access=ALL-UNNAMED");
            }
            cmd.addAll(jvmOptions);
            // Tracing configured on this JVM (a test, or `ledger -Dotel.exporter.otlp.endpoint=...`) reaches the
            // processes it starts; the environment variable OTEL_EXPORTER_OTLP_ENDPOINT is inherited anyway.
            for (String property : List.of(io.paymentledger.telemetry.Telemetry.ENDPOINT_PROPERTY,
                    io.paymentledger.telemetry.Telemetry.RATIO_PROPERTY)) {
                String value = System.getProperty(property);
                if (value != null) {
                    cmd.add("-D" + property + "=" + value);
                }
            }
            cmd.addAll(List.of("-cp", classPath, mainClass));
            cmd.addAll(args);
            Path log = logFile(t, name);
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            // `./ledger up --clock-faults`: its wall clock can be made to jump (nothing is added otherwise).
            pb.environment().putAll(io.paymentledger.cli.chaos.ClockFaults.environment(t, name));
            Process p = pb.start();
            Files.writeString(pidFile(t, name), Long.toString(p.pid()));
            LOG.fine(() -> "started " + name + " (pid " + p.pid() + "), log " + log);
            return p.pid();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name, e);
        }
    }

    /**
     * Starts an external program as the detached process {@code name}; its command must name
     * {@link #externalConfig} (that is how {@link #running} knows it later). Returns its PID.
     */
    public static long startExternal(Topology t, String name, List<String> command, java.util.Map<String, String> env) {
        String config = externalConfig(t, name).toString();
        if (command.stream().noneMatch(arg -> arg.contains(config))) {
            throw new IllegalArgumentException(name + ": the command must name " + config);
        }
        try {
            Files.createDirectories(t.run());
            Files.createDirectories(t.logs());
            List<String> cmd = new ArrayList<>(List.of("setsid"));
            cmd.addAll(command);
            Path log = logFile(t, name);
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().putAll(env);
            Process p = pb.start();
            Files.writeString(pidFile(t, name), Long.toString(p.pid()));
            return p.pid();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name, e);
        }
    }

    /** The running process recorded for {@code name}, if it is alive and still ours. */
    public static Optional<ProcessHandle> running(Topology t, String name) {
        Path pidFile = pidFile(t, name);
        try {
            if (!Files.exists(pidFile)) {
                return Optional.empty();
            }
            long pid = Long.parseLong(Files.readString(pidFile).trim());
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .filter(h -> h.info().commandLine().map(c -> ours(t, name, c)).orElse(false));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** SIGTERM, wait up to {@code grace}, then SIGKILL. */
    public static boolean stop(Topology t, String name, Duration grace) {
        Optional<ProcessHandle> h = running(t, name);
        if (h.isEmpty()) {
            return false;
        }
        h.get().destroy();
        try {
            h.get().onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception timeout) {
            h.get().destroyForcibly();
            h.get().onExit().orTimeout(10, TimeUnit.SECONDS).join();
        }
        return true;
    }

    /**
     * SIGKILL now, as a crash would (failure drills) — the process and everything it started (the witness's
     * pg_receivewal and pg_basebackup die with the site, as they would when its host dies).
     */
    public static boolean kill(Topology t, String name) {
        Optional<ProcessHandle> h = running(t, name);
        h.ifPresent(p -> {
            List<ProcessHandle> children = p.descendants().toList();
            p.destroyForcibly();
            children.forEach(ProcessHandle::destroyForcibly);
            p.onExit().orTimeout(10, TimeUnit.SECONDS).join();
            children.forEach(c -> c.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> c).join());
        });
        return h.isPresent();
    }
}
