package io.paymentledger.cli.deploy;

import io.paymentledger.api.v1.NodeStatus;
import java.time.Duration;

/**
 * What "a site is whole again" means, read from the nodes' own status answers, with a bounded wait for each: a site
 * (region or WAL keeper) streams in the leader's recorded commit quorum; every acknowledged write is in two sites; the
 * CP group has all three members alive. The drills' normalisation and the rolling restart wait on these, one rule each.
 */
public final class SiteHealth {

    /** A status is asked for this often while waiting. */
    static final long POLL_MS = 200;
    /** The CP group has this many members when whole (two regions and the witness). */
    public static final int CP_MEMBERS = 3;

    private SiteHealth() {}

    /** By the leader's own status: {@code site} streams to it and is in its recorded commit quorum. */
    public static boolean inQuorum(NodeStatus leader, String site) {
        boolean streams = leader.getReplicationList().stream()
                .anyMatch(r -> r.getStandbyName().equals(site) && "streaming".equals(r.getState()));
        return streams && leader.getCommitSetList().contains(site);
    }

    /**
     * Waits until {@code site} streams to {@code leader}, is in its commit quorum, and the leader counts every
     * acknowledged write in two sites. Fails with what the leader last said.
     */
    public static void awaitQuorum(Topology t, Clients clients, String leader, String site, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            var st = clients.nodeStatus(t.region(leader).grpcPort());
            if (st.isPresent()) {
                last = st.get().getExplanation();
                if (inQuorum(st.get(), site) && st.get().getSyncCopies() >= 2) {
                    return;
                }
            }
            LocalDeployment.sleep(POLL_MS);
        }
        throw new IllegalStateException(site + " did not join the commit quorum of " + leader + " within " + timeout.toSeconds()
                + " s (a former primary rejoins by itself: see its node's log); " + leader + " says: " + last);
    }

    /** Waits until every node sees all {@link #CP_MEMBERS} CP members alive: only then can the group lose one more. */
    public static void awaitFullCpGroup(Topology t, Clients clients, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            StringBuilder seen = new StringBuilder();
            boolean full = true;
            for (Topology.Region r : t.regions().values()) {
                var st = clients.nodeStatus(r.grpcPort());
                seen.append(seen.isEmpty() ? "" : ", ").append(r.name()).append(": ")
                        .append(st.map(s -> s.getCpMembersAlive() + " alive").orElse("no answer"));
                full &= st.map(s -> s.getCpMembersAlive() == CP_MEMBERS).orElse(false);
            }
            if (full) {
                return;
            }
            last = seen.toString();
            LocalDeployment.sleep(POLL_MS);
        }
        throw new IllegalStateException("the CP group did not get back to " + CP_MEMBERS + " live members within "
                + timeout.toSeconds() + " s (" + last + ")");
    }
}
