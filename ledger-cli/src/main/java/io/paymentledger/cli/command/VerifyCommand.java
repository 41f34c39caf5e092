package io.paymentledger.cli.command;

import static io.paymentledger.db.Tables.LEADERSHIP;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.ledger.journal.JournalVerifier;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.logging.LogSetup;
import io.paymentledger.security.pki.Pem;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import org.jooq.Record;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./ledger verify}: the auditor's check that the journal was not altered. Replays the journal of one
 * region's database ({@link JournalVerifier}). Checkpoints are bound to the deployment's CA
 * ({@code <dir>/pki/ca.crt}): each records its signer's certificate, which must be a ledger node's issued by
 * that CA, valid when it signed (so checkpoints signed before a certificate renewal still verify). Checkpoints
 * without a certificate (signed before they were recorded) are bound to the keys of the deployment's current
 * node certificates ({@code <dir>/pki/node-<region>.crt}) and of {@code --trust-cert}. Exit code 0: sound;
 * 1: a bad entry (the first is printed); 2: could not verify (nothing deployed, database unreachable, unusable
 * certificate).
 */
@Command(name = "verify", description = "Audit the journal: replay it, recompute every balance, check the hash chain and the "
        + "signed checkpoints; print the first bad entry. Exit 0 sound, 1 tampered or inconsistent, 2 could not verify.")
