package io.paymentledger.replication.postgres;

import io.paymentledger.replication.net.Ports;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Throw-away PostgreSQL servers for tests: a temp directory, a free port, fsync off, stopped and deleted when
 * the test JVM exits (also when a test fails). Built on the production {@link PgCluster}.
 */
public final class TestPostgres {

    private static final List<PgCluster> STARTED = new CopyOnWriteArrayList<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(TestPostgres::stopAll, "test-postgres-cleanup"));
    }

    private TestPostgres() {}

    /** A fresh temp directory for a test cluster. */
    public static Path tempDir(String name) {
        try {
            return Files.createTempDirectory("ledger-test-pg-" + name + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Options for a throw-away cluster named {@code name}. */
    public static PgCluster.Options options(String name) {
        return PgCluster.Options.of(name, tempDir(name), Ports.free()).throwAway();
    }

    /** Registers a cluster to be stopped and deleted at JVM exit. */
    public static PgCluster track(PgCluster cluster) {
        STARTED.add(cluster);
        return cluster;
    }

    /** A started primary with a database named {@code database}. */
    public static PgCluster startPrimary(String name, String database) {
        PgCluster pg = track(new PgCluster(options(name)));
        pg.initdb();
        pg.start();
        pg.createDatabase(database);
        return pg;
    }

    /** Stops and deletes a cluster now. */
    public static void destroy(PgCluster pg) {
        try {
            if (pg.isRunning()) {
                pg.kill();
            }
        } finally {
            PgCluster.deleteRecursively(pg.dir());
            STARTED.remove(pg);
        }
    }

    private static void stopAll() {
        for (PgCluster pg : STARTED) {
            try {
                destroy(pg);
            } catch (RuntimeException e) {
                System.err.println("could not clean up " + pg + ": " + e.getMessage());
            }
        }
    }
}
