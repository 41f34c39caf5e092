package io.paymentledger.ledger.grpc;

import io.paymentledger.ledger.Caller;

/**
 * What the ledger knows about one call: who makes it, its correlation id ({@code x-request-id}) and its
 * deadline on the {@link System#nanoTime()} scale (0 = none).
 */
public record CallContext(Caller caller, String requestId, long deadlineNanos) {}
