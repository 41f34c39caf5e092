package io.paymentledger.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A new deployment's listeners each get a port of their own when the preferred ones are taken (another deployment runs
 * on the host, as in CI): every listener of one deployment on a distinct port, and no substitute handed out twice.
 */
class TopologyPortsTest {

    static final int[] PREFERRED = {7400, 7401, 7402, 7432, 7433, 7490, 7491, 7492, 7501, 7502, 7503, 7504};

    @Test
    void withEveryPreferredPortTakenEachListenerGetsItsOwnPort(@TempDir Path dir) throws Exception {
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int p : PREFERRED) {
                try {
                    held.add(new ServerSocket(p, 50, InetAddress.getLoopbackAddress()));
                } catch (java.io.IOException alreadyTaken) {
                    // something else listens there: taken either way
                }
            }
            Set<Integer> substitutes = new HashSet<>();
            for (int i = 0; i < 40; i++) {
                Topology t = Topology.create(dir.resolve("d" + i));
                List<Integer> ports = ports(t);
                assertThat(ports).as("deployment %d's listeners", i).doesNotHaveDuplicates().hasSize(12);
                assertThat(ports).as("deployment %d: no preferred port (all taken)", i).doesNotContain(7400, 7401, 7501, 7503);
                for (int p : ports) {
                    assertThat(substitutes.add(p)).as("port %d handed out twice (deployment %d)", p, i).isTrue();
                }
            }
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
    }

    static List<Integer> ports(Topology t) {
        List<Integer> ports = new ArrayList<>();
        for (Topology.Region r : t.regions().values()) {
            ports.add(r.pgPort());
            ports.add(r.grpcPort());
            ports.add(r.hazelcastPort());
        }
        ports.add(t.witnessHazelcastPort());
        ports.add(t.witnessWalPort());
        ports.add(t.routerPort());
        ports.add(t.monitoring().prometheusPort());
        ports.addAll(t.monitoring().pgExporterPorts().values());
        return ports;
    }
}
