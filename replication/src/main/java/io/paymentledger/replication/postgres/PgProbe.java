package io.paymentledger.replication.postgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * What the failover agent asks its own PostgreSQL, and the few changes it makes to it. The probe keeps one
 * superuser connection with tight timeouts: a database that refuses or drops it is "down"; one that accepts it
 * but cannot answer a query is "unreadable" (connected, state unknown) — not the same thing to a leader.
 */
public final class PgProbe {

    /** The undefined_table SQLState: the ledger schema is not there yet (a fresh database). */
    private static final String UNDEFINED_TABLE = "42P01";

    /**
     * One standby as the primary sees it (pg_stat_replication). {@code lagBytes} is what it has not replayed yet; for
     * the WAL keeper, which replays nothing, what it has not flushed.
     *
     * @param flushLsn  what the standby has flushed to its disk (for the WAL keeper: what it keeps)
     * @param caughtUp  it has flushed everything the primary has written
     */
    public record Standby(String name, String state, String syncState, long lagBytes, double replayLagSeconds,
            boolean caughtUp, Lsn flushLsn) {

        public Standby(String name, String state, String syncState, long lagBytes, double replayLagSeconds, boolean caughtUp) {
            this(name, state, syncState, lagBytes, replayLagSeconds, caughtUp, Lsn.NONE);
        }

        public boolean streaming() {
            return "streaming".equals(state);
        }
    }

    /**
     * @param up                     answered every question of this observation
     * @param connected              accepted a connection (true and {@code up} false: connected but a query failed)
     * @param primary                not in recovery
     * @param epoch                  leadership.epoch in the ledger database (0 when the schema is not there yet)
     * @param standbys               as primary: the connected standbys
     * @param synchronousStandbyNames the current setting
     * @param replayLagBytes         as standby: received but not yet replayed WAL
     * @param freshAsOfNanos         as standby: the instant, on this JVM's {@link System#nanoTime()}, as of which its
     *                               replayed data is proven complete ({@link #FRESHNESS_UNKNOWN} when it cannot tell:
     *                               not streaming); read it with {@link #stalenessMs(long)}
     * @param error                  why it is down or unreadable
     * @param walLsn                 how far its WAL goes: as primary, flushed to its disk; as standby, received and
     *                               flushed (or, when it never streamed, replayed) — what a promotion would keep
     * @param restoreCommand         the current restore_command ("" when none)
     * @param primaryConninfo        as standby: where it streams from ("" when detached)
     */
    public record State(boolean up, boolean connected, boolean primary, long epoch, List<Standby> standbys,
            String synchronousStandbyNames, long replayLagBytes, long freshAsOfNanos, String error, Lsn walLsn,
            String restoreCommand, String primaryConninfo) {

        /** {@link #freshAsOfNanos} of a server that cannot prove how fresh it is (or is not a standby). */
        public static final long FRESHNESS_UNKNOWN = Long.MIN_VALUE;

        public State(boolean up, boolean primary, long epoch, List<Standby> standbys, String synchronousStandbyNames,
                long replayLagBytes, long freshAsOfNanos, String error) {
            this(up, up, primary, epoch, standbys, synchronousStandbyNames, replayLagBytes, freshAsOfNanos, error, Lsn.NONE, "", "");
        }

        public State {
            standbys = List.copyOf(standbys);
        }

        /** The server does not accept a connection (or dropped it). */
        public static State down(String error) {
            return new State(false, false, false, 0, List.of(), "", 0, FRESHNESS_UNKNOWN, error, Lsn.NONE, "", "");
        }

        /** Connected, but a question failed (a timeout, a lock): its state is unknown this time. */
        public static State unreadable(String error) {
            return new State(false, true, false, 0, List.of(), "", 0, FRESHNESS_UNKNOWN, error, Lsn.NONE, "", "");
        }

        public State withWal(Lsn wal, String restore, String conninfo) {
            return new State(up, connected, primary, epoch, standbys, synchronousStandbyNames, replayLagBytes, freshAsOfNanos,
                    error, wal, restore, conninfo);
        }

        /**
         * As a standby: at most how many ms its data may be behind the primary's at {@code nowNanos} (this JVM's
         * {@link System#nanoTime()}); {@link Long#MAX_VALUE} when it cannot tell, or when it is not an up standby.
         * It keeps growing while nothing new is observed (a cut-off standby, a stuck probe), so a bound is refused
         * once it has passed, whatever the last observation said.
         */
        public long stalenessMs(long nowNanos) {
            if (!up || primary || freshAsOfNanos == FRESHNESS_UNKNOWN) {
                return Long.MAX_VALUE;
            }
            long ms = (nowNanos - freshAsOfNanos) / 1_000_000;
            return ms < 0 ? Long.MAX_VALUE : ms;
        }

        public Standby standby(String name) {
            return standbys.stream().filter(s -> s.name().equals(name)).findFirst().orElse(null);
        }

        public boolean streams(String name) {
            Standby s = standby(name);
            return s != null && s.streaming();
        }
    }

