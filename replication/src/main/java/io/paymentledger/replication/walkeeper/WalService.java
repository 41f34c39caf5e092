package io.paymentledger.replication.walkeeper;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * The WAL keeper's WAL over the network: {@code GET /wal/<file>} answers a WAL segment (or, for the segment being
 * written, its {@code .partial}) or a timeline history file from the keeper's directory, over mutual TLS 1.3. Only a
 * region's PostgreSQL (identity {@code region/<r>/postgres}: its {@code restore_command} fetches with the server's own
 * certificate, {@link #restoreCommand}) and the operator may read: the WAL is every ledger row.
 *
 * <p>Before, a standby fetched with a local copy out of the witness's directory: on separate hosts that always
 * failed, and any failure left the candidate in TAKING_OVER with the leader lock (issue #18). Now the fetch is a
 * network call with a deadline ({@link #FETCH_TIMEOUT_SECONDS}), and the takeover itself has one
 * (FailoverStateMachine.TAKEOVER_DEADLINE_MS).
 */
public final class WalService implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(WalService.class.getName());

    /**
     * A segment (4 MB; 16 MB in clusters created before PgCluster.WAL_SEGMENT_MB) or history file must arrive within
     * this (curl --max-time); a failed fetch is retried by PostgreSQL.
     */
    public static final int FETCH_TIMEOUT_SECONDS = 20;
    /** The keeper must accept the connection within this (curl --connect-timeout). */
    public static final int CONNECT_TIMEOUT_SECONDS = 3;
    /** What a client may ask for: a segment name or a timeline history file name (never a path). */
    static final Pattern FILE = Pattern.compile("^(?:[0-9A-F]{24}|[0-9A-F]{8}\\.history)$");

    /**
     * @param walDir       the keeper's WAL directory
     * @param host         address to listen on (the witness site's)
     * @param port         port to listen on (0: any free one, see {@link #port()})
     * @param certFile     the keeper's certificate (serverAuth), key and CA
     * @param trustDomain  whose identities are accepted
     */
    public record Config(Path walDir, String host, int port, Path certFile, Path keyFile, Path caFile, String trustDomain) {}

    private final Config config;
    private final Vertx vertx;
    private final HttpServer server;

    private WalService(Config config, Vertx vertx, HttpServer server) {
        this.config = config;
        this.vertx = vertx;
        this.server = server;
    }

    /** Starts listening; fails (naming the address) when it cannot. */
    public static WalService start(Config config) {
        Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2));
        HttpServerOptions options = Tls.serverOptions(config.certFile(), config.keyFile(), config.caFile(), null, ClientAuth.REQUIRED)
                .setHost(config.host()).setPort(config.port());
        HttpServer server = vertx.createHttpServer(options);
        WalService service = new WalService(config, vertx, server);
        server.requestHandler(service::handle);
        try {
            server.listen().timeout(30, java.util.concurrent.TimeUnit.SECONDS).await();
        } catch (RuntimeException e) {
            vertx.close();
            throw new IllegalStateException("WAL keeper service: cannot listen on " + config.host() + ":" + config.port() + ": "
                    + e.getMessage(), e);
        }
        LOG.info(() -> "WAL keeper service: serving " + config.walDir() + " on https://" + config.host() + ":" + server.actualPort());
        return service;
    }

    /** Serves the certificate now in {@code certFile}/{@code keyFile} from the next connection on (a renewal). */
    public void reloadTls() {
        server.updateSSLOptions(Tls.serverSslOptions(config.certFile(), config.keyFile(), config.caFile(), null,
                ClientAuth.REQUIRED)).onFailure(e -> LOG.warning(() -> "WAL keeper service: cannot reload its certificate: "
                + e.getMessage()));
    }

    public int port() {
        return server.actualPort();
    }

    private void handle(HttpServerRequest req) {
        Optional<Principal> who = Identities.fromPeer(req.connection(), config.trustDomain());
        boolean allowed = who.map(p -> p instanceof Principal.Operator
                || (p instanceof Principal.Service s && s.component().equals("postgres"))).orElse(false);
        if (!allowed) {
            req.response().setStatusCode(403).end("only a region's PostgreSQL or the operator may read the WAL keeper's WAL\n");
            return;
        }
        String path = req.path();
        String name = path.startsWith("/wal/") ? path.substring("/wal/".length()) : "";
        if (req.method() != HttpMethod.GET || !FILE.matcher(name).matches()) {
            req.response().setStatusCode(400).end("GET /wal/<segment or NNNNNNNN.history>\n");
            return;
        }
        Path file = config.walDir().resolve(name);
        if (!Files.isRegularFile(file)) {
            // The segment being written: pg_receivewal keeps it as .partial, padded with zeros to a whole segment, so
            // a recovering server reads it as the segment and stops at the end of its valid records.
            file = config.walDir().resolve(name + ".partial");
        }
        if (!Files.isRegularFile(file)) {
            req.response().setStatusCode(404).end("the WAL keeper has no " + name + "\n");
            return;
        }
        req.response().sendFile(file.toString()).onFailure(e -> LOG.warning(() -> "WAL keeper service: sending " + name
                + " failed: " + e.getMessage()));
    }

    /**
     * The restore_command of a region's PostgreSQL that fetches a WAL file from the keeper's service at
     * {@code baseUrl} ({@code https://host:port}) with the server's own TLS files in {@code tlsDir} (ca.crt, server.crt,
     * server.key: its certificate is a client certificate too). Fails (non-zero) when the keeper has no such file, does
     * not answer within {@link #CONNECT_TIMEOUT_SECONDS} or cannot send it within {@link #FETCH_TIMEOUT_SECONDS}; curl
     * writes {@code %p} only with a complete answer (it checks the length) and PostgreSQL retries a failed fetch.
     */
    public static String restoreCommand(String baseUrl, Path tlsDir) {
        String dir = tlsDir.toAbsolutePath().toString().replace("'", "");
        return "curl --silent --show-error --fail --tlsv1.3 --connect-timeout " + CONNECT_TIMEOUT_SECONDS + " --max-time "
                + FETCH_TIMEOUT_SECONDS + " --cacert '" + dir + "/ca.crt' --cert '" + dir + "/server.crt' --key '" + dir
                + "/server.key' --output '%p' '" + baseUrl.replace("'", "") + "/wal/%f'";
    }

    /** Whether {@code curl}, which {@link #restoreCommand} runs, is on the PATH. */
    public static boolean curlAvailable() {
        try {
            Process p = new ProcessBuilder("sh", "-c", "command -v curl").redirectErrorStream(true).start();
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            return p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (java.io.IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public void close() {
        try {
            server.close().timeout(10, java.util.concurrent.TimeUnit.SECONDS).await();
        } finally {
            vertx.close().timeout(10, java.util.concurrent.TimeUnit.SECONDS).await();
        }
    }
}
