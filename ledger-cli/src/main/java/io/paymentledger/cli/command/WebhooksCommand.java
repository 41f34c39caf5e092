package io.paymentledger.cli.command;

import com.google.protobuf.Message;
import io.paymentledger.api.v1.CreateWebhookEndpointRequest;
import io.paymentledger.api.v1.CreateWebhookEndpointResponse;
import io.paymentledger.api.v1.DeleteWebhookEndpointRequest;
import io.paymentledger.api.v1.EventType;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.ListWebhookDeliveriesRequest;
import io.paymentledger.api.v1.ListWebhookDeliveriesResponse;
import io.paymentledger.api.v1.ListWebhookEndpointsRequest;
import io.paymentledger.api.v1.ListWebhookEndpointsResponse;
import io.paymentledger.api.v1.RedeliverEventsRequest;
import io.paymentledger.api.v1.RedeliverEventsResponse;
import io.paymentledger.api.v1.RotateWebhookSecretRequest;
import io.paymentledger.api.v1.RotateWebhookSecretResponse;
import io.paymentledger.api.v1.UpdateWebhookEndpointRequest;
import io.paymentledger.api.v1.WebhookDelivery;
import io.paymentledger.api.v1.WebhookEndpoint;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./ledger events webhooks ...}: webhook endpoints through the router, as the operator (every merchant's
 * endpoints; an endpoint it creates receives every event). Merchants do the same through the API (runbooks/events.md).
 * Exit codes: 0 done, 1 an error (not reachable, not leading), 2 a bad request or an unknown endpoint.
 */
@Command(name = "webhooks", description = "Webhook endpoints: list, deliveries, redeliver, enable, disable, create, rotate, delete"
        + " (runbooks/events.md, Webhooks).", subcommands = {WebhooksCommand.ListCmd.class, WebhooksCommand.Deliveries.class,
                WebhooksCommand.Redeliver.class, WebhooksCommand.Enable.class, WebhooksCommand.Disable.class, WebhooksCommand.Create.class,
                WebhooksCommand.Rotate.class, WebhooksCommand.Delete.class})
public final class WebhooksCommand implements Runnable {

    /** Each call's bound. */
    static final long CALL_TIMEOUT_SECONDS = 15;

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** A call's outcome: the answer, or its status and message (the generated client would drop the message). */
    record Answer<T>(GrpcStatus status, String message, T body) {}

    static <Req extends Message, Resp> Answer<Resp> invoke(DeploymentOptions deployment, ServiceMethod<Resp, Req> method, Req request)
            throws Exception {
        LogSetup.install("ledger-webhooks", Level.WARNING);
        Topology t = Topology.load(deployment.dir());
        try (Clients clients = Clients.operatorAsIs(t)) {
            return clients.grpc().request(clients.address(t.routerPort()), method).compose(req -> {
                req.timeout(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                req.end(request);
                return req.response().compose(resp -> resp.last().map(body -> new Answer<>(GrpcStatus.OK, "", body))
                        .recover(e -> io.vertx.core.Future.succeededFuture(new Answer<Resp>(resp.status(), resp.statusMessage(), null))));
            }).await(CALL_TIMEOUT_SECONDS + 5, TimeUnit.SECONDS);
        }
    }

    /** Prints the failure and returns the exit code, or -1 when the call succeeded. */
    static int failed(String what, Answer<?> a) {
        if (a.status() == GrpcStatus.OK) {
            return -1;
        }
        System.err.println("events webhooks " + what + ": " + a.status().name() + ": " + a.message());
        return a.status() == GrpcStatus.INVALID_ARGUMENT || a.status() == GrpcStatus.NOT_FOUND ? 2 : 1;
    }

    static String line(WebhookEndpoint e) {
        StringBuilder b = new StringBuilder().append(e.getId()).append(' ').append(e.getEnabled() ? "enabled " : "DISABLED ")
                .append("owner '").append(e.getOwner()).append("' ").append(e.getUrl()).append(" types ")
                .append(e.getTypesCount() == 0 ? "all" : String.join(",", e.getTypesList().stream()
                        .map(x -> x.name().substring("EVENT_TYPE_".length())).toList()))
                .append(" delivered-cursor ").append(e.getDeliveredCursor().isEmpty() ? "-" : e.getDeliveredCursor())
                .append(" secrets ").append(e.getSecretsCount());
        if (!e.getDisabledReason().isEmpty()) {
            b.append(" reason: ").append(e.getDisabledReason());
        }
        return b.toString();
    }

    static String line(WebhookDelivery d) {
        return Instant.ofEpochMilli(d.getAttemptedAtMs()) + " " + d.getResult().name().substring("WEBHOOK_DELIVERY_RESULT_".length())
                + " attempt " + d.getAttempt() + " http " + d.getHttpStatus() + " " + d.getLatencyMs() + " ms " + d.getEventId()
                + " " + d.getEventCursor() + (d.getError().isEmpty() ? "" : " error: " + d.getError());
    }

    @Command(name = "list", description = "Every endpoint: id, enabled, owner, URL, types, last delivered cursor, secrets, why disabled.")
    public static final class ListCmd implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Override
        public Integer call() throws Exception {
            Answer<ListWebhookEndpointsResponse> a = invoke(deployment, EventsServiceGrpcClient.ListWebhookEndpoints,
                    ListWebhookEndpointsRequest.getDefaultInstance());
            int code = failed("list", a);
            if (code >= 0) {
                return code;
            }
            a.body().getEndpointsList().forEach(e -> System.out.println(line(e)));
            return 0;
        }
    }

