package io.paymentledger.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.paymentledger.cli.chaos.NetworkFaults;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Sites;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.drill.Drills;
import io.paymentledger.replication.postgres.ProcessRunner;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The deployment with its sites as network hosts (`./ledger up --sites netns`): region a, region b and the witness
 * each in a network namespace of its own, the router on 127.0.0.1. Links are cut with nftables drops (silence, as a
 * dead link gives) under the drills' workload through the router, and each drill proves what FailoverDrillsTest's
 * do: every acknowledged transfer present exactly once, every ledger sums to zero, balances equal the transfers, no
 * client error through the router, no leader serving with nobody else in its commit quorum.
 * Needs root (network namespaces); CI runs as root. Timings are measured by `./ledger drill` (runbooks/chaos.md).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
class SiteNetworkDrillsTest {

    /** The chaos run: long enough for at least two cuts with their recovery on a loaded machine; a fixed schedule. */
    static final int CHAOS_RUN_S = 45;
    static final long CHAOS_SEED = 11;

    static LocalDeployment deployment;
    static Drills drills;
    static final ByteArrayOutputStream printed = new ByteArrayOutputStream();

    @BeforeAll
    static void up() throws Exception {
        assumeTrue(ProcessRunner.run(List.of("id", "-u"), 10).output().strip().equals("0"),
                "network namespaces need root (CI runs as root)");
        deployment = LocalDeployment.open(Files.createTempDirectory("ledger-netns-"), new PrintStream(printed, true),
                Sites.Layout.NETNS);
        deployment.up();
        drills = new Drills(deployment, true);
    }

    @AfterAll
    static void destroy() {
        if (drills != null) {
            drills.close();
        }
        if (deployment != null) {
            keepLogs(deployment.topology().logs(), Path.of("target", "site-network-drills-logs"));
            deployment.destroy();
            // destroy removes the sites' namespaces and bridge with everything else
            assertThat(Path.of("/run/netns", deployment.topology().sites().namespace("a").orElseThrow())).doesNotExist();
        }
    }

    /** The processes' logs outlive the deployment (under the module's target/): a failed drill is read from them. */
    static void keepLogs(Path logs, Path into) {
        try (var files = Files.list(logs)) {
            Files.createDirectories(into);
            for (Path f : files.toList()) {
                Files.copy(f, into.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (java.io.IOException e) {
            System.err.println("could not keep the logs of " + logs + ": " + e.getMessage());
        }
    }

    @Test
    @Order(1)
    void eachSiteIsAHostOfItsOwnAndTheRouterServesOnLoopback() throws Exception {
        Topology t = deployment.topology();
        Sites sites = t.sites();
        assertThat(sites.netns()).isTrue();
        assertThat(List.of(t.host("a"), t.host("b"), t.host(Topology.WITNESS_SITE))).doesNotHaveDuplicates()
                .allSatisfy(h -> assertThat(h).startsWith("10.").isNotEqualTo("127.0.0.1"));
        for (String region : t.regions().keySet()) {
            Topology.Region r = t.region(region);
            // PostgreSQL and the node listen on their site's address, reached from here over the bridge...
            assertThat(connects(t.host(region), r.pgPort())).as("postgres " + region + " at its site").isTrue();
            assertThat(connects(t.host(region), r.grpcPort())).as("node " + region + " at its site").isTrue();
            // ...and nowhere else: this namespace's loopback has neither.
            assertThat(connects("127.0.0.1", r.grpcPort())).as("node " + region + " on the operator's loopback").isFalse();
        }
        assertThat(connects(t.host(Topology.WITNESS_SITE), t.witnessHazelcastPort())).isTrue();
        try (Clients c = Clients.operator(t)) {
            assertThat(c.serving(t.routerPort())).as("the router on 127.0.0.1").isTrue();
        }
        assertThat(printed.toString()).contains("sites: network namespaces");
    }

    @Test
    @Order(2)
    void isolatingTheLeadersRegionFailsOverAndItRejoinsOnceTheLinksAreBack() throws Exception {
        Drills.Result r = drills.run(Drills.Scenario.ISOLATE_LEADER_REGION);
        FailoverDrillsTest.assertSound(r);
        assertThat(r.detail()).contains("isolate a");
    }

    @Test
    @Order(3)
    void partitioningTheRegionsFromEachOtherDoesNotStopWrites() throws Exception {
        Drills.Result r = drills.run(Drills.Scenario.PARTITION_LEADER_STANDBY);
        FailoverDrillsTest.assertSound(r);
        assertThat(r.acknowledgedDuringFault()).as("writes acknowledged (confirmed by the WAL keeper) while a and b"
                + " could not reach each other").isPositive();
    }

    @Test
    @Order(6) // last: it ends without waiting for the WAL keeper to rejoin (once >60 s in CI after isolate_witness)
    void aSeededChaosRunOfCutLinksIsSoundByTheHistoryChecker(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        // The merchant workload with linearizable reads through the router, the network classes in turn on whichever
        // region leads, then every answer checked against the ledger (lost or changed writes, reads of lost writes,
        // stale or backward reads, two leaders, invariants).
        List<String> classes = List.of("isolate_leader_region", "cut_standby_to_leader", "partition_leader_standby",
                "isolate_witness");
        Path json = tmp.resolve("chaos.json");
        int exit = Main.execute("chaos", "run", "--dir", deployment.topology().dir().toString(), "--duration",
                Integer.toString(CHAOS_RUN_S), "--seed", Long.toString(CHAOS_SEED), "--faults", String.join(",", classes),
                "--json", json.toString());
        io.vertx.core.json.JsonObject report = new io.vertx.core.json.JsonObject(Files.readString(json));
        assertThat(report.getString("verdict")).as("verdict of " + report.encodePrettily()).isEqualTo("sound");
        assertThat(exit).isZero();
        List<String> injected = report.getJsonArray("faults").stream().map(f -> (io.vertx.core.json.JsonObject) f)
                .filter(f -> f.getBoolean("injected")).map(f -> f.getString("class")).toList();
        assertThat(injected).as("classes injected within " + CHAOS_RUN_S + " s").hasSizeGreaterThanOrEqualTo(2)
                .allSatisfy(c -> assertThat(classes).contains(c));
        assertThat(report.getJsonObject("ops").getLong("writesAcked")).isPositive();
        assertThat(report.getJsonObject("ops").getLong("transferReads")).isPositive();
        assertThat(new NetworkFaults(deployment.topology()).inPlace()).as("every cut healed after the run").isEmpty();
    }

    @Test
    @Order(5)
    void isolatingTheWitnessLosesNothing() throws Exception {
        Drills.Result r = drills.run(Drills.Scenario.ISOLATE_WITNESS);
        FailoverDrillsTest.assertSound(r);
        assertThat(new NetworkFaults(deployment.topology()).inPlace()).as("every cut healed after the drill").isEmpty();
    }

    private static boolean connects(String host, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 1_000);
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
