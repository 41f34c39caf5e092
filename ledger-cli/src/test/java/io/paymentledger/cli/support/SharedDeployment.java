package io.paymentledger.cli.support;

import io.paymentledger.cli.deploy.LocalDeployment;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.HashSet;
import java.util.Set;

/**
 * One default local deployment (loopback, three sites) for the test classes that leave it as they found it (the
 * security suites, the chaos run, which heals everything): started by the first that asks, destroyed once every class
 * of {@link #USERS} has {@linkplain #release released} it (or, when a filter ran only some, when the test JVM exits).
 * Each `ledger up` costs about a minute of a loaded CI machine; a class that kills, restores or needs other options
 * starts its own.
 */
public final class SharedDeployment {

    /** The classes that share it: when all have released it, nobody needs it any more. */
    static final Set<String> USERS = Set.of("AdversarialCorpusTest", "ChaosRunTest", "DeploymentSecurityTest");

    private static LocalDeployment deployment;
    private static final Set<String> released = new HashSet<>();

    private SharedDeployment() {}

    /** The running shared deployment (started on first use; a failed start is retried by the next caller). */
    public static synchronized LocalDeployment get() {
        if (deployment == null) {
            LocalDeployment d;
            try {
                d = LocalDeployment.open(Files.createTempDirectory("ledger-shared-"), new PrintStream(new ByteArrayOutputStream(), true));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(SharedDeployment::destroy, "shared-deployment-destroy"));
            try {
                d.up();
            } catch (RuntimeException | Error e) {
                d.destroy();
                throw e;
            }
            deployment = d;
        }
        return deployment;
    }

    /** {@code user} is done with it (its @AfterAll); the last of {@link #USERS} destroys it, so it idles through no other test. */
    public static synchronized void release(Class<?> user) {
        released.add(user.getSimpleName());
        if (released.containsAll(USERS)) {
            destroy();
        }
    }

    private static synchronized void destroy() {
        if (deployment != null) {
            deployment.destroy();
            deployment = null;
        }
    }
}
