package io.paymentledger.replication.walkeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgCluster;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The keeper's WAL arithmetic follows the segment size of the files it holds: clusters created now use
 * {@link PgCluster#WAL_SEGMENT_MB}, clusters created before use PostgreSQL's 16 MB, and both must give the positions
 * PostgreSQL gives (a segment file's name is its timeline, then the segment number split at 4 GB of WAL).
 */
class WalKeeperSegmentsTest {

    private static final long MB = 1L << 20;

    @TempDir
    Path dir;

    @Test
    void segmentsOfTheSizeTheToolingCreatesStartWherePostgresSaysTheyDo() throws IOException {
        long size = PgCluster.WAL_SEGMENT_MB * MB;
        segment("000000020000000100000002", size);
        segment("000000020000000100000003.partial", size);

        List<WalKeeper.Segment> segments = WalKeeper.segments(dir);

        // 4 GB of WAL per middle unit: 1 × (4 GB / size) + 2 segments in.
        long second = (1L << 32) / size + 2;
        assertThat(segments).extracting(WalKeeper.Segment::segno).containsExactly(second, second + 1);
        assertThat(segments.getFirst().start()).isEqualTo(Lsn.parse("1/" + Long.toHexString(2 * size).toUpperCase()));
        assertThat(segments.getLast().partial()).isTrue();
        assertThat(segments.getLast().bytes()).isEqualTo(size);
    }

    @Test
    void aKeeperOfAClusterCreatedBeforeKeepsItsSixteenMegabyteSegments() throws IOException {
        segment("000000010000000100000002", 16 * MB);
        segment("000000010000000100000003.partial", 16 * MB);

        List<WalKeeper.Segment> segments = WalKeeper.segments(dir);

        assertThat(segments).extracting(WalKeeper.Segment::segno).containsExactly(258L, 259L);
        assertThat(segments.getFirst().start()).isEqualTo(Lsn.parse("1/2000000"));
        assertThat(segments.getLast().start()).isEqualTo(Lsn.parse("1/3000000"));
    }

    @Test
    void aPartialSegmentAloneTellsTheSizeByItsPadding() throws IOException {
        segment("000000010000000000000005.partial", 16 * MB);

        assertThat(WalKeeper.segments(dir).getFirst().start()).isEqualTo(Lsn.parse("0/5000000"));
    }

    @Test
    void aFileThatIsNoWholeSegmentIsAnErrorNotAGuess() throws IOException {
        segment("000000010000000000000005", 3 * MB);

        assertThatThrownBy(() -> WalKeeper.segments(dir)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not a WAL segment size");
    }

    private void segment(String name, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(Files.createFile(dir.resolve(name)).toFile(), "rw")) {
            f.setLength(size);
        }
    }
}
