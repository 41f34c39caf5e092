package io.paymentledger.replication.time;

import com.hazelcast.internal.util.Clock;
import com.hazelcast.internal.util.ClockProperties;

/**
 * Hazelcast's clock ({@code com.hazelcast.clock.impl}): a {@link SteadyClock} instead of the wall clock. Hazelcast
 * stamps membership heartbeats, CP session expiry and invocation timeouts with its clock; with the wall clock, a
 * member whose host clock stepped 30 s was cut off for good (its peers' heartbeats looked 30 s stale and were dropped,
 * and the compensation Hazelcast applies never brought it back), so the leader lost its CP session and failed over.
 * {@link #install} must run before Hazelcast reads its clock for the first time (it does so once per JVM).
 */
public final class HazelcastClock extends Clock.ClockImpl {

    private static final SteadyClock STEADY = SteadyClock.system();

    /** Makes Hazelcast use this clock, unless the JVM was told otherwise; returns the clock class Hazelcast will use. */
    public static String install() {
        String configured = System.getProperty(ClockProperties.HAZELCAST_CLOCK_IMPL);
        if (configured == null) {
            System.setProperty(ClockProperties.HAZELCAST_CLOCK_IMPL, HazelcastClock.class.getName());
            return HazelcastClock.class.getName();
        }
        return configured;
    }

    /** Hazelcast creates it by reflection. */
    public HazelcastClock() {}

    @Override
    protected long currentTimeMillis() {
        return STEADY.nowNs() / 1_000_000L;
    }
}
