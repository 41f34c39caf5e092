package io.paymentledger.cli.support;

import io.paymentledger.cli.deploy.LocalDeployment;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/**
 * One default local deployment (loopback, three sites) for the test classes that only call it and leave it as they
 * found it (the security suites): started by the first that asks, destroyed when the test JVM exits. Each `ledger up`
 * costs about a minute of a loaded CI machine; a class that kills, pauses, restores or needs other options starts
 * its own.
 */
public final class SharedDeployment {

    private static LocalDeployment deployment;

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
            Runtime.getRuntime().addShutdownHook(new Thread(d::destroy, "shared-deployment-destroy"));
            d.up();
            deployment = d;
        }
        return deployment;
    }
}
