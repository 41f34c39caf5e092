package io.paymentledger.ledger.node;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.ReplicationStatus;
import io.paymentledger.ledger.write.BatchWriter;

/**
 * The node's metrics in Prometheus' text format, served at {@code GET /metrics} on the node's own (TLS) port:
 * leadership, epoch, replication lag and sync state, last failover, the writer's counters, secrets health.
 */
final class Metrics {

    private Metrics() {}

    static String render(NodeStatus s, BatchWriter w, String secretsHealth) {
        StringBuilder b = new StringBuilder(2048);
        String region = "region=\"" + s.getRegion() + "\"";
        gauge(b, "ledger_leader", "1 while this node leads (serves writes and linearizable reads)", region,
                s.getRole() == NodeRole.NODE_ROLE_LEADER ? 1 : 0);
        gauge(b, "ledger_role", "the node's role (label)", region + ",role=\"" + s.getRole().name().replace("NODE_ROLE_", "").toLowerCase() + "\"", 1);
        gauge(b, "ledger_epoch", "fencing token of the current term in this node's database", region, s.getEpoch());
        gauge(b, "ledger_database_primary", "1 when this node's PostgreSQL is a primary", region, s.getDatabasePrimary() ? 1 : 0);
        gauge(b, "ledger_coordinator_quorum", "1 when the CP group answers", region, s.getCoordinatorQuorum() ? 1 : 0);
        gauge(b, "ledger_cp_members_alive", "CP members alive (of 3)", region, s.getCpMembersAlive());
        gauge(b, "ledger_standby_replay_lag_bytes", "as a standby: received WAL not yet replayed", region, s.getStandbyReplayLagBytes());
        for (ReplicationStatus r : s.getReplicationList()) {
            String l = region + ",standby=\"" + r.getStandbyName() + "\"";
            gauge(b, "ledger_replication_lag_bytes", "WAL the standby has not replayed yet", l, r.getLagBytes());
            gauge(b, "ledger_replication_lag_seconds", "the standby's replay lag", l, r.getLagSeconds());
            gauge(b, "ledger_replication_sync", "1 when the standby is synchronous", l, "sync".equals(r.getSyncState()) ? 1 : 0);
            gauge(b, "ledger_replication_streaming", "1 when the standby streams", l, "streaming".equals(r.getState()) ? 1 : 0);
        }
        gauge(b, "ledger_sync_standbys", "sites recorded in the CP group as holding every acknowledged write (regions, WAL keeper)",
                region, s.getSyncStandbysCount());
        gauge(b, "ledger_commit_set_size", "sites the leader's commits wait for (any one of them)", region, s.getCommitSetCount());
        gauge(b, "ledger_sync_copies", "as leader: sites holding every acknowledged write right now, counting the leader's",
                region, s.getSyncCopies());
        gauge(b, "ledger_walkeeper_state", "the WAL keeper's state as last reported in the CP group (label)",
                region + ",state=\"" + s.getWalKeeper().getState().toLowerCase() + "\"", 1);
        gauge(b, "ledger_walkeeper_base_backups", "complete base backups kept at the witness", region, s.getWalKeeper().getBaseBackups());
        gauge(b, "ledger_last_failover_duration_ms", "last leadership change: from taking the lock to serving", region,
                s.getLastFailoverDurationMs());
        counter(b, "ledger_committed_batches_total", "write batches committed by this node", region, w.committedBatches());
        counter(b, "ledger_committed_transfers_total", "transfers committed by this node", region, w.committedTransfers());
        gauge(b, "ledger_write_queue_depth", "requests waiting for the writer", region, w.queueDepth());
        gauge(b, "ledger_secrets_live", "1 when secrets come live from their store (0: degraded, serving cached values)",
                region + ",detail=\"" + secretsHealth.replace("\"", "'").replace("\n", " ") + "\"",
                secretsHealth.startsWith("LIVE") ? 1 : 0);
        return b.toString();
    }

    private static void gauge(StringBuilder b, String name, String help, String labels, double value) {
        metric(b, name, help, "gauge", labels, value);
    }

    private static void counter(StringBuilder b, String name, String help, String labels, double value) {
        metric(b, name, help, "counter", labels, value);
    }

    private static void metric(StringBuilder b, String name, String help, String type, String labels, double value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        b.append(name).append('{').append(labels).append("} ");
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            b.append((long) value);
        } else {
            b.append(value);
        }
        b.append('\n');
    }
}
