package io.paymentledger.cli.chaos;

import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.cli.chaos.History.Outcome;
import io.paymentledger.cli.chaos.History.Write;
import io.paymentledger.cli.drill.Workload;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes what the workload's clients were told into a {@link History}: one {@link Write} per transfer, ACKED only
 * when the ledger said CREATED or EXISTS, REFUSED when it refused that item, UNKNOWN when the request was given up.
 * Also keeps the most recent transfer ids sent (answered or still in flight), for the readers to look up: a read may
 * then see a write before its writer hears back, which is exactly when a read can show state that is later lost.
 */
public final class Recorder implements Workload.Observer {

    /** How many recently sent transfer ids the readers choose from. */
    static final int RECENT_IDS = 1_024;

    private final History history;
    private final String[] recent = new String[RECENT_IDS];
    private int next;
    private int filled;

    public Recorder(History history) {
        this.history = history;
    }

    @Override
    public void sending(CreateTransfersRequest request, long invokeNanos) {
        synchronized (recent) {
            for (Transfer t : request.getTransfersList()) {
                recent[next] = t.getId();
                next = (next + 1) % RECENT_IDS;
                filled = Math.min(RECENT_IDS, filled + 1);
            }
        }
    }

    @Override
    public void completed(CreateTransfersRequest request, long invokeNanos, long completeNanos, List<CreateTransferResult> results,
            String lastError) {
        if (results == null) {
            for (Transfer t : request.getTransfersList()) {
                history.add(write(t, invokeNanos, completeNanos, Outcome.UNKNOWN, "given up: " + lastError));
            }
            return;
        }
        // The ledger answers per item; an item it did not answer for (never expected) stays unknown.
        Outcome[] outcome = new Outcome[request.getTransfersCount()];
        String[] detail = new String[outcome.length];
        for (CreateTransferResult r : results) {
            boolean written = r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED
                    || r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_EXISTS;
            outcome[r.getIndex()] = written ? Outcome.ACKED : Outcome.REFUSED;
            detail[r.getIndex()] = r.getStatus().name();
        }
        for (int i = 0; i < outcome.length; i++) {
            Transfer t = request.getTransfers(i);
            history.add(write(t, invokeNanos, completeNanos, outcome[i] == null ? Outcome.UNKNOWN : outcome[i],
                    detail[i] == null ? "no result for this item" : detail[i]));
        }
    }

    private static Write write(Transfer t, long invokeNanos, long completeNanos, Outcome outcome, String detail) {
        // Every workload transfer is a plain (posting) transfer: no holds.
        return new Write(t.getId(), t.getDebitAccountId(), t.getCreditAccountId(), t.getAmount(), true, invokeNanos,
                completeNanos, outcome, detail);
    }

    /** Up to {@code n} distinct ids among the recently sent ones, at random (empty before anything was sent). */
    public List<String> recentIds(int n) {
        List<String> ids = new ArrayList<>(n);
        synchronized (recent) {
            if (filled == 0) {
                return ids;
            }
            ThreadLocalRandom random = ThreadLocalRandom.current();
            for (int i = 0; i < n; i++) {
                String id = recent[random.nextInt(filled)];
                if (!ids.contains(id)) {
                    ids.add(id);
                }
            }
        }
        return ids;
    }
}
