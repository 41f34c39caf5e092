package io.paymentledger.router.limits;

import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The calls waiting in the router (for a leader to appear, or for their next retry), bounded in count and in
 * buffered request bytes. A call is admitted once and leaves once; while it has no upstream to go to it is
 * parked here and woken when the leadership view changes.
 */
public final class HoldQueue {

    /** A parked call; {@link #wake()} may be called on any thread. */
    public interface Waiter {
        void wake();
    }

    private final int maxCalls;
    private final long maxBytes;
    private final ConcurrentLinkedQueue<Waiter> parked = new ConcurrentLinkedQueue<>();
    private int depth;
    private long bytes;

    public HoldQueue(int maxCalls, long maxBytes) {
        this.maxCalls = maxCalls;
        this.maxBytes = maxBytes;
    }

    /** Admits a call that buffers {@code callBytes}; false when the queue is full (by count or bytes). */
    public synchronized boolean tryAdmit(long callBytes) {
        if (depth >= maxCalls || bytes + callBytes > maxBytes) {
            return false;
        }
        depth++;
        bytes += callBytes;
        return true;
    }

    public synchronized void leave(long callBytes) {
        depth--;
        bytes -= callBytes;
    }

    public void park(Waiter w) {
        parked.add(w);
    }

    public void unpark(Waiter w) {
        parked.remove(w);
    }

    /** Wakes every parked call (each re-checks whether it can go now, and parks again if not). */
    public void wakeAll() {
        Waiter w;
        while ((w = parked.poll()) != null) {
            w.wake();
        }
    }

    public boolean hasParked() {
        return !parked.isEmpty();
    }

    public synchronized int depth() {
        return depth;
    }

    public synchronized long bytes() {
        return bytes;
    }

    public int maxCalls() {
        return maxCalls;
    }
}
