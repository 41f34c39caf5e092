package io.paymentledger.replication.postgres;

/**
 * A PostgreSQL WAL position ({@code pg_lsn}, written {@code X/Y} in hex), as an unsigned 64-bit number so positions
 * compare and subtract like PostgreSQL's own. Positions are comparable along one history (timelines branch at a
 * switch point; everything before it is shared).
 */
public record Lsn(long value) implements Comparable<Lsn> {

    /** "No position" (PostgreSQL's InvalidXLogRecPtr). */
    public static final Lsn NONE = new Lsn(0);
    /** Parses {@code X/Y}; null or empty gives {@link #NONE}. */
    public static Lsn parse(String text) {
        if (text == null || text.isBlank()) {
            return NONE;
        }
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("not a WAL position (X/Y): " + text);
        }
        long hi = Long.parseLong(text.substring(0, slash).trim(), 16);
        long lo = Long.parseLong(text.substring(slash + 1).trim(), 16);
        return new Lsn((hi << 32) | lo);
    }

    public boolean isNone() {
        return value == 0;
    }

    public boolean atLeast(Lsn other) {
        return Long.compareUnsigned(value, other.value) >= 0;
    }

    /** Bytes from {@code other} to this position (0 when this one is not ahead). */
    public long bytesAhead(Lsn other) {
        return Long.compareUnsigned(value, other.value) > 0 ? value - other.value : 0;
    }

    /** The WAL segment this position is in, for segments of {@code segmentBytes}. */
    public long segment(long segmentBytes) {
        return Long.divideUnsigned(value, segmentBytes);
    }

    @Override
    public int compareTo(Lsn o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return Long.toHexString(value >>> 32).toUpperCase() + "/" + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase();
    }
}
