package io.paymentledger.ledger.write;

import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.access.Access;
import io.paymentledger.ledger.account.AccountSpec;
import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.AccountStatus;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.payment.PaymentResultCode;
import io.paymentledger.ledger.payment.PaymentRole;
import io.paymentledger.ledger.payment.PaymentState;
import io.paymentledger.ledger.transfer.PendingHold;
import io.paymentledger.ledger.transfer.PendingState;
import io.paymentledger.ledger.transfer.TransferFlags;
import io.paymentledger.ledger.transfer.TransferRow;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.transfer.TransferStatus;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The double-entry rules, applied in memory by the single writer to one batch. Every change goes through
 * the {@link Batch}'s undo log, so a failed item or linked chain leaves no trace.
 *
 * <p>Invariant kept here: every transfer changes the debit account's debits and the credit account's
 * credits by the same amount, so per currency the sum of all balances stays zero.
 *
 * <p>Who may do what is {@link Access}'s to say; what this class adds is that an answer never tells a caller more
 * than it may see: an account or transfer it may not see is answered like one that does not exist, and balances
 * go out only for accounts it may read.
 */
final class LedgerRules {

    private final LongSupplier wallClockNanos;
    private long lastTimestampNs;

    LedgerRules(LongSupplier wallClockNanos) {
        this.wallClockNanos = wallClockNanos;
    }

    /** Continue after the newest timestamp already written (timestamps never go back, also across failovers). */
    void resumeAfter(long timestampNs) {
        lastTimestampNs = Math.max(lastTimestampNs, timestampNs);
    }

    long nowNs() {
        return Math.max(lastTimestampNs, wallClockNanos.getAsLong());
    }

    private long nextTimestamp(Batch b) {
        lastTimestampNs = Math.max(lastTimestampNs + 1, wallClockNanos.getAsLong());
        if (b.firstTimestampNs == 0) {
            b.firstTimestampNs = lastTimestampNs;
        }
        b.lastTimestampNs = lastTimestampNs;
        return lastTimestampNs;
    }

    // ---------------------------------------------------------------- accounts

    List<AccountResult> createAccounts(WriteCommand.CreateAccounts cmd, Batch b) {
        List<AccountResult> results = new ArrayList<>(cmd.accounts().size());
        for (int i = 0; i < cmd.accounts().size(); i++) {
            AccountSpec spec = cmd.accounts().get(i);
            AccountStatus status = cmd.preChecked()[i];
            long ts = 0;
            if (status == null) {
                AccountState existing = b.account(spec.id());
                if (!Access.mayCreate(cmd.caller(), spec)) {
                    status = AccountStatus.PERMISSION_DENIED;
                } else if (existing != null) {
                    // Account ids are one namespace: an id taken by an account the caller may not read is told as
                    // taken, and nothing more (no creation time).
                    boolean same = spec.sameFieldsAs(existing) && Access.mayRead(cmd.caller(), existing);
                    status = same ? AccountStatus.EXISTS : AccountStatus.EXISTS_WITH_DIFFERENT_FIELDS;
                    ts = same ? existing.createdNs() : 0;
                } else {
                    ts = nextTimestamp(b);
                    b.addAccount(new AccountState(spec.id(), spec.currency(), spec.code(), spec.owner(), spec.flags(),
                            spec.metadata(), spec.grants(), ts, Balance.ZERO));
                    status = AccountStatus.CREATED;
                }
            }
            results.add(new AccountResult(i, spec.id(), status, ts));
        }
        b.commitChain();
        return results;
    }

    // ---------------------------------------------------------------- transfers

    List<TransferResult> createTransfers(WriteCommand.CreateTransfers cmd, Batch b) {
        List<TransferSpec> transfers = cmd.transfers();
        int n = transfers.size();
        TransferResult[] results = new TransferResult[n];
        int chainStart = -1;
        int chainMark = 0;
        for (int i = 0; i < n; i++) {
            TransferSpec spec = transfers.get(i);
            boolean linked = spec.has(TransferFlags.LINKED);
            if (chainStart < 0 && linked) {
                chainStart = i;
                chainMark = b.mark();
            }
            TransferResult r = linked && i == n - 1
                    ? rejected(i, spec.id(), TransferStatus.LINKED_EVENT_CHAIN_OPEN)
                    : transfer(i, spec, cmd.preChecked()[i], cmd.caller(), b, Authz.RAW);
            results[i] = r;
            if (chainStart < 0) {
                b.commitChain();
                continue;
            }
            if (!r.status().isSuccess()) {
                b.rollbackTo(chainMark);
                for (int j = chainStart; j < i; j++) {
                    results[j] = rejected(j, transfers.get(j).id(), TransferStatus.LINKED_EVENT_FAILED);
                }
                int j = i;
                while (j < n - 1 && transfers.get(j).has(TransferFlags.LINKED)) {
                    j++;
                    results[j] = rejected(j, transfers.get(j).id(), TransferStatus.LINKED_EVENT_FAILED);
                }
                i = j;
                chainStart = -1;
                b.commitChain();
            } else if (!linked) {
                chainStart = -1;
                b.commitChain();
            }
        }
        return Arrays.asList(results);
    }

