package io.paymentledger.security.identity;

import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Who is on the other end of a connection, as named by the SPIFFE ID in its certificate
 * ({@code spiffe://<trust-domain>/<path>}):
 * <ul>
 *   <li>{@link Operator}: {@code /operator}</li>
 *   <li>{@link Merchant}: {@code /merchant/<id>}</li>
 *   <li>{@link Service}: {@code /region/<region>/<component>}, component one of {@link #COMPONENTS}</li>
 *   <li>{@link Prometheus}: {@code /prometheus}, the metrics scraper (reads /metrics, nothing else)</li>
 * </ul>
 * Use with pattern matching: {@code switch (p) { case Principal.Merchant m -> ...; case Principal.Service s -> ...;
 * case Principal.Operator o -> ...; }}.
 */
public sealed interface Principal permits Principal.Operator, Principal.Merchant, Principal.Service, Principal.Prometheus {

    /** The service components that may hold a service identity. */
    Set<String> COMPONENTS = Set.of("ledger", "router", "witness", "agent", "postgres", "kafka");

    /**
     * The shape of merchant ids: letters, digits and '-', 1-64 characters, starting with a letter or digit (no '_').
     * A merchant id must also not be reserved: test ids with {@link #isMerchantId} / {@link #requireMerchantId}.
     */
    Pattern MERCHANT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9-]{0,63}");

    /**
     * Names the deployment keeps for its own callers, refused as merchant ids in any letter case: {@code operator}
     * (the router's and the nodes' name for the operator role) and {@code anonymous} (the router's key of calls that
     * name nobody). A merchant so named would share their name, and wherever that name is taken for the role the
     * merchant would get the role's rights or budget.
     */
    Set<String> RESERVED_MERCHANT_IDS = Set.of("operator", "anonymous");

    /** Is {@code id} a merchant id: {@link #MERCHANT_ID}'s shape and not {@link #RESERVED_MERCHANT_IDS reserved}. */
    static boolean isMerchantId(String id) {
        return id != null && MERCHANT_ID.matcher(id).matches() && !RESERVED_MERCHANT_IDS.contains(id.toLowerCase(Locale.ROOT));
    }

    /**
     * The one rule for every merchant identity that is minted (certificates from {@code Pki} or Vault, API keys, the
     * CLI) or believed: returns {@code id}, or throws {@link IllegalArgumentException} saying what is wrong with it.
     */
    static String requireMerchantId(String id) {
        if (id == null || !MERCHANT_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("invalid merchant id '" + id + "': 1..64 of [A-Za-z0-9-], starting with a"
                    + " letter or digit");
        }
        if (RESERVED_MERCHANT_IDS.contains(id.toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("invalid merchant id '" + id + "': reserved (" + String.join(", ",
                    new java.util.TreeSet<>(RESERVED_MERCHANT_IDS)) + " name the deployment's own callers, in any case)");
        }
        return id;
    }

    /** Region names: lower-case letters, digits and '-', 1-32 characters. */
    Pattern REGION = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");

    /** The SPIFFE path without the leading slash, e.g. {@code region/eu-west/ledger}. */
    String path();

    /** The full SPIFFE ID in {@code trustDomain}. */
    default String spiffeId(String trustDomain) {
        return "spiffe://" + Identities.requireTrustDomain(trustDomain) + "/" + path();
    }

    /** The operator (CLI, administrative calls). */
    record Operator() implements Principal {
        @Override
        public String path() {
            return "operator";
        }
    }

    /**
     * The deployment's Prometheus: may scrape every process's {@code /metrics} and call nothing else (a metrics
     * reader that could move money would make the monitoring host a payments host).
     */
    record Prometheus() implements Principal {
        @Override
        public String path() {
            return "prometheus";
        }
    }

    /** A merchant client. */
    record Merchant(String id) implements Principal {
        public Merchant {
            requireMerchantId(id);
        }

        @Override
        public String path() {
            return "merchant/" + id;
        }
    }

    /** A service of the ledger in a region: ledger, router, witness, agent, postgres or kafka (the broker of ./ledger up --kafka). */
    record Service(String region, String component) implements Principal {
        public Service {
            if (region == null || !REGION.matcher(region).matches()) {
                throw new IllegalArgumentException("invalid region: " + region);
            }
            if (!COMPONENTS.contains(component)) {
                throw new IllegalArgumentException("unknown component " + component + ", expected one of " + COMPONENTS);
            }
        }

        @Override
        public String path() {
            return "region/" + region + "/" + component;
        }
    }
}