    /**
     * A standby's received-but-not-replayed bytes, its WAL end, and how stale its replayed data may be (ms; null when
     * it cannot prove anything: no streaming WAL receiver). Freshness needs something that stops advancing when
     * the standby is cut off; the time of the last replayed transaction does not (an idle primary writes none, and
     * a cut-off standby has replayed all it received, so "received <= replayed" read as "0 ms behind" forever).
     *
     * <p>The primary reports how far its WAL goes in every message of the stream: data messages carry its flushed
     * end, keepalives what it has sent (the same once its walsender has caught up; a walreceiver that hears nothing
     * for wal_receiver_timeout/2 asks for one). When the standby has replayed up to the end last reported, its data
     * is complete as of that message: stale by at most now - receipt (the standby's own clock
     * twice: no comparison between hosts) and now - send time (the primary's clock: catches a message that was
     * delayed in the network, when the clocks agree). The larger of the two counts. When it has not replayed that
     * far, its data is at least as old as its last replayed commit (primary's clock) and its last message.
     *
     * <p>What it assumes: the standby's clock does not step back (a step of d makes it look d fresher), and, for the
     * network-delay term, the hosts' clocks are synchronised (NTP) to well under the bounds asked for. A standby
     * clock ahead of the primary's only makes it refuse early; one behind leaves the local term, which can
     * under-report by the one-way delay of the last message. An idle, connected standby proves freshness only as
     * often as it hears from the primary: every wal_receiver_timeout/2 (5 s with PgCluster's settings).
     */
    static final String STANDBY_QUERY = """
            select greatest(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0), 0)::bigint,
                   greatest(coalesce(pg_last_wal_receive_lsn(), '0/0'), coalesce(pg_last_wal_replay_lsn(), '0/0'))::text,
                   (select ceil(extract(epoch from clock_timestamp() - case
                              when pg_last_wal_replay_lsn() >= w.latest_end_lsn
                                  then least(w.last_msg_receipt_time, w.last_msg_send_time)
                              when pg_last_xact_replay_timestamp() is not null
                                  then least(w.last_msg_receipt_time, pg_last_xact_replay_timestamp())
                              end) * 1000)::bigint
                    from pg_stat_wal_receiver w where w.status = 'streaming' and w.last_msg_receipt_time is not null)""";

    private final PgCluster pg;
    private final String database;

    public PgProbe(PgCluster pg, String database) {
        this.pg = pg;
        this.database = database;
    }

    public PgCluster cluster() {
        return pg;
    }

    /**
     * The value of synchronous_standby_names that makes a commit wait for any one of {@code names} (quorum commit,
     * docs/decisions/0004): '' when none. One rule, used to set it and to check it.
     */
    public static String syncNames(List<String> names) {
        return names.isEmpty() ? "" : "ANY 1 (" + String.join(", ", names.stream().map(n -> "\"" + n + "\"").toList()) + ")";
    }

    /** Seconds a probe waits for the server's answer before calling it down (statement_timeout + 1 s). */
    static final int PROBE_SOCKET_TIMEOUT_S = 3;

