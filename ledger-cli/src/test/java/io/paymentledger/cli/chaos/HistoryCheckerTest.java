package io.paymentledger.cli.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.cli.chaos.FinalState.Committed;
import io.paymentledger.cli.chaos.History.BalanceRead;
import io.paymentledger.cli.chaos.History.Outcome;
import io.paymentledger.cli.chaos.History.PaymentCall;
import io.paymentledger.cli.chaos.History.PaymentRead;
import io.paymentledger.cli.chaos.History.PaymentStep;
import io.paymentledger.cli.chaos.History.TransferRead;
import io.paymentledger.cli.chaos.History.Write;
import io.paymentledger.cli.chaos.HistoryChecker.Anomaly;
import io.paymentledger.cli.chaos.HistoryChecker.Kind;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The checker finds each kind of anomaly it names, and nothing in a sound history. Times are in ms for reading. */
class HistoryCheckerTest {

    private final History history = new History();
    private final Map<String, Committed> committed = new HashMap<>();
    private final Map<String, Long> credits = new HashMap<>();

    private static long ms(long t) {
        return t * 1_000_000L;
    }

    private void write(String id, long amount, long invoke, long complete, Outcome outcome) {
        history.add(new Write(id, "payer", "shop", amount, true, ms(invoke), ms(complete), outcome, outcome.name()));
    }

    private void commit(String id, long amount, long epoch, String region) {
        committed.put(id, new Committed(id, "payer", "shop", amount, epoch, region));
        credits.merge("shop", amount, Long::sum);
    }

    private List<Anomaly> check(List<String> ledgerProblems) {
        HistoryChecker.Verdict verdict = HistoryChecker.check(history, new FinalState(committed, credits, ledgerProblems));
        assertThat(verdict.total()).isEqualTo(verdict.examples().size());
        assertThat(verdict.sound()).isEqualTo(verdict.examples().isEmpty());
        return verdict.examples();
    }

    private List<Anomaly> check() {
        return check(List.of());
    }

    private static List<Kind> kinds(List<Anomaly> anomalies) {
        return anomalies.stream().map(Anomaly::kind).toList();
    }

    @Test
    void aSoundHistoryAcrossAFailoverHasNoAnomaly() {
        write("t1", 10, 0, 5, Outcome.ACKED);
        commit("t1", 10, 1, "a");
        write("t2", 20, 4, 3_000, Outcome.UNKNOWN); // in flight at the failover: it may or may not be there
        write("t3", 30, 3_500, 3_600, Outcome.ACKED);
        commit("t3", 30, 2, "b");
        write("t4", 1_000, 3_700, 3_710, Outcome.REFUSED); // e.g. insufficient funds: not written
        history.add(new BalanceRead("shop", 10, ms(6), ms(7)));
        history.add(new BalanceRead("shop", 40, ms(3_650), ms(3_660)));
        history.add(new TransferRead("t3", true, ms(3_601), ms(3_602)));
        history.add(new TransferRead("t2", false, ms(3_603), ms(3_604)));

        assertThat(check()).isEmpty();
    }

    @Test
    void anAcknowledgedWriteThatIsGoneIsLost() {
        write("t1", 10, 0, 5, Outcome.ACKED);
        assertThat(kinds(check())).containsExactly(Kind.LOST_WRITE);
    }

    @Test
    void anAcknowledgedWriteWithOtherFieldsIsChanged() {
        write("t1", 10, 0, 5, Outcome.ACKED);
        commit("t1", 11, 1, "a");
        assertThat(kinds(check())).containsExactly(Kind.CHANGED_WRITE);
    }

    @Test
    void aRefusedWriteThatExistsIsReported() {
        write("t1", 10, 0, 5, Outcome.REFUSED);
        commit("t1", 10, 1, "a");
        assertThat(kinds(check())).containsExactly(Kind.REFUSED_WRITE_PRESENT);
    }

    @Test
    void ledgerProblemsAreAnomalies() {
        assertThat(kinds(check(List.of("currency EUR does not sum to zero")))).containsExactly(Kind.LEDGER_INVARIANT);
    }

    @Test
    void aReadThatSawAWriteWhichWasThenLostIsReported() {
        write("t1", 10, 0, 5_000, Outcome.UNKNOWN);
        history.add(new TransferRead("t1", true, ms(10), ms(11)));
        history.add(new BalanceRead("shop", 10, ms(12), ms(13)));
        assertThat(kinds(check())).containsExactlyInAnyOrder(Kind.READ_OF_LOST_WRITE, Kind.READ_ABOVE_FINAL);
    }

    @Test
    void aReadThatMissesAnEarlierAcknowledgedWriteIsStale() {
        write("t1", 10, 0, 5, Outcome.ACKED);
        commit("t1", 10, 1, "a");
        history.add(new TransferRead("t1", false, ms(6), ms(7)));
        history.add(new BalanceRead("shop", 0, ms(8), ms(9)));
        assertThat(kinds(check())).containsExactly(Kind.STALE_READ, Kind.STALE_READ);
    }

    @Test
    void aReadConcurrentWithTheWriteMayMissIt() {
        write("t1", 10, 0, 5, Outcome.ACKED);
        commit("t1", 10, 1, "a");
        history.add(new TransferRead("t1", false, ms(4), ms(6)));
        history.add(new BalanceRead("shop", 0, ms(3), ms(7)));
        assertThat(check()).isEmpty();
    }

    @Test
    void readsOfAnAccountNeverGoBackwards() {
        write("t1", 10, 0, 50, Outcome.ACKED);
        commit("t1", 10, 1, "a");
        history.add(new BalanceRead("shop", 10, ms(20), ms(21)));
        history.add(new BalanceRead("shop", 0, ms(22), ms(23)));
        assertThat(kinds(check())).containsExactly(Kind.READ_WENT_BACKWARDS);
    }

