package io.paymentledger.ledger.write;

import io.paymentledger.ledger.account.AccountSpec;
import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.journal.JournalHash;
import io.paymentledger.ledger.payment.PaymentRole;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.transfer.TransferFlags;
import io.paymentledger.ledger.transfer.TransferSpec;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The single writer of a region: takes commands from a bounded queue, applies as many as fit in one batch in
 * memory ({@link LedgerRules}), writes the batch in ONE transaction with ONE synchronous commit, then answers
 * every caller. Nothing is acknowledged before that commit returned.
 *
 * <p>It writes only while it holds an epoch ({@link #lead(long)}); {@link #stepDown(String)} stops it at
 * once. A failed commit is a fault: the batch's callers get UNAVAILABLE (their retries are safe, ids are
 * idempotency keys), the in-memory state is dropped and rebuilt from the database, and the fault listener
 * decides whether this node may go on leading.
 */
public final class BatchWriter implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(BatchWriter.class.getName());

    /** Limits of the write path. */
    public record Config(int queueCommandsMax, int batchItemsMax, int accountCacheMax, long expiryScanIntervalMs,
            int expiryBatchMax) {

        public static Config defaults() {
            return new Config(4096, 16_380, 200_000, 1000, 2000);
        }

        public Config {
            if (queueCommandsMax < 1 || batchItemsMax < 8190 || accountCacheMax < 1 || expiryScanIntervalMs < 1 || expiryBatchMax < 1) {
                throw new IllegalArgumentException("writer limits out of range: " + this
                        + " (a batch must hold at least one full request of 8190 items)");
            }
        }
    }

    /** Told when a commit fails in a way that leaves the database's state uncertain. */
    public interface FaultListener {
        void onWriteFault(String reason, Throwable cause);
    }

    private final WriterStore store;
    private final Config config;
    private final LedgerRules rules;
    private final AccountCache cache;
    private final BlockingQueue<WriteCommand> queue;
    private final FaultListener faults;
    private volatile io.paymentledger.ledger.journal.CheckpointSigner signer = io.paymentledger.ledger.journal.CheckpointSigner.NONE;
    private final Thread thread;
    private final AtomicLong committedBatches = new AtomicLong();
    private final AtomicLong committedTransfers = new AtomicLong();

    private volatile long epoch;
    private volatile boolean leading;
    /** Writes commit only before this instant (System.nanoTime scale): the leader's lease. */
    private volatile long leaseUntilNanos = Long.MAX_VALUE;
    /** A new term began: the in-memory state must be rebuilt from the database first. */
    private volatile boolean newTerm = true;
    private volatile boolean busy;
    private volatile String notLeadingReason = "starting";
    private volatile boolean closed;
    /** Set when the in-memory state must be rebuilt from the database before the next batch. */
    private boolean stale = true;
    private long journalSeq;
    private byte[] journalHash;
    private long nextExpiryScanNanos;

    public BatchWriter(Database database, String region, Config config, LongSupplier wallClockNanos, FaultListener faults) {
        this.store = new WriterStore(database, region);
        this.config = config;
        this.rules = new LedgerRules(wallClockNanos);
        this.cache = new AccountCache(config.accountCacheMax());
        this.queue = new ArrayBlockingQueue<>(config.queueCommandsMax());
        this.faults = faults;
        this.thread = Thread.ofPlatform().name("ledger-writer-" + region).daemon(true).unstarted(this::run);
        this.thread.start();
    }

    /** Starts writing under {@code newEpoch}, which must already be stored in the database; no lease limit. */
    public void lead(long newEpoch) {
        lead(newEpoch, Long.MAX_VALUE);
    }

    /**
     * Starts writing under {@code newEpoch} (already stored in the database) until {@code leaseUntilNanos}
     * (System.nanoTime scale) unless the lease is extended.
     */
    public void lead(long newEpoch, long leaseUntilNanos) {
        if (newEpoch < epoch) {
            throw new IllegalArgumentException("epoch may not go back: " + epoch + " -> " + newEpoch);
        }
        this.leaseUntilNanos = leaseUntilNanos;
        if (newEpoch != epoch) {
            newTerm = true;
        }
        this.epoch = newEpoch;
        this.leading = true;
        LOG.info(() -> "writer: leading with epoch " + newEpoch);
    }

    /** Who signs journal checkpoints from now on. */
    public void checkpointSigner(io.paymentledger.ledger.journal.CheckpointSigner signer) {
        this.signer = signer;
    }

    /** Extends the lease (the leader proved it still holds leadership). */
    public void extendLease(long untilNanos) {
        this.leaseUntilNanos = untilNanos;
    }

    private boolean leaseValid() {
        return System.nanoTime() - leaseUntilNanos < 0;
    }

    /** Nothing queued and no batch being written. */
    public boolean isIdle() {
        return !busy && queue.isEmpty();
    }

    /** Stops accepting and applying writes; queued commands are answered UNAVAILABLE. */
    public void stepDown(String reason) {
        boolean was = leading;
        leading = false;
        notLeadingReason = reason;
        if (was) {
            LOG.warning(() -> "writer: stopped writing: " + reason);
        }
        drainQueue(new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: " + reason));
    }

    /** Leading and within the lease. */
    public boolean isLeading() {
        return leading && leaseValid();
    }

    public long epoch() {
        return epoch;
    }

    public long committedBatches() {
        return committedBatches.get();
    }

    public long committedTransfers() {
        return committedTransfers.get();
    }

    public int queueDepth() {
        return queue.size();
    }

    /** Queues a command; fails it at once when this node does not lead or the queue is full. */
    public void submit(WriteCommand cmd) {
        if (!isLeading()) {
            cmd.fail(new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: " + notLeadingReason));
            return;
        }
        if (!queue.offer(cmd)) {
            cmd.fail(new WriteRejected(WriteRejected.Reason.OVERLOADED,
                    "write queue full (" + config.queueCommandsMax() + " requests); retry after a short pause"));
        }
    }

    private void run() {
        List<WriteCommand> batch = new ArrayList<>();
        while (!closed) {
            try {
                WriteCommand first = queue.poll(Math.min(100, config.expiryScanIntervalMs()), TimeUnit.MILLISECONDS);
                if (!leading) {
                    if (first != null) {
                        first.fail(new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: " + notLeadingReason));
                    }
                    continue;
                }
                batch.clear();
                int items = 0;
                if (first != null) {
                    batch.add(first);
                    items = first.size();
                    WriteCommand next;
                    while ((next = queue.peek()) != null && items + next.size() <= config.batchItemsMax()) {
                        batch.add(queue.poll());
                        items += next.size();
                    }
                }
                boolean scanDue = System.nanoTime() >= nextExpiryScanNanos;
                if (!batch.isEmpty() || scanDue) {
                    busy = true;
                    try {
                        process(batch, scanDue);
                    } finally {
                        busy = false;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (LedgerBug bug) {
                LOG.log(Level.SEVERE, "writer: LEDGER INVARIANT BROKEN, nothing of the batch was written; stepping down", bug);
                failAll(batch, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "internal error: the batch was refused by a ledger"
                        + " invariant check; nothing was written"));
                stale = true;
                store.reset();
                stepDown("ledger invariant broken: " + bug.getMessage());
                faults.onWriteFault("ledger invariant broken: " + bug.getMessage(), bug);
            } catch (RuntimeException | Error e) {
                LOG.log(Level.SEVERE, "writer: unexpected failure; batch answered UNAVAILABLE", e);
                failAll(batch, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "internal error: " + e));
                stale = true;
                store.reset();
            }
        }
    }

    private void process(List<WriteCommand> commands, boolean scanExpiries) {
        long now = System.nanoTime();
        List<WriteCommand> live = new ArrayList<>(commands.size());
        for (WriteCommand c : commands) {
            if (c.deadlineNanos() != 0 && now - c.deadlineNanos() >= 0) {
                c.fail(new WriteRejected(WriteRejected.Reason.DEADLINE_EXCEEDED, "deadline passed before the write was applied; nothing was written"));
            } else {
                live.add(c);
            }
        }
        long batchEpoch = epoch;
        try {
            if (!leaseValid()) {
                failAll(live, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: lease expired"));
                return;
            }
            if (newTerm) {
                // A new term: whatever this writer held from an earlier one (cache, connection) may be stale,
                // e.g. the database was restarted as a standby and promoted since.
                newTerm = false;
                stale = true;
                store.reset();
            }
            if (stale) {
                rebuild();
            }
            Batch b = new Batch(journalSeq + 1, batchEpoch);
            List<String> dueHolds = List.of();
            if (scanExpiries) {
                nextExpiryScanNanos = now + config.expiryScanIntervalMs() * 1_000_000L;
                dueHolds = store.dueHolds(rules.nowNs(), config.expiryBatchMax());
            }
            prefetch(b, live, dueHolds);
            rules.expireDueHolds(b);
            Object[] answers = new Object[live.size()];
            for (int i = 0; i < live.size(); i++) {
                answers[i] = switch (live.get(i)) {
                    case WriteCommand.CreateAccounts c -> rules.createAccounts(c, b);
                    case WriteCommand.CreateTransfers c -> rules.createTransfers(c, b);
                    case WriteCommand.Payment c -> rules.payment(c, b);
                };
            }
            if (b.hasWrites()) {
                if (!leaseValid() || batchEpoch != epoch || !leading) {
                    // Never commit after the lease ran out: another region may be taking over by now.
                    stale = true;
                    failAll(live, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: lease expired before commit"));
                    return;
                }
                b.assertBalanced();
                if (b.newTransferRows.size() > config.batchItemsMax() + config.expiryBatchMax()) {
                    throw new LedgerBug("batch " + b.seq + " holds " + b.newTransferRows.size() + " transfers, over its limit of "
                            + (config.batchItemsMax() + config.expiryBatchMax()) + " (batchItemsMax + expiryBatchMax)");
                }
                byte[] hash = JournalHash.next(journalHash, b.seq, b.epoch, b.newAccounts, b.newTransferRows);
                try {
                    store.commit(b, journalHash, hash, signer.sign(b.seq, hash));
                } catch (WriterStore.Fenced fenced) {
                    stale = true;
                    stepDown(fenced.getMessage());
                    failAll(live, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: " + fenced.getMessage()));
                    faults.onWriteFault(fenced.getMessage(), fenced);
                    return;
                }
                journalSeq = b.seq;
                journalHash = hash;
                for (AccountState a : b.touchedAccounts) {
                    cache.put(a);
                }
                committedBatches.incrementAndGet();
                committedTransfers.addAndGet(b.newTransferRows.size());
            }
            for (int i = 0; i < live.size(); i++) {
                complete(live.get(i), answers[i]);
            }
        } catch (SQLException | org.jooq.exception.DataAccessException e) {
            // The commit's outcome is unknown: drop everything in memory and rebuild from the database.
            stale = true;
            store.reset();
            String state = e instanceof SQLException se ? se.getSQLState() : ((org.jooq.exception.DataAccessException) e).sqlState();
            String reason = "database write failed (" + state + "): " + e.getMessage();
            LOG.warning(() -> "writer: " + reason + "; " + live.size() + " requests answered UNAVAILABLE");
            failAll(live, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, reason, e));
            faults.onWriteFault(reason, e);
        }
    }

    @SuppressWarnings("unchecked")
    private static void complete(WriteCommand c, Object answer) {
        switch (c) {
            case WriteCommand.CreateAccounts a -> a.result().complete((List<AccountResult>) answer);
            case WriteCommand.CreateTransfers t -> t.result().complete((List<TransferResult>) answer);
            case WriteCommand.Payment p -> p.result().complete((PaymentOutcome) answer);
        }
    }

    private void rebuild() throws SQLException {
        cache.clear();
        WriterStore.JournalHead head = store.loadHead();
        journalSeq = head.seq();
        journalHash = head.hash();
        rules.resumeAfter(head.lastTimestampNs());
        stale = false;
        LOG.info(() -> "writer: state loaded from the database (journal at batch " + head.seq() + ")");
    }

    private void prefetch(Batch b, List<WriteCommand> commands, List<String> dueHolds) throws SQLException {
        Set<String> transferIds = new HashSet<>();
        Set<String> holdIds = new HashSet<>(dueHolds);
        Set<String> paymentIds = new HashSet<>();
        Set<String> accountIds = new HashSet<>();
        for (WriteCommand c : commands) {
            switch (c) {
                case WriteCommand.CreateAccounts a -> {
                    for (int i = 0; i < a.accounts().size(); i++) {
                        if (a.preChecked()[i] == null) {
                            AccountSpec spec = a.accounts().get(i);
                            accountIds.add(spec.id());
                        }
                    }
                }
                case WriteCommand.CreateTransfers t -> {
                    for (int i = 0; i < t.transfers().size(); i++) {
                        if (t.preChecked()[i] == null) {
                            collect(t.transfers().get(i), transferIds, holdIds, accountIds);
                        }
                    }
                }
                case WriteCommand.Payment p -> {
                    collect(p.transfer(), transferIds, holdIds, accountIds);
                    paymentIds.add(p.transfer().paymentId());
                    if (p.role() == PaymentRole.AUTHORIZE) {
                        holdIds.remove(p.transfer().id());
                    }
                }
            }
        }
        store.prefetch(b, transferIds, holdIds, paymentIds, accountIds, cache);
    }

    private static void collect(TransferSpec t, Set<String> transferIds, Set<String> holdIds, Set<String> accountIds) {
        transferIds.add(t.id());
        if (TransferFlags.resolvesPending(t.flags())) {
            holdIds.add(t.pendingId());
            transferIds.add(t.pendingId());
        }
        if (!t.debitAccountId().isEmpty()) {
            accountIds.add(t.debitAccountId());
        }
        if (!t.creditAccountId().isEmpty()) {
            accountIds.add(t.creditAccountId());
        }
    }

    private static void failAll(List<WriteCommand> commands, Throwable cause) {
        for (WriteCommand c : commands) {
            c.fail(cause);
        }
    }

    private void drainQueue(Throwable cause) {
        WriteCommand c;
        while ((c = queue.poll()) != null) {
            c.fail(cause);
        }
    }

    @Override
    public void close() {
        closed = true;
        leading = false;
        notLeadingReason = "shutting down";
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        drainQueue(new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: shutting down"));
        store.close();
    }
}
