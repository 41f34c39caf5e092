package io.paymentledger.ledger.write;

import io.paymentledger.ledger.account.AccountSpec;
import io.paymentledger.ledger.journal.CheckpointSigner;
import io.paymentledger.ledger.journal.JournalHash;
import io.paymentledger.ledger.payment.PaymentRole;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.transfer.TransferFlags;
import io.paymentledger.ledger.transfer.TransferSpec;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The single writer of a region, pipelined in two stages that never run the same batch at once:
 *
 * <ol>
 *   <li>the <b>applier</b> takes commands from a bounded queue, gives them what they look at (from the
 *       {@link WriterMemory}, the database for the rest), applies them in memory ({@link LedgerRules}) into the open
 *       batch, and keeps doing so while the committer is busy; when the committer is free it seals the open batch
 *       (asserts it sums to zero, freezes its rows, chains its journal hash) and hands it over;</li>
 *   <li>two <b>commit lanes</b>, each a thread with its own connection, take sealed batches in turn and write each in
 *       ONE transaction with ONE synchronous commit, then answer every caller of that batch. A lane writes its
 *       batch's new rows (accounts, transfers by COPY, new holds and payments) and the existing rows the batch before
 *       it did not touch at once, while the other lane's batch may still be writing or wait for its COMMIT; the rows
 *       the batch before touched (balances, holds, payments: {@link Batch.Touched}), the epoch check, the journal row
 *       and the COMMIT only once the batch before it is answered, because they stay locked until its COMMIT returns.
 *       A lane never waits in PostgreSQL for a row the other lane's batch may still need (that deadlocked the lanes:
 *       one waiting in PostgreSQL, the other in Java, issue #18).</li>
 * </ol>
 *
 * <p>So batch N+1 is applied and its rows written while batch N waits for the synchronous standby, and batches grow
 * to whatever arrived meanwhile. What holds, as before: nothing is acknowledged before its batch's commit returned;
 * answers go out in commit order (batch N+1 commits only after N was answered; a batch that writes nothing, e.g. a
 * retry answered EXISTS from memory, waits for the batches sealed before it); every commit checks the epoch in the
 * database (fencing). A failed commit fails ITS callers with UNAVAILABLE (their retries are safe: ids are
 * idempotency keys); the batch written on top of it is rolled back and, like the open batch, not failed but
 * re-applied from scratch once the state is rebuilt from the database; the fault listener decides whether this node
 * may go on leading.
 *
 * <p>It writes only while it holds an epoch ({@link #lead(long)}); {@link #stepDown(String)} stops it at once.
 */
public final class BatchWriter implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(BatchWriter.class.getName());
    /** The applier looks at the clock (lease, expiry scan) at least this often when idle. */
    private static final long IDLE_WAKE_MS = 100;
    /** How long close() waits for each of the writer's threads to stop. */
    private static final long CLOSE_JOIN_MS = 10_000;

    /**
     * Limits of the write path.
     *
     * @param queueCommandsMax     requests waiting for the writer at most (beyond: RESOURCE_EXHAUSTED)
     * @param batchItemsMax        items (accounts, transfers, payments calls) per batch, one transaction
     * @param accountCacheMax      accounts the writer keeps in memory (more only while uncommitted batches use them)
     * @param expiryScanIntervalMs how often timed-out holds are looked for
     * @param expiryBatchMax       timed-out holds released per batch at most
     * @param recentTransfersMax   transfers (and holds, payments) the writer keeps in memory: retries of recent ids are
     *                             answered without a database lookup
     */
    public record Config(int queueCommandsMax, int batchItemsMax, int accountCacheMax, long expiryScanIntervalMs,
            int expiryBatchMax, int recentTransfersMax, Bounds bounds) {

        public static Config defaults() {
            return new Config(4096, 16_380, 200_000, 1000, 2000, 100_000, Bounds.defaults());
        }

        public Config {
            if (queueCommandsMax < 1 || batchItemsMax < 8190 || accountCacheMax < 1 || expiryScanIntervalMs < 1 || expiryBatchMax < 1
                    || recentTransfersMax < 1 || bounds == null) {
                throw new IllegalArgumentException("writer limits out of range: " + this
                        + " (a batch must hold at least one full request of 8190 items)");
            }
        }

        /** The same limits with other time bounds (tests stall the writer on purpose). */
        public Config withBounds(Bounds b) {
            return new Config(queueCommandsMax, batchItemsMax, accountCacheMax, expiryScanIntervalMs, expiryBatchMax,
                    recentTransfersMax, b);
        }
    }

    /**
     * Every wait of the writer has a bound (issue #18: two commit lanes once waited for each other for good, one in
     * PostgreSQL, one in Java, while the node went on claiming to serve).
     *
     * @param lockTimeoutMs      the writer's sessions wait this long for a row lock at most (PostgreSQL's
     *                           lock_timeout): no legitimate batch waits for a lock at all (the lanes never wait for
     *                           each other's rows; a new leader's epoch update takes milliseconds)
     * @param statementTimeoutMs any statement of the writer's takes this long at most (statement_timeout); the
     *                           connection's socket gives up a little later (a dead link answers nothing, not even the
     *                           cancel). Not the COMMIT: PostgreSQL disables statement_timeout before it commits
     *                           (postgres.c finish_xact_command), so a COMMIT waiting for a second site is bounded by
     *                           the stall watchdog (it cuts the connection at the step-down) and by the socket
     * @param stallReportMs      work waiting this long with no batch answered is reported as a stall (status,
     *                           metrics, alert)
     * @param stallStepDownMs    a stall this long makes the leader step down, say why in one log line and report a
     *                           write fault (the failover agent releases the lock; another region takes over)
     */
    public record Bounds(long lockTimeoutMs, long statementTimeoutMs, long stallReportMs, long stallStepDownMs) {

        public static Bounds defaults() {
            return new Bounds(2_000, 30_000, 5_000, 15_000);
        }

        public Bounds {
            if (lockTimeoutMs < 1 || statementTimeoutMs < lockTimeoutMs || stallReportMs < 1 || stallStepDownMs < stallReportMs) {
                throw new IllegalArgumentException("writer bounds out of range: " + this
                        + " (statement >= lock timeout, step-down >= report)");
            }
        }

        /** The PostgreSQL session settings of every writer connection (and of a takeover's epoch claim). */
        public io.paymentledger.ledger.store.Database.SessionLimits sessionLimits() {
            return new io.paymentledger.ledger.store.Database.SessionLimits(lockTimeoutMs, statementTimeoutMs);
        }
    }

    /**
     * The writer has had work waiting for {@code forMs} with nothing answered; {@code waitingFor} says what waits on
     * what, in an operator's words.
     */
    public record Stall(long forMs, String waitingFor) {
        @Override
        public String toString() {
            return "writer stalled for " + String.format(java.util.Locale.ROOT, "%.1f", forMs / 1000.0) + " s: " + waitingFor;
        }
    }

    /**
     * What each stage took, for tracing: called on the writer's own threads (applier, committer), so it must be quick
     * and must not call back into the writer. Only set when tracing is on.
     */
    public interface Stages {
        /** {@code commands} were applied in memory between the two instants ({@link System#nanoTime()} scale). */
        void applied(List<WriteCommand> commands, long startNanos, long endNanos);

        /**
         * {@code commands}' batch was written and committed between the two: its rows (COPY), the wait for the batch
         * before it, then balances, journal and COMMIT incl. the synchronous wait.
         */
        void committed(List<WriteCommand> commands, long startNanos, long endNanos);
    }

    private volatile Stages stages;

    /** Reports each stage to {@code s} from now on (tracing). */
    public void stages(Stages s) {
        this.stages = s;
    }

    /** Told when a commit fails in a way that leaves the database's state uncertain, or the writer stalled. */
    public interface FaultListener {
        void onWriteFault(String reason, Throwable cause);
    }

    /**
     * Batches in flight at most (sealed, not yet answered), one per commit lane: N's COMMIT waits for the synchronous
     * standby while N+1's rows are written. Two, because N+2 could not do more than wait: N+1's balance update waits
     * for N's row locks, and N+2's for N+1's.
     */
    static final int COMMIT_LANES = 2;

    /** A sealed batch on its way to a commit lane, with its callers and their answers. */
    private static final class Handover {
        /** What it writes; null for a batch that writes nothing (its answers only wait for the batches before it). */
        final Batch.Sealed sealed;
        final List<WriteCommand> commands;
        final Object[] answers;
        /** A batch sealed before this one was not committed: this one must not commit (under `lock`). */
        boolean afterFailure;
        /** When it was handed to its lane (System.nanoTime): the stall clock of the batch at the head. */
        long handedAtNanos;

        Handover(Batch.Sealed sealed, List<WriteCommand> commands, Object[] answers) {
            this.sealed = sealed;
            this.commands = commands;
            this.answers = answers;
        }

        String name() {
            return sealed == null ? "a batch that writes nothing" : "batch " + sealed.seq();
        }
    }

    /** A commit lane: its thread, its connection, the batch it writes (under `lock`; null when free). */
    private static final class Lane {
        final int index;
        final WriterStore store;
        Thread thread;
        Handover batch;
        /** What the lane does now, for the stall report (its own thread writes it). */
        volatile String doing = "waiting for a batch";

        Lane(int index, WriterStore store) {
            this.index = index;
            this.store = store;
        }
    }

    private final WriterStore reads;
    private final Lane[] lanes = new Lane[COMMIT_LANES];
    private final Config config;
    private final LedgerRules rules;
    /** Ledger time for timestamps and hold expiry: immune to steps of the wall clock. */
    private final io.paymentledger.replication.time.SteadyClock clock;
    private final WriterMemory memory;
    private final FaultListener faults;
    private volatile CheckpointSigner signer = CheckpointSigner.NONE;
    private final Thread applier;
    /** Steps the leader down when the writer stalls ({@link Bounds#stallStepDownMs}). */
    private final Thread watchdog;
    /** What the applier does now, for the stall report (its own thread writes it). */
    private volatile String applierDoing = "waiting for requests";
    private final AtomicLong committedBatches = new AtomicLong();
    private final AtomicLong committedTransfers = new AtomicLong();
    /** The newest batch answered OK (durable in two sites), for the event stream; null before the first. */
    private volatile Acknowledged acknowledged;
    private final java.util.List<Runnable> acknowledgedListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    // ---- shared between the threads, under `lock` ----
    private final ReentrantLock lock = new ReentrantLock();
    /**
     * The applier's wake-up: a command arrived, the committer is free, the writer steps down or closes. Its own
     * condition: with one shared by both threads, a submit's signal could wake the committer instead and leave the
     * applier asleep until its idle timeout (a 100 ms stall per call for a lone client).
     */
    private final Condition applierWake = lock.newCondition();
    /** The lanes' wake-up: a batch was handed over or answered, or the writer closes. */
    private final Condition laneWake = lock.newCondition();
    private final ArrayDeque<WriteCommand> queue = new ArrayDeque<>();
    /**
     * When each queued command arrived (System.nanoTime), a ring parallel to {@link #queue} (same order, same size,
     * under the lock): the queue-wait histogram without a field in every command.
     */
    private final long[] queuedAtNanos;
    private int queuedAtHead;
    /** The waits of the commands just taken, recorded after the lock is released (applier thread only). */
    private final long[] queueWaits;
    private final WriterMetrics metrics;
    /** The batches handed to the lanes and not yet answered, oldest (the next to commit) first. */
    private final ArrayDeque<Handover> inFlight = new ArrayDeque<>(COMMIT_LANES);
    /** Batches handed over so far: batch k goes to lane k % COMMIT_LANES (the applier's, read under `lock`). */
    private long handedOver;
    /** A commit failed: the applier must drop its open batch's state and rebuild before going on. */
    private boolean poisoned;
    /** The applier holds an open batch (for isIdle). */
    private boolean applying;
    /**
     * Commands of batches that were not written but must not fail: refused for ids that already existed, or written
     * on top of a batch that failed. The applier applies them again, first, in this order.
     */
    private List<WriteCommand> handedBack = new ArrayList<>();
    /** One of the handed-back batches carried an existing transfer id: look new ids up for a while. */
    private boolean handedBackDuplicate;

    private volatile long epoch;
    private volatile boolean leading;
    /** Writes commit only before this instant (System.nanoTime scale): the leader's lease. */
    private volatile long leaseUntilNanos = Long.MAX_VALUE;
    /** A new term began: the in-memory state must be rebuilt from the database first. */
    private volatile boolean newTerm = true;
    /** What the new term's ledger time is checked against when it is anchored (null: nothing). */
    private volatile io.paymentledger.replication.time.LedgerTimeReference ledgerTimeReference;
    private volatile String notLeadingReason = "starting";
    private volatile boolean closed;

    // ---- the applier's own ----
    /** Commands of an open batch that was dropped after a failed commit: applied again, first. */
    private final ArrayDeque<WriteCommand> again = new ArrayDeque<>();
    /** Set when the in-memory state must be rebuilt from the database before the next batch. */
    private boolean stale = true;
    private long journalSeq;
    private byte[] journalHash;
    /** A new term began: ledger time is anchored once the journal head (its last timestamp) is loaded. */
    private boolean anchorDue;
    /** The epoch of the last batch sealed (the applier's): a batch's epoch is never below it. */
    private long sealedEpoch;
    private long nextExpiryScanNanos;
    /**
     * Until then, new transfer ids are looked up in the database before they are applied. Otherwise an id that is
     * not in memory is taken as new and the transfer table's primary key has the last word: a batch that hits an
     * existing id is rolled back whole (nothing written) and its commands applied again, with lookups, for this long
     * (so a merchant retrying old ids costs one such rollback per period at most).
     */
    private long checkIdsUntilNanos;
    /** How long transfer ids are looked up after a batch hit an existing one. */
    static final long DUPLICATE_CHECK_MS = 1_000;

    public BatchWriter(Database database, String region, Config config, LongSupplier wallClockNanos, FaultListener faults) {
        this(database, region, config, wallClockNanos, faults, null);
    }

    /** @param meters where the writer's meters go (queue wait, apply, commit, batch size: {@link WriterMetrics}); null for none */
    public BatchWriter(Database database, String region, Config config, LongSupplier wallClockNanos, FaultListener faults,
            io.micrometer.core.instrument.MeterRegistry meters) {
        this.metrics = meters == null ? WriterMetrics.none() : new WriterMetrics(meters);
        this.queuedAtNanos = new long[config.queueCommandsMax()];
        this.queueWaits = new long[config.queueCommandsMax()];
        this.reads = new WriterStore(database, region, WriterStore.Role.READS, config.bounds().sessionLimits());
        for (int i = 0; i < COMMIT_LANES; i++) {
            lanes[i] = new Lane(i, new WriterStore(database, region, WriterStore.Role.COMMITS, config.bounds().sessionLimits()));
        }
        this.config = config;
        this.clock = new io.paymentledger.replication.time.SteadyClock(wallClockNanos, System::nanoTime);
        this.rules = new LedgerRules(clock::nowNs);
        int perBatch = config.batchItemsMax() + config.expiryBatchMax();
        this.memory = new WriterMemory(config.accountCacheMax(), config.recentTransfersMax(), Math.max(perBatch, config.recentTransfersMax() / 2),
                Math.max(perBatch, config.recentTransfersMax() / 2));
        this.faults = faults;
        this.applier = Thread.ofPlatform().name("ledger-writer-" + region).daemon(true).unstarted(this::applyLoop);
        for (int i = 0; i < COMMIT_LANES; i++) {
            Lane lane = lanes[i];
            lane.thread = Thread.ofPlatform().name("ledger-committer-" + region + "-" + i).daemon(true).unstarted(() -> laneLoop(lane));
        }
        this.watchdog = Thread.ofPlatform().name("ledger-writer-watchdog-" + region).daemon(true).unstarted(this::watch);
        if (meters != null) {
            io.micrometer.core.instrument.Gauge.builder("ledger_writer_stalled_seconds", this, w -> {
                Stall stall = w.stall();
                return stall == null ? 0 : stall.forMs() / 1000.0;
            }).description("how long work has waited with no batch answered, once over the report bound (0: no stall)")
                    .register(meters);
            io.micrometer.core.instrument.Gauge.builder("ledger_clock_offset_seconds", this,
                    w -> w.leading && w.clock.isAnchored() ? w.clock.wallOffsetNs() / 1e9 : 0)
                    .description("while leading: this host's wall clock minus ledger time (a clock step, or a term begun on a"
                            + " wall clock that disagreed with the ledger time the last leader published); 0 otherwise")
                    .register(meters);
        }
        this.applier.start();
        for (Lane lane : lanes) {
            lane.thread.start();
        }
        this.watchdog.start();
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
        lead(newEpoch, leaseUntilNanos, null);
    }

    /**
     * As {@link #lead(long, long)}; a new term's ledger time is checked against {@code ledgerTime}, the ledger time the
     * last leader published as the failover agent observed it (null: none), when it is anchored.
     */
    public void lead(long newEpoch, long leaseUntilNanos, io.paymentledger.replication.time.LedgerTimeReference ledgerTime) {
        if (newEpoch < epoch) {
            throw new IllegalArgumentException("epoch may not go back: " + epoch + " -> " + newEpoch);
        }
        this.leaseUntilNanos = leaseUntilNanos;
        if (newEpoch != epoch) {
            this.ledgerTimeReference = ledgerTime;
            newTerm = true;
            metrics.failovers.increment();
        }
        this.epoch = newEpoch;
        this.leading = true;
        LOG.info(() -> "writer: leading with epoch " + newEpoch);
        signal();
    }

    /** Who signs journal checkpoints from now on. */
    public void checkpointSigner(CheckpointSigner signer) {
        this.signer = signer;
    }

    /**
     * Ledger time now while this writer leads and its clock was anchored, else 0: what the failover agent publishes
     * for the next leader to check its own clock against.
     */
    public long ledgerTimeNs() {
        return leading && clock.isAnchored() ? clock.nowNs() : 0;
    }

    /** How far this host's wall clock was from the published ledger time when this term began (0: it agreed). */
    public long clockDisagreementAtTermStartNs() {
        return clock.anchorDisagreementNs();
    }

    /** Extends the lease (the leader proved it still holds leadership). */
    public void extendLease(long untilNanos) {
        this.leaseUntilNanos = untilNanos;
    }

    private boolean leaseValid() {
        return System.nanoTime() - leaseUntilNanos < 0;
    }

    /** Nothing queued, nothing being applied, no batch being written. */
    public boolean isIdle() {
        return locked(() -> queue.isEmpty() && !applying && inFlight.isEmpty());
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
        signal();
    }

    /** Why the writer does not lead ("" before it ever stepped down while leading is possible). */
    public String notLeadingReason() {
        return notLeadingReason;
    }

    /** Leading and within the lease. */
    public boolean isLeading() {
        return leading && leaseValid();
    }

    public long epoch() {
        return epoch;
    }

    /**
     * A batch this writer answered OK: its COMMIT returned with the synchronous quorum's confirmation, so it and
     * everything committed before it (an earlier COMMIT whose wait was cancelled included: its WAL comes first) is
     * durable in two sites. Batches are answered in commit order, so this only moves forward within a term.
     */
    public record Acknowledged(long epoch, long seq, long lastTimestampNs) {}

    /** The newest acknowledged batch of this writer (any term), or null. */
    public Acknowledged acknowledged() {
        return acknowledged;
    }

    /** Runs {@code listener} on the committing thread after each acknowledged batch (it must return at once). */
    public void onAcknowledged(Runnable listener) {
        acknowledgedListeners.add(listener);
    }

    /**
     * Throws when a COMMIT's warnings say its wait for the synchronous quorum was cancelled (committed here only);
     * for other code that needs a commit confirmed by a second site.
     */
    public static void requireQuorumConfirmed(java.sql.SQLWarning warnings) throws SQLException {
        WriterStore.notDurableWarning(warnings);
    }

    public long committedBatches() {
        return committedBatches.get();
    }

    public long committedTransfers() {
        return committedTransfers.get();
    }

    /** Requests the queue takes at most (beyond: RESOURCE_EXHAUSTED). */
    public int queueCapacity() {
        return config.queueCommandsMax();
    }

    public int queueDepth() {
        return locked(queue::size);
    }

    /** Queues a command; fails it at once when this node does not lead or the queue is full. */
    public void submit(WriteCommand cmd) {
        if (!isLeading()) {
            cmd.fail(notLeader(notLeadingReason));
            return;
        }
        lock.lock();
        try {
            if (queue.size() >= config.queueCommandsMax()) {
                cmd.fail(new WriteRejected(WriteRejected.Reason.OVERLOADED,
                        "write queue full (" + config.queueCommandsMax() + " requests); retry after a short pause"));
                return;
            }
            queuedAtNanos[(queuedAtHead + queue.size()) % queuedAtNanos.length] = System.nanoTime();
            queue.add(cmd);
            applierWake.signal();
        } finally {
            lock.unlock();
        }
    }

    private void signal() {
        locked(() -> {
            applierWake.signalAll();
            laneWake.signalAll();
        });
    }

    /** {@code work} under the writer's lock: the one place that takes it for a short, non-waiting step. */
    private <T> T locked(java.util.function.Supplier<T> work) {
        lock.lock();
        try {
            return work.get();
        } finally {
            lock.unlock();
        }
    }

    private void locked(Runnable work) {
        lock.lock();
        try {
            work.run();
        } finally {
            lock.unlock();
        }
    }

    /**
     * A lane waits, under the lock, until {@code ready} (its batch arrived; its batch's turn came) and takes
     * {@code then}; null when the writer closes meanwhile. Each wait is bounded ({@link #IDLE_WAKE_MS}) and
     * re-checked: how long is too long is the watchdog's call ({@link #stall()}), which sees what the lane does.
     */
    private <T> T awaitForLane(java.util.function.BooleanSupplier ready, java.util.function.Supplier<T> then) {
        lock.lock();
        try {
            while (!closed && !ready.getAsBoolean()) {
                laneWake.await(IDLE_WAKE_MS, TimeUnit.MILLISECONDS);
            }
            return closed ? null : then.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } finally {
            lock.unlock();
        }
    }

    private static WriteRejected notLeader(String reason) {
        return new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "not the leader: " + reason);
    }

    // ================================================================== stalls

    /**
     * The writer's stall, or null: work has waited longer than {@link Bounds#stallReportMs} with nothing answered.
     * The clock is the batch at the head of the lanes (handed over, not answered: nothing after it can be answered
     * either) or, with no batch in flight, the oldest queued request (the applier did not take it).
     */
    public Stall stall() {
        long now = System.nanoTime();
        long since;
        String what;
        lock.lock();
        try {
            Handover head = inFlight.peek();
            if (head != null) {
                since = head.handedAtNanos;
                Lane lane = null;
                for (Lane l : lanes) {
                    if (l.batch == head) {
                        lane = l;
                    }
                }
                what = head.name() + " is not answered" + (lane == null ? "" : "; commit lane " + lane.index + " is " + lane.doing)
                        + "; " + queue.size() + " requests queued behind it";
            } else if (!queue.isEmpty()) {
                since = queuedAtNanos[queuedAtHead];
                what = queue.size() + " requests queued and none taken; the applier is " + applierDoing;
            } else {
                return null;
            }
        } finally {
            lock.unlock();
        }
        long forMs = (now - since) / 1_000_000;
        return forMs >= config.bounds().stallReportMs() ? new Stall(forMs, what) : null;
    }

    /** The watchdog: a leader whose writer stalls past its bound stops serving, says why once, and reports a fault. */
    private void watch() {
        long periodMs = Math.max(10, Math.min(250, config.bounds().stallReportMs() / 4));
        while (!closed) {
            try {
                Thread.sleep(periodMs);
            } catch (InterruptedException e) {
                return;
            }
            Stall stall = leading ? stall() : null;
            if (stall == null || stall.forMs() < config.bounds().stallStepDownMs()) {
                continue;
            }
            String reason = stall + " (bound " + config.bounds().stallStepDownMs() + " ms)";
            LOG.severe(() -> "writer: STALLED, stepping down: " + reason);
            stepDown(reason);
            // The stuck threads wait in PostgreSQL (or on a dead link): cut their connections, so they fail their
            // batches' callers (UNAVAILABLE: outcome unknown, retries are safe) and the writer can lead again later.
            for (Lane lane : lanes) {
                lane.store.abort();
            }
            reads.abort();
            faults.onWriteFault(reason, null);
        }
    }

    // ================================================================== the applier

    /** The open batch: applied in memory, not yet handed to the committer. */
    private static final class Open {
        final Batch batch;
        final List<WriteCommand> commands = new ArrayList<>();
        final List<Object> answers = new ArrayList<>();

        Open(Batch batch) {
            this.batch = batch;
        }
    }

    private void applyLoop() {
        Open open = null;
        List<WriteCommand> chunk = new ArrayList<>();
        while (!closed) {
            chunk.clear();
            boolean poison;
            List<WriteCommand> returned = List.of();
            boolean duplicate = false;
            boolean laneFree;
            boolean scanDue;
            int waits = 0;
            lock.lock();
            try {
                while (!closed && !work(open)) {
                    applierWake.await(IDLE_WAKE_MS, TimeUnit.MILLISECONDS);
                }
                if (closed) {
                    break;
                }
                poison = poisoned && inFlight.isEmpty();
                if (poison) {
                    poisoned = false;
                    returned = handedBack;
                    handedBack = new ArrayList<>();
                    duplicate = handedBackDuplicate;
                    handedBackDuplicate = false;
                } else if (!rebuildWaitsForCommitter(open)) {
                    int room = config.batchItemsMax() - (open == null ? 0 : open.batch.items);
                    room = take(again, chunk, room);
                    waits = takeQueued(chunk, room);
                }
                laneFree = laneFree();
                scanDue = leading && open == null && System.nanoTime() - nextExpiryScanNanos >= 0;
                applying = open != null || !chunk.isEmpty();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } finally {
                lock.unlock();
            }
            for (int i = 0; i < waits; i++) {
                WriterMetrics.record(metrics.queueWait, queueWaits[i]);
            }
            try {
                if (poison) {
                    // The batch before ours was not committed: ours was applied on top of state that may not exist.
                    // Apply its commands again (after those handed back, when their ids were already taken), first,
                    // once the state is rebuilt; their callers are not failed for it.
                    if (open != null) {
                        reapplyFirst(open.commands);
                        open = null;
                    }
                    reapplyFirst(returned);
                    if (duplicate) {
                        checkIdsUntilNanos = System.nanoTime() + DUPLICATE_CHECK_MS * 1_000_000L;
                    }
                    stale = true;
                    continue;
                }
                if (!leading) {
                    WriteRejected notLeader = notLeader(notLeadingReason);
                    if (open != null) {
                        failAll(open.commands, notLeader);
                        open = null;
                    }
                    failAll(chunk, notLeader);
                    failAll(drain(again), notLeader);
                    continue;
                }
                if (!chunk.isEmpty() || scanDue) {
                    if (open == null) {
                        if (!freshState()) {
                            reapplyFirst(chunk);
                            continue;
                        }
                        open = new Open(new Batch(journalSeq + 1, epoch));
                    }
                    apply(open, chunk, scanDue);
                }
                if (open != null && laneFree) {
                    Open sealing = open;
                    open = null;
                    seal(sealing);
                }
            } catch (LedgerBug bug) {
                LOG.log(Level.SEVERE, "writer: LEDGER INVARIANT BROKEN, nothing of the batch was written; stepping down", bug);
                // Stop first: no caller is answered, and no retry is taken, before this node has stopped writing.
                stepDown("ledger invariant broken: " + bug.getMessage());
                WriteRejected refused = new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "internal error: the batch was refused"
                        + " by a ledger invariant check; nothing was written");
                if (open != null) {
                    failAll(open.commands, refused);
                    open = null;
                }
                failAll(chunk, refused);
                stale = true;
                faults.onWriteFault("ledger invariant broken: " + bug.getMessage(), bug);
            } catch (SQLException | org.jooq.exception.DataAccessException e) {
                // A lookup failed: nothing was written. Drop the open batch's state; its callers retry (UNAVAILABLE).
                String reason = "database read failed (" + sqlState(e) + "): " + e.getMessage();
                LOG.warning(() -> "writer: " + reason);
                WriteRejected unavailable = new WriteRejected(WriteRejected.Reason.UNAVAILABLE, reason, e);
                if (open != null) {
                    failAll(open.commands, unavailable);
                    open = null;
                }
                failAll(chunk, unavailable);
                stale = true;
                reads.reset();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.SEVERE, "writer: unexpected failure; open batch answered UNAVAILABLE", e);
                WriteRejected internal = new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "internal error: " + e);
                if (open != null) {
                    failAll(open.commands, internal);
                    open = null;
                }
                failAll(chunk, internal);
                stale = true;
                reads.reset();
            } finally {
                boolean stillOpen = open != null;
                locked(() -> applying = stillOpen);
            }
        }
    }

    /**
     * Whether the applier has something to do now (under the lock): commands that fit in the open batch, an open
     * batch the free committer can take, a failed commit to recover from, an expiry scan, or a step-down to answer.
     */
    private boolean work(Open open) {
        if (poisoned && inFlight.isEmpty()) {
            return true;
        }
        if (!leading) {
            return open != null || !again.isEmpty() || !queue.isEmpty();
        }
        if (open != null && laneFree()) {
            return true;
        }
        if (rebuildWaitsForCommitter(open)) {
            return false;
        }
        int room = config.batchItemsMax() - (open == null ? 0 : open.batch.items);
        WriteCommand next = !again.isEmpty() ? again.peek() : queue.peek();
        if (next != null && next.size() <= room) {
            return true;
        }
        return open == null && System.nanoTime() - nextExpiryScanNanos >= 0;
    }

    /** The state must be rebuilt from the database before a new batch, and a commit is still under way. */
    private boolean rebuildWaitsForCommitter(Open open) {
        return open == null && (stale || newTerm) && !inFlight.isEmpty();
    }

    /** A lane can take the open batch now (under the lock): one is free and no commit failed under it. */
    private boolean laneFree() {
        return inFlight.size() < COMMIT_LANES && !poisoned;
    }

    private static int items(List<WriteCommand> commands) {
        int n = 0;
        for (WriteCommand c : commands) {
            n += c.size();
        }
        return n;
    }

    /** Moves commands from {@code from} to {@code to}, in order, while they fit in {@code room} items; returns the room left. */
    private static int take(ArrayDeque<WriteCommand> from, List<WriteCommand> to, int room) {
        WriteCommand next;
        while ((next = from.peek()) != null && next.size() <= room) {
            to.add(from.poll());
            room -= next.size();
        }
        return room;
    }

    /**
     * {@link #take} from {@link #queue}, noting each command's wait in {@link #queueWaits} (under the lock); returns
     * how many waits were noted.
     */
    private int takeQueued(List<WriteCommand> to, int room) {
        long now = System.nanoTime();
        int taken = 0;
        WriteCommand next;
        while ((next = queue.peek()) != null && next.size() <= room) {
            to.add(queue.poll());
            queueWaits[taken++] = now - queuedAtNanos[queuedAtHead];
            queuedAtHead = (queuedAtHead + 1) % queuedAtNanos.length;
            room -= next.size();
        }
        return taken;
    }

    private void reapplyFirst(List<WriteCommand> commands) {
        for (int i = commands.size() - 1; i >= 0; i--) {
            again.addFirst(commands.get(i));
        }
    }

    private static List<WriteCommand> drain(ArrayDeque<WriteCommand> commands) {
        List<WriteCommand> all = new ArrayList<>(commands);
        commands.clear();
        return all;
    }

    /**
     * Makes the in-memory state current before a new batch opens: after a new term or a failed commit it is rebuilt
     * from the database. Called only while no commit is under way ({@link #rebuildWaitsForCommitter}), so the
     * lanes' connections may be replaced too.
     */
    private boolean freshState() throws SQLException {
        if (newTerm || stale) {
            if (!locked(inFlight::isEmpty)) {
                return false; // a term began meanwhile: rebuild once the commits under way are done
            }
        }
        if (newTerm) {
            // A new term: whatever this writer held from an earlier one (memory, connections) may be stale,
            // e.g. the database was restarted as a standby and promoted since.
            newTerm = false;
            stale = true;
            anchorDue = true;
            reads.reset();
        }
        if (!stale) {
            return true;
        }
        // After a failure, the other lane's connection may be as broken as the one that failed (a restarted or
        // terminated backend): new ones, rather than failing the next batch on it. No lane is writing now.
        for (Lane lane : lanes) {
            lane.store.reset();
        }
        applierDoing = "loading the journal head from the database (" + reads.describe() + ")";
        WriterStore.JournalHead head = reads.loadHead();
        applierDoing = "waiting for requests or a free commit lane";
        journalSeq = head.seq();
        journalHash = head.hash();
        memory.clear(head.seq());
        if (anchorDue) {
            // Ledger time goes on from the last committed timestamp at least (issue #20, item 10): a new leader whose
            // wall clock is behind it no longer freezes ledger time (timestamps creeping by 1 ns) and lets every hold
            // outlive its timeout by the skew; from there it runs at the monotonic clock's pace. A wall clock that
            // disagrees with the ledger time the last leader published is not taken either: one minutes ahead stamped
            // transfers in the future and expired every hold early.
            clock.anchor(head.lastTimestampNs(), ledgerTimeReference);
            anchorDue = false;
        }
        rules.resumeAfter(head.lastTimestampNs());
        stale = false;
        LOG.info(() -> "writer: state loaded from the database (journal at batch " + head.seq() + ")");
        return true;
    }

    /** Applies a chunk of commands into the open batch: deadlines, lookups, expiries, rules. */
    private void apply(Open open, List<WriteCommand> chunk, boolean scanDue) throws SQLException {
        long now = System.nanoTime();
        List<WriteCommand> live = new ArrayList<>(chunk.size());
        for (WriteCommand c : chunk) {
            if (c.deadlineNanos() != 0 && now - c.deadlineNanos() >= 0) {
                c.fail(new WriteRejected(WriteRejected.Reason.DEADLINE_EXCEEDED, "deadline passed before the write was applied; nothing was written"));
            } else {
                live.add(c);
            }
        }
        Batch b = open.batch;
        List<String> dueHolds = List.of();
        if (scanDue) {
            nextExpiryScanNanos = now + config.expiryScanIntervalMs() * 1_000_000L;
            applierDoing = "looking for timed-out holds in the database (" + reads.describe() + ")";
            dueHolds = reads.dueHolds(rules.nowNs(), config.expiryBatchMax());
        }
        applierDoing = "reading what batch " + b.seq + " needs from the database (" + reads.describe() + ")";
        prefetch(b, live, dueHolds);
        applierDoing = "applying batch " + b.seq;
        rules.expireDueHolds(b);
        for (WriteCommand c : live) {
            Object answer = switch (c) {
                case WriteCommand.CreateAccounts a -> rules.createAccounts(a, b);
                case WriteCommand.CreateTransfers t -> rules.createTransfers(t, b);
                case WriteCommand.Payment p -> rules.payment(p, b);
            };
            open.commands.add(c);
            open.answers.add(answer);
            b.items += c.size();
        }
        applierDoing = "waiting for requests or a free commit lane";
        long end = System.nanoTime();
        WriterMetrics.record(metrics.apply, end - now);
        Stages s = stages;
        if (s != null) {
            s.applied(live, now, end);
        }
    }

    /** Asserts, freezes and hands the open batch to the committer (which is free), or answers it if it writes nothing. */
    private void seal(Open open) {
        try {
            sealOrAnswer(open);
        } catch (RuntimeException | Error e) {
            failAll(open.commands, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "internal error while sealing the batch;"
                    + " nothing was written"));
            throw e;
        }
    }

    private void sealOrAnswer(Open open) {
        Batch b = open.batch;
        if (open.commands.isEmpty() && !b.hasWrites()) {
            return;
        }
        if (withoutExpired(open)) {
            return;
        }
        if (!leaseValid() || b.epoch != epoch || !leading) {
            // Never hand over after the lease ran out: another region may be taking over by now.
            stale = true;
            failAll(open.commands, notLeader(leading ? "lease expired before commit" : notLeadingReason));
            return;
        }
        Object[] answers = open.answers.toArray();
        if (!b.hasWrites()) {
            handOver(new Handover(null, List.copyOf(open.commands), answers));
            return;
        }
        b.assertBalanced();
        int transfersMax = config.batchItemsMax() + config.expiryBatchMax();
        if (b.newTransferRows.size() > transfersMax || b.items > config.batchItemsMax()) {
            throw new LedgerBug("batch " + b.seq + " holds " + b.items + " items and " + b.newTransferRows.size()
                    + " transfers, over its limits of " + config.batchItemsMax() + " (batchItemsMax) and " + transfersMax
                    + " (batchItemsMax + expiryBatchMax)");
        }
        if (b.seq != journalSeq + 1) {
            throw new LedgerBug("batch " + b.seq + " does not follow the journal head " + journalSeq);
        }
        if (b.epoch < sealedEpoch) {
            throw new LedgerBug("batch " + b.seq + " has epoch " + b.epoch + ", below the " + sealedEpoch
                    + " of a batch sealed before it: epochs only rise");
        }
        sealedEpoch = b.epoch;
        byte[] hash = JournalHash.next(journalHash, b.seq, b.epoch, b.newAccounts, b.newTransferRows);
        // The balances the batch still committing before this one changed stay locked until its COMMIT returns (and
        // its new accounts are invisible until then): those are written after it, the others with this batch's rows.
        Batch.Touched before = locked(() -> {
            Handover last = inFlight.peekLast();
            return last != null && last.sealed != null ? last.sealed.touched() : Batch.Touched.NOTHING;
        });
        Batch.Sealed sealed = b.seal(journalHash, hash, signer.sign(b.seq, hash), memory, before);
        journalSeq = b.seq;
        journalHash = hash;
        handOver(new Handover(sealed, List.copyOf(open.commands), answers));
    }

    /**
     * Gives a sealed batch to the next lane. A batch that writes nothing is answered at once when nothing is in flight
     * (every batch before it committed); else it waits in its lane for the batches before it. When a commit failed
     * since the applier found a lane free, the batch (applied on top of it) is applied again instead.
     */
    private void handOver(Handover h) {
        boolean answerNow = false;
        lock.lock();
        try {
            if (poisoned) {
                reapplyFirst(h.commands);
                return;
            }
            if (h.sealed == null && inFlight.isEmpty()) {
                answerNow = true;
            } else {
                Lane lane = lanes[(int) (handedOver % COMMIT_LANES)];
                if (lane.batch != null || inFlight.size() >= COMMIT_LANES) {
                    throw new LedgerBug("commit lane " + handedOver % COMMIT_LANES + " is busy with a batch while "
                            + inFlight.size() + " are in flight: batches would commit out of order");
                }
                handedOver++;
                h.handedAtNanos = System.nanoTime();
                lane.batch = h;
                inFlight.add(h);
                laneWake.signalAll();
            }
        } finally {
            lock.unlock();
        }
        if (answerNow) {
            for (int i = 0; i < h.answers.length; i++) {
                complete(h.commands.get(i), h.answers[i]);
            }
        }
    }

    /**
     * A command whose deadline passed before its batch was sealed is not written (its caller has been told
     * DEADLINE_EXCEEDED): the whole open batch is undone in memory, the expired commands fail, the others are applied
     * again. True when that happened.
     */
    private boolean withoutExpired(Open open) {
        long now = System.nanoTime();
        List<WriteCommand> live = new ArrayList<>(open.commands.size());
        List<WriteCommand> expired = new ArrayList<>();
        for (WriteCommand c : open.commands) {
            (c.deadlineNanos() != 0 && now - c.deadlineNanos() >= 0 ? expired : live).add(c);
        }
        if (expired.isEmpty()) {
            return false;
        }
        open.batch.rollbackTo(0);
        failAll(expired, new WriteRejected(WriteRejected.Reason.DEADLINE_EXCEEDED,
                "deadline passed before the write was committed; nothing was written"));
        reapplyFirst(live);
        return true;
    }

    private void prefetch(Batch b, List<WriteCommand> commands, List<String> dueHolds) throws SQLException {
        Set<String> newIds = new HashSet<>();
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
                            collect(t.transfers().get(i), newIds, transferIds, holdIds, accountIds);
                        }
                    }
                }
                case WriteCommand.Payment p -> {
                    collect(p.transfer(), newIds, transferIds, holdIds, accountIds);
                    // An authorization's own id is NOT taken out of the holds to load: a capture of the same payment
                    // earlier in the batch needs its hold (a retried authorization is no new hold), and so does a
                    // due expiry (issue #20: the capture was answered PAYMENT_NOT_FOUND, the expiry skipped). An id
                    // that is really new is simply not found.
                    paymentIds.add(p.transfer().paymentId());
                }
            }
        }
        boolean lookUpNewIds = System.nanoTime() - checkIdsUntilNanos < 0;
        reads.prefetch(b, transferIds, newIds, lookUpNewIds, holdIds, paymentIds, accountIds, memory);
    }

    private static void collect(TransferSpec t, Set<String> newIds, Set<String> transferIds, Set<String> holdIds,
            Set<String> accountIds) {
        newIds.add(t.id());
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

    // ================================================================== the commit lanes

    private void laneLoop(Lane lane) {
        while (!closed) {
            Handover h = awaitForLane(() -> lane.batch != null, () -> lane.batch);
            if (h == null) {
                break;
            }
            long rowsStartNanos = System.nanoTime();
            Exception rowsFailed = null;
            if (h.sealed != null) {
                lane.doing = "writing the rows of " + h.name() + " (in PostgreSQL, " + lane.store.describe() + ")";
                // The batch's own new rows: no other transaction touches them, so they go in while the batch before
                // this one may still wait for its COMMIT. Nothing of it is visible before this batch's own COMMIT.
                try {
                    lane.store.writeRows(h.sealed);
                } catch (SQLException | WriterStore.DuplicateTransferIds | RuntimeException e) {
                    rowsFailed = e; // reported in commit order, below
                }
                WriterMetrics.record(metrics.rows, System.nanoTime() - rowsStartNanos);
            }
            lane.doing = "waiting for the batch before " + h.name() + " to be answered";
            Boolean afterFailure = awaitForLane(() -> inFlight.peek() == h, () -> h.afterFailure);
            if (afterFailure == null) {
                break;
            }
            boolean ok;
            if (afterFailure) {
                // Applied and written on top of a batch that did not commit: roll it back, apply it again later.
                lane.store.rollbackQuietly();
                handBack(h.commands, false);
                ok = false;
            } else if (h.sealed != null && anyExpired(h.commands)) {
                // A caller's deadline passed while the batch waited for the one before it (its caller has been told
                // DEADLINE_EXCEEDED): as at sealing, the batch is not written; its commands are applied again, where
                // the expired ones fail and the others go into the next batch.
                lane.store.rollbackQuietly();
                handBack(h.commands, false);
                ok = false;
            } else {
                lane.doing = "committing " + h.name() + " (epoch check, balances, journal, COMMIT with the wait for a second"
                        + " site; in PostgreSQL, " + lane.store.describe() + ")";
                ok = commit(lane, h, rowsFailed, rowsStartNanos);
            }
            lane.doing = "waiting for a batch";
            lock.lock();
            try {
                inFlight.poll();
                lane.batch = null;
                if (!ok) {
                    poisoned = true;
                    for (Handover later : inFlight) {
                        later.afterFailure = true;
                    }
                }
                laneWake.signalAll();
                applierWake.signal();
            } finally {
                lock.unlock();
            }
        }
    }

    private static boolean anyExpired(List<WriteCommand> commands) {
        long now = System.nanoTime();
        for (WriteCommand c : commands) {
            if (c.deadlineNanos() != 0 && now - c.deadlineNanos() >= 0) {
                return true;
            }
        }
        return false;
    }

    private void handBack(List<WriteCommand> commands, boolean duplicate) {
        locked(() -> {
            handedBack.addAll(commands);
            handedBackDuplicate |= duplicate;
        });
    }

    /**
     * Finishes a batch whose rows are written (every batch before it is answered), then answers its callers; false
     * when it was not committed (or may not have been).
     */
    private boolean commit(Lane lane, Handover h, Exception rowsFailed, long rowsStartNanos) {
        Batch.Sealed b = h.sealed;
        if (b == null) {
            // Writes nothing; every batch before it committed: the answers are final.
            for (int i = 0; i < h.answers.length; i++) {
                complete(h.commands.get(i), h.answers[i]);
            }
            return true;
        }
        WriterStore commits = lane.store;
        long commitStartNanos = 0;
        long commitEndNanos;
        try {
            if (rowsFailed != null) {
                throw rowsFailed;
            }
            if (!leaseValid() || b.epoch() != epoch || !leading) {
                // Never commit after the lease ran out: another region may be taking over by now.
                commits.rollbackQuietly();
                failAll(h.commands, notLeader("lease expired before commit"));
                return false;
            }
            commitStartNanos = System.nanoTime();
            commits.finish(b);
            commitEndNanos = System.nanoTime();
            WriterMetrics.record(metrics.commit, commitEndNanos - commitStartNanos);
            WriterMetrics.record(metrics.commitWait, commits.lastCommitStatementNanos());
            metrics.batchItems.record(items(h.commands));
        } catch (WriterStore.DuplicateTransferIds duplicate) {
            // Nothing was written (the transaction rolled back): hand the commands back to be applied again with
            // lookups, which answers the existing ids EXISTS; no caller sees this.
            LOG.info(() -> "writer: batch " + b.seq() + " carried an existing transfer id; applying its " + h.commands.size()
                    + " requests again with lookups (" + duplicate.getMessage() + ")");
            handBack(h.commands, true);
            return false;
        } catch (WriterStore.Fenced fenced) {
            stepDown(fenced.getMessage());
            failAll(h.commands, notLeader(fenced.getMessage()));
            faults.onWriteFault(fenced.getMessage(), fenced);
            return false;
        } catch (SQLException | org.jooq.exception.DataAccessException e) {
            // The commit's outcome is unknown: its callers retry with the same ids; the state is rebuilt.
            commits.reset();
            String reason = "database write failed (" + sqlState(e) + "): " + e.getMessage();
            LOG.warning(() -> "writer: " + reason + "; " + h.commands.size() + " requests answered UNAVAILABLE");
            failAll(h.commands, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, reason, e));
            faults.onWriteFault(reason, e);
            return false;
        } catch (Exception | Error e) {
            LOG.log(Level.SEVERE, "writer: unexpected failure while committing; batch answered UNAVAILABLE", e);
            commits.reset();
            failAll(h.commands, new WriteRejected(WriteRejected.Reason.UNAVAILABLE, "internal error: " + e));
            return false;
        }
        memory.committed(b.seq());
        // Before any answer: a caller told OK finds its change in the event stream.
        acknowledged = new Acknowledged(b.epoch(), b.seq(), b.lastTimestampNs());
        for (Runnable l : acknowledgedListeners) {
            l.run();
        }
        committedBatches.incrementAndGet();
        committedTransfers.addAndGet(b.transfers().size());
        Stages s = stages;
        if (s != null) {
            s.committed(h.commands, rowsStartNanos, commitEndNanos);
        }
        for (int i = 0; i < h.answers.length; i++) {
            complete(h.commands.get(i), h.answers[i]);
        }
        return true;
    }

    private static String sqlState(Exception e) {
        return e instanceof SQLException se ? se.getSQLState() : ((org.jooq.exception.DataAccessException) e).sqlState();
    }

    @SuppressWarnings("unchecked")
    private static void complete(WriteCommand c, Object answer) {
        switch (c) {
            case WriteCommand.CreateAccounts a -> a.result().complete((List<AccountResult>) answer);
            case WriteCommand.CreateTransfers t -> t.result().complete((List<TransferResult>) answer);
            case WriteCommand.Payment p -> p.result().complete((PaymentOutcome) answer);
        }
    }

    private static void failAll(List<WriteCommand> commands, Throwable cause) {
        for (WriteCommand c : commands) {
            c.fail(cause);
        }
    }

    private void drainQueue(Throwable cause) {
        List<WriteCommand> all = locked(() -> {
            queuedAtHead = 0;
            return drain(queue);
        });
        failAll(all, cause);
    }

    @Override
    public void close() {
        closed = true;
        leading = false;
        notLeadingReason = "shutting down";
        signal();
        applier.interrupt();
        for (Lane lane : lanes) {
            lane.thread.interrupt();
        }
        watchdog.interrupt();
        try {
            applier.join(CLOSE_JOIN_MS);
            for (Lane lane : lanes) {
                lane.thread.join(CLOSE_JOIN_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        WriteRejected down = notLeader("shutting down");
        drainQueue(down);
        failAll(drain(again), down);
        List<Handover> unanswered = locked(() -> {
            List<Handover> all = new ArrayList<>(inFlight);
            inFlight.clear();
            return all;
        });
        for (Handover h : unanswered) {
            failAll(h.commands, down); // outcome unknown to them: they retry with the same ids
        }
        reads.close();
        for (Lane lane : lanes) {
            lane.store.close();
        }
    }
}
