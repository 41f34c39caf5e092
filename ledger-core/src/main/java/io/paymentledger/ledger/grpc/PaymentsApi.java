package io.paymentledger.ledger.grpc;

import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.GetPaymentRequest;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.PaymentsServiceGrpcService;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.api.v1.VoidRequest;
import io.paymentledger.ledger.Limits;
import io.paymentledger.ledger.access.Access;
import io.paymentledger.ledger.payment.PaymentRole;
import io.paymentledger.ledger.payment.PaymentView;
import io.paymentledger.ledger.read.LedgerReader;
import io.paymentledger.ledger.transfer.TransferFlags;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.validation.Currencies;
import io.paymentledger.ledger.validation.Ids;
import io.paymentledger.ledger.validation.Metadata;
import io.paymentledger.ledger.write.PaymentOutcome;
import io.paymentledger.ledger.write.WriteCommand;
import io.vertx.core.Future;
import io.vertx.grpc.server.StatusException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * ledger.v1.PaymentsService: each call is one ledger transfer with the call's own id (exactly-once), plus
 * the payment's running amounts. Malformed calls fail INVALID_ARGUMENT with a message naming the
 * PaymentResult code; business outcomes come back OK with their code.
 */
public final class PaymentsApi {

    private final LedgerReader reader;
    private final ReadGate gate;
    private final WriteTracing writes;
    private final Blocking blocking;

    public PaymentsApi(WriteTracing writes, LedgerReader reader, ReadGate gate, Blocking blocking) {
        this.writes = writes;
        this.reader = reader;
        this.gate = gate;
        this.blocking = blocking;
    }

    public void bind(Unary unary) {
        unary.bind(PaymentsServiceGrpcService.Authorize, this::authorize);
        unary.bind(PaymentsServiceGrpcService.Capture, this::capture);
        unary.bind(PaymentsServiceGrpcService.VoidPayment, this::voidPayment);
        unary.bind(PaymentsServiceGrpcService.Refund, this::refund);
        unary.bind(PaymentsServiceGrpcService.GetPayment, this::getPayment);
    }

    private static StatusException invalid(PaymentResult code, String message) {
        return Unary.invalid(code.name() + ": " + message);
    }

    private static void requireId(String field, String value) throws StatusException {
        if (!Ids.isValid(value)) {
            throw invalid(PaymentResult.PAYMENT_RESULT_INVALID_ID, field + " must be 1.." + Limits.ID_LENGTH_MAX
                    + " characters of [A-Za-z0-9._:-]");
        }
    }

    private static void requireAmount(long amount) throws StatusException {
        if (amount <= 0) {
            throw invalid(PaymentResult.PAYMENT_RESULT_INVALID_AMOUNT, "amount must be > 0 (minor units)");
        }
    }

    Future<PaymentResponse> authorize(CallContext ctx, AuthorizeRequest req) throws StatusException {
        requireId("payment_id", req.getPaymentId());
        requireId("payer_account_id", req.getPayerAccountId());
        requireId("merchant_account_id", req.getMerchantAccountId());
        if (req.getPayerAccountId().equals(req.getMerchantAccountId())) {
            throw invalid(PaymentResult.PAYMENT_RESULT_SAME_ACCOUNT, "payer and merchant accounts must differ");
        }
        requireAmount(req.getAmount());
        if (!Currencies.isKnown(req.getCurrency())) {
            throw invalid(PaymentResult.PAYMENT_RESULT_INVALID_CURRENCY, "currency must be an ISO 4217 code, got '" + req.getCurrency() + "'");
        }
        if (req.getExpiresInSeconds() < 1 || req.getExpiresInSeconds() > Limits.TIMEOUT_SECONDS_MAX) {
            throw invalid(PaymentResult.PAYMENT_RESULT_INVALID_EXPIRY, "expires_in_seconds must be 1.." + Limits.TIMEOUT_SECONDS_MAX);
        }
        if (!Metadata.isValid(req.getMetadataMap())) {
            throw invalid(PaymentResult.PAYMENT_RESULT_INVALID_METADATA, "metadata: at most " + Limits.METADATA_ENTRIES_MAX
                    + " entries, keys 1.." + Limits.METADATA_KEY_LENGTH_MAX + ", values up to " + Limits.METADATA_VALUE_LENGTH_MAX
                    + " characters, " + Limits.METADATA_BYTES_MAX + " bytes in all");
        }
        TransferSpec spec = new TransferSpec(req.getPaymentId(), req.getPayerAccountId(), req.getMerchantAccountId(),
                req.getAmount(), req.getCurrency(), PaymentRole.AUTHORIZE.transferCode, TransferFlags.PENDING, "",
                req.getExpiresInSeconds(), req.getMetadataMap(), req.getPaymentId());
        return submit(ctx, PaymentRole.AUTHORIZE, spec);
    }

