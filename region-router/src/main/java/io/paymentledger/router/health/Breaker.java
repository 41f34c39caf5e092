package io.paymentledger.router.health;

/**
 * Outlier detection and circuit breaker of one upstream, as one state machine:
 * <ul>
 *   <li>CLOSED: calls flow; {@code failuresToOpen} consecutive failed calls eject the upstream (OPEN);</li>
 *   <li>OPEN (ejected): no call is sent to it for the ejection period, which doubles with every ejection in a
 *       row up to the maximum;</li>
 *   <li>HALF_OPEN: when the period is over, one probe call goes through; its success closes the breaker (and
 *       resets the period), its failure ejects again for twice as long.</li>
 * </ul>
 * A failure is what says the upstream itself is broken: no connection, a connection or stream reset, an
 * UNAVAILABLE other than "not the leader" (e.g. the node's database failed). Never what may be the request's
 * fault: INTERNAL / UNKNOWN are not counted, since ledger-core answers INTERNAL to request bytes it cannot decode,
 * and one merchant's bad calls must not eject a region for everyone. Thread-safe.
 */
public final class Breaker {

    public enum State { CLOSED, OPEN, HALF_OPEN }

    /** What a report changed. */
    public enum Transition { NONE, OPENED, CLOSED }

    private final int failuresToOpen;
    private final long ejectionNanos;
    private final long ejectionMaxNanos;

    private State state = State.CLOSED;
    private int consecutiveFailures;
    private int ejectionsInARow;
    private long ejections;
    private long openUntilNanos;
    private boolean probeOut;

    public Breaker(int failuresToOpen, long ejectionMs, long ejectionMaxMs) {
        this.failuresToOpen = failuresToOpen;
        this.ejectionNanos = ejectionMs * 1_000_000L;
        this.ejectionMaxNanos = ejectionMaxMs * 1_000_000L;
    }

    /** Could a call go now (no side effect)? */
    public synchronized boolean available(long nowNanos) {
        return switch (state) {
            case CLOSED -> true;
            case OPEN -> nowNanos - openUntilNanos >= 0;
            case HALF_OPEN -> !probeOut;
        };
    }

    /** Takes the right to send one call now (in HALF_OPEN: the single probe). */
    public synchronized boolean tryAcquire(long nowNanos) {
        if (state == State.OPEN && nowNanos - openUntilNanos >= 0) {
            state = State.HALF_OPEN;
            probeOut = false;
        }
        switch (state) {
            case CLOSED:
                return true;
            case HALF_OPEN:
                if (probeOut) {
                    return false;
                }
                probeOut = true;
                return true;
            default:
                return false;
        }
    }

    public synchronized Transition onSuccess() {
        consecutiveFailures = 0;
        if (state == State.HALF_OPEN) {
            state = State.CLOSED;
            probeOut = false;
            ejectionsInARow = 0;
            return Transition.CLOSED;
        }
        return Transition.NONE;
    }

    public synchronized Transition onFailure(long nowNanos) {
        consecutiveFailures++;
        if (state == State.HALF_OPEN || (state == State.CLOSED && consecutiveFailures >= failuresToOpen)) {
            ejectionsInARow++;
            ejections++;
            long period = Math.min(ejectionMaxNanos, ejectionNanos << Math.min(ejectionsInARow - 1, 20));
            openUntilNanos = nowNanos + period;
            state = State.OPEN;
            probeOut = false;
            return Transition.OPENED;
        }
        return Transition.NONE;
    }

    /** A call ended without saying anything about the upstream (cut by the router, client gone, deadline). */
    public synchronized void onAbandoned() {
        if (state == State.HALF_OPEN) {
            probeOut = false;
        }
    }

    /** When the current ejection ends (nanoTime), meaningful in OPEN only. */
    public synchronized long openUntilNanos() {
        return openUntilNanos;
    }

    public synchronized State state(long nowNanos) {
        return state == State.OPEN && nowNanos - openUntilNanos >= 0 ? State.HALF_OPEN : state;
    }

    public synchronized boolean ejected(long nowNanos) {
        return state == State.OPEN && nowNanos - openUntilNanos < 0;
    }

    public synchronized long ejectedForMs(long nowNanos) {
        return ejected(nowNanos) ? (openUntilNanos - nowNanos) / 1_000_000L : 0;
    }

    public synchronized int consecutiveFailures() {
        return consecutiveFailures;
    }

    public synchronized long ejections() {
        return ejections;
    }
}
