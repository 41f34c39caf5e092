package io.paymentledger.replication.walkeeper;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.walkeeper.WalKeeperMachine.Action;
import io.paymentledger.replication.walkeeper.WalKeeperMachine.Decision;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the WAL keeper does, from the CP record alone. */
class WalKeeperMachineTest {

    static ClusterRecord leads(String region, long epoch) {
        return new ClusterRecord(epoch, region, List.of("b", WalKeeper.NAME), "", "test", 0, 0);
    }

    @Test
    void itFollowsTheRecordedLeader() {
        Decision d = WalKeeperMachine.decide(leads("a", 3), null);
        assertThat(d.action()).isEqualTo(Action.FOLLOW);
        assertThat(d.region()).isEqualTo("a");
        assertThat(d.explanation()).contains("following a", "epoch 3");
    }

    @Test
    void aTakeoverFencesItSoTheOldPrimaryCanNoLongerGetACommitAcknowledgedHere() {
        Decision d = WalKeeperMachine.decide(leads("a", 3).withTakeover("b"), null);
        assertThat(d.action()).isEqualTo(Action.FENCE);
        assertThat(d.region()).isEqualTo("b");
        assertThat(d.epoch()).as("the term being replaced").isEqualTo(3);
        assertThat(d.explanation()).contains("b takes over from a", "stopped following a");
    }

    @Test
    void aHandoverKeepsItFollowingTheOldLeaderUntilTheNewTermIsRecorded() {
        assertThat(WalKeeperMachine.decide(leads("a", 3).withHandoverTo("b"), null).action()).isEqualTo(Action.FOLLOW);
        Decision after = WalKeeperMachine.decide(leads("b", 4), null);
        assertThat(after.action()).isEqualTo(Action.FOLLOW);
        assertThat(after.region()).isEqualTo("b");
    }

    @Test
    void withNoLeaderRecordedItFollowsNobody() {
        assertThat(WalKeeperMachine.decide(ClusterRecord.EMPTY, null).action()).isEqualTo(Action.IDLE);
    }

    @Test
    void withoutTheCpGroupItNeverStartsFollowingAnyoneNew() {
        Decision d = WalKeeperMachine.decide(ClusterRecord.EMPTY, "no quorum");
        assertThat(d.action()).isEqualTo(Action.KEEP);
        assertThat(d.explanation()).contains("CP group does not answer", "no quorum");
    }
}
