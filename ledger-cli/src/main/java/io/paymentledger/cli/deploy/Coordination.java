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

    public static HazelcastCoordinator.Settings settings(Topology t, String member, int port) {
        java.util.List<String> names = t.siteNames();
        return new HazelcastCoordinator.Settings(t.clusterName(), member, t.host(member), port, t.hazelcastMembers(), names,
                SESSION_TTL_SECONDS, HEARTBEAT_SECONDS, 0, CALL_TIMEOUT, 0);
    }
}
