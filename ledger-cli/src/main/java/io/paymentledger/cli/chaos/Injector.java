package io.paymentledger.cli.chaos;

import io.paymentledger.cli.chaos.FaultClass.Injection;
import io.paymentledger.cli.command.KillCommand;
import io.paymentledger.cli.deploy.LocalDeployment;
import java.time.Duration;
import java.util.List;

/**
 * What a {@link FaultClass} can do to the running deployment, each returning the {@link Injection} with its undo.
 * The pauses go through {@link Faults} (recorded in the run directory, so `./ledger chaos heal` undoes them even if
 * this process dies); kills go through `./ledger kill`'s code and are undone by `./ledger up`.
 */
public final class Injector {

    /** How long to wait for a leader before injecting a fault that targets it. */
    static final Duration LEADER_WAIT = Duration.ofSeconds(30);

    private final LocalDeployment d;
    private final Faults faults;

    public Injector(LocalDeployment d) {
        this.d = d;
        this.faults = new Faults(d);
    }

    public LocalDeployment deployment() {
        return d;
    }

    /** The region that leads now (the newest epoch's leader: a node just woken from a pause may still claim it). */
    public String leaderRegion() {
        return d.awaitLeader(LEADER_WAIT).getRegion();
    }

    /** SIGSTOP to the process tree; healed by SIGCONT. */
    public Injection pause(String process) {
        List<Long> pids = faults.pause(process);
        return new Injection(process, "SIGSTOP to " + process + " (pids " + pids + ")",
                "./ledger chaos resume " + process, () -> faults.resume(process));
    }

    /** SIGKILL; healed by starting what is down (as `./ledger up`). */
    public Injection kill(String process) {
        KillCommand.kill(d, process);
        return new Injection(process, "SIGKILL to " + process, "./ledger up", d::up);
    }

    /** Cuts links with {@code cut} (netns layout); healed by removing every cut (`./ledger chaos heal`). */
    public Injection network(String target, java.util.function.Function<NetworkFaults, String> cut) {
        NetworkFaults net = new NetworkFaults(d.topology());
        String done = cut.apply(net);
        return new Injection(target, done, "./ledger chaos heal", net::heal);
    }

    /** Resumes every process still recorded as paused (by this run or any other chaos command). */
    public List<String> healPauses() {
        return faults.heal();
    }
}
