package io.paymentledger.cli.status;

import java.net.ConnectException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

/**
 * What one process said when {@code ./ledger status} asked it, within its budget: an answer (and how long it took),
 * or why there is none. "Down" is never an answer: a refused connection, a TLS failure, a deadline and an error
 * status are different facts and an operator acts differently on each.
 */
public sealed interface Reply<T> {

    /**
     * The process answered: {@code ms} from asking to the answer, of which {@code connectMs} to have the connection
     * ready (TCP, TLS, HTTP/2; 0 when an open one was reused).
     */
    record Answered<T>(T value, long ms, long connectMs) implements Reply<T> {}

    /** Nothing came back within the budget ({@code phase}: what was still pending, e.g. "TLS handshake"). */
    record NoAnswer<T>(String phase, long budgetMs) implements Reply<T> {}

    /** The connection was refused: nothing listens on the port. */
    record Refused<T>(String address) implements Reply<T> {}

    /** TLS failed (a certificate not trusted, expired or revoked; not a TLS server). */
    record TlsFailed<T>(String detail) implements Reply<T> {}

    /** The process answered with an error (a gRPC status other than OK, or a protocol error). */
    record Failed<T>(String detail) implements Reply<T> {}

    default boolean answered() {
        return this instanceof Answered<T>;
    }

    /** The answer, or null. */
    default T value() {
        return this instanceof Answered<T> a ? a.value() : null;
    }

    /** A few words for the operator: "answered in 12 ms", "no answer in 1500 ms", "connection refused". */
    default String describe() {
        return switch (this) {
            case Answered<T> a -> "answered in " + a.ms() + " ms" + (a.connectMs() > 0 ? " (" + a.connectMs() + " ms of it to connect)" : "");
            case NoAnswer<T> n -> "no answer in " + n.budgetMs() + " ms" + (n.phase().isEmpty() ? "" : " (" + n.phase() + ")");
            case Refused<T> r -> "connection refused on " + r.address();
            case TlsFailed<T> t -> "TLS error: " + t.detail();
            case Failed<T> f -> "error: " + f.detail();
        };
    }

    /**
     * The reply for a failure: the whole cause chain decides which kind it is (Vert.x wraps a TLS handshake timeout
     * in "Failed to create SSL connection", so a timeout anywhere in the chain is a missing answer, not a TLS error).
     */
    static <T> Reply<T> of(Throwable failure, String address, String pendingPhase, long budgetMs) {
        java.util.List<Throwable> chain = new java.util.ArrayList<>();
        for (Throwable t = failure; t != null && !chain.contains(t); t = t.getCause()) {
            chain.add(t);
        }
        for (Throwable t : chain) {
            if (t instanceof io.netty.handler.ssl.SslHandshakeTimeoutException) {
                return new NoAnswer<>("TLS handshake", budgetMs);
            }
            if (t instanceof TimeoutException || t instanceof io.netty.channel.ConnectTimeoutException) {
                return new NoAnswer<>(pendingPhase, budgetMs);
            }
        }
        for (Throwable t : chain) {
            if (t instanceof ConnectException) {
                return new Refused<>(address);
            }
        }
        Throwable tls = null;
        for (Throwable t : chain) {
            if (t instanceof SSLException) {
                tls = t;
            }
        }
        return tls != null ? new TlsFailed<>(message(tls)) : new Failed<>(message(failure));
    }

    private static String message(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}
