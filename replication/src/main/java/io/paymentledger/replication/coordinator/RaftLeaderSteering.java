package io.paymentledger.replication.coordinator;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.cp.CPGroupId;
import com.hazelcast.cp.CPMember;
import com.hazelcast.cp.internal.RaftService;
import com.hazelcast.cp.internal.raft.impl.RaftEndpoint;
import com.hazelcast.cp.internal.raft.impl.RaftNode;
import com.hazelcast.instance.impl.HazelcastInstanceProxy;
import com.hazelcast.spi.impl.operationservice.impl.RaftInvocationContext;
import java.lang.reflect.Field;
import java.util.concurrent.ConcurrentMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Points this member's CP calls at the Raft leader its own Raft node knows.
 *
 * <p>Hazelcast 5.3 sends every CP call of a group (ours, and its own CP session heartbeats) to a cached "known
 * leader" ({@code RaftInvocationContext.knownLeaders}), replaced only by a reply naming another leader, a member-left
 * event or an I/O error. A call that times out leaves it as it was. So when the Raft leader goes silent — cut off,
 * paused — every call of every member keeps going to it, and hangs, until Hazelcast drops it from the cluster; even
 * though the other two members elected a new leader within about two seconds (3 missed 500 ms heartbeats, then
 * a vote). This member is itself in every CP group (three CP members, groups of three), so its Raft node learns the
 * new leader from that leader's first append; {@link #steer} copies it into the cache.
 *
 * <p>Only where calls are sent changes, never what they do: a wrong guess is answered "not the leader" with the
 * right one (Hazelcast's normal redirect). The cache is a private field: read by reflection once; if Hazelcast
 * changed it, steering is off (logged once) and calls behave as Hazelcast's own.
 */
final class RaftLeaderSteering {

    private static final Logger LOG = Logger.getLogger(RaftLeaderSteering.class.getName());

    private final HazelcastInstance hz;
    private final String memberName;
    private volatile boolean off;
    private RaftService raft;
    private RaftInvocationContext context;
    private ConcurrentMap<CPGroupId, CPMember> knownLeaders;
    private com.hazelcast.cp.internal.session.ProxySessionManagerService sessions;

    RaftLeaderSteering(HazelcastInstance hz, String memberName) {
        this.hz = hz;
        this.memberName = memberName;
    }

    /** Replaces a cached leader that this member's Raft node knows to be deposed. Cheap; any thread. */
    void steer() {
        if (off) {
            return;
        }
        try {
            if (!bind()) {
                return;
            }
            for (RaftNode node : raft.getAllRaftNodes()) {
                RaftEndpoint leader = node.getLeader();
                if (leader == null) {
                    continue; // an election is under way: nothing better to offer than what is cached
                }
                CPGroupId group = node.getGroupId();
                CPMember cached = knownLeaders.get(group);
                if (cached != null && cached.getUuid().equals(leader.getUuid())) {
                    continue;
                }
                CPMember current = context.getCPMember(leader.getUuid());
                if (current != null) {
                    knownLeaders.put(group, current);
                    if (cached != null) {
                        heartbeatSession(group);
                        LOG.info(() -> "coordinator " + memberName + ": CP calls of group " + group.getName() + " go to "
                                + current.getAddress() + " from now on, the Raft leader my Raft node follows (they went to "
                                + cached.getAddress() + ")");
                    }
                }
            }
        } catch (RuntimeException | ReflectiveOperationException | LinkageError e) {
            off = true;
            LOG.log(Level.WARNING, "coordinator " + memberName + ": cannot steer CP calls to the Raft leader (Hazelcast's"
                    + " internals differ from 5.3); calls go where Hazelcast sends them", e);
        }
    }

    /**
     * Drills (issue #19: "for each placement of the Raft leader") ask for the CP groups' Raft leadership to be on one
     * member by writing its name into {@code wishFile}. A member that leads a group moves it there (Hazelcast's own
     * leadership transfer); the member that sees every group led by the wished member removes the file: the wish is
     * one-shot, so nothing keeps pushing leadership to a member that a fault then cuts off. Returns a sentence for
     * the log, "" when there is nothing to do.
     */
    String honourWish(java.nio.file.Path wishFile, java.util.Map<String, String> addressByName) {
        if (off || wishFile == null || !java.nio.file.Files.exists(wishFile)) {
            return "";
        }
        try {
            if (!bind()) {
                return "";
            }
            String name = java.nio.file.Files.readString(wishFile).strip();
            String address = addressByName.get(name);
            if (address == null) {
                return "";
            }
            boolean allThere = true;
            StringBuilder moved = new StringBuilder();
            for (RaftNode node : raft.getAllRaftNodes()) {
                CPMember target = node.getCommittedMembers().stream().map(e -> context.getCPMember(e.getUuid()))
                        .filter(m -> m != null && address.equals(m.getAddress().getHost() + ":" + m.getAddress().getPort()))
                        .findFirst().orElse(null);
                RaftEndpoint leader = node.getLeader();
                if (target == null || leader == null) {
                    allThere = false;
                    continue;
                }
                if (leader.getUuid().equals(target.getUuid())) {
                    continue;
                }
                allThere = false;
                if (leader.getUuid().equals(node.getLocalMember().getUuid())
                        && target instanceof com.hazelcast.cp.internal.CPMemberInfo info) {
                    raft.transferLeadership(node.getGroupId(), info); // not awaited: the next upkeep looks again
                    moved.append(moved.isEmpty() ? "" : ", ").append(node.getGroupId().getName());
                }
            }
            if (allThere) {
                java.nio.file.Files.deleteIfExists(wishFile);
                return "every CP group's Raft leader is " + name + ", as " + wishFile + " asked";
            }
            return moved.isEmpty() ? "" : "moving the Raft leadership of " + moved + " to " + name + ", as " + wishFile + " asks";
        } catch (java.io.IOException | RuntimeException | ReflectiveOperationException e) {
            return "cannot move the Raft leadership as " + wishFile + " asks: " + e;
        }
    }

    /**
     * Hazelcast heartbeats this member's CP session every second, to the cached leader: those sent while it pointed at
     * the silent member are lost, and the session would expire on the new leader although this member is alive. One
     * heartbeat now, to the new leader (a heartbeat only extends the session; its answer is not awaited).
     */
    private void heartbeatSession(CPGroupId group) {
        if (!(group instanceof com.hazelcast.cp.internal.RaftGroupId raftGroup)) {
            return;
        }
        long session = sessions.getSession(raftGroup);
        if (session != com.hazelcast.cp.internal.session.AbstractProxySessionManager.NO_SESSION_ID) {
            raft.getInvocationManager().invoke(group, new com.hazelcast.cp.internal.session.operation.HeartbeatSessionOp(session));
        }
    }

    @SuppressWarnings("unchecked")
    private synchronized boolean bind() throws ReflectiveOperationException {
        if (knownLeaders != null) {
            return true;
        }
        if (!(hz instanceof HazelcastInstanceProxy proxy)) {
            return false;
        }
        var nodeEngine = proxy.getOriginal().node.getNodeEngine();
        RaftService service = nodeEngine.getService(RaftService.SERVICE_NAME);
        sessions = nodeEngine.getService(com.hazelcast.cp.internal.session.ProxySessionManagerService.SERVICE_NAME);
        RaftInvocationContext ctx = service.getInvocationManager().getRaftInvocationContext();
        Field f = RaftInvocationContext.class.getDeclaredField("knownLeaders");
        f.setAccessible(true);
        context = ctx;
        raft = service;
        knownLeaders = (ConcurrentMap<CPGroupId, CPMember>) f.get(ctx);
        return true;
    }
}
