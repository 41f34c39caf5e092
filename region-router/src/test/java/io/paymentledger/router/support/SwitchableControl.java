package io.paymentledger.router.support;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.SwitchoverResponse;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.NodeControl;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.sql.SQLException;

/**
 * A NodeControl the test drives: leadership moves when the test says so (the real coordinator is built
 * elsewhere). {@code lead(epoch)} stores the epoch in the node's database (when higher) and starts the writer.
 */
public final class SwitchableControl implements NodeControl {

    private volatile LedgerNode node;
    private volatile String reason = "standby";
    /** What a standby claims its replay lag is (the test harness has no replication). */
    public volatile long standbyStalenessMs = 0;

    @Override
    public void start(LedgerNode node) {
        this.node = node;
        node.migrateSchema();
    }

    public void lead(long epoch) {
        try {
            node.claimEpoch(epoch); // false when the database has it already: leading again with the same epoch
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        node.writer().lead(epoch);
        reason = "";
    }

    public void stepDown(String why) {
        reason = why;
        node.writer().stepDown(why);
    }

    @Override
    public void stop() {
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
        return reason;
    }

    @Override
    public long stalenessMs() {
        return leads() ? 0 : standbyStalenessMs;
    }

    @Override
    public NodeStatus status() {
        LedgerNode n = node;
        NodeStatus.Builder b = NodeStatus.newBuilder().setPid(ProcessHandle.current().pid());
        if (n == null) {
            return b.setRole(NodeRole.NODE_ROLE_STARTING).build();
        }
        boolean leads = leads();
        return b.setRegion(n.region()).setRole(leads ? NodeRole.NODE_ROLE_LEADER : NodeRole.NODE_ROLE_STANDBY)
                .setEpoch(n.writer().epoch()).setLeaderRegion(leads ? n.region() : "").setGrpcAddress(n.grpcAddress())
                .setDatabasePrimary(true).setExplanation(leads ? "test: leading" : "test: " + reason).build();
    }

    @Override
    public Future<SwitchoverResponse> switchover(String toRegion) {
        return Future.failedFuture(new StatusException(GrpcStatus.FAILED_PRECONDITION, "not in tests"));
    }
}
