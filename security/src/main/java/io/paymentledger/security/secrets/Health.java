package io.paymentledger.security.secrets;

import java.time.Instant;

/**
 * Where secret values come from right now.
 *
 * @param state             {@link State#LIVE}: from the source; {@link State#DEGRADED}: the source is unreachable
 *                          and cached values are served; {@link State#UNAVAILABLE}: unreachable and nothing usable
 *                          is cached
 * @param detail            human-readable, e.g. {@code vault unreachable since 2026-01-01T10:00:00Z (ConnectException),
 *                          serving cache until 2026-01-01T11:00:00Z}
 * @param servingCacheUntil with DEGRADED, when the first cached value stops being served; otherwise null
 */
public record Health(State state, String detail, Instant servingCacheUntil) {

    public enum State { LIVE, DEGRADED, UNAVAILABLE }

    public static Health live(String detail) {
        return new Health(State.LIVE, detail, null);
    }

    public boolean isLive() {
        return state == State.LIVE;
    }

    /** {@code STATE: detail}, e.g. {@code DEGRADED: vault unreachable since ..., serving cache until ...}. */
    @Override
    public String toString() {
        return state + ": " + detail;
    }
}
