package io.paymentledger.cli.deploy;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import java.util.Collection;
import java.util.Optional;

/**
 * Which node leads, from the nodes' own status answers: the one rule that {@code ./ledger status}, {@code up}, the
 * drills, the chaos run and {@code down} all use (the region router has its own health checks, on its own data).
 */
public final class Leadership {

    private Leadership() {}

    /**
     * The node that says it leads, the highest epoch winning, provided no node that answered has seen a newer epoch:
     * a node woken from a pause (or cut off by a partition) may still call itself leader of a term the others have
     * left. Empty when no answer confirms a leader.
     *
     * @param answers the status answers of the nodes that answered (any order; the silent ones left out)
     */
    public static Optional<NodeStatus> confirmedLeader(Collection<NodeStatus> answers) {
        NodeStatus leader = null;
        long newest = 0;
        for (NodeStatus s : answers) {
            newest = Math.max(newest, s.getEpoch());
            if (s.getRole() == NodeRole.NODE_ROLE_LEADER && (leader == null || s.getEpoch() > leader.getEpoch())) {
                leader = s;
            }
        }
        return leader != null && leader.getEpoch() >= newest ? Optional.of(leader) : Optional.empty();
    }
}
