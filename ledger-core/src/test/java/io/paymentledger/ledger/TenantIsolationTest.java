package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.GetAccountBalancesRequest;
import io.paymentledger.api.v1.GetAccountTransfersRequest;
import io.paymentledger.api.v1.GetAccountTransfersResponse;
import io.paymentledger.api.v1.GetPaymentRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.LookupTransfersResponse;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.PaymentsServiceGrpcClient;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.VoidRequest;
import io.paymentledger.ledger.support.Fixtures;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.support.TestLedger.Answer;
import io.vertx.grpc.common.GrpcStatus;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Invariant 8 against a real node: no merchant moves or sees another's money, by any API. Each test acts as two or
 * three merchants (the node trusts a test header on loopback; the rules themselves are the production ones) and
 * checks both the answer and that nothing changed in PostgreSQL.
 */
class TenantIsolationTest {

    static final String M1 = "shop-1";
    static final String M2 = "shop-2";
    static final String M3 = "shop-3";
    static TestLedger t;

    String bank;
    String m1Main;
    String m1Other;
    String m2Main;
    String m2Other;

    @BeforeAll
    static void start() {
        t = TestLedger.startWithMerchants();
    }

    @AfterAll
    static void stop() throws Exception {
        try (Connection c = t.sql()) {
            LedgerAssertions.assertConsistent(c);
        } finally {
            t.close();
        }
    }

    @BeforeEach
    void accounts() {
        bank = id("bank");
        m1Main = id("m1-main");
        m1Other = id("m1-other");
        m2Main = id("m2-main");
        m2Other = id("m2-other");
        assertThat(t.as(null, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                .addAccounts(account(bank, "EUR"))
                .addAccounts(owned(m1Main, M1)).addAccounts(owned(m1Other, M1))
                .addAccounts(owned(m2Main, M2)).addAccounts(owned(m2Other, M2)).build()).body().getResultsList())
                .allMatch(r -> r.getStatus() == CreateAccountStatus.CREATE_ACCOUNT_CREATED);
        assertThat(t.as(null, LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.newBuilder()
                .addTransfers(transfer(id("fund"), bank, m1Main, 1_000, "EUR"))
                .addTransfers(transfer(id("fund"), bank, m2Main, 1_000, "EUR")).build()).body().getResultsList())
                .allMatch(r -> r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED);
    }

    static Account owned(String id, String owner) {
        return wallet(id, "EUR").toBuilder().setOwner(owner).build();
    }

    // ------------------------------------------------------------------ the two findings of the issue

    @Test
    void aMerchantCannotAuthoriseAgainstAnotherMerchantsAccount() throws Exception {
        String before = digest();
        String payment = id("pay");
        PaymentResponse stolen = authorize(M1, payment, m2Main, m1Main, 500);
        assertThat(stolen.getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_PAYER_ACCOUNT_NOT_FOUND);
        assertThat(stolen.hasPayment()).isFalse();
        // Exactly what a payer account that does not exist gets: no oracle.
        assertThat(authorize(M1, payment, id("nobody"), m1Main, 500)).isEqualTo(stolen);
        PaymentResponse capture = t.as(M1, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder()
                .setPaymentId(payment).setCaptureId(id("cap")).setAmount(500).build()).body();
        assertThat(capture.getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_PAYMENT_NOT_FOUND);
        // Nor into another merchant's account as "merchant account".
        assertThat(authorize(M1, id("pay"), m1Main, m2Main, 10).getResult())
                .isEqualTo(PaymentResult.PAYMENT_RESULT_MERCHANT_ACCOUNT_NOT_FOUND);
        assertThat(digest()).as("nothing written").isEqualTo(before);
        assertThat(balance(m2Main).getCreditsPosted() - balance(m2Main).getDebitsPosted()).isEqualTo(1_000);
    }

