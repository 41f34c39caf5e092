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
        String ns = namespace(site);
        ensureTable(ns);
        nft(ns, "add", "rule", FAMILY, TABLE, "in", "iifname", "!=", "lo", "drop");
        nft(ns, "add", "rule", FAMILY, TABLE, "out", "oifname", "!=", "lo", "drop");
        return record("isolate " + site + ": every packet in or out of " + sites.host(site) + " dropped (namespace " + ns + ")");
    }

    /** Cuts the link between {@code one} and {@code other}, both ways. */
    public String partition(String one, String other) {
        requireDistinct(one, other);
        for (String[] pair : new String[][] {{one, other}, {other, one}}) {
            String ns = namespace(pair[0]);
            ensureTable(ns);
            String peer = sites.host(pair[1]);
            nft(ns, "add", "rule", FAMILY, TABLE, "out", "ip", "daddr", peer, "drop");
            nft(ns, "add", "rule", FAMILY, TABLE, "in", "ip", "saddr", peer, "drop");
        }
        return record("partition " + one + " <-> " + other + ": packets between " + sites.host(one) + " and "
                + sites.host(other) + " dropped both ways");
    }

    /** Cuts {@code from} → {@code to} only: what {@code from} sends to {@code to} is dropped. */
    public String cut(String from, String to) {
        requireDistinct(from, to);
        String ns = namespace(from);
        ensureTable(ns);
        nft(ns, "add", "rule", FAMILY, TABLE, "out", "ip", "daddr", sites.host(to), "drop");
        return record("cut " + from + " -> " + to + ": packets from " + sites.host(from) + " to " + sites.host(to)
                + " dropped (the other way still delivers)");
    }

    /** Removes every cut in every site; returns what was in place. */
    public List<String> heal() {
        List<String> was = inPlace();
        for (String site : sites.namespaces().keySet()) {
            String ns = namespace(site);
            if (!Files.exists(Path.of("/run/netns", ns))) {
                continue;
            }
            if (ProcessRunner.run(nftCommand(ns, "list", "tables"), NFT_TIMEOUT_SECONDS).output().contains(TABLE)) {
                nft(ns, "delete", "table", FAMILY, TABLE);
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
    private void ensureTable(String ns) {
        nft(ns, "add", "table", FAMILY, TABLE);
        nft(ns, "add", "chain", FAMILY, TABLE, "in", "{ type filter hook input priority 0 ; policy accept ; }");
        nft(ns, "add", "chain", FAMILY, TABLE, "out", "{ type filter hook output priority 0 ; policy accept ; }");
    }

    private static List<String> nftCommand(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "nft"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static void nft(String ns, String... args) {
        try {
            ProcessRunner.run(nftCommand(ns, args), NFT_TIMEOUT_SECONDS);
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
