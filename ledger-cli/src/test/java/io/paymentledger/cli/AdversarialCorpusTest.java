package io.paymentledger.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import com.google.protobuf.TextFormat;
import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.CreateApiKeyRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.GetAccountBalancesRequest;
import io.paymentledger.api.v1.GetAccountBalancesResponse;
import io.paymentledger.api.v1.GetAccountTransfersRequest;
import io.paymentledger.api.v1.GetAccountTransfersResponse;
import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.GetPaymentRequest;
import io.paymentledger.api.v1.ListApiKeysRequest;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.LookupTransfersResponse;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.RevokeApiKeyRequest;
import io.paymentledger.api.v1.RevokeApiKeyResponse;
import io.paymentledger.api.v1.SwitchoverRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.TransferFlags;
import io.paymentledger.api.v1.VoidRequest;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.ledger.journal.JournalVerifier;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcStatus;
import java.io.ByteArrayOutputStream;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The adversarial corpus (issue #9): generated requests of a merchant ("mallory") against another ("victim"),
 * through the region router and directly to the leading node, on one real deployment. For every request: a
 * specific refusal, the same answer as for ids that do not exist (no oracle), and nothing changed in the
 * ledger (balances, transfers, holds, payments and journal head identical before and after, and
 * {@code ./ledger verify}'s replay sound). Meanwhile the victim calls the router all along and the leader's
 * health check answers: their latencies are printed and asserted loosely (no call fails or times out).
 */
class AdversarialCorpusTest {

    static final String MALLORY = "mallory";
    static final String VICTIM = "victim";
    static final long CALL_TIMEOUT_MS = 20_000;
    /** Random well-formed API keys sent through the router, and how many at once. */
    static final int RANDOM_KEYS = 3_000;
    static final int RANDOM_KEYS_IN_FLIGHT = 300;
    static final int RANDOM_KEY_CONNECTIONS = 4;
    static final int SLOW_CLIENTS = 20;

    static LocalDeployment d;
    static DeploymentSecurity security;
    static Clients mallory;
    static Clients victim;
    static Clients operator;
    static String run;
    static String bank, mMain, mOther, vMain, vOther, vTransfer, vHold, vPayment, vCapture, mPayment;
    static String victimKey;

    @BeforeAll
    static void up() throws Exception {
        d = io.paymentledger.cli.support.SharedDeployment.get();
        security = d.security();
        mallory = Clients.tls(security, security.merchant(MALLORY));
        victim = Clients.tls(security, security.merchant(VICTIM));
        operator = Clients.operator(d.topology());
        run = Long.toHexString(System.nanoTime());
        bank = "bank-" + run;
        mMain = "m-main-" + run;
        mOther = "m-other-" + run;
        vMain = "v-main-" + run;
        vOther = "v-other-" + run;
        vTransfer = "v-t-" + run;
        vHold = "v-hold-" + run;
        vPayment = "v-pay-" + run;
        vCapture = "v-cap-" + run;
        mPayment = "m-pay-" + run;
        SocketAddress leader = leader();
        expectOk(call(operator, leader, "ledger.v1.LedgerService/CreateAccounts", CreateAccountsRequest.newBuilder()
                .addAccounts(account(bank, "")).addAccounts(account(mMain, MALLORY)).addAccounts(account(mOther, MALLORY))
                .addAccounts(account(vMain, VICTIM)).addAccounts(account(vOther, VICTIM)).build(), Map.of()));
        expectOk(call(operator, leader, "ledger.v1.LedgerService/CreateTransfers", CreateTransfersRequest.newBuilder()
                .addTransfers(transfer("f1-" + run, bank, mMain, 1_000)).addTransfers(transfer("f2-" + run, bank, vMain, 1_000)).build(), Map.of()));
        CreateTransfersResponse vt = parse(CreateTransfersResponse.parser(), call(victim, router(), "ledger.v1.LedgerService/CreateTransfers",
                CreateTransfersRequest.newBuilder().addTransfers(transfer(vTransfer, vMain, vOther, 10))
                        .addTransfers(transfer(vHold, vMain, vOther, 20).toBuilder().setFlags(TransferFlags.newBuilder().setPending(true))
                                .setTimeoutSeconds(3600)).build(), Map.of()));
        assertThat(vt.getResultsList()).allMatch(r -> r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(payment(victim, "Authorize", AuthorizeRequest.newBuilder().setPaymentId(vPayment).setPayerAccountId(vMain)
                .setMerchantAccountId(vOther).setAmount(100).setCurrency("EUR").setExpiresInSeconds(3600).build()).getResult())
                .isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(payment(victim, "Capture", CaptureRequest.newBuilder().setPaymentId(vPayment).setCaptureId(vCapture).setAmount(10).build())
                .getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(payment(mallory, "Authorize", AuthorizeRequest.newBuilder().setPaymentId(mPayment).setPayerAccountId(mMain)
                .setMerchantAccountId(mOther).setAmount(100).setCurrency("EUR").setExpiresInSeconds(3600).build()).getResult())
                .isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        victimKey = NodeServiceGrpcClient.create(operator.grpc(), leader)
                .createApiKey(CreateApiKeyRequest.newBuilder().setMerchantId(VICTIM).build()).await(10, TimeUnit.SECONDS).getApiKey();
    }

    @AfterAll
    static void destroy() {
        for (Clients c : new Clients[] {mallory, victim, operator}) {
            if (c != null) {
                c.close();
            }
        }
        io.paymentledger.cli.support.SharedDeployment.release(AdversarialCorpusTest.class);
    }

    // ------------------------------------------------------------------ the corpus

    /** One generated request: a method, its bytes, and the twin that names ids that do not exist (or null). */
    record Probe(String name, String method, Buffer bytes, Buffer twin, Parser<? extends Message> response,
            String victimId, String missingId) {}

    @Test
    void everyCrossTenantAndMalformedRequestIsRefusedChangesNothingAndOthersKeepAnswering() throws Exception {
        List<Probe> corpus = generate();
        String before = digest();
        Observer observer = Observer.start();
        int sent = 0;
        List<String> problems = new ArrayList<>();
        Map<String, Integer> outcomes = new LinkedHashMap<>();
        try {
            for (SocketAddress to : List.of(router(), leader())) {
                String where = to.port() == d.topology().routerPort() ? "router" : "node";
                for (Map<String, String> headers : List.of(Map.<String, String>of(),
                        Map.of("x-merchant-id", VICTIM, "x-ledger-merchant", VICTIM, "x-request-id", "forged-" + VICTIM))) {
                    for (Probe p : corpus) {
                        Reply r = raw(mallory, to, p.method(), p.bytes(), headers);
                        sent++;
                        String outcome = judge(p, r);
                        outcomes.merge(where + " " + outcome, 1, Integer::sum);
                        if (outcome.startsWith("ACCEPTED") || outcome.startsWith("UNSPECIFIC")) {
                            problems.add(where + " " + p.name() + " " + headers.keySet() + ": " + outcome);
                        }
                        if (p.twin() != null && headers.isEmpty()) {
                            Reply twin = raw(mallory, to, p.method(), p.twin(), headers);
                            sent++;
                            if (!render(p, r).equals(render(p, twin).replace(p.missingId(), p.victimId()))) {
                                problems.add(where + " " + p.name() + ": told apart from a missing id: " + render(p, r)
                                        + " vs " + render(p, twin));
                            }
                        }
                    }
                }
                sent += wireLevel(to, where, problems, outcomes);
            }
            sent += randomApiKeys(problems, outcomes);
            sent += slowClients(problems, outcomes);
        } finally {
            observer.stop();
        }
        System.out.println("CORPUS " + sent + " requests; outcomes " + outcomes);
        System.out.println("CORPUS victim calls " + observer.victimCalls.summary() + "; leader health checks " + observer.healthChecks.summary());
        assertThat(problems).as("requests that were accepted, unspecific, or told apart from missing ids").isEmpty();
        assertThat(sent).isGreaterThanOrEqualTo(200);
        assertThat(digest()).as("balances, transfers, holds, payments and the journal head unchanged").isEqualTo(before);
        try (Connection c = d.postgres(d.awaitLeader(Duration.ofSeconds(10)).getRegion()).connect("ledger", 600)) {
            JournalVerifier.Report report = new JournalVerifier(null).verify(c);
            assertThat(report.sound()).as("journal replay: " + report).isTrue();
        }
        assertThat(observer.victimCalls.failures).as("the victim's calls during the corpus").isEmpty();
        assertThat(observer.victimCalls.count()).isGreaterThan(10);
        assertThat(observer.healthChecks.failures).as("the leader's health checks during the corpus").isEmpty();
    }

    static List<Probe> generate() {
        List<Probe> out = new ArrayList<>();
        List<String> victimAccounts = List.of(vMain, vOther);
        List<String> victimIds = List.of(vTransfer, vHold, vPayment, vCapture);
        int[] n = {0};
        UnaryOperator<String> fresh = prefix -> prefix + "-" + run + "-" + (n[0]++);
        // LedgerService.CreateAccounts: another's id, another's owner, a platform account, a grant.
        for (String v : victimAccounts) {
            out.add(probe("CreateAccounts id=" + v, "ledger.v1.LedgerService/CreateAccounts",
                    CreateAccountsRequest.newBuilder().addAccounts(account(v, MALLORY)).build(), null, CreateAccountsResponse.parser(), v, null));
        }
        out.add(probe("CreateAccounts owner=victim", "ledger.v1.LedgerService/CreateAccounts",
                CreateAccountsRequest.newBuilder().addAccounts(account(fresh.apply("acc"), VICTIM)).build(), null, CreateAccountsResponse.parser(), "", null));
        out.add(probe("CreateAccounts platform+grant", "ledger.v1.LedgerService/CreateAccounts",
                CreateAccountsRequest.newBuilder().addAccounts(account(fresh.apply("acc"), "").toBuilder().addGrantedMerchants(MALLORY)).build(),
                null, CreateAccountsResponse.parser(), "", null));
        // CreateTransfers: the victim's account on either side, plain, pending and in a linked chain.
        for (String v : victimAccounts) {
            String missing = fresh.apply("missing");
            for (boolean pending : new boolean[] {false, true}) {
                for (boolean debit : new boolean[] {true, false}) {
                    String id = fresh.apply("t");
                    Transfer t = debit ? transfer(id, v, mMain, 5) : transfer(id, mMain, v, 5);
                    Transfer twin = debit ? transfer(id, missing, mMain, 5) : transfer(id, mMain, missing, 5);
                    if (pending) {
                        t = t.toBuilder().setFlags(TransferFlags.newBuilder().setPending(true)).setTimeoutSeconds(60).build();
                        twin = twin.toBuilder().setFlags(TransferFlags.newBuilder().setPending(true)).setTimeoutSeconds(60).build();
                    }
                    out.add(probe("CreateTransfers " + (debit ? "debit=" : "credit=") + v + (pending ? " pending" : ""),
                            "ledger.v1.LedgerService/CreateTransfers", CreateTransfersRequest.newBuilder().addTransfers(t).build(),
                            CreateTransfersRequest.newBuilder().addTransfers(twin).build(), CreateTransfersResponse.parser(), v, missing));
                }
            }
            String a = fresh.apply("chain");
            String b = fresh.apply("chain");
            Transfer first = transfer(a, mMain, mOther, 1).toBuilder().setFlags(TransferFlags.newBuilder().setLinked(true)).build();
            out.add(probe("CreateTransfers linked chain via " + v, "ledger.v1.LedgerService/CreateTransfers",
                    CreateTransfersRequest.newBuilder().addTransfers(first).addTransfers(transfer(b, v, mMain, 1)).build(),
                    CreateTransfersRequest.newBuilder().addTransfers(first).addTransfers(transfer(b, missing, mMain, 1)).build(),
                    CreateTransfersResponse.parser(), v, missing));
        }
        for (String v : victimIds) {
            // The victim's ids as this merchant's own transfer ids (EXISTS replays), and as pending ids to post / void.
            out.add(probe("CreateTransfers id=" + v, "ledger.v1.LedgerService/CreateTransfers",
                    CreateTransfersRequest.newBuilder().addTransfers(transfer(v, mMain, mOther, 1)).build(), null,
                    CreateTransfersResponse.parser(), v, null));
            String missing = fresh.apply("missing");
            for (boolean post : new boolean[] {true, false}) {
                String id = fresh.apply("resolve");
                out.add(probe("CreateTransfers " + (post ? "post" : "void") + " pending_id=" + v, "ledger.v1.LedgerService/CreateTransfers",
                        CreateTransfersRequest.newBuilder().addTransfers(resolve(id, v, post)).build(),
                        CreateTransfersRequest.newBuilder().addTransfers(resolve(id, missing, post)).build(),
                        CreateTransfersResponse.parser(), v, missing));
            }
        }
        out.add(probe("CreateTransfers exact replay of the victim's transfer", "ledger.v1.LedgerService/CreateTransfers",
                CreateTransfersRequest.newBuilder().addTransfers(transfer(vTransfer, vMain, vOther, 10)).build(), null,
                CreateTransfersResponse.parser(), vTransfer, null));
        // Reads.
        for (String v : List.of(vMain, vOther)) {
            String missing = fresh.apply("missing");
            out.add(probe("LookupAccounts " + v, "ledger.v1.LedgerService/LookupAccounts", LookupAccountsRequest.newBuilder().addIds(v).build(),
                    LookupAccountsRequest.newBuilder().addIds(missing).build(), LookupAccountsResponse.parser(), v, missing));
            out.add(probe("GetAccountTransfers " + v, "ledger.v1.LedgerService/GetAccountTransfers",
                    GetAccountTransfersRequest.newBuilder().setAccountId(v).setReversed(true).build(),
                    GetAccountTransfersRequest.newBuilder().setAccountId(missing).setReversed(true).build(),
                    GetAccountTransfersResponse.parser(), v, missing));
            out.add(probe("GetAccountBalances " + v, "ledger.v1.LedgerService/GetAccountBalances",
                    GetAccountBalancesRequest.newBuilder().setAccountId(v).build(),
                    GetAccountBalancesRequest.newBuilder().setAccountId(missing).build(), GetAccountBalancesResponse.parser(), v, missing));
            out.add(probe("GetAccountBalances at " + v, "ledger.v1.LedgerService/GetAccountBalances",
                    GetAccountBalancesRequest.newBuilder().setAccountId(v).setAtTimestampNs(Long.MAX_VALUE).build(),
                    GetAccountBalancesRequest.newBuilder().setAccountId(missing).setAtTimestampNs(Long.MAX_VALUE).build(),
                    GetAccountBalancesResponse.parser(), v, missing));
        }
        for (String v : List.of(vTransfer, vHold, vPayment, vCapture, vHold + "#expired")) {
            String missing = fresh.apply("missing");
            out.add(probe("LookupTransfers " + v, "ledger.v1.LedgerService/LookupTransfers", LookupTransfersRequest.newBuilder().addIds(v).build(),
                    LookupTransfersRequest.newBuilder().addIds(missing).build(), LookupTransfersResponse.parser(), v, missing));
        }
        // PaymentsService: the victim's accounts as payer or merchant, its payment, its ids as call ids.
        for (String v : victimAccounts) {
            String missing = fresh.apply("missing");
            String pay = fresh.apply("pay");
            out.add(probe("Authorize payer=" + v, "ledger.v1.PaymentsService/Authorize", authorize(pay, v, mMain),
                    authorize(pay, missing, mMain), PaymentResponse.parser(), v, missing));
            out.add(probe("Authorize merchant=" + v, "ledger.v1.PaymentsService/Authorize", authorize(pay, mMain, v),
                    authorize(pay, mMain, missing), PaymentResponse.parser(), v, missing));
        }
        for (String v : victimIds) {
            out.add(probe("Authorize payment_id=" + v, "ledger.v1.PaymentsService/Authorize", authorize(v, mMain, mOther), null,
                    PaymentResponse.parser(), v, null));
            out.add(probe("Capture capture_id=" + v, "ledger.v1.PaymentsService/Capture",
                    CaptureRequest.newBuilder().setPaymentId(mPayment).setCaptureId(v).setAmount(1).build(), null, PaymentResponse.parser(), v, null));
            out.add(probe("Refund refund_id=" + v, "ledger.v1.PaymentsService/Refund",
                    RefundRequest.newBuilder().setPaymentId(mPayment).setRefundId(v).setAmount(1).build(), null, PaymentResponse.parser(), v, null));
        }
        String missingPayment = fresh.apply("missing");
        String call = fresh.apply("call");
        out.add(probe("Capture payment_id=victim's", "ledger.v1.PaymentsService/Capture",
                CaptureRequest.newBuilder().setPaymentId(vPayment).setCaptureId(call).setAmount(1).build(),
                CaptureRequest.newBuilder().setPaymentId(missingPayment).setCaptureId(call).setAmount(1).build(), PaymentResponse.parser(), vPayment, missingPayment));
        out.add(probe("VoidPayment payment_id=victim's", "ledger.v1.PaymentsService/VoidPayment",
                VoidRequest.newBuilder().setPaymentId(vPayment).setVoidId(call).build(),
                VoidRequest.newBuilder().setPaymentId(missingPayment).setVoidId(call).build(), PaymentResponse.parser(), vPayment, missingPayment));
        out.add(probe("Refund payment_id=victim's", "ledger.v1.PaymentsService/Refund",
                RefundRequest.newBuilder().setPaymentId(vPayment).setRefundId(call).setAmount(1).build(),
                RefundRequest.newBuilder().setPaymentId(missingPayment).setRefundId(call).setAmount(1).build(), PaymentResponse.parser(), vPayment, missingPayment));
        out.add(probe("GetPayment victim's", "ledger.v1.PaymentsService/GetPayment", GetPaymentRequest.newBuilder().setPaymentId(vPayment).build(),
                GetPaymentRequest.newBuilder().setPaymentId(missingPayment).build(), PaymentResponse.parser(), vPayment, missingPayment));
        // NodeService is the operator's.
        out.add(probe("GetNodeStatus", "ledger.v1.NodeService/GetNodeStatus", GetNodeStatusRequest.getDefaultInstance(), null, NodeStatus.parser(), "", null));
        out.add(probe("ListApiKeys", "ledger.v1.NodeService/ListApiKeys", ListApiKeysRequest.newBuilder().setMerchantId(VICTIM).build(), null,
                NodeStatus.parser(), "", null));
        out.add(probe("CreateApiKey", "ledger.v1.NodeService/CreateApiKey", CreateApiKeyRequest.newBuilder().setMerchantId(VICTIM).build(), null,
                NodeStatus.parser(), "", null));
        out.add(probe("RevokeApiKey", "ledger.v1.NodeService/RevokeApiKey", RevokeApiKeyRequest.newBuilder().setKeyId("0123456789abcdef").build(), null,
                RevokeApiKeyResponse.parser(), "", null));
        out.add(probe("Switchover", "ledger.v1.NodeService/Switchover", SwitchoverRequest.newBuilder().setToRegion("b").build(), null,
                NodeStatus.parser(), "", null));
        // Wire tricks on top of cross-tenant requests: an unknown field, and a duplicated field whose last value wins.
        String missing = fresh.apply("missing");
        out.add(new Probe("LookupAccounts + unknown field", "ledger.v1.LedgerService/LookupAccounts",
                withUnknownField(LookupAccountsRequest.newBuilder().addIds(vMain).build()),
                withUnknownField(LookupAccountsRequest.newBuilder().addIds(missing).build()), LookupAccountsResponse.parser(), vMain, missing));
        out.add(new Probe("GetAccountTransfers account_id twice (own, then victim's)", "ledger.v1.LedgerService/GetAccountTransfers",
                concat(GetAccountTransfersRequest.newBuilder().setAccountId(mMain).build(), GetAccountTransfersRequest.newBuilder().setAccountId(vMain).build()),
                concat(GetAccountTransfersRequest.newBuilder().setAccountId(mMain).build(), GetAccountTransfersRequest.newBuilder().setAccountId(missing).build()),
                GetAccountTransfersResponse.parser(), vMain, missing));
        out.add(new Probe("GetPayment payment_id twice (own, then victim's)", "ledger.v1.PaymentsService/GetPayment",
                concat(GetPaymentRequest.newBuilder().setPaymentId(mPayment).build(), GetPaymentRequest.newBuilder().setPaymentId(vPayment).build()),
                concat(GetPaymentRequest.newBuilder().setPaymentId(mPayment).build(), GetPaymentRequest.newBuilder().setPaymentId(missing).build()),
                PaymentResponse.parser(), vPayment, missing));
        String pay = fresh.apply("pay");
        out.add(new Probe("Authorize payer twice (own, then victim's) + unknown field", "ledger.v1.PaymentsService/Authorize",
                withUnknownField(concat(authorize(pay, mMain, mOther), AuthorizeRequest.newBuilder().setPayerAccountId(vMain).build())),
                withUnknownField(concat(authorize(pay, mMain, mOther), AuthorizeRequest.newBuilder().setPayerAccountId(missing).build())),
                PaymentResponse.parser(), vMain, missing));
        return out;
    }

    /** Malformed at the wire: each a specific error, never a crash or an answer. */
    int wireLevel(SocketAddress to, String where, List<String> problems, Map<String, Integer> outcomes) throws Exception {
        int sent = 0;
        Buffer good = Buffer.buffer(GetAccountTransfersRequest.newBuilder().setAccountId(mMain).build().toByteArray());
        Map<String, Buffer> bodies = new LinkedHashMap<>();
        bodies.put("truncated protobuf", good.getBuffer(0, good.length() - 3));
        bodies.put("invalid UTF-8 in a string", Buffer.buffer(new byte[] {0x0a, 0x02, (byte) 0xc3, 0x28}));
        bodies.put("page token of 1 MiB", Buffer.buffer(GetAccountTransfersRequest.newBuilder().setAccountId(mMain)
                .setPageToken("A".repeat(1 << 20)).build().toByteArray()));
        bodies.put("page token of another account", Buffer.buffer(GetAccountTransfersRequest.newBuilder().setAccountId(mMain)
                .setPageToken(Base64.getUrlEncoder().withoutPadding().encodeToString("after:1:000000000000".getBytes())).build().toByteArray()));
        for (var e : bodies.entrySet()) {
            Reply r = raw(mallory, to, "ledger.v1.LedgerService/GetAccountTransfers", e.getValue(), Map.of());
            sent++;
            record(where, e.getKey(), r.status(), Set.of(GrpcStatus.INVALID_ARGUMENT), problems, outcomes);
        }
        Reply big = raw(mallory, to, "ledger.v1.LedgerService/LookupAccounts",
                Buffer.buffer(LookupAccountsRequest.newBuilder().addIds(vMain).build().toByteArray()), Map.of("x-pad", "p".repeat(64 * 1024)));
        sent++;
        // Refused by HTTP/2 itself: router and nodes advertise SETTINGS_MAX_HEADER_LIST_SIZE 8192, so the headers are
        // refused before any gRPC handler (here already by the compliant client; a non-compliant one gets its stream
        // reset). Nothing of the ledger runs.
        String bigOutcome = big.status() != null ? String.valueOf(big.status()) : String.valueOf(big.message());
        outcomes.merge(where + " metadata of 64 KiB -> " + bigOutcome.replaceAll("\\s+", " "), 1, Integer::sum);
        if (big.status() != null || !(bigOutcome.contains("Header size exceeded") || bigOutcome.contains("Reset"))) {
            problems.add(where + " metadata of 64 KiB: " + bigOutcome);
        }
        // Just under the limit: an ordinary request, refused for what it asks (another's account), nothing more.
        Reply padded = raw(mallory, to, "ledger.v1.LedgerService/LookupAccounts",
                Buffer.buffer(LookupAccountsRequest.newBuilder().addIds(vMain).build().toByteArray()), Map.of("x-pad", "p".repeat(6 * 1024)));
        sent++;
        String paddedOutcome = padded.status() == GrpcStatus.OK
                ? parse(LookupAccountsResponse.parser(), padded).getResults(0).getStatus().name() : String.valueOf(padded.status());
        outcomes.merge(where + " metadata of 6 KiB -> " + paddedOutcome, 1, Integer::sum);
        if (!paddedOutcome.equals("LOOKUP_NOT_FOUND")) {
            problems.add(where + " metadata of 6 KiB: " + paddedOutcome);
        }
        // A gRPC frame whose length prefix promises more bytes than ever come.
        HttpClient http = mallory.vertx().createHttpClient(new HttpClientOptions(Tls.clientOptions(security.merchant(MALLORY).certFile(),
                security.merchant(MALLORY).keyFile(), security.caFile())));
        try {
            Buffer frame = Buffer.buffer().appendByte((byte) 0).appendInt(1000).appendBytes(new byte[10]);
            String status = http.request(new RequestOptions().setMethod(HttpMethod.POST).setServer(to)
                            .setURI("/ledger.v1.LedgerService/LookupAccounts").putHeader("content-type", "application/grpc")
                            .putHeader("te", "trailers").putHeader("grpc-timeout", "5S"))
                    .compose(req -> req.send(frame)).compose(resp -> resp.end().map(v -> {
                        String s = resp.getTrailer("grpc-status");
                        return s != null ? s : resp.getHeader("grpc-status");
                    })).recover(err -> Future.succeededFuture("reset: " + err.getMessage())).await(30, TimeUnit.SECONDS);
            sent++;
            outcomes.merge(where + " truncated frame -> grpc-status " + status, 1, Integer::sum);
            if ("0".equals(status)) {
                problems.add(where + " truncated frame was answered OK");
            }
        } finally {
            http.close().await();
        }
        return sent;
    }

    /** Thousands of random, well-formed API keys naming the victim, through the router. */
    int randomApiKeys(List<String> problems, Map<String, Integer> outcomes) throws Exception {
        SecureRandom random = new SecureRandom();
        HexFormat hex = HexFormat.of();
        // Several connections, so that more calls are in flight than one HTTP/2 connection's stream limit.
        List<Clients> connections = new ArrayList<>();
        for (int i = 0; i < RANDOM_KEY_CONNECTIONS; i++) {
            connections.add(new Clients(Tls.clientOptions(null, null, security.caFile())));
        }
        try {
            List<Future<Reply>> inFlight = new ArrayList<>();
            Map<GrpcStatus, Integer> seen = new LinkedHashMap<>();
            for (int i = 0; i < RANDOM_KEYS; i++) {
                byte[] id = new byte[8];
                byte[] secret = new byte[32];
                random.nextBytes(id);
                random.nextBytes(secret);
                String key = "lk_" + VICTIM + "_" + hex.formatHex(id) + "_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
                inFlight.add(rawAsync(connections.get(i % RANDOM_KEY_CONNECTIONS), router(), "ledger.v1.LedgerService/LookupAccounts",
                        Buffer.buffer(LookupAccountsRequest.newBuilder().addIds(vMain).build().toByteArray()), Map.of("authorization", "Bearer " + key)));
                if (inFlight.size() >= RANDOM_KEYS_IN_FLIGHT) {
                    drain(inFlight, seen);
                }
            }
            drain(inFlight, seen);
            seen.forEach((s, c) -> outcomes.merge("router random API key -> " + s, c, Integer::sum));
            for (GrpcStatus s : seen.keySet()) {
                if (s != GrpcStatus.UNAUTHENTICATED && s != GrpcStatus.RESOURCE_EXHAUSTED) {
                    problems.add("a random API key got " + s);
                }
            }
        } finally {
            connections.forEach(Clients::close);
        }
        // The victim's real key still works through the router, with the victim's own budget.
        Reply own;
        try (Clients withKey = new Clients(Tls.clientOptions(null, null, security.caFile()))) {
            own = raw(withKey, router(), "ledger.v1.LedgerService/LookupAccounts",
                    Buffer.buffer(LookupAccountsRequest.newBuilder().addIds(vMain).build().toByteArray()), Map.of("authorization", "Bearer " + victimKey));
        }
        if (own.status() != GrpcStatus.OK || parse(LookupAccountsResponse.parser(), own).getResults(0).getStatus() != LookupStatus.LOOKUP_FOUND) {
            problems.add("the victim's own API key failed after the flood: " + own.status() + " " + own.message());
        }
        return RANDOM_KEYS + 1;
    }

    /** Clients that send headers and part of a frame, then nothing: they end by their deadline, nobody waits on them. */
    int slowClients(List<String> problems, Map<String, Integer> outcomes) throws Exception {
        int sent = 0;
        HttpClient http = mallory.vertx().createHttpClient(new HttpClientOptions(Tls.clientOptions(security.merchant(MALLORY).certFile(),
                security.merchant(MALLORY).keyFile(), security.caFile())));
        try {
            List<Future<String>> calls = new ArrayList<>();
            for (int i = 0; i < SLOW_CLIENTS; i++) {
                SocketAddress to = i % 2 == 0 ? router() : leader();
                calls.add(http.request(new RequestOptions().setMethod(HttpMethod.POST).setServer(to)
                                .setURI("/ledger.v1.LedgerService/CreateTransfers").putHeader("content-type", "application/grpc")
                                .putHeader("te", "trailers").putHeader("grpc-timeout", "2S"))
                        .compose(req -> {
                            req.setChunked(true);
                            req.write(Buffer.buffer().appendByte((byte) 0).appendInt(64).appendBytes(new byte[3]));
                            return req.response();
                        }).compose(resp -> resp.end().map(v -> {
                            String s = resp.getTrailer("grpc-status");
                            return s != null ? s : String.valueOf(resp.getHeader("grpc-status"));
                        })).recover(err -> Future.succeededFuture("reset")));
                sent++;
            }
            for (Future<String> f : calls) {
                String status = f.await(30, TimeUnit.SECONDS);
                outcomes.merge("slow client -> grpc-status " + status, 1, Integer::sum);
                if ("0".equals(status)) {
                    problems.add("a slow client's half-sent write was answered OK");
                }
            }
        } finally {
            http.close().await();
        }
        return sent;
    }

    static void drain(List<Future<Reply>> inFlight, Map<GrpcStatus, Integer> seen) throws Exception {
        for (Future<Reply> f : inFlight) {
            Reply r = f.await(60, TimeUnit.SECONDS);
            seen.merge(r.status() == null ? GrpcStatus.UNKNOWN : r.status(), 1, Integer::sum);
        }
        inFlight.clear();
    }

    static void record(String where, String what, GrpcStatus status, Set<GrpcStatus> specific, List<String> problems,
            Map<String, Integer> outcomes) {
        outcomes.merge(where + " " + what + " -> " + status, 1, Integer::sum);
        if (status == null || !specific.contains(status)) {
            problems.add(where + " " + what + ": " + status + " (expected one of " + specific + ")");
        }
    }

    /**
     * What a probe got: REFUSED (a specific per-call or per-item refusal), ACCEPTED (something was written or read
     * that is not the caller's), or UNSPECIFIC (UNKNOWN, INTERNAL, no status).
     */
    static String judge(Probe p, Reply r) throws Exception {
        if (r.status() == null || r.status() == GrpcStatus.UNKNOWN || r.status() == GrpcStatus.INTERNAL) {
            return "UNSPECIFIC " + r.status() + " " + r.message();
        }
        if (r.status() != GrpcStatus.OK) {
            return Set.of(GrpcStatus.NOT_FOUND, GrpcStatus.PERMISSION_DENIED, GrpcStatus.INVALID_ARGUMENT).contains(r.status())
                    ? "REFUSED " + r.status() : "UNSPECIFIC " + r.status() + " " + r.message();
        }
        if (r.body() == null) {
            return "UNSPECIFIC OK without a response message";
        }
        Message m = p.response().parseFrom(r.body().getBytes());
        List<String> codes = new ArrayList<>();
        switch (m) {
            case CreateTransfersResponse t -> t.getResultsList().forEach(x -> codes.add(x.getStatus().name()));
            case CreateAccountsResponse a -> a.getResultsList().forEach(x -> codes.add(x.getStatus().name()));
            case LookupAccountsResponse l -> l.getResultsList().forEach(x -> codes.add(x.getStatus().name()));
            case LookupTransfersResponse l -> l.getResultsList().forEach(x -> codes.add(x.getStatus().name()));
            case PaymentResponse pr -> codes.add(pr.getResult().name() + (pr.hasPayment() ? "+payment" : ""));
            default -> codes.add("OK " + m.getClass().getSimpleName());
        }
        boolean accepted = codes.stream().anyMatch(c -> c.endsWith("_CREATED") || c.endsWith("_EXISTS") || c.equals("LOOKUP_FOUND")
                || c.startsWith("PAYMENT_RESULT_OK") || c.startsWith("PAYMENT_RESULT_EXISTS") || c.contains("+payment") || c.startsWith("OK ")
                || c.endsWith("UNSPECIFIED"));
        return (accepted ? "ACCEPTED " : "REFUSED ") + String.join(",", codes);
    }

    static String render(Probe p, Reply r) throws Exception {
        String body = r.status() == GrpcStatus.OK ? TextFormat.shortDebugString(p.response().parseFrom(r.body().getBytes())) : "";
        return r.status() + " " + (r.message() == null ? "" : r.message()) + " " + body;
    }

    // ------------------------------------------------------------------ the victim and the leader meanwhile

    /** Calls that keep going during the corpus: the victim through the router, the leader's health check. */
    static final class Observer {
        final Latencies victimCalls = new Latencies();
        final Latencies healthChecks = new Latencies();
        final AtomicBoolean stop = new AtomicBoolean();
        final List<Thread> threads = new ArrayList<>();

        static Observer start() {
            Observer o = new Observer();
            o.threads.add(Thread.ofVirtual().start(() -> o.loop(o.victimCalls, () -> {
                Reply r = raw(victim, router(), "ledger.v1.LedgerService/LookupAccounts",
                        Buffer.buffer(LookupAccountsRequest.newBuilder().addIds(vMain).build().toByteArray()), Map.of());
                return r.status() == GrpcStatus.OK ? null : r.status() + " " + r.message();
            })));
            int leaderPort = leader().port();
            o.threads.add(Thread.ofVirtual().start(() -> o.loop(o.healthChecks, () -> operator.serving(leaderPort) ? null
                    : "not SERVING within 2 s")));
            return o;
        }

        void loop(Latencies into, java.util.concurrent.Callable<String> call) {
            while (!stop.get()) {
                long start = System.nanoTime();
                String failure;
                try {
                    failure = call.call();
                } catch (Exception e) {
                    failure = e.toString();
                }
                into.add(System.nanoTime() - start, failure);
                LocalDeployment.sleep(50);
            }
        }

        void stop() throws InterruptedException {
            stop.set(true);
            for (Thread t : threads) {
                t.join(30_000);
            }
        }
    }

    static final class Latencies {
        final ConcurrentLinkedQueue<Long> nanos = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();

        void add(long n, String failure) {
            nanos.add(n);
            if (failure != null) {
                failures.add(failure);
            }
        }

        int count() {
            return nanos.size();
        }

        String summary() {
            List<Long> sorted = nanos.stream().sorted().toList();
            if (sorted.isEmpty()) {
                return "none";
            }
            return sorted.size() + " calls, p50 " + ms(sorted.get(sorted.size() / 2)) + " ms, p99 "
                    + ms(sorted.get(Math.min(sorted.size() - 1, sorted.size() * 99 / 100))) + " ms, max " + ms(sorted.getLast())
                    + " ms, failures " + failures.size();
        }

        static String ms(long nanos) {
            return String.format("%.1f", nanos / 1e6);
        }
    }

    // ------------------------------------------------------------------ plumbing

    record Reply(GrpcStatus status, String message, Buffer body) {}

    static Probe probe(String name, String method, Message request, Message twin, Parser<? extends Message> response, String victimId,
            String missingId) {
        return new Probe(name, method, Buffer.buffer(request.toByteArray()), twin == null ? null : Buffer.buffer(twin.toByteArray()),
                response, victimId, missingId);
    }

    static Buffer withUnknownField(Message m) {
        return withUnknownField(Buffer.buffer(m.toByteArray()));
    }

    static Buffer withUnknownField(Buffer b) {
        try {
            ByteArrayOutputStream extra = new ByteArrayOutputStream();
            CodedOutputStream out = CodedOutputStream.newInstance(extra);
            out.writeString(999, "not a field of this message");
            out.writeUInt64(1000, 42);
            out.flush();
            return b.copy().appendBytes(extra.toByteArray());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static Buffer concat(Message first, Message second) {
        return Buffer.buffer(first.toByteArray()).appendBytes(second.toByteArray());
    }

    static Reply call(Clients who, SocketAddress to, String method, Message request, Map<String, String> headers) {
        return raw(who, to, method, Buffer.buffer(request.toByteArray()), headers);
    }

    static Reply raw(Clients who, SocketAddress to, String method, Buffer body, Map<String, String> headers) {
        try {
            return rawAsync(who, to, method, body, headers).await(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            return new Reply(null, "no answer: " + e, null);
        }
    }

    static Future<Reply> rawAsync(Clients who, SocketAddress to, String method, Buffer body, Map<String, String> headers) {
        return who.grpc().request(to).compose((GrpcClientRequest<Buffer, Buffer> req) -> {
            req.fullMethodName(method);
            headers.forEach((k, v) -> req.headers().set(k, v));
            req.timeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            req.endMessage(GrpcMessage.message("identity", body));
            return req.response();
        }).compose((GrpcClientResponse<Buffer, Buffer> resp) -> {
            // last() collects the message however early it arrives (a handler set here could miss it).
            return resp.last().map(b -> new Reply(resp.status(), statusMessage(resp), b))
                    .recover(err -> Future.succeededFuture(new Reply(resp.status(), statusMessage(resp), null)));
        }).recover(err -> Future.succeededFuture(new Reply(null, err.toString(), null)));
    }

    /** The status message, also when it came in the trailers (Vert.x 5.0.7's statusMessage() does not read those). */
    static String statusMessage(GrpcClientResponse<?, ?> resp) {
        String m = resp.statusMessage();
        if (m == null && resp.trailers() != null) {
            m = resp.trailers().get("grpc-message");
        }
        return m == null ? null : java.net.URLDecoder.decode(m, java.nio.charset.StandardCharsets.UTF_8);
    }

    static <T extends Message> T parse(Parser<T> parser, Reply r) throws Exception {
        assertThat(r.status()).as(r.message()).isEqualTo(GrpcStatus.OK);
        return parser.parseFrom(r.body().getBytes());
    }

    static void expectOk(Reply r) {
        assertThat(r.status()).as(r.message()).isEqualTo(GrpcStatus.OK);
    }

    static PaymentResponse payment(Clients who, String method, Message request) throws Exception {
        return parse(PaymentResponse.parser(), call(who, router(), "ledger.v1.PaymentsService/" + method, request, Map.of()));
    }

    static AuthorizeRequest authorize(String paymentId, String payer, String merchant) {
        return AuthorizeRequest.newBuilder().setPaymentId(paymentId).setPayerAccountId(payer).setMerchantAccountId(merchant)
                .setAmount(5).setCurrency("EUR").setExpiresInSeconds(60).build();
    }

    static Transfer resolve(String id, String pendingId, boolean post) {
        return Transfer.newBuilder().setId(id).setPendingId(pendingId).setAmount(post ? 1 : 0).setCode(1)
                .setFlags(post ? TransferFlags.newBuilder().setPostPending(true) : TransferFlags.newBuilder().setVoidPending(true)).build();
    }

    static Account account(String id, String owner) {
        return Account.newBuilder().setId(id).setCurrency("EUR").setCode(1).setOwner(owner).build();
    }

    static Transfer transfer(String id, String debit, String credit, long amount) {
        return Transfer.newBuilder().setId(id).setDebitAccountId(debit).setCreditAccountId(credit).setAmount(amount)
                .setCurrency("EUR").setCode(1).build();
    }

    static SocketAddress router() {
        return Clients.loopback(d.topology().routerPort());
    }

    static SocketAddress leader() {
        return Clients.loopback(d.topology().region(d.awaitLeader(Duration.ofSeconds(30)).getRegion()).grpcPort());
    }

    /** Everything a write could change, read on the leader's database (superuser, TLS). */
    static String digest() throws Exception {
        try (Connection c = d.postgres(d.awaitLeader(Duration.ofSeconds(10)).getRegion()).connect("ledger", 60);
                Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                select md5(coalesce((select string_agg(id || ':' || debits_pending || ':' || debits_posted || ':' || credits_pending
                                     || ':' || credits_posted || ':' || coalesce(granted_merchants::text, ''), ',' order by id) from account), ''))
                    || '/' || (select count(*) from transfer) || '/' || (select count(*) from payment)
                    || '/' || md5(coalesce((select string_agg(id || ':' || remaining || ':' || state, ',' order by id) from pending_transfer), ''))
                    || '/' || md5(coalesce((select string_agg(id || ':' || captured_amount || ':' || released_amount || ':' || refunded_amount, ',' order by id) from payment), ''))
                    || '/' || md5(coalesce((select string_agg(key_id || ':' || coalesce(revoked_at::text, ''), ',' order by key_id) from api_key), ''))
                    || '/' || coalesce((select seq || ':' || encode(hash, 'hex') from journal_batch order by seq desc limit 1), 'empty')""")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
