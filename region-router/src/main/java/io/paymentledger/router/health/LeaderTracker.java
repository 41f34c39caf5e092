package io.paymentledger.router.health;

import io.paymentledger.router.RouterConfig;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Knows the leader. Every upstream's {@code grpc.health.v1.Health/Check} is asked every interval; a node answers
 * SERVING only while it leads, with its fencing token in {@code x-ledger-epoch}. The router keeps the highest
 * epoch it has ever seen (from any node, serving or not, or from the coordinator's push); the leader is the
 * single reachable upstream that is SERVING at exactly that epoch. A node that serves with a lower epoch has been
 * deposed and never gets a write again, whatever it says later.
 *
 * <p>When the leader changes, the calls in flight to the old one are cut at once (they go back through the
 * router's retry path), and waiting calls are woken. All state changes run on the tracker's context.
 */
public final class LeaderTracker {

    private static final Logger LOG = Logger.getLogger(LeaderTracker.class.getName());

    public static final String EPOCH_HEADER = "x-ledger-epoch";
    public static final String REGION_HEADER = "x-ledger-region";
    public static final String ROLE_HEADER = "x-ledger-role";
    /** How stale a node's data may be, in ms ("unknown" when it cannot tell); ledger-core NodeApi.STALENESS_HEADER. */
    public static final String STALENESS_HEADER = "x-ledger-staleness-ms";

    static final ServiceMethod<HealthCheckResponse, HealthCheckRequest> CHECK = ServiceMethod.client(
            ServiceName.create("grpc.health.v1", "Health"), "Check", GrpcMessageEncoder.encoder(),
            GrpcMessageDecoder.decoder(HealthCheckResponse.newBuilder()));

    /** What routing needs, replaced as a whole on every change (read without locks). */
    public record View(Upstream leader, long highestEpoch, List<Upstream> standbys, String explanation) {
        public boolean hasLeader() {
            return leader != null;
        }
    }

    /** Told about changes that may let waiting calls go, and about leader changes. */
    public interface Listener {
        void onViewChanged(View previous, View current);

        void onLeaderChanged(Upstream previous, Upstream current, long epoch, String reason);

        /** Both listeners, {@code first} first. */
        static Listener both(Listener first, Listener second) {
            return new Listener() {
                @Override
                public void onViewChanged(View previous, View current) {
                    first.onViewChanged(previous, current);
                    second.onViewChanged(previous, current);
                }

                @Override
                public void onLeaderChanged(Upstream previous, Upstream current, long epoch, String reason) {
                    first.onLeaderChanged(previous, current, epoch, reason);
                    second.onLeaderChanged(previous, current, epoch, reason);
                }
            };
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final GrpcClient health;
    private final UpstreamConnections connections;
    private final List<Upstream> upstreams;
    private final RouterConfig config;
    private final Listener listener;
    private volatile View view;
    private volatile long highestEpoch;
    private long periodicId = -1;
    /** The fast checks while there is no leader ({@link #checkFastWhileLeaderless}); -1 when none run. */
    private long fastId = -1;
    private long leaderlessSinceNanos;
    private volatile boolean closed;

    public LeaderTracker(Vertx vertx, Context context, GrpcClient health, UpstreamConnections connections,
            List<Upstream> upstreams, RouterConfig config, Listener listener) {
        this.vertx = vertx;
        this.connections = connections;
        this.context = context;
        this.health = health;
        this.upstreams = List.copyOf(upstreams);
        this.config = config;
        this.listener = listener;
        this.view = new View(null, 0, List.of(), "no health check has answered yet");
    }

    public View view() {
        return view;
    }

    public List<Upstream> upstreams() {
        return upstreams;
    }

    /** Starts checking (call on the tracker's context). */
    public void start() {
        checkAll();
        periodicId = vertx.setPeriodic(config.healthCheckIntervalMs(), id -> checkAll());
    }

    public void stop() {
        closed = true;
        context.runOnContext(v -> {
            if (periodicId >= 0) {
                vertx.cancelTimer(periodicId);
            }
            if (fastId >= 0) {
                vertx.cancelTimer(fastId);
            }
        });
    }

    /**
     * While no upstream leads, every upstream is checked every {@link #fastIntervalMs} instead of every interval, for at
     * most {@link #FAST_CHECKS_MS}: calls are held meanwhile, and a new leader found 200 ms late was most of what a
     * planned switchover cost after the node's own steps (measured). Bounded, so a long outage costs no more checks
     * than usual after its first seconds.
     */
    private void checkFastWhileLeaderless() {
        if (fastId >= 0 || closed) {
            return;
        }
        leaderlessSinceNanos = System.nanoTime();
        fastId = vertx.setPeriodic(fastIntervalMs(), id -> {
            if (closed || view.hasLeader() || System.nanoTime() - leaderlessSinceNanos > FAST_CHECKS_MS * 1_000_000L) {
                vertx.cancelTimer(id);
                fastId = -1;
                return;
            }
            checkAll();
        });
    }

    /** How long, after the leader is lost, the fast checks run at most. */
    static final long FAST_CHECKS_MS = 10_000;

    /** The fast checks' period: a tenth of the health-check interval, 10 ms at least. */
    long fastIntervalMs() {
        return Math.max(10, config.healthCheckIntervalMs() / 10);
    }

    /** The coordinator's push: {@code region} leads with {@code epoch}. Any thread. */
    public void onLeaderChange(String region, long epoch) {
        context.runOnContext(v -> {
            if (epoch > highestEpoch) {
                LOG.info(() -> "coordinator: region " + region + " leads with epoch " + epoch + " (highest seen was "
                        + highestEpoch + ")");
                highestEpoch = epoch;
                recompute("the coordinator says " + region + " leads with epoch " + epoch);
            }
            checkAll();
        });
    }

    /** A call was told "not the leader" by {@code u}: check it now instead of at the next tick. Any thread. */
    public void suspect(Upstream u) {
        context.runOnContext(v -> check(u));
    }

    /** The breaker of {@code u} changed: re-evaluate now and, after an ejection, again when it ends. Any thread. */
    public void onBreaker(Upstream u, Breaker.Transition t) {
        context.runOnContext(v -> {
            if (t == Breaker.Transition.OPENED) {
                long waitMs = Math.max(1, (u.breaker().openUntilNanos() - System.nanoTime()) / 1_000_000L + 1);
                LOG.warning(() -> "upstream " + u + " ejected for " + waitMs + " ms after "
                        + config.outlierFailures() + " consecutive failed calls");
                if (u == view.leader()) {
                    u.cut("region " + u.region() + " was ejected after consecutive failures", false);
                }
                vertx.setTimer(waitMs, id -> recompute("the ejection of " + u.region() + " ended"));
            }
            recompute("breaker of " + u.region() + ": " + t);
        });
    }

    private void checkAll() {
        if (closed) {
            return;
        }
        long now = System.nanoTime();
        for (Upstream u : upstreams) {
            if (u.checkInFlight && now - u.checkStartedNanos > (config.healthCheckTimeoutMs() * 2 + 1000) * 1_000_000L) {
                // A check that never completed: count it as failed and start a new one.
                u.checkInFlight = false;
                onCheck(u, u.checkSeq, null, "health check did not complete");
            }
            check(u);
        }
    }

    private record Answer(HealthCheckResponse.ServingStatus status, long epoch, String region, String role, long stalenessMs) {}

    /** A standby's {@code x-ledger-staleness-ms}: a number, "unknown" (cannot tell), or absent (an older node). */
    static long parseStaleness(String header) {
        if (header == null || header.isEmpty()) {
            return Upstream.STALENESS_NOT_REPORTED;
        }
        try {
            long ms = Long.parseLong(header.trim());
            return ms < 0 ? Long.MAX_VALUE : ms;
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    private void check(Upstream u) {
        if (closed || u.checkInFlight) {
            return;
        }
        u.checkInFlight = true;
        u.checkStartedNanos = System.nanoTime();
        long seq = ++u.checkSeq;
        health.request(u.address(), CHECK).compose(req -> {
            req.timeout(config.healthCheckTimeoutMs(), TimeUnit.MILLISECONDS);
            req.end(HealthCheckRequest.getDefaultInstance());
            return req.response();
        }).compose((GrpcClientResponse<HealthCheckRequest, HealthCheckResponse> resp) -> {
            long epoch = parseEpoch(resp.headers().get(EPOCH_HEADER));
            String region = orEmpty(resp.headers().get(REGION_HEADER));
            String role = orEmpty(resp.headers().get(ROLE_HEADER));
            long staleness = parseStaleness(resp.headers().get(STALENESS_HEADER));
            return resp.last().map(msg -> new Answer(msg.getStatus(), epoch, region, role, staleness))
                    .recover(err -> Future.failedFuture("health check answered " + resp.status()
                            + (resp.statusMessage() == null ? "" : ": " + resp.statusMessage())));
        }).onComplete(ar -> context.runOnContext(v -> {
            if (seq != u.checkSeq) {
                return; // a newer check has started since (this one was given up)
            }
            u.checkInFlight = false;
            onCheck(u, seq, ar.succeeded() ? ar.result() : null, ar.succeeded() ? null : describe(ar.cause()));
        }));
    }

    private void onCheck(Upstream u, long seq, Answer a, String error) {
        if (closed) {
            return;
        }
        u.lastCheckNanos = System.nanoTime();
        u.checked = true;
        String before = describe(u);
        if (a != null) {
            u.checkFailures = 0;
            u.reachable = true;
            u.serving = a.status() == HealthCheckResponse.ServingStatus.SERVING;
            u.epoch = a.epoch();
            u.reportedRegion = a.region();
            u.role = a.role();
            u.stalenessMs = a.stalenessMs();
            u.stalenessAtNanos = u.checkStartedNanos;
            u.lastError = "";
            if (a.epoch() > highestEpoch) {
                long old = highestEpoch;
                highestEpoch = a.epoch();
                LOG.info(() -> "epoch " + a.epoch() + " seen at " + u + " (highest was " + old + ")");
                // Its holder may already serve: ask the others now rather than at the next tick.
                for (Upstream other : upstreams) {
                    if (other != u) {
                        check(other);
                    }
                }
            }
        } else {
            u.checkFailures++;
            u.lastError = error;
            if (u.checkFailures >= config.healthCheckFailures()) {
                if (u.reachable) {
                    LOG.warning(() -> "upstream " + u + " unreachable after " + u.checkFailures + " failed health checks: " + error);
                }
                u.reachable = false;
                u.serving = false;
            }
        }
        String after = describe(u);
        if (!before.equals(after)) {
            recompute("health of " + u.region() + ": " + after);
        }
        if (!u.reachable && a == null) {
            // After its calls were cut (recompute), and at every failed check from then on: a connection opened during
            // a silent cut stalls as well (UpstreamConnections says why).
            connections.closeTo(u.address(), "region " + u.region() + " is unreachable (" + error + ")");
        }
    }

    /** Re-derives the leader from what is known; cuts and wakes as needed. Tracker context only. */
    private void recompute(String reason) {
        if (closed) {
            return;
        }
        View previous = view;
        List<Upstream> serving = new ArrayList<>();
        List<Upstream> standbys = new ArrayList<>();
        for (Upstream u : upstreams) {
            if (!u.reachable) {
                continue;
            }
            if (u.serving && u.epoch == highestEpoch) {
                serving.add(u);
            } else if (!u.serving && u.epoch == highestEpoch) {
                standbys.add(u);
            }
        }
        Upstream leader = null;
        String explanation;
        if (serving.size() == 1) {
            leader = serving.get(0);
            explanation = "leader is " + leader.region() + " with epoch " + highestEpoch;
        } else if (serving.isEmpty()) {
            explanation = "no leader: no reachable upstream serves with the highest epoch " + highestEpoch
                    + staleServers();
        } else {
            explanation = "no leader: " + serving + " all serve with epoch " + highestEpoch + "; routing to none of them";
            LOG.severe(() -> "two upstreams serve with the same epoch " + highestEpoch + ": " + serving);
        }
        View current = new View(leader, highestEpoch, List.copyOf(standbys), explanation);
        view = current;
        if (leader == null) {
            checkFastWhileLeaderless();
        }
        for (Upstream u : upstreams) {
            boolean wasUsable = previous.leader() == u || previous.standbys().contains(u);
            if (wasUsable && !u.reachable) {
                int n = u.cut("region " + u.region() + " is unreachable: " + u.lastError, false);
                if (n > 0) {
                    LOG.warning(() -> "cut " + n + " calls in flight to unreachable " + u);
                }
            }
        }
        if (previous.leader() != leader) {
            Upstream old = previous.leader();
            long epoch = highestEpoch;
            LOG.info(() -> "leader: " + (old == null ? "none" : old.region() + "@" + old.epoch()) + " -> "
                    + (current.leader() == null ? "none" : current.leader().region() + "@" + epoch) + " (" + reason + ")");
            if (old != null) {
                int n = old.cut("region " + old.region() + " is no longer the leader (" + reason + ")", true);
                if (n > 0) {
                    LOG.info(() -> "cut " + n + " calls in flight to the former leader " + old.region());
                }
            }
            listener.onLeaderChanged(old, leader, epoch, reason);
        }
        listener.onViewChanged(previous, current);
    }

    private String staleServers() {
        StringBuilder sb = new StringBuilder();
        for (Upstream u : upstreams) {
            if (u.reachable && u.serving && u.epoch < highestEpoch) {
                sb.append("; ").append(u.region()).append(" serves with the deposed epoch ").append(u.epoch);
            }
        }
        return sb.toString();
    }

    private static String describe(Upstream u) {
        return (u.reachable ? "reachable" : "unreachable") + (u.serving ? ", SERVING" : ", NOT_SERVING") + ", epoch " + u.epoch;
    }

    private static long parseEpoch(String v) {
        if (v == null) {
            return 0;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    public long highestEpoch() {
        return highestEpoch;
    }
}
