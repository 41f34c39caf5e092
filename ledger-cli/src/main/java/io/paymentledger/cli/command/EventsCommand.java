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

        int tail(Clients clients, int routerPort, EventFilter filter, PrintStream out, PrintStream err) throws InterruptedException {
            EventFollower follower = new EventFollower(clients.grpc(), clients.vertx(), () -> clients.address(routerPort), filter, from);
            EventFollower.Outcome o = follower.follow(new EventFollower.Sink() {
                @Override
                public void event(Event e) {
                    out.println(line(e));
                }

                @Override
                public void idle() {
                    out.flush();
                }
            }, count, null, err);
            out.flush();
            return switch (o.kind()) {
                case COUNTED, STOPPED -> 0;
                case INVALID -> {
                    err.println("events tail: " + o.message());
                    yield 2;
                }
                case DENIED -> {
                    err.println("events tail: " + o.status() + ": " + o.message());
                    yield 1;
                }
            };
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
