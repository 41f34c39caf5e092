import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.client.LedgerClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A merchant's first payments through ledger-client, against `./ledger up` (run from the repository root):
 *
 *   ./ledger merchant create shop-1
 *   java -cp "ledger-cli/target/lib/*" ledger-client/examples/PayOnce.java shop-1
 *
 * Creates two accounts of the merchant, then sends 1,000 single-transfer calls at once: the client packs them
 * into a few CreateTransfers requests by itself. Running it again sends the same ids: every transfer is answered
 * EXISTS and nothing moves twice.
 */
public class PayOnce {
    public static void main(String[] args) throws Exception {
        String merchant = args.length > 0 ? args[0] : "shop-1";
        Path pki = Path.of(".ledger/pki");
        try (LedgerClient client = LedgerClient.builder().address("127.0.0.1", 7400)
                .trustCa(pki.resolve("ca.crt"))
                .clientCertificate(pki.resolve("merchant-" + merchant + ".crt"), pki.resolve("merchant-" + merchant + ".key"))
                .build()) {
            String customer = merchant + ":customer-1";
            String settlement = merchant + ":settlement";
            client.createAccounts(CreateAccountsRequest.newBuilder()
                    .addAccounts(Account.newBuilder().setId(customer).setCurrency("EUR").setCode(1).setOwner(merchant))
                    .addAccounts(Account.newBuilder().setId(settlement).setCurrency("EUR").setCode(2).setOwner(merchant))
                    .build()).join().getResultsList()
                    .forEach(r -> System.out.println("account " + r.getId() + ": " + r.getStatus()));
            List<CompletableFuture<CreateTransferResult>> calls = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                calls.add(client.createTransfer(Transfer.newBuilder().setId(merchant + ":order-" + i)
                        .setDebitAccountId(customer).setCreditAccountId(settlement)
                        .setAmount(1999).setCurrency("EUR").setCode(1).build()));
            }
            long created = 0, exists = 0;
            for (CompletableFuture<CreateTransferResult> c : calls) {
                switch (c.join().getStatus()) {
                    case CREATE_TRANSFER_CREATED -> created++;
                    case CREATE_TRANSFER_EXISTS -> exists++;
                    default -> System.out.println("refused: " + c.join());
                }
            }
            System.out.println("1000 single-transfer calls: " + created + " created, " + exists + " already there; sent as "
                    + client.batchedRequests() + " CreateTransfers requests, " + client.retries() + " retries");
        }
    }
}
