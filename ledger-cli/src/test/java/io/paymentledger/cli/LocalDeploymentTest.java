package io.paymentledger.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Monitoring;
import io.paymentledger.cli.observability.LivePrometheus;
import io.paymentledger.cli.deploy.Processes;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** `./ledger up` / `status` / `down` / `destroy` on real processes, in a temp directory. */
class LocalDeploymentTest {

    @Test
    void upServesThenDownStopsThenDestroyRemovesEverything() throws Exception {
        Path dir = Files.createTempDirectory("ledger-deploy-");
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        LocalDeployment d = LocalDeployment.open(dir, new PrintStream(printed, true));
        try {
            d.up();
            assertThat(printed.toString()).contains("ledger up: gRPC API for merchants at 127.0.0.1:" + d.topology().routerPort());
            var leader = d.awaitLeader(Duration.ofSeconds(5));
            assertThat(leader.getRole()).isEqualTo(NodeRole.NODE_ROLE_LEADER);
            assertThat(Processes.running(d.topology(), LocalDeployment.nodeName(leader.getRegion()))).isPresent();
            // status --json names regions, roles, epoch, endpoints, PIDs and the certificate paths
            var status = io.paymentledger.cli.command.StatusCommand.report(d.topology());
            assertThat(status.getString("leader")).isEqualTo(leader.getRegion());
            assertThat(status.getJsonObject("pki").getString("ca")).endsWith("pki/ca.crt");
            assertThat(Path.of(status.getJsonObject("pki").getString("operatorKey"))).exists();
            assertThat(status.getJsonObject("router").getBoolean("serving")).isTrue();
            assertThat(status.getJsonArray("regions").getJsonObject(0).getJsonObject("node").getLong("pid")).isPositive();
            // Three sites: within seconds every acknowledged write is on the leader, b and the WAL keeper, and the
            // keeper has its first base backup.
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while ((status.getInteger("syncCopies") < 3 || status.getJsonObject("walKeeper").getInteger("baseBackups", 0) < 1)
                    && System.nanoTime() < deadline) {
                LocalDeployment.sleep(500);
                status = io.paymentledger.cli.command.StatusCommand.report(d.topology());
            }
            assertThat(status.getInteger("syncCopies")).as("sites holding every acknowledged write").isEqualTo(3);
            var keeper = status.getJsonObject("walKeeper");
            assertThat(keeper.getString("state")).isEqualTo("FOLLOWING");
            assertThat(keeper.getString("following")).isEqualTo(leader.getRegion());
            assertThat(keeper.getJsonObject("stream").getBoolean("connected")).as("the leader sees the keeper stream").isTrue();
            assertThat(keeper.getInteger("baseBackups")).isPositive();
            assertThat(Path.of(keeper.getString("walDir"))).isDirectory();
            // Prometheus: started by up, named by status, every target up, alert rules loaded, the dashboard's queries answer.
            assertThat(printed.toString()).contains("prometheus: http://" + Monitoring.prometheusAddress(d.topology()));
            assertThat(status.getJsonObject("prometheus").getString("address")).isEqualTo(Monitoring.prometheusAddress(d.topology()));
            new LivePrometheus(d.topology()).assertServesEverything();
            // up again is a no-op while running
            d.up();
            assertThat(d.awaitLeader(Duration.ofSeconds(5)).getEpoch()).isEqualTo(leader.getEpoch());
            d.down();
            assertThat(Processes.running(d.topology(), LocalDeployment.nodeName(leader.getRegion()))).isEmpty();
            assertThat(d.postgres(leader.getRegion()).isRunning()).isFalse();
            assertThat(Processes.running(d.topology(), Monitoring.PROMETHEUS)).as("prometheus after down").isEmpty();
        } finally {
            d.destroy();
        }
        assertThat(dir).doesNotExist();
    }
}
