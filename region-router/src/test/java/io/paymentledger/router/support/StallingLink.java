package io.paymentledger.router.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP link in front of a server that a test can cut silently, as a dropped network path does: bytes stop flowing
 * both ways on the open connections, nothing is closed or reset; no new connection is established meanwhile (closed
 * at once here, where a lost SYN would time out). After the cut is lifted, connections opened from then on flow, while those
 * that were open during the cut stay stalled — what TCP does after a long cut: their retransmissions back off
 * exponentially (the next one can come tens of seconds after the path is back), while a fresh connection's SYN goes
 * through at once.
 */
public final class StallingLink implements AutoCloseable {

    private final ServerSocket server;
    private final int targetPort;
    private final List<Pair> pairs = new CopyOnWriteArrayList<>();
    private volatile boolean cut;
    private volatile boolean closed;

    private final class Pair {
        final Socket in;
        final Socket out;
        volatile boolean stalled;

        Pair(Socket in, Socket out, boolean stalled) {
            this.in = in;
            this.out = out;
            this.stalled = stalled;
        }

        void close() {
            try {
                in.close();
            } catch (IOException ignored) {
                // closing
            }
            try {
                out.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    public StallingLink(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("stalling-link-accept").start(this::accept);
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Cuts the link: nothing flows on the open connections, and none can be opened. */
    public void cut() {
        cut = true;
        pairs.forEach(p -> p.stalled = true);
    }

    /** The path is back: new connections flow; those open during the cut stay stalled. */
    public void heal() {
        cut = false;
    }

    private void accept() {
        while (!closed) {
            try {
                Socket in = server.accept();
                if (cut) {
                    // No connection is established across a cut (its SYN is lost); the caller's connect fails.
                    in.close();
                    continue;
                }
                Socket out = new Socket();
                out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 2_000);
                Pair p = new Pair(in, out, false);
                pairs.add(p);
                Thread.ofPlatform().daemon().start(() -> pump(p, p.in, p.out));
                Thread.ofPlatform().daemon().start(() -> pump(p, p.out, p.in));
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private void pump(Pair p, Socket from, Socket to) {
        byte[] buf = new byte[16 * 1024];
        try {
            InputStream i = from.getInputStream();
            OutputStream o = to.getOutputStream();
            while (true) {
                while (p.stalled) {
                    Thread.sleep(20); // silence: read nothing, forward nothing, close nothing
                }
                int n = i.read(buf);
                if (n < 0) {
                    break;
                }
                while (p.stalled) {
                    Thread.sleep(20);
                }
                o.write(buf, 0, n);
                o.flush();
            }
        } catch (IOException | InterruptedException e) {
            // closed
        }
        if (!p.stalled) {
            p.close();
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        pairs.forEach(Pair::close);
    }
}
