package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AccountFlags;
import io.paymentledger.api.v1.Balance;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.vertx.grpc.common.GrpcStatus;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AccountsTest {

    static TestLedger t;

    @BeforeAll
    static void start() {
        t = TestLedger.start();
    }

    @AfterAll
    static void stop() {
        t.close();
    }

    static CreateAccountsResponse create(Account... accounts) {
        return t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAllAccounts(List.of(accounts)).build()).await();
    }

    @Test
    void createsAnAccountAndLooksItUp() {
        String id = id("acc");
        Account a = account(id, "EUR").toBuilder().setOwner("m-1").setCode(42).putMetadata("k", "v")
                .setFlags(AccountFlags.newBuilder().setDebitsMustNotExceedCredits(true)).build();
        var r = create(a).getResults(0);
        assertThat(r.getStatus()).isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_CREATED);
        assertThat(r.getTimestampNs()).isPositive();

        var found = t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(id).addIds(id("missing")).build()).await();
        assertThat(found.getResults(0).getStatus()).isEqualTo(LookupStatus.LOOKUP_FOUND);
        Account back = found.getResults(0).getAccount();
        assertThat(back.getCurrency()).isEqualTo("EUR");
        assertThat(back.getOwner()).isEqualTo("m-1");
        assertThat(back.getCode()).isEqualTo(42);
        assertThat(back.getMetadataMap()).containsEntry("k", "v");
        assertThat(back.getFlags().getDebitsMustNotExceedCredits()).isTrue();
        assertThat(back.getBalance()).isEqualTo(Balance.getDefaultInstance());
        assertThat(back.getTimestampNs()).isEqualTo(r.getTimestampNs());
        assertThat(found.getResults(1).getStatus()).isEqualTo(LookupStatus.LOOKUP_NOT_FOUND);
    }

    @Test
    void sameIdSameFieldsIsExistsWithTheOriginalTimestamp() {
        String id = id("acc");
        var first = create(account(id, "EUR")).getResults(0);
        var again = create(account(id, "EUR")).getResults(0);
        assertThat(again.getStatus()).isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_EXISTS);
        assertThat(again.getTimestampNs()).isEqualTo(first.getTimestampNs());
    }

    @Test
    void sameIdOtherFieldsIsRejectedAndChangesNothing() {
        String id = id("acc");
        create(account(id, "EUR"));
        var r = create(account(id, "USD")).getResults(0);
        assertThat(r.getStatus()).isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FIELDS);
        var back = t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(id).build()).await();
        assertThat(back.getResults(0).getAccount().getCurrency()).isEqualTo("EUR");
    }

    @Test
    void sameIdTwiceInOneRequestIsCreatedThenExists() {
        String id = id("acc");
        var r = create(account(id, "EUR"), account(id, "EUR"), account(id, "GBP"));
        assertThat(r.getResultsList()).extracting(x -> x.getStatus()).containsExactly(
                CreateAccountStatus.CREATE_ACCOUNT_CREATED, CreateAccountStatus.CREATE_ACCOUNT_EXISTS,
                CreateAccountStatus.CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FIELDS);
    }

    @Test
    void eachMalformedAccountGetsItsOwnCodeAndIsNotWritten() throws Exception {
        String good = id("ok");
        String badMeta = id("meta");
        var r = create(
                account("", "EUR"),
                account("has space", "EUR"),
                account("x".repeat(65), "EUR"),
                account(id("cur"), "XYZ"),
                account(id("cur"), "eur"),
                account(id("own"), "EUR").toBuilder().setOwner("bad owner!").build(),
                account(id("flags"), "EUR").toBuilder().setFlags(AccountFlags.newBuilder()
                        .setDebitsMustNotExceedCredits(true).setCreditsMustNotExceedDebits(true)).build(),
                account(badMeta, "EUR").toBuilder().putMetadata("k", "v".repeat(300)).build(),
                account(id("bal"), "EUR").toBuilder().setBalance(Balance.newBuilder().setCreditsPosted(5)).build(),
                account(id("ts"), "EUR").toBuilder().setTimestampNs(5).build(),
                account(good, "EUR"));
        assertThat(r.getResultsList()).extracting(x -> x.getStatus()).containsExactly(
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_ID,
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_ID,
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_ID,
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_CURRENCY,
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_CURRENCY,
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_OWNER,
                CreateAccountStatus.CREATE_ACCOUNT_FLAGS_MUTUALLY_EXCLUSIVE,
                CreateAccountStatus.CREATE_ACCOUNT_INVALID_METADATA,
                CreateAccountStatus.CREATE_ACCOUNT_BALANCE_MUST_BE_ZERO,
                CreateAccountStatus.CREATE_ACCOUNT_TIMESTAMP_MUST_BE_ZERO,
                CreateAccountStatus.CREATE_ACCOUNT_CREATED);
        try (var c = t.sql()) {
            assertThat(LedgerAssertions.count(c, "select count(*) from account where id = '" + badMeta + "'")).isZero();
            assertThat(LedgerAssertions.count(c, "select count(*) from account where id = '" + good + "'")).isOne();
        }
    }

    @Test
    void emptyOrOversizedRequestIsInvalidArgumentAndWritesNothing() throws Exception {
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT,
                () -> t.ledger.createAccounts(CreateAccountsRequest.getDefaultInstance()).await());
        String prefix = id("big");
        CreateAccountsRequest.Builder big = CreateAccountsRequest.newBuilder();
        for (int i = 0; i <= Limits.REQUEST_ITEMS_MAX; i++) {
            big.addAccounts(account(prefix + "-" + i, "EUR"));
        }
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.createAccounts(big.build()).await());
        try (var c = t.sql()) {
            assertThat(LedgerAssertions.count(c, "select count(*) from account where id like '" + prefix + "%'")).isZero();
        }
    }

    @Test
    void aFullRequestOf8190AccountsIsAccepted() {
        String prefix = id("full");
        CreateAccountsRequest.Builder full = CreateAccountsRequest.newBuilder();
        for (int i = 0; i < Limits.REQUEST_ITEMS_MAX; i++) {
            full.addAccounts(account(prefix + "-" + i, "EUR"));
        }
        var r = t.ledger.createAccounts(full.build()).await();
        assertThat(r.getResultsList()).hasSize(Limits.REQUEST_ITEMS_MAX)
                .allMatch(x -> x.getStatus() == CreateAccountStatus.CREATE_ACCOUNT_CREATED);
    }
}
