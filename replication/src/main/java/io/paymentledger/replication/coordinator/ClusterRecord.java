package io.paymentledger.replication.coordinator;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * What the CP group knows about the cluster, kept as one value and changed only by compare-and-set:
 * the leadership term (epoch), who leads, which standbys are synchronous (and so may be promoted), a
 * planned handover in progress, and the last failover for operators.
 *
 * @param epoch            fencing token of the current term; only increases
 * @param leader           region that leads ("" when none yet)
 * @param syncStandbys     regions whose database is a synchronous standby of the leader's: the only ones that may
 *                         be promoted automatically
 * @param handoverTo       region a planned switchover hands leadership to ("" when none)
 * @param lastChange       what the last leadership change was, as a sentence
 * @param lastChangeMs     how long it took, from detection (or request) to serving, in ms
 * @param lastChangeAtMs   when it completed (epoch ms)
 */
public record ClusterRecord(long epoch, String leader, List<String> syncStandbys, String handoverTo, String lastChange,
        long lastChangeMs, long lastChangeAtMs) {

    public static final ClusterRecord EMPTY = new ClusterRecord(0, "", List.of(), "", "", 0, 0);

    public ClusterRecord {
        syncStandbys = List.copyOf(syncStandbys);
    }

    public boolean isEmpty() {
        return leader.isEmpty();
    }

    public boolean isSync(String region) {
        return syncStandbys.contains(region);
    }

    public ClusterRecord withSyncStandbys(List<String> sync) {
        return new ClusterRecord(epoch, leader, sync, handoverTo, lastChange, lastChangeMs, lastChangeAtMs);
    }

    public ClusterRecord withHandoverTo(String region) {
        return new ClusterRecord(epoch, leader, syncStandbys, region, lastChange, lastChangeMs, lastChangeAtMs);
    }

    public String toJson() {
        return new JsonObject().put("epoch", epoch).put("leader", leader).put("syncStandbys", new JsonArray(syncStandbys))
                .put("handoverTo", handoverTo).put("lastChange", lastChange).put("lastChangeMs", lastChangeMs)
                .put("lastChangeAtMs", lastChangeAtMs).encode();
    }

    public static ClusterRecord fromJson(String json) {
        if (json == null || json.isEmpty()) {
            return EMPTY;
        }
        JsonObject j = new JsonObject(json);
        return new ClusterRecord(j.getLong("epoch", 0L), j.getString("leader", ""),
                j.getJsonArray("syncStandbys", new JsonArray()).stream().map(Object::toString).toList(),
                j.getString("handoverTo", ""), j.getString("lastChange", ""), j.getLong("lastChangeMs", 0L),
                j.getLong("lastChangeAtMs", 0L));
    }
}
