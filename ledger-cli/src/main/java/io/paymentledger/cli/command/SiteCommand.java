package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.SiteConfig;
import io.paymentledger.cli.deploy.SiteLifecycle;
import io.paymentledger.security.logging.LogSetup;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "site", description = "One site's lifecycle from its configuration file (what Terraform's sites target"
        + " renders; ./ledger up applies the same, made from its default layout): up, down, status.",
        subcommands = {SiteCommand.Up.class, SiteCommand.Down.class, SiteCommand.Status.class})
public final class SiteCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The site named on the command line and its file, which must agree. */
    abstract static class SiteArguments {
        @Parameters(index = "0", paramLabel = "<site>", description = "A region's name, witness, or router.")
        String site;

        @Option(names = "--config", required = true, paramLabel = "<file>", description = "The site's configuration (JSON;"
                + " see runbooks/terraform.md; the applied ones are in <dir>/sites/).")
        Path config;

        SiteConfig read() {
            SiteConfig c = SiteConfig.read(config);
            if (!c.site().equals(site)) {
                throw new IllegalArgumentException(config + " configures site " + c.site() + ", not " + site);
            }
            return c;
        }
    }

    @Command(name = "up", description = "Apply the site's configuration: create or start it; a running site whose"
            + " configuration changed is rolled (a leading region hands over first, then restarts; waits until it streams"
            + " in the leader's commit quorum with every acknowledged write in two sites).")
    static final class Up extends SiteArguments implements Callable<Integer> {
        @Override
        public Integer call() {
            LogSetup.install("ledger-site", Level.WARNING);
            SiteConfig c = read();
            new SiteLifecycle(System.out).up(c);
            System.out.println("site " + site + ": up (configuration " + SiteConfig.appliedFile(c.dir(), site) + ")");
            return 0;
        }
    }

    @Command(name = "down", description = "Stop the site (a leading region hands over first), unless another configuration"
            + " of it was applied since; --purge removes its data too (the last site purged removes the deployment).")
    static final class Down extends SiteArguments implements Callable<Integer> {
        @Option(names = "--purge", description = "Remove the site's data as well (a region: its PostgreSQL data directory;"
                + " site up rebuilds it from the other region).")
        boolean purge;

        @Override
        public Integer call() {
            LogSetup.install("ledger-site", Level.WARNING);
            new SiteLifecycle(System.out).down(read(), purge);
            return 0;
        }
    }

    @Command(name = "status", description = "The site's processes, whether this configuration is the applied one, and a"
            + " region's place in the leader's commit quorum.")
    static final class Status extends SiteArguments implements Callable<Integer> {
        @Override
        public Integer call() {
            LogSetup.install("ledger-site", Level.WARNING);
            new SiteLifecycle(System.out).status(read()).forEach(System.out::println);
            return 0;
        }
    }
}
