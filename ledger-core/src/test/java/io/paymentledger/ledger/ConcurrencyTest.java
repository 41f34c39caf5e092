package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Many clients on many connections at once: exactly-once and limits must hold. */
class ConcurrencyTest {

    static TestLedger t;
    static final int CONNECTIONS = 50;
    static final List<Vertx> vertxes = new ArrayList<>();
    static final List<LedgerServiceGrpcClient> clients = new ArrayList<>();

    @BeforeAll
    static void start() {
        t = TestLedger.start();
        // A separate Vert.x (so a separate HTTP/2 connection) per client: no sharing of one connection.
        for (int i = 0; i < CONNECTIONS; i++) {
            Vertx v = Vertx.vertx();
            vertxes.add(v);
            GrpcClient g = TestLedger.newClient(v);
            clients.add(LedgerServiceGrpcClient.create(g, t.address));
        }
    }

    @AfterAll
    static void stop() throws Exception {
        vertxes.forEach(v -> v.close().await());
        try (var c = t.sql()) {
            LedgerAssertions.assertConsistent(c);
        } finally {
            t.close();
        }
    }

    static <T> List<T> runAll(List<Callable<T>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
        try {
            List<T> out = new ArrayList<>();
            for (Future<T> f : pool.invokeAll(tasks, 120, TimeUnit.SECONDS)) {
                out.add(f.get());
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theSameTransferSentOnFiftyConnectionsAtOncePostsExactlyOnce() throws Exception {
        String a = id("a"), b = id("b");
        t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR")).build()).await();
        for (int round = 0; round < 5; round++) {
            String tid = id("dup");
            var req = CreateTransfersRequest.newBuilder().addTransfers(transfer(tid, a, b, 10, "EUR")).build();
            List<Callable<CreateTransferResult>> tasks = new ArrayList<>();
            for (LedgerServiceGrpcClient c : clients) {
                tasks.add(() -> c.createTransfers(req).await().getResults(0));
            }
            List<CreateTransferResult> results = runAll(tasks);
            assertThat(results).filteredOn(r -> r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED).hasSize(1);
            assertThat(results).filteredOn(r -> r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_EXISTS).hasSize(CONNECTIONS - 1);
            assertThat(results).extracting(CreateTransferResult::getTimestampNs).containsOnly(results.get(0).getTimestampNs());
        }
        var bal = t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(a).build()).await().getResults(0).getAccount().getBalance();
        assertThat(bal.getDebitsPosted()).isEqualTo(50);
    }

    @Test
    void fiftyClientsDrainingOneWalletNeverTakeItBelowZero() throws Exception {
        String src = id("src"), w = id("wallet"), sink = id("sink");
        t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(src, "USD"))
                .addAccounts(wallet(w, "USD")).addAccounts(account(sink, "USD")).build()).await();
        long funded = 1_000;
        t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id("fund"), src, w, funded, "USD")).build()).await();
        List<Callable<long[]>> tasks = new ArrayList<>();
        for (LedgerServiceGrpcClient c : clients) {
            tasks.add(() -> {
                long created = 0, refused = 0;
                for (int i = 0; i < 30; i++) {
                    var r = c.createTransfers(CreateTransfersRequest.newBuilder()
                            .addTransfers(transfer(id("drain"), w, sink, 7, "USD")).build()).await().getResults(0);
                    if (r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED) {
                        created++;
                        assertThat(r.getDebitAccountBalance().getDebitsPosted()).isLessThanOrEqualTo(funded);
                    } else {
                        assertThat(r.getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_EXCEEDS_CREDITS);
                        refused++;
                    }
                }
                return new long[] {created, refused};
            });
        }
        long created = runAll(tasks).stream().mapToLong(x -> x[0]).sum();
        assertThat(created).isEqualTo(funded / 7);
        var bal = t.ledger.lookupAccounts(LookupAccountsRequest.newBuilder().addIds(w).build()).await().getResults(0).getAccount().getBalance();
        assertThat(bal.getDebitsPosted()).isEqualTo(created * 7).isLessThanOrEqualTo(bal.getCreditsPosted());
    }
}
