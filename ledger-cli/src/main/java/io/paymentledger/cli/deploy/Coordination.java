package io.paymentledger.cli.deploy;

import io.paymentledger.replication.coordinator.HazelcastCoordinator;
import java.time.Duration;

/**
 * The failover timing of the local deployment, in one place. The CP session TTL bounds how long a dead
 * leader keeps the lock; the lease (how long a leader serves after its last successful CP check) must be
 * shorter than TTL minus the heartbeat interval, so a cut-off leader stops serving before anyone else can
 * take over. Measured failover times are in runbooks/failover.md.
 */
public final class Coordination {

    public static final int SESSION_TTL_SECONDS = 3;
    public static final int HEARTBEAT_SECONDS = 1;
    /** < TTL - heartbeat (2 s), with 0.5 s to spare. */
    public static final long LEASE_MS = 1_500;
    public static final long TICK_MS = 200;
    public static final Duration CALL_TIMEOUT = Duration.ofMillis(1_500);

    private Coordination() {}

    /** Where a drill asks for the CP Raft leader's placement (one-shot; removed once done). */
    public static java.nio.file.Path raftLeaderWishFile(Topology t) {
        return t.run().resolve("raft-leader");
    }

    /**
     * Moves every CP group's Raft leadership to {@code site} (a, b or witness): writes the wish, which the member leading
     * each group honours at its next upkeep (every 2 s), and waits until a member saw it done. Returns how long it took.
     */
    public static long moveRaftLeader(Topology t, String site, java.time.Duration timeout) {
        if (!t.siteNames().contains(site)) {
            throw new IllegalArgumentException("unknown site " + site + " (one of " + t.siteNames() + ")");
        }
        java.nio.file.Path wish = raftLeaderWishFile(t);
        long started = System.nanoTime();
        try {
            java.nio.file.Files.createDirectories(wish.getParent());
            java.nio.file.Files.writeString(wish, site + "\n");
            while (java.nio.file.Files.exists(wish)) {
                if (System.nanoTime() - started > timeout.toNanos()) {
                    java.nio.file.Files.deleteIfExists(wish);
                    throw new IllegalStateException("the CP Raft leadership did not move to " + site + " within "
                            + timeout.toSeconds() + " s (is every CP member up?)");
                }
                Thread.sleep(100);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        return (System.nanoTime() - started) / 1_000_000;
    }

    public static HazelcastCoordinator.Settings settings(Topology t, String member, int port) {
        java.util.List<String> names = t.siteNames();
        Topology.CpTiming cp = t.settings().cp();
        return new HazelcastCoordinator.Settings(t.clusterName(), member, t.host(member), port, t.hazelcastMembers(), names,
                cp.sessionTtlSeconds(), cp.heartbeatSeconds(), 0, CALL_TIMEOUT, 0);
    }
}
