package io.paymentledger.replication.coordinator;

import com.hazelcast.config.Config;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.cp.CPGroup;
import com.hazelcast.cp.CPMember;
import com.hazelcast.cp.session.CPSession;
import com.hazelcast.cp.session.CPSessionManagementService;
import io.paymentledger.replication.time.HazelcastClock;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import com.hazelcast.cp.CPSubsystem;
import com.hazelcast.cp.CPSubsystemManagementService;
import com.hazelcast.cp.IAtomicReference;
import com.hazelcast.cp.lock.FencedLock;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * {@link Coordinator} on Hazelcast's CP Subsystem (Raft), as an embedded member of a three-member group
 * (region a, region b, witness). The leadership lock is a CP {@code FencedLock}: its holder's CP session
 * expires {@code sessionTtlSeconds} after its last heartbeat, which bounds how long a dead leader keeps it.
 *
 * <p>A {@code FencedLock} belongs to the thread that took it, and a CP call can hang for minutes when the
 * majority is gone whatever timeout it is given; so every CP call runs on one dedicated owner thread and the
 * caller waits at most {@code callTimeout} (the watchdog). The CP group is never {@code reset()}: that would
 * restart fencing tokens.
 *
 * <p>Hazelcast's open-source edition has no TLS and no member authentication: members bind to 127.0.0.1
 * (or the interfaces given) and join only the explicit member list. Safety does not rest on it: the epoch is
 * checked in PostgreSQL by every write.
 */
public final class HazelcastCoordinator implements Coordinator {

    private static final Logger LOG = Logger.getLogger(HazelcastCoordinator.class.getName());
    private static final String LOCK = "ledger-leader";
    private static final String RECORD = "ledger-cluster";
    private static final String REPORT_PREFIX = "ledger-report-";
    /** Each member publishes its CP identity here ("<cp uuid>,<epoch ms>", empty uuid when not a CP member). */
    private static final String CP_IDENTITY_PREFIX = "ledger-cp-";
    private static final long CP_IDENTITY_FRESH_MS = 10_000;
    /**
     * The death probe ({@link #memberProcessGone}) connects to the leader's member port every HA tick and closes at
     * once; Hazelcast logs each such connection's close at INFO. Its real connection failures are WARNING (and
     * reported again by its membership and Raft classes), so INFO from this one class is dropped. A static reference:
     * java.util.logging forgets the level of a logger nobody holds.
     */
    private static final Logger TCP_CONNECTION_LOG = Logger.getLogger("com.hazelcast.internal.server.tcp.TcpServerConnection");

    static {
        TCP_CONNECTION_LOG.setLevel(Level.WARNING);
        // Before any member starts: a step of the host's wall clock must not cut a member out of the cluster.
        HazelcastClock.install();
    }

    private static final String WAL_KEEPER_REPORT = "ledger-walkeeper";
    /** A call that waited for the previous one still gets at least this long to answer. */
    private static final long MIN_CALL_WAIT_MS = 100;
    /** How long a connection attempt to a member may take before we stop calling it "refused". */
    private static final int DEATH_PROBE_TIMEOUT_MS = 200;

