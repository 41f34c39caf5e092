package io.paymentledger.cli.chaos;

import io.paymentledger.cli.deploy.Sites;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.replication.postgres.ProcessRunner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Cut links between the sites of a netns deployment (`./ledger up --sites netns`): nftables rules in a site's own
 * network namespace that silently DROP packets, as a broken link or a firewall does (no refusal, no reset: the peer
 * hears nothing and has to time out). Every rule lives in one table, {@value #TABLE}, per site namespace, so
 * {@link #heal} removes them all; what is in place is also listed in {@code <run>/chaos-network} for the operator.
 * <ul>
 *   <li>{@link #isolate}: every packet in or out of the site (except its own loopback) — the router, the other
 *       region and the witness all lose it, and it loses them;</li>
 *   <li>{@link #partition}: the two sites lose each other, everything else still works;</li>
 *   <li>{@link #cut}: one direction only — {@code from} cannot send to {@code to} (packets {@code to} sends still
 *       arrive, but TCP needs both directions, so connections between them stall either way).</li>
 * </ul>
 */
public final class NetworkFaults {

    static final String TABLE = "ledger_chaos";
    private static final String FAMILY = "inet";
    private static final String STATE_FILE = "chaos-network";
    static final long NFT_TIMEOUT_SECONDS = 10;

    private final Topology topology;
    private final Sites sites;

    public NetworkFaults(Topology topology) {
        if (!topology.sites().netns()) {
            throw new IllegalStateException("links can only be cut between sites in network namespaces; this deployment"
                    + " is on loopback (start a new one with ./ledger up --sites netns --dir <another dir>)");
        }
        this.topology = topology;
        this.sites = topology.sites();
    }

    /** Cuts every link of {@code site}; returns what was done. */
    public String isolate(String site) {
        ensureTable(site);
        nft(site, "add", "rule", FAMILY, TABLE, "in", "iifname", "!=", "lo", "drop");
        nft(site, "add", "rule", FAMILY, TABLE, "out", "oifname", "!=", "lo", "drop");
        return record("isolate " + site + ": every packet in or out of " + sites.host(site) + " dropped (namespace "
                + namespace(site) + ")");
    }

    /** Cuts the link between {@code one} and {@code other}, both ways. */
    public String partition(String one, String other) {
        requireDistinct(one, other);
        for (String[] pair : new String[][] {{one, other}, {other, one}}) {
            ensureTable(pair[0]);
            String peer = sites.host(pair[1]);
            nft(pair[0], "add", "rule", FAMILY, TABLE, "out", "ip", "daddr", peer, "drop");
            nft(pair[0], "add", "rule", FAMILY, TABLE, "in", "ip", "saddr", peer, "drop");
        }
        return record("partition " + one + " <-> " + other + ": packets between " + sites.host(one) + " and "
                + sites.host(other) + " dropped both ways");
    }

    /** Cuts {@code from} → {@code to} only: what {@code from} sends to {@code to} is dropped. */
    public String cut(String from, String to) {
        requireDistinct(from, to);
        ensureTable(from);
        nft(from, "add", "rule", FAMILY, TABLE, "out", "ip", "daddr", sites.host(to), "drop");
        return record("cut " + from + " -> " + to + ": packets from " + sites.host(from) + " to " + sites.host(to)
                + " dropped (the other way still delivers)");
    }

    /** Removes every cut in every site; returns what was in place. */
    public List<String> heal() {
        List<String> was = inPlace();
        io.paymentledger.cli.deploy.SiteNetwork network = new io.paymentledger.cli.deploy.SiteNetwork(sites);
        for (String site : sites.namespaces().keySet()) {
            if (!network.exists(site)) {
                continue;
            }
            if (ProcessRunner.run(nftCommand(site, "list", "tables"), NFT_TIMEOUT_SECONDS).output().contains(TABLE)) {
                nft(site, "delete", "table", FAMILY, TABLE);
            }
        }
        write(List.of());
        return was;
    }

    /** The cuts in place, as {@link #isolate}/{@link #partition}/{@link #cut} described them. */
    public List<String> inPlace() {
        Path f = stateFile();
        try {
            return Files.exists(f) ? Files.readAllLines(f).stream().filter(l -> !l.isBlank()).toList() : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String namespace(String site) {
        return sites.namespace(site).orElseThrow(() -> new IllegalArgumentException("no site '" + site + "' (sites: "
                + String.join(", ", sites.namespaces().keySet()) + ")"));
    }

    private static void requireDistinct(String one, String other) {
        if (one.equals(other)) {
            throw new IllegalArgumentException("a site cannot be cut from itself: " + one);
        }
    }

    /** The table and its two chains (input and output hooks, accepting what no rule drops); idempotent. */
    private void ensureTable(String site) {
        nft(site, "add", "table", FAMILY, TABLE);
        nft(site, "add", "chain", FAMILY, TABLE, "in", "{ type filter hook input priority 0 ; policy accept ; }");
        nft(site, "add", "chain", FAMILY, TABLE, "out", "{ type filter hook output priority 0 ; policy accept ; }");
    }

    /** nft run inside {@code site}'s namespace. */
    private List<String> nftCommand(String site, String... args) {
        namespace(site);
        List<String> cmd = new ArrayList<>(sites.launcher(site));
        cmd.add("nft");
        cmd.addAll(List.of(args));
        return cmd;
    }

    private void nft(String site, String... args) {
        try {
            ProcessRunner.run(nftCommand(site, args), NFT_TIMEOUT_SECONDS);
        } catch (IllegalStateException e) {
            if (e.getMessage() != null && (e.getMessage().contains("cannot start") || e.getMessage().contains("exec of \"nft\""))) {
                throw new IllegalStateException("nft (nftables) is needed to cut links: apt-get install nftables", e);
            }
            throw e;
        }
    }

    private String record(String line) {
        List<String> lines = new ArrayList<>(inPlace());
        lines.add(line);
        write(lines);
        return line;
    }

    private Path stateFile() {
        return topology.run().resolve(STATE_FILE);
    }

    private void write(List<String> lines) {
        try {
            Files.createDirectories(stateFile().getParent());
            Files.write(stateFile(), lines);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
