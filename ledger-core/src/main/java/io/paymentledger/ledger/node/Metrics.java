package io.paymentledger.ledger.node;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.ReplicationStatus;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.telemetry.metrics.ProcessMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The node's state as Prometheus gauges, next to the meters the writer and the gRPC calls record themselves:
 * leadership, epoch, CP quorum, replication lag and sync state per standby (the WAL keeper is one), the sites holding
 * every acknowledged write, the WAL keeper, the last failover, the write queue, secrets health.
 *
 * <p>The node's status is read once per scrape (not once per gauge), by {@link #refresh()}, which the registry's
 * scrape calls first.
 */
final class Metrics {

    private final NodeControl control;
    private final Supplier<String> secretsHealth;
    private volatile NodeStatus status = NodeStatus.getDefaultInstance();
    private volatile boolean secretsLive = true;
    private final MultiGauge role;
    private final MultiGauge walKeeperState;
    private final List<MultiGauge> perStandby = new ArrayList<>();
    private final List<Function<ReplicationStatus, Double>> perStandbyValue = new ArrayList<>();

    Metrics(ProcessMetrics process, NodeControl control, BatchWriter w, Supplier<String> secretsHealth) {
        this.control = control;
        this.secretsHealth = secretsHealth;
        MeterRegistry r = process.registry();
        gauge(r, "ledger_leader", "1 while this node leads (serves writes and linearizable reads)",
                s -> s.getRole() == NodeRole.NODE_ROLE_LEADER ? 1 : 0);
        role = MultiGauge.builder("ledger_role").description("the node's role (label role), always 1").register(r);
        gauge(r, "ledger_epoch", "fencing token of the current term in this node's database", NodeStatus::getEpoch);
        gauge(r, "ledger_database_primary", "1 when this node's PostgreSQL is a primary", s -> s.getDatabasePrimary() ? 1 : 0);
        gauge(r, "ledger_coordinator_quorum", "1 when the CP group answers", s -> s.getCoordinatorQuorum() ? 1 : 0);
        gauge(r, "ledger_cp_members_alive", "CP members alive (of 3)", NodeStatus::getCpMembersAlive);
        gauge(r, "ledger_standby_replay_lag_bytes", "as a standby: received WAL not yet replayed", NodeStatus::getStandbyReplayLagBytes);
        standbyGauge(r, "ledger_replication_lag_bytes", "WAL the standby (label standby; walkeeper is the witness) has not"
                + " replayed yet", rs -> (double) rs.getLagBytes());
        standbyGauge(r, "ledger_replication_lag_seconds", "the standby's replay lag", rs -> (double) rs.getLagSeconds());
        standbyGauge(r, "ledger_replication_sync", "1 when the standby is synchronous or in the commit quorum",
                rs -> "sync".equals(rs.getSyncState()) || "quorum".equals(rs.getSyncState()) ? 1.0 : 0.0);
        standbyGauge(r, "ledger_replication_streaming", "1 when the standby streams", rs -> "streaming".equals(rs.getState()) ? 1.0 : 0.0);
        gauge(r, "ledger_sync_standbys", "sites recorded in the CP group as holding every acknowledged write (regions, WAL keeper)",
                NodeStatus::getSyncStandbysCount);
        gauge(r, "ledger_commit_set_size", "sites the leader's commits wait for (any one of them)", NodeStatus::getCommitSetCount);
        gauge(r, "ledger_sync_copies", "as leader: sites holding every acknowledged write right now, counting the leader's",
                NodeStatus::getSyncCopies);
        walKeeperState = MultiGauge.builder("ledger_walkeeper_state")
                .description("the WAL keeper's state as last reported in the CP group (label state), always 1").register(r);
        gauge(r, "ledger_walkeeper_base_backups", "complete base backups kept at the witness", s -> s.getWalKeeper().getBaseBackups());
        gauge(r, "ledger_walkeeper_report_timestamp_seconds", "when the WAL keeper last reported in the CP group (Unix time)",
                s -> s.getWalKeeper().getReportedAtMs() / 1000.0);
        gauge(r, "ledger_last_failover_duration_ms", "last leadership change: from taking the lock to serving",
                NodeStatus::getLastFailoverDurationMs);
        FunctionCounter.builder("ledger_committed_batches", w, BatchWriter::committedBatches)
                .description("write batches committed by this node").register(r);
        FunctionCounter.builder("ledger_committed_transfers", w, BatchWriter::committedTransfers)
                .description("transfers committed by this node").register(r);
        Gauge.builder("ledger_write_queue_depth", w, BatchWriter::queueDepth).description("requests waiting for the writer").register(r);
        Gauge.builder("ledger_write_queue_capacity", w, BatchWriter::queueCapacity)
                .description("requests the writer's queue takes at most (beyond: RESOURCE_EXHAUSTED)").register(r);
        Gauge.builder("ledger_secrets_live", this, m -> m.secretsLive ? 1 : 0)
                .description("1 when secrets come live from their store (0: degraded, serving cached values; ./ledger status says why)")
                .register(r);
    }

    /** Reads the node's status for this scrape (on the scraping event loop: status() does not block). */
    void refresh() {
        NodeStatus s = control.status();
        status = s;
        secretsLive = secretsHealth.get().startsWith("LIVE");
        role.register(List.of(MultiGauge.Row.of(Tags.of("role", s.getRole().name().replace("NODE_ROLE_", "").toLowerCase()), 1)), true);
        walKeeperState.register(List.of(MultiGauge.Row.of(Tags.of("state", s.getWalKeeper().getState().toLowerCase()), 1)), true);
        for (int i = 0; i < perStandby.size(); i++) {
            Function<ReplicationStatus, Double> value = perStandbyValue.get(i);
            List<MultiGauge.Row<?>> rows = new ArrayList<>();
            for (ReplicationStatus rs : s.getReplicationList()) {
                rows.add(MultiGauge.Row.of(Tags.of("standby", rs.getStandbyName()), value.apply(rs)));
            }
            perStandby.get(i).register(rows, true);
        }
    }

    private void gauge(MeterRegistry r, String name, String help, ToDoubleFunction<NodeStatus> value) {
        Gauge.builder(name, this, m -> value.applyAsDouble(m.status)).description(help).strongReference(true).register(r);
    }

    private void standbyGauge(MeterRegistry r, String name, String help, Function<ReplicationStatus, Double> value) {
        perStandby.add(MultiGauge.builder(name).description(help).register(r));
        perStandbyValue.add(value);
    }
}