public final class VerifyCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--region", description = "Verify this region's database (default: the primary, i.e. the leader's).")
    String region;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Option(names = "--trust-cert", paramLabel = "FILE",
            description = "Also trust the key of this signer certificate (PEM, repeatable), e.g. a node's certificate from before a renewal"
                    + " (for checkpoints that record no certificate; the others are checked against the deployment's CA).")
    List<Path> extraCerts = new ArrayList<>();

    @Option(names = "--any-signer",
            description = "Accept checkpoints signed by any key (signatures are still verified, but not bound to the deployment's CA or"
                    + " certificates).")
    boolean anySigner;

    @Override
    public Integer call() {
        LogSetup.install("ledger-verify", Level.SEVERE);
        Path dir = deployment.dir();
        if (!Topology.exists(dir)) {
            return fail("nothing deployed in " + dir + " (run ./ledger up)");
        }
        Topology topology = Topology.load(dir);
        LocalDeployment d = new LocalDeployment(topology, System.out);
        Map<String, List<byte[]>> trusted;
        X509Certificate ca;
        try {
            trusted = anySigner ? null : trustedSigners(topology, extraCerts);
            ca = anySigner ? null : trustedCa(topology);
        } catch (RuntimeException e) {
            return fail("cannot load the signer certificates: " + e.getMessage());
        }
        JournalVerifier verifier;
        try {
            verifier = ca == null ? new JournalVerifier(trusted) : new JournalVerifier(trusted).withCa(ca, topology.trustDomain());
        } catch (RuntimeException e) {
            return fail("cannot use the deployment's CA: " + e.getMessage());
        }
        Target target;
        try {
            target = target(d, region);
        } catch (RuntimeException e) {
            return fail(e.getMessage());
        }
        JournalVerifier.Report report;
        try (Connection c = target.connect()) {
            report = verifier.verify(c);
        } catch (SQLException | RuntimeException e) {
            return fail("cannot read the journal of region " + target.region() + ": " + e.getMessage());
        }
        JsonObject out = json(target, ca, trusted, report);
        if (json) {
            System.out.println(out.encodePrettily());
        } else {
            print(out, report);
        }
        return report.sound() ? 0 : 1;
    }

    private int fail(String message) {
        if (json) {
            System.out.println(new JsonObject().put("verified", false).put("error", message).encodePrettily());
        } else {
            System.err.println("ledger verify: " + message);
        }
        return 2;
    }

    /** The database to verify: its region, whether it is a primary, its leadership epoch. */
    record Target(String region, PgCluster postgres, boolean primary, long epoch) {
        Connection connect() throws SQLException {
            // Reads stream in bounded ranges; 10 min per read is far more than any one needs.
            return postgres.connect("ledger", 600);
        }
    }

    /**
     * {@code --region}, or the region whose database is a primary (the leader writes to its own region's
     * database); with two primaries (a failover not yet rewound), the one with the newer epoch.
     */
    static Target target(LocalDeployment d, String wanted) {
        List<String> regions = wanted != null ? List.of(wanted) : List.copyOf(d.topology().regions().keySet());
        Target best = null;
        List<String> unreachable = new ArrayList<>();
        for (String r : regions) {
            d.topology().region(r); // unknown region: a clear error
            PgCluster pg;
            try {
                pg = d.postgres(r);
            } catch (RuntimeException e) {
                unreachable.add(r + " (" + e.getMessage() + ")");
                continue;
            }
            try (Connection c = pg.connect("ledger", 30)) {
                boolean standby;
                try (var st = c.createStatement(); var rs = st.executeQuery("select pg_is_in_recovery()")) {
                    rs.next();
                    standby = rs.getBoolean(1);
                }
                Record lead = Database.dsl(c).select(LEADERSHIP.EPOCH).from(LEADERSHIP).fetchOne();
                long epoch = lead == null ? 0 : lead.get(LEADERSHIP.EPOCH);
                Target t = new Target(r, pg, !standby, epoch);
                if (best == null || (t.primary() && !best.primary()) || (t.primary() == best.primary() && t.epoch() > best.epoch())) {
                    best = t;
                }
            } catch (SQLException | RuntimeException e) {
                unreachable.add(r + " (" + e.getMessage() + ")");
            }
        }
        if (best == null) {
            throw new IllegalStateException("no ledger database reachable: " + String.join("; ", unreachable)
                    + " (is the deployment up? ./ledger status)");
        }
        return best;
    }

    /**
     * Signer identity → trusted keys: the deployment's node certificates ({@code <dir>/pki/node-<region>.crt})
     * and {@code extra}, each checked against the deployment's CA when there is one. Null (any signer) when
     * there is no certificate at all.
     */
    static Map<String, List<byte[]>> trustedSigners(Topology topology, List<Path> extra) {
        Path pkiDir = topology.dir().resolve("pki");
        List<Path> files = new ArrayList<>();
        for (String r : topology.regions().keySet()) {
            Path crt = pkiDir.resolve(LocalDeployment.nodeName(r) + ".crt");
            if (Files.exists(crt)) {
                files.add(crt);
            }
        }
        files.addAll(extra);
        if (files.isEmpty()) {
            return null;
        }
        Path caFile = pkiDir.resolve("ca.crt");
        X509Certificate ca = Files.exists(caFile) ? Pem.readCertificate(caFile) : null;
        Map<String, List<byte[]>> trusted = new TreeMap<>();
        for (Path f : files) {
            X509Certificate cert = Pem.readCertificate(f);
            if (ca != null) {
                try {
                    cert.verify(ca.getPublicKey());
                } catch (GeneralSecurityException e) {
                    throw new IllegalArgumentException(f + " is not issued by the deployment's CA " + caFile + ": " + e.getMessage());
                }
            }
            List<String> ids = Identities.spiffeIds(cert);
            if (ids.size() != 1) {
                throw new IllegalArgumentException(f + " names " + ids.size() + " SPIFFE identities, not exactly one");
            }
            trusted.computeIfAbsent(ids.get(0), k -> new ArrayList<>()).add(cert.getPublicKey().getEncoded());
        }
        return trusted;
    }

    /** The deployment's CA ({@code <dir>/pki/ca.crt}), or null when there is none. */
    static X509Certificate trustedCa(Topology topology) {
        Path caFile = topology.dir().resolve("pki").resolve("ca.crt");
        return Files.exists(caFile) ? Pem.readCertificate(caFile) : null;
    }

    static JsonObject json(Target target, X509Certificate ca, Map<String, List<byte[]>> trusted, JournalVerifier.Report r) {
        JsonArray signers = new JsonArray();
        if (trusted != null) {
            trusted.forEach((id, keys) -> keys.forEach(k -> signers.add(new JsonObject().put("identity", id)
                    .put("key", JournalVerifier.fingerprint(k)))));
        }
        JsonObject out = new JsonObject().put("verified", true).put("sound", r.sound()).put("region", target.region())
                .put("database", "127.0.0.1:" + target.postgres().port()).put("databaseRole", target.primary() ? "primary" : "standby")
                .put("epoch", target.epoch()).put("batches", r.batches()).put("transfers", r.transfers())
                .put("accounts", r.accounts()).put("checkpoints", r.checkpoints()).put("lastCheckpointSeq", r.lastCheckpointSeq())
                .put("certifiedCheckpoints", r.certifiedCheckpoints()).put("signersTrusted", r.signersTrusted())
                .put("trustedCa", ca == null ? null : new JsonObject().put("subject", ca.getSubjectX500Principal().getName())
                        .put("key", JournalVerifier.fingerprint(ca.getPublicKey().getEncoded())))
                .put("trustedSigners", signers).put("elapsedMs", r.elapsed().toMillis());
        if (r.firstProblem() != null) {
            JournalVerifier.Problem p = r.firstProblem();
            out.put("problem", new JsonObject().put("batchSeq", p.batchSeq()).put("kind", p.kind().name())
                    .put("label", p.kind().label).put("row", p.row()).put("detail", p.detail()));
        }
        return out;
    }

    static void print(JsonObject o, JournalVerifier.Report r) {
        System.out.println("database:    region " + o.getString("region") + " (" + o.getString("database") + ", "
                + o.getString("databaseRole") + ", epoch " + o.getLong("epoch") + ")");
        if (r.signersTrusted()) {
            JsonObject ca = o.getJsonObject("trustedCa");
            if (ca != null) {
                System.out.println("signers:     ledger nodes certified by the CA " + ca.getString("subject") + " (" + ca.getString("key")
                        + "), certificate valid when signing");
            }
            List<String> names = new ArrayList<>();
            o.getJsonArray("trustedSigners").forEach(s -> names.add(((JsonObject) s).getString("identity") + " ("
                    + ((JsonObject) s).getString("key") + ")"));
            if (ca == null) {
                System.out.println("signers:     " + String.join(", ", names));
            } else {
                System.out.println("             checkpoints without a certificate: " + (names.isEmpty() ? "none trusted"
                        : String.join(", ", names)));
            }
        } else {
            System.out.println("signers:     any key (checkpoint signatures verified, but not bound to the deployment's certificates)");
        }
        System.out.printf("replayed:    %d batches, %d transfers, %d accounts in %.1f s%n", r.batches(), r.transfers(), r.accounts(),
                r.elapsed().toMillis() / 1000.0);
        System.out.println("checkpoints: " + r.checkpoints() + " signatures verified" + (r.checkpoints() == 0 ? ""
                : ", the newest over batch " + r.lastCheckpointSeq()) + (o.getJsonObject("trustedCa") == null ? ""
                : "; " + r.certifiedCheckpoints() + " by a certificate of the CA"));
        if (r.sound()) {
            System.out.println("SOUND: hash chain, timestamps, balance history, account balances, currency totals and signatures all verify.");
            if (r.lastCheckpointSeq() < r.batches()) {
                System.out.println("note:        batches " + (r.lastCheckpointSeq() + 1) + ".." + r.batches()
                        + " are after the newest signature: proven consistent by the chain, not yet signed.");
            }
            return;
        }
        JournalVerifier.Problem p = r.firstProblem();
        System.out.println("NOT SOUND:   first bad entry in batch " + p.batchSeq() + ": " + p.kind().label
                + (p.row() == null ? "" : " (" + p.row() + ")"));
        System.out.println("             " + p.detail());
        if (p.kind() == JournalVerifier.Kind.CHECKPOINT_SIGNER) {
            System.out.println("             (if the node's certificate was renewed since that checkpoint, pass the earlier "
                    + "certificate with --trust-cert)");
        }
    }
}
