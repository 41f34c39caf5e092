package io.paymentledger.cli.command;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The --dir option every deployment command shares. */
public final class DeploymentOptions {

    @Option(names = "--dir", description = "Deployment directory (default: .ledger in the checkout).")
    Path dir;

    public Path dir() {
        if (dir != null) {
            return dir.toAbsolutePath();
        }
        String home = System.getProperty("ledger.home", ".");
        return Path.of(home, ".ledger").toAbsolutePath().normalize();
    }
}
