package io.paymentledger.security.testing;

import static io.paymentledger.security.testing.Await.await;

import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.pki.IssuedCert;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;

/**
 * A contract fake of Vault's HTTP API: exactly the endpoints this module calls, with the request and reply
 * shapes Vault documents (and STACK.md §6.2 captured from vault-java-driver 6.2.0). It is NOT Vault: no
 * policies (any valid token may do anything), no storage backend, no audit, no namespaces, one KV v2 mount
 * ({@code secret}), one PKI mount ({@code pki}), one database mount ({@code database}), token TTLs and
 * leases computed from the injected clock.
 * <p>
 * Endpoints: {@code POST auth/approle/login}, {@code POST auth/token/renew-self}, {@code GET auth/token/lookup-self},
 * {@code GET|POST secret/data/<path>} (with {@code options.cas}), {@code POST pki/issue/<role>},
 * {@code GET database/creds/<role>}, {@code POST sys/leases/renew/<lease_id>} (or with {@code lease_id} in the
 * body), {@code POST sys/leases/revoke}. Errors: 403 {@code {"errors":["permission denied"]}} without a valid
 * X-Vault-Token, 503 {@code {"errors":["Vault is sealed"]}} while sealed, 404 {@code {"errors":[]}} for unknown
 * secrets or routes, 400 for bad role/secret IDs, unknown roles, disallowed URI SANs, unknown leases and
 * check-and-set mismatches. Every reply with a body has {@code Content-Type: application/json} exactly.
 */
public final class FakeVaultServer implements AutoCloseable {

    /** A request as the fake received it. Header names are lower-case. */
    public record Request(String method, String path, Map<String, String> headers, String body, String peerIdentity) {
        public JsonObject json() {
            return body == null || body.isBlank() ? new JsonObject() : new JsonObject(body);
        }
    }

    private record Token(String id, String accessor, List<String> policies, Duration ttl, Instant expiresAt,
                         Instant maxExpiresAt, boolean renewable) {
        boolean valid(Instant now) {
            return expiresAt == null || now.isBefore(expiresAt);
        }
    }

    private record AppRole(String secretId, Duration tokenTtl, Duration tokenMaxTtl) {}

    private record DbRole(Duration defaultTtl, Duration maxTtl) {}

    private record Lease(String id, Instant expiresAt, Instant maxExpiresAt) {}

    private record KvEntry(JsonObject data, int version, Instant created) {}

    private final Vertx vertx;
    private final Clock clock;
    private final HttpServerOptions options;
    private final SecureRandom random = new SecureRandom();

    private final Map<String, Token> tokens = new ConcurrentHashMap<>();
    private final Map<String, AppRole> appRoles = new ConcurrentHashMap<>();
    private final Map<String, KvEntry> kv = new ConcurrentHashMap<>();
    private final Map<String, DbRole> dbRoles = new ConcurrentHashMap<>();
    private final Map<String, Lease> leases = new ConcurrentHashMap<>();
    private final Map<String, Boolean> pkiRoles = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final String rootToken;
    private final KeyPair pkiCaKey;
    private final X509Certificate pkiCaCert;

    private volatile boolean sealed;
    private HttpServer server;
    private int port;

