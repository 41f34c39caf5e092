package io.paymentledger.replication.postgres;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Where the PostgreSQL server binaries are, and how to run them: as the current user, or through
 * {@code runuser -u <user> --} when this process is root (PostgreSQL refuses to run as root).
 */
public final class PgBinaries {

    /** Environment variable naming the bin directory (initdb, pg_ctl, ...). */
    public static final String BIN_ENV = "LEDGER_PG_BIN";
    /** Environment variable naming the OS user PostgreSQL runs as when we are root (default postgres). */
    public static final String USER_ENV = "LEDGER_PG_OS_USER";

    private static volatile PgBinaries detected;

    private final Path binDir;
    private final String osUser;

    public PgBinaries(Path binDir, String osUser) {
        this.binDir = binDir;
        this.osUser = osUser;
    }

    /** Finds the binaries: $LEDGER_PG_BIN, then `pg_config --bindir`, then the newest /usr/lib/postgresql/N/bin. */
    public static PgBinaries detect() {
        PgBinaries found = detected;
        if (found == null) {
            found = new PgBinaries(findBinDir(), isRoot() ? System.getenv().getOrDefault(USER_ENV, "postgres") : null);
            detected = found;
        }
        return found;
    }

    private static Path findBinDir() {
        String env = System.getenv(BIN_ENV);
        if (env != null && !env.isBlank()) {
            return requireInitdb(Path.of(env));
        }
        try {
            Process p = new ProcessBuilder("pg_config", "--bindir").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 && Files.isExecutable(Path.of(out, "initdb"))) {
                return Path.of(out);
            }
        } catch (IOException e) {
            // no pg_config on PATH: fall through to the well-known Debian layout
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Path base = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(base)) {
            try (var versions = Files.list(base)) {
                var newest = versions
                        .filter(v -> Files.isExecutable(v.resolve("bin/initdb")))
                        .max((a, b) -> Integer.compare(majorOf(a), majorOf(b)));
                if (newest.isPresent()) {
                    return newest.get().resolve("bin");
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot list " + base, e);
            }
        }
        throw new IllegalStateException("PostgreSQL server binaries (15+) not found: install them or set "
                + BIN_ENV + " to the directory that holds initdb and pg_ctl");
    }

    private static int majorOf(Path versionDir) {
        try {
            return Integer.parseInt(versionDir.getFileName().toString());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static Path requireInitdb(Path dir) {
        if (!Files.isExecutable(dir.resolve("initdb"))) {
            throw new IllegalStateException(BIN_ENV + "=" + dir + " has no executable initdb");
        }
        return dir;
    }

    static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    public Path binDir() {
        return binDir;
    }

    /** The OS user the server runs as, or null when it runs as the current (non-root) user. */
    public String osUser() {
        return osUser;
    }

    /** The command line that runs {@code tool} with {@code args} as the right user. */
    public List<String> command(String tool, List<String> args) {
        List<String> cmd = new ArrayList<>();
        if (osUser != null) {
            cmd.addAll(List.of("runuser", "-u", osUser, "--"));
        }
        cmd.add(binDir.resolve(tool).toString());
        cmd.addAll(args);
        return cmd;
    }

    /** Any command line, run as the server's OS user (e.g. copying a base backup into place). */
    public List<String> asServerUser(List<String> command) {
        List<String> cmd = new ArrayList<>();
        if (osUser != null) {
            cmd.addAll(List.of("runuser", "-u", osUser, "--"));
        }
        cmd.addAll(command);
        return cmd;
    }

    /** The server's major version, e.g. 15. */
    public int majorVersion() {
        String out = ProcessRunner.run(command("postgres", List.of("--version")), 30).output();
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        String v = out.replaceAll("(?s).*\\(PostgreSQL\\)\\s+(\\d+).*", "$1");
        return Integer.parseInt(v.trim());
    }
}
