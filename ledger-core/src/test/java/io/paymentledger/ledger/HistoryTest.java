package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.AccountBalance;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.Direction;
import io.paymentledger.api.v1.GetAccountBalancesRequest;
import io.paymentledger.api.v1.GetAccountTransfersRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class HistoryTest {

    static TestLedger t;
    static String a, b, c;
    static List<CreateTransferResult> written;

    @BeforeAll
    static void start() {
        t = TestLedger.start();
        a = id("a");
        b = id("b");
        c = id("c");
        t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR"))
                .addAccounts(account(b, "EUR")).addAccounts(account(c, "EUR")).build()).await();
        // a: -10, +20 (from b), -30 (code 7), -40 to c, +5 from c
        written = t.ledger.createTransfers(CreateTransfersRequest.newBuilder()
                .addTransfers(transfer(id("t1"), a, b, 10, "EUR"))
                .addTransfers(transfer(id("t2"), b, a, 20, "EUR"))
                .addTransfers(transfer(id("t3"), a, b, 30, "EUR").toBuilder().setCode(7))
                .addTransfers(transfer(id("t4"), a, c, 40, "EUR"))
                .addTransfers(transfer(id("t5"), c, a, 5, "EUR"))
                .build()).await().getResultsList();
    }

    @AfterAll
    static void stop() {
        t.close();
    }

    static List<String> allPages(GetAccountTransfersRequest base) {
        List<String> ids = new ArrayList<>();
        String token = "";
        int pages = 0;
        do {
            var page = t.ledger.getAccountTransfers(base.toBuilder().setPageToken(token).build()).await();
            page.getTransfersList().forEach(x -> ids.add(x.getId()));
            token = page.getNextPageToken();
            pages++;
        } while (!token.isEmpty() && pages < 100);
        return ids;
    }

    static String idOf(int i) {
        return written.get(i).getId();
    }

    @Test
    void listsAnAccountsTransfersPageByPageInBothOrders() {
        var base = GetAccountTransfersRequest.newBuilder().setAccountId(a).setPageSize(2).build();
        assertThat(allPages(base)).containsExactly(idOf(0), idOf(1), idOf(2), idOf(3), idOf(4));
        assertThat(allPages(base.toBuilder().setReversed(true).build())).containsExactly(idOf(4), idOf(3), idOf(2), idOf(1), idOf(0));
        assertThat(allPages(base.toBuilder().setDirection(Direction.DIRECTION_CREDITS).build())).containsExactly(idOf(1), idOf(4));
        assertThat(allPages(base.toBuilder().setDirection(Direction.DIRECTION_DEBITS).setCode(7).build())).containsExactly(idOf(2));
        long t2 = written.get(1).getTimestampNs(), t4 = written.get(3).getTimestampNs();
        assertThat(allPages(base.toBuilder().setTimestampMinNs(t2).setTimestampMaxNs(t4).build()))
                .containsExactly(idOf(1), idOf(2), idOf(3));
    }

    @Test
    void balanceHistoryAndBalanceAtAMoment() {
        var history = t.ledger.getAccountBalances(GetAccountBalancesRequest.newBuilder().setAccountId(a).build()).await();
        List<Long> net = history.getBalancesList().stream()
                .map(x -> x.getBalance().getCreditsPosted() - x.getBalance().getDebitsPosted()).toList();
        assertThat(net).containsExactly(-10L, 10L, -20L, -60L, -55L);
        assertThat(history.getBalancesList()).extracting(AccountBalance::getTransferId)
                .containsExactly(idOf(0), idOf(1), idOf(2), idOf(3), idOf(4));

        long t3 = written.get(2).getTimestampNs();
        var at = t.ledger.getAccountBalances(GetAccountBalancesRequest.newBuilder().setAccountId(a).setAtTimestampNs(t3 + 1).build()).await();
        assertThat(at.getBalancesList()).hasSize(1);
        assertThat(at.getBalances(0).getTransferId()).isEqualTo(idOf(2));
        assertThat(at.getBalances(0).getBalance().getDebitsPosted()).isEqualTo(40);
        var before = t.ledger.getAccountBalances(GetAccountBalancesRequest.newBuilder().setAccountId(a)
                .setAtTimestampNs(written.get(0).getTimestampNs() - 1).build()).await();
        assertThat(before.getBalancesList()).isEmpty();
        // The per-transfer result reported the same balance the history holds.
        assertThat(written.get(2).getDebitAccountBalance()).isEqualTo(at.getBalances(0).getBalance());
    }

    @Test
    void badQueriesAreRejectedClearly() {
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.getAccountTransfers(
                GetAccountTransfersRequest.newBuilder().setAccountId(a).setDirectionValue(99).build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.getAccountTransfers(
                GetAccountTransfersRequest.newBuilder().setAccountId(a).setPageToken("garbage!").build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.getAccountTransfers(
                GetAccountTransfersRequest.newBuilder().setAccountId(a).setPageSize(5000).build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.getAccountTransfers(
                GetAccountTransfersRequest.newBuilder().setAccountId("").build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.getAccountBalances(
                GetAccountBalancesRequest.newBuilder().setAccountId(a).setTimestampMinNs(10).setTimestampMaxNs(5).build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.INVALID_ARGUMENT, () -> t.ledger.getAccountBalances(
                GetAccountBalancesRequest.newBuilder().setAccountId(a).setRead(io.paymentledger.api.v1.ReadOptions.newBuilder()
                        .setConsistencyValue(42)).build()).await());
        LedgerAssertions.assertGrpcStatus(GrpcStatus.NOT_FOUND, () -> t.ledger.getAccountTransfers(
                GetAccountTransfersRequest.newBuilder().setAccountId(id("nobody")).build()).await());
    }

    @Test
    void unusedTransferKeepsItsFields() {
        Transfer back = t.ledger.getAccountTransfers(GetAccountTransfersRequest.newBuilder().setAccountId(c)
                .setPageSize(1).build()).await().getTransfers(0);
        assertThat(back.getDebitAccountId()).isEqualTo(a);
        assertThat(back.getCreditAccountId()).isEqualTo(c);
        assertThat(back.getAmount()).isEqualTo(40);
    }
}
