package io.paymentledger.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.ledger.grpc.ReadGate;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** A linearizable read is checked against the lease before its query and again after it. */
class ReadGateTest {

    /** A gate whose leadership the test switches, as a lease running out during a query would. */
    static final class Switch implements ReadGate {
        final AtomicBoolean leading = new AtomicBoolean(true);

        @Override
        public boolean leads() {
            return leading.get();
        }

        @Override
        public String notLeadingReason() {
            return "lease expired";
        }

        @Override
        public long stalenessMs() {
            return 0;
        }
    }

    private static final ReadOptions LINEARIZABLE = ReadOptions.newBuilder()
            .setConsistency(ReadConsistency.READ_CONSISTENCY_LINEARIZABLE).build();

    @Test
    void aLinearizableReadWhoseLeaseEndedDuringTheQueryIsRefusedNotAnswered() throws Exception {
        Switch gate = new Switch();
        gate.check(LINEARIZABLE);
        // The query runs; meanwhile the lease ends (a pause, a cut-off) and another region may take over.
        gate.leading.set(false);
        Future<String> answer = gate.confirm(LINEARIZABLE, Future.succeededFuture("balance as this node saw it"));
        assertThat(answer.failed()).isTrue();
        assertThat(answer.cause()).isInstanceOf(StatusException.class);
        assertThat(((StatusException) answer.cause()).status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(((StatusException) answer.cause()).message()).contains("lease ended while the read ran");
    }

    @Test
    void aLinearizableReadOfALeaderThatStillLeadsIsAnswered() {
        Switch gate = new Switch();
        Future<String> answer = gate.confirm(LINEARIZABLE, Future.succeededFuture("42"));
        assertThat(answer.succeeded()).isTrue();
        assertThat(answer.result()).isEqualTo("42");
    }

    @Test
    void aBoundedStalenessReadNeedsNoLeader() {
        Switch gate = new Switch();
        gate.leading.set(false);
        ReadOptions bounded = ReadOptions.newBuilder().setConsistency(ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS)
                .setMaxStalenessMs(1_000).build();
        Future<String> answer = gate.confirm(bounded, Future.succeededFuture("from a standby"));
        assertThat(answer.result()).isEqualTo("from a standby");
    }
}