    Future<PaymentResponse> capture(CallContext ctx, CaptureRequest req) throws StatusException {
        requireId("payment_id", req.getPaymentId());
        requireId("capture_id", req.getCaptureId());
        requireAmount(req.getAmount());
        distinct(req.getCaptureId(), req.getPaymentId(), "capture_id");
        TransferSpec spec = new TransferSpec(req.getCaptureId(), "", "", req.getAmount(), "", PaymentRole.CAPTURE.transferCode,
                TransferFlags.POST_PENDING, req.getPaymentId(), 0, Map.of(), req.getPaymentId());
        return submit(ctx, PaymentRole.CAPTURE, spec);
    }

    Future<PaymentResponse> voidPayment(CallContext ctx, VoidRequest req) throws StatusException {
        requireId("payment_id", req.getPaymentId());
        requireId("void_id", req.getVoidId());
        distinct(req.getVoidId(), req.getPaymentId(), "void_id");
        TransferSpec spec = new TransferSpec(req.getVoidId(), "", "", 0, "", PaymentRole.VOID.transferCode,
                TransferFlags.VOID_PENDING, req.getPaymentId(), 0, Map.of(), req.getPaymentId());
        return submit(ctx, PaymentRole.VOID, spec);
    }

    Future<PaymentResponse> refund(CallContext ctx, RefundRequest req) throws StatusException {
        requireId("payment_id", req.getPaymentId());
        requireId("refund_id", req.getRefundId());
        requireAmount(req.getAmount());
        distinct(req.getRefundId(), req.getPaymentId(), "refund_id");
        TransferSpec spec = new TransferSpec(req.getRefundId(), "", "", req.getAmount(), "", PaymentRole.REFUND.transferCode,
                0, "", 0, Map.of(), req.getPaymentId());
        return submit(ctx, PaymentRole.REFUND, spec);
    }

    private static void distinct(String callId, String paymentId, String field) throws StatusException {
        if (callId.equals(paymentId)) {
            throw invalid(PaymentResult.PAYMENT_RESULT_INVALID_ID, field + " must differ from payment_id (each call has its own id)");
        }
    }

    Future<PaymentResponse> getPayment(CallContext ctx, GetPaymentRequest req) throws StatusException {
        requireId("payment_id", req.getPaymentId());
        gate.check(req.getRead());
        return gate.confirm(req.getRead(), blocking.run(() -> {
            PaymentView p = reader.payment(req.getPaymentId()).orElse(null);
            if (p == null || !visible(ctx, p)) {
                // Missing and not the caller's to see are one answer.
                return PaymentResponse.newBuilder().setResult(PaymentResult.PAYMENT_RESULT_PAYMENT_NOT_FOUND).build();
            }
            return PaymentResponse.newBuilder().setResult(PaymentResult.PAYMENT_RESULT_OK).setPayment(Protos.proto(p))
                    .setTimestampNs(p.authorizedAtNs()).build();
        }));
    }

    private boolean visible(CallContext ctx, PaymentView p) throws java.sql.SQLException {
        if (ctx.caller().isOperator()) {
            return true;
        }
        var accounts = reader.accounts(java.util.List.of(p.merchantAccountId(), p.payerAccountId()));
        return Access.maySeePayment(ctx.caller(), accounts.get(p.merchantAccountId()), accounts.get(p.payerAccountId()));
    }

    private Future<PaymentResponse> submit(CallContext ctx, PaymentRole role, TransferSpec spec) {
        CompletableFuture<PaymentOutcome> done = new CompletableFuture<>();
        writes.submit(ctx, new WriteCommand.Payment(ctx.caller(), role, spec, ctx.deadlineNanos(), done), done);
        return Future.fromCompletionStage(done, blocking.context()).map(o -> {
            PaymentResponse.Builder out = PaymentResponse.newBuilder().setResult(Protos.proto(o.code())).setTimestampNs(o.timestampNs());
            if (o.payment() != null) {
                out.setPayment(Protos.proto(o.payment()));
            }
            return out.build();
        });
    }
}
