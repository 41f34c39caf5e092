package io.paymentledger.ledger;

/** Every limit of the ledger in one place, with its unit in its name. Documented in the README. */
public final class Limits {

    private Limits() {}

    /** Items (accounts, transfers, ids) in one request. */
    public static final int REQUEST_ITEMS_MAX = 8190;
    /** Largest gRPC message the ledger accepts (8190 transfers with full metadata fit). */
    public static final int MESSAGE_BYTES_MAX = 32 * 1024 * 1024;
    public static final int ID_LENGTH_MAX = 64;
    public static final int METADATA_ENTRIES_MAX = 16;
    public static final int METADATA_KEY_LENGTH_MAX = 64;
    public static final int METADATA_VALUE_LENGTH_MAX = 256;
    public static final int METADATA_BYTES_MAX = 2048;
    /** Longest hold: 30 days. */
    public static final int TIMEOUT_SECONDS_MAX = 30 * 24 * 3600;
    public static final int PAGE_SIZE_MAX = 1000;
    public static final int PAGE_SIZE_DEFAULT = 100;
    public static final int STALENESS_MS_MAX = 60_000;
}
