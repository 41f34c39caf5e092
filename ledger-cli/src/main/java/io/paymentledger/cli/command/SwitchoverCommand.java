package io.paymentledger.cli.command;

import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.SwitchoverRequest;
import io.paymentledger.api.v1.SwitchoverResponse;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "switchover", description = "Planned switchover: the leader drains, hands over to --to, and rejoins as its standby.")
public final class SwitchoverCommand implements Callable<Integer> {

    /** The leader answers within 30 s (it gives up draining after 10 s); the call waits a little longer. */
    static final long CALL_TIMEOUT_SECONDS = 40;

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--to", required = true, description = "The region to hand leadership to (a, b).")
    String to;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("ledger-switchover", Level.WARNING);
        LocalDeployment d = new LocalDeployment(Topology.load(deployment.dir()), System.out);
        SwitchoverResponse r = switchover(d, to);
        System.out.println("switchover: " + r.getExplanation() + "; epoch " + r.getNewEpoch() + "; writes paused "
                + r.getPauseMs() + " ms");
        return 0;
    }

    /** Asks the current leader to hand over to {@code to}; returns once {@code to} leads. */
    public static SwitchoverResponse switchover(LocalDeployment d, String to) throws Exception {
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(30));
        if (leader.getRegion().equals(to)) {
            throw new IllegalStateException("region " + to + " already leads (epoch " + leader.getEpoch() + ")");
        }
        try (Clients clients = Clients.operator(d.topology())) {
            // The request API, not the generated client: that one drops the status message, which here says why
            // (e.g. "switchover to b abandoned after 10 s (...): serving again as a").
            return clients.grpc().request(clients.address(d.topology().region(leader.getRegion()).grpcPort()),
                    NodeServiceGrpcClient.Switchover).compose(req -> {
                        req.timeout(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                        req.end(SwitchoverRequest.newBuilder().setToRegion(to).build());
                        return req.response();
                    }).compose(resp -> resp.last().recover(err -> io.vertx.core.Future.failedFuture(new IllegalStateException(
                            "switchover to " + to + " failed: " + resp.status() + (resp.statusMessage() == null ? ""
                                    : ": " + resp.statusMessage())))))
                    .await(CALL_TIMEOUT_SECONDS + 5, TimeUnit.SECONDS);
        }
    }
}
