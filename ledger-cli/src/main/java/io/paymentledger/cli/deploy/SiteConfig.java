package io.paymentledger.cli.deploy;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One site's configuration: what {@code ./ledger site up <site> --config <file>} applies and what Terraform's
 * {@code target = "sites"} renders, one file per site (its listeners, its PostgreSQL settings, the CP timing, its TLS
 * files, and its peers' listeners); {@code ./ledger up} applies the same files, made from its default layout. A file
 * holds only its own site's settings and its peers' addresses, so changing one region's setting changes one file.
 *
 * <pre>{@code
 * {"format": 1, "site": "a", "kind": "region", "dir": "/abs/.ledger", "layout": "loopback", "trustDomain": "ledger.local",
 *  "role": "primary", "listeners": {"postgres": 7432, "node": 7401, "hazelcast": 7501},
 *  "postgres": {"work_mem": "8MB"}, "cp": {"sessionTtlSeconds": 3, "heartbeatSeconds": 1, "leaderLeaseMs": 1500},
 *  "tls": {"caFile": ".../pki/ca.crt", "certFile": ".../pki/node-a.crt", "keyFile": ".../pki/node-a.key"},
 *  "peers": {"b": {"kind": "region", "listeners": {...}}, "witness": {...}, "router": {...}}}
 * }</pre>
 *
 * @param site       the site's name: a region's name, {@code witness}, or {@code router}
 * @param kind       what runs there
 * @param role       a region's role when the deployment is created (primary or standby); "" for the others
 * @param listeners  port by listener: a region's postgres, node, hazelcast; the witness's hazelcast, wal; the router's router
 * @param postgres   a region's own PostgreSQL settings (postgresql.conf names and values)
 * @param peers      every other site: its kind and listeners (a region's role too)
 */
public record SiteConfig(String site, Kind kind, Path dir, Sites.Layout layout, String trustDomain, String role,
        Map<String, Integer> listeners, Map<String, String> postgres, Topology.CpTiming cp, Tls tls, Map<String, Peer> peers) {

    public static final int FORMAT = 1;
    public static final String ROUTER_SITE = "router";
    /** Where the applied configuration of each site is kept, under the deployment directory. */
    public static final String APPLIED_DIR = "sites";

    public enum Kind { REGION, WITNESS, ROUTER }

    public record Tls(Path caFile, Path certFile, Path keyFile) {}

    public record Peer(Kind kind, String role, Map<String, Integer> listeners) {
        public Peer {
            listeners = Map.copyOf(listeners);
        }
    }

    private static final Pattern NAME = Pattern.compile("^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$");
    private static final Pattern SETTING = Pattern.compile("^[a-z_][a-z0-9_.]*$");
    /** Settings the tooling owns (addresses, replication, TLS): a site's file may not override them. */
    static final List<String> OWNED_SETTINGS = List.of("listen_addresses", "port", "wal_level", "hot_standby", "ssl",
            "ssl_cert_file", "ssl_key_file", "ssl_ca_file", "primary_conninfo", "primary_slot_name", "synchronous_standby_names",
            "restore_command", "wal_log_hints", "include_if_exists", "data_directory", "hba_file");

    public SiteConfig {
        listeners = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(listeners));
        postgres = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(postgres));
        peers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(peers));
    }

    static List<String> listenerNames(Kind kind) {
        return switch (kind) {
            case REGION -> List.of("postgres", "node", "hazelcast");
            case WITNESS -> List.of("hazelcast", "wal");
            case ROUTER -> List.of("router");
        };
    }

    /** The configuration {@code site} of {@code t} runs with now (what {@code ./ledger up} applies). */
    public static SiteConfig of(Topology t, String site) {
        Map<String, Peer> peers = new LinkedHashMap<>();
        for (String s : allSites(t)) {
            if (!s.equals(site)) {
                peers.put(s, new Peer(kindOf(t, s), roleOf(t, s), listenersOf(t, s)));
            }
        }
        Kind kind = kindOf(t, site);
        return new SiteConfig(site, kind, t.dir(), t.sites().layout(), t.trustDomain(), roleOf(t, site), listenersOf(t, site),
                kind == Kind.REGION ? t.settings().postgres(site) : Map.of(), t.settings().cp(), tlsOf(t, site), peers);
    }

    /** Every site of {@code t}: the regions, the witness, the router. */
    public static List<String> allSites(Topology t) {
        List<String> all = new java.util.ArrayList<>(t.siteNames());
        all.add(ROUTER_SITE);
        return all;
    }

    private static Kind kindOf(Topology t, String site) {
        if (t.regions().containsKey(site)) {
            return Kind.REGION;
        }
        return switch (site) {
            case Topology.WITNESS_SITE -> Kind.WITNESS;
            case ROUTER_SITE -> Kind.ROUTER;
            default -> throw new IllegalArgumentException("no site '" + site + "' in " + t.dir().resolve(Topology.FILE)
                    + " (sites: " + String.join(", ", allSites(t)) + ")");
        };
    }

    private static String roleOf(Topology t, String site) {
        return !t.regions().containsKey(site) ? "" : site.equals(t.settings().firstPrimary()) ? "primary" : "standby";
    }

    private static Map<String, Integer> listenersOf(Topology t, String site) {
        Map<String, Integer> l = new LinkedHashMap<>();
        switch (kindOf(t, site)) {
            case REGION -> {
                Topology.Region r = t.region(site);
                l.put("postgres", r.pgPort());
                l.put("node", r.grpcPort());
                l.put("hazelcast", r.hazelcastPort());
            }
            case WITNESS -> {
                l.put("hazelcast", t.witnessHazelcastPort());
                l.put("wal", t.witnessWalPort());
            }
            case ROUTER -> l.put("router", t.routerPort());
        }
        return l;
    }

    /** The TLS files the site's processes use: the deployment's PKI under {@code <dir>/pki}, named per service. */
    static Tls tlsOf(Topology t, String site) {
        Path pki = t.dir().resolve("pki");
        String identity = switch (kindOf(t, site)) {
            case REGION -> "node-" + site;
            case WITNESS -> "walkeeper";
            case ROUTER -> "router";
        };
        return new Tls(pki.resolve("ca.crt"), pki.resolve(identity + ".crt"), pki.resolve(identity + ".key"));
    }

    /** The part of the configuration that decides how the site's own processes run (its peers' addresses left out). */
    public SiteConfig own() {
        return new SiteConfig(site, kind, dir, layout, trustDomain, role, listeners, postgres, cp, tls, Map.of());
    }

    /**
     * The deployment's topology with this site's configuration applied: created from this file when {@code existing} is
     * null (the sites' addresses from the layout, directories under {@link #dir}); otherwise checked against it (the
     * layout, the trust domain, the regions and every listener are fixed once created) and this site's settings taken
     * over (its PostgreSQL settings, the CP timing).
     */
    public Topology applyTo(Topology existing) {
        Map<String, Peer> all = new LinkedHashMap<>(peers);
        all.put(site, new Peer(kind, role, listeners));
        List<String> regions = all.entrySet().stream().filter(e -> e.getValue().kind() == Kind.REGION)
                .sorted(java.util.Comparator.comparing(e -> e.getValue().role().equals("primary") ? 0 : 1))
                .map(Map.Entry::getKey).toList();
        String primary = regions.getFirst();
        Topology t = existing;
        if (t == null) {
            Map<String, Topology.Region> rs = new LinkedHashMap<>();
            for (String r : regions) {
                Map<String, Integer> l = all.get(r).listeners();
                rs.put(r, new Topology.Region(r, l.get("postgres"), PgDirectories.choose(dir, "pg-" + r), l.get("node"),
                        l.get("hazelcast")));
            }
            List<String> siteNames = new java.util.ArrayList<>(regions);
            siteNames.add(Topology.WITNESS_SITE);
            Sites sites = Sites.LOOPBACK;
            if (layout == Sites.Layout.NETNS) {
                SiteNetwork.requireSupported();
                sites = SiteNetwork.choose(siteNames, dir.toString());
            }
            Map<String, Integer> w = all.get(Topology.WITNESS_SITE).listeners();
            t = new Topology(dir, rs, w.get("hazelcast"), w.get("wal"), all.get(ROUTER_SITE).listeners().get("router"),
                    trustDomain, PgDirectories.choose(dir, "witness"), Topology.MonitoringPorts.create(rs.keySet()), sites,
                    Topology.Settings.defaults(primary).withCp(cp));
        } else {
            check(t.dir().equals(dir), "dir", t.dir().toString(), dir.toString());
            check(t.sites().layout() == layout, "layout", t.sites().layout().name().toLowerCase(), layout.name().toLowerCase());
            check(t.trustDomain().equals(trustDomain), "trustDomain", t.trustDomain(), trustDomain);
            check(new java.util.HashSet<>(t.regions().keySet()).equals(new java.util.HashSet<>(regions)), "regions",
                    String.join(", ", t.regions().keySet()), String.join(", ", regions));
            for (var e : all.entrySet()) {
                Map<String, Integer> now = listenersOf(t, e.getKey());
                check(now.equals(e.getValue().listeners()), e.getKey() + ".listeners", now.toString(),
                        e.getValue().listeners().toString());
            }
        }
        Tls expected = tlsOf(t, site);
        check(expected.equals(tls), "tls", expected.toString(), tls.toString());
        Topology.Settings settings = t.settings().withCp(cp);
        if (kind == Kind.REGION) {
            settings = settings.withPostgres(site, postgres);
        }
        return t.withSettings(settings);
    }

    private void check(boolean same, String field, String deployed, String here) {
        if (!same) {
            throw new IllegalArgumentException("site " + site + ": " + field + " is " + here + " in this file but " + deployed
                    + " in the deployment " + dir.resolve(Topology.FILE) + " (fixed once created; to change it, remove the"
                    + " deployment: ./ledger destroy --dir " + dir + ")");
        }
    }

    // ---- reading and checking a file ----

    public static SiteConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the site configuration " + file, e);
        }
        JsonObject j;
        try {
            j = new JsonObject(text);
        } catch (DecodeException e) {
            throw new IllegalArgumentException(file + " is not JSON: " + e.getMessage());
        }
        try {
            return fromJson(j);
        } catch (IllegalArgumentException | ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException(file + ": " + (e instanceof IllegalArgumentException ? e.getMessage()
                    : "a field has the wrong type or is missing (" + e.getMessage() + ")"));
        }
    }

    static SiteConfig fromJson(JsonObject j) {
        int format = j.getInteger("format", 0);
        if (format != FORMAT) {
            throw new IllegalArgumentException("format must be " + FORMAT + ", not " + j.getValue("format"));
        }
        String site = required(j, "site");
        Kind kind = kind(required(j, "kind"), "kind");
        if (kind == Kind.REGION && (!NAME.matcher(site).matches() || site.equals(Topology.WITNESS_SITE) || site.equals(ROUTER_SITE))) {
            throw new IllegalArgumentException("a region's name must be 1-16 characters of a-z, 0-9 and '-', start with a"
                    + " letter, and not be witness or router: '" + site + "'");
        }
        if (kind == Kind.WITNESS && !site.equals(Topology.WITNESS_SITE) || kind == Kind.ROUTER && !site.equals(ROUTER_SITE)) {
            throw new IllegalArgumentException("the " + kind.name().toLowerCase() + " site must be named "
                    + (kind == Kind.WITNESS ? Topology.WITNESS_SITE : ROUTER_SITE) + ", not '" + site + "'");
        }
        Path dir = Path.of(required(j, "dir"));
        if (!dir.isAbsolute()) {
            throw new IllegalArgumentException("dir must be an absolute path, not '" + dir + "'");
        }
        String layoutName = required(j, "layout");
        Sites.Layout layout = switch (layoutName) {
            case "loopback" -> Sites.Layout.LOOPBACK;
            case "netns" -> Sites.Layout.NETNS;
            default -> throw new IllegalArgumentException("layout must be loopback or netns, not '" + layoutName + "'");
        };
        String role = kind == Kind.REGION ? required(j, "role") : "";
        if (kind == Kind.REGION && !role.equals("primary") && !role.equals("standby")) {
            throw new IllegalArgumentException("role must be primary or standby, not '" + role + "'");
        }
        Map<String, Integer> listeners = listeners(j.getJsonObject("listeners"), kind, site);
        Map<String, String> postgres = new LinkedHashMap<>();
        JsonObject pg = j.getJsonObject("postgres", new JsonObject());
        if (kind != Kind.REGION && !pg.isEmpty()) {
            throw new IllegalArgumentException("only a region has PostgreSQL settings");
        }
        for (String name : pg.fieldNames()) {
            if (!SETTING.matcher(name).matches()) {
                throw new IllegalArgumentException("'" + name + "' is not a PostgreSQL setting name");
            }
            if (OWNED_SETTINGS.contains(name)) {
                throw new IllegalArgumentException("postgres." + name + " is set by the tooling (addresses, replication, TLS)"
                        + " and cannot be overridden");
            }
            Object v = pg.getValue(name);
            if (!(v instanceof String || v instanceof Number || v instanceof Boolean)) {
                throw new IllegalArgumentException("postgres." + name + " must be a string, number or boolean");
            }
            String value = String.valueOf(v);
            if (value.contains("\n") || value.contains("\r")) {
                throw new IllegalArgumentException("postgres." + name + " must be on one line");
            }
            postgres.put(name, value);
        }
        Topology.CpTiming cp = Topology.CpTiming.fromJson(Objects.requireNonNull(j.getJsonObject("cp"), "cp"));
        JsonObject tls = Objects.requireNonNull(j.getJsonObject("tls"), "tls");
        Tls files = new Tls(Path.of(required(tls, "caFile")), Path.of(required(tls, "certFile")), Path.of(required(tls, "keyFile")));
        Map<String, Peer> peers = new LinkedHashMap<>();
        JsonObject ps = Objects.requireNonNull(j.getJsonObject("peers"), "peers");
        for (String name : ps.fieldNames()) {
            JsonObject p = ps.getJsonObject(name);
            Kind pk = kind(required(p, "kind"), "peers." + name + ".kind");
            peers.put(name, new Peer(pk, pk == Kind.REGION ? required(p, "role") : "", listeners(p.getJsonObject("listeners"), pk, name)));
        }
        SiteConfig c = new SiteConfig(site, kind, dir, layout, required(j, "trustDomain"), role, listeners, postgres, cp, files, peers);
        c.checkWhole();
        return c;
    }

    private static Map<String, Integer> listeners(JsonObject l, Kind kind, String site) {
        if (l == null) {
            throw new IllegalArgumentException(site + ": listeners missing");
        }
        Map<String, Integer> out = new LinkedHashMap<>();
        for (String name : listenerNames(kind)) {
            Integer port = l.getInteger(name);
            if (port == null || port < 1 || port > 65535) {
                throw new IllegalArgumentException(site + ": listeners." + name + " must be a port within 1..65535, not "
                        + l.getValue(name));
            }
            out.put(name, port);
        }
        for (String name : l.fieldNames()) {
            if (!out.containsKey(name)) {
                throw new IllegalArgumentException(site + ": no listener '" + name + "' for a " + kind.name().toLowerCase()
                        + " (" + String.join(", ", listenerNames(kind)) + ")");
            }
        }
        return out;
    }

    /** The whole deployment this file describes: two regions, one primary, the witness, the router, distinct ports. */
    private void checkWhole() {
        Map<String, Peer> all = new LinkedHashMap<>(peers);
        all.put(site, new Peer(kind, role, listeners));
        long regions = all.values().stream().filter(p -> p.kind() == Kind.REGION).count();
        long primaries = all.values().stream().filter(p -> p.kind() == Kind.REGION && p.role().equals("primary")).count();
        if (regions != 2 || primaries != 1) {
            throw new IllegalArgumentException("the sites must be two regions (one primary, one standby), the witness and the"
                    + " router; this file names " + regions + " region(s), " + primaries + " primary");
        }
        if (!all.containsKey(Topology.WITNESS_SITE) || all.get(Topology.WITNESS_SITE).kind() != Kind.WITNESS
                || !all.containsKey(ROUTER_SITE) || all.get(ROUTER_SITE).kind() != Kind.ROUTER) {
            throw new IllegalArgumentException("the sites must include the witness and the router (as peers or as this site)");
        }
        // Also in network namespaces: the tooling finds a listener's site by its port (Topology.hostOfPort).
        Map<Integer, String> seen = new LinkedHashMap<>();
        for (var e : all.entrySet()) {
            for (var l : e.getValue().listeners().entrySet()) {
                String previous = seen.put(l.getValue(), e.getKey() + "." + l.getKey());
                if (previous != null) {
                    throw new IllegalArgumentException("port " + l.getValue() + " is both " + previous + " and " + e.getKey()
                            + "." + l.getKey() + ": every listener needs its own port");
                }
            }
        }
    }

    private static Kind kind(String value, String field) {
        return switch (value) {
            case "region" -> Kind.REGION;
            case "witness" -> Kind.WITNESS;
            case "router" -> Kind.ROUTER;
            default -> throw new IllegalArgumentException(field + " must be region, witness or router, not '" + value + "'");
        };
    }

    private static String required(JsonObject j, String field) {
        String v = j.getString(field);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(field + " is missing or empty");
        }
        return v;
    }

    public JsonObject toJson() {
        JsonObject ps = new JsonObject();
        peers.forEach((name, p) -> {
            JsonObject o = new JsonObject().put("kind", p.kind().name().toLowerCase()).put("role", p.role());
            JsonObject l = new JsonObject();
            p.listeners().forEach(l::put);
            ps.put(name, o.put("listeners", l));
        });
        JsonObject l = new JsonObject();
        listeners.forEach(l::put);
        JsonObject pg = new JsonObject();
        postgres.forEach(pg::put);
        JsonObject j = new JsonObject().put("format", FORMAT).put("site", site).put("kind", kind.name().toLowerCase())
                .put("dir", dir.toString()).put("layout", layout.name().toLowerCase()).put("trustDomain", trustDomain);
        j.put("role", role).put("listeners", l).put("postgres", pg);
        return j.put("cp", cp.toJson()).put("tls", new JsonObject().put("caFile", tls.caFile().toString())
                .put("certFile", tls.certFile().toString()).put("keyFile", tls.keyFile().toString())).put("peers", ps);
    }

    public void write(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, toJson().encodePrettily() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** Where the configuration a site last ran with is kept. */
    public static Path appliedFile(Path dir, String site) {
        return dir.resolve(APPLIED_DIR).resolve(site + ".json");
    }
}