    /**
     * @param clusterName             Hazelcast cluster name (isolates deployments on one host)
     * @param memberName              this member's name in logs ("a", "b", "witness")
     * @param host                    interface to bind (127.0.0.1 locally)
     * @param port                    this member's port
     * @param members                 every member's host:port, this one included
     * @param memberNames             every member's name (this one included), e.g. a, b, witness
     * @param sessionTtlSeconds       CP session TTL: how long a dead leader still holds the lock
     * @param heartbeatSeconds        CP session heartbeat interval (< TTL)
     * @param missingMemberRemovalSeconds  a CP member gone this long is removed from the group (>= TTL)
     * @param callTimeout             watchdog on every CP call
     * @param leadershipPriority      Raft leadership preference; 0 everywhere in our deployments (see the note in
     *                                {@link #config}: a preferred member that dies becomes a transfer target that
     *                                freezes the group until its old incarnation is removed)
     */
    public record Settings(String clusterName, String memberName, String host, int port, List<String> members,
            List<String> memberNames,
            int sessionTtlSeconds, int heartbeatSeconds, int missingMemberRemovalSeconds, Duration callTimeout,
            int leadershipPriority) {

        public Settings {
            members = List.copyOf(members);
            memberNames = List.copyOf(memberNames);
            if (heartbeatSeconds < 1 || sessionTtlSeconds <= heartbeatSeconds) {
                throw new IllegalArgumentException("need 1 <= heartbeatSeconds < sessionTtlSeconds, got "
                        + heartbeatSeconds + " / " + sessionTtlSeconds);
            }
            if (missingMemberRemovalSeconds != 0 && missingMemberRemovalSeconds < sessionTtlSeconds) {
                throw new IllegalArgumentException("missingMemberRemovalSeconds must be 0 or >= sessionTtlSeconds");
            }
            if (members.size() < 3) {
                throw new IllegalArgumentException("the CP group needs 3 members (two regions and a witness), got " + members);
            }
        }
    }

    private final Settings settings;
    private final HazelcastInstance hz;
    /** Runs every CP call; replaced when a hung call is abandoned ({@link #call}). */
    private volatile java.util.concurrent.ThreadPoolExecutor owner;
    /** The one CP call allowed to be outstanding (see {@link #call}). */
    private final Semaphore slot = new Semaphore(1);
    /** Calls given up on whose owner thread is still blocked in Hazelcast (at most {@link #ABANDONED_CALLS_MAX}). */
    private final java.util.concurrent.atomic.AtomicInteger abandonedCalls = new java.util.concurrent.atomic.AtomicInteger();
    private final RaftLeaderSteering steering;
    private volatile boolean closed;
    private volatile java.nio.file.Path raftLeaderWish;

    /**
     * Hazelcast's thread id for every CP call of this coordinator. A {@code FencedLock} belongs to (CP session, thread
     * id); with one logical id, an owner thread that replaces a hung one still owns what its predecessor took.
     */
    static final long LOCK_OWNER_THREAD_ID = 0x1ed6e7L;
    /**
     * How many hung calls may be left behind (each holds a blocked thread until Hazelcast answers it: at the latest when
     * the silent member is dropped from the cluster, {@link #MAX_NO_HEARTBEAT_SECONDS}). Beyond, the next call waits for
     * the hung one as before: with the majority gone, nothing piles up.
     */
    static final int ABANDONED_CALLS_MAX = 3;

    private HazelcastCoordinator(Settings settings) {
        this.settings = settings;
        this.owner = newOwner(settings.memberName());
        this.hz = Hazelcast.newHazelcastInstance(config(settings));
        this.steering = new RaftLeaderSteering(hz, settings.memberName());
        LOG.info(() -> "coordinator: member " + settings.memberName() + " joined cluster " + settings.clusterName()
                + " (" + hz.getCluster().getMembers().size() + " members)");
    }

