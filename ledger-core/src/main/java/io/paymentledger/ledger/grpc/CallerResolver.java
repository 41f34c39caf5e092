package io.paymentledger.ledger.grpc;

import io.paymentledger.ledger.Caller;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.StatusException;

/**
 * Decides who a call comes from (peer certificate, or the identity the region router forwards). Throws
 * {@link StatusException} UNAUTHENTICATED / PERMISSION_DENIED when it cannot be trusted.
 */
@FunctionalInterface
public interface CallerResolver {

    Caller resolve(GrpcServerRequest<?, ?> request) throws StatusException;

    /** Everyone is the operator: only for a node that listens without TLS on loopback in tests. */
    CallerResolver TRUST_ALL_AS_OPERATOR = request -> Caller.OPERATOR;
}
