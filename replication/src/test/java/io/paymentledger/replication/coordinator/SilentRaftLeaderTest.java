package io.paymentledger.replication.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.cp.CPGroup;
import com.hazelcast.cp.CPGroupId;
import com.hazelcast.cp.CPMember;
import com.hazelcast.cp.internal.CPMemberInfo;
import com.hazelcast.cp.internal.RaftService;
import com.hazelcast.cp.internal.raft.impl.RaftEndpoint;
import com.hazelcast.instance.impl.HazelcastInstanceProxy;
import io.paymentledger.replication.net.Ports;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #19: the CP group's Raft leader goes silent (frozen with SIGSTOP: a GC or VM pause; a cut link looks the
 * same) while the other two members, a majority, are fine. Hazelcast keeps sending every member's CP calls to the
 * silent leader until it drops it from the cluster; the two others must be served by the leader they elect instead,
 * well before that: the lock holder keeps its lock (its CP session stays alive) and the other member's calls are
 * answered while the old Raft leader is still frozen.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SilentRaftLeaderTest {

    static final Duration CALL_TIMEOUT = Duration.ofMillis(1_500);
    /**
     * Shorter than Hazelcast's member removal (10 s), so what answers here is the new Raft leader, not the removal; long
     * enough for an election on a loaded 2-core CI machine (4.5 s was not, once: no call answered in the window).
     */
    static final long FROZEN_MS = 8_000;
    static final List<String> NAMES = List.of("a", "b", "witness");

    @Test
    void whenTheRaftLeaderFreezesTheMajorityIsServedByTheLeaderItElectsAndTheLockHolderKeepsItsLock(@TempDir Path tmp)
            throws Exception {
        String cluster = "silent-raft-leader-" + Long.toHexString(System.nanoTime());
        List<Integer> ports = List.of(Ports.free(), Ports.free(), Ports.free());
        List<String> addresses = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        HazelcastCoordinator.Settings[] s = new HazelcastCoordinator.Settings[3];
        for (int i = 0; i < 3; i++) {
            // The deployment's timing (ledger-cli Coordination): session TTL 3 s, heartbeat 1 s.
            s[i] = new HazelcastCoordinator.Settings(cluster, NAMES.get(i), "127.0.0.1", ports.get(i), addresses, NAMES, 3, 1, 0,
                    CALL_TIMEOUT, 0);
        }
        try (CpMemberProcess witness = CpMemberProcess.start(s[2], tmp.resolve("witness.log"))) {
            CompletableFuture<HazelcastCoordinator> fa = CompletableFuture.supplyAsync(() -> HazelcastCoordinator.start(s[0]));
            CompletableFuture<HazelcastCoordinator> fb = CompletableFuture.supplyAsync(() -> HazelcastCoordinator.start(s[1]));
            try (HazelcastCoordinator a = fa.join(); HazelcastCoordinator b = fb.join()) {
                assertThat(HazelcastCoordinatorTest.eventually(a::tryAcquireLeadership)).isTrue();
                HazelcastCoordinatorTest.eventually(b::readRecord);
                makeRaftLeader(ports.get(2), a.instance(), b.instance());

                // Both regions' HA loops, as FailoverAgent runs them: a checks its lock, b reads the record.
                AtomicBoolean stop = new AtomicBoolean();
                AtomicBoolean aLostTheLock = new AtomicBoolean();
                AtomicInteger aChecks = new AtomicInteger();
                ConcurrentLinkedQueue<Long> bAnswered = new ConcurrentLinkedQueue<>();
                Thread aLoop = Thread.ofPlatform().daemon().start(() -> loop(stop, () -> {
                    if (!a.holdsLeadership()) {
                        aLostTheLock.set(true);
                    }
                    aChecks.incrementAndGet();
                }));
                Thread bLoop = Thread.ofPlatform().daemon().start(() -> loop(stop, () -> {
                    b.readRecord();
                    bAnswered.add(System.nanoTime());
                }));

                witness.signal("STOP");
                long frozenAt = System.nanoTime();
                Thread.sleep(FROZEN_MS);
                long thawedAt = System.nanoTime();
                witness.signal("CONT");
                Thread.sleep(2_000);
                stop.set(true);
                aLoop.join(10_000);
                bLoop.join(10_000);

                assertThat(bAnswered.stream().filter(t -> t - frozenAt > 0 && thawedAt - t > 0).count())
                        .as("b's CP calls answered while the old Raft leader was still frozen").isPositive();
                assertThat(aLostTheLock).as("a, alive and with a majority, lost its lock (its CP session expired)").isFalse();
                assertThat(aChecks.get()).isPositive();
                assertThat(HazelcastCoordinatorTest.eventually(a::holdsLeadership)).as("a holds the lock after the pause").isTrue();
                assertThat(HazelcastCoordinatorTest.eventually(b::tryAcquireLeadership)).as("b cannot take a's lock").isFalse();
            }
        }
    }

    interface CpStep {
        void run() throws Coordinator.CoordinatorUnavailable;
    }

    private static void loop(AtomicBoolean stop, CpStep step) {
        while (!stop.get()) {
            try {
                step.run();
            } catch (Coordinator.CoordinatorUnavailable e) {
                // not answered within the watchdog: the next tick tries again
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Moves the default CP group's Raft leadership to the member listening on {@code port} (Hazelcast's own transfer). */
    static void makeRaftLeader(int port, HazelcastInstance... members) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            CPGroup group = members[0].getCPSubsystem().getCPSubsystemManagementService().getCPGroup(CPGroup.DEFAULT_GROUP_NAME)
                    .toCompletableFuture().get(10, TimeUnit.SECONDS);
            CPMember target = group.members().stream().filter(m -> m.getAddress().getPort() == port).findFirst().orElseThrow();
            CPGroupId id = group.id();
            RaftEndpoint leader = raft(members[0]).getRaftNode(id) == null ? null : raft(members[0]).getRaftNode(id).getLeader();
            if (leader != null && leader.getUuid().equals(target.getUuid())) {
                return;
            }
            for (HazelcastInstance hz : members) {
                CPMember local = hz.getCPSubsystem().getLocalCPMember();
                if (leader != null && local != null && local.getUuid().equals(leader.getUuid())) {
                    try {
                        raft(hz).transferLeadership(id, (CPMemberInfo) target).get(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        // a transfer can be refused while the group is busy: look again
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("could not move the Raft leadership to port " + port);
            }
            Thread.sleep(200);
        }
    }

    static RaftService raft(HazelcastInstance hz) {
        return ((HazelcastInstanceProxy) hz).getOriginal().node.getNodeEngine().getService(RaftService.SERVICE_NAME);
    }
}