    @Test
    void replayingAnotherMerchantsTransferIdTellsNothing() throws Exception {
        String mine = id("m2-pays");
        Transfer original = transfer(mine, m2Main, m2Other, 70, "EUR");
        CreateTransferResult first = createTransfers(M2, original).getResults(0);
        assertThat(first.getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        // The owner's replay: EXISTS with its timestamp and balances.
        CreateTransferResult again = createTransfers(M2, original).getResults(0);
        assertThat(again.getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_EXISTS);
        assertThat(again.getTimestampNs()).isEqualTo(first.getTimestampNs());
        assertThat(again.hasDebitAccountBalance()).isTrue();

        String before = digest();
        // Another merchant sending the same id, with the same fields or with its own accounts: the id is taken and
        // nothing else is said (no timestamp, no balances), the same answer as for a transfer of its own with other fields.
        CreateTransferResult same = createTransfers(M1, original).getResults(0);
        CreateTransferResult own = createTransfers(M1, transfer(mine, m1Main, m1Other, 1, "EUR")).getResults(0);
        for (CreateTransferResult r : new CreateTransferResult[] {same, own}) {
            assertThat(r.getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS);
            assertThat(r.getTimestampNs()).isZero();
            assertThat(r.hasDebitAccountBalance()).isFalse();
            assertThat(r.hasCreditAccountBalance()).isFalse();
        }
        assertThat(digest()).isEqualTo(before);
        String m1Id = id("m1-pays");
        createTransfers(M1, transfer(m1Id, m1Main, m1Other, 5, "EUR"));
        before = digest();
        CreateTransferResult ownDifferent = createTransfers(M1, transfer(m1Id, m1Main, m1Other, 6, "EUR")).getResults(0);
        assertThat(ownDifferent.toBuilder().setId(mine).build()).isEqualTo(own);
        assertThat(digest()).isEqualTo(before);
    }

    // ------------------------------------------------------------------ the grant

    @Test
    void aGrantLetsTheNamedMerchantsChargeAPlatformAccountAndNobodyElse() throws Exception {
        String customer = id("customer");
        CreateAccountsResponse created = t.as(null, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                .addAccounts(wallet(customer, "EUR").toBuilder().addGrantedMerchants(M1).addGrantedMerchants(M3)).build()).body();
        assertThat(created.getResults(0).getStatus()).isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_CREATED);
        createTransfers(null, transfer(id("topup"), bank, customer, 300, "EUR"));

        String payment = id("pay");
        PaymentResponse auth = authorize(M1, payment, customer, m1Main, 200);
        assertThat(auth.getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(t.as(M1, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder().setPaymentId(payment)
                .setCaptureId(id("cap")).setAmount(200).build()).body().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        // The grantee may charge the account but not read it: no lookup, no balance in its payment's answers.
        assertThat(lookup(M1, customer).getStatus()).isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
        // A merchant the customer did not name is refused as for an account that does not exist.
        String before = digest();
        assertThat(authorize(M2, id("pay"), customer, m2Main, 10).getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_PAYER_ACCOUNT_NOT_FOUND);
        assertThat(createTransfers(M2, transfer(id("raw"), customer, m2Main, 10, "EUR")).getResults(0).getStatus())
                .isEqualTo(CreateTransferStatus.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND);
        // Grants are the operator's: a merchant cannot make a platform account, nor put a grant on its own.
        CreateAccountsResponse byMerchant = t.as(M1, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                .addAccounts(wallet(id("sneaky"), "EUR").toBuilder().addGrantedMerchants(M1))
                .addAccounts(owned(id("own"), M1).toBuilder().addGrantedMerchants(M2))
                .addAccounts(wallet(id("dup"), "EUR").toBuilder().addGrantedMerchants(M1).addGrantedMerchants(M1)).build()).body();
        assertThat(byMerchant.getResultsList()).extracting(r -> r.getStatus()).containsExactly(
                CreateAccountStatus.CREATE_ACCOUNT_PERMISSION_DENIED, CreateAccountStatus.CREATE_ACCOUNT_INVALID_GRANT,
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_GRANT);
        assertThat(digest()).isEqualTo(before);
        // The operator sees the grant; it is part of the account's fields (idempotency).
        assertThat(lookup(null, customer).getAccount().getGrantedMerchantsList()).containsExactly(M1, M3);
        assertThat(t.as(null, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                .addAccounts(wallet(customer, "EUR").toBuilder().addGrantedMerchants(M1)).build()).body().getResults(0).getStatus())
                .isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FIELDS);
    }

    @Test
    void aGrantMovesAGrantedAccountsMoneyOnlyByAPaymentIntoTheGranteesOwnAccount() throws Exception {
        String customer = id("customer");
        String otherCustomer = id("customer");
        createAccounts(null, wallet(customer, "EUR").toBuilder().addGrantedMerchants(M1).build(),
                wallet(otherCustomer, "EUR").toBuilder().addGrantedMerchants(M1).build());
        createTransfers(null, transfer(id("topup"), bank, customer, 300, "EUR"));
        String missing = id("missing");
        String before = digest();
        // Raw ledger transfers and holds out of (or into) a granted account: to another granted wallet, to the
        // grantee itself with no payment, a hold, a credit. Each answered exactly as for an account that does not
        // exist, and nothing is written.
        CreateTransfersResponse raw = createTransfers(M1,
                transfer(id("w2w"), customer, otherCustomer, 10, "EUR"),
                transfer(id("w2me"), customer, m1Main, 10, "EUR"),
                Fixtures.pending(transfer(id("hold"), customer, m1Main, 10, "EUR"), 600),
                transfer(id("me2w"), m1Main, customer, 10, "EUR"));
        CreateTransfersResponse asMissing = createTransfers(M1,
                transfer(id("w2w"), missing, otherCustomer, 10, "EUR"),
                transfer(id("w2me"), missing, m1Main, 10, "EUR"),
                Fixtures.pending(transfer(id("hold"), missing, m1Main, 10, "EUR"), 600),
                transfer(id("me2w"), m1Main, missing, 10, "EUR"));
        assertThat(raw.getResultsList()).extracting(CreateTransferResult::getStatus).containsExactly(
                CreateTransferStatus.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND, CreateTransferStatus.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND,
                CreateTransferStatus.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND, CreateTransferStatus.CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND);
        for (int i = 0; i < 4; i++) {
            assertThat(raw.getResults(i).toBuilder().clearId().build()).isEqualTo(asMissing.getResults(i).toBuilder().clearId().build());
        }
        // A payment into another granted wallet (as its "merchant account") is refused too.
        assertThat(authorize(M1, id("pay"), customer, otherCustomer, 10).getResult())
                .isEqualTo(PaymentResult.PAYMENT_RESULT_MERCHANT_ACCOUNT_NOT_FOUND);
        assertThat(digest()).as("nothing written").isEqualTo(before);

        // What the grant is for still works: authorise into its own account, capture, refund, void.
        String payment = id("pay");
        assertThat(authorize(M1, payment, customer, m1Main, 200).getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(t.as(M1, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder().setPaymentId(payment)
                .setCaptureId(id("cap")).setAmount(150).build()).body().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(t.as(M1, PaymentsServiceGrpcClient.Refund, RefundRequest.newBuilder().setPaymentId(payment)
                .setRefundId(id("ref")).setAmount(50).build()).body().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        String second = id("pay");
        assertThat(authorize(M1, second, customer, m1Main, 100).getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(t.as(M1, PaymentsServiceGrpcClient.VoidPayment, VoidRequest.newBuilder().setPaymentId(second)
                .setVoidId(id("void")).build()).body().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        io.paymentledger.api.v1.Balance wallet = balance(customer);
        assertThat(wallet.getCreditsPosted() - wallet.getDebitsPosted()).as("300 - 150 captured + 50 refunded").isEqualTo(200);
        assertThat(wallet.getDebitsPending()).as("the first payment's uncaptured 50 stays held; the voided 100 is released")
                .isEqualTo(50);
        assertThat(balance(otherCustomer).getCreditsPosted()).as("no money reached the other wallet").isZero();
    }

    @Test
    void aGranteeLearnsWhetherTheGrantedAccountCoversAnAmountAndNothingMore() throws Exception {
        // Documented in decision 0003: an authorisation is approved or declined, so authorise-then-void probes tell
        // a grantee the available balance (to any precision, in about log2(balance) tries). They tell nothing
        // else, and leave the account as it was.
        String customer = id("customer");
        createAccounts(null, wallet(customer, "EUR").toBuilder().addGrantedMerchants(M1).build());
        createTransfers(null, transfer(id("topup"), bank, customer, 300, "EUR"));
        io.paymentledger.api.v1.Balance start = balance(customer);
        String before = digest();
        PaymentResponse declined = authorize(M1, id("pay"), customer, m1Main, 301);
        assertThat(declined).isEqualTo(PaymentResponse.newBuilder().setResult(PaymentResult.PAYMENT_RESULT_INSUFFICIENT_FUNDS).build());
        assertThat(digest()).as("a declined authorisation writes nothing").isEqualTo(before);
        String probe = id("pay");
        PaymentResponse approved = authorize(M1, probe, customer, m1Main, 300);
        assertThat(approved.getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(approved.getPayment().getAuthorizedAmount()).isEqualTo(300);
        assertThat(t.as(M1, PaymentsServiceGrpcClient.VoidPayment, VoidRequest.newBuilder().setPaymentId(probe)
                .setVoidId(id("void")).build()).body().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        io.paymentledger.api.v1.Balance end = balance(customer);
        assertThat(end.getCreditsPosted() - end.getDebitsPosted() - end.getDebitsPending())
                .as("the probe moved no money").isEqualTo(start.getCreditsPosted() - start.getDebitsPosted() - start.getDebitsPending());
        // The account itself stays unreadable to the grantee.
        assertThat(lookup(M1, customer).getStatus()).isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
    }

    @Test
    void aGrantAddedBehindTheLedgersBackFailsTheJournalAudit() throws Exception {
        String customer = id("customer");
        createAccounts(null, wallet(customer, "EUR").toBuilder().addGrantedMerchants(M1).build());
        try (Connection c = t.sql()) {
            assertThat(new io.paymentledger.ledger.journal.JournalVerifier(null).verify(c).sound()).isTrue();
            try (Statement st = c.createStatement()) {
                st.executeUpdate("update account set granted_merchants = '[\"shop-1\", \"shop-2\"]' where id = '" + customer + "'");
            }
            try {
                var report = new io.paymentledger.ledger.journal.JournalVerifier(null).verify(c);
                assertThat(report.sound()).as("a grant is part of the account's journal hash").isFalse();
            } finally {
                try (Statement st = c.createStatement()) {
                    st.executeUpdate("update account set granted_merchants = '[\"shop-1\"]' where id = '" + customer + "'");
                }
            }
            assertThat(new io.paymentledger.ledger.journal.JournalVerifier(null).verify(c).sound()).isTrue();
        }
    }

    // ------------------------------------------------------------------ payments and the ledger agree

    @Test
    void aPaymentsHoldIsResolvedOnlyThroughThePaymentsApi() throws Exception {
        String payer = id("payer");
        createAccounts(M1, owned(payer, M1));
        createTransfers(null, transfer(id("fund"), bank, payer, 500, "EUR"));
        String payment = id("pay");
        assertThat(authorize(M1, payment, payer, m1Main, 300).getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        String before = digest();
        for (String caller : new String[] {M1, null}) {
            CreateTransfersResponse raw = createTransfers(caller, Fixtures.post(id("post"), payment, 300), Fixtures.voidOf(id("void"), payment));
            assertThat(raw.getResultsList()).extracting(CreateTransferResult::getStatus).containsOnly(
                    CreateTransferStatus.CREATE_TRANSFER_PENDING_TRANSFER_BELONGS_TO_PAYMENT);
        }
        assertThat(digest()).as("no money moved, the payment is as it was").isEqualTo(before);
        // Another merchant naming that hold learns nothing: as for a hold that does not exist.
        CreateTransfersResponse foreign = createTransfers(M2, Fixtures.voidOf(id("void"), payment));
        assertThat(foreign.getResults(0).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND);
        // Through the payments API the whole hold is still there, and refunds follow the captured amount.
        assertThat(t.as(M1, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder().setPaymentId(payment)
                .setCaptureId(id("cap")).setAmount(300).build()).body().getPayment().getCapturedAmount()).isEqualTo(300);
        assertThat(t.as(M1, PaymentsServiceGrpcClient.Refund, RefundRequest.newBuilder().setPaymentId(payment)
                .setRefundId(id("ref")).setAmount(301).build()).body().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_REFUND_EXCEEDS_CAPTURED);
    }

    // ------------------------------------------------------------------ no oracle on any read

    @Test
    void whatAMerchantMayNotReadLooksExactlyLikeWhatDoesNotExist() throws Exception {
        String m2Transfer = id("m2-t");
        createTransfers(M2, transfer(m2Transfer, m2Main, m2Other, 5, "EUR"));
        String m2Payment = id("m2-pay");
        assertThat(authorize(M2, m2Payment, m2Main, m2Other, 50).getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        String missing = id("missing");
        String before = digest();

        assertThat(lookup(M1, m2Main)).isEqualTo(lookup(M1, missing).toBuilder().setId(m2Main).build());
        assertThat(lookup(M1, m2Main).getStatus()).isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
        assertThat(lookupTransfer(M1, m2Transfer)).isEqualTo(lookupTransfer(M1, missing).toBuilder().setId(m2Transfer).build());
        assertThat(lookupTransfer(M1, m2Transfer).getStatus()).isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);

        Answer<GetAccountTransfersResponse> history = t.as(M1, LedgerServiceGrpcClient.GetAccountTransfers,
                GetAccountTransfersRequest.newBuilder().setAccountId(m2Main).build());
        Answer<GetAccountTransfersResponse> noHistory = t.as(M1, LedgerServiceGrpcClient.GetAccountTransfers,
                GetAccountTransfersRequest.newBuilder().setAccountId(missing).build());
        assertThat(history.status()).isEqualTo(GrpcStatus.NOT_FOUND).isEqualTo(noHistory.status());
        assertThat(history.message().replace(m2Main, "X")).isEqualTo(noHistory.message().replace(missing, "X"));
        var balances = t.as(M1, LedgerServiceGrpcClient.GetAccountBalances, GetAccountBalancesRequest.newBuilder().setAccountId(m2Main).build());
        var noBalances = t.as(M1, LedgerServiceGrpcClient.GetAccountBalances, GetAccountBalancesRequest.newBuilder().setAccountId(missing).build());
        assertThat(balances.status()).isEqualTo(GrpcStatus.NOT_FOUND).isEqualTo(noBalances.status());
        assertThat(balances.message().replace(m2Main, "X")).isEqualTo(noBalances.message().replace(missing, "X"));

        PaymentResponse get = t.as(M1, PaymentsServiceGrpcClient.GetPayment, GetPaymentRequest.newBuilder().setPaymentId(m2Payment).build()).body();
        assertThat(get).isEqualTo(t.as(M1, PaymentsServiceGrpcClient.GetPayment, GetPaymentRequest.newBuilder().setPaymentId(missing).build()).body());
        assertThat(get.getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_PAYMENT_NOT_FOUND);
        for (String paymentId : new String[] {m2Payment, missing}) {
            PaymentResponse capture = t.as(M1, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder().setPaymentId(paymentId)
                    .setCaptureId(id("cap")).setAmount(1).build()).body();
            PaymentResponse voided = t.as(M1, PaymentsServiceGrpcClient.VoidPayment, VoidRequest.newBuilder().setPaymentId(paymentId)
                    .setVoidId(id("void")).build()).body();
            PaymentResponse refund = t.as(M1, PaymentsServiceGrpcClient.Refund, RefundRequest.newBuilder().setPaymentId(paymentId)
                    .setRefundId(id("ref")).setAmount(1).build()).body();
            assertThat(java.util.List.of(capture, voided, refund)).allMatch(r -> r.equals(
                    PaymentResponse.newBuilder().setResult(PaymentResult.PAYMENT_RESULT_PAYMENT_NOT_FOUND).build()));
        }
        // Authorize reusing another merchant's payment id: the id is taken, nothing more.
        PaymentResponse reuse = authorize(M1, m2Payment, m1Main, m1Other, 50);
        assertThat(reuse).isEqualTo(PaymentResponse.newBuilder().setResult(PaymentResult.PAYMENT_RESULT_ID_IN_USE).build());
        // Transfers naming another's account on either side: as if it did not exist, and no balance of it.
        CreateTransfersResponse probes = createTransfers(M1, transfer(id("t"), m2Main, m1Main, 1, "EUR"),
                transfer(id("t"), missing, m1Main, 1, "EUR"), transfer(id("t"), m1Main, m2Main, 1, "EUR"),
                transfer(id("t"), m1Main, missing, 1, "EUR"));
        assertThat(probes.getResults(0).toBuilder().clearId().setIndex(0).build()).isEqualTo(probes.getResults(1).toBuilder().clearId().setIndex(0).build());
        assertThat(probes.getResults(2).toBuilder().clearId().setIndex(0).build()).isEqualTo(probes.getResults(3).toBuilder().clearId().setIndex(0).build());
        assertThat(probes.getResults(0).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND);
        assertThat(probes.getResults(2).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND);
        assertThat(probes.getResults(2).hasCreditAccountBalance()).isFalse();
        // Creating an account with another merchant's account id: taken, and not even its creation time.
        CreateAccountsResponse taken = createAccounts(M1, owned(m2Main, M1));
        assertThat(taken.getResults(0).getStatus()).isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FIELDS);
        assertThat(taken.getResults(0).getTimestampNs()).isZero();
        assertThat(digest()).isEqualTo(before);
    }

    @Test
    void aLinkedChainWithOneCrossTenantItemWritesNothing() throws Exception {
        String before = digest();
        CreateTransfersResponse chain = createTransfers(M1,
                Fixtures.linked(transfer(id("c"), m1Main, m1Other, 10, "EUR")),
                Fixtures.linked(transfer(id("c"), m2Main, m1Main, 10, "EUR")),
                transfer(id("c"), m1Other, m1Main, 10, "EUR"));
        assertThat(chain.getResultsList()).extracting(CreateTransferResult::getStatus).containsExactly(
                CreateTransferStatus.CREATE_TRANSFER_LINKED_EVENT_FAILED, CreateTransferStatus.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND,
                CreateTransferStatus.CREATE_TRANSFER_LINKED_EVENT_FAILED);
        assertThat(chain.getResults(1).hasDebitAccountBalance()).as("no balance of the other merchant's account").isFalse();
        // A hold of another merchant cannot be posted or voided by a third party either.
        String hold = id("hold");
        createTransfers(M2, Fixtures.pending(transfer(hold, m2Main, m2Other, 20, "EUR"), 600));
        String afterHold = digest();
        assertThat(createTransfers(M1, Fixtures.post(id("p"), hold, 20), Fixtures.voidOf(id("v"), hold)).getResultsList())
                .extracting(CreateTransferResult::getStatus).containsOnly(CreateTransferStatus.CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND);
        assertThat(digest()).isEqualTo(afterHold);
        assertThat(before).isNotEqualTo(afterHold);
    }

    @Test
    void pageTokensAreBoundToTheirAccountAndBounded() {
        for (int i = 0; i < 3; i++) {
            createTransfers(M1, transfer(id("page"), m1Main, m1Other, 1, "EUR"));
        }
        GetAccountTransfersResponse first = t.as(M1, LedgerServiceGrpcClient.GetAccountTransfers,
                GetAccountTransfersRequest.newBuilder().setAccountId(m1Main).setPageSize(1).build()).body();
        assertThat(first.getNextPageToken()).isNotEmpty();
        assertThat(t.as(M1, LedgerServiceGrpcClient.GetAccountTransfers, GetAccountTransfersRequest.newBuilder()
                .setAccountId(m1Main).setPageSize(1).setPageToken(first.getNextPageToken()).build()).status()).isEqualTo(GrpcStatus.OK);
        // The same token on another account, even the caller's own, is not a token this API issued for it.
        var elsewhere = t.as(M1, LedgerServiceGrpcClient.GetAccountTransfers, GetAccountTransfersRequest.newBuilder()
                .setAccountId(m1Other).setPageToken(first.getNextPageToken()).build());
        assertThat(elsewhere.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
        var huge = t.as(M1, LedgerServiceGrpcClient.GetAccountTransfers, GetAccountTransfersRequest.newBuilder()
                .setAccountId(m1Main).setPageToken("A".repeat(1_000_000)).build());
        assertThat(huge.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
        assertThat(huge.message()).contains("longer than");
    }

    // ------------------------------------------------------------------ helpers

    PaymentResponse authorize(String merchant, String paymentId, String payer, String merchantAccount, long amount) {
        return t.as(merchant, PaymentsServiceGrpcClient.Authorize, AuthorizeRequest.newBuilder().setPaymentId(paymentId)
                .setPayerAccountId(payer).setMerchantAccountId(merchantAccount).setAmount(amount).setCurrency("EUR")
                .setExpiresInSeconds(600).build()).body();
    }

    CreateTransfersResponse createTransfers(String merchant, Transfer... transfers) {
        Answer<CreateTransfersResponse> a = t.as(merchant, LedgerServiceGrpcClient.CreateTransfers,
                CreateTransfersRequest.newBuilder().addAllTransfers(java.util.List.of(transfers)).build());
        assertThat(a.status()).as(a.message()).isEqualTo(GrpcStatus.OK);
        return a.body();
    }

    CreateAccountsResponse createAccounts(String merchant, Account... accounts) {
        return t.as(merchant, LedgerServiceGrpcClient.CreateAccounts,
                CreateAccountsRequest.newBuilder().addAllAccounts(java.util.List.of(accounts)).build()).body();
    }

    io.paymentledger.api.v1.AccountLookup lookup(String merchant, String accountId) {
        LookupAccountsResponse r = t.as(merchant, LedgerServiceGrpcClient.LookupAccounts,
                LookupAccountsRequest.newBuilder().addIds(accountId).build()).body();
        return r.getResults(0);
    }

    io.paymentledger.api.v1.TransferLookup lookupTransfer(String merchant, String transferId) {
        LookupTransfersResponse r = t.as(merchant, LedgerServiceGrpcClient.LookupTransfers,
                LookupTransfersRequest.newBuilder().addIds(transferId).build()).body();
        return r.getResults(0);
    }

    io.paymentledger.api.v1.Balance balance(String accountId) {
        return lookup(null, accountId).getAccount().getBalance();
    }

    /** Everything a write could change: balances, transfers, holds, payments, the journal head. */
    static String digest() throws Exception {
        try (Connection c = t.sql(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                select md5(coalesce((select string_agg(id || ':' || debits_pending || ':' || debits_posted || ':' || credits_pending
                                     || ':' || credits_posted, ',' order by id) from account), ''))
                    || (select count(*) from transfer) || '/' || (select count(*) from payment)
                    || '/' || md5(coalesce((select string_agg(id || ':' || remaining || ':' || state, ',' order by id) from pending_transfer), ''))
                    || '/' || md5(coalesce((select string_agg(id || ':' || captured_amount || ':' || released_amount || ':' || refunded_amount, ',' order by id) from payment), ''))
                    || '/' || coalesce((select max(seq) from journal_batch), 0)""")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
