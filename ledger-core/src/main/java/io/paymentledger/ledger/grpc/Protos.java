package io.paymentledger.ledger.grpc;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AccountFlags;
import io.paymentledger.api.v1.Balance;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.Payment;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.PaymentState;
import io.paymentledger.api.v1.PendingState;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.TransferFlags;
import io.paymentledger.ledger.account.AccountSpec;
import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.AccountStatus;
import io.paymentledger.ledger.payment.PaymentResultCode;
import io.paymentledger.ledger.payment.PaymentView;
import io.paymentledger.ledger.transfer.TransferRow;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.transfer.TransferStatus;
import java.util.EnumMap;
import java.util.Map;

/** Conversions between ledger.v1 messages and the ledger's values. Enum codes map 1:1 by name. */
public final class Protos {

    private static final Map<TransferStatus, CreateTransferStatus> TRANSFER_STATUS = mapByName(TransferStatus.class,
            CreateTransferStatus.class, "CREATE_TRANSFER_");
    private static final Map<AccountStatus, CreateAccountStatus> ACCOUNT_STATUS = mapByName(AccountStatus.class,
            CreateAccountStatus.class, "CREATE_ACCOUNT_");
    private static final Map<PaymentResultCode, PaymentResult> PAYMENT_RESULT = mapByName(PaymentResultCode.class,
            PaymentResult.class, "PAYMENT_RESULT_");
    private static final Map<PaymentView.State, PaymentState> PAYMENT_STATE = mapByName(PaymentView.State.class,
            PaymentState.class, "PAYMENT_STATE_");
    private static final Map<io.paymentledger.ledger.transfer.PendingState, PendingState> PENDING_STATE = mapByName(
            io.paymentledger.ledger.transfer.PendingState.class, PendingState.class, "PENDING_STATE_");

    private Protos() {}

    /** Every constant of {@code from} must have a proto twin named prefix + name; checked at class load. */
    static <A extends Enum<A>, B extends Enum<B>> Map<A, B> mapByName(Class<A> from, Class<B> to, String prefix) {
        Map<A, B> m = new EnumMap<>(from);
        for (A a : from.getEnumConstants()) {
            m.put(a, Enum.valueOf(to, prefix + a.name()));
        }
        return m;
    }

    public static CreateTransferStatus proto(TransferStatus s) {
        return TRANSFER_STATUS.get(s);
    }

    public static CreateAccountStatus proto(AccountStatus s) {
        return ACCOUNT_STATUS.get(s);
    }

    public static PaymentResult proto(PaymentResultCode c) {
        return PAYMENT_RESULT.get(c);
    }

    public static PendingState proto(io.paymentledger.ledger.transfer.PendingState s) {
        return s == null ? PendingState.PENDING_STATE_UNSPECIFIED : PENDING_STATE.get(s);
    }

    public static Balance proto(io.paymentledger.ledger.account.Balance b) {
        return Balance.newBuilder().setDebitsPending(b.debitsPending()).setDebitsPosted(b.debitsPosted())
                .setCreditsPending(b.creditsPending()).setCreditsPosted(b.creditsPosted()).build();
    }

    public static int accountFlags(AccountFlags f) {
        int flags = 0;
        if (f.getDebitsMustNotExceedCredits()) {
            flags |= io.paymentledger.ledger.account.AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS;
        }
        if (f.getCreditsMustNotExceedDebits()) {
            flags |= io.paymentledger.ledger.account.AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS;
        }
        return flags;
    }

    public static AccountFlags accountFlags(int flags) {
        return AccountFlags.newBuilder()
                .setDebitsMustNotExceedCredits((flags & io.paymentledger.ledger.account.AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS) != 0)
                .setCreditsMustNotExceedDebits((flags & io.paymentledger.ledger.account.AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS) != 0)
                .build();
    }