    private Connection connect(String db) throws SQLException {
        // A database that does not answer within seconds is down as far as failover is concerned. The server bounds
        // each probe query with statement_timeout (2 s); the socket timeout, one second more, is what catches a server
        // that cannot enforce it because it is frozen (SIGSTOP, a stalled disk, a paused VM): with 5 s, a leader
        // whose PostgreSQL froze held the lock, writing nothing, for the whole freeze (drill pause_leader_postgres).
        Connection c = pg.connect(db, PROBE_SOCKET_TIMEOUT_S);
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

    @FunctionalInterface
    private interface StatementWork {
        void run(Statement st) throws SQLException;
    }

    /**
     * Settings changes on the probe's own connection, alive through a promotion (a takeover opened a new TLS + scram
     * session for each of them: 60-100 ms apiece on a loaded machine, in the middle of the outage); dropped on error.
     */
    private void onProbeConnection(StatementWork work) throws SQLException {
        try (Statement st = probeConnection().createStatement()) {
            work.run(st);
        } catch (SQLException e) {
            dropProbeConnection();
            throw e;
        }
    }

    /** How long a settings change waits for the probe's own session to see it (it reads it at its next ticks). */
    static final long SETTING_SEEN_WAIT_MS = 1_000;

    /**
     * Waits until this session sees {@code expected} for {@code name} after a {@code pg_reload_conf()} it sent: a
     * backend applies a reload when the postmaster's signal reaches it, which may be after its next statement, and the
     * probe's next look ({@link #observe}) on this same session must see the change it made.
     * Gives up quietly after {@link #SETTING_SEEN_WAIT_MS} (the next look sees it then).
     */
    private static void awaitSeen(Statement st, String name, String expected) throws SQLException {
        long until = System.nanoTime() + SETTING_SEEN_WAIT_MS * 1_000_000L;
        while (true) {
            try (ResultSet rs = st.executeQuery("select current_setting('" + name + "')")) {
                rs.next();
                if (expected.equals(rs.getString(1)) || System.nanoTime() > until) {
                    return;
                }
            }
            sleep(2);
        }
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
        Connection c;
        try {
            c = probeConnection();
        } catch (SQLException e) {
            dropProbeConnection();
            return State.down(e.getMessage());
        }
        try {
            return observe(c);
        } catch (SQLException e) {
            dropProbeConnection();
            String state = e.getSQLState() == null ? "" : e.getSQLState();
            // Connection failures (class 08) and server shutdown/crash (57P0x) mean the server is gone; anything
            // else (a statement timeout, a lock) only means this observation failed.
            return state.startsWith("08") || state.startsWith("57P0") ? State.down(e.getMessage())
                    : State.unreadable(e.getMessage());
        }
    }

    private State observe(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            boolean recovery;
            String syncNames;
            String restore;
            String conninfo;
            try (ResultSet rs = st.executeQuery("select pg_is_in_recovery(), current_setting('synchronous_standby_names'),"
                    + " current_setting('restore_command'), current_setting('primary_conninfo')")) {
                rs.next();
                recovery = rs.getBoolean(1);
                syncNames = rs.getString(2);
                restore = rs.getString(3);
                conninfo = rs.getString(4);
            }
            long epoch = epoch(st);
            if (recovery) {
                long askedAtNanos = System.nanoTime();
                try (ResultSet r = st.executeQuery(STANDBY_QUERY)) {
                    r.next();
                    long staleMs = r.getLong(3);
                    long freshAsOf = r.wasNull() ? State.FRESHNESS_UNKNOWN : askedAtNanos - Math.max(0, staleMs) * 1_000_000;
                    return new State(true, false, epoch, List.of(), syncNames, r.getLong(1), freshAsOf, "")
                            .withWal(Lsn.parse(r.getString(2)), restore, conninfo);
                }
            }
            List<Standby> standbys = new ArrayList<>();
            try (ResultSet r = st.executeQuery("""
                    select application_name, state, sync_state,
                           coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, flush_lsn)), 0)::bigint,
                           coalesce(extract(epoch from case when replay_lsn is null then flush_lag else replay_lag end), 0)::float8,
                           coalesce(flush_lsn >= pg_current_wal_lsn(), false),
                           coalesce(flush_lsn, '0/0')::text
                    from pg_stat_replication""")) {
                while (r.next()) {
                    standbys.add(new Standby(r.getString(1), r.getString(2), r.getString(3), r.getLong(4), r.getDouble(5),
                            r.getBoolean(6), Lsn.parse(r.getString(7))));
                }
            }
            Lsn flushed;
            try (ResultSet r = st.executeQuery("select pg_current_wal_flush_lsn()::text")) {
                r.next();
                flushed = Lsn.parse(r.getString(1));
            }
            return new State(true, true, epoch, standbys, syncNames, 0, State.FRESHNESS_UNKNOWN, "")
                    .withWal(flushed, restore, conninfo);
        }
    }

    /** The stored epoch; 0 only when the schema does not exist yet (any other failure is not "epoch 0"). */
    private static long epoch(Statement st) throws SQLException {
        try (ResultSet rs = st.executeQuery("select epoch from leadership")) {
            return rs.next() ? rs.getLong(1) : 0;
        } catch (SQLException e) {
            if (UNDEFINED_TABLE.equals(e.getSQLState())) {
                return 0;
            }
            throw e;
        }
    }

    /** Sets synchronous_standby_names to {@link #syncNames} (persisted with ALTER SYSTEM) and reloads. */
    public void setSynchronousStandbys(List<String> names) throws SQLException {
        alterSystem("synchronous_standby_names", syncNames(names));
    }

