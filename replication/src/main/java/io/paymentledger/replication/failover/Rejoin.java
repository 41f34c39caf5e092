package io.paymentledger.replication.failover;

import io.paymentledger.replication.postgres.ProcessRunner;
import io.paymentledger.replication.postgres.PgCluster;
import java.util.logging.Logger;

/**
 * Makes a former primary a streaming standby of the current one: stop it, rewind it with pg_rewind (which
 * throws away what it wrote that the new primary never had: writes that were never acknowledged), or — only when
 * pg_rewind says the histories diverged beyond repair ({@link PgCluster.RewindImpossible}) — delete its data and
 * clone it afresh, then start it following the new primary. Any other pg_rewind failure (the new primary
 * unreachable, or dying during the rejoin) leaves its data directory as it is and fails the rejoin: that directory
 * may be the last full copy. Used by the failover agent (by itself, after a switchover or when a former primary
 * comes back) and by `./ledger failback`.
 */
public final class Rejoin {

    private static final Logger LOG = Logger.getLogger(Rejoin.class.getName());

    public enum How { REWOUND, CLONED }

    private Rejoin() {}

    /** Holds the former primary's lifecycle lock throughout: nobody starts it while it is being rewound. */
    public static How asStandbyOf(PgCluster former, PgCluster primary) {
        return former.exclusively(() -> rejoin(former, primary));
    }

    private static How rejoin(PgCluster former, PgCluster primary) {
        // pg_rewind compares timelines in the control files: the new primary's must show its new timeline, which
        // only a checkpoint writes (a promotion does not wait for one).
        primary.checkpoint();
        former.stop();
        How how;
        try {
            former.rewindFrom(primary);
            how = How.REWOUND;
        } catch (PgCluster.RewindImpossible e) {
            LOG.warning(() -> "rejoin " + former.name() + ": pg_rewind says the histories diverged beyond repair ("
                    + ProcessRunner.firstLine(e.getMessage()) + "); deleting " + former.dataDir() + " and cloning afresh from " + primary.name());
            former.deleteData();
            former.cloneFrom(primary, former.name());
            how = How.CLONED;
        } catch (RuntimeException e) {
            LOG.warning(() -> "rejoin " + former.name() + ": pg_rewind failed, not because the histories diverged ("
                    + ProcessRunner.firstLine(e.getMessage()) + "); " + former.dataDir() + " is kept as it is and " + former.name()
                    + " stays stopped until a rejoin succeeds");
            throw new IllegalStateException("rejoin of postgres " + former.name() + " as a standby of " + primary.name()
                    + " failed, its data directory kept: " + e.getMessage(), e);
        }
        former.followPrimary(primary, former.name());
        former.start();
        How done = how;
        LOG.warning(() -> "rejoin " + former.name() + ": " + done.name().toLowerCase() + " and streaming from " + primary.name());
        return how;
    }

}
