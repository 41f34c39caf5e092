package io.paymentledger.ledger.write;

import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.payment.PaymentState;
import io.paymentledger.ledger.transfer.PendingHold;
import io.paymentledger.ledger.transfer.TransferRow;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the single writer knows for the current term, ahead of the database: the accounts, transfers, holds and
 * payments that this term's batches loaded, created or changed, including those of a batch whose commit is still
 * under way. The next batch is applied on top of it while that commit waits for the synchronous standby, so the
 * database (which shows only committed batches) is consulted only for what is not here.
 *
 * <p>Sound only because one writer owns the ledger while it leads: it is emptied whenever that may not hold (a
 * failed commit, whose outcome is unknown; a new term). Each kind is bounded (least recently used out), but an
 * entry used by a batch that has not committed yet is never evicted, whatever the bound: the database's copy of it
 * is stale until that commit. Only the writer's applying thread reads and changes it; the committing thread only
 * advances {@link #committed(long)}.
 */
final class WriterMemory {

    /** One kind of object, by id, each stamped with the last batch that used it. */
    static final class Kind<V> {
        /** Mutable: restamping on every use must not allocate (it happens for every account of every transfer). */
        private static final class Stamped<V> {
            final V value;
            long seq;

            Stamped(V value, long seq) {
                this.value = value;
                this.seq = seq;
            }
        }

        private final LinkedHashMap<String, Stamped<V>> map;
        private final WriterMemory owner;

        Kind(WriterMemory owner, int entriesMax) {
            this.owner = owner;
            this.map = new LinkedHashMap<>(1024, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Stamped<V>> eldest) {
                    // Only what a committed batch used last may go: its database row is current.
                    return size() > entriesMax && eldest.getValue().seq <= owner.committedSeq;
                }
            };
        }

        /** The object, stamped as used by batch {@code seq}; null when not here (maybe in the database). */
        V get(String id, long seq) {
            Stamped<V> e = map.get(id);
            if (e == null) {
                return null;
            }
            if (e.seq < seq) {
                e.seq = seq;
            }
            return e.value;
        }

        boolean contains(String id) {
            return map.containsKey(id);
        }

        void put(String id, V value, long seq) {
            map.put(id, new Stamped<>(value, seq));
        }

        void remove(String id) {
            map.remove(id);
        }

        int size() {
            return map.size();
        }
    }

    private volatile long committedSeq;
    final Kind<AccountState> accounts;
    final Kind<TransferRow> transfers;
    final Kind<PendingHold> holds;
    final Kind<PaymentState> payments;

    WriterMemory(int accountsMax, int transfersMax, int holdsMax, int paymentsMax) {
        this.accounts = new Kind<>(this, accountsMax);
        this.transfers = new Kind<>(this, transfersMax);
        this.holds = new Kind<>(this, holdsMax);
        this.payments = new Kind<>(this, paymentsMax);
    }

    /** Batches up to {@code seq} are durable: what only they used may be evicted. */
    void committed(long seq) {
        committedSeq = Math.max(committedSeq, seq);
    }

    /** Forgets everything (a failed commit, a new term); the journal head says where the database is. */
    void clear(long committedSeq) {
        this.committedSeq = committedSeq;
        accounts.map.clear();
        transfers.map.clear();
        holds.map.clear();
        payments.map.clear();
    }
}