    private static java.util.concurrent.ThreadPoolExecutor newOwner(String memberName) {
        return new java.util.concurrent.ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
                new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(() -> {
                        com.hazelcast.internal.util.ThreadUtil.setThreadId(LOCK_OWNER_THREAD_ID);
                        r.run();
                    }, "cp-owner-" + memberName);
                    t.setDaemon(true);
                    return t;
                });
    }

    /** Starts the embedded member and joins the cluster (blocks until joined). */
    public static HazelcastCoordinator start(Settings settings) {
        return new HazelcastCoordinator(settings);
    }

    /** How often a member looks for the rest of its cluster after a partition (split-brain merge check). */
    static final int MERGE_CHECK_SECONDS = 5;
    /** A member silent this long is dropped from the cluster (Hazelcast's member failure detection). */
    static final int MAX_NO_HEARTBEAT_SECONDS = Integer.getInteger("ledger.cp.maxNoHeartbeatSeconds", 10);
    /**
     * Steering CP calls to the Raft leader this member knows, and leaving hung calls behind ({@link #call}); on unless
     * {@code -Dledger.cp.steer=false} (to compare with Hazelcast's own behaviour, or should its internals change).
     */
    static final boolean STEER = !"false".equals(System.getProperty("ledger.cp.steer"));
    /** Raft's leader election timeout (see {@link #config}); {@code -Dledger.cp.electionTimeoutMs} to compare. */
    static final int RAFT_ELECTION_TIMEOUT_MS = Integer.getInteger("ledger.cp.electionTimeoutMs", 500);

    static Config config(Settings s) {
        Config c = new Config().setClusterName(s.clusterName()).setInstanceName("ledger-" + s.memberName());
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.shutdownhook.enabled", "false");
        c.setProperty("hazelcast.logging.type", "jdk");
        // Join quickly: the member list is explicit, there is nothing to wait for.
        c.setProperty("hazelcast.wait.seconds.before.join", "1");
        c.setProperty("hazelcast.max.wait.seconds.before.join", "3");
        // A member that stops answering is declared gone after 10 missed 1 s heartbeats (Hazelcast's default is 60 s).
        // Not 5 s, as Hazelcast's Jepsen set-up has it: tried (issue #19), and a partition between the two regions longer
        // than that made the master drop the region it could not hear, whose CP calls were then refused: a failover,
        // where the leader and the witness were a majority. A silent CP Raft leader no longer needs the removal to be
        // left behind (RaftLeaderSteering). Margin against a false removal: 10 s of silence; a GC pause of 1-2 s or
        // round trips of tens of ms between regions are far from it (the CP session TTL, 3 s, is the tighter bound).
        c.setProperty("hazelcast.max.no.heartbeat.seconds", Integer.toString(MAX_NO_HEARTBEAT_SECONDS));
        c.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        // A member cut off from the others (a partition, not a crash) forms a cluster of its own; once the link is back,
        // Hazelcast merges the clusters only when its split-brain check runs: by default 300 s after start, then every
        // 120 s — minutes during which the healed region can neither lead nor stand by. Check every few seconds.
        c.setProperty("hazelcast.merge.first.run.delay.seconds", Integer.toString(MERGE_CHECK_SECONDS));
        c.setProperty("hazelcast.merge.next.run.delay.seconds", Integer.toString(MERGE_CHECK_SECONDS));
        // No member is preferred as Raft leader, and Hazelcast never moves Raft leaderships about by itself. Its
        // leadership rebalance (every 60 s by default) asks each listed CP member's address how many groups it leads:
        // a dead incarnation's address is answered by the restarted process there (not yet a CP member, leading
        // nothing), so the dead identity looks like the best target. With the witness preferred (priority 10) it moved
        // leadership to the witness's dead incarnation (CI run of 2026-11-28, drill kill_witness); with equal
        // priorities it still moves the 'default' group away from a member that leads both groups, and did so to the
        // standby's dead incarnation after `./ledger kill node-b` (2026-12-07): the group froze until the transfer
        // timed out, the leader's CP calls hung, and a healthy leader fenced itself and took over again (a new epoch,
        // a write gap). One 'default' group has nothing to balance; losing any one member costs at most one Raft
        // election (~1.5 s), never a failover. (Drills place the Raft leader themselves: RaftLeaderSteering.)
        c.setProperty("hazelcast.raft.leadership.rebalance.period", Integer.toString(Integer.MAX_VALUE));
        NetworkConfig n = c.getNetworkConfig().setPort(s.port()).setPortAutoIncrement(false);
        n.getInterfaces().setEnabled(true).addInterface(s.host());
        n.getJoin().getMulticastConfig().setEnabled(false);
        n.getJoin().getAutoDetectionConfig().setEnabled(false);
        var tcp = n.getJoin().getTcpIpConfig().setEnabled(true);
        s.members().forEach(tcp::addMember);
        c.getCPSubsystemConfig().setCPMemberCount(3).setGroupSize(3)
                .setSessionTimeToLiveSeconds(s.sessionTtlSeconds())
                .setSessionHeartbeatIntervalSeconds(s.heartbeatSeconds())
                .setMissingCPMemberAutoRemovalSeconds(s.missingMemberRemovalSeconds())
                .setFailOnIndeterminateOperationState(true)
                .setCPMemberPriority(s.leadershipPriority());
        // Raft defaults notice a dead CP leader only after 5 missed 5 s heartbeats (25 s): too slow for the RTO.
        // The election timeout (Hazelcast adds 0-1 s at random) paces three things: how often a follower checks its
        // leader, how long a follower refuses a pre-vote after the leader's last append, and how long a refused
        // candidate waits to try again. A killed Raft leader was noticed at once (its port refuses) but the other
        // follower, which had heard from it within the window, refused the first pre-vote: 1000 ms cost ~2.6 s of
        // re-election (kill_leader_node with the Raft leader in the leading region: 4.1-4.8 s outage, median 4.7 s).
        // 500 ms: 3.2-4.3 s, median 3.6 s (runbooks/chaos.md has the table). Against a false election the missed-heartbeat bound
        // (3 x 500 ms, unchanged) decides, not this; and a Raft leader change costs a stall of CP calls, never a
        // failover (sessions and the leader lock survive it).
        c.getCPSubsystemConfig().getRaftAlgorithmConfig().setLeaderHeartbeatPeriodInMillis(500)
                .setMaxMissedLeaderHeartbeatCount(3).setLeaderElectionTimeoutInMillis(RAFT_ELECTION_TIMEOUT_MS);
        return c;
    }

    public HazelcastInstance instance() {
        return hz;
    }

    private CPSubsystem cp() {
        return hz.getCPSubsystem();
    }

    private FencedLock lock() {
        return cp().getLock(LOCK);
    }

    /**
     * Runs a CP call on the owner thread with the watchdog. At most one call is ever outstanding: a call that
     * hangs (the majority is gone) is interrupted at its deadline, and until it has really returned the next
     * caller waits (at most one timeout) and then fails without queueing — queued calls would otherwise pile up
     * and run minutes later, long after anyone wanted them (a stale release or record update).
     */
    private <T> T call(String what, Callable<T> body) throws CoordinatorUnavailable {
        if (closed) {
            throw new CoordinatorUnavailable(what + ": coordinator closed", null);
        }
        long timeoutMs = settings.callTimeout().toMillis();
        long startedNanos = System.nanoTime();
        try {
            if (!slot.tryAcquire(timeoutMs, TimeUnit.MILLISECONDS)) {
                throw new CoordinatorUnavailable(what + ": the previous CP call has not returned for over " + timeoutMs
                        + " ms (quorum lost?); not queueing another", null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CoordinatorUnavailable(what + ": interrupted", e);
        }
        // Hazelcast sends a CP call to the member it last saw lead, and forgets it only on a reply naming another, a
        // member-left event or an I/O error: a leader that went silent (cut off, paused) keeps every call, session
        // heartbeats included, until it is dropped from the cluster. This member's own Raft node knows better as soon
        // as the others elected a new leader.
        if (STEER) {
            steering.steer();
        }
        // 0: running, 1: returned, 2: abandoned (given up on while it runs; its thread is left to Hazelcast)
        java.util.concurrent.atomic.AtomicInteger outcome = new java.util.concurrent.atomic.AtomicInteger();
        AtomicBoolean started = new AtomicBoolean();
        Future<T> f;
        try {
            f = owner.submit(() -> {
                if (!started.compareAndSet(false, true)) {
                    return null; // given up before it started; the slot was handed back then
                }
                try {
                    return body.call();
                } finally {
                    if (outcome.compareAndSet(0, 1)) {
                        slot.release();
                    } else {
                        abandonedCalls.decrementAndGet();
                    }
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            slot.release();
            throw new CoordinatorUnavailable(what + ": coordinator closed", e);
        }
        long leftMs = Math.max(MIN_CALL_WAIT_MS, timeoutMs - (System.nanoTime() - startedNanos) / 1_000_000);
        try {
            return f.get(leftMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            if (started.compareAndSet(false, true)) {
                slot.release();
            } else {
                f.cancel(true);
                if (STEER) {
                    abandonIfBounded(what, outcome);
                }
            }
            if (STEER) {
                steering.steer();
            }
            throw new CoordinatorUnavailable(what + ": no answer from the CP group within " + timeoutMs
                    + " ms (quorum lost?)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CoordinatorUnavailable(what + ": interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new CoordinatorUnavailable(what + ": " + e.getCause(), e.getCause());
        }
    }

    /**
     * A CP call that hung is not interruptible (Hazelcast joins its invocation uninterruptibly): unless too many are
     * already left behind, leave it to finish on its own thread and give the next call a fresh owner thread, so the
     * next call — sent to the leader this member's Raft node now knows — need not wait for the hung one.
     */
    private void abandonIfBounded(String what, java.util.concurrent.atomic.AtomicInteger outcome) {
        int n = abandonedCalls.incrementAndGet();
        if (n > ABANDONED_CALLS_MAX || !outcome.compareAndSet(0, 2)) {
            // Too many left behind: the slot stays taken until the hung call returns, as before (no pile-up). Or it
            // returned just now and released the slot itself.
            abandonedCalls.decrementAndGet();
            return;
        }
        java.util.concurrent.ThreadPoolExecutor previous = owner;
        owner = newOwner(settings.memberName());
        previous.shutdown(); // its thread ends once the hung call returns
        slot.release();
        LOG.info(() -> "coordinator: " + what + " hung; left it to Hazelcast (" + n + " left behind) and moved on to a"
                + " fresh owner thread");
    }

    /** Calls waiting on the owner thread behind the one running (the watchdog keeps this at 0). */
    int queuedCalls() {
        return ((java.util.concurrent.ThreadPoolExecutor) owner).getQueue().size();
    }

    @Override
    public boolean tryAcquireLeadership() throws CoordinatorUnavailable {
        return call("take the leader lock", () -> lock().tryLock());
    }

    @Override
    public boolean holdsLeadership() throws CoordinatorUnavailable {
        return call("check the leader lock", () -> {
            try {
                return lock().isLockedByCurrentThread();
            } catch (com.hazelcast.cp.lock.exception.LockOwnershipLostException lost) {
                return false;
            }
        });
    }

    @Override
    public void releaseLeadership() throws CoordinatorUnavailable {
        call("release the leader lock", () -> {
            FencedLock l = lock();
            try {
                while (l.isLockedByCurrentThread()) {
                    l.unlock();
                }
            } catch (IllegalMonitorStateException lost) {
                // already not ours
            }
            return null;
        });
    }

    @Override
    public ClusterRecord readRecord() throws CoordinatorUnavailable {
        return call("read the cluster record", () -> ClusterRecord.fromJson(this.<String>ref(RECORD).get()));
    }

    @Override
    public boolean compareAndSetRecord(ClusterRecord expected, ClusterRecord next) throws CoordinatorUnavailable {
        return call("update the cluster record", () -> {
            IAtomicReference<String> ref = ref(RECORD);
            String current = ref.get();
            if (!ClusterRecord.fromJson(current).equals(expected)) {
                return false;
            }
            return ref.compareAndSet(current, next.toJson());
        });
    }

    @Override
    public void report(String region, RegionReport report) throws CoordinatorUnavailable {
        call("report region " + region, () -> {
            this.<String>ref(REPORT_PREFIX + region).set(report.databaseUp() + "," + report.databasePrimary() + ","
                    + report.databaseEpoch() + "," + report.reportedAtMs() + "," + report.ledgerTimeNs());
            return null;
        });
    }

    @Override
    public Map<String, RegionReport> reports(Collection<String> regions) throws CoordinatorUnavailable {
        return call("read region reports", () -> {
            Map<String, RegionReport> out = new HashMap<>();
            for (String region : regions) {
                String v = this.<String>ref(REPORT_PREFIX + region).get();
                if (v != null) {
                    String[] p = v.split(",");
                    // Reports of nodes from before the ledger time was published have four fields.
                    out.put(region, new RegionReport(Boolean.parseBoolean(p[0]), Boolean.parseBoolean(p[1]),
                            Long.parseLong(p[2]), Long.parseLong(p[3]), p.length > 4 ? Long.parseLong(p[4]) : 0));
                }
            }
            return out;
        });
    }

    @Override
    public void reportWalKeeper(WalKeeperReport report) throws CoordinatorUnavailable {
        call("publish the WAL keeper's report", () -> {
            this.<String>ref(WAL_KEEPER_REPORT).set(report.toJson());
            return null;
        });
    }

    @Override
    public WalKeeperReport walKeeperReport() throws CoordinatorUnavailable {
        return call("read the WAL keeper's report", () -> WalKeeperReport.fromJson(this.<String>ref(WAL_KEEPER_REPORT).get()));
    }

    private Map<String, String> addressByName() {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < settings.memberNames().size() && i < settings.members().size(); i++) {
            m.put(settings.memberNames().get(i), settings.members().get(i));
        }
        return m;
    }

    /** host:port of a member by name, or null. */
    private String addressOf(String memberName) {
        int i = settings.memberNames().indexOf(memberName);
        return i < 0 || i >= settings.members().size() ? null : settings.members().get(i);
    }

    @Override
    public boolean memberProcessGone(String memberName) {
        String address = addressOf(memberName);
        if (address == null || memberName.equals(settings.memberName())) {
            return false;
        }
        int colon = address.lastIndexOf(':');
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))),
                    DEATH_PROBE_TIMEOUT_MS);
            return false;
        } catch (java.net.ConnectException refused) {
            return true;
        } catch (java.io.IOException cannotTell) {
            // A timeout or an unreachable network proves nothing: the process may be alive behind it.
            return false;
        }
    }

    @Override
    public int forceCloseSessionsOf(String memberName) throws CoordinatorUnavailable {
        String address = addressOf(memberName);
        if (address == null) {
            return 0;
        }
        return call("close the CP sessions of " + memberName + "'s dead process", () -> {
            CPSessionManagementService sessions = cp().getCPSessionManagementService();
            List<Long> ids = sessions.getAllSessions(CPGroup.DEFAULT_GROUP_NAME).toCompletableFuture()
                    .get(settings.callTimeout().toMillis(), TimeUnit.MILLISECONDS).stream()
                    .filter(s -> s.endpointType() == CPSession.CPSessionOwnerType.SERVER
                            && address.equals(s.endpoint().getHost() + ":" + s.endpoint().getPort()))
                    .map(CPSession::id).toList();
            // Listed first, checked after: a process that listens again now may own sessions opened after the
            // listing, never one of these.
            if (ids.isEmpty() || !memberProcessGone(memberName)) {
                return 0;
            }
            int closed = 0;
            for (long id : ids) {
                if (sessions.forceCloseSession(CPGroup.DEFAULT_GROUP_NAME, id).toCompletableFuture()
                        .get(settings.callTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                    closed++;
                }
            }
            int n = closed;
            LOG.warning(() -> "coordinator: closed " + n + " CP session(s) of " + memberName + " (" + address
                    + " refuses connections: its process is gone)");
            return closed;
        });
    }

    private <T> IAtomicReference<T> ref(String name) {
        return cp().getAtomicReference(name);
    }

    /**
     * Honour wishes for the CP Raft leader's placement written into {@code file} (drills only; see
     * {@link RaftLeaderSteering#honourWish}); checked at every {@link #maintain}.
     */
    public void raftLeaderWishFile(java.nio.file.Path file) {
        this.raftLeaderWish = file;
    }

    @Override
    public String maintain() {
        String wish = steering.honourWish(raftLeaderWish, addressByName());
        if (!wish.isEmpty()) {
            LOG.info(() -> "coordinator " + settings.memberName() + ": " + wish);
        }
        String outcome = ensureCpMember();
        try {
            call("publish my CP identity", () -> {
                CPMember local = cp().getLocalCPMember();
                this.<String>ref(CP_IDENTITY_PREFIX + settings.memberName())
                        .set((local == null ? "" : local.getUuid().toString()) + "," + HazelcastClock.stampMillis());
                return null;
            });
        } catch (CoordinatorUnavailable e) {
            return outcome + "; could not publish my CP identity: " + e.getMessage();
        }
        return outcome;
    }

    /**
     * Makes this member a CP member again after a restart (open-source CP members come back with a new identity):
     * removes its previous incarnations, one at a time, then promotes itself once and waits for that promotion to
     * finish. Returns a sentence for the log; safe to call repeatedly, and from two threads at once (a hung call is left
     * running while the next tick calls again, {@link #call}).
     *
     * <p>While this process's promotion runs, nothing at this member's address is removed: Hazelcast gives a promoted
     * member a fresh random CP identity (not the cluster member's) and makes it the local CP member only once the CP
     * groups took it in, so a promotion in progress looks exactly like a dead incarnation. Removing it (as this method
     * once did when a tick came while its promotion ran) leaves the CP groups with two members, and the next loss of
     * either stops the CP Subsystem for good. Outside a promotion, whatever is listed at this address is a previous
     * incarnation: its process is gone, since this one holds the address.
     */
    public String ensureCpMember() {
        try {
            return call("rejoin the CP group", () -> {
                CPSubsystemManagementService mgmt = cp().getCPSubsystemManagementService();
                if (!mgmt.isDiscoveryCompleted()) {
                    return "CP discovery not completed yet";
                }
                if (cp().getLocalCPMember() != null) {
                    return "already a CP member";
                }
                long timeoutMs = settings.callTimeout().toMillis();
                synchronized (this) {
                    if (promotion != null && !promotion.isDone()) {
                        return "my promotion to CP member is in progress; waiting for it";
                    }
                    // Done and still not a CP member (Hazelcast makes a promotion the local CP member before its future
                    // completes): it failed, and whatever it listed is a dead identity now, removed below.
                    promotion = null;
                }
                var me = hz.getCluster().getLocalMember().getAddress();
                List<CPMember> previous = mgmt.getCPMembers().toCompletableFuture().get(timeoutMs, TimeUnit.MILLISECONDS)
                        .stream().filter(m -> m.getAddress().equals(me)).toList();
                synchronized (this) {
                    // A call left behind can list after another thread asked for a promotion (set before Hazelcast lists
                    // it): then the listing may hold that promotion's identity, which is not to be removed.
                    if (promotion != null) {
                        return "my promotion to CP member is in progress; waiting for it";
                    }
                }
                if (!previous.isEmpty()) {
                    // Its future ends with the CP groups' change; promoted at a later call, once none is listed.
                    CPMember m = previous.get(0);
                    mgmt.removeCPMember(m.getUuid()).toCompletableFuture().get(timeoutMs * 3, TimeUnit.MILLISECONDS);
                    LOG.warning(() -> "coordinator: removed my previous CP incarnation " + m.getUuid());
                    return "removed my previous CP incarnation " + m.getUuid() + "; promoting once none is listed";
                }
                java.util.concurrent.CompletableFuture<Void> asked;
                synchronized (this) {
                    if (promotion != null) {
                        return "my promotion to CP member is in progress; waiting for it";
                    }
                    asked = mgmt.promoteToCPMember().toCompletableFuture();
                    promotion = asked;
                }
                asked.get(timeoutMs * 3, TimeUnit.MILLISECONDS);
                return "promoted to CP member";
            });
        } catch (CoordinatorUnavailable e) {
            return "cannot rejoin the CP group yet: " + e.getMessage();
        }
    }

    /** This process's promotion to CP member once asked for ({@link #ensureCpMember}); never asked twice at once. */
    private java.util.concurrent.CompletableFuture<Void> promotion;

    /**
     * How many of the expected members are CP members right now, in every CP group: each publishes its own CP identity
     * every few seconds (a restarted member comes back with a new one, and is not a CP member until it rejoined), and
     * counts only if that identity is in the CP member list and was published recently. The answer is the smallest
     * number of such live members in any CP group: a restarted member is in the CP member list before Hazelcast has
     * added it to every group, and a group still without it loses its majority with the next loss (a rolling restart
     * that went on at "3 members" stopped the CP group that way).
     */
    @Override
    public int cpMembersAlive() {
        try {
            return call("count CP members", () -> {
                CPSubsystemManagementService mgmt = cp().getCPSubsystemManagementService();
                long timeoutMs = settings.callTimeout().toMillis();
                Set<String> cpUuids = mgmt.getCPMembers().toCompletableFuture().get(timeoutMs, TimeUnit.MILLISECONDS).stream()
                        .map(m -> m.getUuid().toString()).collect(Collectors.toSet());
                long now = HazelcastClock.stampMillis();
                Set<String> alive = new java.util.HashSet<>();
                for (String name : settings.memberNames()) {
                    String v = this.<String>ref(CP_IDENTITY_PREFIX + name).get();
                    if (v == null) {
                        continue;
                    }
                    String[] p = v.split(",");
                    if (!p[0].isEmpty() && cpUuids.contains(p[0]) && now - Long.parseLong(p[1]) < CP_IDENTITY_FRESH_MS) {
                        alive.add(p[0]);
                    }
                }
                int fewest = alive.size();
                for (var id : mgmt.getCPGroupIds().toCompletableFuture().get(timeoutMs, TimeUnit.MILLISECONDS)) {
                    CPGroup g = mgmt.getCPGroup(id.getName()).toCompletableFuture().get(timeoutMs, TimeUnit.MILLISECONDS);
                    if (g != null) {
                        fewest = Math.min(fewest, (int) g.members().stream().filter(m -> alive.contains(m.getUuid().toString())).count());
                    }
                }
                return fewest;
            });
        } catch (CoordinatorUnavailable e) {
            return -1;
        }
    }

    @Override
    public String describe() {
        try {
            int members = hz.getCluster().getMembers().size();
            boolean cpMember = cp().getLocalCPMember() != null;
            return members + " cluster members; this member is " + (cpMember ? "" : "NOT ") + "a CP member";
        } catch (RuntimeException e) {
            return "coordinator unavailable: " + e.getMessage();
        }
    }

    /** Where nudges travel: a Hazelcast topic (AP: a lost nudge costs one tick, the record decides). */
    static final String NUDGES = "ledger-nudges";

    @Override
    public void nudge(String region) {
        try {
            hz.<String>getTopic(NUDGES).publishAsync(region);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "nudge of " + region + " not sent", e);
        }
    }

    @Override
    public void onNudge(java.util.function.Consumer<String> listener) {
        hz.<String>getTopic(NUDGES).addMessageListener(m -> listener.accept(m.getMessageObject()));
    }

    @Override
    public void close() {
        closed = true;
        owner.shutdownNow();
        try {
            hz.getLifecycleService().terminate();
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "terminating hazelcast", e);
        }
    }
}
