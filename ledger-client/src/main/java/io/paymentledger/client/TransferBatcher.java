package io.paymentledger.client;

import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.Transfer;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Automatic batching of single-transfer calls (TigerBeetle's client does the same): a call is sent at once when
 * one of {@code batchesInFlightMax} slots is free; calls arriving while every slot is busy wait, and when a
 * request is answered, everything waiting (up to {@code batchTransfersMax}) goes out as the next request. An idle
 * client adds no delay; a busy one sends fewer, larger requests, each paying the per-request costs (TLS, HTTP/2,
 * routing, a place in the writer's queue) once for many transfers.
 *
 * <p>Each caller gets its own item's result. The ledger applies a request's items in order, each on its own (no
 * LINKED flag is let in here), so batching changes no outcome. A batched request is retried as a whole with the
 * same ids; a transfer of it that was applied by an earlier attempt is answered EXISTS (same fields, original
 * timestamp): applied once.
 */
final class TransferBatcher {

    private record Waiting(Transfer transfer, CompletableFuture<CreateTransferResult> result) {}

    private final LedgerClient client;
    private final LedgerClient.Limits limits;
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
    private int inFlight;
    private boolean closed;
    private final java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();

    TransferBatcher(LedgerClient client, LedgerClient.Limits limits) {
        this.client = client;
        this.limits = limits;
    }

    CompletableFuture<CreateTransferResult> submit(Transfer transfer) {
        CompletableFuture<CreateTransferResult> result = new CompletableFuture<>();
        List<Waiting> batch;
        synchronized (this) {
            if (closed) {
                result.completeExceptionally(new IllegalStateException("the ledger client is closed"));
                return result;
            }
            if (waiting.size() >= limits.queuedTransfersMax()) {
                result.completeExceptionally(new LedgerClientException(GrpcStatus.RESOURCE_EXHAUSTED, limits.queuedTransfersMax()
                        + " transfers already wait in this client (queuedTransfersMax); nothing was sent", false, 0));
                return result;
            }
            waiting.add(new Waiting(transfer, result));
            batch = takeIfSlotFree();
        }
        if (batch != null) {
            send(batch);
        }
        return result;
    }

    /** The next batch when a slot is free and calls wait; the caller then sends it outside the lock. */
    private List<Waiting> takeIfSlotFree() {
        if (waiting.isEmpty() || inFlight >= limits.batchesInFlightMax()) {
            return null;
        }
        inFlight++;
        int n = Math.min(waiting.size(), limits.batchTransfersMax());
        List<Waiting> batch = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            batch.add(waiting.poll());
        }
        return batch;
    }

    private void send(List<Waiting> batch) {
        requests.incrementAndGet();
        CreateTransfersRequest.Builder req = CreateTransfersRequest.newBuilder();
        for (Waiting w : batch) {
            req.addTransfers(w.transfer());
        }
        client.call(LedgerServiceGrpcClient.CreateTransfers, req.build()).onComplete(ar -> {
            if (ar.succeeded()) {
                answer(batch, ar.result());
            } else {
                for (Waiting w : batch) {
                    w.result().completeExceptionally(ar.cause());
                }
            }
            List<Waiting> next;
            synchronized (this) {
                inFlight--;
                next = takeIfSlotFree();
            }
            if (next != null) {
                send(next);
            }
        });
    }

    /** Each caller's own result, re-indexed to 0 (its own one-transfer call). */
    private static void answer(List<Waiting> sent, CreateTransfersResponse response) {
        if (response.getResultsCount() != sent.size()) {
            IllegalStateException e = new IllegalStateException("the ledger answered " + response.getResultsCount()
                    + " results for " + sent.size() + " transfers");
            sent.forEach(w -> w.result().completeExceptionally(e));
            return;
        }
        for (CreateTransferResult r : response.getResultsList()) {
            Waiting w = sent.get(r.getIndex());
            if (!w.transfer().getId().equals(r.getId())) {
                w.result().completeExceptionally(new IllegalStateException("result " + r.getIndex() + " names transfer "
                        + r.getId() + ", not " + w.transfer().getId()));
                continue;
            }
            w.result().complete(r.toBuilder().setIndex(0).build());
        }
    }

    /** Batched CreateTransfers requests sent so far (each counted once, whatever its retries). */
    long requests() {
        return requests.get();
    }

    void close() {
        List<Waiting> left;
        synchronized (this) {
            closed = true;
            left = new ArrayList<>(waiting);
            waiting.clear();
        }
        for (Waiting w : left) {
            w.result().completeExceptionally(new IllegalStateException("the ledger client was closed before this transfer was sent;"
                    + " nothing was sent"));
        }
    }
}
