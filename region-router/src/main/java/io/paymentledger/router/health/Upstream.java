package io.paymentledger.router.health;

import io.paymentledger.router.RouterConfig;
import io.vertx.core.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One ledger node as the router sees it: what its last health checks said, its breaker, and the calls in
 * flight to it (so they can be cut when it loses leadership).
 */
public final class Upstream {

    /** A call in flight to this upstream. */
    public interface InFlight {
        /** Was it sent here because this upstream led (writes, linearizable reads)? */
        boolean leaderRouted();

        /** Resets the forwarded request now; may be called on any thread. */
        void cut(Upstream upstream, String reason);
    }

    private final RouterConfig.UpstreamConfig config;
    private final SocketAddress address;
    private final Breaker breaker;
    private final int inFlightMax;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Set<InFlight> calls = ConcurrentHashMap.newKeySet();

    // Health, written by the tracker only.
    volatile boolean reachable;
    volatile boolean checked;
    volatile boolean serving;
    volatile long epoch;
    volatile String reportedRegion = "";
    volatile String role = "";
    volatile int checkFailures;
    volatile long lastCheckNanos;
    volatile String lastError = "";
    /**
     * How stale its data may be, as its last health check said ({@link #STALENESS_NOT_REPORTED} when the node
     * sends no {@code x-ledger-staleness-ms}; {@link Long#MAX_VALUE} when it cannot tell), and the start of that
     * check (the node measured after it, so counting from it over-states the age: never under-states staleness).
     */
    volatile long stalenessMs = STALENESS_NOT_REPORTED;
    volatile long stalenessAtNanos;
    // Tracker-context only.
    boolean checkInFlight;
    long checkStartedNanos;
    long checkSeq;

    /** The node does not report its staleness (an older node): only the node itself can decline a bounded read. */
    public static final long STALENESS_NOT_REPORTED = -1;

    /**
     * May this standby's data be within {@code boundMs} now? Its reported staleness plus the time since the check
     * that reported it is an upper bound (data gets older by at most the time that passes), so a standby cut off
     * from the leader stops getting bounded reads once that passes the bound, without sending it any. A node that
     * does not report is asked (and declines if it must).
     */
    public boolean mayBeWithin(long boundMs, long nowNanos) {
        long reported = stalenessMs;
        if (reported == STALENESS_NOT_REPORTED) {
            return true;
        }
        if (reported == Long.MAX_VALUE) {
            return false;
        }
        long ageMs = Math.max(0, (nowNanos - stalenessAtNanos) / 1_000_000);
        return reported <= boundMs - ageMs;
    }

    public Upstream(RouterConfig.UpstreamConfig config, Breaker breaker, int inFlightMax) {
        this.config = config;
        this.address = SocketAddress.inetSocketAddress(config.port(), config.host());
        this.breaker = breaker;
        this.inFlightMax = inFlightMax;
    }

    public String region() {
        return config.region();
    }

    public SocketAddress address() {
        return address;
    }

    public String addressText() {
        return config.address();
    }

    public Breaker breaker() {
        return breaker;
    }

    public boolean reachable() {
        return reachable;
    }

    public boolean serving() {
        return serving;
    }

    public long epoch() {
        return epoch;
    }

    public String role() {
        return role;
    }

    public int checkFailures() {
        return checkFailures;
    }

    public long lastCheckNanos() {
        return lastCheckNanos;
    }

    public String lastError() {
        return lastError;
    }

    public boolean checked() {
        return checked;
    }

    /** Takes an in-flight slot (the breaker's concurrency cap); false when the upstream is at its cap. */
    public boolean tryEnter(InFlight call) {
        while (true) {
            int n = inFlight.get();
            if (n >= inFlightMax) {
                return false;
            }
            if (inFlight.compareAndSet(n, n + 1)) {
                calls.add(call);
                return true;
            }
        }
    }

    public void leave(InFlight call) {
        if (calls.remove(call)) {
            inFlight.decrementAndGet();
        }
    }

    public int inFlight() {
        return inFlight.get();
    }

    public int inFlightMax() {
        return inFlightMax;
    }

    /** Cuts the calls in flight here (only those sent because it led, when {@code leaderRoutedOnly}). */
    public int cut(String reason, boolean leaderRoutedOnly) {
        int n = 0;
        for (InFlight c : calls) {
            if (!leaderRoutedOnly || c.leaderRouted()) {
                c.cut(this, reason);
                n++;
            }
        }
        return n;
    }

    @Override
    public String toString() {
        return region() + "@" + addressText();
    }
}
