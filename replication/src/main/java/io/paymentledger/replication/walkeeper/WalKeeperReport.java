package io.paymentledger.replication.walkeeper;

import io.paymentledger.replication.postgres.Lsn;
import io.vertx.core.json.JsonObject;

/**
 * The WAL keeper's own account of itself, published in the CP group (and in the witness's status file): whom it
 * follows, and — when a takeover fenced it — where its WAL ends, which is what the region taking over must reach
 * before it may be promoted.
 *
 * @param state           what the keeper does
 * @param following       the region whose PostgreSQL it streams from (or tries to); "" when none
 * @param fencedFor       while FENCED: the region whose takeover fenced it
 * @param fencedAtEpoch   while FENCED: the epoch of the record that asked for it (the term being replaced)
 * @param endLsn          while FENCED (and whenever known): the end of the valid WAL it keeps
 * @param endTimeline     the timeline that WAL is on
 * @param baseBackups     how many complete base backups it keeps
 * @param newestBackupAtMs when the newest one was taken (epoch ms, 0 = none)
 * @param detail          a sentence for operators (the last error, what it waits for)
 * @param reportedAtMs    when this report was made (epoch ms)
 */
public record WalKeeperReport(State state, String following, String fencedFor, long fencedAtEpoch, Lsn endLsn,
        long endTimeline, int baseBackups, long newestBackupAtMs, String detail, long reportedAtMs) {

    public enum State {
        /** No report yet (no keeper, or not started). */
        UNKNOWN,
        /** pg_receivewal streams from {@link #following()}. */
        FOLLOWING,
        /** Trying to stream from {@link #following()} (starting, or failing: see {@link #detail()}). */
        CONNECTING,
        /** Stopped for a takeover; {@link #endLsn()} is final until the record names a leader again. */
        FENCED,
        /** Follows nobody: no leader recorded, or the CP group does not answer (it fenced itself). */
        IDLE
    }

    public static final WalKeeperReport NONE = new WalKeeperReport(State.UNKNOWN, "", "", 0, Lsn.NONE, 0, 0, 0, "", 0);

    public boolean fencedFor(String region, long recordEpoch) {
        return state == State.FENCED && fencedFor.equals(region) && fencedAtEpoch == recordEpoch;
    }

    /** The same report, stamped as made at {@code ms} (another clock's reading of when it was made). */
    public WalKeeperReport withReportedAtMs(long ms) {
        return new WalKeeperReport(state, following, fencedFor, fencedAtEpoch, endLsn, endTimeline, baseBackups, newestBackupAtMs,
                detail, ms);
    }

    public boolean freshAt(long nowMs, long freshMs) {
        return reportedAtMs > 0 && nowMs - reportedAtMs <= freshMs;
    }

    public String toJson() {
        return toJsonObject().encode();
    }

    public JsonObject toJsonObject() {
        return new JsonObject().put("state", state.name()).put("following", following).put("fencedFor", fencedFor)
                .put("fencedAtEpoch", fencedAtEpoch).put("endLsn", endLsn.toString()).put("endTimeline", endTimeline)
                .put("baseBackups", baseBackups).put("newestBackupAtMs", newestBackupAtMs).put("detail", detail)
                .put("reportedAtMs", reportedAtMs);
    }

    public static WalKeeperReport fromJson(String json) {
        if (json == null || json.isEmpty()) {
            return NONE;
        }
        JsonObject j = new JsonObject(json);
        return new WalKeeperReport(State.valueOf(j.getString("state", "UNKNOWN")), j.getString("following", ""),
                j.getString("fencedFor", ""), j.getLong("fencedAtEpoch", 0L), Lsn.parse(j.getString("endLsn", "")),
                j.getLong("endTimeline", 0L), j.getInteger("baseBackups", 0), j.getLong("newestBackupAtMs", 0L),
                j.getString("detail", ""), j.getLong("reportedAtMs", 0L));
    }
}
