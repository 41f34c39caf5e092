package io.paymentledger.ledger.write;

import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.payment.PaymentState;
import io.paymentledger.ledger.payment.PaymentView;
import io.paymentledger.ledger.transfer.PendingHold;
import io.paymentledger.ledger.transfer.TransferRow;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one write batch sees and changes: the accounts, transfers, holds and payments it touches (from the
 * writer's memory or loaded from the database as its commands arrive), the rows it adds, and an undo log that
 * rolls a failed linked chain back. {@link #seal} freezes what it writes: the next batch changes the same account
 * objects while this one commits.
 *
 * <p>Only the writer's applying thread uses a batch; the committing thread gets its {@link Sealed} form.
 */
final class Batch {

    final long seq;
    final long epoch;

    /** Accounts by id, from the cache or the database; a null value means "known not to exist". */
    final Map<String, AccountState> accounts = new HashMap<>();
    /** Transfers that existed before this batch, by id (only the ids this batch asks about). */
    final Map<String, TransferRow> existingTransfers = new HashMap<>();
    /** Holds this batch may act on, by pending transfer id. */
    final Map<String, PendingHold> holds = new HashMap<>();
    /** Payments this batch may act on, by payment id. */
    final Map<String, PaymentState> payments = new HashMap<>();

    final List<AccountState> newAccounts = new ArrayList<>();
    final Map<String, TransferRow> newTransfers = new HashMap<>();
    final List<TransferRow> newTransferRows = new ArrayList<>();
    final Set<AccountState> touchedAccounts = new LinkedHashSet<>();
    final Set<PendingHold> touchedHolds = new LinkedHashSet<>();
    final Set<PaymentState> touchedPayments = new LinkedHashSet<>();

    /** Each touched existing account's balance before this batch first changed it (for the zero-sum assertion). */
    private final Map<AccountState, Balance> balanceBefore = new HashMap<>();
    private final List<Runnable> undo = new ArrayList<>();

    long firstTimestampNs;
    long lastTimestampNs;

    Batch(long seq, long epoch) {
        this.seq = seq;
        this.epoch = epoch;
    }

    /** A pending transfer's hold as written: its values when the batch was sealed. */
    record HoldRow(String id, long remaining, long posted, short state, long expiresAtNs) {}

    /**
     * Existing accounts' balances after the batch, as the arrays of one {@code update ... from unnest(...)}:
     * {@code ids[i]} has {@code debitsPending[i]}, ...
     */
    record Balances(Object[] ids, Object[] debitsPending, Object[] debitsPosted, Object[] creditsPending,
            Object[] creditsPosted) {

        static Balances of(List<AccountState> accounts) {
            int n = accounts.size();
            Balances b = new Balances(new Object[n], new Object[n], new Object[n], new Object[n], new Object[n]);
            for (int i = 0; i < n; i++) {
                AccountState a = accounts.get(i);
                Balance bal = a.balance();
                b.ids[i] = a.id();
                b.debitsPending[i] = bal.debitsPending();
                b.debitsPosted[i] = bal.debitsPosted();
                b.creditsPending[i] = bal.creditsPending();
                b.creditsPosted[i] = bal.creditsPosted();
            }
            return b;
        }

        int size() {
            return ids.length;
        }
    }

    /**
     * What a batch's open transaction holds row locks on until its COMMIT returns: the accounts, holds and payments it
     * touched (by id). The batch after it writes none of these before that COMMIT: on the two commit lanes, its
     * rows go in while this batch's COMMIT (or even its own rows) may still be under way, and a row lock taken by the
     * later batch first would make this one wait in PostgreSQL for a transaction that itself waits, in Java, for this
     * one's answer — a deadlock no lock timeout of PostgreSQL's own can see (issue #18).
     */
    record Touched(Set<String> accounts, Set<String> holds, Set<String> payments) {
        static final Touched NOTHING = new Touched(Set.of(), Set.of(), Set.of());
    }

    /**
     * The batch as it is written, immutable: new accounts (copies), transfer rows; the rows it updates in two parts,
     * {@code free} — rows the batch before it (still committing) did not touch, written with the new rows at once —
     * and {@code locked} — rows it did touch (locked until its COMMIT returns; its new accounts and holds not even
     * visible before), written only after it: the touched existing accounts' balances after the batch, holds and
     * payments as they were at sealing; the journal row; and {@code touched}, what the batch after it must leave for
     * later.
     */
    record Sealed(long seq, long epoch, long firstTimestampNs, long lastTimestampNs, List<AccountState> newAccounts,
            List<TransferRow> transfers, Balances freeBalances, Balances lockedBalances, List<HoldRow> freeHolds,
            List<HoldRow> lockedHolds, List<PaymentView> freePayments, List<PaymentView> lockedPayments, byte[] prevHash,
            byte[] hash, io.paymentledger.ledger.journal.CheckpointSigner.Checkpoint checkpoint, Touched touched) {}

    /**
     * Freezes what this batch writes and puts everything it created or changed into the writer's memory, stamped
     * with this batch, so the next batch (applied while this one commits) sees it and nothing of it is evicted
     * before the commit.
     *
     * @param before what the batch still committing before this one touched ({@link Touched#NOTHING} when none is)
     */
    Sealed seal(byte[] prevHash, byte[] hash, io.paymentledger.ledger.journal.CheckpointSigner.Checkpoint checkpoint,
            WriterMemory memory, Touched before) {
        java.util.Set<AccountState> created = new java.util.HashSet<>(newAccounts);
        List<AccountState> accountsCopy = new ArrayList<>(newAccounts.size());
        for (AccountState a : newAccounts) {
            accountsCopy.add(a.copy());
        }
        List<AccountState> free = new ArrayList<>(touchedAccounts.size());
        List<AccountState> locked = new ArrayList<>();
        Set<String> accountIds = new java.util.HashSet<>(touchedAccounts.size() * 2);
        for (AccountState a : touchedAccounts) {
            memory.accounts.put(a.id(), a, seq);
            accountIds.add(a.id());
            if (created.contains(a)) {
                continue;
            }
            (before.accounts().contains(a.id()) ? locked : free).add(a);
        }
        for (TransferRow t : newTransferRows) {
            memory.transfers.put(t.id(), t, seq);
        }
        List<HoldRow> freeHolds = new ArrayList<>(touchedHolds.size());
        List<HoldRow> lockedHolds = new ArrayList<>();
        Set<String> holdIds = new java.util.HashSet<>(touchedHolds.size() * 2);
        for (PendingHold h : touchedHolds) {
            String id = h.transfer().id();
            memory.holds.put(id, h, seq);
            holdIds.add(id);
            (before.holds().contains(id) ? lockedHolds : freeHolds)
                    .add(new HoldRow(id, h.remaining(), h.posted(), h.state().code, h.expiresAtNs()));
        }
        List<PaymentView> freePayments = new ArrayList<>(touchedPayments.size());
        List<PaymentView> lockedPayments = new ArrayList<>();
        Set<String> paymentIds = new java.util.HashSet<>(touchedPayments.size() * 2);
        for (PaymentState p : touchedPayments) {
            memory.payments.put(p.id(), p, seq);
            paymentIds.add(p.id());
            (before.payments().contains(p.id()) ? lockedPayments : freePayments).add(p.view());
        }
        return new Sealed(seq, epoch, firstTimestampNs, lastTimestampNs, List.copyOf(accountsCopy), List.copyOf(newTransferRows),
                Balances.of(free), Balances.of(locked), freeHolds, lockedHolds, freePayments, lockedPayments, prevHash, hash,
                checkpoint, new Touched(accountIds, holdIds, paymentIds));
    }

    /** Items of commands applied into this batch (each command counts its size). */
    int items;

    boolean hasWrites() {
        return !newAccounts.isEmpty() || !newTransferRows.isEmpty();
    }

    /** A transfer with this id, written before or earlier in this batch. */
    TransferRow transfer(String id) {
        TransferRow t = newTransfers.get(id);
        return t != null ? t : existingTransfers.get(id);
    }

    AccountState account(String id) {
        return accounts.get(id);
    }

    /**
     * The double-entry invariant at the money boundary, checked before the batch is written: per currency, what the
     * batch changed in all balances sums to zero (posted and pending alike). A violation is a ledger bug; the writer
     * stops rather than write it.
     */
    void assertBalanced() {
        Map<String, long[]> sums = new HashMap<>();
        for (AccountState a : touchedAccounts) {
            Balance after = a.balance();
            Balance before = balanceBefore.getOrDefault(a, Balance.ZERO);
            long[] s = sums.computeIfAbsent(a.currency(), c -> new long[2]);
            s[0] += (after.creditsPosted() - before.creditsPosted()) - (after.debitsPosted() - before.debitsPosted());
            s[1] += (after.creditsPending() - before.creditsPending()) - (after.debitsPending() - before.debitsPending());
        }
        for (Map.Entry<String, long[]> e : sums.entrySet()) {
            if (e.getValue()[0] != 0 || e.getValue()[1] != 0) {
                throw new LedgerBug("batch " + seq + " does not sum to zero in " + e.getKey() + ": posted "
                        + e.getValue()[0] + ", pending " + e.getValue()[1]);
            }
        }
    }

    // ---- changes, each recorded in the undo log ----

    int mark() {
        return undo.size();
    }

    /** Undoes every change made since {@code mark}, newest first. */
    void rollbackTo(int mark) {
        for (int i = undo.size() - 1; i >= mark; i--) {
            undo.remove(i).run();
        }
    }

    /**
     * A chain (or a single item) completed: its changes stay. The log is kept, so the whole batch can still be
     * undone ({@code rollbackTo(0)}) when it must not be written as applied (a caller's deadline passed before it
     * was sealed).
     */
    void commitChain() {
        // nothing to forget: marks are positions in the batch's log
    }

    void touch(AccountState a) {
        Balance before = a.balance();
        balanceBefore.putIfAbsent(a, before);
        boolean wasTouched = !touchedAccounts.add(a);
        undo.add(() -> {
            a.restore(before);
            if (!wasTouched) {
                touchedAccounts.remove(a);
            }
        });
    }

    void addAccount(AccountState a) {
        accounts.put(a.id(), a);
        newAccounts.add(a);
        touchedAccounts.add(a);
        undo.add(() -> {
            accounts.put(a.id(), null);
            newAccounts.remove(newAccounts.size() - 1);
            touchedAccounts.remove(a);
        });
    }

    void addTransfer(TransferRow t) {
        newTransfers.put(t.id(), t);
        newTransferRows.add(t);
        undo.add(() -> {
            newTransfers.remove(t.id());
            newTransferRows.remove(newTransferRows.size() - 1);
        });
    }

    void addHold(PendingHold h) {
        String id = h.transfer().id();
        holds.put(id, h);
        touchedHolds.add(h);
        undo.add(() -> {
            holds.remove(id);
            touchedHolds.remove(h);
        });
    }

    void touch(PendingHold h) {
        PendingHold.Snapshot before = h.snapshot();
        boolean wasTouched = !touchedHolds.add(h);
        undo.add(() -> {
            h.restore(before);
            if (!wasTouched) {
                touchedHolds.remove(h);
            }
        });
    }

    void addPayment(PaymentState p) {
        payments.put(p.id(), p);
        touchedPayments.add(p);
        undo.add(() -> {
            payments.remove(p.id());
            touchedPayments.remove(p);
        });
    }

    void touch(PaymentState p) {
        PaymentView before = p.view();
        boolean wasTouched = !touchedPayments.add(p);
        undo.add(() -> {
            p.restore(before);
            if (!wasTouched) {
                touchedPayments.remove(p);
            }
        });
    }
}
