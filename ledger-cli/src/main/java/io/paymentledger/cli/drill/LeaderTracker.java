package io.paymentledger.cli.drill;

import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.Leadership;
import io.paymentledger.cli.deploy.Topology;
import io.vertx.core.net.SocketAddress;
import java.util.function.Supplier;

/**
 * Follows which node leads, for clients that talk to the nodes directly (the region router does the same
 * for merchants): a background poll of every node's status every 100 ms, judged by {@link Leadership}.
 */
public final class LeaderTracker implements Supplier<SocketAddress>, AutoCloseable {

    private final Topology topology;
    private final Clients clients;
    private final Thread thread;
    private volatile SocketAddress leader;
    private volatile String leaderRegion = "";
    private volatile boolean closed;

    public LeaderTracker(Topology topology, Clients clients) {
        this.topology = topology;
        this.clients = clients;
        Topology.Region first = topology.regions().values().iterator().next();
        this.leader = clients.address(first.grpcPort());
        this.thread = Thread.ofPlatform().name("leader-tracker").daemon(true).start(this::poll);
    }

    private void poll() {
        while (!closed) {
            Leadership.confirmedLeader(clients.nodeStatuses(topology.regions().values())).ifPresent(l -> {
                Topology.Region r = topology.regions().get(l.getRegion());
                if (r != null) {
                    leader = clients.address(r.grpcPort());
                    leaderRegion = r.name();
                }
            });
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public SocketAddress get() {
        return leader;
    }

    public String leaderRegion() {
        return leaderRegion;
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