    @Command(name = "deliveries", description = "The endpoint's last attempts, newest first: time, result, attempt, HTTP status, latency, event.")
    public static final class Deliveries implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;
        @Parameters(index = "0", description = "The endpoint id (ep_...).")
        String endpoint;
        @Option(names = "--limit", description = "1..100 (default 20).")
        int limit = 20;

        @Override
        public Integer call() throws Exception {
            Answer<ListWebhookDeliveriesResponse> a = invoke(deployment, EventsServiceGrpcClient.ListWebhookDeliveries,
                    ListWebhookDeliveriesRequest.newBuilder().setEndpointId(endpoint).setLimit(limit).build());
            int code = failed("deliveries", a);
            if (code >= 0) {
                return code;
            }
            a.body().getDeliveriesList().forEach(d -> System.out.println(line(d)));
            return 0;
        }
    }

    @Command(name = "redeliver", description = "Deliver every event after a cursor again (default: from the first event).")
    public static final class Redeliver implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;
        @Parameters(index = "0", description = "The endpoint id (ep_...).")
        String endpoint;
        @Option(names = "--from", description = "A cursor (the event after it is the first delivered again); default: the start.")
        String from = "";

        @Override
        public Integer call() throws Exception {
            Answer<RedeliverEventsResponse> a = invoke(deployment, EventsServiceGrpcClient.RedeliverEvents,
                    RedeliverEventsRequest.newBuilder().setEndpointId(endpoint).setAfterCursor(from).build());
            int code = failed("redeliver", a);
            if (code >= 0) {
                return code;
            }
            System.out.println(line(a.body().getEndpoint()));
            return 0;
        }
    }

    static Integer setEnabled(DeploymentOptions deployment, String endpoint, boolean enabled) throws Exception {
        Answer<WebhookEndpoint> a = invoke(deployment, EventsServiceGrpcClient.UpdateWebhookEndpoint,
                UpdateWebhookEndpointRequest.newBuilder().setEndpointId(endpoint).setEnabled(enabled).build());
        int code = failed(enabled ? "enable" : "disable", a);
        if (code >= 0) {
            return code;
        }
        System.out.println(line(a.body()));
        return 0;
    }

    @Command(name = "enable", description = "Deliver again (after the ledger disabled it: from the event that failed).")
    public static final class Enable implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;
        @Parameters(index = "0", description = "The endpoint id (ep_...).")
        String endpoint;

        @Override
        public Integer call() throws Exception {
            return setEnabled(deployment, endpoint, true);
        }
    }

    @Command(name = "disable", description = "Stop delivering (its progress is kept).")
    public static final class Disable implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;
        @Parameters(index = "0", description = "The endpoint id (ep_...).")
        String endpoint;

        @Override
        public Integer call() throws Exception {
            return setEnabled(deployment, endpoint, false);
        }
    }

    @Command(name = "create", description = "An operator's endpoint (every merchant's events); prints it and its secret (shown once).")
    public static final class Create implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;
        @Option(names = "--url", required = true, description = "https://...")
        String url;
        @Option(names = "--type", split = ",", description = "Only these types (default: all).")
        List<String> types = new ArrayList<>();
        @Option(names = "--from-start", description = "Deliver from the first event of the cell (default: from now).")
        boolean fromStart;

        @Override
        public Integer call() throws Exception {
            CreateWebhookEndpointRequest.Builder b = CreateWebhookEndpointRequest.newBuilder().setUrl(url).setFromStart(fromStart);
            for (String type : types) {
                try {
                    b.addTypes(EventType.valueOf("EVENT_TYPE_" + type.trim().toUpperCase(Locale.ROOT).replaceFirst("^EVENT_TYPE_", "")));
                } catch (IllegalArgumentException e) {
                    System.err.println("events webhooks create: unknown --type " + type);
                    return 2;
                }
            }
            Answer<CreateWebhookEndpointResponse> a = invoke(deployment, EventsServiceGrpcClient.CreateWebhookEndpoint, b.build());
            int code = failed("create", a);
            if (code >= 0) {
                return code;
            }
            System.out.println(line(a.body().getEndpoint()));
            System.out.println("secret " + a.body().getSecret());
            return 0;
        }
    }

    @Command(name = "rotate", description = "A new secret; the current ones keep signing for --keep-seconds (default 24 h). Prints the new secret.")
    public static final class Rotate implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;
        @Parameters(index = "0", description = "The endpoint id (ep_...).")
        String endpoint;
        @Option(names = "--keep-seconds", description = "0..604800 (0: 24 h).")
        int keepSeconds;

        @Override
        public Integer call() throws Exception {
            Answer<RotateWebhookSecretResponse> a = invoke(deployment, EventsServiceGrpcClient.RotateWebhookSecret,
                    RotateWebhookSecretRequest.newBuilder().setEndpointId(endpoint).setKeepOldSeconds(keepSeconds).build());
            int code = failed("rotate", a);
            if (code >= 0) {
                return code;
            }
            System.out.println(line(a.body().getEndpoint()));
            System.out.println("secret " + a.body().getSecret());
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete the endpoint, its secrets and its delivery log.")
    public static final class Delete implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;
        @Parameters(index = "0", description = "The endpoint id (ep_...).")
        String endpoint;

        @Override
        public Integer call() throws Exception {
            int code = failed("delete", invoke(deployment, EventsServiceGrpcClient.DeleteWebhookEndpoint,
                    DeleteWebhookEndpointRequest.newBuilder().setEndpointId(endpoint).build()));
            return code >= 0 ? code : 0;
        }
    }
}
