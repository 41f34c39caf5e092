package io.paymentledger.replication.walkeeper;

import io.paymentledger.replication.coordinator.ClusterRecord;

/**
 * What the WAL keeper does, as a pure function of the CP record (docs/decisions/0004-quorum-commit.md): follow the
 * recorded leader; stop following anyone while a region takes over (the takeover fences it, so the old primary can
 * no longer get a commit acknowledged here, and the region taking over learns where the keeper's WAL ends); follow
 * nobody while no leader is recorded. While the CP group does not answer it carries on as it was: it never starts
 * following a primary the record has not named.
 */
public final class WalKeeperMachine {

    public enum Action {
        /** Stream from {@link Decision#region()}. */
        FOLLOW,
        /** Stop and report the end of the kept WAL to {@link Decision#region()}, which takes over from term {@link Decision#epoch()}. */
        FENCE,
        /** Stop. */
        IDLE,
        /** Carry on as now (the CP group does not answer). */
        KEEP
    }

    public record Decision(Action action, String region, long epoch, String explanation) {}

    private WalKeeperMachine() {}

    /**
     * @param record   the CP record (ignored when {@code cpError} is set)
     * @param cpError  null when the record was read this tick, else why not
     */
    public static Decision decide(ClusterRecord record, String cpError) {
        if (cpError != null) {
            return new Decision(Action.KEEP, "", 0, "the CP group does not answer (" + cpError + "): carrying on as I was");
        }
        if (record.isEmpty()) {
            return new Decision(Action.IDLE, "", 0, "no leader recorded yet: following nobody");
        }
        if (!record.takeover().isEmpty()) {
            return new Decision(Action.FENCE, record.takeover(), record.epoch(), record.takeover() + " takes over from "
                    + record.leader() + " (epoch " + record.epoch() + "): stopped following " + record.leader()
                    + ", reporting where my WAL ends");
        }
        return new Decision(Action.FOLLOW, record.leader(), record.epoch(), "following " + record.leader()
                + ", the recorded leader (epoch " + record.epoch() + ")");
    }
}
