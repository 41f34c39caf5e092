package io.paymentledger.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.paymentledger.cli.chaos.NetworkFaults;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sites' layout as topology.json keeps it, and what each layout means for addresses and launching. */
class SitesTest {

    @TempDir
    Path dir;

    @Test
    void theNetnsLayoutGivesEverySiteItsOwnAddressNamespaceAndLauncher() {
        Sites s = Sites.netns(List.of("a", "b", "witness"), "/some/deployment", 0);
        assertThat(s.netns()).isTrue();
        assertThat(s.hosts().values()).doesNotHaveDuplicates().allSatisfy(h -> assertThat(h).matches("10\\.\\d+\\.\\d+\\.[234]"));
        assertThat(s.gateway()).endsWith(".1");
        assertThat(s.clientCidr()).endsWith(".0/24").startsWith(s.gateway().substring(0, s.gateway().lastIndexOf('.')));
        assertThat(s.launcher("a")).containsExactly("ip", "netns", "exec", s.namespace("a").orElseThrow());
        // interface names: at most 15 characters
        assertThat(s.bridge().length()).isLessThanOrEqualTo(15);
        // another deployment directory gets another subnet and other names
        Sites other = Sites.netns(List.of("a", "b", "witness"), "/another/deployment", 0);
        assertThat(other.gateway()).isNotEqualTo(s.gateway());
        assertThat(other.namespace("a")).isNotEqualTo(s.namespace("a"));
    }

    @Test
    void theLoopbackLayoutPutsEverythingOn127001AndLaunchesDirectly() {
        Sites s = Sites.LOOPBACK;
        assertThat(s.host("a")).isEqualTo("127.0.0.1");
        assertThat(s.launcher("a")).isEmpty();
        assertThat(s.clientCidr()).isEqualTo("127.0.0.1/32");
    }

    @Test
    void theLayoutSurvivesTopologyJsonAndOldFilesMeanLoopback() throws Exception {
        Sites s = Sites.netns(List.of("a", "b", "witness"), dir.toString(), 3);
        Topology t = Topology.create(dir, s);
        t.save();
        Topology back = Topology.load(dir);
        assertThat(back.sites()).isEqualTo(s);
        assertThat(back.hazelcastMembers()).containsExactly(s.host("a") + ":" + t.region("a").hazelcastPort(),
                s.host("b") + ":" + t.region("b").hazelcastPort(), s.host("witness") + ":" + t.witnessHazelcastPort());
        assertThat(back.hostOfPort(t.region("b").pgPort())).isEqualTo(s.host("b"));
        assertThat(back.hostOfPort(t.routerPort())).isEqualTo("127.0.0.1");
        // A topology.json written before sites existed has no "sites": it is the loopback layout.
        Files.writeString(dir.resolve(Topology.FILE), Files.readString(dir.resolve(Topology.FILE)).replaceAll("(?s),\\s*\"sites\"\\s*:\\s*\\{.*?\"prefixBits\"\\s*:\\s*\\d+\\s*}", ""));
        assertThat(Topology.load(dir).sites()).isEqualTo(Sites.LOOPBACK);
    }

    @Test
    void aDeploymentKeepsItsLayoutAndLinksCannotBeCutOnLoopback() {
        LocalDeployment d = LocalDeployment.open(dir, new PrintStream(java.io.OutputStream.nullOutputStream()));
        assertThatThrownBy(() -> LocalDeployment.open(dir, System.out, Sites.Layout.NETNS))
                .hasMessageContaining("has its sites on loopback").hasMessageContaining("./ledger destroy");
        assertThatThrownBy(() -> new NetworkFaults(d.topology())).hasMessageContaining("--sites netns");
    }
}
