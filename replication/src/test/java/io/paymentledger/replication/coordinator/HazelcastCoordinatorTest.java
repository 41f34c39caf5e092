package io.paymentledger.replication.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.paymentledger.replication.net.Ports;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The coordinator on a real three-member Hazelcast CP group in this JVM: a dead leader's lock is released on proof of
 * its death long before its session would expire; and with the majority gone, calls fail within the watchdog and
 * never pile up behind a hung one.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 2, unit = java.util.concurrent.TimeUnit.MINUTES)
class HazelcastCoordinatorTest {

    /** Long on purpose: a lock released within seconds was released by the deposition, not by the session expiring. */
    static final int SESSION_TTL_SECONDS = 60;
    static final Duration CALL_TIMEOUT = Duration.ofMillis(1_500);
    static final List<String> NAMES = List.of("a", "b", "witness");
    static final List<HazelcastCoordinator> members = new ArrayList<>();

    @BeforeAll
    static void start() {
        String cluster = "coordinator-test-" + Long.toHexString(System.nanoTime());
        List<Integer> ports = List.of(Ports.free(), Ports.free(), Ports.free());
        List<String> addresses = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<CompletableFuture<HazelcastCoordinator>> starting = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            HazelcastCoordinator.Settings s = new HazelcastCoordinator.Settings(cluster, NAMES.get(i), "127.0.0.1", ports.get(i),
                    addresses, NAMES, SESSION_TTL_SECONDS, 1, 0, CALL_TIMEOUT, i == 2 ? 10 : 0);
            starting.add(CompletableFuture.supplyAsync(() -> HazelcastCoordinator.start(s)));
        }
        starting.forEach(f -> members.add(f.join()));
    }

    @AfterAll
    static void stop() {
        members.forEach(HazelcastCoordinator::close);
    }

    static HazelcastCoordinator member(String name) {
        return members.get(NAMES.indexOf(name));
    }

    static <T> T eventually(java.util.concurrent.Callable<T> call) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                return call.call();
            } catch (Coordinator.CoordinatorUnavailable e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /** A switchover's leader nudges the target so that it looks at the record now, not at its next tick. */
    @Test
    @Order(0)
    void aNudgeReachesEveryOtherMemberWithTheRegionItNames() throws Exception {
        java.util.concurrent.BlockingQueue<String> atB = new java.util.concurrent.LinkedBlockingQueue<>();
        java.util.concurrent.BlockingQueue<String> atWitness = new java.util.concurrent.LinkedBlockingQueue<>();
        member("b").onNudge(atB::add);
        member("witness").onNudge(atWitness::add);
        member("a").nudge("b");
        assertThat(atB.poll(30, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("b");
        assertThat(atWitness.poll(30, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("b");
    }

    @Test
    @Order(1)
    void aDeadLeadersLockIsReleasedOnProofOfDeathNotAfterItsSession() throws Exception {
        HazelcastCoordinator a = member("a");
        HazelcastCoordinator b = member("b");
        assertThat(eventually(a::tryAcquireLeadership)).isTrue();
        assertThat(eventually(b::tryAcquireLeadership)).as("a holds it").isFalse();
        assertThat(b.memberProcessGone("a")).as("a is alive: its address accepts connections").isFalse();
        assertThat(b.forceCloseSessionsOf("a")).as("nothing is closed while a lives").isZero();
        assertThat(b.tryAcquireLeadership()).isFalse();

        a.close(); // its process is gone: nothing listens at its address any more
        assertThat(b.memberProcessGone("a")).isTrue();
        long started = System.nanoTime();
        assertThat(eventually(() -> b.forceCloseSessionsOf("a"))).isPositive();
        assertThat(eventually(b::tryAcquireLeadership)).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("long before the %d s session TTL", SESSION_TTL_SECONDS)
                .isLessThan(Duration.ofSeconds(SESSION_TTL_SECONDS / 2));
    }

    @Test
    @Order(2)
    void withTheMajorityGoneCallsFailWithinTheWatchdogAndNeverPileUp() throws Exception {
        HazelcastCoordinator b = member("b");
        eventually(b::readRecord);
        member("witness").close(); // with a gone too, b is alone: CP calls hang
        for (int i = 0; i < 8; i++) {
            long started = System.nanoTime();
            Throwable t = catchThrowable(b::readRecord);
            assertThat(t).isInstanceOf(Coordinator.CoordinatorUnavailable.class);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("call %d fails within its timeout", i)
                    .isLessThan(CALL_TIMEOUT.multipliedBy(3));
            assertThat(b.queuedCalls()).as("no call queued behind the hung one after %d failures", i + 1).isZero();
        }
    }
}
