package io.paymentledger.ledger.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.paymentledger.ledger.write.LedgerBug;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue #20's TigerBeetle-style assertion at a money boundary: a hold is never both released and captured (posted),
 * nor posted beyond what it holds. Each is a {@link LedgerBug} (the writer steps down), never a quiet second movement.
 */
class PendingHoldTest {

    private static PendingHold held(long amount) {
        TransferRow row = new TransferRow("h1", "a", "b", amount, "EUR", 1, TransferFlags.PENDING, "", 60, "", Map.of(), 1L, 1L,
                null, null);
        return new PendingHold(row, amount, 0, PendingState.HELD, 0);
    }

    @Test
    void aReleasedHoldIsNeverPostedAndAPostedOneNeverReleased() {
        PendingHold voided = held(100);
        assertThat(voided.release(PendingState.VOIDED)).isEqualTo(100);
        assertThatThrownBy(() -> voided.post(1)).isInstanceOf(LedgerBug.class).hasMessageContaining("posted 1 while VOIDED");
        assertThatThrownBy(() -> voided.release(PendingState.EXPIRED)).isInstanceOf(LedgerBug.class);

        PendingHold captured = held(100);
        captured.post(100);
        assertThat(captured.state()).isEqualTo(PendingState.POSTED);
        assertThatThrownBy(() -> captured.release(PendingState.EXPIRED)).isInstanceOf(LedgerBug.class)
                .hasMessageContaining("released as EXPIRED while POSTED");
    }

    @Test
    void aHoldIsNeverPostedBeyondWhatItHolds() {
        PendingHold partly = held(100);
        partly.post(60);
        assertThatThrownBy(() -> partly.post(41)).isInstanceOf(LedgerBug.class).hasMessageContaining("with 40 left");
        assertThatThrownBy(() -> partly.post(-1)).isInstanceOf(LedgerBug.class);
        // What is left may still be released: the hold ends with 60 posted and 40 released, never more than 100 moved.
        assertThat(partly.release(PendingState.VOIDED)).isEqualTo(40);
        assertThat(partly.posted()).isEqualTo(60);
    }
}
