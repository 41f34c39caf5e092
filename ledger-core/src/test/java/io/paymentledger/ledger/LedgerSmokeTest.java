package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.ledger.support.TestLedger;
import org.junit.jupiter.api.Test;

class LedgerSmokeTest {

    @Test
    void movesMoneyBetweenTwoAccounts() {
        try (TestLedger t = TestLedger.start()) {
            String a = id("a"), b = id("b");
            var acc = t.ledger.createAccounts(CreateAccountsRequest.newBuilder()
                    .addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR")).build()).await();
            assertThat(acc.getResultsList()).extracting(r -> r.getStatus()).containsOnly(CreateAccountStatus.CREATE_ACCOUNT_CREATED);
            var tr = t.ledger.createTransfers(CreateTransfersRequest.newBuilder()
                    .addTransfers(transfer(id("t"), a, b, 500, "EUR")).build()).await();
            assertThat(tr.getResults(0).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
            assertThat(tr.getResults(0).getDebitAccountBalance().getDebitsPosted()).isEqualTo(500);
            assertThat(tr.getResults(0).getCreditAccountBalance().getCreditsPosted()).isEqualTo(500);
        }
    }
}