    @Test
    void anOlderEpochAcknowledgingAfterANewerOneMeansTwoLeaders() {
        write("t1", 10, 0, 5, Outcome.ACKED);
        commit("t1", 10, 2, "b");
        write("t2", 10, 6, 9, Outcome.ACKED); // sent after epoch 2 answered, yet committed by the deposed epoch 1
        commit("t2", 10, 1, "a");
        assertThat(kinds(check())).containsExactly(Kind.TWO_LEADERS);
    }

    @Test
    void aRetryAnsweredExistsAfterAFailoverIsNotTwoLeaders() {
        write("t1", 10, 0, 3_000, Outcome.ACKED); // first attempt before the failover, answered EXISTS after it
        commit("t1", 10, 1, "a");
        write("t2", 10, 2_000, 2_100, Outcome.ACKED);
        commit("t2", 10, 2, "b");
        assertThat(check()).isEmpty();
    }

    @Test
    void detailsAreBoundedPerKind() {
        for (int i = 0; i < 100; i++) {
            write("t" + i, 1, 0, 1, Outcome.ACKED);
        }
        HistoryChecker.Verdict verdict = HistoryChecker.check(history, new FinalState(committed, credits, List.of()));
        assertThat(verdict.counts()).containsExactly(Map.entry(Kind.LOST_WRITE, 100));
        assertThat(verdict.examples()).hasSize(HistoryChecker.DETAILS_PER_KIND_MAX);
        assertThat(verdict.examples().get(0).detail()).contains("acknowledged").contains("not in the ledger");
    }

    // ---- payments -------------------------------------------------------------------------------------------

    private void step(String payment, String callId, PaymentCall call, long amount, long invoke, long complete, Outcome outcome) {
        history.add(new PaymentStep(payment, callId, call, amount, ms(invoke), ms(complete), outcome, outcome.name()));
    }

    private void commitStep(String id, long amount) {
        committed.put(id, new Committed(id, "pay-payer", "pay-shop", amount, 1, "a"));
    }

    private void readPayment(String payment, long captured, long refunded, long invoke, long complete) {
        history.add(new PaymentRead(payment, true, captured, refunded, ms(invoke), ms(complete)));
    }

    @Test
    void aSoundPaymentLifeHasNoAnomaly() {
        step("p1", "p1", PaymentCall.AUTHORIZE, 900, 0, 5, Outcome.ACKED);
        commitStep("p1", 900);
        step("p1", "p1-c1", PaymentCall.CAPTURE, 300, 10, 15, Outcome.ACKED);
        commitStep("p1-c1", 300);
        readPayment("p1", 300, 0, 16, 18);
        step("p1", "p1-c2", PaymentCall.CAPTURE, 225, 20, 3_000, Outcome.UNKNOWN); // in flight at a failover, then applied
        commitStep("p1-c2", 225);
        readPayment("p1", 525, 0, 3_001, 3_002);
        step("p1", "p1-c3", PaymentCall.CAPTURE, 900, 3_010, 3_012, Outcome.REFUSED); // above what is held
        step("p1", "p1-v", PaymentCall.VOID, 0, 3_020, 3_025, Outcome.ACKED);
        commitStep("p1-v", 375); // a void releases whatever was still held: its amount is the ledger's
        step("p1", "p1-r1", PaymentCall.REFUND, 262, 3_030, 3_035, Outcome.ACKED);
        commitStep("p1-r1", 262);
        readPayment("p1", 525, 262, 3_040, 3_041);
        assertThat(check()).isEmpty();
    }

    @Test
    void anAcknowledgedCaptureMissingARefusedOnePresentAndAChangedAmountAreReported() {
        step("p1", "p1", PaymentCall.AUTHORIZE, 900, 0, 5, Outcome.ACKED);
        commitStep("p1", 900);
        step("p1", "p1-c1", PaymentCall.CAPTURE, 300, 10, 15, Outcome.ACKED); // not committed: lost
        step("p1", "p1-c3", PaymentCall.CAPTURE, 900, 20, 25, Outcome.REFUSED);
        commitStep("p1-c3", 900); // refused, yet there
        step("p1", "p1-r1", PaymentCall.REFUND, 100, 30, 35, Outcome.ACKED);
        commitStep("p1-r1", 150); // acknowledged for 100
        assertThat(kinds(check())).containsExactlyInAnyOrder(Kind.LOST_WRITE, Kind.REFUSED_WRITE_PRESENT, Kind.CHANGED_WRITE);
    }

    @Test
    void aGetPaymentThatMissesAnAcknowledgedCaptureShowsALostOneOrGoesBackwardsIsReported() {
        step("p1", "p1", PaymentCall.AUTHORIZE, 900, 0, 5, Outcome.ACKED);
        commitStep("p1", 900);
        step("p1", "p1-c1", PaymentCall.CAPTURE, 300, 10, 15, Outcome.ACKED);
        commitStep("p1-c1", 300);
        readPayment("p1", 0, 0, 20, 21); // started after c1 was acknowledged: stale
        step("p1", "p1-c2", PaymentCall.CAPTURE, 225, 30, 40, Outcome.UNKNOWN); // lost in the end
        readPayment("p1", 525, 0, 35, 36); // showed c2, which the ledger does not hold: above final
        readPayment("p1", 300, 0, 50, 51); // after a read that saw 525: backwards
        history.add(new PaymentRead("p1", false, 0, 0, ms(60), ms(61))); // not found after the authorisation was acknowledged
        assertThat(kinds(check())).containsExactlyInAnyOrder(Kind.STALE_READ, Kind.READ_ABOVE_FINAL, Kind.READ_WENT_BACKWARDS,
                Kind.STALE_READ);
    }
}
