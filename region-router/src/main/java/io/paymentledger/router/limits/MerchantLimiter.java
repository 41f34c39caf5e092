package io.paymentledger.router.limits;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Calls in the router per merchant, capped: one merchant that saturates its share cannot take the others'.
 * A call holds its permit from arrival to its last byte, also while it waits for a leader.
 */
public final class MerchantLimiter {

    private final int perMerchant;
    private final ConcurrentHashMap<String, Integer> inFlight = new ConcurrentHashMap<>();

    public MerchantLimiter(int perMerchant) {
        this.perMerchant = perMerchant;
    }

    public int perMerchant() {
        return perMerchant;
    }

    /** Takes a permit for {@code merchant}; false (and nothing taken) when it is at its limit. */
    public boolean tryAcquire(String merchant) {
        boolean[] taken = {false};
        inFlight.compute(merchant, (k, n) -> {
            int now = n == null ? 0 : n;
            if (now >= perMerchant) {
                return n;
            }
            taken[0] = true;
            return now + 1;
        });
        return taken[0];
    }

    public void release(String merchant) {
        inFlight.computeIfPresent(merchant, (k, n) -> n <= 1 ? null : n - 1);
    }

    public int inFlight(String merchant) {
        return inFlight.getOrDefault(merchant, 0);
    }

    /** Merchants with calls in the router now, and how many. */
    public Map<String, Integer> snapshot() {
        return Map.copyOf(inFlight);
    }
}
