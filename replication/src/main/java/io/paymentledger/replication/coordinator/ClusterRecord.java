package io.paymentledger.replication.coordinator;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * What the CP group knows about the cluster, kept as one value and changed only by compare-and-set:
 * the leadership term (epoch), who leads, where acknowledged writes are, a planned handover or a takeover in
 * progress, and the last failover for operators.
 *
 * <p>Two sets describe durability (docs/decisions/0004-quorum-commit.md). {@code commitSet} is what the leader's
 * PostgreSQL waits for: a commit is acknowledged once any one of them has flushed it
 * ({@code synchronous_standby_names = ANY 1 (...)}), always derived from this record. {@code syncStandbys} is
 * where every acknowledged write is, the set a promotion must consult: every acknowledged write is on the leader
 * and on at least one of them. The commit set is always inside it; a site joins both in one change (the record
 * first, then PostgreSQL), and leaves the commit set first and {@code syncStandbys} only once the rest of the
 * commit set provably holds everything.
 *
 * @param epoch            fencing token of the current term; only increases
 * @param leader           region that leads ("" when none yet)
 * @param syncStandbys     sites (regions, the WAL keeper) among which every acknowledged write is: a region is
 *                         promoted only once it holds everything they hold
 * @param commitSet        sites the leader's commits wait for (any one of them); a subset of {@code syncStandbys}
 * @param handoverTo       region a planned switchover hands leadership to ("" when none)
 * @param takeover         region that holds the leader lock and is taking over (promoting); "" when none. While set,
 *                         the WAL keeper follows nobody (it is fenced), so the old primary cannot get a commit
 *                         acknowledged by it
 * @param lastChange       what the last leadership change was, as a sentence
 * @param lastChangeMs     how long it took, from detection (or request) to serving, in ms
 * @param lastChangeAtMs   when it completed (epoch ms)
 */
public record ClusterRecord(long epoch, String leader, List<String> syncStandbys, List<String> commitSet, String handoverTo,
        String takeover, String lastChange, long lastChangeMs, long lastChangeAtMs) {

    public static final ClusterRecord EMPTY = new ClusterRecord(0, "", List.of(), "", "", 0, 0);

    public ClusterRecord {
        syncStandbys = List.copyOf(new LinkedHashSet<>(syncStandbys));
        commitSet = List.copyOf(new LinkedHashSet<>(commitSet));
        if (!syncStandbys.containsAll(commitSet)) {
            // A site that can acknowledge commits must be one a promotion consults, or a write acknowledged by it
            // alone could be lost.
            throw new IllegalArgumentException("commit set " + commitSet + " must be inside the sync set " + syncStandbys);
        }
    }

    /** A record whose commit set is its whole sync set and no takeover is in progress. */
    public ClusterRecord(long epoch, String leader, List<String> syncStandbys, String handoverTo, String lastChange,
            long lastChangeMs, long lastChangeAtMs) {
        this(epoch, leader, syncStandbys, syncStandbys, handoverTo, "", lastChange, lastChangeMs, lastChangeAtMs);
    }

    public boolean isEmpty() {
        return leader.isEmpty();
    }

    public boolean isSync(String site) {
        return syncStandbys.contains(site);
    }

    public boolean inCommitSet(String site) {
        return commitSet.contains(site);
    }

    public ClusterRecord withSets(List<String> sync, List<String> commit) {
        return new ClusterRecord(epoch, leader, sync, commit, handoverTo, takeover, lastChange, lastChangeMs, lastChangeAtMs);
    }

    /** Sync set and commit set both become {@code sync}. */
    public ClusterRecord withSyncStandbys(List<String> sync) {
        return withSets(sync, sync);
    }

    /** {@code site} joins both sets (it streams: the record first, then PostgreSQL waits for it too). */
    public ClusterRecord joining(String site) {
        return withSets(plus(syncStandbys, site), plus(commitSet, site));
    }

    /** {@code site} leaves the commit set only; the sync set keeps it until the rest provably hold everything. */
    public ClusterRecord leavingCommitSet(String site) {
        List<String> commit = new ArrayList<>(commitSet);
        commit.remove(site);
        return withSets(syncStandbys, commit);
    }

    public ClusterRecord withHandoverTo(String region) {
        return new ClusterRecord(epoch, leader, syncStandbys, commitSet, region, takeover, lastChange, lastChangeMs, lastChangeAtMs);
    }

    public ClusterRecord withTakeover(String region) {
        return new ClusterRecord(epoch, leader, syncStandbys, commitSet, handoverTo, region, lastChange, lastChangeMs, lastChangeAtMs);
    }

    private static List<String> plus(List<String> list, String site) {
        List<String> out = new ArrayList<>(list);
        if (!out.contains(site)) {
            out.add(site);
        }
        return out;
    }

    public String toJson() {
        return new JsonObject().put("epoch", epoch).put("leader", leader).put("syncStandbys", new JsonArray(syncStandbys))
                .put("commitSet", new JsonArray(commitSet)).put("handoverTo", handoverTo).put("takeover", takeover)
                .put("lastChange", lastChange).put("lastChangeMs", lastChangeMs).put("lastChangeAtMs", lastChangeAtMs).encode();
    }

    public static ClusterRecord fromJson(String json) {
        if (json == null || json.isEmpty()) {
            return EMPTY;
        }
        JsonObject j = new JsonObject(json);
        List<String> sync = j.getJsonArray("syncStandbys", new JsonArray()).stream().map(Object::toString).toList();
        // Records written before the commit set existed waited for all of their sync set.
        List<String> commit = j.containsKey("commitSet")
                ? j.getJsonArray("commitSet").stream().map(Object::toString).toList() : sync;
        return new ClusterRecord(j.getLong("epoch", 0L), j.getString("leader", ""), sync, commit,
                j.getString("handoverTo", ""), j.getString("takeover", ""), j.getString("lastChange", ""),
                j.getLong("lastChangeMs", 0L), j.getLong("lastChangeAtMs", 0L));
    }
}
