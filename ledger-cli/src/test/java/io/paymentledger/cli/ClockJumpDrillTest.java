package io.paymentledger.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.paymentledger.cli.chaos.ClockFaults;
import io.paymentledger.cli.chaos.Faults;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.drill.Drills;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Clock jumps on a real deployment started with `./ledger up --clock-faults` (libfaketime under the nodes and the
 * witness): the leader's wall clock +30 s, then -30 s, then real, under the drills' workload through the router. What
 * the drill proves ({@link FailoverDrillsTest#assertSound}: every acknowledged transfer once, money conserved, no
 * client error, never without a second site) plus what a clock step broke before: the leader stays leader (its
 * Hazelcast member was cut out of the cluster and the region failed over), a hold made before the jump is not
 * released early, ledger time keeps real time's pace while the clock is behind, and commit timestamps follow the
 * order in which calls were acknowledged.
 */
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class ClockJumpDrillTest {

    static LocalDeployment deployment;
    static Drills drills;
    static final ByteArrayOutputStream printed = new ByteArrayOutputStream();

    @BeforeAll
    static void up() throws Exception {
        deployment = LocalDeployment.open(Files.createTempDirectory("ledger-clock-"), new PrintStream(printed, true));
        new ClockFaults(deployment.topology()).enable();
        deployment.up();
        drills = new Drills(deployment, true);
    }

    @AfterAll
    static void destroy() {
        if (drills != null) {
            drills.close();
        }
        deployment.destroy();
    }

    @Test
    void theLeadersClockJumpingBothWaysChangesNothingClientsOrTheLedgerSee() throws Exception {
        Drills.Result r = drills.run(Drills.Scenario.CLOCK_JUMP_LEADER);
        FailoverDrillsTest.assertSound(r);
        assertThat(r.detail()).as("no failover: the leader's CP membership survived its clock's steps")
                .contains("region a leads with epoch 1").contains("still held").contains("ledger time ran at");
        // heal (run by the drill) put every clock back
        ClockFaults clocks = new ClockFaults(deployment.topology());
        ClockFaults.PROCESSES.forEach(p -> assertThat(clocks.offset(p)).as(p).isEqualTo("+0s"));
    }

    @Test
    void aStandbysClockStepChangesNoNodesCountOfLiveCpMembers() throws Exception {
        // Every member publishes its CP identity with a time stamp every 2 s, and counts a peer alive while its stamp is
        // under 10 s old. Stamped with the wall clock, node-b's +30 s made it see both peers' stamps 30 s old: it
        // reported 1 CP member alive of 3 (status, the ledger_cp_members_alive gauge) while all three were.
        ClockFaults clocks = new ClockFaults(deployment.topology());
        try (Clients clients = Clients.operator(deployment.topology())) {
            clocks.jump("node-b", 30);
            try {
                Thread.sleep(12_000); // longer than a stamp stays fresh: the counts now rest on stamps made after the step
                for (int sample = 0; sample < 3; sample++) {
                    for (String region : List.of("a", "b")) {
                        int port = deployment.topology().regions().get(region).grpcPort();
                        assertThat(clients.nodeStatus(port)).as("node " + region + " answers").isPresent();
                        assertThat(clients.nodeStatus(port).get().getCpMembersAlive()).as("CP members node " + region
                                + " counts alive, sample " + sample).isEqualTo(3);
                    }
                    Thread.sleep(2_000);
                }
            } finally {
                new Faults(deployment).heal();
            }
        }
    }

    @Test
    void aJumpIsRefusedForAProcessWithoutAClockAndUndoneByHeal() {
        ClockFaults clocks = new ClockFaults(deployment.topology());
        assertThatThrownBy(() -> clocks.jump("router", 30)).hasMessageContaining("only node-a, node-b, witness");
        assertThatThrownBy(() -> clocks.jump("witness", 3_601)).hasMessageContaining("at most 3600 s");
        clocks.jump("witness", -5);
        assertThat(clocks.offset("witness")).isEqualTo("-5s");
        assertThat(new Faults(deployment).heal()).contains("witness's clock (was -5s)");
        assertThat(clocks.offset("witness")).isEqualTo("+0s");
    }
}