    /**
     * As a standby about to be promoted: stop streaming from the old primary (so its WAL cannot grow past what
     * another source is about to hand it) and fetch WAL with {@code restoreCommand} instead. Reloadable since
     * PostgreSQL 13 (primary_conninfo) and 14 (restore_command).
     */
    public void fetchWith(String restoreCommand) throws SQLException {
        onProbeConnection(st -> {
            st.execute("alter system set primary_conninfo = ''");
            st.execute("alter system set restore_command = '" + restoreCommand.replace("'", "''") + "'");
            st.execute("select pg_reload_conf()");
            awaitSeen(st, "primary_conninfo", "");
            awaitSeen(st, "restore_command", restoreCommand);
        });
    }

    /** Promotes the server on the probe's own session ({@link PgCluster#promote(Statement)}). */
    public void promote() throws SQLException {
        onProbeConnection(pg::promote);
    }

    /** Stops fetching from an archive (after promotion, or when a takeover was abandoned). */
    public void clearRestoreCommand() throws SQLException {
        onProbeConnection(st -> {
            st.execute("alter system reset restore_command");
            st.execute("select pg_reload_conf()");
            awaitSeen(st, "restore_command", "");
        });
    }

    /** As a standby: stream from {@code conninfo} again (undoes {@link #fetchWith}). */
    public void streamFrom(String conninfo) throws SQLException {
        alterSystem("primary_conninfo", conninfo);
        clearRestoreCommand();
    }

    private void alterSystem(String setting, String value) throws SQLException {
        onProbeConnection(st -> {
            st.execute("alter system set " + setting + " = '" + value.replace("'", "''") + "'");
            st.execute("select pg_reload_conf()");
            awaitSeen(st, setting, value);
        });
    }

    /**
     * Everything a new term needs from its (just promoted) database, on one connection (each new TLS + scram
     * connection costs tens of ms of the failover): commits wait for any of {@code commitSet}, no archive fetching,
     * and a replication slot for each of {@code slots}.
     */
    public void prepareTerm(List<String> commitSet, List<String> slots) throws SQLException {
        onProbeConnection(st -> {
            st.execute("alter system set synchronous_standby_names = '" + syncNames(commitSet).replace("'", "''") + "'");
            st.execute("alter system reset restore_command");
            st.execute("select pg_reload_conf()");
            awaitSeen(st, "synchronous_standby_names", syncNames(commitSet));
            awaitSeen(st, "restore_command", "");
            for (String slot : slots) {
                st.execute("select pg_create_physical_replication_slot('" + slot + "') where not exists "
                        + "(select 1 from pg_replication_slots where slot_name = '" + slot + "')");
            }
        });
    }

