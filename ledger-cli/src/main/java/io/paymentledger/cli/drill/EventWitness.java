package io.paymentledger.cli.drill;

import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventFilter;
import io.paymentledger.cli.command.EventFollower;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.vertx.core.Vertx;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A merchant's event subscriber beside a drill (issue #21): {@code SubscribeEvents} from now on the workload's
 * accounts, through the same target as the workload (the router), resuming from its last cursor whenever the stream
 * ends (the {@link EventFollower} that {@code ./ledger events tail} uses). After the drill, {@link #check} holds the
 * stream to what the workload was told: every acknowledged transfer arrived, and no event arrived twice.
 */
final class EventWitness implements AutoCloseable {

    /** Probe accounts created, at most, to see the stream deliver before the workload starts. */
    static final int PROBES = 3;
    /** How long each probe's creation may take to arrive. */
    static final Duration PROBE_WAIT = Duration.ofSeconds(5);
    /** How long after the workload stopped the stream may take to deliver the last acknowledged transfer. */
    static final Duration CATCH_UP_TIMEOUT = Duration.ofSeconds(30);
    private static final int EXAMPLES = 5;
    /** The follower looks at its stop flag every 100 ms. */
    private static final long STOP_JOIN_MS = 2_000;

    private final EventFollower follower;
    /** Event id -> times received. */
    private final Map<String, Integer> eventIds = new ConcurrentHashMap<>();
    /** Transfer id -> times received. */
    private final Map<String, Integer> transferIds = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean stopping;
    private volatile EventFollower.Outcome outcome;

    EventWitness(GrpcClient grpc, Vertx vertx, Supplier<SocketAddress> target, List<String> accounts) {
        this.follower = new EventFollower(grpc, vertx, target, EventFilter.newBuilder().addAllAccountIds(accounts).build(), "now");
        PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
        this.thread = Thread.ofPlatform().name("drill-events").daemon(true).start(() -> {
            try {
                outcome = follower.follow(this::received, Long.MAX_VALUE, () -> stopping, quiet);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private void received(Event e) {
        eventIds.merge(e.getId(), 1, Integer::sum);
        if (e.hasTransfer()) {
            transferIds.merge(e.getTransfer().getId(), 1, Integer::sum);
        }
    }

    /** Accounts whose creation proves the stream is live (in the filter from the start). */
    static List<String> probes(String runId) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < PROBES; i++) {
            ids.add(runId + "-probe-" + i);
        }
        return ids;
    }

    /**
     * Returns once the stream delivers: creates the probe accounts one by one (with {@code create}) until one's
     * creation arrives, waiting {@link #PROBE_WAIT} for each. A stream "from now" is positioned when the leader
     * takes the call, which the caller cannot see through the router (it sends headers with the first event): the
     * first probe may be older than that, a later one is not. Throws when none arrives.
     */
    void awaitLive(String runId, java.util.function.Consumer<String> create) {
        for (String probe : probes(runId)) {
            create.accept(probe);
            long until = System.nanoTime() + PROBE_WAIT.toNanos();
            while (System.nanoTime() < until && outcome == null) {
                if (follower.received() > 0) {
                    return;
                }
                LocalDeployment.sleep(20);
            }
        }
        throw new IllegalStateException("the drill's event subscriber received none of " + PROBES + " accounts created after it"
                + " subscribed, " + PROBE_WAIT.toSeconds() + " s each" + (outcome == null ? "" : " (" + outcome + ")"));
    }

    /**
     * Waits (at most {@link #CATCH_UP_TIMEOUT}) until every transfer in {@code acknowledged} has arrived, stops the
     * stream, and returns what is wrong: acknowledged transfers that never arrived, events that arrived twice, or a
     * stream the server refused.
     */
    List<String> check(Set<String> acknowledged) {
        long until = System.nanoTime() + CATCH_UP_TIMEOUT.toNanos();
        while (System.nanoTime() < until && outcome == null && !transferIds.keySet().containsAll(acknowledged)) {
            LocalDeployment.sleep(100);
        }
        close();
        List<String> problems = new ArrayList<>();
        if (outcome != null && outcome.kind() != EventFollower.Outcome.Kind.STOPPED) {
            problems.add("events: the stream was refused: " + outcome.status() + ": " + outcome.message());
        }
        List<String> missing = acknowledged.stream().filter(id -> !transferIds.containsKey(id)).sorted().toList();
        if (!missing.isEmpty()) {
            problems.add("events: " + missing.size() + " of " + acknowledged.size() + " acknowledged transfers never arrived on"
                    + " the stream within " + CATCH_UP_TIMEOUT.toSeconds() + " s of the workload's end (e.g. "
                    + missing.subList(0, Math.min(EXAMPLES, missing.size())) + "; last cursor '" + follower.cursor() + "')");
        }
        Map<String, Integer> twice = new HashMap<>();
        eventIds.forEach((id, n) -> {
            if (n > 1) {
                twice.put(id, n);
            }
        });
        if (!twice.isEmpty()) {
            problems.add("events: " + twice.size() + " events arrived more than once (e.g. "
                    + twice.entrySet().stream().limit(EXAMPLES).map(en -> en.getKey() + " ×" + en.getValue()).toList() + ")");
        }
        return problems;
    }

    /** Events received and resumptions, for the drill's detail. */
    String summary() {
        return "events: " + follower.received() + " received by a merchant's subscriber, stream resumed " + follower.resumes()
                + (follower.resumes() == 1 ? " time" : " times");
    }

    int resumes() {
        return follower.resumes();
    }

    long received() {
        return follower.received();
    }

    @Override
    public void close() {
        stopping = true;
        try {
            thread.join(STOP_JOIN_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