    public static int transferFlags(TransferFlags f) {
        int flags = 0;
        if (f.getLinked()) {
            flags |= io.paymentledger.ledger.transfer.TransferFlags.LINKED;
        }
        if (f.getPending()) {
            flags |= io.paymentledger.ledger.transfer.TransferFlags.PENDING;
        }
        if (f.getPostPending()) {
            flags |= io.paymentledger.ledger.transfer.TransferFlags.POST_PENDING;
        }
        if (f.getVoidPending()) {
            flags |= io.paymentledger.ledger.transfer.TransferFlags.VOID_PENDING;
        }
        return flags;
    }

    public static TransferFlags transferFlags(int flags) {
        // The ledger's own expiry records read as a void of the hold.
        boolean voidOrExpiry = (flags & (io.paymentledger.ledger.transfer.TransferFlags.VOID_PENDING
                | io.paymentledger.ledger.transfer.TransferFlags.EXPIRY)) != 0;
        return TransferFlags.newBuilder()
                .setLinked((flags & io.paymentledger.ledger.transfer.TransferFlags.LINKED) != 0)
                .setPending((flags & io.paymentledger.ledger.transfer.TransferFlags.PENDING) != 0)
                .setPostPending((flags & io.paymentledger.ledger.transfer.TransferFlags.POST_PENDING) != 0)
                .setVoidPending(voidOrExpiry)
                .build();
    }

    public static AccountSpec spec(Account a) {
        return new AccountSpec(a.getId(), a.getCurrency(), code(a.getCode()), a.getOwner(),
                a.hasFlags() ? accountFlags(a.getFlags()) : 0, a.getMetadataMap(), a.getGrantedMerchantsList());
    }

    public static TransferSpec spec(Transfer t) {
        return new TransferSpec(t.getId(), t.getDebitAccountId(), t.getCreditAccountId(), t.getAmount(), t.getCurrency(),
                code(t.getCode()), t.hasFlags() ? transferFlags(t.getFlags()) : 0, t.getPendingId(), t.getTimeoutSeconds(),
                t.getMetadataMap(), null);
    }

    public static Account proto(AccountState a) {
        return Account.newBuilder().setId(a.id()).setCurrency(a.currency()).setCode((int) a.code()).setOwner(a.owner())
                .setFlags(accountFlags(a.flags())).putAllMetadata(a.metadata()).setBalance(proto(a.balance()))
                .addAllGrantedMerchants(a.grantedMerchants()).setTimestampNs(a.createdNs()).build();
    }

    public static Transfer proto(TransferRow t) {
        return Transfer.newBuilder().setId(t.id()).setDebitAccountId(t.debitAccountId()).setCreditAccountId(t.creditAccountId())
                .setAmount(t.amount()).setCurrency(t.currency()).setCode((int) t.code()).setFlags(transferFlags(t.flags()))
                .setPendingId(t.pendingId() == null ? "" : t.pendingId()).setTimeoutSeconds(t.timeoutSeconds())
                .putAllMetadata(t.metadata()).setTimestampNs(t.timestampNs()).build();
    }

    public static Payment proto(PaymentView p) {
        return Payment.newBuilder().setPaymentId(p.id()).setPayerAccountId(p.payerAccountId())
                .setMerchantAccountId(p.merchantAccountId()).setCurrency(p.currency()).setState(PAYMENT_STATE.get(p.state()))
                .setAuthorizedAmount(p.authorizedAmount()).setCapturedAmount(p.capturedAmount())
                .setRefundedAmount(p.refundedAmount()).setReleasedAmount(p.releasedAmount()).setHeldAmount(p.heldAmount())
                .setAuthorizedAtNs(p.authorizedAtNs()).setExpiresAtNs(p.expiresAtNs()).putAllMetadata(p.metadata()).build();
    }

    /** The uint32 proto code as the ledger stores it (0..2^32-1). */
    public static long code(int protoCode) {
        return Integer.toUnsignedLong(protoCode);
    }
}