    /**
     * Does PostgreSQL itself make commits wait for a standby now? Asked with a commit, because the setting a session
     * reads ({@code current_setting('synchronous_standby_names')}) is not what commits obey. In PostgreSQL 15,
     * SyncRepWaitForLSN (syncrep.c) returns at once unless {@code WalSndCtl->sync_standbys_defined} is set, and only
     * the checkpointer sets it (SyncRepUpdateSyncStandbysDefined, from UpdateSharedMemoryConfig: at its start, in
     * HandleCheckpointerInterrupts between its own steps, and in CheckpointWriteDelay only while a spread checkpoint
     * is ahead of schedule, checkpointer.c). After a reload the flag can lag by a whole checkpoint — the one a
     * promotion starts, for instance — while every session already reads the new value.
     *
     * <p>The probe commits a transaction that writes one WAL record and touches no table (a transactional
     * {@code pg_logical_emit_message}; a transaction that only took an xid is not held: RecordTransactionCommit, xact.c,
     * waits only when it wrote WAL before its commit record) and watches that backend in pg_stat_activity: wait event {@code SyncRep} ("waiting for confirmation from a remote
     * server during synchronous replication") is PostgreSQL's own statement that the commit waits; the wait is then
     * cancelled (the probe's message stays committed locally, as any cancelled sync wait does; nothing reads it). A commit that
     * returns without that wait was not held. Conclusive only while no standby that could confirm it streams (a
     * quick confirmation would look the same): the caller asks before any site of the commit set can connect.
     *
     * @param bound how long the probe may take
     * @return true when the commit waited for a standby, false when it was not held
     */
    public boolean commitsWaitForStandbys(java.time.Duration bound) throws SQLException {
        long deadline = System.nanoTime() + bound.toNanos();
        // The watching side is the probe's own connection (alive through the promotion); the committing side needs a
        // backend of its own: the one opened beside the promotion when there is one.
        Connection control = probeConnection();
        try (Connection probe = committingSession(bound)) {
            long pid;
            try (Statement st = probe.createStatement(); ResultSet rs = st.executeQuery("select pg_backend_pid()")) {
                rs.next();
                pid = rs.getLong(1);
            }
            java.util.concurrent.CompletableFuture<Void> commit = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try (Statement st = probe.createStatement()) {
                    // autocommit: the commit follows the statement
                    st.execute("select pg_logical_emit_message(true, 'ledger-sync-probe', '')");
                } catch (SQLException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }, runnable -> Thread.ofVirtual().name("sync-probe-" + pg.name()).start(runnable));
            try (java.sql.PreparedStatement waitEvent = control.prepareStatement(
                    "select coalesce(wait_event, '') from pg_stat_activity where pid = ?")) {
                waitEvent.setLong(1, pid);
                while (System.nanoTime() < deadline) {
                    if (commit.isDone()) {
                        // Cannot block: the commit is done (isDone above); join only rethrows its failure, since a
                        // failed probe is an error, not a "no".
                        commit.join();
                        return false;
                    }
                    try (ResultSet rs = waitEvent.executeQuery()) {
                        if (rs.next() && "SyncRep".equals(rs.getString(1))) {
                            try (Statement st = control.createStatement()) {
                                st.execute("select pg_cancel_backend(" + pid + ")");
                            }
                            try {
                                // The cancelled wait returns with a warning; let it before the connection closes.
                                commit.get(Math.max(200, (deadline - System.nanoTime()) / 1_000_000), java.util.concurrent.TimeUnit.MILLISECONDS);
                            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException ignored) {
                                // closing the connection ends it either way
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                            return true;
                        }
                    }
                    sleep(5);
                }
            }
            throw new SQLException("the probe commit on postgres " + pg.name() + " neither returned nor waited for a standby within "
                    + bound.toMillis() + " ms");
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof SQLException se ? se : new SQLException(e.getCause());
        } catch (SQLException e) {
            dropProbeConnection(); // whichever side failed: the next use opens a fresh one
            throw e;
        }
    }

    /** The committing side of the next commit-wait probe, being opened (null: none). */
    private SessionBeside committing;

    /**
     * Begins opening the session the next {@link #commitsWaitForStandbys} commits on, beside a promotion, whose end it
     * need not wait for ({@link SessionBeside}). One at a time: an earlier one not used is closed.
     */
    public synchronized void openCommittingSession(java.time.Duration bound) {
        closeCommittingSession();
        committing = SessionBeside.open("sync-probe-session-" + pg.name(), () -> pg.connect("postgres", socketTimeoutS(bound)));
    }

    /** Closes the session {@link #openCommittingSession} began when it was not used (now or once it is open). */
    public synchronized void closeCommittingSession() {
        if (committing != null) {
            committing.close();
            committing = null;
        }
    }

    /**
     * The session opened beside the promotion when it is there within {@link SessionBeside#WAIT_MS} and answers,
     * else a new one.
     */
    private Connection committingSession(java.time.Duration bound) throws SQLException {
        SessionBeside opening;
        synchronized (this) {
            opening = committing;
            committing = null;
        }
        if (opening != null) {
            try {
                Connection c = opening.take(SessionBeside.WAIT_MS);
                if (c != null) {
                    return c;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                opening.close();
                throw new SQLException("interrupted while waiting for the probe's committing session", e);
            }
        }
        return pg.connect("postgres", socketTimeoutS(bound));
    }

    /** A probe session's socket timeout: the probe's bound and a second more. */
    private static int socketTimeoutS(java.time.Duration bound) {
        return (int) Math.max(1, bound.toSeconds() + 1);
    }

    /**
     * Asks for a checkpoint, waiting at most {@code timeoutMs}: the checkpointer re-reads its configuration in its main
     * loop, after the checkpoint in progress (checkpointer.c, HandleCheckpointerInterrupts); an immediate checkpoint
     * request makes a spread one finish without its pauses. Returns whether it finished in time.
     */
    public boolean requestCheckpoint(long timeoutMs) throws SQLException {
        try (Connection c = pg.connect("postgres", (int) (timeoutMs / 1000) + 2); Statement st = c.createStatement()) {
            st.execute("set statement_timeout = " + Math.max(1, timeoutMs));
            st.execute("checkpoint");
            return true;
        } catch (SQLException e) {
            if ("57014".equals(e.getSQLState())) { // query_canceled: the statement timeout
                return false;
            }
            throw e;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
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
