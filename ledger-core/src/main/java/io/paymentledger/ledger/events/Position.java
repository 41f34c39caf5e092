package io.paymentledger.ledger.events;

/**
 * A place in a cell's event stream: after the journal row with ledger timestamp {@code timestampNs}, written by
 * batch {@code batchSeq}. Timestamps are unique across accounts and transfers and increase in commit order (one
 * writer assigns them, batches commit in the order they were applied, also across failovers: a new term goes on
 * after the journal's last timestamp), so the timestamp alone orders events; the batch number lets the account
 * rows be read by their existing index (account_batch: batch_seq, created_ns). {@link #START} is before everything.
 */
public record Position(long batchSeq, long timestampNs) implements Comparable<Position> {

    public static final Position START = new Position(0, 0);

    @Override
    public int compareTo(Position o) {
        return Long.compare(timestampNs, o.timestampNs);
    }

    public boolean isAfter(Position o) {
        return compareTo(o) > 0;
    }
}
