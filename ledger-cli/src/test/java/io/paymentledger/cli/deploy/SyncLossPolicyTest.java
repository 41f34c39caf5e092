package io.paymentledger.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.paymentledger.cli.Main;
import io.paymentledger.replication.failover.FailoverStateMachine.SyncLossPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ./ledger up --sync-loss DEGRADE} (runbooks/region-loss.md): the policy is recorded in the deployment and both
 * nodes are started with it, as the real {@code ledger node} command line parses it. Nothing is started here.
 */
class SyncLossPolicyTest {

    @TempDir
    Path dir;

    /** The policy the node command line that {@code up} would run asks for, as picocli parses it. */
    private static SyncLossPolicy startedWith(Topology t, String region) {
        CommandLine.ParseResult parsed = new CommandLine(new Main())
                .parseArgs(LocalDeployment.nodeArguments(t, region).toArray(String[]::new));
        assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("node");
        assertThat(parsed.subcommand().<String>matchedOptionValue("--region", null)).isEqualTo(region);
        return parsed.subcommand().matchedOptionValue("--sync-loss", null);
    }

    @Test
    void bothNodesStartWithThePolicyUpRecorded() {
        Topology t = Topology.create(dir);
        assertThat(startedWith(t, "a")).as("nothing recorded: the default").isEqualTo(SyncLossPolicy.BLOCK);

        LocalDeployment.recordSyncLossPolicy(t, SyncLossPolicy.DEGRADE);
        assertThat(startedWith(t, "a")).isEqualTo(SyncLossPolicy.DEGRADE);
        assertThat(startedWith(t, "b")).isEqualTo(SyncLossPolicy.DEGRADE);

        LocalDeployment.recordSyncLossPolicy(t, SyncLossPolicy.BLOCK);
        assertThat(startedWith(t, "b")).as("set back").isEqualTo(SyncLossPolicy.BLOCK);
    }

    @Test
    void anUnknownPolicyIsRefusedBeforeAnythingIsCreated() {
        Path deployment = dir.resolve("never");
        int exit = Main.execute("up", "--dir", deployment.toString(), "--sync-loss", "SOMETIMES");
        assertThat(exit).as("picocli's usage error").isEqualTo(2);
        assertThat(deployment).doesNotExist();
    }

    @Test
    void aDamagedRecordSaysHowToSetIt() throws Exception {
        Topology t = Topology.create(dir);
        Files.createDirectories(t.run());
        Files.writeString(LocalDeployment.syncLossFile(t), "MAYBE\n");
        assertThatThrownBy(() -> LocalDeployment.nodeArguments(t, "a")).hasMessageContaining("MAYBE")
                .hasMessageContaining("./ledger up --sync-loss BLOCK|DEGRADE");
    }
}
