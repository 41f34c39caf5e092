package io.paymentledger.ledger.node;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.ReplicationStatus;
import io.paymentledger.api.v1.SwitchoverResponse;
import io.paymentledger.api.v1.WalKeeperStatus;
import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator;
import io.paymentledger.replication.failover.FailoverAgent;
import io.paymentledger.replication.failover.FailoverStateMachine.Role;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A node of a replicated deployment: whether it leads is decided by its {@link FailoverAgent} (Hazelcast CP
 * leadership, PostgreSQL promotion, fencing epoch, lease). This class is the agent's handle on the node
 * (writer, schema, epoch) and the API's view of the agent (status, read gate, switchover).
 */
public final class ReplicatedControl implements NodeControl, FailoverAgent.LeaderHooks {

    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(ReplicatedControl.class.getName());
    /** How often the takeover warm-up is tried again while the database cannot be read. */
    private static final long WARM_UP_RETRY_MS = 3_000;

    private final FailoverAgent.Config agentConfig;
    private final Coordinator coordinator;
    private final AtomicReference<String> writeFault = new AtomicReference<>();
    private volatile LedgerNode node;
    /** The newest migration this node ships, learnt at start (null until then). */
    private volatile String newestMigration;
    private volatile boolean stopped;
    private volatile FailoverAgent agent;

    public ReplicatedControl(FailoverAgent.Config agentConfig, Coordinator coordinator) {
        this.agentConfig = agentConfig;
        this.coordinator = coordinator;
    }

    @Override
    public void start(LedgerNode node) {
        this.node = node;
        this.agent = new FailoverAgent(agentConfig, coordinator, this);
        agent.start();
        Thread.ofVirtual().name("takeover-warm-up").start(() -> warmUp(node));
    }