    private static TransferResult rejected(int index, String id, TransferStatus status) {
        return new TransferResult(index, id, status, 0, null, null);
    }

    /**
     * Who authorised the money to move: the raw ledger API ({@link Access} decides per account, here), or the
     * payments API, whose own rule (also {@link Access}) ran on the payment before the transfer was built.
     */
    private enum Authz { RAW, BY_PAYMENT }

    private TransferResult transfer(int index, TransferSpec spec, TransferStatus pre, Caller caller, Batch b, Authz authz) {
        if (pre != null) {
            return rejected(index, spec.id(), pre);
        }
        TransferRow existing = b.transfer(spec.id());
        if (existing != null) {
            return replay(index, spec, existing, caller, b);
        }
        if (TransferFlags.resolvesPending(spec.flags())) {
            return resolve(index, spec, caller, b, authz);
        }
        AccountState dr = b.account(spec.debitAccountId());
        AccountState cr = b.account(spec.creditAccountId());
        // An account the caller may not debit (credit) is answered as one that does not exist: no oracle.
        if (dr == null || (authz == Authz.RAW && !Access.mayDebit(caller, dr))) {
            return new TransferResult(index, spec.id(), TransferStatus.DEBIT_ACCOUNT_NOT_FOUND, 0, null, visible(caller, cr));
        }
        if (cr == null || (authz == Authz.RAW && !Access.mayCredit(caller, cr))) {
            return new TransferResult(index, spec.id(), TransferStatus.CREDIT_ACCOUNT_NOT_FOUND, 0, visible(caller, dr), null);
        }
        if (!dr.currency().equals(spec.currency()) || !cr.currency().equals(spec.currency())) {
            return new TransferResult(index, spec.id(), TransferStatus.CURRENCY_MISMATCH, 0, visible(caller, dr), visible(caller, cr));
        }
        long a = spec.amount();
        boolean pending = spec.has(TransferFlags.PENDING);
        int mark = b.mark();
        Balance dr0 = dr.balance();
        Balance cr0 = cr.balance();
        b.touch(dr);
        b.touch(cr);
        boolean inRange = pending ? dr.add(a, 0, 0, 0) && cr.add(0, 0, a, 0) : dr.add(0, a, 0, 0) && cr.add(0, 0, 0, a);
        TransferStatus failed = !inRange ? TransferStatus.AMOUNT_OVERFLOW
                : !dr.debitsWithinCredits() ? TransferStatus.EXCEEDS_CREDITS
                : !cr.creditsWithinDebits() ? TransferStatus.EXCEEDS_DEBITS : null;
        if (failed != null) {
            b.rollbackTo(mark);
            return new TransferResult(index, spec.id(), failed, 0, visible(caller, dr), visible(caller, cr));
        }
        assertDoubleEntry(dr, dr0, cr, cr0);
        long ts = nextTimestamp(b);
        TransferRow row = new TransferRow(spec.id(), dr.id(), cr.id(), a, spec.currency(), spec.code(), spec.flags(), null,
                spec.timeoutSeconds(), spec.paymentId(), spec.metadata(), ts, b.seq, dr.balance(), cr.balance());
        b.addTransfer(row);
        if (pending) {
            long expiresAt = spec.timeoutSeconds() == 0 ? 0 : ts + spec.timeoutSeconds() * 1_000_000_000L;
            b.addHold(new PendingHold(row, a, 0, PendingState.HELD, expiresAt));
        }
        return new TransferResult(index, spec.id(), TransferStatus.CREATED, ts, visible(caller, dr), visible(caller, cr));
    }

    /**
     * The id is taken. EXISTS (with the original timestamp) only for the same transfer, and only when the caller
     * may see it; anything else is EXISTS_WITH_DIFFERENT_FIELDS with nothing more: comparing the fields of a
     * transfer the caller may not see would let it guess them one by one.
     */
    private static TransferResult replay(int index, TransferSpec spec, TransferRow existing, Caller caller, Batch b) {
        AccountState dr = b.account(existing.debitAccountId());
        AccountState cr = b.account(existing.creditAccountId());
        if (!Access.maySee(caller, dr, cr) || !spec.sameFieldsAs(existing)) {
            return rejected(index, spec.id(), TransferStatus.EXISTS_WITH_DIFFERENT_FIELDS);
        }
        return new TransferResult(index, spec.id(), TransferStatus.EXISTS, existing.timestampNs(), visible(caller, dr),
                visible(caller, cr));
    }

