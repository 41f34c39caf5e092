package io.paymentledger.cli.chaos;

import io.paymentledger.cli.deploy.LocalDeployment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The faults `./ledger chaos run` schedules. A new class is one constant here with its {@link #inject} body, built
 * from what {@link Injector} can do (add a primitive there when it cannot yet): the run injects it, holds it, calls
 * the returned {@link Injection#heal()}, and waits for the deployment to recover before the next one.
 * "The leader" is whichever node leads when the fault is injected, not region a.
 */
public enum FaultClass {
    /** SIGSTOP of the leading node (a GC or VM pause: the zombie leader), SIGCONT when healed. */
    PAUSE_LEADER_NODE {
        @Override
        public Injection inject(Injector at) {
            return at.pause(LocalDeployment.nodeName(at.leaderRegion()));
        }
    },
    /** SIGSTOP of the leading region's PostgreSQL (postmaster and backends: a stalled disk, a frozen VM). */
    PAUSE_LEADER_POSTGRES {
        @Override
        public Injection inject(Injector at) {
            return at.pause("postgres-" + at.leaderRegion());
        }
    },
    /** SIGSTOP of the witness (CP member and WAL keeper). */
    PAUSE_WITNESS {
        @Override
        public Injection inject(Injector at) {
            return at.pause(LocalDeployment.WITNESS);
        }
    },
    /** SIGKILL of the leading node; healed by `./ledger up` (it restarts and rejoins as the standby's node). */
    KILL_LEADER_NODE {
        @Override
        public Injection inject(Injector at) {
            return at.kill(LocalDeployment.nodeName(at.leaderRegion()));
        }
    },
    /** SIGKILL of the leading region's PostgreSQL; healed by `./ledger up` (it rejoins as a standby). */
    KILL_LEADER_POSTGRES {
        @Override
        public Injection inject(Injector at) {
            return at.kill("postgres-" + at.leaderRegion());
        }
    },
    /** Every link of the leading region cut (sites in network namespaces); healed by removing the cut. */
    ISOLATE_LEADER_REGION(true) {
        @Override
        public Injection inject(Injector at) {
            String leader = at.leaderRegion();
            return at.network(leader, net -> net.isolate(leader));
        }
    },
    /** The link between the two regions cut both ways; both still reach the witness. */
    PARTITION_LEADER_STANDBY(true) {
        @Override
        public Injection inject(Injector at) {
            String leader = at.leaderRegion();
            String standby = at.deployment().topology().otherRegion(leader);
            return at.network(leader + "<->" + standby, net -> net.partition(leader, standby));
        }
    },
    /** What the leading region sends to the standby's is dropped (one direction only). */
    CUT_LEADER_TO_STANDBY(true) {
        @Override
        public Injection inject(Injector at) {
            String leader = at.leaderRegion();
            String standby = at.deployment().topology().otherRegion(leader);
            return at.network(leader + "->" + standby, net -> net.cut(leader, standby));
        }
    },
    /** What the standby's region sends to the leading one is dropped (one direction only). */
    CUT_STANDBY_TO_LEADER(true) {
        @Override
        public Injection inject(Injector at) {
            String leader = at.leaderRegion();
            String standby = at.deployment().topology().otherRegion(leader);
            return at.network(standby + "->" + leader, net -> net.cut(standby, leader));
        }
    },
    /** Every link of the witness cut. */
    ISOLATE_WITNESS(true) {
        @Override
        public Injection inject(Injector at) {
            return at.network(io.paymentledger.cli.deploy.Topology.WITNESS_SITE,
                    net -> net.isolate(io.paymentledger.cli.deploy.Topology.WITNESS_SITE));
        }
    };

    private final boolean cutsLinks;

    FaultClass() {
        this(false);
    }

    FaultClass(boolean cutsLinks) {
        this.cutsLinks = cutsLinks;
    }

    /** Does it cut links between sites (only a deployment made with `./ledger up --sites netns` has them)? */
    public boolean cutsLinks() {
        return cutsLinks;
    }

    /** Injects the fault now; what was done and how to undo it are in the answer. */
    public abstract Injection inject(Injector at);

    /** The name on the command line and in reports: pause_leader_node. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** "all", or names separated by commas (pause_leader_node or pause-leader-node); in the order given. */
    public static List<FaultClass> parse(String list) {
        return parse(list, true);
    }

    /**
     * As {@link #parse(String)} for a deployment whose sites are ({@code netns}) or are not network namespaces: "all"
     * then means the classes it can suffer, and a class that cuts links is refused on loopback.
     */
    public static List<FaultClass> parse(String list, boolean netns) {
        if (list.trim().equalsIgnoreCase("all")) {
            return Arrays.stream(values()).filter(c -> netns || !c.cutsLinks()).toList();
        }
        List<FaultClass> classes = new ArrayList<>();
        for (String name : list.split(",")) {
            String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
            if (n.isEmpty()) {
                continue;
            }
            FaultClass c;
            try {
                c = valueOf(n);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown fault class '" + name.trim() + "' (known: " + names() + ", or all)");
            }
            if (c.cutsLinks() && !netns) {
                throw new IllegalArgumentException(c.cliName() + " cuts links between sites: it needs a deployment made"
                        + " with ./ledger up --sites netns");
            }
            if (!classes.contains(c)) {
                classes.add(c);
            }
        }
        if (classes.isEmpty()) {
            throw new IllegalArgumentException("no fault class given (known: " + names() + ", or all)");
        }
        return classes;
    }

    public static String names() {
        return String.join(", ", Arrays.stream(values()).map(FaultClass::cliName).toList());
    }

    /**
     * A fault in place: on which process, what was done and how an operator undoes it by hand, and the undo itself.
     */
    public record Injection(String target, String done, String undo, Heal undoer) {
        public void heal() {
            undoer.heal();
        }
    }

    /** Undoes one injected fault. */
    @FunctionalInterface
    public interface Heal {
        void heal();
    }
}
