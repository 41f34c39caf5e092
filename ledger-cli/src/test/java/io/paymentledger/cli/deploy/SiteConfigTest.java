package io.paymentledger.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sites' configuration files: what ./ledger up writes is what ./ledger site up reads, and bad files change nothing. */
class SiteConfigTest {

    @TempDir
    Path dir;

    @Test
    void theDefaultLayoutsFilesRebuildTheSameTopology() {
        Topology t = Topology.create(dir);
        for (String site : SiteConfig.allSites(t)) {
            SiteConfig c = SiteConfig.of(t, site);
            Path file = dir.resolve("cfg-" + site + ".json");
            c.write(file);
            assertThat(SiteConfig.read(file)).as(site).isEqualTo(c);
            // A fresh deployment made from one site's file alone has the same shape (ports, regions, primary).
            Topology fresh = c.applyTo(null);
            assertThat(fresh.regions()).isEqualTo(t.regions());
            assertThat(fresh.routerPort()).isEqualTo(t.routerPort());
            assertThat(fresh.witnessWalPort()).isEqualTo(t.witnessWalPort());
            assertThat(fresh.settings()).isEqualTo(t.settings());
            // Applied to the running shape, it changes nothing.
            assertThat(c.applyTo(t)).isEqualTo(t);
        }
    }

    @Test
    void aRegionsPostgresSettingsAndTheCpTimingAreTakenOver() {
        Topology t = Topology.create(dir);
        JsonObject j = SiteConfig.of(t, "b").toJson();
        j.put("postgres", new JsonObject().put("work_mem", "8MB").put("max_connections", 150));
        j.put("cp", new JsonObject().put("sessionTtlSeconds", 5).put("heartbeatSeconds", 1).put("leaderLeaseMs", 3000));
        Topology applied = SiteConfig.fromJson(j).applyTo(t);
        assertThat(applied.settings().postgres("b")).isEqualTo(Map.of("work_mem", "8MB", "max_connections", "150"));
        assertThat(applied.settings().postgres("a")).isEmpty();
        assertThat(applied.settings().cp()).isEqualTo(new Topology.CpTiming(5, 1, 3000));
        applied.save();
        assertThat(Topology.load(dir).settings()).isEqualTo(applied.settings());
        // The other region's file is unchanged by b's setting: only b's own part differs.
        assertThat(SiteConfig.of(applied, "a").own().postgres()).isEmpty();
    }

    @Test
    void badFilesAreRefusedWithTheReason() throws Exception {
        Topology t = Topology.create(dir);
        JsonObject good = SiteConfig.of(t, "a").toJson();
        assertRefused(good.copy().put("postgres", new JsonObject().put("synchronous_standby_names", "")),
                "postgres.synchronous_standby_names is set by the tooling");
        assertRefused(good.copy().put("postgres", new JsonObject().put("work_mem", "1MB\nfsync = off")), "one line");
        assertRefused(good.copy().put("layout", "cloud"), "layout must be loopback or netns");
        assertRefused(good.copy().put("role", "leader"), "role must be primary or standby");
        assertRefused(good.copy().put("format", 2), "format must be 1");
        assertRefused(good.copy().put("listeners", new JsonObject().put("postgres", 7432).put("node", 0).put("hazelcast", 7501)),
                "listeners.node must be a port");
        JsonObject samePort = good.copy();
        int aNode = t.region("a").grpcPort();
        samePort.getJsonObject("peers").getJsonObject("b").getJsonObject("listeners").put("node", aNode);
        assertRefused(samePort, "port " + aNode + " is both");
        assertRefused(good.copy().put("cp", new JsonObject().put("sessionTtlSeconds", 3).put("heartbeatSeconds", 1)
                .put("leaderLeaseMs", 2000)), "shorter than TTL minus heartbeat");
        // A deployment's listeners are fixed once created.
        JsonObject moved = good.copy().put("listeners", new JsonObject().put("postgres", 9432).put("node", aNode)
                .put("hazelcast", t.region("a").hazelcastPort()));
        assertThatThrownBy(() -> SiteConfig.fromJson(moved).applyTo(t)).hasMessageContaining("a.listeners")
                .hasMessageContaining("fixed once created");
        Path file = dir.resolve("broken.json");
        Files.writeString(file, "{not json");
        assertThatThrownBy(() -> SiteConfig.read(file)).hasMessageContaining("is not JSON");
    }

    private static void assertRefused(JsonObject j, String why) {
        assertThatThrownBy(() -> SiteConfig.fromJson(j)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(why);
    }
}
