package io.paymentledger.cli.chaos;

import io.paymentledger.cli.chaos.FinalState.Committed;
import io.paymentledger.cli.chaos.History.BalanceRead;
import io.paymentledger.cli.chaos.History.Outcome;
import io.paymentledger.cli.chaos.History.PaymentCall;
import io.paymentledger.cli.chaos.History.PaymentRead;
import io.paymentledger.cli.chaos.History.PaymentStep;
import io.paymentledger.cli.chaos.History.TransferRead;
import io.paymentledger.cli.chaos.History.Write;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Judges a chaos run: what the clients were told ({@link History}) against what the ledger holds afterwards
 * ({@link FinalState}). Every rule is one a merchant relies on; any breach is an {@link Anomaly}.
 * <ul>
 *   <li>every acknowledged write is present, once, as acknowledged; no refused write is present;</li>
 *   <li>balances equal the replay of the transfers that exist and every currency sums to zero;</li>
 *   <li>no read showed a write that is absent at the end, or an amount above the final one;</li>
 *   <li>reads are linearizable: a read started after a write was acknowledged sees it; reads of an account never
 *       go backwards;</li>
 *   <li>at most one region acknowledged writes at any moment: once a write of epoch E was acknowledged, no write
 *       invoked later was committed by an older epoch (and each epoch was written by one region only);</li>
 *   <li>payments: every acknowledged call (authorisation, capture, void, refund) is in the ledger with the amount asked
 *       for, no refused one is; a GetPayment shows at least what was acknowledged before it started, never more than
 *       the ledger holds at the end, and never less than an earlier GetPayment of the same payment.</li>
 * </ul>
 */
public final class HistoryChecker {

    public enum Kind {
        LOST_WRITE, CHANGED_WRITE, REFUSED_WRITE_PRESENT, LEDGER_INVARIANT, READ_OF_LOST_WRITE, STALE_READ,
        READ_WENT_BACKWARDS, READ_ABOVE_FINAL, TWO_LEADERS
    }

    public record Anomaly(Kind kind, String detail) {
        @Override
        public String toString() {
            return kind + ": " + detail;
        }
    }

    /** At most this many anomalies of one kind are described (a broken run can produce thousands). */
    static final int DETAILS_PER_KIND_MAX = 20;

    private final List<Anomaly> anomalies = new ArrayList<>();
    private final Map<Kind, Integer> counts = new HashMap<>();

    private HistoryChecker() {}

    /** The anomalies found: how many of each kind, and the first {@link #DETAILS_PER_KIND_MAX} of each described. */
    public record Verdict(Map<Kind, Integer> counts, List<Anomaly> examples) {
        public boolean sound() {
            return counts.isEmpty();
        }