    private TransferResult resolve(int index, TransferSpec spec, Caller caller, Batch b, Authz authz) {
        PendingHold hold = b.holds.get(spec.pendingId());
        TransferRow p = hold != null ? hold.transfer() : b.transfer(spec.pendingId());
        if (p == null) {
            return rejected(index, spec.id(), TransferStatus.PENDING_TRANSFER_NOT_FOUND);
        }
        AccountState dr = b.account(p.debitAccountId());
        AccountState cr = b.account(p.creditAccountId());
        if (authz == Authz.RAW && !Access.maySee(caller, dr, cr)) {
            return rejected(index, spec.id(), TransferStatus.PENDING_TRANSFER_NOT_FOUND);
        }
        if (hold == null) {
            return rejected(index, spec.id(), TransferStatus.PENDING_TRANSFER_NOT_PENDING);
        }
        if (authz == Authz.RAW && p.paymentId() != null) {
            // Only the payments API resolves a payment's hold, so payment and ledger never disagree (operator too).
            return rejected(index, spec.id(), TransferStatus.PENDING_TRANSFER_BELONGS_TO_PAYMENT);
        }
        if (authz == Authz.RAW && !Access.mayResolve(caller, dr, cr)) {
            return rejected(index, spec.id(), TransferStatus.PERMISSION_DENIED);
        }
        TransferStatus mismatch = !spec.debitAccountId().isEmpty() && !spec.debitAccountId().equals(p.debitAccountId())
                ? TransferStatus.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT
                : !spec.creditAccountId().isEmpty() && !spec.creditAccountId().equals(p.creditAccountId())
                ? TransferStatus.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT
                : !spec.currency().isEmpty() && !spec.currency().equals(p.currency())
                ? TransferStatus.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY : null;
        if (mismatch != null) {
            return new TransferResult(index, spec.id(), mismatch, 0, visible(caller, dr), visible(caller, cr));
        }
        TransferStatus closed = switch (hold.state()) {
            case POSTED -> TransferStatus.PENDING_TRANSFER_ALREADY_POSTED;
            case VOIDED -> TransferStatus.PENDING_TRANSFER_ALREADY_VOIDED;
            case EXPIRED -> TransferStatus.PENDING_TRANSFER_EXPIRED;
            case HELD -> null;
        };
        if (closed != null) {
            return new TransferResult(index, spec.id(), closed, 0, visible(caller, dr), visible(caller, cr));
        }
        boolean post = spec.has(TransferFlags.POST_PENDING);
        long a = post ? spec.amount() : hold.remaining();
        if (post && a > hold.remaining()) {
            return new TransferResult(index, spec.id(), TransferStatus.POST_EXCEEDS_PENDING, 0, visible(caller, dr), visible(caller, cr));
        }
        int mark = b.mark();
        Balance dr0 = dr.balance();
        Balance cr0 = cr.balance();
        b.touch(dr);
        b.touch(cr);
        b.touch(hold);
        boolean inRange = post ? dr.add(-a, a, 0, 0) && cr.add(0, 0, -a, a) : dr.add(-a, 0, 0, 0) && cr.add(0, 0, -a, 0);
        if (!inRange) {
            b.rollbackTo(mark);
            return new TransferResult(index, spec.id(), TransferStatus.AMOUNT_OVERFLOW, 0, visible(caller, dr), visible(caller, cr));
        }
        assertDoubleEntry(dr, dr0, cr, cr0);
        if (post) {
            hold.post(a);
        } else {
            hold.release(PendingState.VOIDED);
        }
        long ts = nextTimestamp(b);
        TransferRow row = new TransferRow(spec.id(), p.debitAccountId(), p.creditAccountId(), a, p.currency(), spec.code(),
                spec.flags(), p.id(), 0, spec.paymentId(), spec.metadata(), ts, b.seq, dr.balance(), cr.balance());
        b.addTransfer(row);
        return new TransferResult(index, spec.id(), TransferStatus.CREATED, ts, visible(caller, dr), visible(caller, cr));
    }