    /**
     * @param serverCert TLS certificate of the fake (needs DNS SAN {@code localhost})
     * @param caFile     CA whose client certificates are accepted (clients may also come without one)
     */
    public FakeVaultServer(Vertx vertx, Clock clock, IssuedCert serverCert, Path caFile) {
        this.vertx = vertx;
        this.clock = clock;
        try {
            this.options = new HttpServerOptions()
                    .setSsl(true)
                    .setKeyCertOptions(new PemKeyCertOptions()
                            .setCertValue(Buffer.buffer(Files.readAllBytes(serverCert.certFile())))
                            .setKeyValue(Buffer.buffer(Files.readAllBytes(serverCert.keyFile()))))
                    .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(Files.readAllBytes(caFile))))
                    .setClientAuth(ClientAuth.REQUEST);
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            this.pkiCaKey = g.generateKeyPair();
            X500Name caName = new X500Name("CN=fake vault pki");
            Instant now = Instant.now();
            this.pkiCaCert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(caName,
                    BigInteger.valueOf(random.nextLong() & Long.MAX_VALUE), Date.from(now.minusSeconds(60)),
                    Date.from(now.plus(Duration.ofDays(365))), caName, pkiCaKey.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pkiCaKey.getPrivate())));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        this.rootToken = newToken(List.of("root"), null, null, false).id();
    }

    // ------------------------------------------------------------------------------------------- control

    /** Starts listening (first time on a free port, afterwards on the same port). */
    public synchronized FakeVaultServer start() {
        server = vertx.createHttpServer(options);
        server.requestHandler(this::handle);
        port = await(server.listen(port, "127.0.0.1")).actualPort();
        return this;
    }

    /** Stops listening: clients get "connection refused" until {@link #start()}. State is kept. */
    public synchronized void stop() {
        if (server != null) {
            await(server.close());
            server = null;
        }
    }

    @Override
    public void close() {
        stop();
    }

    public String address() {
        return "https://localhost:" + port;
    }

    public void setSealed(boolean sealed) {
        this.sealed = sealed;
    }

    /** A non-expiring root token. */
    public String rootToken() {
        return rootToken;
    }

    /** A token with the given TTL ({@code null}: none), renewability and max TTL ({@code null}: none). */
    public String createToken(Duration ttl, boolean renewable, Duration maxTtl) {
        Instant now = clock.instant();
        return newToken(List.of("default"), ttl, maxTtl == null ? null : now.plus(maxTtl), renewable).id();
    }

    public void revokeToken(String token) {
        tokens.remove(token);
    }

    /** Revokes every token except the root token (as if all leases were revoked). */
    public void revokeAllTokens() {
        tokens.keySet().removeIf(t -> !t.equals(rootToken));
    }

    public void addAppRole(String roleId, String secretId, Duration tokenTtl, Duration tokenMaxTtl) {
        appRoles.put(roleId, new AppRole(secretId, tokenTtl, tokenMaxTtl));
    }

    public void addDatabaseRole(String role, Duration defaultTtl, Duration maxTtl) {
        dbRoles.put(role, new DbRole(defaultTtl, maxTtl));
    }

    public void addPkiRole(String role, boolean allowUriSans) {
        pkiRoles.put(role, allowUriSans);
    }

    public X509Certificate pkiCaCertificate() {
        return pkiCaCert;
    }

    /** The stored KV v2 data of {@code path} (under {@code secret/}), or null. */
    public JsonObject kvData(String path) {
        KvEntry e = kv.get(path);
        return e == null ? null : e.data().copy();
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Requests with this method whose path starts with {@code pathPrefix}. */
    public List<Request> requests(String method, String pathPrefix) {
        return requests.stream().filter(r -> r.method().equals(method) && r.path().startsWith(pathPrefix)).toList();
    }

    // ------------------------------------------------------------------------------------------- HTTP

    private void handle(HttpServerRequest req) {
        req.body().onSuccess(buf -> {
            String body = buf.toString();
            Map<String, String> headers = new LinkedHashMap<>();
            req.headers().forEach(h -> headers.put(h.getKey().toLowerCase(), h.getValue()));
            String path = req.path();
            requests.add(new Request(req.method().name(), path, headers, body, peerIdentity(req)));
            try {
                route(req, path, body);
            } catch (RuntimeException e) {
                reply(req, 500, errors(e.toString()));
            }
        });
    }

    private void route(HttpServerRequest req, String path, String body) {
        String method = req.method().name();
        boolean write = method.equals("POST") || method.equals("PUT");
        if (sealed) {
            reply(req, 503, errors("Vault is sealed"));
            return;
        }
        if (write && path.equals("/v1/auth/approle/login")) {
            appRoleLogin(req, json(body));
            return;
        }
        Token token = tokens.get(req.getHeader("X-Vault-Token") == null ? "" : req.getHeader("X-Vault-Token"));
        if (token == null || !token.valid(clock.instant())) {
            reply(req, 403, errors("permission denied"));
            return;
        }
        if (write && path.equals("/v1/auth/token/renew-self")) {
            renewSelf(req, token, json(body));
        } else if (method.equals("GET") && path.equals("/v1/auth/token/lookup-self")) {
            lookupSelf(req, token);
        } else if (path.startsWith("/v1/secret/data/") && method.equals("GET")) {
            kvRead(req, path.substring("/v1/secret/data/".length()));
        } else if (path.startsWith("/v1/secret/data/") && write) {
            kvWrite(req, path.substring("/v1/secret/data/".length()), json(body));
        } else if (path.startsWith("/v1/pki/issue/") && write) {
            pkiIssue(req, path.substring("/v1/pki/issue/".length()), json(body));
        } else if (path.startsWith("/v1/database/creds/") && method.equals("GET")) {
            dbCreds(req, path.substring("/v1/database/creds/".length()));
        } else if (path.startsWith("/v1/sys/leases/renew") && write) {
            String id = path.length() > "/v1/sys/leases/renew/".length()
                    ? path.substring("/v1/sys/leases/renew/".length()) : json(body).getString("lease_id");
            leaseRenew(req, id, json(body));
        } else if (path.equals("/v1/sys/leases/revoke") && write) {
            leases.remove(json(body).getString("lease_id", ""));
            req.response().setStatusCode(204).end();
        } else {
            reply(req, 404, new JsonObject().put("errors", new JsonArray()));
        }
    }

    private void appRoleLogin(HttpServerRequest req, JsonObject body) {
        AppRole role = appRoles.get(body.getString("role_id", ""));
        if (role == null || !role.secretId().equals(body.getString("secret_id"))) {
            reply(req, 400, errors("invalid role or secret ID"));
            return;
        }
        Instant now = clock.instant();
        Token t = newToken(List.of("default", "ledger"), role.tokenTtl(),
                role.tokenMaxTtl() == null ? null : now.plus(role.tokenMaxTtl()), true);
        reply(req, 200, authReply(t, now));
    }

    private void renewSelf(HttpServerRequest req, Token t, JsonObject body) {
        if (!t.renewable() || t.expiresAt() == null) {
            reply(req, 400, errors("lease is not renewable"));
            return;
        }
        Instant now = clock.instant();
        long inc = body.getLong("increment", 0L);
        Instant exp = now.plus(inc > 0 ? Duration.ofSeconds(inc) : t.ttl());
        if (t.maxExpiresAt() != null && exp.isAfter(t.maxExpiresAt())) {
            exp = t.maxExpiresAt();
        }
        Token renewed = new Token(t.id(), t.accessor(), t.policies(), t.ttl(), exp, t.maxExpiresAt(), t.renewable());
        tokens.put(t.id(), renewed);
        reply(req, 200, authReply(renewed, now));
    }

    private void lookupSelf(HttpServerRequest req, Token t) {
        Instant now = clock.instant();
        long ttl = t.expiresAt() == null ? 0 : Duration.between(now, t.expiresAt()).toSeconds();
        JsonObject data = new JsonObject()
                .put("accessor", t.accessor()).put("creation_time", now.getEpochSecond())
                .put("creation_ttl", t.ttl() == null ? 0 : t.ttl().toSeconds())
                .put("display_name", "approle").put("entity_id", "")
                .put("expire_time", t.expiresAt() == null ? null : t.expiresAt().toString())
                .put("explicit_max_ttl", 0).put("id", t.id()).put("meta", (Object) null).put("num_uses", 0)
                .put("orphan", true).put("path", "auth/approle/login")
                .put("policies", new JsonArray(t.policies())).put("renewable", t.renewable())
                .put("ttl", ttl).put("type", "service");
        reply(req, 200, envelope().put("data", data));
    }

    private void kvRead(HttpServerRequest req, String path) {
        KvEntry e = kv.get(path);
        if (e == null) {
            reply(req, 404, new JsonObject().put("errors", new JsonArray()));
            return;
        }
        reply(req, 200, envelope().put("data", new JsonObject().put("data", e.data()).put("metadata", metadata(e))));
    }

    private void kvWrite(HttpServerRequest req, String path, JsonObject body) {
        JsonObject data = body.getJsonObject("data");
        if (data == null) {
            reply(req, 400, errors("no data provided"));
            return;
        }
        KvEntry existing = kv.get(path);
        JsonObject opts = body.getJsonObject("options");
        if (opts != null && opts.containsKey("cas")) {
            int current = existing == null ? 0 : existing.version();
            if (opts.getInteger("cas") != current) {
                reply(req, 400, errors("check-and-set parameter did not match the current version"));
                return;
            }
        }
        KvEntry e = new KvEntry(data.copy(), existing == null ? 1 : existing.version() + 1, clock.instant());
        kv.put(path, e);
        reply(req, 200, envelope().put("data", metadata(e)));
    }

    private void pkiIssue(HttpServerRequest req, String role, JsonObject body) {
        Boolean allowUri = pkiRoles.get(role);
        if (allowUri == null) {
            reply(req, 400, errors("unknown role: " + role));
            return;
        }
        String cn = body.getString("common_name");
        if (cn == null || cn.isEmpty()) {
            reply(req, 400, errors("the common_name field is required"));
            return;
        }
        String uriSans = body.getString("uri_sans", "");
        if (!uriSans.isEmpty() && !allowUri) {
            reply(req, 400, errors("URI Subject Alternative Names are not allowed in this role, but was provided " + uriSans));
            return;
        }
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair kp = g.generateKeyPair();
            List<GeneralName> sans = new ArrayList<>();
            sans.add(new GeneralName(GeneralName.dNSName, cn));
            for (String dns : csv(body.getString("alt_names"))) {
                if (!dns.equals(cn)) {
                    sans.add(new GeneralName(GeneralName.dNSName, dns));
                }
            }
            for (String ip : csv(body.getString("ip_sans"))) {
                sans.add(new GeneralName(GeneralName.iPAddress, ip));
            }
            for (String uri : csv(uriSans)) {
                sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, uri));
            }
            Instant now = Instant.now();
            Duration ttl = parseTtl(body.getValue("ttl"), Duration.ofDays(30));
            BigInteger serial = new BigInteger(64, random);
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(
                    pkiCaCert, serial, Date.from(now.minusSeconds(30)), Date.from(now.plus(ttl)),
                    new X500Name("CN=" + cn), kp.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                    .addExtension(Extension.subjectAlternativeName, false,
                            GeneralNames.getInstance(new DERSequence(sans.toArray(ASN1Encodable[]::new))))
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pkiCaKey.getPrivate())));
            String keyPem = "pkcs8".equals(body.getString("private_key_format"))
                    ? pem(new PemObject("PRIVATE KEY", kp.getPrivate().getEncoded()))
                    : pem(kp.getPrivate()); // Vault's default "der" gives SEC1 "EC PRIVATE KEY" in PEM
            String caPem = pem(pkiCaCert);
            JsonObject data = new JsonObject()
                    .put("certificate", pem(cert).trim())
                    .put("expiration", cert.getNotAfter().toInstant().getEpochSecond())
                    .put("issuing_ca", caPem.trim())
                    .put("ca_chain", new JsonArray().add(caPem.trim()))
                    .put("private_key", keyPem.trim())
                    .put("private_key_type", "ec")
                    .put("serial_number", HexFormat.ofDelimiter(":").formatHex(serial.toByteArray()));
            reply(req, 200, envelope().put("data", data));
        } catch (Exception e) {
            reply(req, 500, errors(e.toString()));
        }
    }

    private void dbCreds(HttpServerRequest req, String role) {
        DbRole r = dbRoles.get(role);
        if (r == null) {
            reply(req, 400, errors("unknown role: " + role));
            return;
        }
        Instant now = clock.instant();
        String suffix = hex(6);
        Lease lease = new Lease("database/creds/" + role + "/" + UUID.randomUUID(), now.plus(r.defaultTtl()), now.plus(r.maxTtl()));
        leases.put(lease.id(), lease);
        reply(req, 200, envelope()
                .put("lease_id", lease.id()).put("renewable", true).put("lease_duration", r.defaultTtl().toSeconds())
                .put("data", new JsonObject().put("username", "v-approle-" + role + "-" + suffix)
                        .put("password", "A1a-" + hex(12))));
    }

    private void leaseRenew(HttpServerRequest req, String id, JsonObject body) {
        Instant now = clock.instant();
        Lease l = id == null ? null : leases.get(id);
        if (l == null || !now.isBefore(l.expiresAt())) {
            reply(req, 400, errors("lease not found or lease is not renewable"));
            return;
        }
        long inc = body.getLong("increment", 0L);
        Instant exp = now.plus(Duration.ofSeconds(inc > 0 ? inc : Duration.between(now, l.expiresAt()).toSeconds()));
        JsonArray warnings = null;
        if (exp.isAfter(l.maxExpiresAt())) {
            exp = l.maxExpiresAt();
            warnings = new JsonArray().add("TTL of \"" + inc + "s\" exceeded the effective max_ttl; TTL value is capped accordingly");
        }
        leases.put(id, new Lease(id, exp, l.maxExpiresAt()));
        reply(req, 200, envelope().put("lease_id", id).put("renewable", true)
                .put("lease_duration", Duration.between(now, exp).toSeconds()).put("warnings", warnings));
    }

    // ------------------------------------------------------------------------------------------- helpers

    private Token newToken(List<String> policies, Duration ttl, Instant maxExpiresAt, boolean renewable) {
        Instant now = clock.instant();
        Instant exp = ttl == null ? null : now.plus(ttl);
        if (exp != null && maxExpiresAt != null && exp.isAfter(maxExpiresAt)) {
            exp = maxExpiresAt;
        }
        Token t = new Token("hvs." + hex(12), UUID.randomUUID().toString(),
                policies, ttl, exp, maxExpiresAt, renewable);
        tokens.put(t.id(), t);
        return t;
    }

    private String hex(int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static JsonObject authReply(Token t, Instant now) {
        long lease = t.expiresAt() == null ? 0 : Duration.between(now, t.expiresAt()).toSeconds();
        JsonObject auth = new JsonObject()
                .put("client_token", t.id()).put("accessor", t.accessor())
                .put("policies", new JsonArray(t.policies())).put("token_policies", new JsonArray(t.policies()))
                .put("metadata", new JsonObject().put("role_name", "ledger"))
                .put("lease_duration", lease).put("renewable", t.renewable())
                .put("entity_id", "").put("token_type", "service").put("orphan", true);
        return envelope().put("auth", auth);
    }

    private static JsonObject envelope() {
        return new JsonObject().put("request_id", UUID.randomUUID().toString()).put("lease_id", "")
                .put("renewable", false).put("lease_duration", 0).put("data", (Object) null)
                .put("wrap_info", (Object) null).put("warnings", (Object) null).put("auth", (Object) null);
    }

    private static JsonObject metadata(KvEntry e) {
        return new JsonObject().put("created_time", e.created().toString()).put("custom_metadata", (Object) null)
                .put("deletion_time", "").put("destroyed", false).put("version", e.version());
    }

    private static JsonObject errors(String... messages) {
        return new JsonObject().put("errors", new JsonArray(List.of((Object[]) messages)));
    }

    private static void reply(HttpServerRequest req, int status, JsonObject body) {
        req.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
    }

    private static JsonObject json(String body) {
        return body == null || body.isBlank() ? new JsonObject() : new JsonObject(body);
    }

    private static List<String> csv(String s) {
        List<String> out = new ArrayList<>();
        if (s != null) {
            for (String p : s.split(",")) {
                if (!p.isBlank()) {
                    out.add(p.trim());
                }
            }
        }
        return out;
    }

    /** Vault durations: an integer (seconds) or a number with s/m/h/d. */
    static Duration parseTtl(Object v, Duration dflt) {
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return Duration.ofSeconds(n.longValue());
        }
        String s = v.toString().trim();
        if (s.isEmpty()) {
            return dflt;
        }
        char unit = s.charAt(s.length() - 1);
        if (Character.isDigit(unit)) {
            return Duration.ofSeconds(Long.parseLong(s));
        }
        long n = Long.parseLong(s.substring(0, s.length() - 1));
        return switch (unit) {
            case 's' -> Duration.ofSeconds(n);
            case 'm' -> Duration.ofMinutes(n);
            case 'h' -> Duration.ofHours(n);
            case 'd' -> Duration.ofDays(n);
            default -> throw new IllegalArgumentException("bad ttl " + s);
        };
    }

    private static String pem(Object o) throws Exception {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            w.writeObject(o);
        }
        return sw.toString();
    }

    private static String peerIdentity(HttpServerRequest req) {
        if (!req.isSSL()) {
            return null;
        }
        try {
            List<Certificate> chain = req.connection().peerCertificates();
            if (chain == null || chain.isEmpty()) {
                return null;
            }
            List<String> ids = Identities.spiffeIds((X509Certificate) chain.get(0));
            return ids.isEmpty() ? null : ids.get(0);
        } catch (Exception e) {
            return null;
        }
    }
}
