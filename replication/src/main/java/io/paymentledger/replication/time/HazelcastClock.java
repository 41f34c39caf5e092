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

    /**
     * Milliseconds for every time stamp that one process writes and another compares with its own clock: the CP
     * identities every member publishes, the regions' reports, the WAL keeper's report. The same steady clock
     * Hazelcast stamps its heartbeats with (whether or not {@link #install} ran in this process): read off the wall
     * clock, a member whose host stepped +30 s saw every peer's stamp 30 s old (and counted 1 CP member alive of 3),
     * and its own stamps looked 30 s ahead to the others.
     */
    public static long stampMillis() {
        return STEADY.nowNs() / 1_000_000L;
    }

    /** Hazelcast creates it by reflection. */
    public HazelcastClock() {}

    @Override
    protected long currentTimeMillis() {
        return STEADY.nowNs() / 1_000_000L;
    }
}