    /**
     * Releases every loaded hold that timed out by now: a transfer "{@code <pending id>#expired}" records it.
     * Runs at the start of a batch, outside any chain, so a post of an expired hold sees it expired.
     */
    void expireDueHolds(Batch b) {
        long now = nowNs();
        for (PendingHold hold : new ArrayList<>(b.holds.values())) {
            if (!hold.isExpiredAt(now)) {
                continue;
            }
            TransferRow p = hold.transfer();
            AccountState dr = b.account(p.debitAccountId());
            AccountState cr = b.account(p.creditAccountId());
            b.touch(dr);
            b.touch(cr);
            b.touch(hold);
            long a = hold.release(PendingState.EXPIRED);
            if (!dr.add(-a, 0, 0, 0) || !cr.add(0, 0, -a, 0)) {
                throw new LedgerBug("releasing hold " + p.id() + " left the int64 range");
            }
            long ts = nextTimestamp(b);
            b.addTransfer(new TransferRow(p.id() + io.paymentledger.ledger.validation.Ids.EXPIRY_SUFFIX, p.debitAccountId(), p.creditAccountId(), a, p.currency(),
                    p.code(), TransferFlags.EXPIRY, p.id(), 0, p.paymentId(), java.util.Map.of(), ts, b.seq, dr.balance(),
                    cr.balance()));
            if (p.paymentId() != null) {
                PaymentState payment = b.payments.get(p.paymentId());
                if (payment != null) {
                    b.touch(payment);
                    payment.released(a, PaymentState.RELEASED_EXPIRED);
                }
            }
        }
        b.commitChain();
    }

    /** The account's balance for an answer to {@code caller}: null unless it may read the account. */
    private static Balance visible(Caller caller, AccountState a) {
        return Access.mayRead(caller, a) ? a.balance() : null;
    }

    /**
     * Money boundary: whatever a transfer or a resolve did, the debit account's debits moved by exactly what the
     * credit account's credits moved. A failure is a ledger bug: it fails the writer's batch loudly (nobody is
     * answered OK) rather than commit.
     */
    private static void assertDoubleEntry(AccountState dr, Balance dr0, AccountState cr, Balance cr0) {
        Balance d = dr.balance();
        Balance c = cr.balance();
        long debits = (d.debitsPending() - dr0.debitsPending()) + (d.debitsPosted() - dr0.debitsPosted());
        long credits = (c.creditsPending() - cr0.creditsPending()) + (c.creditsPosted() - cr0.creditsPosted());
        if (debits != credits) {
            throw new LedgerBug("double entry broken: " + dr.id() + " debits moved " + debits + " but "
                    + cr.id() + " credits moved " + credits + ": a ledger bug");
        }
    }

    // ---------------------------------------------------------------- payments

    PaymentOutcome payment(WriteCommand.Payment cmd, Batch b) {
        PaymentOutcome outcome = paymentUnchained(cmd, b);
        b.commitChain();
        return outcome;
    }

    private PaymentOutcome paymentUnchained(WriteCommand.Payment cmd, Batch b) {
        TransferSpec spec = cmd.transfer();
        String paymentId = spec.paymentId();
        Caller caller = cmd.caller();
        PaymentState payment = b.payments.get(paymentId);
        // A payment the caller may not see is answered as one that does not exist.
        boolean visible = payment != null && Access.maySeePayment(caller, b.account(payment.merchantAccountId()),
                b.account(payment.payerAccountId()));
        if (cmd.role() == PaymentRole.REFUND && payment != null) {
            // A refund moves captured money back: merchant -> payer, in the payment's currency.
            spec = new TransferSpec(spec.id(), payment.merchantAccountId(), payment.payerAccountId(), spec.amount(),
                    payment.currency(), spec.code(), spec.flags(), spec.pendingId(), spec.timeoutSeconds(), spec.metadata(),
                    paymentId);
        }
        TransferRow existing = b.transfer(spec.id());
        if (existing != null) {
            if (!paymentId.equals(existing.paymentId()) || !visible) {
                // Taken by something else, or by a payment the caller may not see: nothing more is told.
                return new PaymentOutcome(PaymentResultCode.ID_IN_USE, null, 0);
            }
            boolean same = spec.sameFieldsAs(existing);
            return new PaymentOutcome(same ? PaymentResultCode.EXISTS : PaymentResultCode.EXISTS_WITH_DIFFERENT_FIELDS,
                    view(payment), same ? existing.timestampNs() : 0);
        }
        if (cmd.role() == PaymentRole.AUTHORIZE) {
            return authorize(cmd, spec, b);
        }
        if (!visible) {
            return new PaymentOutcome(PaymentResultCode.PAYMENT_NOT_FOUND, null, 0);
        }
        if (!Access.mayManagePayment(caller, b.account(payment.merchantAccountId()))) {
            return new PaymentOutcome(PaymentResultCode.PERMISSION_DENIED, null, 0);
        }
        if (cmd.role() == PaymentRole.REFUND && spec.amount() > payment.capturedAmount() - payment.refundedAmount()) {
            return new PaymentOutcome(PaymentResultCode.REFUND_EXCEEDS_CAPTURED, payment.view(), 0);
        }
        int mark = b.mark();
        TransferResult r = transfer(0, spec, null, caller, b, Authz.BY_PAYMENT);
        if (r.status() != TransferStatus.CREATED) {
            b.rollbackTo(mark);
            return new PaymentOutcome(paymentCode(r.status()), payment.view(), 0);
        }
        b.touch(payment);
        TransferRow written = b.transfer(spec.id());
        switch (cmd.role()) {
            case CAPTURE -> payment.captured(written.amount());
            case VOID -> payment.released(written.amount(), PaymentState.RELEASED_VOIDED);
            case REFUND -> payment.refunded(written.amount());
            case AUTHORIZE -> throw new LedgerBug("an authorization reached the capture/void/refund path");
        }
        return new PaymentOutcome(PaymentResultCode.OK, payment.view(), r.timestampNs());
    }

