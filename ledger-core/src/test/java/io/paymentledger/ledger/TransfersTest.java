package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.linked;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static io.paymentledger.api.v1.CreateTransferStatus.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AccountFlags;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.TransferFlags;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.vertx.grpc.common.GrpcStatus;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TransfersTest {

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
        var r = t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAllAccounts(List.of(accounts)).build()).await();
        assertThat(r.getResultsList()).allMatch(x -> x.getStatus().getNumber() <= 2, "accounts created");
    }

    static List<CreateTransferResult> send(Transfer... transfers) {
        return t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addAllTransfers(List.of(transfers)).build())
                .await().getResultsList();
    }

    static List<CreateTransferStatus> statuses(Transfer... transfers) {
        return send(transfers).stream().map(CreateTransferResult::getStatus).toList();
    }

    static io.paymentledger.api.v1.Balance balance(String id) {
        var r = t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(id).build()).await().getResults(0);
        assertThat(r.getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
        return r.getAccount().getBalance();
    }

    @Test
    void aPostedTransferDebitsOneAccountAndCreditsTheOther() {
        String a = id("a"), b = id("b"), tid = id("t");
        accounts(account(a, "EUR"), account(b, "EUR"));
        var r = send(transfer(tid, a, b, 1234, "EUR")).get(0);
        assertThat(r.getStatus()).isEqualTo(CREATE_TRANSFER_CREATED);
        assertThat(r.getTimestampNs()).isPositive();
        assertThat(r.getDebitAccountBalance().getDebitsPosted()).isEqualTo(1234);
        assertThat(r.getCreditAccountBalance().getCreditsPosted()).isEqualTo(1234);
        assertThat(balance(a).getDebitsPosted()).isEqualTo(1234);
        assertThat(balance(b).getCreditsPosted()).isEqualTo(1234);
        var looked = t.ledger.lookupTransfers(LookupTransfersRequest.newBuilder().addIds(tid).build()).await().getResults(0);
        assertThat(looked.getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
        assertThat(looked.getTransfer().getAmount()).isEqualTo(1234);
        assertThat(looked.getTransfer().getTimestampNs()).isEqualTo(r.getTimestampNs());
    }

    @Test
    void retryReturnsTheOriginalOutcomeAndNeverPostsTwice() {
        String a = id("a"), b = id("b"), tid = id("t");
        accounts(account(a, "EUR"), account(b, "EUR"));
        var first = send(transfer(tid, a, b, 100, "EUR")).get(0);
        var again = send(transfer(tid, a, b, 100, "EUR")).get(0);
        assertThat(again.getStatus()).isEqualTo(CREATE_TRANSFER_EXISTS);
        assertThat(again.getTimestampNs()).isEqualTo(first.getTimestampNs());
        var different = send(transfer(tid, a, b, 101, "EUR")).get(0);
        assertThat(different.getStatus()).isEqualTo(CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS);
        assertThat(balance(a).getDebitsPosted()).isEqualTo(100);
        // The same id twice in one request: the second is EXISTS.
        String t2 = id("t");
        assertThat(statuses(transfer(t2, a, b, 5, "EUR"), transfer(t2, a, b, 5, "EUR")))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_EXISTS);
        assertThat(balance(a).getDebitsPosted()).isEqualTo(105);
    }

    @Test
    void rejectsWhatTheAccountsDoNotAllow() {
        String a = id("a"), b = id("b"), usd = id("usd"), w = id("wallet"), c = id("capped");
        accounts(account(a, "EUR"), account(b, "EUR"), account(usd, "USD"), wallet(w, "EUR"),
                account(c, "EUR").toBuilder().setFlags(AccountFlags.newBuilder().setCreditsMustNotExceedDebits(true)).build());
        assertThat(statuses(
                transfer(id("t"), id("nobody"), b, 1, "EUR"),
                transfer(id("t"), a, id("nobody"), 1, "EUR"),
                transfer(id("t"), a, usd, 1, "EUR"),
                transfer(id("t"), a, b, 1, "USD"),
                transfer(id("t"), w, b, 1, "EUR"),
                transfer(id("t"), a, c, 1, "EUR")))
                .containsExactly(CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND, CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND,
                        CREATE_TRANSFER_CURRENCY_MISMATCH, CREATE_TRANSFER_CURRENCY_MISMATCH,
                        CREATE_TRANSFER_EXCEEDS_CREDITS, CREATE_TRANSFER_EXCEEDS_DEBITS);
        // Funding the wallet lets it spend exactly that much.
        assertThat(statuses(transfer(id("t"), a, w, 50, "EUR"), transfer(id("t"), w, b, 50, "EUR"),
                transfer(id("t"), w, b, 1, "EUR")))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_CREATED, CREATE_TRANSFER_EXCEEDS_CREDITS);
        assertThat(balance(w).getDebitsPosted()).isEqualTo(50);
    }

    @Test
    void balancesThatWouldLeaveInt64AreRejected() {
        String a = id("a"), b = id("b");
        accounts(account(a, "EUR"), account(b, "EUR"));
        assertThat(statuses(transfer(id("t"), a, b, Long.MAX_VALUE, "EUR"), transfer(id("t"), a, b, 1, "EUR")))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_AMOUNT_OVERFLOW);
        assertThat(balance(a).getDebitsPosted()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void malformedTransfersGetTheirOwnCodeAndWriteNothing() throws Exception {
        String a = id("a"), b = id("b");
        accounts(account(a, "EUR"), account(b, "EUR"));
        String ok = id("ok");
        assertThat(statuses(
                transfer("", a, b, 1, "EUR"),
                transfer("bad id", a, b, 1, "EUR"),
                transfer(id("t"), "", b, 1, "EUR"),
                transfer(id("t"), a, "bad/acct", 1, "EUR"),
                transfer(id("t"), a, a, 1, "EUR"),
                transfer(id("t"), a, b, 0, "EUR"),
                transfer(id("t"), a, b, -5, "EUR"),
                transfer(id("t"), a, b, 1, "ZZZ"),
                transfer(id("t"), a, b, 1, "EUR").toBuilder().putMetadata("", "x").build(),
                transfer(id("t"), a, b, 1, "EUR").toBuilder().setTimeoutSeconds(10).build(),
                transfer(id("t"), a, b, 1, "EUR").toBuilder().setPendingId("p").build(),
                transfer(id("t"), a, b, 1, "EUR").toBuilder().setFlags(TransferFlags.newBuilder().setPending(true).setPostPending(true)).build(),
                transfer(id("t"), a, b, 1, "EUR").toBuilder().setTimestampNs(9).build(),
                transfer(ok, a, b, 7, "EUR")))
                .containsExactly(CREATE_TRANSFER_INVALID_ID, CREATE_TRANSFER_INVALID_ID,
                        CREATE_TRANSFER_INVALID_DEBIT_ACCOUNT_ID, CREATE_TRANSFER_INVALID_CREDIT_ACCOUNT_ID,
                        CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT, CREATE_TRANSFER_AMOUNT_MUST_BE_POSITIVE,
                        CREATE_TRANSFER_AMOUNT_MUST_BE_POSITIVE, CREATE_TRANSFER_INVALID_CURRENCY,
                        CREATE_TRANSFER_INVALID_METADATA, CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING,
                        CREATE_TRANSFER_PENDING_ID_MUST_BE_EMPTY, CREATE_TRANSFER_FLAGS_MUTUALLY_EXCLUSIVE,
                        CREATE_TRANSFER_TIMESTAMP_MUST_BE_ZERO, CREATE_TRANSFER_CREATED);
        assertThat(balance(a).getDebitsPosted()).isEqualTo(7);
    }

    @Test
    void oversizedRequestIsInvalidArgumentAndWritesNothing() throws Exception {
        String a = id("a"), b = id("b");
        accounts(account(a, "EUR"), account(b, "EUR"));
        CreateTransfersRequest.Builder big = CreateTransfersRequest.newBuilder();
        for (int i = 0; i <= Limits.REQUEST_ITEMS_MAX; i++) {
            big.addTransfers(transfer(id("big"), a, b, 1, "EUR"));
        }
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.createTransfers(big.build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT,
                () -> t.ledger.createTransfers(CreateTransfersRequest.getDefaultInstance()).await());
        assertThat(balance(a).getDebitsPosted()).isZero();
    }

    @Test
    void aLinkedChainIsWrittenWholeOrNotAtAll() {
        String a = id("a"), b = id("b"), w = id("w");
        accounts(account(a, "EUR"), account(b, "EUR"), wallet(w, "EUR"));
        // a -> w -> b, then a chain whose last leg overdraws w: nothing of it stays.
        assertThat(statuses(linked(transfer(id("t"), a, w, 10, "EUR")), transfer(id("t"), w, b, 10, "EUR")))
                .containsExactly(CREATE_TRANSFER_CREATED, CREATE_TRANSFER_CREATED);
        String ok = id("ok");
        assertThat(statuses(
                linked(transfer(id("t"), a, w, 5, "EUR")),
                linked(transfer(id("t"), w, b, 5, "EUR")),
                transfer(id("t"), w, b, 1, "EUR"),
                transfer(ok, a, b, 3, "EUR")))
                .containsExactly(CREATE_TRANSFER_LINKED_EVENT_FAILED, CREATE_TRANSFER_LINKED_EVENT_FAILED,
                        CREATE_TRANSFER_EXCEEDS_CREDITS, CREATE_TRANSFER_CREATED);
        assertThat(balance(w).getCreditsPosted()).isEqualTo(10);
        assertThat(balance(w).getDebitsPosted()).isEqualTo(10);
        assertThat(balance(a).getDebitsPosted()).isEqualTo(13);
        // A failure in the middle fails the rest of the chain too.
        assertThat(statuses(
                linked(transfer(id("t"), a, b, 1, "EUR")),
                linked(transfer(id("t"), a, id("nobody"), 1, "EUR")),
                transfer(id("t"), a, b, 1, "EUR")))
                .containsExactly(CREATE_TRANSFER_LINKED_EVENT_FAILED, CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND,
                        CREATE_TRANSFER_LINKED_EVENT_FAILED);
        // A chain left open at the end of the request fails whole.
        assertThat(statuses(linked(transfer(id("t"), a, b, 1, "EUR")), linked(transfer(id("t"), a, b, 1, "EUR"))))
                .containsExactly(CREATE_TRANSFER_LINKED_EVENT_FAILED, CREATE_TRANSFER_LINKED_EVENT_CHAIN_OPEN);
        assertThat(balance(a).getDebitsPosted()).isEqualTo(13);
    }

    @Test
    void codeKeepsTheFullUnsignedRange() {
        String a = id("a"), b = id("b"), tid = id("t");
        accounts(account(a, "EUR"), account(b, "EUR"));
        send(transfer(tid, a, b, 1, "EUR").toBuilder().setCode(-1).build());
        var back = t.ledger.lookupTransfers(LookupTransfersRequest.newBuilder().addIds(tid).build()).await().getResults(0);
        assertThat(Integer.toUnsignedLong(back.getTransfer().getCode())).isEqualTo(4294967295L);
    }
}
