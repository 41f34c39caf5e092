package io.paymentledger.cli.bench;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;

/**
 * `./ledger bench --preload N`: before the measured runs, bring the ledger to N transfers, counted from what it already
 * holds, so that the runs measure a ledger of that size (issue #24: a cost that does not grow with the ledger).
 *
 * <p>Through the API, not behind the writer's back: the journal is hash-chained (every batch's hash covers its rows),
 * the leader keeps the accounts and the journal head in memory, and {@code ./ledger verify} must still pass afterwards;
 * rows COPied into the tables would be neither in the chain nor in the leader's state. So the preload is the bench's own
 * load at its largest shape: {@link #BATCH} transfers per CreateTransfers, {@link #IN_FLIGHT} requests in flight, sent
 * to the leading node directly (not through the router), {@link #SCENARIO} over {@link #ACCOUNTS} fresh accounts (a few
 * accounts with long histories, most with short ones: what the history pages are read on).
 *
 * <p>This class holds what can be decided without a deployment: parsing the option, counting what the ledger holds,
 * and the plan of how many to write in which requests.
 */
public final class Preload {

    /** Transfers per CreateTransfers request (the API takes at most 8190). */
    public static final int BATCH = 8000;
    /** Requests in flight: the bench's default for its 8,000 shape (enough to keep the writer's batches full). */
    public static final int IN_FLIGHT = 4;
    /** Fresh accounts of one preload pass. */
    public static final int ACCOUNTS = 10_000;
    /** How the preload's transfers are spread over its accounts. */
    public static final Bench.Scenario SCENARIO = Bench.Scenario.ZIPF;
    /** A sanity bound on N (a billion transfers is hundreds of GB of PostgreSQL, times three sites). */
    public static final long MAX = 1_000_000_000L;
    /** Passes at most: the next pass writes what the previous one did not (failed calls), counted again. */
    public static final int PASSES_MAX = 3;

    private Preload() {}

    /**
     * The option's value: a whole number of transfers {@code >= 0}, digits with optional {@code _} or {@code ,} between
     * them, optionally followed by {@code k} (thousand) or {@code M} (million): {@code 1000000}, {@code 1_000_000},
     * {@code 1M}, {@code 250k}, {@code 2.5M}.
     */
    public static long parseCount(String s) {
        String bad = "--preload takes a whole number of transfers >= 0 (e.g. 1000000, 1_000_000, 250k or 1M), not '" + s + "'";
        if (s == null || s.isBlank()) {
            throw new IllegalArgumentException(bad);
        }
        String t = s.trim().replace("_", "").replace(",", "");
        long unit = 1;
        char last = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
        if (last == 'k' || last == 'K') {
            unit = 1_000;
        } else if (last == 'm' || last == 'M') {
            unit = 1_000_000;
        }
        if (unit != 1) {
            t = t.substring(0, t.length() - 1);
        }
        if (t.isEmpty() || !t.matches("[0-9]+(\\.[0-9]+)?")) {
            throw new IllegalArgumentException(bad);
        }
        java.math.BigDecimal v = new java.math.BigDecimal(t).multiply(java.math.BigDecimal.valueOf(unit));
        if (v.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException(bad);
        }
        if (v.compareTo(java.math.BigDecimal.valueOf(MAX)) > 0) {
            throw new IllegalArgumentException("--preload must be at most " + MAX + " transfers, not " + s);
        }
        return v.longValueExact();
    }

    /**
     * How many transfers the ledger holds: the sum of its journal's batch counts (what {@code ./ledger verify} checks
     * against the rows; far fewer rows to read than the transfer table).
     */
    public static long transfersInLedger(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select coalesce(sum(transfer_count), 0) from journal_batch")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** What a preload to {@code target} transfers does on a ledger that holds {@code present}. */
    public record Plan(long target, long present) {

        public Plan {
            if (target < 0 || present < 0) {
                throw new IllegalArgumentException("transfers cannot be negative");
            }
        }

        /** Transfers to write: none when the ledger already holds the target or more. */
        public long toWrite() {
            return Math.max(0, target - present);
        }

        public boolean nothingToDo() {
            return toWrite() == 0;
        }

        /** CreateTransfers requests: every one {@link #BATCH} transfers but the last, which holds the rest. */
        public long requests() {
            return (toWrite() + BATCH - 1) / BATCH;
        }

        /** Transfers in request {@code k} (0-based) of {@link #requests()}. */
        public int requestSize(long k) {
            if (k < 0 || k >= requests()) {
                throw new IndexOutOfBoundsException("request " + k + " of " + requests());
            }
            return (int) Math.min(BATCH, toWrite() - k * BATCH);
        }

        /** The line printed before the preload starts (or instead of it). */
        public String describe() {
            if (nothingToDo()) {
                return String.format(Locale.ROOT, "preload: the ledger already holds %,d transfers (>= %,d): nothing to write",
                        present, target);
            }
            return String.format(Locale.ROOT, "preload: the ledger holds %,d transfers; writing %,d more to reach %,d"
                    + " (%,d CreateTransfers of up to %,d, %d in flight, %s over %,d fresh accounts, to the leader directly)",
                    present, toWrite(), target, requests(), BATCH, IN_FLIGHT, SCENARIO.label(), ACCOUNTS);
        }
    }

    /** The final line: what the ledger holds now, and how fast the preload wrote. */
    public static String summary(long inLedger, long written, double seconds) {
        return String.format(Locale.ROOT, "preload: %,d transfers in the ledger (%,d written in %.1f s, %,.0f/s)", inLedger, written,
                seconds, seconds > 0 ? written / seconds : 0);
    }
}
