package io.paymentledger.cli.command;

import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventBalance;
import io.paymentledger.api.v1.EventFilter;
import io.paymentledger.api.v1.EventType;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.SubscribeEventsRequest;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./ledger events tail}: the event stream, through the router, as the operator (runbooks/events.md). */
@Command(name = "events", description = "The event stream (runbooks/events.md).", subcommands = {EventsCommand.Tail.class, WebhooksCommand.class})
public final class EventsCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "tail", description = {
            "Prints every event after a cursor (default: from now), then each new one as it is acknowledged, one line each:",
            "  <cursor> <time> <TYPE> <id> <details>; balances after the event in brackets.",
            "Through the router; resumes from the last cursor by itself when the stream ends (failover, switchover).",
            "Exit code: 0 after --count events, 1 on an error, 2 for a bad request (the message says which)."})
    public static final class Tail implements Callable<Integer> {

        /** Events buffered before the stream is paused (flow control back to the server). */
        static final int BUFFER_EVENTS_MAX = 1_024;
        /** Each stream asks for this deadline; the CLI goes on from its cursor when it passes. */
        static final long STREAM_DEADLINE_MINUTES = 10;
        /** Waits before resuming after a stream ended, doubling up to the max. */
        static final long RESUME_DELAY_MS_MIN = 200;
        static final long RESUME_DELAY_MS_MAX = 5_000;

        @Mixin
        DeploymentOptions deployment;

        @Option(names = "--from", description = "A cursor to continue after, 'start' for the first event, 'now' (default).")
        String from = "now";

        @Option(names = "--type", split = ",", description = "Only these types, e.g. --type PAYMENT_CAPTURED,PENDING_EXPIRED (repeatable).")
        List<String> types = new ArrayList<>();

        @Option(names = "--account", split = ",", description = "Only events that touch these accounts (repeatable).")
        List<String> accounts = new ArrayList<>();

        @Option(names = "--count", description = "Stop after this many events (default: never).")
        long count = Long.MAX_VALUE;

        @Override
        public Integer call() throws Exception {
            LogSetup.install("ledger-events", Level.WARNING);
            EventFilter.Builder filter = EventFilter.newBuilder().addAllAccountIds(accounts);
            for (String t : types) {
                String name = "EVENT_TYPE_" + t.trim().toUpperCase(Locale.ROOT).replaceFirst("^EVENT_TYPE_", "");
                try {
                    filter.addTypes(EventType.valueOf(name));
                } catch (IllegalArgumentException e) {
                    System.err.println("events tail: unknown --type " + t + "; one of ACCOUNT_CREATED, TRANSFER_POSTED, PENDING_CREATED,"
                            + " PENDING_POSTED, PENDING_VOIDED, PENDING_EXPIRED, PAYMENT_AUTHORIZED, PAYMENT_CAPTURED, PAYMENT_VOIDED,"
                            + " PAYMENT_REFUNDED, PAYMENT_EXPIRED");
                    return 2;
                }
            }
            Topology topology = Topology.load(deployment.dir());
            try (Clients clients = Clients.operatorAsIs(topology)) {
                // Buffered, flushed whenever the stream has nothing more for now: one write per burst, not per line.
                PrintStream out = new PrintStream(new java.io.BufferedOutputStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), 1 << 16),
                        false, java.nio.charset.StandardCharsets.UTF_8);
                try {
                    return tail(clients, topology.routerPort(), filter.build(), out, System.err);
                } finally {
                    out.flush();
                }
            }
        }

        /** What the stream handlers hand the printing thread: an event, or the end of the stream. */
        private record Item(Event event, GrpcStatus status, String message) {}

        int tail(Clients clients, int routerPort, EventFilter filter, PrintStream out, PrintStream err) throws InterruptedException {
            String cursor = from.equals("start") || from.equals("now") ? "" : from;
            boolean fromNow = from.equals("now");
            long printed = 0;
            long delay = RESUME_DELAY_MS_MIN;
            while (true) {
                LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
                java.util.concurrent.atomic.AtomicReference<GrpcClientResponse<?, Event>> stream = new java.util.concurrent.atomic.AtomicReference<>();
                SubscribeEventsRequest request = SubscribeEventsRequest.newBuilder().setAfterCursor(cursor).setFromNow(fromNow)
                        .setFilter(filter).build();
                clients.grpc().request(clients.address(routerPort), EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
                    req.timeout(STREAM_DEADLINE_MINUTES, TimeUnit.MINUTES);
                    req.end(request);
                    return req.response();
                }).onComplete(ar -> {
                    if (ar.failed()) {
                        queue.add(new Item(null, GrpcStatus.UNAVAILABLE, ar.cause().getMessage()));
                        return;
                    }
                    GrpcClientResponse<?, Event> resp = ar.result();
                    stream.set(resp);
                    resp.handler(e -> {
                        queue.add(new Item(e, null, null));
                        if (queue.size() >= BUFFER_EVENTS_MAX) {
                            resp.pause();
                        }
                    });
                    resp.endHandler(v -> queue.add(new Item(null, resp.status(), resp.statusMessage())));
                    resp.exceptionHandler(e -> queue.add(new Item(null, GrpcStatus.UNAVAILABLE, String.valueOf(e.getMessage()))));
                });
                Item item;
                while ((item = next(queue, out)).event() != null) {
                    Event e = item.event();
                    out.println(line(e));
                    cursor = e.getCursor();
                    fromNow = false;
                    delay = RESUME_DELAY_MS_MIN;
                    if (++printed >= count) {
                        out.flush();
                        return 0;
                    }
                    GrpcClientResponse<?, Event> resp = stream.get();
                    if (resp != null && queue.size() < BUFFER_EVENTS_MAX / 4) {
                        clients.vertx().runOnContext(v -> resp.resume());
                    }
                }
                out.flush();
                GrpcStatus status = item.status();
                if (status == GrpcStatus.INVALID_ARGUMENT) {
                    err.println("events tail: " + item.message());
                    return 2;
                }
                if (status == GrpcStatus.PERMISSION_DENIED || status == GrpcStatus.UNAUTHENTICATED) {
                    err.println("events tail: " + status + ": " + item.message());
                    return 1;
                }
                // Failover, switchover, the stream's deadline, a dropped connection: go on from the last cursor.
                if (status != GrpcStatus.DEADLINE_EXCEEDED) {
                    err.println("events tail: the stream ended (" + status + (item.message() == null ? "" : ": " + item.message())
                            + "); resuming " + (cursor.isEmpty() ? (fromNow ? "from now" : "from the start") : "after " + cursor)
                            + " in " + delay + " ms");
                }
                Thread.sleep(delay);
                delay = Math.min(delay * 2, RESUME_DELAY_MS_MAX);
            }
        }

        private static Item next(LinkedBlockingQueue<Item> queue, PrintStream out) throws InterruptedException {
            Item item = queue.poll();
            if (item == null) {
                out.flush();
                // A tail follows for as long as the operator lets it: no bound here on purpose. The stream's end or
                // failure is an item too, so this wakes for it (and Ctrl-C interrupts it).
                item = queue.take();
            }
            return item;
        }

        static String line(Event e) {
            StringBuilder b = new StringBuilder().append(e.getCursor()).append(' ')
                    .append(Instant.ofEpochSecond(0, e.getTimestampNs())).append(' ')
                    .append(e.getType().name().substring("EVENT_TYPE_".length())).append(' ').append(e.getId());
            if (e.hasAccount()) {
                b.append(" account ").append(e.getAccount().getId()).append(" owner '").append(e.getAccount().getOwner())
                        .append("' ").append(e.getAccount().getCurrency());
            } else {
                var t = e.getTransfer();
                b.append(' ').append(t.getAmount()).append(' ').append(t.getCurrency()).append(' ').append(t.getDebitAccountId())
                        .append(" -> ").append(t.getCreditAccountId());
                if (e.hasPayment()) {
                    b.append(" payment ").append(e.getPayment().getPaymentId());
                }
            }
            b.append(" [");
            for (int i = 0; i < e.getBalancesCount(); i++) {
                EventBalance bal = e.getBalances(i);
                var x = bal.getBalance();
                b.append(i == 0 ? "" : "; ").append(bal.getAccountId()).append(": posted ")
                        .append(x.getCreditsPosted() - x.getDebitsPosted()).append(", pending ")
                        .append(x.getCreditsPending() - x.getDebitsPending());
            }
            return b.append(']').toString();
        }
    }
}
