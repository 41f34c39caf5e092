package io.paymentledger.replication.postgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * What the failover agent asks its own PostgreSQL, and the few changes it makes to it. Every call opens a
 * short-lived superuser connection with tight timeouts: a database that does not answer is "down".
 */
public final class PgProbe {

    /** One standby as the primary sees it (pg_stat_replication). */
    public record Standby(String name, String state, String syncState, long lagBytes, double replayLagSeconds, boolean caughtUp) {}

    /**
     * @param up                     answers at all
     * @param primary                not in recovery
     * @param epoch                  leadership.epoch in the ledger database (0 when the schema is not there yet)
     * @param standbys               as primary: the connected standbys
     * @param synchronousStandbyNames the current setting
     * @param replayLagBytes         as standby: received but not yet replayed WAL
     * @param replayDelayMs          as standby: how old the last replayed transaction is (0 when idle and caught up)
     * @param error                  why it is down
     */
    public record State(boolean up, boolean primary, long epoch, List<Standby> standbys, String synchronousStandbyNames,
            long replayLagBytes, long replayDelayMs, String error) {

        public static State down(String error) {
            return new State(false, false, 0, List.of(), "", 0, 0, error);
        }

        public Standby standby(String name) {
            return standbys.stream().filter(s -> s.name().equals(name)).findFirst().orElse(null);
        }
    }

    private final PgCluster pg;
    private final String database;

    public PgProbe(PgCluster pg, String database) {
        this.pg = pg;
        this.database = database;
    }

    public PgCluster cluster() {
        return pg;
    }

    private Connection connect(String db) throws SQLException {
        // A database that does not answer within seconds is down as far as failover is concerned.
        Connection c = pg.connect(db, 5);
        try (Statement st = c.createStatement()) {
            st.execute("set statement_timeout = '2s'");
        }
        return c;
    }

    /**
     * The probe's own connection, kept between ticks: a new TLS + scram connection five times a second costs both
     * sides real CPU. Dropped (and reopened next time) after any error.
     */
    private Connection probeConnection;

    private synchronized Connection probeConnection() throws SQLException {
        if (probeConnection == null || probeConnection.isClosed()) {
            probeConnection = connect(database);
        }
        return probeConnection;
    }

    private synchronized void dropProbeConnection() {
        if (probeConnection != null) {
            try {
                probeConnection.close();
            } catch (SQLException ignored) {
                // it was broken anyway
            }
            probeConnection = null;
        }
    }

    public State observe() {
        try {
            return observe(probeConnection());
        } catch (SQLException e) {
            dropProbeConnection();
            return State.down(e.getMessage());
        }
    }

    private State observe(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            boolean recovery;
            try (ResultSet rs = st.executeQuery("select pg_is_in_recovery(), current_setting('synchronous_standby_names')")) {
                rs.next();
                recovery = rs.getBoolean(1);
                String syncNames = rs.getString(2);
                long epoch = epoch(st);
                if (recovery) {
                    try (ResultSet r = st.executeQuery("""
                            select greatest(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0), 0)::bigint,
                                   case when pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0
                                        else coalesce((extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0) end""")) {
                        r.next();
                        return new State(true, false, epoch, List.of(), syncNames, r.getLong(1), Math.max(0, r.getLong(2)), "");
                    }
                }
                List<Standby> standbys = new ArrayList<>();
                try (ResultSet r = st.executeQuery("""
                        select application_name, state, sync_state,
                               coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint,
                               coalesce(extract(epoch from replay_lag), 0)::float8,
                               coalesce(flush_lsn >= pg_current_wal_lsn(), false)
                        from pg_stat_replication""")) {
                    while (r.next()) {
                        standbys.add(new Standby(r.getString(1), r.getString(2), r.getString(3), r.getLong(4), r.getDouble(5), r.getBoolean(6)));
                    }
                }
                return new State(true, true, epoch, standbys, syncNames, 0, 0, "");
            }
        }
    }

    private static long epoch(Statement st) {
        try (ResultSet rs = st.executeQuery("select epoch from leadership")) {
            return rs.next() ? rs.getLong(1) : 0;
        } catch (SQLException noSchemaYet) {
            return 0;
        }
    }

    /** Sets synchronous_standby_names (persisted with ALTER SYSTEM) and reloads the configuration. */
    public void setSynchronousStandbys(List<String> names) throws SQLException {
        String value = names.isEmpty() ? "" : "FIRST 1 (" + String.join(", ", names.stream().map(n -> "\"" + n + "\"").toList()) + ")";
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("alter system set synchronous_standby_names = '" + value.replace("'", "''") + "'");
            st.execute("select pg_reload_conf()");
        }
    }

    /** Creates a physical replication slot for a standby unless it exists. */
    public void ensureSlot(String slot) throws SQLException {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("select pg_create_physical_replication_slot('" + slot + "') where not exists "
                    + "(select 1 from pg_replication_slots where slot_name = '" + slot + "')");
        }
    }
}
