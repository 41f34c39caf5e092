package io.paymentledger.router.routing;

/**
 * How the router treats one method.
 *
 * @param fullMethodName   "pkg.Service/Method"
 * @param clientStreaming  the client sends a stream (not buffered, not replayed)
 * @param serverStreaming  the server answers with a stream (forwarded as it comes; no retry once started)
 * @param idempotent       a replay after the request may have reached a leader is safe (ledger ids are
 *                         idempotency keys; reads are reads)
 * @param readOptionsField the field number of the request's {@code ledger.v1.ReadOptions}, 0 when none: such
 *                         requests may ask for bounded staleness and then go to a standby
 */
public record Route(String fullMethodName, boolean clientStreaming, boolean serverStreaming, boolean idempotent,
        int readOptionsField) {

    /** One request message: buffered in full before it is sent, and replayable. */
    public boolean bufferedRequest() {
        return !clientStreaming;
    }

    /** One response message: held until the call ends, so a failed attempt can still be retried. */
    public boolean bufferedResponse() {
        return !serverStreaming;
    }

    public boolean read() {
        return readOptionsField > 0;
    }

    /** A call that changes the ledger: a ledger or payments method without read options (not NodeService, not events). */
    public boolean write() {
        return !read() && !fullMethodName.startsWith(OPERATOR_SERVICE) && !fullMethodName.startsWith(EVENTS_SERVICE);
    }

    /** The event stream: read from the leader only (it has no read options), never a write. */
    static final String EVENTS_SERVICE = "ledger.v1.EventsService/";

    /** The operator's service (status, switchover, API keys): neither a merchant's read nor a ledger write. */
    static final String OPERATOR_SERVICE = "ledger.v1.NodeService/";
}
