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
        + " no acknowledged transfer was lost and reports how long writes stopped and how long until every acknowledged"
        + " write was in two sites again.")
public final class DrillCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Parameters(index = "0", defaultValue = "all", description = "kill_leader_node | kill_leader_postgres | kill_leader_region"
            + " | kill_passive_region | kill_witness | switchover | lose_two (or lose-two) | pause_leader_node"
            + " | pause_leader_postgres | isolate_leader_region | partition_leader_standby | cut_leader_to_standby"
            + " | isolate_witness (these four need ./ledger up --sites netns) | clock_jump_leader (needs ./ledger up"
            + " --clock-faults) | writer_stall_leader | switchover_to_frozen_target | rolling_restart | all (the drills the deployment can run)")
    String scenario;

    @Option(names = "--runs", defaultValue = "1", description = "Runs per scenario (min/median/max are printed).")
    int runs;

    @Option(names = "--direct", description = "Send the workload to whichever node leads instead of through the region"
            + " router (shows what clients without the router would see).")
    boolean direct;

    @Option(names = "--raft-leader", description = "Before each run, move the CP groups' Raft leadership to this site's"
            + " CP member (a, b or witness): the faults' outage depends on where it is.")
    String raftLeader;

    @Option(names = "--writers", defaultValue = "6", description = "Concurrent writers of the workload (default 6).")
    int writers;

    @Option(names = "--deadline-ms", description = "Each call's deadline (default 20000 through the router, 3000 direct);"
            + " a merchant's 5000 shows which calls a failover made wait out their deadline.")
    Long deadlineMs;

    @Option(names = "--hold-seconds", description = "How long a cut or a pause is held (default 6).")
    Integer holdSeconds;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("ledger-drill", Level.SEVERE);
        if (runs < 1) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--runs must be at least 1");
        }
        LocalDeployment d = new LocalDeployment(Topology.load(deployment.dir()), System.out);
        boolean clockFaults = new io.paymentledger.cli.chaos.ClockFaults(d.topology()).enabled();
        List<Drills.Scenario> scenarios = scenario.equalsIgnoreCase("all") ? Arrays.stream(Drills.Scenario.values())
                .filter(s -> !s.cutsLinks() || d.topology().sites().netns())
                .filter(s -> clockFaults || !s.needsClockFaults()).toList()
                : List.of(Drills.Scenario.valueOf(scenario.toUpperCase().replace('-', '_')));
        boolean ok = true;
        try (Drills drills = new Drills(d, !direct)) {
            drills.raftLeader(raftLeader);
            if (holdSeconds != null) {
                if (holdSeconds < 1 || holdSeconds > 600) {
                    throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--hold-seconds must be within 1..600");
                }
                drills.faultHold(java.time.Duration.ofSeconds(holdSeconds));
            }
            if (writers < 1 || writers > 256) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--writers must be within 1..256");
            }
            drills.workload(writers, deadlineMs == null ? (direct ? 3_000 : 20_000) : deadlineMs);
            for (Drills.Scenario s : scenarios) {
                List<Long> outage = new ArrayList<>();
                List<Long> backToTwo = new ArrayList<>();
                for (int i = 1; i <= runs; i++) {
                    Drills.Result r = drills.run(s);
                    outage.add(r.outageMs());
                    backToTwo.add(r.syncCopiesBackMs());
                    System.out.printf("drill %s run %d: %s %d ms (longest gap between acknowledged writes %d ms);"
                            + " every acknowledged write in two sites again after %d ms; %d acknowledged transfers all present"
                            + " exactly once%s; client errors (retried) %s; %s%n", s, i,
                            s == Drills.Scenario.LOSE_TWO ? "recovery" : "outage", r.outageMs(), r.longestGapMs(),
                            r.syncCopiesBackMs(), r.acknowledged(),
                            r.acknowledgedDuringFault() > 0 ? " (" + r.acknowledgedDuringFault() + " calls acknowledged while the site was down)" : "",
                            r.errors(), r.detail());
                    if (r.servedWithoutSecondSite() > 0) {
                        ok = false;
                        System.out.println("drill " + s + " run " + i + " FAILED: a leader served with nobody else in its commit"
                                + " quorum (" + r.servedWithoutSecondSite() + " samples)");
                    }
                    if (!r.problems().isEmpty()) {
                        ok = false;
                        System.out.println("drill " + s + " run " + i + " FAILED: " + r.problems());
                    }
                }
                System.out.printf("drill %s: %d runs, %s %s; every acknowledged write in two sites again after %s%n", s, runs,
                        s == Drills.Scenario.LOSE_TWO ? "recovery" : "outage", spread(outage), spread(backToTwo));
            }
        }
        return ok ? 0 : 1;
    }

    /** "min X ms / median Y ms / max Z ms". */
    static String spread(List<Long> values) {
        List<Long> v = new ArrayList<>(values);
        v.sort(Long::compare);
        return "min " + v.get(0) + " ms / median " + v.get(v.size() / 2) + " ms / max " + v.get(v.size() - 1) + " ms";
    }
}
