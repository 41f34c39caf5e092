package io.paymentledger.replication.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.cp.CPGroup;
import com.hazelcast.cp.CPGroupId;
import com.hazelcast.cp.CPMember;
import com.hazelcast.cp.CPSubsystemManagementService;
import io.paymentledger.replication.net.Ports;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A restarted member rejoins the CP groups as the nodes and the witness do it (their upkeep tick calls
 * {@link HazelcastCoordinator#maintain} over and over, a hung call left behind while the next tick calls again), on a
 * real three-member Hazelcast CP group in this JVM. What an operator relies on: the restarted member's new identity
 * is never asked to be removed while its promotion runs (it looks like a dead incarnation until the CP groups took it
 * in: a removal then leaves two-member groups); afterwards every CP group has three live members, and the loss of
 * another member leaves a CP group that still answers. A CI run of FailoverDrillsTest once stopped for good that way
 * (both CP groups stuck in a membership change, with three healthy processes).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CpRejoinTest {

    /** Short, so that a promotion (about a second: Hazelcast moves members between groups once a second) outlives a call. */
    static final Duration CALL_TIMEOUT = Duration.ofMillis(300);
    static final List<String> NAMES = List.of("a", "b", "witness");

    final List<HazelcastCoordinator> started = new ArrayList<>();
    final ConcurrentLinkedQueue<String> hazelcastLog = new ConcurrentLinkedQueue<>();
    final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            if (r.getMessage() != null) {
                hazelcastLog.add(r.getMessage());
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    final Logger hazelcastLogger = Logger.getLogger("com.hazelcast.cp");

    @AfterEach
    void stop() {
        hazelcastLogger.removeHandler(capture);
        started.forEach(HazelcastCoordinator::close);
    }

    /** Three members a, b, witness on free ports; their settings. */
    List<HazelcastCoordinator.Settings> startThree(Duration callTimeout) {
        String cluster = "cp-rejoin-test-" + Long.toHexString(System.nanoTime());
        List<Integer> ports = List.of(Ports.free(), Ports.free(), Ports.free());
        List<String> addresses = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<HazelcastCoordinator.Settings> settings = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            settings.add(new HazelcastCoordinator.Settings(cluster, NAMES.get(i), "127.0.0.1", ports.get(i), addresses, NAMES,
                    60, 1, 0, callTimeout, 0));
        }
        List<java.util.concurrent.CompletableFuture<HazelcastCoordinator>> starting = settings.stream()
                .map(s -> java.util.concurrent.CompletableFuture.supplyAsync(() -> HazelcastCoordinator.start(s))).toList();
        starting.forEach(f -> started.add(f.join()));
        return settings;
    }

    @Test
    void aRestartedMemberRejoinsWithoutEverRemovingItsOwnNewIdentity() throws Exception {
        List<HazelcastCoordinator.Settings> settings = startThree(CALL_TIMEOUT);
        HazelcastCoordinator a = started.get(0);
        HazelcastCoordinator witness = started.get(2);
        awaitWhole(List.of(a, started.get(1), witness));
        UUID oldB = started.get(1).instance().getCPSubsystem().getLocalCPMember().getUuid();

        started.get(1).close();
        HazelcastCoordinator b = HazelcastCoordinator.start(settings.get(1)); // same address, a new process as far as CP goes
        started.set(1, b);
        hazelcastLogger.addHandler(capture);

        // The upkeep ticks as the node's does, from two threads (a tick that hung is left running while the next comes).
        AtomicBoolean ticking = new AtomicBoolean(true);
        List<Thread> tickers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            tickers.add(Thread.ofPlatform().daemon().start(() -> {
                while (ticking.get()) {
                    b.maintain();
                    sleep(20);
                }
            }));
        }
        try {
            awaitWhole(List.of(a, b, witness));
            sleep(3_000); // ticks go on after the promotion: they must leave it alone too
        } finally {
            ticking.set(false);
            for (Thread t : tickers) {
                t.join(30_000);
            }
        }
        UUID newB = b.instance().getCPSubsystem().getLocalCPMember().getUuid();
        assertThat(newB).isNotEqualTo(oldB);
        assertThat(hazelcastLog.stream().filter(m -> m.contains(newB.toString()) && m.toLowerCase().contains("remov")).toList())
                .as("no request to remove b's new CP identity %s (Hazelcast's log)", newB).isEmpty();
        assertThat(a.cpMembersAlive()).as("live members in every CP group").isEqualTo(3);
        CPSubsystemManagementService mgmt = a.instance().getCPSubsystem().getCPSubsystemManagementService();
        Set<UUID> cpMembers = mgmt.getCPMembers().toCompletableFuture().get(10, TimeUnit.SECONDS).stream()
                .map(CPMember::getUuid).collect(Collectors.toSet());
        assertThat(cpMembers).as("the CP member list").contains(newB).doesNotContain(oldB).hasSize(3);
        for (CPGroupId id : mgmt.getCPGroupIds().toCompletableFuture().get(10, TimeUnit.SECONDS)) {
            CPGroup g = mgmt.getCPGroup(id.getName()).toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertThat(g.members().stream().map(CPMember::getUuid).toList()).as("members of CP group %s", id.getName())
                    .hasSize(3).contains(newB);
        }

        // Another member lost: b and the witness are a majority of every group, and the CP group goes on.
        started.remove(a);
        a.close();
        long deadline = System.nanoTime() + Duration.ofSeconds(45).toNanos();
        Exception last = null;
        boolean leads = false;
        while (System.nanoTime() < deadline && !leads) {
            try {
                leads = b.tryAcquireLeadership();
                last = null;
            } catch (Exception e) {
                last = e;
            }
            if (!leads) {
                b.maintain();
                witness.maintain();
                sleep(200);
            }
        }
        assertThat(leads).as("b takes the leader lock (a CP call) after a is gone; last failure: %s", last).isTrue();
    }

    /**
     * Hazelcast never moves a Raft leadership by itself: the drills place the Raft leader where they want it
     * (RaftLeaderSteering) and it stays there, and while a restarted member's process is still starting (its old CP
     * identity listed, its address answered by the new process) the member that leads every CP group goes on answering.
     * Hazelcast's leadership rebalance moved leaderships away from a member leading both groups, once to a dead
     * identity (a healthy leader deposed after the standby's node was killed); it is asked here to run every second
     * as Hazelcast's own setting, and the coordinator's configuration must keep it from running at all.
     */
    @Test
    void raftLeadershipStaysWherePlacedAndTheLeaderAnswersWhileARestartedMembersOldIdentityIsListed() throws Exception {
        String property = "hazelcast.raft.leadership.rebalance.period";
        System.setProperty(property, "1");
        hazelcastLogger.addHandler(capture);
        try {
            List<HazelcastCoordinator.Settings> settings = startThree(Duration.ofMillis(1_500));
            HazelcastCoordinator a = started.get(0);
            HazelcastCoordinator witness = started.get(2);
            awaitWhole(List.of(a, started.get(1), witness));
            java.nio.file.Path wish = java.nio.file.Files.createTempFile("raft-leader-wish", "");
            java.nio.file.Files.writeString(wish, "a");
            started.forEach(m -> m.raftLeaderWishFile(wish));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (java.nio.file.Files.exists(wish)) {
                started.forEach(HazelcastCoordinator::maintain);
                assertThat(System.nanoTime()).as("a leads every CP group within 60 s").isLessThan(deadline);
                sleep(100);
            }

            started.get(1).close();
            HazelcastCoordinator b = HazelcastCoordinator.start(settings.get(1)); // still starting: does not rejoin yet
            started.set(1, b);
            List<String> failures = new ArrayList<>();
            long until = System.nanoTime() + Duration.ofSeconds(6).toNanos();
            while (System.nanoTime() < until) {
                try {
                    a.readRecord();
                } catch (Coordinator.CoordinatorUnavailable e) {
                    failures.add(e.getMessage());
                }
                witness.maintain();
                sleep(100);
            }
            assertThat(failures).as("a's CP calls while b's old identity is listed").isEmpty();
            java.nio.file.Files.writeString(wish, "a");
            a.maintain();
            assertThat(wish).as("a still leads every CP group (the wish is honoured at once, nothing to move)").doesNotExist();
            assertThat(hazelcastLog.stream().filter(m -> m.contains("leadership claims") || m.contains("Transferring leadership from"))
                    .toList()).as("Hazelcast's leadership rebalance at work").isEmpty();
        } finally {
            System.clearProperty(property);
        }
    }

    /** Until every member is a CP member and every CP group has three of them, each member's upkeep ticking. */
    static void awaitWhole(List<HazelcastCoordinator> members) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            members.forEach(HazelcastCoordinator::maintain);
            if (members.stream().allMatch(m -> m.instance().getCPSubsystem().getLocalCPMember() != null)
                    && members.get(0).cpMembersAlive() == 3) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not whole within 60 s: " + members.stream().map(HazelcastCoordinator::describe).toList()
                        + ", live members in the smallest CP group: " + members.get(0).cpMembersAlive());
            }
            sleep(200);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
