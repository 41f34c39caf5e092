package io.paymentledger.router.health;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The router's record of leadership changes: how long writes had no leader, newest first, bounded. */
class LeadershipLogTest {

    private final AtomicLong clock = new AtomicLong(1_000);
    private final LeadershipLog log = new LeadershipLog(clock::get, clock::get);

    @Test
    void aFailoverIsRecordedWithTheTimeWritesHadNoLeader() {
        change("", "a", 1);
        clock.addAndGet(60_000);
        change("a", "", 1);
        clock.addAndGet(2_345);
        change("", "b", 2);
        var changes = log.changes();
        assertThat(changes).hasSize(3);
        assertThat(changes.get(0).from()).isEqualTo("a");
        assertThat(changes.get(0).to()).isEqualTo("b");
        assertThat(changes.get(0).epoch()).isEqualTo(2);
        assertThat(changes.get(0).withoutLeaderMs()).isEqualTo(2_345);
        assertThat(changes.get(1).to()).isEmpty();
        assertThat(changes.get(2).withoutLeaderMs()).as("the router's start: unknown").isEqualTo(-1);
    }

    @Test
    void aDirectHandOverHadNoGapAndTheLogKeepsOnlyTheNewest() {
        change("", "a", 1);
        for (int i = 0; i < LeadershipLog.CHANGES_KEPT + 5; i++) {
            change(i % 2 == 0 ? "a" : "b", i % 2 == 0 ? "b" : "a", i + 2);
        }
        var changes = log.changes();
        assertThat(changes).hasSize(LeadershipLog.CHANGES_KEPT);
        assertThat(changes.get(0).epoch()).isEqualTo(LeadershipLog.CHANGES_KEPT + 6);
        assertThat(changes.get(0).withoutLeaderMs()).isZero();
    }

    private void change(String from, String to, long epoch) {
        log.changed(from, to, epoch, "test");
    }
}