        public int total() {
            return counts.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    public static Verdict check(History history, FinalState state) {
        HistoryChecker c = new HistoryChecker();
        List<Write> writes = history.ops(Write.class);
        c.writes(writes, state);
        state.ledgerProblems().forEach(p -> c.report(Kind.LEDGER_INVARIANT, p));
        c.transferReads(history.ops(TransferRead.class), writes, state);
        c.balanceReads(history.ops(BalanceRead.class), writes, state);
        c.oneLeaderAtATime(writes, state);
        List<PaymentStep> steps = history.ops(PaymentStep.class);
        c.paymentSteps(steps, state);
        c.paymentReads(history.ops(PaymentRead.class), steps, state);
        return new Verdict(Map.copyOf(c.counts), List.copyOf(c.anomalies));
    }

    private void report(Kind kind, String detail) {
        int n = counts.merge(kind, 1, Integer::sum);
        if (n <= DETAILS_PER_KIND_MAX) {
            anomalies.add(new Anomaly(kind, detail));
        }
    }

    private void writes(List<Write> writes, FinalState state) {
        for (Write w : writes) {
            Committed c = state.transfers().get(w.transferId());
            switch (w.outcome()) {
                case ACKED -> {
                    if (c == null) {
                        report(Kind.LOST_WRITE, "transfer " + w.transferId() + " was acknowledged (" + w.detail()
                                + ") but is not in the ledger");
                    } else if (c.amount() != w.amount() || !c.debitAccountId().equals(w.debitAccountId())
                            || !c.creditAccountId().equals(w.creditAccountId())) {
                        report(Kind.CHANGED_WRITE, "transfer " + w.transferId() + " was acknowledged as " + w.debitAccountId()
                                + " -> " + w.creditAccountId() + " " + w.amount() + " but the ledger has " + c);
                    }
                }
                case REFUSED -> {
                    if (c != null) {
                        report(Kind.REFUSED_WRITE_PRESENT, "transfer " + w.transferId() + " was refused (" + w.detail()
                                + ") but the ledger has it: " + c);
                    }
                }
                case UNKNOWN -> { /* may or may not exist: both are fine */ }
            }
        }
    }

    private void transferReads(List<TransferRead> reads, List<Write> writes, FinalState state) {
        Map<String, Write> ackedById = new HashMap<>();
        writes.stream().filter(w -> w.outcome() == Outcome.ACKED).forEach(w -> ackedById.merge(w.transferId(), w,
                (a, b) -> a.completeNanos() - b.completeNanos() <= 0 ? a : b));
        for (TransferRead r : reads) {
            if (r.found() && !state.transfers().containsKey(r.transferId())) {
                report(Kind.READ_OF_LOST_WRITE, "a read saw transfer " + r.transferId() + ", which is not in the ledger at the end");
            }
            Write acked = ackedById.get(r.transferId());
            if (!r.found() && acked != null && acked.completeNanos() - r.invokeNanos() < 0) {
                report(Kind.STALE_READ, "transfer " + r.transferId() + " was acknowledged "
                        + millis(r.invokeNanos() - acked.completeNanos()) + " ms before a read that did not find it");
            }
        }
    }

    private void balanceReads(List<BalanceRead> reads, List<Write> writes, FinalState state) {
        Map<String, List<Write>> postedCredits = new HashMap<>();
        writes.stream().filter(w -> w.outcome() == Outcome.ACKED && w.posts())
                .forEach(w -> postedCredits.computeIfAbsent(w.creditAccountId(), k -> new ArrayList<>()).add(w));
        Map<String, List<BalanceRead>> byAccount = new HashMap<>();
        reads.forEach(r -> byAccount.computeIfAbsent(r.accountId(), k -> new ArrayList<>()).add(r));
        for (var e : byAccount.entrySet()) {
            String account = e.getKey();
            long finalCredits = state.creditsPosted().getOrDefault(account, 0L);
            List<Write> credits = new ArrayList<>(postedCredits.getOrDefault(account, List.of()));
            credits.sort(Comparator.comparingLong(Write::completeNanos));
            long[] completes = credits.stream().mapToLong(Write::completeNanos).toArray();
            long[] prefix = new long[credits.size() + 1];
            for (int i = 0; i < credits.size(); i++) {
                prefix[i + 1] = prefix[i] + credits.get(i).amount();
            }
            List<BalanceRead> rs = e.getValue();
            rs.sort(Comparator.comparingLong(BalanceRead::completeNanos));
            BalanceRead highestCompleted = null;
            List<BalanceRead> byInvoke = new ArrayList<>(rs);
            byInvoke.sort(Comparator.comparingLong(BalanceRead::invokeNanos));
            int done = 0;
            for (BalanceRead r : byInvoke) {
                if (r.creditsPosted() > finalCredits) {
                    report(Kind.READ_ABOVE_FINAL, "a read of " + account + " saw credits " + r.creditsPosted()
                            + ", above the final " + finalCredits + ": it showed a write that was then lost");
                }
                long ackedBefore = prefix[countBefore(completes, r.invokeNanos())];
                if (r.creditsPosted() < ackedBefore) {
                    report(Kind.STALE_READ, "a read of " + account + " saw credits " + r.creditsPosted() + " though "
                            + ackedBefore + " had been acknowledged before it started");
                }
                while (done < rs.size() && rs.get(done).completeNanos() - r.invokeNanos() < 0) {
                    BalanceRead earlier = rs.get(done++);
                    if (highestCompleted == null || earlier.creditsPosted() > highestCompleted.creditsPosted()) {
                        highestCompleted = earlier;
                    }
                }
                if (highestCompleted != null && r.creditsPosted() < highestCompleted.creditsPosted()) {
                    report(Kind.READ_WENT_BACKWARDS, "a read of " + account + " saw credits " + r.creditsPosted()
                            + " after an earlier read had seen " + highestCompleted.creditsPosted());
                }
            }
        }
    }

    private void oneLeaderAtATime(List<Write> writes, FinalState state) {
        record Ack(Write write, Committed committed) {}
        List<Ack> acks = new ArrayList<>();
        for (Write w : writes) {
            Committed c = state.transfers().get(w.transferId());
            if (w.outcome() == Outcome.ACKED && c != null) {
                acks.add(new Ack(w, c));
            }
        }
        acks.sort(Comparator.comparingLong(a -> a.write().completeNanos()));
        long[] completes = acks.stream().mapToLong(a -> a.write().completeNanos()).toArray();
        Ack[] newestBefore = new Ack[acks.size() + 1];
        for (int i = 0; i < acks.size(); i++) {
            Ack prev = newestBefore[i];
            newestBefore[i + 1] = prev == null || acks.get(i).committed().epoch() > prev.committed().epoch() ? acks.get(i) : prev;
        }
        for (Ack b : acks) {
            Ack newer = newestBefore[countBefore(completes, b.write().invokeNanos())];
            if (newer != null && newer.committed().epoch() > b.committed().epoch()) {
                report(Kind.TWO_LEADERS, "transfer " + b.write().transferId() + " was committed by epoch "
                        + b.committed().epoch() + " (region " + b.committed().region() + ") though it was sent "
                        + millis(b.write().invokeNanos() - newer.write().completeNanos()) + " ms after epoch "
                        + newer.committed().epoch() + " (region " + newer.committed().region() + ") had acknowledged "
                        + newer.write().transferId());
            }
        }
    }

    private void paymentSteps(List<PaymentStep> steps, FinalState state) {
        for (PaymentStep s : steps) {
            Committed c = state.transfers().get(s.callId());
            String what = s.call() + " " + s.callId() + " of payment " + s.paymentId();
            switch (s.outcome()) {
                case ACKED -> {
                    if (c == null) {
                        report(Kind.LOST_WRITE, what + " was acknowledged (" + s.detail() + ") but is not in the ledger");
                    } else if (s.call() != PaymentCall.VOID && c.amount() != s.amount()) {
                        report(Kind.CHANGED_WRITE, what + " was acknowledged for " + s.amount() + " but the ledger has " + c);
                    }
                }
                case REFUSED -> {
                    if (c != null) {
                        report(Kind.REFUSED_WRITE_PRESENT, what + " was refused (" + s.detail() + ") but the ledger has it: " + c);
                    }
                }
                case UNKNOWN -> { /* may or may not exist */ }
            }
        }
    }

    private void paymentReads(List<PaymentRead> reads, List<PaymentStep> steps, FinalState state) {
        record Amounts(long[] completes, long[] prefix, long atEnd) {
            /** Acknowledged before {@code t}. */
            long before(long t) {
                return prefix[countBefore(completes, t)];
            }
        }
        Map<String, List<PaymentStep>> byPayment = new HashMap<>();
        steps.forEach(s -> byPayment.computeIfAbsent(s.paymentId(), k -> new ArrayList<>()).add(s));
        Map<String, List<PaymentRead>> readsByPayment = new HashMap<>();
        reads.forEach(r -> readsByPayment.computeIfAbsent(r.paymentId(), k -> new ArrayList<>()).add(r));
        for (var e : readsByPayment.entrySet()) {
            String payment = e.getKey();
            List<PaymentStep> mine = byPayment.getOrDefault(payment, List.of());
            java.util.function.Function<PaymentCall, Amounts> amounts = call -> {
                List<PaymentStep> acked = mine.stream().filter(s -> s.call() == call && s.outcome() == Outcome.ACKED)
                        .sorted(Comparator.comparingLong(PaymentStep::completeNanos)).toList();
                long[] completes = acked.stream().mapToLong(PaymentStep::completeNanos).toArray();
                long[] prefix = new long[acked.size() + 1];
                for (int i = 0; i < acked.size(); i++) {
                    prefix[i + 1] = prefix[i] + acked.get(i).amount();
                }
                long atEnd = mine.stream().filter(s -> s.call() == call).map(s -> state.transfers().get(s.callId()))
                        .filter(java.util.Objects::nonNull).mapToLong(Committed::amount).sum();
                return new Amounts(completes, prefix, atEnd);
            };
            Amounts captures = amounts.apply(PaymentCall.CAPTURE);
            Amounts refunds = amounts.apply(PaymentCall.REFUND);
            PaymentStep auth = mine.stream().filter(s -> s.call() == PaymentCall.AUTHORIZE).findFirst().orElse(null);
            boolean authAtEnd = state.transfers().containsKey(payment);
            List<PaymentRead> rs = new ArrayList<>(e.getValue());
            rs.sort(Comparator.comparingLong(PaymentRead::invokeNanos));
            List<PaymentRead> byComplete = new ArrayList<>(rs);
            byComplete.sort(Comparator.comparingLong(PaymentRead::completeNanos));
            int done = 0;
            long seenCaptured = 0;
            long seenRefunded = 0;
            for (PaymentRead r : rs) {
                if (!r.found()) {
                    if (auth != null && auth.outcome() == Outcome.ACKED && auth.completeNanos() - r.invokeNanos() < 0) {
                        report(Kind.STALE_READ, "payment " + payment + " was authorised (acknowledged) "
                                + millis(r.invokeNanos() - auth.completeNanos()) + " ms before a GetPayment that did not find it");
                    }
                    continue;
                }
                if (!authAtEnd) {
                    report(Kind.READ_OF_LOST_WRITE, "a GetPayment found payment " + payment + ", which is not in the ledger at the end");
                }
                check(payment, "captured", r.capturedAmount(), captures.before(r.invokeNanos()), captures.atEnd());
                check(payment, "refunded", r.refundedAmount(), refunds.before(r.invokeNanos()), refunds.atEnd());
                while (done < byComplete.size() && byComplete.get(done).completeNanos() - r.invokeNanos() < 0) {
                    PaymentRead earlier = byComplete.get(done++);
                    seenCaptured = Math.max(seenCaptured, earlier.capturedAmount());
                    seenRefunded = Math.max(seenRefunded, earlier.refundedAmount());
                }
                if (r.capturedAmount() < seenCaptured || r.refundedAmount() < seenRefunded) {
                    report(Kind.READ_WENT_BACKWARDS, "a GetPayment of " + payment + " saw captured " + r.capturedAmount()
                            + ", refunded " + r.refundedAmount() + " after an earlier one had seen captured " + seenCaptured
                            + ", refunded " + seenRefunded);
                }
            }
        }
    }

    private void check(String payment, String what, long read, long ackedBefore, long atEnd) {
        if (read < ackedBefore) {
            report(Kind.STALE_READ, "a GetPayment of " + payment + " saw " + what + " " + read + " though " + ackedBefore
                    + " had been acknowledged before it started");
        }
        if (read > atEnd) {
            report(Kind.READ_ABOVE_FINAL, "a GetPayment of " + payment + " saw " + what + " " + read + ", above the "
                    + atEnd + " the ledger holds at the end: it showed a call that was then lost");
        }
    }

    /** How many of the sorted {@code times} are strictly before {@code t} (nanoTime arithmetic, overflow-safe). */
    private static int countBefore(long[] times, long t) {
        int lo = 0;
        int hi = times.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (times[mid] - t < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static long millis(long nanos) {
        return nanos / 1_000_000;
    }
}
