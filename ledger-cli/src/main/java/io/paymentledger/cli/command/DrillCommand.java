package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.drill.Drills;
import io.paymentledger.security.logging.LogSetup;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "drill", description = "Failure drills on the running deployment, under a write workload; each proves"
        + " no acknowledged transfer was lost and reports how long writes stopped.")
public final class DrillCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Parameters(index = "0", defaultValue = "all", description = "kill_leader_node | kill_leader_postgres | kill_leader_region"
            + " | kill_passive_region | kill_witness | switchover | all")
    String scenario;

    @Option(names = "--runs", defaultValue = "1", description = "Runs per scenario (min/median/max are printed).")
    int runs;

    @Option(names = "--direct", description = "Send the workload to whichever node leads instead of through the region"
            + " router (shows what clients without the router would see).")
    boolean direct;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("ledger-drill", Level.SEVERE);
        List<Drills.Scenario> scenarios = scenario.equalsIgnoreCase("all") ? Arrays.asList(Drills.Scenario.values())
                : List.of(Drills.Scenario.valueOf(scenario.toUpperCase()));
        boolean ok = true;
        LocalDeployment d = new LocalDeployment(Topology.load(deployment.dir()), System.out);
        try (Drills drills = new Drills(d, !direct)) {
            for (Drills.Scenario s : scenarios) {
                List<Long> recovery = new ArrayList<>();
                for (int i = 1; i <= runs; i++) {
                    Drills.Result r = drills.run(s);
                    recovery.add(r.outageMs());
                    System.out.printf("drill %s run %d: outage %d ms (longest gap between acknowledged writes %d ms);"
                            + " %d acknowledged transfers all present; client errors (retried) %s; %s%n", s, i, r.outageMs(),
                            r.longestGapMs(), r.acknowledged(), r.errors(), r.detail());
                    if (!r.problems().isEmpty()) {
                        ok = false;
                        System.out.println("drill " + s + " run " + i + " FAILED: " + r.problems());
                    }
                }
                recovery.sort(Long::compare);
                System.out.printf("drill %s: %d runs, outage min %d ms / median %d ms / max %d ms%n", s, runs,
                        recovery.get(0), recovery.get(recovery.size() / 2), recovery.get(recovery.size() - 1));
            }
        }
        return ok ? 0 : 1;
    }
}
