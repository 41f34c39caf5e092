package io.paymentledger.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one rule for "who leads" that status, up, down, the drills and the chaos run share. */
class LeadershipTest {

    private static NodeStatus node(String region, NodeRole role, long epoch) {
        return NodeStatus.newBuilder().setRegion(region).setRole(role).setEpoch(epoch).build();
    }

    @Test
    void theNodeThatSaysItLeadsInTheNewestTermLeads() {
        assertThat(Leadership.confirmedLeader(List.of(node("a", NodeRole.NODE_ROLE_LEADER, 5),
                node("b", NodeRole.NODE_ROLE_STANDBY, 5)))).map(NodeStatus::getRegion).contains("a");
        // Two claims (a woken old leader and the new one): the higher epoch, whatever the order of the answers.
        assertThat(Leadership.confirmedLeader(List.of(node("b", NodeRole.NODE_ROLE_LEADER, 6),
                node("a", NodeRole.NODE_ROLE_LEADER, 5)))).map(NodeStatus::getRegion).contains("b");
    }

    @Test
    void aLeaderOfAnOlderTermThanAnotherNodeHasSeenIsNotConfirmed() {
        // a was paused as leader of epoch 5; b has moved on to epoch 6 but does not serve yet.
        assertThat(Leadership.confirmedLeader(List.of(node("a", NodeRole.NODE_ROLE_LEADER, 5),
                node("b", NodeRole.NODE_ROLE_STANDBY, 6)))).isEmpty();
    }

    @Test
    void noClaimOrNoAnswerConfirmsNobody() {
        assertThat(Leadership.confirmedLeader(List.of(node("a", NodeRole.NODE_ROLE_STANDBY, 2),
                node("b", NodeRole.NODE_ROLE_STANDBY, 2)))).isEmpty();
        assertThat(Leadership.confirmedLeader(List.of())).isEmpty();
    }
}
