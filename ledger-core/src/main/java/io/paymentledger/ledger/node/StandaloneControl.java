package io.paymentledger.ledger.node;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.SwitchoverResponse;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.logging.Logger;

/**
 * A single region without a standby: the node leads from start-up, with an epoch one above the one stored
 * (so any earlier process on the same database is fenced out).
 */
public final class StandaloneControl implements NodeControl {

    private static final Logger LOG = Logger.getLogger(StandaloneControl.class.getName());

    private volatile LedgerNode node;
    private volatile String reason = "starting";

    @Override
    public void start(LedgerNode node) {
        this.node = node;
        node.migrateSchema();
        long epoch = node.claimNextEpoch();
        node.writer().lead(epoch);
        reason = "";
        LOG.info(() -> "standalone: I am " + node.region() + ", the only region; leading with epoch " + epoch);
    }

    @Override
    public void stop() {
        reason = "stopped";
        LedgerNode n = node;
        if (n != null) {
            n.writer().stepDown("node stopping");
        }
    }

    @Override
    public boolean leads() {
        LedgerNode n = node;
        return n != null && n.writer().isLeading();
    }

    @Override
    public String notLeadingReason() {
        LedgerNode n = node;
        // After start-up, the writer knows why it stopped (an invariant, a stall, a step-down).
        return n == null || !reason.isEmpty() ? reason : n.writer().notLeadingReason();
    }

    @Override
    public long stalenessMs() {
        return leads() ? 0 : Long.MAX_VALUE;
    }

    @Override
    public NodeStatus status() {
        LedgerNode n = node;
        NodeStatus.Builder b = NodeStatus.newBuilder().setPid(ProcessHandle.current().pid());
        if (n == null) {
            return b.setRole(NodeRole.NODE_ROLE_STARTING).setExplanation("starting").build();
        }
        boolean leads = leads();
        var stall = n.writer().stall();
        if (stall != null) {
            b.setWriterStalled(stall.toString());
        }
        return b.setRegion(n.region()).setRole(leads ? NodeRole.NODE_ROLE_LEADER : NodeRole.NODE_ROLE_FENCED)
                .setEpoch(n.writer().epoch()).setLeaderRegion(leads ? n.region() : "").setGrpcAddress(n.grpcAddress())
                .setDatabasePrimary(true).setCoordinatorQuorum(false)
                .setExplanation(leads ? "I am " + n.region() + ", a single region without standby: I lead (epoch "
                        + n.writer().epoch() + ")" : "not leading: " + notLeadingReason())
                .build();
    }

    @Override
    public Future<SwitchoverResponse> switchover(String toRegion) {
        return Future.failedFuture(new StatusException(GrpcStatus.FAILED_PRECONDITION,
                "this is a single-region node without a standby: there is nothing to switch over to"));
    }
}
