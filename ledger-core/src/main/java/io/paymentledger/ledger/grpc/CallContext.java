package io.paymentledger.ledger.grpc;

import io.opentelemetry.api.trace.Span;
import io.paymentledger.ledger.Caller;

/**
 * What the ledger knows about one call: who makes it, its correlation id ({@code x-request-id}) and its
 * deadline on the {@link System#nanoTime()} scale (0 = none), and its span ({@link Span#getInvalid()} when the call
 * is not traced).
 */
public record CallContext(Caller caller, String requestId, long deadlineNanos, Span span) {}
