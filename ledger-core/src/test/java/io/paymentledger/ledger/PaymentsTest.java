package io.paymentledger.ledger;

import static io.paymentledger.api.v1.PaymentResult.*;
import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.GetPaymentRequest;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.api.v1.PaymentState;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.api.v1.VoidRequest;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.vertx.grpc.common.GrpcStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PaymentsTest {

    static TestLedger t;
    String funding, payer, merchant;

    @BeforeAll
    static void start() {
        t = TestLedger.start();
    }

    @AfterAll
    static void stop() throws Exception {
        try (var c = t.sql()) {
            LedgerAssertions.assertConsistent(c);
        } finally {
            t.close();
        }
    }

    @BeforeEach
    void accounts() {
        funding = id("bank");
        payer = id("payer");
        merchant = id("merchant");
        t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(funding, "EUR"))
                .addAccounts(wallet(payer, "EUR")).addAccounts(wallet(merchant, "EUR").toBuilder().setOwner("shop-1")).build()).await();
        t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id("fund"), funding, payer, 1_000, "EUR")).build()).await();
    }

    PaymentResponse authorize(String paymentId, long amount) {
        return t.payments.authorize(AuthorizeRequest.newBuilder().setPaymentId(paymentId).setPayerAccountId(payer)
                .setMerchantAccountId(merchant).setAmount(amount).setCurrency("EUR").setExpiresInSeconds(600).build()).await();
    }

    PaymentResponse capture(String paymentId, String captureId, long amount) {
        return t.payments.capture(CaptureRequest.newBuilder().setPaymentId(paymentId).setCaptureId(captureId).setAmount(amount).build()).await();
    }

    PaymentResponse refund(String paymentId, String refundId, long amount) {
        return t.payments.refund(RefundRequest.newBuilder().setPaymentId(paymentId).setRefundId(refundId).setAmount(amount).build()).await();
    }

    long posted(String account, boolean credits) {
        var b = t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(account).build()).await().getResults(0).getAccount().getBalance();
        return credits ? b.getCreditsPosted() - b.getDebitsPosted() : b.getDebitsPosted();
    }

    @Test
    void authorizeCaptureInPartsThenRefund() {
        String pay = id("pay");
        var auth = authorize(pay, 300);
        assertThat(auth.getResult()).isEqualTo(PAYMENT_RESULT_OK);
        assertThat(auth.getPayment().getState()).isEqualTo(PaymentState.PAYMENT_STATE_AUTHORIZED);
        assertThat(auth.getPayment().getHeldAmount()).isEqualTo(300);
        assertThat(auth.getPayment().getExpiresAtNs()).isEqualTo(auth.getTimestampNs() + 600_000_000_000L);

        assertThat(capture(pay, id("cap"), 100).getPayment().getState()).isEqualTo(PaymentState.PAYMENT_STATE_PARTIALLY_CAPTURED);
        assertThat(capture(pay, id("cap"), 250).getResult()).isEqualTo(PAYMENT_RESULT_CAPTURE_EXCEEDS_AUTHORIZED);
        var done = capture(pay, id("cap"), 200);
        assertThat(done.getPayment().getState()).isEqualTo(PaymentState.PAYMENT_STATE_CAPTURED);
        assertThat(done.getPayment().getCapturedAmount()).isEqualTo(300);
        assertThat(capture(pay, id("cap"), 1).getResult()).isEqualTo(PAYMENT_RESULT_FULLY_CAPTURED);
        assertThat(posted(merchant, true)).isEqualTo(300);

        assertThat(refund(pay, id("ref"), 301).getResult()).isEqualTo(PAYMENT_RESULT_REFUND_EXCEEDS_CAPTURED);
        assertThat(refund(pay, id("ref"), 120).getPayment().getRefundedAmount()).isEqualTo(120);
        var all = refund(pay, id("ref"), 180);
        assertThat(all.getPayment().getState()).isEqualTo(PaymentState.PAYMENT_STATE_REFUNDED);
        assertThat(refund(pay, id("ref"), 1).getResult()).isEqualTo(PAYMENT_RESULT_REFUND_EXCEEDS_CAPTURED);
        assertThat(posted(merchant, true)).isZero();

        var got = t.payments.getPayment(GetPaymentRequest.newBuilder().setPaymentId(pay).build()).await();
        assertThat(got.getPayment()).isEqualTo(all.getPayment());
    }

    @Test
    void everyCallIsExactlyOnce() {
        String pay = id("pay"), cap = id("cap"), ref = id("ref");
        var first = authorize(pay, 100);
        var again = authorize(pay, 100);
        assertThat(again.getResult()).isEqualTo(PAYMENT_RESULT_EXISTS);
        assertThat(again.getTimestampNs()).isEqualTo(first.getTimestampNs());
        assertThat(authorize(pay, 101).getResult()).isEqualTo(PAYMENT_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);

        assertThat(capture(pay, cap, 60).getResult()).isEqualTo(PAYMENT_RESULT_OK);
        assertThat(capture(pay, cap, 60).getResult()).isEqualTo(PAYMENT_RESULT_EXISTS);
        assertThat(capture(pay, cap, 61).getResult()).isEqualTo(PAYMENT_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
        assertThat(refund(pay, ref, 10).getResult()).isEqualTo(PAYMENT_RESULT_OK);
        assertThat(refund(pay, ref, 10).getResult()).isEqualTo(PAYMENT_RESULT_EXISTS);
        var p = t.payments.getPayment(GetPaymentRequest.newBuilder().setPaymentId(pay).build()).await().getPayment();
        assertThat(p.getCapturedAmount()).isEqualTo(60);
        assertThat(p.getRefundedAmount()).isEqualTo(10);
        assertThat(p.getHeldAmount()).isEqualTo(40);
    }

    @Test
    void aVoidReleasesTheRestAndStopsCaptures() {
        String pay = id("pay"), v = id("void");
        authorize(pay, 500);
        capture(pay, id("cap"), 100);
        var voided = t.payments.voidPayment(VoidRequest.newBuilder().setPaymentId(pay).setVoidId(v).build()).await();
        assertThat(voided.getResult()).isEqualTo(PAYMENT_RESULT_OK);
        assertThat(voided.getPayment().getReleasedAmount()).isEqualTo(400);
        assertThat(voided.getPayment().getState()).isEqualTo(PaymentState.PAYMENT_STATE_CAPTURED);
        assertThat(capture(pay, id("cap"), 1).getResult()).isEqualTo(PAYMENT_RESULT_ALREADY_VOIDED);
        assertThat(posted(payer, false)).isEqualTo(100);

        String pay2 = id("pay");
        authorize(pay2, 50);
        var v2 = t.payments.voidPayment(VoidRequest.newBuilder().setPaymentId(pay2).setVoidId(id("void")).build()).await();
        assertThat(v2.getPayment().getState()).isEqualTo(PaymentState.PAYMENT_STATE_VOIDED);
    }

    @Test
    void anAuthorizationThatLapsesCannotBeCaptured() throws Exception {
        String pay = id("pay");
        var auth = t.payments.authorize(AuthorizeRequest.newBuilder().setPaymentId(pay).setPayerAccountId(payer)
                .setMerchantAccountId(merchant).setAmount(70).setCurrency("EUR").setExpiresInSeconds(1).build()).await();
        assertThat(auth.getResult()).isEqualTo(PAYMENT_RESULT_OK);
        Thread.sleep(1_500);
        assertThat(capture(pay, id("cap"), 10).getResult()).isEqualTo(PAYMENT_RESULT_EXPIRED);
        var p = t.payments.getPayment(GetPaymentRequest.newBuilder().setPaymentId(pay).build()).await().getPayment();
        assertThat(p.getState()).isEqualTo(PaymentState.PAYMENT_STATE_EXPIRED);
        assertThat(p.getReleasedAmount()).isEqualTo(70);
    }

    @Test
    void businessRejections() {
        assertThat(authorize(id("pay"), 5_000).getResult()).isEqualTo(PAYMENT_RESULT_INSUFFICIENT_FUNDS);
        assertThat(capture(id("nopay"), id("cap"), 5).getResult()).isEqualTo(PAYMENT_RESULT_PAYMENT_NOT_FOUND);
        assertThat(t.payments.authorize(AuthorizeRequest.newBuilder().setPaymentId(id("pay")).setPayerAccountId(id("ghost"))
                .setMerchantAccountId(merchant).setAmount(1).setCurrency("EUR").setExpiresInSeconds(60).build()).await().getResult())
                .isEqualTo(PAYMENT_RESULT_PAYER_ACCOUNT_NOT_FOUND);
        assertThat(t.payments.authorize(AuthorizeRequest.newBuilder().setPaymentId(id("pay")).setPayerAccountId(payer)
                .setMerchantAccountId(merchant).setAmount(1).setCurrency("USD").setExpiresInSeconds(60).build()).await().getResult())
                .isEqualTo(PAYMENT_RESULT_CURRENCY_MISMATCH);
        String plain = id("plain");
        t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(plain, funding, payer, 1, "EUR")).build()).await();
        assertThat(authorize(plain, 1).getResult()).isEqualTo(PAYMENT_RESULT_ID_IN_USE);
        assertThat(t.payments.getPayment(GetPaymentRequest.newBuilder().setPaymentId(id("none")).build()).await().getResult())
                .isEqualTo(PAYMENT_RESULT_PAYMENT_NOT_FOUND);
    }

    @Test
    void malformedCallsAreInvalidArgumentAndWriteNothing() throws Exception {
        String pay = id("pay");
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> authorize(pay, 0));
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> authorize("bad id", 10));
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.payments.authorize(AuthorizeRequest.newBuilder()
                .setPaymentId(pay).setPayerAccountId(payer).setMerchantAccountId(merchant).setAmount(1).setCurrency("EUR")
                .setExpiresInSeconds(0).build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.payments.authorize(AuthorizeRequest.newBuilder()
                .setPaymentId(pay).setPayerAccountId(payer).setMerchantAccountId(payer).setAmount(1).setCurrency("EUR")
                .setExpiresInSeconds(10).build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> capture(pay, pay, 1));
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> refund(pay, id("r"), -1));
        try (var c = t.sql()) {
            assertThat(LedgerAssertions.count(c, "select count(*) from payment where id = '" + pay + "'")).isZero();
        }
    }
}
