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
    // Tracker-context only.
    boolean checkInFlight;
    long checkStartedNanos;
    long checkSeq;

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
