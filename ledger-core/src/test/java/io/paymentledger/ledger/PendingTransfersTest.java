package io.paymentledger.ledger;

import static io.paymentledger.api.v1.CreateTransferStatus.*;
import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.pending;
import static io.paymentledger.ledger.support.Fixtures.post;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.voidOf;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.Balance;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.PendingState;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.TransferLookup;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PendingTransfersTest {

    static TestLedger t;

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

    static void accounts(Account... accounts) {
        t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAllAccounts(List.of(accounts)).build()).await();
    }

    static List<CreateTransferStatus> statuses(Transfer... transfers) {
        return t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addAllTransfers(List.of(transfers)).build())
                .await().getResultsList().stream().map(r -> r.getStatus()).toList();
    }

    static Balance balance(String id) {
        return t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(id).build()).await()
                .getResults(0).getAccount().getBalance();
    }

    static TransferLookup lookup(String id) {
        return t.ledger.lookupTransfers(LookupTransfersRequest.newBuilder().addIds(id).build()).await().getResults(0);
    }

    @Test
    void aHoldIsCapturedInPartsNeverAboveWhatIsHeld() {
        String a = id("a"), b = id("b"), p = id("p");
        accounts(account(a, "EUR"), account(b, "EUR"));
        assertThat(statuses(pending(transfer(p, a, b, 100, "EUR"), 0))).containsExactly(CREATE_TRANSFER_CREATED);
        assertThat(balance(a)).isEqualTo(Balance.newBuilder().setDebitsPending(100).build());
        assertThat(statuses(post(id("c"), p, 30), post(id("c"), p, 80), post(id("c"), p, 70), post(id("c"), p, 1)))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_POST_EXCEEDS_PENDING, CREATE_TRANSFER_CREATED,
                        CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);
        assertThat(balance(a)).isEqualTo(Balance.newBuilder().setDebitsPosted(100).build());
        assertThat(balance(b)).isEqualTo(Balance.newBuilder().setCreditsPosted(100).build());
        assertThat(lookup(p).getPendingState()).isEqualTo(PendingState.PENDING_STATE_POSTED);
    }

    @Test
    void aVoidReleasesWhatIsStillHeld() {
        String a = id("a"), b = id("b"), p = id("p");
        accounts(account(a, "EUR"), account(b, "EUR"));
        statuses(pending(transfer(p, a, b, 100, "EUR"), 0));
        String v = id("v");
        assertThat(statuses(post(id("c"), p, 40), voidOf(v, p), voidOf(id("v"), p), post(id("c"), p, 1)))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_CREATED,
                        CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED, CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED);
        assertThat(balance(a)).isEqualTo(Balance.newBuilder().setDebitsPosted(40).build());
        assertThat(lookup(v).getTransfer().getAmount()).as("a void records what it released").isEqualTo(60);
        // Retrying the void (amount 0 as sent) is EXISTS.
        assertThat(statuses(voidOf(v, p))).containsExactly(CREATE_TRANSFER_EXISTS);
    }

    @Test
    void holdsCountAgainstLimitsAndReleaseWhenVoided() {
        String src = id("src"), w = id("w"), b = id("b"), p = id("p");
        accounts(account(src, "EUR"), wallet(w, "EUR"), account(b, "EUR"));
        statuses(transfer(id("fund"), src, w, 100, "EUR"));
        assertThat(statuses(pending(transfer(p, w, b, 80, "EUR"), 0), transfer(id("t"), w, b, 30, "EUR")))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_EXCEEDS_CREDITS);
        assertThat(statuses(voidOf(id("v"), p), transfer(id("t"), w, b, 30, "EUR")))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_CREATED);
    }

    @Test
    void anExpiredHoldIsReleasedOnTheServerClockAndCannotBePosted() throws Exception {
        String a = id("a"), b = id("b"), p = id("p");
        accounts(account(a, "EUR"), account(b, "EUR"));
        statuses(pending(transfer(p, a, b, 100, "EUR"), 1));
        assertThat(lookup(p).getPendingState()).isEqualTo(PendingState.PENDING_STATE_HELD);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (lookup(p).getPendingState() != PendingState.PENDING_STATE_EXPIRED && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(lookup(p).getPendingState()).isEqualTo(PendingState.PENDING_STATE_EXPIRED);
        assertThat(balance(a)).isEqualTo(Balance.getDefaultInstance());
        assertThat(lookup(p + "#expired").getTransfer().getAmount()).isEqualTo(100);
        assertThat(statuses(post(id("c"), p, 10), voidOf(id("v"), p)))
                .containsExactly(CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED, CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);
    }

    @Test
    void postAndVoidMustNameAHoldWithMatchingFields() {
        String a = id("a"), b = id("b"), c = id("c"), p = id("p"), posted = id("posted");
        accounts(account(a, "EUR"), account(b, "EUR"), account(c, "EUR"));
        statuses(pending(transfer(p, a, b, 100, "EUR"), 0), transfer(posted, a, b, 1, "EUR"));
        assertThat(statuses(
                post(id("x"), id("nothing"), 1),
                post(id("x"), posted, 1),
                post(id("x"), p, 1).toBuilder().setDebitAccountId(c).build(),
                post(id("x"), p, 1).toBuilder().setCreditAccountId(c).build(),
                post(id("x"), p, 1).toBuilder().setCurrency("USD").build(),
                post(id("x"), "", 1),
                voidOf(id("x"), p).toBuilder().setAmount(5).build(),
                post(id("x"), p, 1).toBuilder().setDebitAccountId(a).setCreditAccountId(b).setCurrency("EUR").build()))
                .containsExactly(CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND, CREATE_TRANSFER_PENDING_TRANSFER_NOT_PENDING,
                        CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT,
                        CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT,
                        CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY, CREATE_TRANSFER_PENDING_ID_REQUIRED,
                        CREATE_TRANSFER_VOID_AMOUNT_MUST_BE_ZERO, CREATE_TRANSFER_CREATED);
    }

    @Test
    void aHoldAndItsPostInOneRequestWork() {
        String a = id("a"), b = id("b"), p = id("p");
        accounts(account(a, "EUR"), account(b, "EUR"));
        assertThat(statuses(pending(transfer(p, a, b, 10, "EUR"), 60), post(id("c"), p, 10)))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_CREATED);
        assertThat(balance(b)).isEqualTo(Balance.newBuilder().setCreditsPosted(10).build());
    }
}
