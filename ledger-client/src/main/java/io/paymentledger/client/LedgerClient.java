package io.paymentledger.client;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.LookupTransfersResponse;
import io.paymentledger.api.v1.Transfer;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The merchants' Java client of the ledger (ledger.v1 over gRPC, TLS 1.3): mutual TLS or an API key, a deadline on
 * every attempt, retries with the SAME ids after UNAVAILABLE, RESOURCE_EXHAUSTED or a timeout (so a transfer is
 * applied exactly once end to end: a retry of one that was applied is answered EXISTS), and automatic batching:
 * concurrent {@link #createTransfer single-transfer calls} are packed into one {@code CreateTransfers} request per
 * free slot (TigerBeetle's idea), so a merchant sending one payment per call still gets the ledger's batch
 * throughput.
 *
 * <pre>{@code
 * try (LedgerClient client = LedgerClient.builder().address("127.0.0.1", 7400)
 *         .trustCa(Path.of(".ledger/pki/ca.crt"))
 *         .clientCertificate(Path.of("merchant-shop-1.crt"), Path.of("merchant-shop-1.key"))
 *         .build()) {
 *     CreateTransferResult r = client.createTransfer(Transfer.newBuilder().setId("order-4711")
 *             .setDebitAccountId("shop-1:customer-9").setCreditAccountId("shop-1:settlement")
 *             .setAmount(1999).setCurrency("EUR").setCode(1).build()).join();
 * }
 * }</pre>
 *
 * <p>Futures complete on the client's event loop: do not block inside their callbacks (use the *Async variants
 * of CompletableFuture for blocking work).
 */
public final class LedgerClient implements AutoCloseable {

    /** Statuses after which nothing was applied: retried at once (with backoff), the outcome is certain. */
    private static final Set<GrpcStatus> NOT_APPLIED = Set.of(GrpcStatus.RESOURCE_EXHAUSTED);
    /** Statuses worth another attempt with the same ids: the ledger or the way to it was busy or down. */
    private static final Set<GrpcStatus> RETRYABLE = Set.of(GrpcStatus.UNAVAILABLE, GrpcStatus.RESOURCE_EXHAUSTED,
            GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.CANCELLED);

    /**
     * Limits of one client, each with its unit.
     *
     * @param attemptTimeoutMs     deadline of one attempt (sent as grpc-timeout)
     * @param callTimeoutMs        a call (all its attempts and backoffs) gives up after this long
     * @param retryBackoffInitialMs first pause before a retry; doubles per attempt, jittered in [½, 1]
     * @param retryBackoffMaxMs    longest pause between attempts
     * @param batchTransfersMax    transfers per batched CreateTransfers request (the ledger takes at most 8,190)
     * @param batchesInFlightMax   batched requests in flight at once; single calls arriving meanwhile wait and
     *                             form the next batch
     * @param queuedTransfersMax   single calls waiting for a batch at most; beyond, a call fails RESOURCE_EXHAUSTED
     * @param connections          HTTP/2 connections to the address
     */
    public record Limits(long attemptTimeoutMs, long callTimeoutMs, long retryBackoffInitialMs, long retryBackoffMaxMs,
            int batchTransfersMax, int batchesInFlightMax, int queuedTransfersMax, int connections) {

        /** The ledger's largest request: 8,190 items. */
        public static final int LEDGER_REQUEST_ITEMS_MAX = 8190;

        public static Limits defaults() {
            return new Limits(10_000, 30_000, 20, 1_000, LEDGER_REQUEST_ITEMS_MAX, 4, 100_000, 1);
        }

        public Limits {
            if (attemptTimeoutMs < 1 || callTimeoutMs < attemptTimeoutMs || retryBackoffInitialMs < 1
                    || retryBackoffMaxMs < retryBackoffInitialMs || batchTransfersMax < 1
                    || batchTransfersMax > LEDGER_REQUEST_ITEMS_MAX || batchesInFlightMax < 1 || queuedTransfersMax < 1
                    || connections < 1 || connections > 64) {
                throw new IllegalArgumentException("ledger client limits out of range: " + this
                        + " (attempt <= call timeout, backoff initial <= max, 1 <= batch <= 8190, 1..64 connections)");
            }
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Where the ledger is and who calls it. Exactly one of a client certificate or an API key for TLS. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 7400;
        private Path caFile;
        private Path certFile;
        private Path keyFile;
        private String apiKey;
        private boolean plaintext;
        private Limits limits = Limits.defaults();

        public Builder address(String host, int port) {
            this.host = Objects.requireNonNull(host);
            this.port = port;
            return this;
        }

        /** The CA that signed the ledger's (router's) certificate, PEM. */
        public Builder trustCa(Path caFile) {
            this.caFile = caFile;
            return this;
        }

        /** Mutual TLS with this certificate and key (PEM): the certificate names the merchant. */
        public Builder clientCertificate(Path certFile, Path keyFile) {
            this.certFile = certFile;
            this.keyFile = keyFile;
            return this;
        }

        /** Authenticates with an API key ({@code authorization: Bearer <key>}) over server-authenticated TLS. */
        public Builder apiKey(String apiKey) {
            this.apiKey = apiKey;
            return this;
        }

        /** No TLS at all: only for a ledger node listening in plaintext on loopback in tests. */
        public Builder plaintextForTests() {
            this.plaintext = true;
            return this;
        }

        public Builder limits(Limits limits) {
            this.limits = Objects.requireNonNull(limits);
            return this;
        }

        public LedgerClient build() {
            HttpClientOptions http = new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
                    .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, limits.attemptTimeoutMs()));
            if (plaintext) {
                http.setHttp2ClearTextUpgrade(false);
            } else {
                if (caFile == null) {
                    throw new IllegalArgumentException("trustCa(ca.crt) is required for TLS (plaintextForTests() only in tests)");
                }
                if ((certFile == null) == (apiKey == null)) {
                    throw new IllegalArgumentException("give exactly one of clientCertificate(cert, key) or apiKey(key)");
                }
                // The same TLS as the ledger's own clients (security/Tls): TLS 1.3 only, host name verified.
                http.setSsl(true).setUseAlpn(true).setVerifyHost(true).setEnabledSecureTransportProtocols(Set.of("TLSv1.3"))
                        .setTrustOptions(new PemTrustOptions().addCertPath(caFile.toString()));
                if (certFile != null) {
                    http.setKeyCertOptions(new PemKeyCertOptions().setCertPath(certFile.toString()).setKeyPath(keyFile.toString()));
                }
            }
            return new LedgerClient(SocketAddress.inetSocketAddress(port, host), http, apiKey, limits);
        }
    }

    private final Vertx vertx;
    private final List<GrpcClient> connections = new ArrayList<>();
    private final SocketAddress target;
    private final String authorization;
    private final Limits limits;
    private final TransferBatcher batcher;
    private final AtomicLong nextConnection = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();

    private LedgerClient(SocketAddress target, HttpClientOptions http, String apiKey, Limits limits) {
        this.target = target;
        this.limits = limits;
        this.authorization = apiKey == null ? null : "Bearer " + apiKey;
        this.vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(
                Math.min(limits.connections(), Math.max(1, Runtime.getRuntime().availableProcessors()))));
        for (int i = 0; i < limits.connections(); i++) {
            // Each GrpcClient has its own HTTP/2 connection to the address.
            connections.add(GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(64 * 1024 * 1024),
                    new HttpClientOptions(http)));
        }
        this.batcher = new TransferBatcher(this, limits);
    }

    /**
     * One transfer, batched with the other single transfers in flight: its own result (index 0). Failures of the
     * whole batched request (after retries) fail this future with a {@link LedgerClientException}. A transfer may
     * not carry the LINKED flag here (it would chain into another caller's transfer): use
     * {@link #createTransfers} for chains.
     */
    public CompletableFuture<CreateTransferResult> createTransfer(Transfer transfer) {
        if (transfer.hasFlags() && transfer.getFlags().getLinked()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(
                    "transfer " + transfer.getId() + ": a single call cannot be LINKED; send the chain with createTransfers"));
        }
        return batcher.submit(transfer);
    }

    /** One CreateTransfers request as given (not batched with others), retried with the same ids. */
    public CompletableFuture<CreateTransfersResponse> createTransfers(CreateTransfersRequest request) {
        return call(LedgerServiceGrpcClient.CreateTransfers, request).toCompletionStage().toCompletableFuture();
    }

    public CompletableFuture<CreateAccountsResponse> createAccounts(CreateAccountsRequest request) {
        return call(LedgerServiceGrpcClient.CreateAccounts, request).toCompletionStage().toCompletableFuture();
    }

    public CompletableFuture<LookupAccountsResponse> lookupAccounts(LookupAccountsRequest request) {
        return call(LedgerServiceGrpcClient.LookupAccounts, request).toCompletionStage().toCompletableFuture();
    }

    public CompletableFuture<LookupTransfersResponse> lookupTransfers(LookupTransfersRequest request) {
        return call(LedgerServiceGrpcClient.LookupTransfers, request).toCompletionStage().toCompletableFuture();
    }

    /** Batched CreateTransfers requests that carried the single-transfer calls so far (retries not counted). */
    public long batchedRequests() {
        return batcher.requests();
    }

    /** Attempts that were retries (every call's attempts after its first), since the client started. */
    public long retries() {
        return retries.get();
    }

    /**
     * A unary call with retries: the same request (same ids, same correlation id) until it is answered, fails
     * for a reason a retry cannot fix, or {@code callTimeoutMs} has passed. Every write of the ledger carries its
     * idempotency key, so a retry after an unknown outcome is always safe.
     */
    <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req request) {
        MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("x-request-id", UUID.randomUUID().toString());
        if (authorization != null) {
            headers.add("authorization", authorization);
        }
        long giveUpAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limits.callTimeoutMs());
        Promise<Resp> result = Promise.promise();
        attempt(method, request, headers, giveUpAt, 1, false, result);
        return result.future();
    }

    private <Req, Resp> void attempt(ServiceMethod<Resp, Req> method, Req request, MultiMap headers, long giveUpAt, int n,
            boolean unknownSoFar, Promise<Resp> result) {
        long leftMs = TimeUnit.NANOSECONDS.toMillis(giveUpAt - System.nanoTime());
        GrpcClient grpc = connections.get((int) (nextConnection.getAndIncrement() % connections.size()));
        Attempt.unary(grpc, target, method, request, Math.max(1, Math.min(limits.attemptTimeoutMs(), leftMs)), headers)
                .onComplete(ar -> {
                    if (ar.succeeded()) {
                        result.complete(ar.result());
                        return;
                    }
                    Attempt.Failed f = ar.cause() instanceof Attempt.Failed af ? af
                            : new Attempt.Failed(GrpcStatus.UNKNOWN, String.valueOf(ar.cause()));
                    boolean unknown = unknownSoFar || !NOT_APPLIED.contains(f.status);
                    long backoff = Math.min(limits.retryBackoffMaxMs(), limits.retryBackoffInitialMs() << Math.min(n - 1, 20));
                    long delay = Math.max(1, backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
                    boolean timeLeft = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay) - giveUpAt < 0;
                    if (!RETRYABLE.contains(f.status) || !timeLeft) {
                        // Out of time after an ambiguous failure: unknown. A definite refusal (INVALID_ARGUMENT...)
                        // says nothing of earlier attempts, which may have been applied.
                        result.fail(new LedgerClientException(f.status, f.getMessage(),
                                RETRYABLE.contains(f.status) ? unknown : unknownSoFar, n));
                        return;
                    }
                    retries.incrementAndGet();
                    vertx.setTimer(delay, id -> attempt(method, request, headers, giveUpAt, n + 1, unknown, result));
                });
    }

    @Override
    public void close() {
        batcher.close();
        for (GrpcClient c : connections) {
            c.close().await();
        }
        vertx.close().await();
    }
}
