package io.paymentledger.cli.chaos;

import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.LookupTransfersResponse;
import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.cli.chaos.History.BalanceRead;
import io.paymentledger.cli.chaos.History.TransferRead;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Linearizable readers alongside the chaos workload: lookups of transfer ids other clients just sent (answered or
 * still in flight) and reads of the posted credits of the accounts being credited. Every read that was answered goes
 * into the {@link History} with its real-time interval; a read that failed (UNAVAILABLE while a leader is replaced,
 * a timeout) tells nothing about the ledger and is only counted.
 */
public final class Readers implements AutoCloseable {

    /** Each read's deadline (sent as grpc-timeout). */
    static final long READ_TIMEOUT_MS = 5_000;
    /** The client waits this much longer than the deadline for the answer. */
    static final long READ_WAIT_MARGIN_MS = 1_000;
    /** Pause between one reader's reads: enough reads to catch a stale one without starving the writers of CPU. */
    static final long READ_PAUSE_MS = 20;
    /** Transfer ids per lookup. */
    static final int IDS_PER_LOOKUP = 4;
    /** After a failed read, wait this long before the next (the leader is being replaced). */
    static final long FAILED_READ_PAUSE_MS = 100;

    private static final ReadOptions LINEARIZABLE = ReadOptions.newBuilder()
            .setConsistency(ReadConsistency.READ_CONSISTENCY_LINEARIZABLE).build();

    private final GrpcClient grpc;
    private final Supplier<SocketAddress> target;
    private final Recorder recorder;
    private final History history;
    private final List<String> accounts;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong failed = new AtomicLong();
    private final List<Thread> threads = new ArrayList<>();

    public Readers(GrpcClient grpc, Supplier<SocketAddress> target, Recorder recorder, History history, List<String> accounts,
            int readers) {
        this.grpc = grpc;
        this.target = target;
        this.recorder = recorder;
        this.history = history;
        this.accounts = List.copyOf(accounts);
        for (int i = 0; i < readers; i++) {
            threads.add(Thread.ofPlatform().name("chaos-reader-" + i).daemon(true).start(this::read));
        }
    }

    private void read() {
        boolean transfers = true;
        while (running.get()) {
            boolean ok = transfers ? readTransfers() : readBalances();
            transfers = !transfers;
            sleep(ok ? READ_PAUSE_MS : FAILED_READ_PAUSE_MS);
        }
    }

    private boolean readTransfers() {
        List<String> ids = recorder.recentIds(IDS_PER_LOOKUP);
        if (ids.isEmpty()) {
            return true;
        }
        long invoked = System.nanoTime();
        LookupTransfersResponse resp = call(LedgerServiceGrpcClient.LookupTransfers,
                LookupTransfersRequest.newBuilder().addAllIds(ids).setRead(LINEARIZABLE).build());
        long completed = System.nanoTime();
        if (resp == null) {
            return false;
        }
        resp.getResultsList().forEach(r -> {
            if (r.getStatus() == LookupStatus.LOOKUP_FOUND || r.getStatus() == LookupStatus.LOOKUP_NOT_FOUND) {
                history.add(new TransferRead(r.getId(), r.getStatus() == LookupStatus.LOOKUP_FOUND, invoked, completed));
            }
        });
        return true;
    }

    private boolean readBalances() {
        long invoked = System.nanoTime();
        LookupAccountsResponse resp = call(LedgerServiceGrpcClient.LookupAccounts,
                LookupAccountsRequest.newBuilder().addAllIds(accounts).setRead(LINEARIZABLE).build());
        long completed = System.nanoTime();
        if (resp == null) {
            return false;
        }
        resp.getResultsList().forEach(r -> {
            if (r.getStatus() == LookupStatus.LOOKUP_FOUND) {
                history.add(new BalanceRead(r.getId(), r.getAccount().getBalance().getCreditsPosted(), invoked, completed));
            }
        });
        return true;
    }

    /** One call with its deadline sent along; null when it did not answer OK. */
    private <Req, Resp> Resp call(ServiceMethod<Resp, Req> method, Req request) {
        try {
            return grpc.request(target.get(), method).compose(req -> {
                req.timeout(READ_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                req.end(request);
                return req.response().compose(resp -> resp.last().compose(last -> resp.status() == null
                        || resp.status() == GrpcStatus.OK ? io.vertx.core.Future.succeededFuture(last)
                        : io.vertx.core.Future.failedFuture(resp.status().name())));
            }).await(READ_TIMEOUT_MS + READ_WAIT_MARGIN_MS, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            failed.incrementAndGet();
            return null;
        }
    }

    /** Reads that got no answer (not in the history). */
    public long failed() {
        return failed.get();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops reading; returns once every reader has finished its read in flight. */
    @Override
    public void close() {
        running.set(false);
        for (Thread t : threads) {
            try {
                t.join(READ_TIMEOUT_MS + READ_WAIT_MARGIN_MS + READ_PAUSE_MS + FAILED_READ_PAUSE_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
