package io.paymentledger.cli.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The heap in use as jcmd GC.heap_info prints it for each collector the deployment runs (texts from JDK 21 and 25). */
class ProcessResourcesTest {

    @Test
    void g1PrintsOneHeapLine() {
        assertThat(ProcessResources.heapUsedKb("""
                17447:
                garbage-first heap   total reserved 262144K, committed 68608K, used 25284K [0x00000000f0000000, 0x0000000100000000)
                 region size 1024K, 8 young (8192K), 4 survivors (4096K)
                 Metaspace       used 41234K, committed 41792K, reserved 1114112K
                """)).isEqualTo(25_284);
        assertThat(ProcessResources.heapUsedKb(" garbage-first heap   total 262144K, used 123456K [0x0")).isEqualTo(123_456);
    }

    @Test
    void serialSumsItsGenerationsAndIgnoresSpacesAndMetaspace() {
        assertThat(ProcessResources.heapUsedKb("""
                9410:
                DefNew     total 116160K, used 31009K [0x0000000687400000, 0x000000068f200000, 0x0000000704d50000)
                 eden space 103296K,  30% used [0x0000000687400000, 0x0000000689248558, 0x000000068d8e0000)
                 from space 12864K,   0% used [0x000000068d8e0000, 0x000000068d8e0000, 0x000000068e570000)
                Tenured    total 258048K, used 1166K [0x0000000704d50000, 0x0000000714950000, 0x0000000800000000)
                 the  space 258048K,   0% used [0x0000000704d50000, 0x0000000704e73ab8, 0x0000000714950000)
                 Metaspace       used 9000K, committed 9100K, reserved 1114112K
                """)).isEqualTo(31_009 + 1_166);
    }

    @Test
    void anAnswerWithoutAHeapLineIsUnknown() {
        assertThat(ProcessResources.heapUsedKb("9088:\ncom.sun.tools.attach.AttachNotSupportedException: Unable to open socket file")).isEqualTo(-1);
    }
}
