package io.paymentledger.cli.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Who leads and which exit code, from what the processes answered: every rule of {@link Verdict}. */
class VerdictTest {

    private static Verdict.Node answered(String region, NodeRole role, long epoch, String leaderRegion) {
        return new Verdict.Node(region, Optional.of(100L), new Reply.Answered<>(NodeStatus.newBuilder().setRegion(region)
                .setRole(role).setEpoch(epoch).setLeaderRegion(leaderRegion).build(), 5, 3));
    }

    private static Verdict.Node silent(String region) {
        return new Verdict.Node(region, Optional.of(101L), new Reply.NoAnswer<>("connected and asked; no reply", 1_500));
    }

    private static Verdict.Node notRunning(String region) {
        return new Verdict.Node(region, Optional.empty(), new Reply.Refused<>("127.0.0.1:7401"));
    }

    private static final Reply<Verdict.RouterView> ROUTER_SILENT = new Reply.NoAnswer<>("TLS handshake", 1_500);

    @Test
    void aNodeThatSaysItLeadsIsTheConfirmedLeaderAndTheHighestEpochWins() {
        Verdict v = Verdict.decide(List.of(answered("a", NodeRole.NODE_ROLE_LEADER, 3, "a"),
                answered("b", NodeRole.NODE_ROLE_LEADER, 4, "b")), ROUTER_SILENT);
        assertThat(v.leader()).isEqualTo("b");
        assertThat(v.epoch()).isEqualTo(4);
        assertThat(v.confirmed()).isTrue();
        assertThat(v.exit()).isEqualTo(Verdict.Exit.LEADER_SERVES);
        assertThat(v.exit().code).isZero();
    }

    @Test
    void aLeaderWhoseWriterIsStalledIsNotReportedAsServing() {
        NodeStatus stalled = answered("a", NodeRole.NODE_ROLE_LEADER, 3, "a").reply().value().toBuilder()
                .setWriterStalled("writer stalled for 6.0 s: batch 42 is not answered").build();
        Verdict v = Verdict.decide(List.of(new Verdict.Node("a", java.util.Optional.of(42L), new Reply.Answered<>(stalled, 3, 1)),
                answered("b", NodeRole.NODE_ROLE_STANDBY, 3, "a")), ROUTER_SILENT);
        assertThat(v.leader()).isEqualTo("a");
        assertThat(v.exit()).isEqualTo(Verdict.Exit.LEADER_STALLED);
        assertThat(v.exit().code).isEqualTo(5);
        assertThat(v.source()).contains("batch 42 is not answered");
    }

    @Test
    void aNodeLeftBehindInAnOlderTermIsNotConfirmedAsLeader() {
        // a was paused as leader of epoch 3; b took over (epoch 4) and has not said it serves yet; a, woken, still says
        // it leads: the newest term's view (b's) names the leader, unconfirmed.
        Verdict v = Verdict.decide(List.of(answered("a", NodeRole.NODE_ROLE_LEADER, 3, "a"),
                answered("b", NodeRole.NODE_ROLE_STANDBY, 4, "b")), ROUTER_SILENT);
        assertThat(v.leader()).isEqualTo("b");
        assertThat(v.epoch()).isEqualTo(4);
        assertThat(v.confirmed()).isFalse();
        assertThat(v.exit()).isEqualTo(Verdict.Exit.UNCONFIRMED);
    }

    @Test
    void whileTheLeaderIsSilentAnotherNodeNamesItButTheExitCodeSaysUnconfirmed() {
        Verdict v = Verdict.decide(List.of(silent("a"), answered("b", NodeRole.NODE_ROLE_STANDBY, 3, "a")), ROUTER_SILENT);
        assertThat(v.leader()).isEqualTo("a");
        assertThat(v.confirmed()).isFalse();
        assertThat(v.source()).contains("node b");
        assertThat(v.exit().code).isEqualTo(4);
    }

    @Test
    void aLeaderNamedWhileEveryNodeIsKnownIsUnconfirmedNotNoLeader() {
        // The first seconds of a failover (runbooks/failover.md): a's node is gone, b still sees a's lock. Every node is
        // known, yet a leader is named: exit 4, not 2 (status --help and the README say so).
        Verdict v = Verdict.decide(List.of(notRunning("a"), answered("b", NodeRole.NODE_ROLE_STANDBY, 3, "a")), ROUTER_SILENT);
        assertThat(v.leader()).isEqualTo("a");
        assertThat(v.confirmed()).isFalse();
        assertThat(v.exit().code).isEqualTo(4);
    }

    @Test
    void theRoutersViewNamesTheLeaderWhenNoNodeDoes() {
        Verdict v = Verdict.decide(List.of(silent("a"), silent("b")),
                new Reply.Answered<>(new Verdict.RouterView(true, "b", 7), 4, 2));
        assertThat(v.leader()).isEqualTo("b");
        assertThat(v.epoch()).isEqualTo(7);
        assertThat(v.source()).contains("router");
        assertThat(v.exit()).isEqualTo(Verdict.Exit.UNCONFIRMED);
    }

    @Test
    void noLeaderIsReportedOnlyWhenEveryNodeAnsweredOrIsProvablyNotRunning() {
        Verdict known = Verdict.decide(List.of(notRunning("a"), answered("b", NodeRole.NODE_ROLE_STANDBY, 3, "")), ROUTER_SILENT);
        assertThat(known.leader()).isEmpty();
        assertThat(known.exit().code).isEqualTo(2);

        // A node that runs but did not answer might be leading: "no leader" would be a guess.
        Verdict unknown = Verdict.decide(List.of(silent("a"), answered("b", NodeRole.NODE_ROLE_STANDBY, 3, "")), ROUTER_SILENT);
        assertThat(unknown.leader()).isEmpty();
        assertThat(unknown.exit().code).isEqualTo(4);
    }

    @Test
    void aProcessIsDescribedByWhatIsKnownNeverAsABareDown() {
        assertThat(Verdict.process(Optional.empty(), new Reply.Refused<>("127.0.0.1:7401"))).isEqualTo("not running (no PID)");
        assertThat(Verdict.process(Optional.of(42L), new Reply.Refused<>("127.0.0.1:7401")))
                .isEqualTo("running (pid 42) but connection refused on 127.0.0.1:7401");
        assertThat(Verdict.process(Optional.of(42L), new Reply.NoAnswer<>("TLS handshake", 1_500)))
                .isEqualTo("running (pid 42) but no answer in 1500 ms (TLS handshake)");
        assertThat(Verdict.process(Optional.of(42L), new Reply.TlsFailed<>("certificate expired")))
                .isEqualTo("running (pid 42) but TLS error: certificate expired");
        assertThat(Verdict.process(Optional.of(42L), new Reply.Answered<>("x", 12, 0))).isEqualTo("answered in 12 ms");
    }

    @Test
    void failuresAreClassifiedByTheirCauseChain() {
        var refused = Reply.of(new RuntimeException(new java.net.ConnectException("Connection refused")), "127.0.0.1:1", "TCP connect", 1_500);
        assertThat(refused).isInstanceOf(Reply.Refused.class);
        var tls = Reply.of(new javax.net.ssl.SSLHandshakeException("PKIX path validation failed"), "127.0.0.1:1", "TCP connect", 1_500);
        assertThat(tls).isInstanceOf(Reply.TlsFailed.class);
        var deadline = Reply.of(new java.util.concurrent.TimeoutException(), "127.0.0.1:1", "reply", 1_500);
        assertThat(deadline.describe()).isEqualTo("no answer in 1500 ms (reply)");
    }
}
