package io.paymentledger.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The CPU meter reads what a process really spent, from /proc. */
class ProcessCpuTest {

    @Test
    void aBusyThreadShowsUpAsCpuTimeOfThisProcess() {
        ProcessCpu cpu = new ProcessCpu(List.of(ProcessCpu.self()));
        ProcessCpu.Sample before = cpu.sample();
        long until = System.nanoTime() + 400_000_000L;
        long x = 0;
        while (System.nanoTime() < until) {
            x += Long.numberOfTrailingZeros(x + System.nanoTime());
        }
        ProcessCpu.Usage used = before.until(cpu.sample());
        assertThat(x).isNotNegative();
        // 0.4 s of one busy thread: at least 0.2 s even on a host busy enough to halve our share.
        assertThat(used.seconds(ProcessCpu.Role.GENERATOR)).isBetween(0.2, 5.0);
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
