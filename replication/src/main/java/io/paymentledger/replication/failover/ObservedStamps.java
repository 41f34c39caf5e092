package io.paymentledger.replication.failover;

import java.util.HashMap;
import java.util.Map;

/**
 * How recent another process's report is, judged on this process's clock alone (issue #20, item 10): a report counts
 * as made when this process first saw its stamp change, not at the stamp it carries, which was read from another
 * host's clock. Comparing the two clocks made a witness whose clock ran 3 s behind look as if its WAL keeper had not
 * reported for 3 s, which blocked every promotion; a clock ahead made a dead keeper look alive.
 *
 * <p>A reporter that stops shows the same stamp from then on, so its report ages on this clock from the moment it was
 * last seen to change; the age is over-estimated by at most one read interval, never under-estimated by the other
 * host's skew. A report seen for the first time has no known age: it counts as made at 0 (not fresh) until its stamp
 * changes, a report interval later.
 */
final class ObservedStamps {

    private record Seen(long stamp, long atMs) {}

    private final Map<String, Seen> seen = new HashMap<>();

    /**
     * When {@code key}'s report with {@code stamp} was made, on this process's clock ({@code nowMs}): the instant its
     * stamp was first seen changed; 0 for no report (stamp 0) and until a change was seen.
     */
    synchronized long observedAt(String key, long stamp, long nowMs) {
        if (stamp <= 0) {
            seen.remove(key);
            return 0;
        }
        Seen s = seen.get(key);
        if (s == null) {
            seen.put(key, new Seen(stamp, 0));
            return 0;
        }
        if (s.stamp() != stamp) {
            s = new Seen(stamp, nowMs);
            seen.put(key, s);
        }
        return s.atMs();
    }
}
