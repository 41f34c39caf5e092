package io.paymentledger.cli.deploy;

import io.paymentledger.replication.postgres.ProcessRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The network of a {@link Sites.Layout#NETNS} deployment, made with iproute2: one network namespace per site, each
 * with a veth pair whose other end hangs on a bridge in the operator's namespace (the bridge holds the subnet's
 * first address). Creating and removing it is idempotent. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); without it
 * {@link #requireSupported} says so in one sentence and the loopback layout remains.
 */
public final class SiteNetwork {

    /** iproute2 commands return at once; one that does not within this is broken. */
    static final long IP_TIMEOUT_SECONDS = 10;
    private static final Path NETNS_DIR = Path.of("/run/netns");
    private static final Path SYS_NET = Path.of("/sys/class/net");

    private final Sites sites;

    public SiteNetwork(Sites sites) {
        if (!sites.netns()) {
            throw new IllegalArgumentException("the sites are on loopback: there is no site network");
        }
        this.sites = sites;
    }

    /**
     * Fails with one sentence when this machine cannot host the netns layout: not root, or no iproute2, or the kernel
     * refuses network namespaces.
     */
    public static void requireSupported() {
        String uid = ProcessRunner.run(List.of("id", "-u"), IP_TIMEOUT_SECONDS).output().strip();
        if (!uid.equals("0")) {
            throw new IllegalStateException("--sites netns needs root (network namespaces and links are made"
                    + " with iproute2); this runs as uid " + uid + ": use the default loopback layout (./ledger up).");
        }
        try {
            ProcessRunner.run(List.of("ip", "netns", "list"), IP_TIMEOUT_SECONDS);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("--sites netns needs iproute2's `ip netns` (Debian: apt-get install"
                    + " iproute2): " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    /** Subnets tried before giving up when every candidate is already routed on this machine. */
    static final int SUBNET_ATTEMPTS_MAX = 20;

    /**
     * The netns layout for {@code names}, in a /24 that no interface of this machine uses yet and with namespace names
     * no other deployment took.
     */
    public static Sites choose(List<String> names, String seed) {
        String addresses = ProcessRunner.run(List.of("ip", "-4", "-o", "addr", "show"), IP_TIMEOUT_SECONDS).output();
        for (int attempt = 0; attempt < SUBNET_ATTEMPTS_MAX; attempt++) {
            Sites s = Sites.netns(names, seed, attempt);
            String prefix = s.gateway().substring(0, s.gateway().lastIndexOf('.') + 1);
            boolean taken = addresses.contains(" " + prefix) || s.namespaces().values().stream()
                    .anyMatch(ns -> Files.exists(NETNS_DIR.resolve(ns)));
            if (!taken) {
                return s;
            }
        }
        throw new IllegalStateException("no free 10.x.y.0/24 for the sites after " + SUBNET_ATTEMPTS_MAX + " tries; see ip -4 addr");
    }

    /** The root-side end of {@code site}'s veth pair (interface names are at most 15 characters). */
    String hostEnd(String site) {
        return sites.bridge().replace("lgb", "lg") + index(site);
    }

    /** The end of {@code site}'s veth pair inside its namespace. */
    String siteEnd(String site) {
        return hostEnd(site) + "n";
    }

    private int index(String site) {
        return new ArrayList<>(sites.hosts().keySet()).indexOf(site);
    }

    /** Creates what is missing: the bridge, each site's namespace (loopback up), its veth pair and its address. */
    public void up() {
        String prefix = "/" + sites.prefixBits();
        if (!Files.exists(SYS_NET.resolve(sites.bridge()))) {
            ip("link", "add", "name", sites.bridge(), "type", "bridge");
            ip("addr", "add", sites.gateway() + prefix, "dev", sites.bridge());
        }
        ip("link", "set", sites.bridge(), "up");
        for (Map.Entry<String, String> e : sites.namespaces().entrySet()) {
            String site = e.getKey();
            String ns = e.getValue();
            if (!Files.exists(NETNS_DIR.resolve(ns))) {
                ip("netns", "add", ns);
            }
            ip("-n", ns, "link", "set", "lo", "up");
            if (!Files.exists(SYS_NET.resolve(hostEnd(site)))) {
                ip("link", "add", hostEnd(site), "type", "veth", "peer", "name", siteEnd(site), "netns", ns);
                ip("link", "set", hostEnd(site), "master", sites.bridge());
                ip("-n", ns, "addr", "add", sites.host(site) + prefix, "dev", siteEnd(site));
            }
            ip("link", "set", hostEnd(site), "up");
            ip("-n", ns, "link", "set", siteEnd(site), "up");
        }
    }

    /** Removes the namespaces (their veth pairs go with them) and the bridge; what is already gone is skipped. */
    public void down() {
        for (String ns : sites.namespaces().values()) {
            if (Files.exists(NETNS_DIR.resolve(ns))) {
                ip("netns", "del", ns);
            }
        }
        if (Files.exists(SYS_NET.resolve(sites.bridge()))) {
            ip("link", "del", sites.bridge());
        }
    }

    /** Does {@code site}'s namespace exist (the network is up)? */
    public boolean exists(String site) {
        return sites.namespace(site).map(ns -> Files.exists(NETNS_DIR.resolve(ns))).orElse(false);
    }

    static void ip(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        ProcessRunner.run(cmd, IP_TIMEOUT_SECONDS);
    }
}
