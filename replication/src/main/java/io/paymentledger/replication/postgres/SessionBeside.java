package io.paymentledger.replication.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A database session opened on a virtual thread beside other work — a takeover opens its sessions while PostgreSQL
 * promotes (a new TLS + SCRAM session costs 60-270 ms on a loaded machine; a session opened on a standby may write once
 * it is a primary, and it holds no transaction until then). Whoever needs it later waits a bounded time for it and
 * checks it with one round trip; when it is not there, or no longer answers, the caller opens a new one.
 */
public final class SessionBeside implements AutoCloseable {

    /** How to open the session. */
    @FunctionalInterface
    public interface Opener {
        Connection open() throws SQLException;
    }

    /** How long a takeover's step waits for the session before it opens a new one. */
    public static final long WAIT_MS = 3_000;

    private final CompletableFuture<Connection> opening = new CompletableFuture<>();
    private boolean taken;

    private SessionBeside() {}

    /** Starts opening a session with {@code opener} on a virtual thread named {@code name}. */
    public static SessionBeside open(String name, Opener opener) {
        SessionBeside s = new SessionBeside();
        Thread.ofVirtual().name(name).start(() -> {
            try {
                s.opening.complete(opener.open());
            } catch (SQLException | RuntimeException e) {
                s.opening.completeExceptionally(e);
            }
        });
        return s;
    }

    /**
     * The session when it opened within {@code waitMs} and answers; it stays this object's ({@link #close} closes it).
     * Null otherwise.
     */
    public synchronized Connection peek(long waitMs) throws InterruptedException {
        if (taken) {
            return null;
        }
        try {
            Connection c = opening.get(waitMs, TimeUnit.MILLISECONDS);
            return c.isValid(1) ? c : null; // a session the promotion or a restart ended is not used
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException | SQLException e) {
            return null;
        }
    }

    /** As {@link #peek}, but the caller owns (and closes) the session returned; when null, this one is closed. */
    public synchronized Connection take(long waitMs) throws InterruptedException {
        Connection c = peek(waitMs);
        if (c == null) {
            close();
        } else {
            taken = true;
        }
        return c;
    }

    /** Closes the session unless it was taken: now, or once it has opened. */
    @Override
    public synchronized void close() {
        if (taken) {
            return;
        }
        taken = true;
        opening.thenAccept(c -> {
            try {
                c.close();
            } catch (SQLException ignored) {
                // it is being dropped either way
            }
        });
    }
}
