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
    };

    /** Injects the fault now; what was done and how to undo it are in the answer. */
    public abstract Injection inject(Injector at);

    /** The name on the command line and in reports: pause_leader_node. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** "all", or names separated by commas (pause_leader_node or pause-leader-node); in the order given. */
    public static List<FaultClass> parse(String list) {
        if (list.trim().equalsIgnoreCase("all")) {
            return Arrays.asList(values());
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
