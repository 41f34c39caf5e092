package io.paymentledger.cli.deploy;

import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How the deployment's sites (region a, region b, the witness) sit on the network. {@link Layout#LOOPBACK}: every
 * process on 127.0.0.1 (the default). {@link Layout#NETNS}: each site is a network namespace of its own, a host with
 * one address on a private /24, joined to the others by a bridge in the operator's namespace (which holds the
 * subnet's first address, so the router, the monitoring and the operator's tools reach every site); a site's links
 * can then be cut (see {@link SiteNetwork}). Chosen on the first {@code ./ledger up}, kept in topology.json.
 *
 * @param hosts       site → its address
 * @param namespaces  site → its network namespace (empty on loopback)
 * @param bridge      the bridge joining the sites ("" on loopback)
 * @param gateway     the bridge's own address in the operator's namespace ("" on loopback)
 * @param prefixBits  the subnet's prefix length
 */
public record Sites(Layout layout, Map<String, String> hosts, Map<String, String> namespaces, String bridge, String gateway,
        int prefixBits) {

    public enum Layout { LOOPBACK, NETNS }

    public static final String LOOPBACK_HOST = "127.0.0.1";
    public static final Sites LOOPBACK = new Sites(Layout.LOOPBACK, Map.of(), Map.of(), "", "", 32);
    /** The netns layout's subnet is {@code 10.<second>.<third>.0/24}, the octets derived from the deployment's path. */
    static final int NETNS_PREFIX_BITS = 24;
    static final int NETNS_SECOND_OCTET_MIN = 200;
    static final int NETNS_SECOND_OCTET_SPAN = 50;

    public Sites {
        hosts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(hosts));
        namespaces = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(namespaces));
    }

    /**
     * The netns layout for sites {@code names} in a private /24 chosen from {@code seed} (the deployment's path, so
     * two deployments on one machine get different subnets and namespace names).
     */
    static Sites netns(List<String> names, String seed, int attempt) {
        int h = Math.abs((seed + "#" + attempt).hashCode());
        String id = String.format("%06x", h & 0xffffff);
        String prefix = "10." + (NETNS_SECOND_OCTET_MIN + (h % NETNS_SECOND_OCTET_SPAN)) + "." + ((h >> 8) & 0xff);
        Map<String, String> hosts = new LinkedHashMap<>();
        Map<String, String> namespaces = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            hosts.put(names.get(i), prefix + "." + (2 + i));
            namespaces.put(names.get(i), "ledger-" + id + "-" + names.get(i));
        }
        return new Sites(Layout.NETNS, hosts, namespaces, "lgb" + id, prefix + ".1", NETNS_PREFIX_BITS);
    }

    public boolean netns() {
        return layout == Layout.NETNS;
    }

    public String host(String site) {
        if (!netns()) {
            return LOOPBACK_HOST;
        }
        String h = hosts.get(site);
        if (h == null) {
            throw new IllegalArgumentException("no site '" + site + "' (sites: " + String.join(", ", hosts.keySet()) + ")");
        }
        return h;
    }

    public Optional<String> namespace(String site) {
        return Optional.ofNullable(namespaces.get(site));
    }

    /** The addresses clients of a site's servers connect from (pg_hba.conf): the subnet, or 127.0.0.1. */
    public String clientCidr() {
        if (!netns()) {
            return LOOPBACK_HOST + "/32";
        }
        return gateway.substring(0, gateway.lastIndexOf('.')) + ".0/" + prefixBits;
    }

    /** The command prefix that runs a program inside {@code site}'s namespace (empty on loopback). */
    public List<String> launcher(String site) {
        return namespace(site).map(ns -> List.of("ip", "netns", "exec", ns)).orElse(List.of());
    }

    JsonObject toJson() {
        JsonObject h = new JsonObject();
        hosts.forEach(h::put);
        JsonObject n = new JsonObject();
        namespaces.forEach(n::put);
        return new JsonObject().put("layout", layout.name().toLowerCase(java.util.Locale.ROOT)).put("hosts", h)
                .put("namespaces", n).put("bridge", bridge).put("gateway", gateway).put("prefixBits", prefixBits);
    }

    static Sites fromJson(JsonObject j) {
        Layout layout = Layout.valueOf(j.getString("layout").toUpperCase(java.util.Locale.ROOT));
        if (layout == Layout.LOOPBACK) {
            return LOOPBACK;
        }
        Map<String, String> hosts = new LinkedHashMap<>();
        j.getJsonObject("hosts").forEach(e -> hosts.put(e.getKey(), (String) e.getValue()));
        Map<String, String> namespaces = new LinkedHashMap<>();
        j.getJsonObject("namespaces").forEach(e -> namespaces.put(e.getKey(), (String) e.getValue()));
        return new Sites(layout, hosts, namespaces, j.getString("bridge"), j.getString("gateway"), j.getInteger("prefixBits"));
    }
}
