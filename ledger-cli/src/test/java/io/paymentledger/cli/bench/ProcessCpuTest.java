package io.paymentledger.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The CPU meter reads what a process really spent, from /proc. */
class ProcessCpuTest {

    @Test
    void whatItReadsForThisProcessAgreesWithTheJdksOwnAccount() {
        ProcessCpu cpu = new ProcessCpu(List.of(ProcessCpu.self()));
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long jdkBefore = ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
        ProcessCpu.Sample before = cpu.sample();
        // Burn 0.3 s of this thread's CPU, however long a busy host makes that take (bounded).
        long threadStart = threads.getCurrentThreadCpuTime();
        long giveUp = System.nanoTime() + 20_000_000_000L;
        long x = 0;
        while (threads.getCurrentThreadCpuTime() - threadStart < 300_000_000L && System.nanoTime() < giveUp) {
            x += Long.numberOfTrailingZeros(x + System.nanoTime());
        }
        ProcessCpu.Usage used = before.until(cpu.sample());
        long jdkAfter = ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
        assertThat(x).isNotNegative();
        double jdkSeconds = (jdkAfter - jdkBefore) / 1e9;
        assertThat(used.seconds(ProcessCpu.Role.GENERATOR)).isGreaterThanOrEqualTo(0.28)
                .isCloseTo(jdkSeconds, org.assertj.core.api.Assertions.within(0.06));
        assertThat(used.seconds(ProcessCpu.Role.SERVER)).isZero();
    }

    @Test
    void theCommandNameMayHoldSpacesAndParentheses() {
        ProcessCpu.Stat s = ProcessCpu.Stat.parse("4242 (postgres: a) b) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 9 3 20 0 1 0");
        assertThat(s.ppid()).isEqualTo(17);
        assertThat(s.utime()).isEqualTo(250);
        assertThat(s.stime()).isEqualTo(75);
        assertThat(s.cutime()).isEqualTo(9);
        assertThat(s.cstime()).isEqualTo(3);
    }

    @Test
    void jitAndGcThreadsAreToldApart() {
        assertThat(ProcessCpu.upkeepOf("C2 CompilerThre")).isEqualTo("JIT");
        assertThat(ProcessCpu.upkeepOf("G1 Conc#0")).isEqualTo("GC");
        assertThat(ProcessCpu.upkeepOf("vert.x-eventloo")).isNull();
    }
}