    /**
     * Loads what a takeover runs for the first time (Flyway, jOOQ and its dialect check) while nothing waits for it:
     * measured at 1-2 s of a failover on a busy 2-core machine. Read-only, so it works on a standby.
     */
    private void warmUp(LedgerNode node) {
        // The database may not be up yet (a node starts beside its PostgreSQL, or while a rejoin rebuilds it): try
        // again every few seconds, for as long as the node runs; until it works a takeover runs Flyway.
        for (int attempt = 1; !stopped; attempt++) {
            try {
                newestMigration = io.paymentledger.migrations.Migrations.warmUp(node.database().dataSource());
                node.database().read(dsl -> dsl.selectOne().fetch());
                return;
            } catch (Exception e) {
                int n = attempt;
                LOG.fine(() -> "warm-up for a takeover failed (attempt " + n + "; it will be slower until it works): "
                        + e.getMessage());
            }
            try {
                Thread.sleep(WARM_UP_RETRY_MS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void stop() {
        stopped = true;
        FailoverAgent a = agent;
        if (a != null) {
            a.close();
        }
        LedgerNode n = node;
        if (n != null) {
            n.writer().stepDown("node stopping");
        }
        try {
            coordinator.releaseLeadership();
        } catch (Coordinator.CoordinatorUnavailable ignored) {
            // our session ends with the process anyway
        }
    }

    public FailoverAgent agent() {
        return agent;
    }

    // ---------------------------------------------------------------- hooks for the agent

    /** The session a takeover opened beside the promotion, for the schema check and the epoch claim; null: none. */
    private final AtomicReference<io.paymentledger.replication.postgres.SessionBeside> takeoverSession = new AtomicReference<>();

    @Override
    public void takeoverBegins() {
        var opening = io.paymentledger.replication.postgres.SessionBeside.open("takeover-session", node::openEpochSession);
        var left = takeoverSession.getAndSet(opening);
        if (left != null) {
            left.close(); // one left by a takeover that failed half-way
        }
    }

    /** The session opened at the takeover's start, when it opened within the wait and answers; null otherwise. */
    private java.sql.Connection takeoverSession() throws InterruptedException {
        var s = takeoverSession.get();
        return s == null ? null : s.peek(io.paymentledger.replication.postgres.SessionBeside.WAIT_MS);
    }

    @Override
    public void migrateSchema() throws Exception {
        String newest = newestMigration;
        // Connections pooled while this database was a standby die with it when a rejoin restarts it (pg_rewind):
        // the first read on one fails, and a failed read sent every such takeover through Flyway (0.5-0.8 s of a
        // switchover, measured). The dead ones go; those that answer (a promotion keeps its sessions) stay.
        node.database().evictDead();
        String recorded = schemaVersion();
        if (newest != null && newest.equals(recorded)) {
            // Already at the newest migration this node knows (the old leader migrated it, and it replicated):
            // Flyway would only validate, which costs 0.2-0.8 s of every failover.
            return;
        }
        LOG.info(() -> "takeover: running Flyway (newest migration known here: " + (newest == null ? "not read yet" : newest)
                + ", recorded in the database: " + (recorded.isEmpty() ? "none or unreadable" : recorded) + ")");
        node.migrateSchema();
    }

    /** The schema version recorded in the database by Flyway ("" when none, or when it cannot be read). */
    private String schemaVersion() throws InterruptedException {
        String query = "select version from flyway_schema_history where success and version is not null"
                + " order by installed_rank desc limit 1";
        java.util.function.Function<org.jooq.DSLContext, String> version = dsl -> dsl.fetchOptional(query)
                .map(x -> x.get(0, String.class)).orElse("");
        java.sql.Connection session = takeoverSession();
        try {
            return session != null ? version.apply(io.paymentledger.ledger.store.Database.dsl(session))
                    : node.database().read(version::apply);
        } catch (java.sql.SQLException | org.jooq.exception.DataAccessException noHistoryYet) {
            return "";
        }
    }

    @Override
    public boolean claimEpoch(long epoch) throws Exception {
        var opened = takeoverSession.getAndSet(null);
        java.sql.Connection session = opened == null ? null : opened.take(io.paymentledger.replication.postgres.SessionBeside.WAIT_MS);
        if (session == null) {
            return node.claimEpoch(epoch);
        }
        try (session) {
            return node.claimEpoch(session, epoch);
        }
    }

    @Override
    public void lead(long epoch, long leaseUntilNanos) {
        lead(epoch, leaseUntilNanos, null);
    }

    @Override
    public void lead(long epoch, long leaseUntilNanos, io.paymentledger.replication.time.LedgerTimeReference ledgerTime) {
        writeFault.set(null);
        node.database().evictDead();
        node.writer().lead(epoch, leaseUntilNanos, ledgerTime);
    }

    @Override
    public long ledgerTimeNs() {
        LedgerNode n = node;
        return n == null ? 0 : n.writer().ledgerTimeNs();
    }

    @Override
    public void extendLease(long leaseUntilNanos) {
        node.writer().extendLease(leaseUntilNanos);
    }

    @Override
    public void stopServing(String reason) {
        node.writer().stepDown(reason);
    }

    @Override
    public boolean writerIdle() {
        return node.writer().isIdle();
    }

    @Override
    public String takeWriteFault() {
        return writeFault.getAndSet(null);
    }

    @Override
    public void onWriteFault(String reason) {
        writeFault.set(reason);
    }

    // ---------------------------------------------------------------- the API's view

    @Override
    public boolean leads() {
        LedgerNode n = node;
        return n != null && agent != null && agent.role() == Role.LEADER && n.writer().isLeading();
    }

    @Override
    public boolean writesBlocked() {
        FailoverAgent a = agent;
        if (a == null) {
            return true;
        }
        ClusterRecord rec = a.record();
        PgProbe.State db = a.database();
        // Policy BLOCK with every site of the commit quorum gone: commits would wait; tell routers to hold instead.
        return !rec.commitSet().isEmpty() && rec.commitSet().stream().noneMatch(db::streams);
    }

    @Override
    public String notLeadingReason() {
        FailoverAgent a = agent;
        return a == null ? "starting" : a.explanation();
    }

    @Override
    public long stalenessMs() {
        FailoverAgent a = agent;
        if (a == null) {
            return Long.MAX_VALUE;
        }
        if (leads()) {
            return 0;
        }
        // Proven by the standby's WAL stream (PgProbe.STANDBY_QUERY), and aged by the time since that observation: a
        // standby cut off from the leader, or an agent whose probe is stuck, goes past any bound instead of staying
        // "0 ms behind".
        return a.database().stalenessMs(System.nanoTime());
    }

    @Override
    public NodeStatus status() {
        LedgerNode n = node;
        FailoverAgent a = agent;
        NodeStatus.Builder b = NodeStatus.newBuilder().setPid(ProcessHandle.current().pid());
        if (n == null || a == null) {
            return b.setRole(NodeRole.NODE_ROLE_STARTING).setExplanation("starting").build();
        }
        ClusterRecord rec = a.record();
        PgProbe.State db = a.database();
        NodeRole role = switch (a.role()) {
            case STARTING -> NodeRole.NODE_ROLE_STARTING;
            case LEADER -> leads() ? NodeRole.NODE_ROLE_LEADER : NodeRole.NODE_ROLE_FENCED;
            case FOLLOWER, DEMOTED, TAKING_OVER -> NodeRole.NODE_ROLE_STANDBY;
            case FENCED -> NodeRole.NODE_ROLE_FENCED;
            case DRAINING -> NodeRole.NODE_ROLE_DRAINING;
        };
        b.setRegion(n.region()).setRole(role).setEpoch(leads() ? n.writer().epoch() : db.up() ? db.epoch() : rec.epoch()).setLeaderRegion(rec.leader())
                .setGrpcAddress(n.grpcAddress()).setDatabasePrimary(db.up() && db.primary())
                .addAllSyncStandbys(rec.syncStandbys()).setLastFailoverReason(rec.lastChange())
                .setLastFailoverDurationMs(rec.lastChangeMs())
                .setExplanation(a.role() == Role.LEADER && !leads()
                        ? "not serving: my lease ran out without a confirmation from the CP group (" + a.explanation() + ")"
                        : a.explanation())
                .setStandbyReplayLagBytes(db.replayLagBytes()).setCoordinatorQuorum(a.coordinatorReachable())
                .setCpMembersAlive(a.cpMembersAlive()).setSyncCopies(leads() ? a.syncCopies() : 0)
                .addAllCommitSet(rec.commitSet());
        var stall = n.writer().stall();
        if (stall != null) {
            b.setWriterStalled(stall.toString());
        }
        WalKeeperReport k = a.walKeeper();
        b.setWalKeeper(WalKeeperStatus.newBuilder().setState(k.state().name()).setFollowing(k.following())
                .setEndLsn(k.endLsn().isNone() ? "" : k.endLsn().toString()).setBaseBackups(k.baseBackups())
                .setNewestBackupAtMs(k.newestBackupAtMs()).setDetail(k.detail()).setReportedAtMs(k.reportedAtMs()));
        for (PgProbe.Standby s : db.standbys()) {
            b.addReplication(ReplicationStatus.newBuilder().setStandbyName(s.name()).setState(s.state())
                    .setSyncState(s.syncState()).setLagBytes(s.lagBytes()).setLagSeconds(s.replayLagSeconds())
                    .setFlushLsn(s.flushLsn().toString()));
        }
        return b.build();
    }

    @Override
    public Future<SwitchoverResponse> switchover(String toRegion) {
        FailoverAgent a = agent;
        if (a == null || a.role() != Role.LEADER) {
            return Future.failedFuture(new StatusException(GrpcStatus.FAILED_PRECONDITION, "this node does not lead (the leader is "
                    + (a == null || a.record().leader().isEmpty() ? "unknown" : a.record().leader()) + "): ask the leader"));
        }
        if (toRegion.equals(a.region())) {
            return Future.failedFuture(new StatusException(GrpcStatus.FAILED_PRECONDITION, "region " + toRegion + " already leads"));
        }
        if (!agentConfig.databases().containsKey(toRegion)) {
            return Future.failedFuture(new StatusException(GrpcStatus.INVALID_ARGUMENT, "no region " + toRegion));
        }
        long before = a.record().epoch();
        long started = System.nanoTime();
        long abandonedBefore = a.switchoversAbandoned();
        a.requestSwitchover(toRegion);
        Promise<SwitchoverResponse> done = Promise.promise();
        Thread.ofVirtual().start(() -> {
            long deadline = started + 30_000_000_000L;
            while (System.nanoTime() < deadline) {
                ClusterRecord rec = a.record();
                if (a.switchoversAbandoned() != abandonedBefore) {
                    // The leader gave up (its target did not catch up in time) and serves again: say why.
                    done.fail(new StatusException(GrpcStatus.FAILED_PRECONDITION, a.switchoverAbandoned()));
                    return;
                }
                if (rec.leader().equals(toRegion) && rec.epoch() > before) {
                    done.complete(SwitchoverResponse.newBuilder().setAccepted(true).setNewEpoch(rec.epoch())
                            .setPauseMs((System.nanoTime() - started) / 1_000_000)
                            .setExplanation(rec.lastChange()).build());
                    return;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    break;
                }
            }
            done.fail(new StatusException(GrpcStatus.DEADLINE_EXCEEDED, "switchover to " + toRegion
                    + " did not complete within 30 s: " + a.explanation()));
        });
        return done.future();
    }
}
