package io.paymentledger.ledger.store;

import io.paymentledger.migrations.Migrations;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.conf.RenderQuotedNames;
import org.jooq.conf.Settings;
import org.jooq.impl.DSL;

/**
 * The ledger's PostgreSQL database: how to connect, a small bounded pool for reads, and the jOOQ dialect.
 * The single writer has a connection of its own ({@link #connect(String)}), outside the pool.
 */
public final class Database implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Database.class.getName());

    static {
        // jOOQ prints a banner and tips at first use; operators need neither.
        System.setProperty("org.jooq.no-logo", "true");
        System.setProperty("org.jooq.no-tips", "true");
    }

    /** jOOQ settings shared by every query: no execute logging (hot path), names as generated. */
    public static final Settings SETTINGS = new Settings()
            .withExecuteLogging(false)
            .withRenderQuotedNames(RenderQuotedNames.EXPLICIT_DEFAULT_UNQUOTED)
            .withRenderSchema(false);

    private final String jdbcUrl;
    private final Properties properties;
    private final BlockingQueue<Connection> idle;
    private final int poolSizeMax;
    private final java.util.concurrent.Semaphore permits;
    private volatile boolean closed;

    /**
     * @param jdbcUrl      e.g. jdbc:postgresql://127.0.0.1:5432/ledger
     * @param properties   user, password, ssl settings...
     * @param poolSizeMax  read connections at most
     */
    public Database(String jdbcUrl, Properties properties, int poolSizeMax) {
        this.jdbcUrl = jdbcUrl;
        this.properties = new Properties();
        this.properties.putAll(properties);
        this.properties.putIfAbsent("connectTimeout", "5");
        this.properties.putIfAbsent("tcpKeepAlive", "true");
        this.properties.putIfAbsent("reWriteBatchedInserts", "true");
        // The ledger's lookups are `= any(array)`: a generic plan made while a table was small (e.g. right after a
        // failover or on a fresh database) stays slow for minutes; plan each execution for its actual values.
        this.properties.putIfAbsent("options", "-c plan_cache_mode=force_custom_plan");
        this.poolSizeMax = poolSizeMax;
        this.idle = new ArrayBlockingQueue<>(poolSizeMax);
        this.permits = new java.util.concurrent.Semaphore(poolSizeMax, true);
    }

    public String jdbcUrl() {
        return jdbcUrl;
    }

    /**
     * Bounds of the schema migration's sessions (issue #18: a takeover holding the leader lock must not wait without
     * end): a lock it needs (Flyway's own advisory lock included) for 2 s at most, any statement for 60 s at most.
     * Its commits wait for no second site: nothing it writes is acknowledged to anyone, and the term's first batch,
     * which does wait for the quorum, comes after it in the WAL. Before, a takeover whose second site was missing
     * waited in the migration's first COMMIT for good, holding the leader lock.
     */
    public static final SessionLimits MIGRATION_LIMITS = new SessionLimits(2_000, 60_000);

    /** Applies the Flyway migrations (idempotent), bounded by {@link #MIGRATION_LIMITS}. */
    public String migrate() {
        return migrate(MIGRATION_LIMITS);
    }

    /** Applies the Flyway migrations (idempotent) with sessions bounded by {@code limits}. */
    public String migrate(SessionLimits limits) {
        return Migrations.migrate(dataSource(limits, "-c synchronous_commit=local"));
    }

    /** A new connection, not pooled (the operator tools'). */
    public Connection connect(String applicationName) throws SQLException {
        Properties p = new Properties();
        p.putAll(properties);
        p.setProperty("ApplicationName", applicationName);
        return DriverManager.getConnection(jdbcUrl, p);
    }

    /**
     * Bounds of a session's waits in PostgreSQL: {@code lock_timeout} and {@code statement_timeout}; the client's
     * socket gives up {@link #SOCKET_GRACE_MS} after the statement bound (a dead link answers nothing, not even the
     * server's cancel).
     */
    public record SessionLimits(long lockTimeoutMs, long statementTimeoutMs) {
        public static final long SOCKET_GRACE_MS = 10_000;
    }

    /** A new connection, not pooled, whose waits are bounded (the writer's). */
    public Connection connect(String applicationName, SessionLimits limits) throws SQLException {
        return connect(applicationName, limits, "");
    }

    /** As {@link #connect(String, SessionLimits)}, with more session settings ({@code -c name=value ...}). */
    private Connection connect(String applicationName, SessionLimits limits, String settings) throws SQLException {
        Properties p = new Properties();
        p.putAll(properties);
        p.setProperty("ApplicationName", applicationName);
        p.setProperty("options", p.getProperty("options", "") + " -c lock_timeout=" + limits.lockTimeoutMs()
                + " -c statement_timeout=" + limits.statementTimeoutMs() + (settings.isEmpty() ? "" : " " + settings));
        p.setProperty("socketTimeout", Long.toString((limits.statementTimeoutMs() + SessionLimits.SOCKET_GRACE_MS + 999) / 1000));
        return DriverManager.getConnection(jdbcUrl, p);
    }

    public static DSLContext dsl(Connection c) {
        return DSL.using(c, SQLDialect.POSTGRES, SETTINGS);
    }

    /** Work with a pooled read connection (autocommit on). */
    public <T> T read(SqlFunction<DSLContext, T> work) throws SQLException {
        try {
            if (!permits.tryAcquire(10, TimeUnit.SECONDS)) {
                throw new SQLException("no read connection free within 10 s (pool of " + poolSizeMax + ")", "08001");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted waiting for a connection", "08001");
        }
        Connection c = null;
        boolean broken = false;
        try {
            c = idle.poll();
            if (c == null || c.isClosed()) {
                c = connect("ledger-reader");
            }
            return work.apply(dsl(c));
        } catch (SQLException | RuntimeException e) {
            broken = true;
            throw e;
        } finally {
            if (c != null) {
                if (broken || closed || !idle.offer(c)) {
                    closeQuietly(c);
                }
            }
            permits.release();
        }
    }

    /**
     * Closes the idle pooled connections that no longer answer (each asked once, {@link #VALID_CHECK_SECONDS} at most)
     * and keeps the rest: a standby's sessions live on through its promotion and spare a takeover new connections
     * (each a TLS handshake: tens to hundreds of ms on a loaded machine), while those a restart (pg_rewind) killed go.
     */
    public void evictDead() {
        List<Connection> live = new ArrayList<>();
        Connection c;
        while ((c = idle.poll()) != null) {
            boolean valid;
            try {
                valid = c.isValid(VALID_CHECK_SECONDS);
            } catch (SQLException e) {
                valid = false;
            }
            if (valid) {
                live.add(c);
            } else {
                closeQuietly(c);
            }
        }
        for (Connection l : live) {
            if (closed || !idle.offer(l)) {
                closeQuietly(l);
            }
        }
    }

    /** How long {@link #evictDead} waits for one idle connection's answer. */
    static final int VALID_CHECK_SECONDS = 1;

    /** A javax.sql.DataSource view (Flyway wants one), its sessions bounded by {@link #MIGRATION_LIMITS}. */
    public DataSource dataSource() {
        return dataSource(MIGRATION_LIMITS, "");
    }

    private DataSource dataSource(SessionLimits limits, String settings) {
        return new DataSource() {
            @Override public Connection getConnection() throws SQLException { return connect("ledger-migrations", limits, settings); }
            @Override public Connection getConnection(String u, String p) throws SQLException { return getConnection(); }
            @Override public PrintWriter getLogWriter() { return null; }
            @Override public void setLogWriter(PrintWriter out) { }
            @Override public void setLoginTimeout(int seconds) { }
            @Override public int getLoginTimeout() { return 5; }
            @Override public java.util.logging.Logger getParentLogger() { return LOG; }
            @Override public <T> T unwrap(Class<T> iface) throws SQLException { throw new SQLException("not a wrapper"); }
            @Override public boolean isWrapperFor(Class<?> iface) { return false; }
        };
    }

    static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // closing a broken connection: nothing to do
        }
    }

    @Override
    public void close() {
        closed = true;
        Connection c;
        while ((c = idle.poll()) != null) {
            closeQuietly(c);
        }
    }

    @FunctionalInterface
    public interface SqlFunction<A, R> {
        R apply(A a) throws SQLException;
    }
}
