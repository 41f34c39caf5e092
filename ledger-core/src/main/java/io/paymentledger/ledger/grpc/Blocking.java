package io.paymentledger.ledger.grpc;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.sql.SQLException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * Runs blocking work (JDBC reads) on virtual threads, never on an event loop, and brings the result back to
 * the caller's Vert.x context. A database failure becomes UNAVAILABLE (retryable), not UNKNOWN.
 */
public final class Blocking implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Blocking.class.getName());

    private final Vertx vertx;
    private final ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("ledger-read-", 0).factory());

    public Blocking(Vertx vertx) {
        this.vertx = vertx;
    }

    public Context context() {
        return vertx.getOrCreateContext();
    }

    public <T> Future<T> run(Callable<T> work) {
        Context ctx = context();
        CompletableFuture<T> cf = CompletableFuture.supplyAsync(() -> {
            try {
                return work.call();
            } catch (StatusException e) {
                throw new java.util.concurrent.CompletionException(e);
            } catch (SQLException | org.jooq.exception.DataAccessException e) {
                LOG.warning(() -> "read failed: " + e.getMessage());
                throw new java.util.concurrent.CompletionException(
                        new StatusException(GrpcStatus.UNAVAILABLE, "database unavailable: " + e.getMessage()));
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, executor);
        return Future.fromCompletionStage(cf, ctx).recover(t -> Future.failedFuture(
                t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t));
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
