package io.paymentledger.router.limits;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Calls in the router per merchant, capped: one merchant that saturates its share cannot take the others'.
 * A call holds its permit from arrival to its last byte, also while it waits for a leader. The key is the
 * {@link MerchantResolver}'s: a verified identity, or {@link MerchantResolver#UNVERIFIED} for every API key no node
 * has verified yet, which share one small budget so that they cannot spend a real merchant's.
 */
public final class MerchantLimiter {

    private final int perMerchant;
    private final int unverified;
    private final ConcurrentHashMap<String, Integer> inFlight = new ConcurrentHashMap<>();

    public MerchantLimiter(int perMerchant) {
        this(perMerchant, perMerchant);
    }

    /** @param unverified calls of all not-yet-verified API keys together */
    public MerchantLimiter(int perMerchant, int unverified) {
        this.perMerchant = perMerchant;
        this.unverified = unverified;
    }

    public int perMerchant() {
        return perMerchant;
    }

    /** The cap of {@code merchant}'s key. */
    public int limitFor(String merchant) {
        return MerchantResolver.UNVERIFIED.equals(merchant) ? unverified : perMerchant;
    }

    /** The setting that caps it (for error messages). */
    public String limitName(String merchant) {
        return MerchantResolver.UNVERIFIED.equals(merchant) ? "unverifiedConcurrentCalls" : "merchantConcurrentCalls";
    }

    /** Takes a permit for {@code merchant}; false (and nothing taken) when it is at its limit. */
    public boolean tryAcquire(String merchant) {
        int limit = limitFor(merchant);
        boolean[] taken = {false};
        inFlight.compute(merchant, (k, n) -> {
            int now = n == null ? 0 : n;
            if (now >= limit) {
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
