package io.paymentledger.ledger.webhooks;

/**
 * A node's webhooks: where endpoints are kept and who delivers to them. {@code dispatcher} is null when the node has
 * no sealing key (then the API answers FAILED_PRECONDITION and nothing is delivered).
 */
public record Webhooks(WebhookStore store, WebhookDispatcher dispatcher, WebhookDispatcher.Settings settings) {

    public boolean configured() {
        return settings != null && settings.sealer() != null;
    }
}
