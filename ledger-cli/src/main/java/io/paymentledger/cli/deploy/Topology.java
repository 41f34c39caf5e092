package io.paymentledger.cli.deploy;

import io.paymentledger.replication.net.Ports;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The local deployment's shape: which regions exist, their ports and directories, and the witness site (its CP
 * member's port and its directory: the WAL keeper's WAL and base backups). Chosen on the first `./ledger up` and
 * kept in {@code <dir>/topology.json}, so ports stay the same across restarts.
 */
public record Topology(Path dir, Map<String, Region> regions, int witnessHazelcastPort, int witnessWalPort, int routerPort,
        String trustDomain, Path witnessDir, MonitoringPorts monitoring, Sites sites, Settings settings) {

    public static final String FILE = "topology.json";

    /**
     * Where the deployment's Prometheus listens (HTTP, 127.0.0.1 only) and where each region's PostgreSQL exporter
     * does (HTTPS, client certificate required), by region.
     */
    public record MonitoringPorts(int prometheusPort, Map<String, Integer> pgExporterPorts) {
        public MonitoringPorts {
            pgExporterPorts = Map.copyOf(pgExporterPorts);
        }

        /** Preferred ports when free: Prometheus 7490, the exporters from 7491 in region order. */
        static MonitoringPorts create(java.util.Collection<String> regions) {
            Map<String, Integer> exporters = new LinkedHashMap<>();
            int preferred = 7491;
            for (String r : regions) {
                exporters.put(r, port(preferred++));
            }
            return new MonitoringPorts(port(7490), exporters);
        }

        JsonObject toJson() {
            JsonObject ex = new JsonObject();
            pgExporterPorts.forEach(ex::put);
            return new JsonObject().put("prometheusPort", prometheusPort).put("pgExporterPorts", ex);
        }

        static MonitoringPorts fromJson(JsonObject j) {
            Map<String, Integer> ex = new LinkedHashMap<>();
            j.getJsonObject("pgExporterPorts").forEach(e -> ex.put(e.getKey(), ((Number) e.getValue()).intValue()));
            return new MonitoringPorts(j.getInteger("prometheusPort"), ex);
        }
    }

    /**
     * The CP subsystem's timing: the session TTL bounds how long a dead leader keeps the lock, members send a heartbeat
     * every {@code heartbeatSeconds}, a leader serves at most {@code leaderLeaseMs} after its last successful CP check
     * (shorter than TTL minus heartbeat: a cut-off leader stops before anyone else can take over).
     */
    public record CpTiming(int sessionTtlSeconds, int heartbeatSeconds, long leaderLeaseMs) {
        public static final CpTiming DEFAULT = new CpTiming(Coordination.SESSION_TTL_SECONDS, Coordination.HEARTBEAT_SECONDS,
                Coordination.LEASE_MS);

        public CpTiming {
            if (heartbeatSeconds < 1 || sessionTtlSeconds <= heartbeatSeconds) {
                throw new IllegalArgumentException("CP timing: heartbeat must be at least 1 s and the session TTL longer than it"
                        + " (got TTL " + sessionTtlSeconds + " s, heartbeat " + heartbeatSeconds + " s)");
            }
            if (leaderLeaseMs <= 0 || leaderLeaseMs >= (sessionTtlSeconds - heartbeatSeconds) * 1_000L) {
                throw new IllegalArgumentException("CP timing: the leader lease (" + leaderLeaseMs + " ms) must be positive and"
                        + " shorter than TTL minus heartbeat (" + (sessionTtlSeconds - heartbeatSeconds) * 1_000L + " ms), so a"
                        + " cut-off leader stops serving before another region can take over");
            }
        }

        JsonObject toJson() {
            return new JsonObject().put("sessionTtlSeconds", sessionTtlSeconds).put("heartbeatSeconds", heartbeatSeconds)
                    .put("leaderLeaseMs", leaderLeaseMs);
        }

        static CpTiming fromJson(JsonObject j) {
            return new CpTiming(j.getInteger("sessionTtlSeconds"), j.getInteger("heartbeatSeconds"), j.getLong("leaderLeaseMs"));
        }
    }

    /**
     * What the sites' configuration tunes (see {@link SiteConfig}): the region whose PostgreSQL is created as the
     * primary, the CP timing, and each region's own PostgreSQL settings (postgresql.conf, written at every start).
     */
    public record Settings(String firstPrimary, CpTiming cp, Map<String, Map<String, String>> postgres) {
        public Settings {
            Map<String, Map<String, String>> copy = new LinkedHashMap<>();
            postgres.forEach((r, s) -> copy.put(r, java.util.Collections.unmodifiableMap(new LinkedHashMap<>(s))));
            postgres = java.util.Collections.unmodifiableMap(copy);
        }

        public static Settings defaults(String firstPrimary) {
            return new Settings(firstPrimary, CpTiming.DEFAULT, Map.of());
        }

        public Map<String, String> postgres(String region) {
            return postgres.getOrDefault(region, Map.of());
        }

        public Settings withPostgres(String region, Map<String, String> settings) {
            Map<String, Map<String, String>> next = new LinkedHashMap<>(postgres);
            if (settings.isEmpty()) {
                next.remove(region);
            } else {
                next.put(region, settings);
            }
            return new Settings(firstPrimary, cp, next);
        }

        public Settings withCp(CpTiming timing) {
            return new Settings(firstPrimary, timing, postgres);
        }

        JsonObject toJson() {
            JsonObject pg = new JsonObject();
            postgres.forEach((r, s) -> {
                JsonObject o = new JsonObject();
                s.forEach(o::put);
                pg.put(r, o);
            });
            return new JsonObject().put("firstPrimary", firstPrimary).put("cp", cp.toJson()).put("postgres", pg);
        }

        static Settings fromJson(JsonObject j) {
            Map<String, Map<String, String>> pg = new LinkedHashMap<>();
            j.getJsonObject("postgres", new JsonObject()).forEach(e -> {
                Map<String, String> s = new LinkedHashMap<>();
                ((JsonObject) e.getValue()).forEach(kv -> s.put(kv.getKey(), String.valueOf(kv.getValue())));
                pg.put(e.getKey(), s);
            });
            return new Settings(j.getString("firstPrimary"), CpTiming.fromJson(j.getJsonObject("cp")), pg);
        }
    }

    /** One region: its PostgreSQL and its ledger node (which embeds the region's Hazelcast CP member). */
    public record Region(String name, int pgPort, Path pgDir, int grpcPort, int hazelcastPort) {}

    /** Creates a fresh two-region topology (a, b) with preferred ports when free, others when not, on loopback. */
    public static Topology create(Path dir) {
        return create(dir, Sites.LOOPBACK);
    }

    /** Creates a fresh two-region topology (a, b) whose sites are laid out as {@code sites} says. */
    public static Topology create(Path dir, Sites sites) {
        Map<String, Region> regions = new LinkedHashMap<>();
        regions.put("a", new Region("a", port(7432), PgDirectories.choose(dir, "pg-a"), port(7401), port(7501)));
        regions.put("b", new Region("b", port(7433), PgDirectories.choose(dir, "pg-b"), port(7402), port(7502)));
        return new Topology(dir.toAbsolutePath(), regions, port(7503), port(7504), port(7400), "ledger.local",
                PgDirectories.choose(dir, "witness"), MonitoringPorts.create(regions.keySet()), sites, Settings.defaults("a"));
    }

    /** The site name of the witness (the regions' sites are named after the regions). */
    public static final String WITNESS_SITE = "witness";

    /** The address the processes of {@code site} (a region's name, or {@link #WITNESS_SITE}) listen on. */
    public String host(String site) {
        return sites.host(site);
    }

    /**
     * The address of whatever of this deployment listens on {@code port}: a region's PostgreSQL, node or CP member,
     * or the witness's CP member live at their site; the router and monitoring listen on 127.0.0.1.
     */
    public String hostOfPort(int port) {
        for (Region r : regions.values()) {
            if (r.pgPort() == port || r.grpcPort() == port || r.hazelcastPort() == port) {
                return host(r.name());
            }
        }
        return port == witnessHazelcastPort || port == witnessWalPort ? host(WITNESS_SITE) : Sites.LOOPBACK_HOST;
    }

    /**
     * The site a process of the deployment runs at ({@code node-a}, {@code postgres-a} → a; {@code witness} →
     * witness), or empty for the ones that run beside the operator (router, monitoring).
     */
    public java.util.Optional<String> siteOf(String process) {
        for (String r : regions.keySet()) {
            if (process.equals("node-" + r) || process.equals("postgres-" + r) || process.equals("region-" + r)) {
                return java.util.Optional.of(r);
            }
        }
        return process.equals(WITNESS_SITE) ? java.util.Optional.of(WITNESS_SITE) : java.util.Optional.empty();
    }

    /** Every site: the regions, then the witness. */
    public java.util.List<String> siteNames() {
        java.util.List<String> names = new java.util.ArrayList<>(regions.keySet());
        names.add(WITNESS_SITE);
        return names;
    }

    /**
     * A listener's port: {@code preferred} when nothing listens there, else a free one this process has not handed out
     * before. {@link Ports#free} can return a port it returned a moment ago (nothing holds it until its listener
     * starts), and no two listeners of a deployment may share one, not even on different hosts of network namespaces
     * (SiteConfig refuses it: the tooling finds a listener's site by its port). A CI run of SiteNetworkDrillsTest got
     * one port for the witness's and region a's CP members and could not restart its sites.
     */
    static int port(int preferred) {
        if (!Ports.isListening(preferred)) {
            return preferred;
        }
        for (int attempt = 0; attempt < 100; attempt++) {
            int p = Ports.free();
            if (HANDED_OUT.add(p)) {
                return p;
            }
        }
        throw new IllegalStateException("no free port on 127.0.0.1 that this process has not handed out already");
    }

    /** Substitute ports handed out by {@link #port}, never handed out twice. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public Region region(String name) {
        Region r = regions.get(name);
        if (r == null) {
            throw new IllegalArgumentException("no region '" + name + "' in " + dir.resolve(FILE) + " (regions: "
                    + String.join(", ", regions.keySet()) + ")");
        }
        return r;
    }

    public String otherRegion(String name) {
        return regions.keySet().stream().filter(r -> !r.equals(name)).findFirst().orElseThrow();
    }

    /** Hazelcast cluster name: unique per deployment directory, so two deployments on one host never merge. */
    public String clusterName() {
        return "ledger-" + Integer.toHexString(dir.toString().hashCode());
    }

    /** host:port of every Hazelcast member (the two regions' nodes and the witness). */
    public java.util.List<String> hazelcastMembers() {
        java.util.List<String> members = new java.util.ArrayList<>();
        regions.values().forEach(r -> members.add(host(r.name()) + ":" + r.hazelcastPort()));
        members.add(host(WITNESS_SITE) + ":" + witnessHazelcastPort);
        return members;
    }

    /** The WAL keeper's WAL directory (served by its WAL service; the operator's restore reads it locally). */
    public Path walKeeperWal() {
        return io.paymentledger.replication.walkeeper.WalKeeper.walDir(witnessDir);
    }

    /** Where the WAL keeper serves its WAL (standbys' restore_command fetches from it before a promotion). */
    public String walKeeperUrl() {
        return "https://" + host(WITNESS_SITE) + ":" + witnessWalPort;
    }

    public Path logs() {
        return dir.resolve("logs");
    }

    /** The deployment's Prometheus: configuration, rules and its time-series database. */
    public Path prometheusDir() {
        return dir.resolve("prometheus");
    }

    public Path run() {
        return dir.resolve("run");
    }

    public static boolean exists(Path dir) {
        return Files.exists(dir.resolve(FILE));
    }

    public static Topology load(Path dir) {
        try {
            JsonObject j = new JsonObject(Files.readString(dir.resolve(FILE)));
            Map<String, Region> regions = new LinkedHashMap<>();
            JsonObject rs = j.getJsonObject("regions");
            for (String name : rs.fieldNames()) {
                JsonObject r = rs.getJsonObject(name);
                regions.put(name, new Region(name, r.getInteger("pgPort"), Path.of(r.getString("pgDir")),
                        r.getInteger("grpcPort"), r.getInteger("hazelcastPort")));
            }
            Path d = Path.of(j.getString("dir"));
            // Deployments made before the WAL keeper existed get its directory where a new one would.
            Path witness = j.containsKey("witnessDir") ? Path.of(j.getString("witnessDir")) : PgDirectories.choose(d, "witness");
            // Deployments made before Prometheus came with it get its ports now (kept from then on).
            MonitoringPorts monitoring = j.containsKey("monitoring") ? MonitoringPorts.fromJson(j.getJsonObject("monitoring"))
                    : MonitoringPorts.create(regions.keySet());
            // Deployments made before sites could be network namespaces are on loopback.
            Sites sites = j.containsKey("sites") ? Sites.fromJson(j.getJsonObject("sites")) : Sites.LOOPBACK;
            // Deployments made before the keeper served its WAL over the network get its port now (kept from then on).
            int walPort = j.containsKey("witnessWalPort") ? j.getInteger("witnessWalPort") : port(7504);
            // Deployments made before the sites' configuration was kept have the defaults (a first, CP 3 s / 1 s / 1500 ms).
            Settings settings = j.containsKey("settings") ? Settings.fromJson(j.getJsonObject("settings"))
                    : Settings.defaults(regions.keySet().iterator().next());
            return new Topology(d, regions, j.getInteger("witnessHazelcastPort"), walPort, j.getInteger("routerPort"),
                    j.getString("trustDomain"), witness, monitoring, sites, settings);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(FILE) + "; run ./ledger up first", e);
        }
    }

    public Topology withSettings(Settings s) {
        return new Topology(dir, regions, witnessHazelcastPort, witnessWalPort, routerPort, trustDomain, witnessDir, monitoring,
                sites, s);
    }

    public void save() {
        JsonObject rs = new JsonObject();
        regions.forEach((name, r) -> rs.put(name, new JsonObject().put("pgPort", r.pgPort()).put("pgDir", r.pgDir().toString())
                .put("grpcPort", r.grpcPort()).put("hazelcastPort", r.hazelcastPort())));
        JsonObject j = new JsonObject().put("dir", dir.toString()).put("regions", rs)
                .put("witnessHazelcastPort", witnessHazelcastPort).put("witnessWalPort", witnessWalPort).put("routerPort", routerPort).put("trustDomain", trustDomain)
                .put("witnessDir", witnessDir.toString()).put("monitoring", monitoring.toJson()).put("sites", sites.toJson())
                .put("settings", settings.toJson());
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(FILE), j.encodePrettily());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
