package io.paymentledger.ledger.webhooks;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * What an endpoint URL may be: https only, and a host that resolves to public addresses only, unless the operator
 * allows private ones ({@value #ALLOW_PRIVATE_PROPERTY}; tests and the local deployment, where everything is on
 * loopback). Otherwise a merchant could make the leader POST into the ledger's own network (its PostgreSQL, its
 * metrics, a cloud metadata service): the classic server-side request forgery. Checked when the URL is registered
 * and again before every attempt (a name may resolve elsewhere later).
 */
public final class WebhookUrls {

    public static final String ALLOW_PRIVATE_PROPERTY = "ledger.webhooks.allow-private";
    public static final int URL_CHARS_MAX = 2_048;

    /** Why a URL is refused, with the proto's error code. */
    public static final class Refused extends Exception {
        public final io.paymentledger.api.v1.WebhooksError code;

        Refused(io.paymentledger.api.v1.WebhooksError code, String message) {
            super(message, null, false, false);
            this.code = code;
        }
    }

    private WebhookUrls() {}

    public static boolean privateAllowed() {
        return Boolean.getBoolean(ALLOW_PRIVATE_PROPERTY);
    }

    /** The URL parsed and checked (resolves the host: blocking, call off the event loop). */
    public static URI check(String url, boolean allowPrivate) throws Refused {
        if (url.isEmpty()) {
            throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_INVALID_URL, "url is empty");
        }
        if (url.length() > URL_CHARS_MAX) {
            throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_INVALID_URL, "url is longer than "
                    + URL_CHARS_MAX + " characters");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_INVALID_URL, "url is not a URL: " + e.getMessage());
        }
        if (uri.getScheme() == null || !uri.getScheme().toLowerCase(Locale.ROOT).equals("https")) {
            throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_URL_NOT_HTTPS, "url must start with https://"
                    + " (deliveries are signed, but their content is the merchant's business: TLS only)");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_INVALID_URL, "url has no host");
        }
        if (uri.getRawUserInfo() != null || uri.getRawFragment() != null) {
            throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_INVALID_URL, "url must not carry user info or a fragment");
        }
        checkAddresses(uri.getHost(), allowPrivate);
        return uri;
    }

    /** Refuses a host any of whose addresses is not public (unless allowed). */
    public static void checkAddresses(String host, boolean allowPrivate) throws Refused {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_URL_UNRESOLVABLE, "url's host '" + host
                    + "' does not resolve");
        }
        if (allowPrivate) {
            return;
        }
        for (InetAddress a : addresses) {
            if (internal(a)) {
                throw new Refused(io.paymentledger.api.v1.WebhooksError.WEBHOOKS_ERROR_URL_PRIVATE_ADDRESS, "url's host '" + host
                        + "' resolves to " + a.getHostAddress() + ", a private, loopback or link-local address; the ledger"
                        + " delivers to public addresses only (operator: -D" + ALLOW_PRIVATE_PROPERTY + "=true on the nodes)");
            }
        }
    }

    static boolean internal(InetAddress a) {
        if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress()
                || a.isMulticastAddress()) {
            return true;
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet6Address) {
            // fc00::/7 unique local; ::ffff:0:0/96 mapped IPv4 is returned by Java as Inet4Address already.
            return (b[0] & 0xfe) == 0xfc;
        }
        int first = b[0] & 0xff;
        int second = b[1] & 0xff;
        // 100.64.0.0/10 carrier-grade NAT, 0.0.0.0/8, 192.0.0.0/24, 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved.
        return (first == 100 && second >= 64 && second < 128) || first == 0 || (first == 192 && second == 0 && (b[2] & 0xff) == 0)
                || (first == 198 && (second == 18 || second == 19)) || first >= 240;
    }
}
