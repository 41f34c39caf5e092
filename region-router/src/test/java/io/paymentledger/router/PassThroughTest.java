package io.paymentledger.router;

import io.paymentledger.router.support.RouterFixture;

import io.paymentledger.router.support.ClientHeader;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.Descriptors.FileDescriptor;
import io.paymentledger.router.limits.MerchantResolver;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.FakeRegion;
import io.paymentledger.security.identity.ForwardedCertificate;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Metadata, trailers, streams, TLS, cutting, and the router's own health and configuration checks. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PassThroughTest extends RouterFixture {

    static final String WRITE = "ledger.v1.LedgerService/CreateTransfers";

    /** A test service with streaming methods, declared in code: test.v1.Echo {Chat (bidi), Count, Hang (server stream)}. */
    static final FileDescriptor ECHO = echoProto();

    RouterConfig.Builder config(FakeRegion... regions) {
        RouterConfig.Builder b = RouterConfig.builder().merchantResolver(ClientHeader.resolver()).healthCheckIntervalMs(50).healthCheckTimeoutMs(200).addServices(ECHO);
        for (FakeRegion r : regions) {
            b.upstream(r.region, "127.0.0.1", r.port());
        }
        return b;
    }

    @Test
    void metadataDeadlineHeadersAndTrailersCrossTheRouter() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        a.behavior = in -> in.last().onSuccess(m -> {
            in.response().headers().set("x-resp-h", "h1");
            in.response().trailers().set("x-resp-t", "t1");
            if ("fail".equals(in.headers().get("x-mode"))) {
                in.response().status(GrpcStatus.FAILED_PRECONDITION).statusMessage("precondition: é ünïcode %").end();
            } else {
                in.response().end(Buffer.buffer(new byte[] {0x08, 0x01}));
            }
        });
        router = RegionRouter.start(vertx, config(a).build());
        RouterTesting.awaitLeader(router, "a");

        Reply<Buffer> ok = Calls.raw(client, via(), WRITE, List.of(Buffer.buffer()),
                Map.of("x-custom", "v1", "x-merchant-id", "m7", "x-request-id", "rid-1", "custom-bin", "AAEC"), 5000);
        assertThat(ok.status()).isEqualTo(GrpcStatus.OK);
        assertThat(ok.body()).isEqualTo(Buffer.buffer(new byte[] {0x08, 0x01}));
        assertThat(ok.header("x-resp-h")).isEqualTo("h1");
        assertThat(ok.trailers().get("x-resp-t")).isEqualTo("t1");
        assertThat(ok.header("x-request-id")).isEqualTo("rid-1");
        assertThat(ok.header("x-ledger-region")).isEqualTo("a");
        var seen = a.headersSeen.get(0);
        assertThat(seen.get("x-custom")).isEqualTo("v1");
        assertThat(seen.get("custom-bin")).isEqualTo("AAEC");
        assertThat(seen.get("x-merchant-id")).isEqualTo("m7");
        assertThat(seen.get("x-request-id")).isEqualTo("rid-1");
        assertThat(seen.get("grpc-timeout")).as("the deadline travels on").isNotNull();
        assertThat(Long.parseLong(seen.get("grpc-timeout").replaceAll("[^0-9]", ""))).isPositive();

        Reply<Buffer> failed = Calls.raw(client, via(), WRITE, List.of(Buffer.buffer()), Map.of("x-mode", "fail"), 5000);
        assertThat(failed.status()).isEqualTo(GrpcStatus.FAILED_PRECONDITION);
        assertThat(failed.message()).isEqualTo("precondition: é ünïcode %");
        assertThat(failed.header("x-resp-h")).isEqualTo("h1");
        assertThat(failed.header("x-resp-t")).as("trailers-only answer: trailers arrive with the headers").isEqualTo("t1");

        // Without a client deadline the upstream still gets one: the router's upstream call timeout.
        Calls.raw(client, via(), WRITE, List.of(Buffer.buffer()), Map.of(), 0);
        assertThat(a.headersSeen.get(2).get("grpc-timeout")).isNotNull();
        // The anonymous merchant sends no merchant header upstream.
        assertThat(a.headersSeen.get(2).get("x-merchant-id")).isNull();
    }

    @Test
    void streamsFlowBothWays() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        a.behavior = in -> {
            switch (in.fullMethodName()) {
                case "test.v1.Echo/Chat" -> {
                    in.messageHandler(m -> in.response().writeMessage(m));
                    in.endHandler(v -> in.response().end());
                }
                case "test.v1.Echo/Count" -> in.last().onSuccess(m -> {
                    in.response().headers().set("x-stream-h", "sh");
                    in.response().trailers().set("x-stream-t", "st");
                    for (int i = 1; i <= 5; i++) {
                        in.response().write(msg("n" + i));
                    }
                    in.response().end();
                });
                default -> in.response().status(GrpcStatus.UNIMPLEMENTED).end();
            }
        };
        router = RegionRouter.start(vertx, config(a).build());
        RouterTesting.awaitLeader(router, "a");

        Stream chat = Calls.await(stream("test.v1.Echo/Chat", List.of(msg("x"), msg("y"), msg("z"))));
        assertThat(chat.status()).isEqualTo(GrpcStatus.OK);
        assertThat(chat.messages()).containsExactly(msg("x"), msg("y"), msg("z"));
        Stream count = Calls.await(stream("test.v1.Echo/Count", List.of(Buffer.buffer())));
        assertThat(count.status()).isEqualTo(GrpcStatus.OK);
        assertThat(count.messages()).containsExactly(msg("n1"), msg("n2"), msg("n3"), msg("n4"), msg("n5"));
        assertThat(count.headers().getAll("x-stream-h")).containsExactly("sh");
        assertThat(count.headers().getAll("x-ledger-region")).containsExactly("a");
        assertThat(count.trailers().getAll("x-stream-t")).containsExactly("st");
    }

    @Test
    void callsInFlightToARegionThatLosesLeadershipAreCutAtOnce() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        FakeRegion b = FakeRegion.start(vertx, "b", false, 1);
        List<String> upstreamResets = new CopyOnWriteArrayList<>();
        a.behavior = in -> {
            in.errorHandler(err -> upstreamResets.add(in.fullMethodName()));
            if (in.fullMethodName().equals("test.v1.Echo/Hang")) {
                in.last().onSuccess(m -> in.response().write(msg("first")));
            }
            // everything else: never answers
        };
        router = RegionRouter.start(vertx, config(a, b).holdTimeMs(15_000).build());
        RouterTesting.awaitLeader(router, "a");

        Future<Stream> hanging = stream("test.v1.Echo/Hang", List.of(Buffer.buffer()));
        Future<Reply<Buffer>> write = Calls.rawAsync(client, via(), WRITE, List.of(Buffer.buffer()), Map.of(), 20_000);
        Future<Reply<Buffer>> switchover = Calls.rawAsync(client, via(), "ledger.v1.NodeService/Switchover",
                List.of(Buffer.buffer()), Map.of(), 20_000);
        RouterTesting.await(() -> a.calls.get() == 3, 5000, () -> "calls did not arrive");

        a.serving = false; // a steps down; its calls are cut without waiting for their deadlines
        Stream cutStream = Calls.await(hanging);
        assertThat(cutStream.messages()).containsExactly(msg("first"));
        assertThat(cutStream.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(cutStream.message()).contains("no longer the leader").contains("may or may not have been applied");
        Reply<Buffer> notIdempotent = Calls.await(switchover);
        assertThat(notIdempotent.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(notIdempotent.message()).contains("may or may not have been applied");
        RouterTesting.await(() -> upstreamResets.size() >= 3, 5000, () -> "upstream streams not reset: " + upstreamResets);

        // The idempotent write went back to the router's retry path and waits for the next leader.
        assertThat(write.isComplete()).isFalse();
        b.epoch = 2;
        b.serving = true;
        Reply<Buffer> w = Calls.await(write);
        assertThat(w.status()).isEqualTo(GrpcStatus.OK);
        assertThat(w.header("x-ledger-region")).isEqualTo("b");
        assertThat(router.status().counters().cut()).isGreaterThanOrEqualTo(3);
    }

    @Test
    void theRoutersOwnHealthFollowsTheLeader() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 7);
        router = RegionRouter.start(vertx, config(a).build());
        RouterTesting.awaitLeader(router, "a");
        ServiceMethod<HealthCheckResponse, HealthCheckRequest> check = ServiceMethod.client(
                ServiceName.create("grpc.health.v1", "Health"), "Check", GrpcMessageEncoder.encoder(),
                GrpcMessageDecoder.decoder(HealthCheckResponse.newBuilder()));
        Reply<HealthCheckResponse> up = Calls.call(client, via(), check, HealthCheckRequest.getDefaultInstance(), Map.of(), 5000);
        assertThat(up.body().getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        assertThat(up.header("x-ledger-region")).isEqualTo("a");
        assertThat(up.header("x-ledger-epoch")).isEqualTo("7");
        a.serving = false;
        RouterTesting.await(() -> !router.status().leaderUsable(), 5000, () -> "still a leader");
        Reply<HealthCheckResponse> down = Calls.call(client, via(), check,
                HealthCheckRequest.newBuilder().setService("ledger.v1.LedgerService").build(), Map.of(), 5000);
        assertThat(down.body().getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.NOT_SERVING);
        assertThat(router.status().explanation()).contains("no leader");
    }

    @Test
    void merchantsConnectWithMutualTlsAndTheirCertificateNamesThem() throws Exception {
        Path dir = Files.createTempDirectory("router-pki-");
        Pki pki = Pki.init(dir, "ledger.test");
        IssuedCert server = pki.issueService("router-a", "a", "router", Duration.ofHours(1));
        IssuedCert acme = pki.issueMerchant("acme", Duration.ofHours(1));
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        HttpServerOptions tls = Tls.serverOptions(server.certFile(), server.keyFile(), pki.caCertFile(), pki.crlFile(),
                ClientAuth.REQUIRED).setHost("127.0.0.1").setPort(0);
        router = RegionRouter.start(vertx, config(a).serverOptions(tls)
                .merchantResolver(MerchantResolver.peerCertificate("ledger.test")).build());
        RouterTesting.awaitLeader(router, "a");

        GrpcClient merchant = GrpcClient.client(vertx, new GrpcClientOptions(),
                Tls.clientOptions(acme.certFile(), acme.keyFile(), pki.caCertFile()));
        Reply<Buffer> r = Calls.raw(merchant, SocketAddress.inetSocketAddress(router.port(), "localhost"), WRITE,
                List.of(Buffer.buffer()), Map.of("x-merchant-id", "spoofed"), 5000);
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.headersSeen.get(0).get("x-merchant-id")).as("the certificate, not the header").isEqualTo("acme");

        // A merchant cannot pass an operator certificate of its own (certificates are no secret): the router drops it.
        IssuedCert operatorCert = pki.issueOperator(Duration.ofHours(1));
        String operatorDer = java.util.Base64.getEncoder().encodeToString(operatorCert.cert().getEncoded());
        Calls.raw(merchant, SocketAddress.inetSocketAddress(router.port(), "localhost"), WRITE, List.of(Buffer.buffer()),
                Map.of(ForwardedCertificate.OPERATOR_HEADER, operatorDer, "x-merchant-id", "operator"), 5000);
        assertThat(a.headersSeen.get(1).get(ForwardedCertificate.OPERATOR_HEADER)).isNull();
        assertThat(a.headersSeen.get(1).get("x-merchant-id")).isEqualTo("acme");
        // The operator is not named in x-merchant-id: the router forwards the operator's own certificate.
        GrpcClient operator = GrpcClient.client(vertx, new GrpcClientOptions(),
                Tls.clientOptions(operatorCert.certFile(), operatorCert.keyFile(), pki.caCertFile()));
        Reply<Buffer> asOperator = Calls.raw(operator, SocketAddress.inetSocketAddress(router.port(), "localhost"), WRITE,
                List.of(Buffer.buffer()), Map.of("x-merchant-id", "acme"), 5000);
        assertThat(asOperator.status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.headersSeen.get(2).get("x-merchant-id")).isNull();
        assertThat(a.headersSeen.get(2).get(ForwardedCertificate.OPERATOR_HEADER)).isEqualTo(operatorDer);

        GrpcClient noCert = GrpcClient.client(vertx, new GrpcClientOptions(), Tls.clientOptions(null, null, pki.caCertFile()));
        Reply<Buffer> refused = Calls.raw(noCert, SocketAddress.inetSocketAddress(router.port(), "localhost"), WRITE,
                List.of(Buffer.buffer()), Map.of(), 5000);
        assertThat(refused.status()).isNull();
        assertThat(refused.failure()).isNotBlank();
        assertThat(a.calls.get()).isEqualTo(3);
    }

    @Test
    void theRouterReachesNodesOverMutualTls() throws Exception {
        Path dir = Files.createTempDirectory("router-pki-");
        Pki pki = Pki.init(dir, "ledger.test");
        IssuedCert node = pki.issueService("ledger-a", "a", "ledger", Duration.ofHours(1));
        IssuedCert routerCert = pki.issueService("router-a", "a", "router", Duration.ofHours(1));
        List<String> peers = new CopyOnWriteArrayList<>();
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1, Tls.serverOptions(node.certFile(), node.keyFile(),
                pki.caCertFile(), pki.crlFile(), ClientAuth.REQUIRED).setHost("127.0.0.1").setPort(0));
        a.behavior = in -> {
            peers.add(io.paymentledger.security.identity.Identities.fromPeer(in.connection(), "ledger.test")
                    .map(Object::toString).orElse("none"));
            FakeRegion.okEmpty(in);
        };
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "localhost", a.port())
                .healthCheckIntervalMs(50)
                .upstreamClientOptions(Tls.clientOptions(routerCert.certFile(), routerCert.keyFile(), pki.caCertFile()))
                .build());
        RouterTesting.awaitLeader(router, "a");
        Reply<Buffer> r = Calls.raw(client, via(), WRITE, List.of(Buffer.buffer()), Map.of(), 5000);
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(peers).containsExactly("Service[region=a, component=router]");
    }

    @Test
    void aBadConfigurationIsRefusedWithEveryProblemNamed() {
        assertThatThrownBy(() -> RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "127.0.0.1", 1).upstream("a", "", 0)
                .holdTimeMs(-1).healthCheckIntervalMs(0).merchantConcurrentCalls(0).maxMessageBytes(2_000_000)
                .holdQueueBytes(1_000_000).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("configured twice")
                .hasMessageContaining("port 0")
                .hasMessageContaining("holdTimeMs = -1")
                .hasMessageContaining("healthCheckIntervalMs = 0")
                .hasMessageContaining("merchantConcurrentCalls = 0")
                .hasMessageContaining("holdQueueBytes (1000000) must hold at least one message");
        assertThatThrownBy(() -> RouterConfig.builder().merchantResolver(ClientHeader.resolver()).build()).hasMessageContaining("at least one ledger node");
    }

    // ---- helpers ----

    record Stream(GrpcStatus status, String message, List<Buffer> messages, io.vertx.core.MultiMap headers,
            io.vertx.core.MultiMap trailers) {}

    Future<Stream> stream(String method, List<Buffer> messages) {
        return client.request(via()).compose((GrpcClientRequest<Buffer, Buffer> req) -> {
            req.fullMethodName(method);
            req.timeout(20_000, TimeUnit.MILLISECONDS);
            for (Buffer m : messages) {
                req.writeMessage(GrpcMessage.message("identity", m));
            }
            req.end();
            return req.response();
        }).compose((GrpcClientResponse<Buffer, Buffer> resp) -> {
            List<Buffer> got = new CopyOnWriteArrayList<>();
            resp.handler(got::add);
            return resp.end().transform(ar -> Future.succeededFuture(new Stream(resp.status(), statusMessage(resp), got, resp.headers(), resp.trailers())));
        });
    }

    static String statusMessage(GrpcClientResponse<?, ?> r) {
        if (r.statusMessage() != null) {
            return r.statusMessage();
        }
        String raw = r.trailers().get("grpc-message");
        return raw == null ? null : io.netty.handler.codec.http.QueryStringDecoder.decodeComponent(raw);
    }

    /** test.v1.Msg{data} with {@code text} as data. */
    static Buffer msg(String text) {
        byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return Buffer.buffer().appendByte((byte) 0x0a).appendByte((byte) b.length).appendBytes(b);
    }

    private static FileDescriptor echoProto() {
        MethodDescriptorProto.Builder m = MethodDescriptorProto.newBuilder().setInputType(".test.v1.Msg").setOutputType(".test.v1.Msg");
        FileDescriptorProto file = FileDescriptorProto.newBuilder().setName("test/v1/echo.proto").setPackage("test.v1")
                .setSyntax("proto3")
                .addMessageType(DescriptorProto.newBuilder().setName("Msg").addField(FieldDescriptorProto.newBuilder()
                        .setName("data").setNumber(1).setType(FieldDescriptorProto.Type.TYPE_BYTES)
                        .setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL)))
                .addService(ServiceDescriptorProto.newBuilder().setName("Echo")
                        .addMethod(m.clone().setName("Chat").setClientStreaming(true).setServerStreaming(true))
                        .addMethod(m.clone().setName("Count").setServerStreaming(true))
                        .addMethod(m.clone().setName("Hang").setServerStreaming(true)))
                .build();
        try {
            return FileDescriptor.buildFrom(file, new FileDescriptor[0]);
        } catch (com.google.protobuf.Descriptors.DescriptorValidationException e) {
            throw new IllegalStateException(e);
        }
    }
}
