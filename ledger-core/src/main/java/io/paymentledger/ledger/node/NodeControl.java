package io.paymentledger.ledger.node;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.SwitchoverResponse;
import io.paymentledger.ledger.grpc.ReadGate;
import io.vertx.core.Future;

/**
 * What decides whether this node leads, seen from the API: a single-region node that always leads
 * ({@link StandaloneControl}), or the replication agent that follows the CP group.
 */
public interface NodeControl extends ReadGate {

    /** The node's state for NodeService.GetNodeStatus and `./ledger status`. */
    NodeStatus status();

    /** Planned switchover to {@code toRegion}. */
    Future<SwitchoverResponse> switchover(String toRegion);

    /** Called once the node's gRPC server is listening; the control may start leading from here on. */
    void start(LedgerNode node);

    void stop();

    /** Leading, but commits would wait (the synchronous standby is gone and the policy is BLOCK). */
    default boolean writesBlocked() {
        return false;
    }

    /** Health: SERVING only while writes can be served. */
    default boolean servesWrites() {
        return leads() && !writesBlocked();
    }

    /** The writer's commit failed in a way that leaves the database's state uncertain. */
    default void onWriteFault(String reason) {
    }
}
