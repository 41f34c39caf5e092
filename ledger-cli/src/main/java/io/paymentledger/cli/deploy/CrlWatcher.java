package io.paymentledger.cli.deploy;

import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;

/** Reloads a server's TLS options when the CA's revocation list changes (checked every {@link #PERIOD_MS}). */
final class CrlWatcher {

    private static final Logger LOG = Logger.getLogger(CrlWatcher.class.getName());
    static final long PERIOD_MS = 2_000;

    private CrlWatcher() {}

    static void watch(Vertx vertx, Path crl, java.util.function.Supplier<io.vertx.core.Future<?>> reload) {
        AtomicReference<FileTime> seen = new AtomicReference<>(modified(crl));
        vertx.setPeriodic(PERIOD_MS, id -> {
            FileTime now = modified(crl);
            if (now != null && !now.equals(seen.get())) {
                seen.set(now);
                reload.get().onSuccess(v -> LOG.warning(() -> "the revocation list " + crl + " changed: new connections are checked against it"))
                        .onFailure(e -> LOG.warning(() -> "could not reload the revocation list " + crl + ": " + e.getMessage()));
            }
        });
    }

    private static FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return null;
        }
    }
}
