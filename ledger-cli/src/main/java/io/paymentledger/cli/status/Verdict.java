package io.paymentledger.cli.status;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.deploy.Leadership;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Who leads, as far as the processes' answers tell, and the exit code that says how sure that is. Pure: it decides
 * from what {@link StatusProbe} collected, so every rule here is tested without a deployment.
 *
 * <p>The leader is, in this order: the node that says it leads ({@link Leadership#confirmedLeader}: the highest epoch
 * wins, and no node has seen a newer one; "confirmed"); else the region a
 * node names as leader from the coordinator's view; else the region the router routes writes to. The exit code is
 * non-zero only when what it says is true: {@link Exit#NO_LEADER} only when every node answered (or is provably not
 * running), none leads or names a leader, and the router names none; when no leader confirmed itself but one is named
 * (by a node or the router), or some node did not answer, the truth is "cannot confirm", {@link Exit#UNCONFIRMED}.
 */
public record Verdict(String leader, long epoch, boolean confirmed, String source, Exit exit) {

    /** {@code ./ledger status} exit codes (also in its --help). */
    public enum Exit {
        /** A node said it leads: writes are served. */
        LEADER_SERVES(0),
        /** Every node answered or is not running, none leads or names a leader, the router names none. */
        NO_LEADER(2),
        /** Nothing is deployed in the directory. */
        NOT_DEPLOYED(3),
        /** No node confirmed itself as leader, and a leader is named (by a node or the router) or some node did not answer. */
        UNCONFIRMED(4),
        /**
         * A node says it leads, but its writer has answered nothing for longer than its report bound while work waits
         * (the node steps down by itself at its step-down bound): writes are not being served.
         */
        LEADER_STALLED(5);

        public final int code;

        Exit(int code) {
            this.code = code;
        }
    }

    /** One node as the probe found it: is its process running (a PID of ours), and what it answered. */
    public record Node(String region, Optional<Long> pid, Reply<NodeStatus> reply) {
        /** Answered, or provably not running (no PID and nothing listening): what it says about leadership is known. */
        boolean known() {
            return reply.answered() || (pid.isEmpty() && reply instanceof Reply.Refused<NodeStatus>);
        }
    }

    /** The router's view from its health answer: the region and epoch it routes writes to ("" when none). */
    public record RouterView(boolean serving, String leaderRegion, long leaderEpoch) {}

    public static Verdict decide(List<Node> nodes, Reply<RouterView> router) {
        List<NodeStatus> answers = nodes.stream().map(n -> n.reply().value()).filter(Objects::nonNull).toList();
        Optional<NodeStatus> confirmed = Leadership.confirmedLeader(answers);
        if (confirmed.isPresent()) {
            String region = confirmed.get().getRegion();
            String stalled = confirmed.get().getWriterStalled();
            return stalled.isEmpty() ? new Verdict(region, confirmed.get().getEpoch(), true, "node " + region + " itself", Exit.LEADER_SERVES)
                    : new Verdict(region, confirmed.get().getEpoch(), true, "node " + region + " itself, but its " + stalled,
                    Exit.LEADER_STALLED);
        }
        boolean allKnown = nodes.stream().allMatch(Node::known);
        Exit notConfirmed = allKnown ? Exit.NO_LEADER : Exit.UNCONFIRMED;
        Node naming = null;
        for (Node n : nodes) {
            NodeStatus s = n.reply().value();
            // The newest term's view: a node left behind by a pause or a partition may still name the old leader.
            if (s != null && !s.getLeaderRegion().isEmpty()
                    && (naming == null || s.getEpoch() > naming.reply().value().getEpoch())) {
                naming = n;
            }
        }
        if (naming != null) {
            // The coordinator's view: true for the lock, but that leader did not (yet) say it serves.
            NodeStatus s = naming.reply().value();
            return new Verdict(s.getLeaderRegion(), s.getEpoch(), false, "node " + naming.region() + " (the coordinator's view; "
                    + s.getLeaderRegion() + " did not confirm it serves)", Exit.UNCONFIRMED);
        }
        RouterView r = router.value();
        if (r != null && !r.leaderRegion().isEmpty()) {
            return new Verdict(r.leaderRegion(), r.leaderEpoch(), false, "the router (its last health check of "
                    + r.leaderRegion() + ")", Exit.UNCONFIRMED);
        }
        return new Verdict("", 0, false, allKnown ? "no node leads: each answered so or is not running" : "no node that answered leads or names"
                + " a leader, and some did not answer", notConfirmed);
    }

    /**
     * One process's state in words: "answered in 12 ms", "not running (no PID)", "running (pid 42) but no answer in
     * 1500 ms (answer)", "running (pid 42) but connection refused on 127.0.0.1:7401".
     */
    public static String process(Optional<Long> pid, Reply<?> reply) {
        if (reply.answered()) {
            return reply.describe();
        }
        if (pid.isEmpty()) {
            return reply instanceof Reply.Refused<?> ? "not running (no PID)"
                    : "no process of ours (no PID), yet its port: " + reply.describe();
        }
        return "running (pid " + pid.get() + ") but " + reply.describe();
    }
}
