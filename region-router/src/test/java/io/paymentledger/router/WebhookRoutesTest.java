package io.paymentledger.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.router.routing.Route;
import io.paymentledger.router.routing.RouteTable;
import org.junit.jupiter.api.Test;

/**
 * The webhook methods of EventsService are forwarded to the leader like the rest of the service (issue #21); the
 * two that mint something without a client id are never replayed once they may have reached a node.
 */
class WebhookRoutesTest {

    private final RouteTable routes = new RouteTable(RouterConfig.ledgerServices(), RouterConfig.LEDGER_NON_IDEMPOTENT_METHODS);

    @Test
    void everyWebhookMethodIsForwardedAndOnlyCreateAndRotateAreNotReplayed() {
        for (String m : new String[] {"CreateWebhookEndpoint", "ListWebhookEndpoints", "UpdateWebhookEndpoint", "DeleteWebhookEndpoint",
                "RotateWebhookSecret", "ListWebhookDeliveries", "RedeliverEvents"}) {
            Route r = routes.route("ledger.v1.EventsService/" + m);
            assertThat(r).as(m).isNotNull();
            assertThat(r.read()).as(m + " has no read options: served by the leader").isFalse();
            assertThat(r.write()).as(m + " is not a ledger write").isFalse();
            assertThat(r.idempotent()).as(m).isEqualTo(!m.equals("CreateWebhookEndpoint") && !m.equals("RotateWebhookSecret"));
        }
    }
}
