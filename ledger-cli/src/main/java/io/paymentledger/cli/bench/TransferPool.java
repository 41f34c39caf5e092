package io.paymentledger.cli.bench;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The request templates of a run: a ring of precomputed (debit account, credit account, amount) triples drawn
 * from the scenario's distribution before the clock starts. Transfer number {@code seq} uses entry
 * {@code seq & mask}; its id is derived from {@code seq} too, so a request is fully described by its first
 * sequence number and its size, and no per-transfer object outlives the request.
 *
 * <p>For the payments scenario an entry is (payer, merchant, authorised amount) of payment number {@code seq}.
 */
final class TransferPool {

    /** 2^18 entries (4 MiB): far more variety than any distribution over 10,000 accounts needs. */
    static final int SIZE = 1 << 18;

    final int[] debit = new int[SIZE];
    final int[] credit = new int[SIZE];
    final long[] amount = new long[SIZE];
    final int mask = SIZE - 1;

    int entry(long seq) {
        return (int) (seq & mask);
    }

    /** Accounts 0..merchants-1 are merchants (code 2) in the hot and payments scenarios. */
    static int merchants(Bench.Scenario scenario, int accounts) {
        return switch (scenario) {
            case HOT -> 1;
            case PAYMENTS, CAPTURES -> Math.max(1, Math.min(100, accounts / 100));
            case UNIFORM, ZIPF, HISTORY_NEWEST, HISTORY_OLDEST -> 0;
        };
    }

    static TransferPool build(Bench.Scenario scenario, int accounts, long seed) {
        if (accounts < 2) {
            throw new IllegalArgumentException("a benchmark needs at least 2 accounts");
        }
        TransferPool p = new TransferPool();
        SplittableRandom r = new SplittableRandom(seed);
        Zipf zipf = scenario == Bench.Scenario.ZIPF ? new Zipf(accounts, 1.0) : null;
        int merchants = merchants(scenario, accounts);
        for (int i = 0; i < SIZE; i++) {
            int d;
            int c;
            long a = 1 + r.nextInt(10_000);
            switch (scenario) {
                case UNIFORM -> {
                    d = r.nextInt(accounts);
                    c = r.nextInt(accounts - 1);
                    if (c >= d) {
                        c++;
                    }
                }
                case HOT -> {
                    c = 0;
                    d = 1 + r.nextInt(accounts - 1);
                }
                case ZIPF -> {
                    d = zipf.sample(r);
                    do {
                        c = zipf.sample(r);
                    } while (c == d);
                }
                case PAYMENTS, CAPTURES -> {
                    c = r.nextInt(merchants);
                    d = merchants + r.nextInt(accounts - merchants);
                    a = 100 + r.nextInt(100_000);
                }
                default -> throw new IllegalStateException();
            }
            p.debit[i] = d;
            p.credit[i] = c;
            p.amount[i] = a;
        }
        return p;
    }

    /** Zipf over ranks 0..n-1 (P(k) ∝ 1/(k+1)^s) by binary search in a precomputed CDF. */
    static final class Zipf {
        private final double[] cdf;

        Zipf(int n, double s) {
            cdf = new double[n];
            double sum = 0;
            for (int k = 0; k < n; k++) {
                sum += 1.0 / Math.pow(k + 1, s);
                cdf[k] = sum;
            }
            for (int k = 0; k < n; k++) {
                cdf[k] /= sum;
            }
            cdf[n - 1] = 1.0;
        }

        int sample(SplittableRandom r) {
            int i = Arrays.binarySearch(cdf, r.nextDouble());
            return i >= 0 ? i : Math.min(cdf.length - 1, -i - 1);
        }

        double probability(int rank) {
            return rank == 0 ? cdf[0] : cdf[rank] - cdf[rank - 1];
        }
    }
}
