package io.paymentledger.cli.deploy;

import io.paymentledger.replication.coordinator.HazelcastCoordinator;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * The witness: the third CP member, in a third location, so that either region plus the witness is a
 * majority. It holds no data and serves nothing; it only votes.
 */
public final class WitnessProcess {

    private static final Logger LOG = Logger.getLogger(WitnessProcess.class.getName());

    private WitnessProcess() {}

    public static void run(Topology t) throws InterruptedException {
        HazelcastCoordinator coordinator = HazelcastCoordinator.start(Coordination.settings(t, "witness", t.witnessHazelcastPort()));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            coordinator.close();
            stopped.countDown();
        }, "witness-shutdown"));
        String last = "";
        while (!stopped.await(2, java.util.concurrent.TimeUnit.SECONDS)) {
            String now = coordinator.maintain();
            if (!now.equals(last)) {
                String msg = now;
                LOG.info(() -> "witness: " + msg + "; " + coordinator.describe());
                last = now;
            }
        }
    }
}