    private PaymentOutcome authorize(WriteCommand.Payment cmd, TransferSpec spec, Batch b) {
        // The payer pays: the caller must be allowed to pay from it (own it, or be granted it). The money goes to the
        // caller's own account. Either refused exactly as an account that does not exist.
        if (!Access.mayPayFrom(cmd.caller(), b.account(spec.debitAccountId()))) {
            return new PaymentOutcome(PaymentResultCode.PAYER_ACCOUNT_NOT_FOUND, null, 0);
        }
        if (!Access.mayReceivePayment(cmd.caller(), b.account(spec.creditAccountId()))) {
            return new PaymentOutcome(PaymentResultCode.MERCHANT_ACCOUNT_NOT_FOUND, null, 0);
        }
        int mark = b.mark();
        TransferResult r = transfer(0, spec, null, cmd.caller(), b, Authz.BY_PAYMENT);
        if (r.status() != TransferStatus.CREATED) {
            b.rollbackTo(mark);
            return new PaymentOutcome(paymentCode(r.status()), null, 0);
        }
        PendingHold hold = b.holds.get(spec.id());
        PaymentState payment = new PaymentState(spec.id(), spec.debitAccountId(), spec.creditAccountId(), spec.currency(),
                spec.amount(), 0, 0, 0, r.timestampNs(), hold.expiresAtNs(), PaymentState.RELEASED_NONE, spec.metadata());
        b.addPayment(payment);
        return new PaymentOutcome(PaymentResultCode.OK, payment.view(), r.timestampNs());
    }

    private static io.paymentledger.ledger.payment.PaymentView view(PaymentState p) {
        return p == null ? null : p.view();
    }

    private static PaymentResultCode paymentCode(TransferStatus s) {
        return switch (s) {
            case DEBIT_ACCOUNT_NOT_FOUND -> PaymentResultCode.PAYER_ACCOUNT_NOT_FOUND;
            case CREDIT_ACCOUNT_NOT_FOUND -> PaymentResultCode.MERCHANT_ACCOUNT_NOT_FOUND;
            case CURRENCY_MISMATCH -> PaymentResultCode.CURRENCY_MISMATCH;
            case EXCEEDS_CREDITS -> PaymentResultCode.INSUFFICIENT_FUNDS;
            case EXCEEDS_DEBITS -> PaymentResultCode.MERCHANT_LIMIT_EXCEEDED;
            case AMOUNT_OVERFLOW -> PaymentResultCode.AMOUNT_OVERFLOW;
            case PENDING_TRANSFER_NOT_FOUND, PENDING_TRANSFER_NOT_PENDING -> PaymentResultCode.PAYMENT_NOT_FOUND;
            case PENDING_TRANSFER_ALREADY_POSTED -> PaymentResultCode.FULLY_CAPTURED;
            case PENDING_TRANSFER_ALREADY_VOIDED -> PaymentResultCode.ALREADY_VOIDED;
            case PENDING_TRANSFER_EXPIRED -> PaymentResultCode.EXPIRED;
            case POST_EXCEEDS_PENDING -> PaymentResultCode.CAPTURE_EXCEEDS_AUTHORIZED;
            case PERMISSION_DENIED -> PaymentResultCode.PERMISSION_DENIED;
            case EXISTS_WITH_DIFFERENT_FIELDS -> PaymentResultCode.EXISTS_WITH_DIFFERENT_FIELDS;
            default -> throw new LedgerBug("a payments transfer ended " + s);
        };
    }
}
