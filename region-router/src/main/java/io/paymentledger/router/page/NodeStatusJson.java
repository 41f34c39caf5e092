package io.paymentledger.router.page;

import io.paymentledger.api.v1.NodeStatus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Locale;

/**
 * A node's own account of itself ({@code NodeService/GetNodeStatus}) as JSON, one mapping for every operator view:
 * the status page and {@code ./ledger status --json} (whose field names scripts and drills read).
 */
public final class NodeStatusJson {

    private NodeStatusJson() {}

    /** role, epoch, leaderRegion, explanation, databasePrimary, replication, lags, sync sets, lastFailover, CP members. */
    public static JsonObject fields(NodeStatus s) {
        JsonArray replication = new JsonArray();
        s.getReplicationList().forEach(rep -> replication.add(new JsonObject().put("standby", rep.getStandbyName())
                .put("state", rep.getState()).put("syncState", rep.getSyncState()).put("lagBytes", rep.getLagBytes())
                .put("lagSeconds", rep.getLagSeconds()).put("flushLsn", rep.getFlushLsn())));
        return new JsonObject().put("role", s.getRole().name().replace("NODE_ROLE_", "").toLowerCase(Locale.ROOT))
                .put("epoch", s.getEpoch()).put("explanation", s.getExplanation()).put("leaderRegion", s.getLeaderRegion())
                .put("databasePrimary", s.getDatabasePrimary()).put("replication", replication)
                .put("standbyReplayLagBytes", s.getStandbyReplayLagBytes())
                .put("syncStandbys", new JsonArray(s.getSyncStandbysList()))
                .put("commitSet", new JsonArray(s.getCommitSetList())).put("syncCopies", s.getSyncCopies())
                .put("lastFailover", new JsonObject().put("reason", s.getLastFailoverReason())
                        .put("durationMs", s.getLastFailoverDurationMs()))
                .put("cpMembersAlive", s.getCpMembersAlive()).put("writerStalled", s.getWriterStalled());
    }
}
