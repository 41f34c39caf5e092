package io.paymentledger.security.pki;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509CRL;
import java.security.cert.X509CRLEntry;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLNumber;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CRLConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v2CRLBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;

/**
 * A file-based certificate authority for one SPIFFE trust domain. Layout of the directory:
 * <pre>
 *   ca.crt   CA certificate (ECDSA P-256, 10 years, URI SAN spiffe://&lt;trust-domain&gt;)
 *   ca.key   CA private key, PKCS#8 PEM, mode 0600
 *   ca.crl   CRL (PEM), signed by the CA, rewritten on every revoke
 *   &lt;name&gt;.crt / &lt;name&gt;.key   issued leaves (key mode 0600)
 * </pre>
 * All keys are ECDSA P-256 and all signatures SHA256withECDSA. Writes are atomic (temporary file + rename)
 * and serialised by a lock file ({@code .lock}), so a CLI and a running node may share a directory.
 * Instances are thread-safe.
 */
public final class Pki {

    public static final Duration CA_VALIDITY = Duration.ofDays(3650);
    /** nextUpdate of every CRL written, counted from its thisUpdate. */
    public static final Duration CRL_VALIDITY = Duration.ofDays(7);
    /** Certificates issued "now" start this much earlier, to tolerate clock skew between hosts. */
    public static final Duration BACKDATE = Duration.ofMinutes(1);

    private static final String SIG_ALG = "SHA256withECDSA";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final ConcurrentHashMap<Path, Object> JVM_LOCKS = new ConcurrentHashMap<>();

    private final Path dir;
    private final String trustDomain;
    private final X509Certificate caCert;
    private final PrivateKey caKey;
    private final Clock clock;

    private Pki(Path dir, String trustDomain, X509Certificate caCert, PrivateKey caKey, Clock clock) {
        this.dir = dir;
        this.trustDomain = trustDomain;
        this.caCert = caCert;
        this.caKey = caKey;
        this.clock = clock;
    }

    /** Creates the CA in {@code dir} unless one exists there already (then opens it; the trust domain must match). */
    public static Pki init(Path dir, String trustDomain) {
        return init(dir, trustDomain, Clock.systemUTC());
    }

    /** As {@link #init(Path, String)} with the clock used for validity periods and CRL dates. */
    public static Pki init(Path dir, String trustDomain, Clock clock) {
        Identities.requireTrustDomain(trustDomain);
        Path abs = dir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(abs);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + abs, e);
        }
        return locked(abs, () -> {
            if (Files.exists(abs.resolve("ca.crt"))) {
                Pki existing = open(abs, clock);
                if (!existing.trustDomain.equals(trustDomain)) {
                    throw new IllegalStateException("the PKI in " + abs + " is for trust domain " + existing.trustDomain
                            + ", not " + trustDomain);
                }
                return existing;
            }
            KeyPair kp = newKeyPair();
            Instant now = clock.instant();
            X500Name name = new X500NameBuilder(BCStyle.INSTANCE)
                    .addRDN(BCStyle.O, trustDomain).addRDN(BCStyle.CN, trustDomain + " ledger CA").build();
            try {
                JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
                X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, newSerial(),
                        Date.from(now.minus(BACKDATE)), Date.from(now.plus(CA_VALIDITY)), name, kp.getPublic())
                        .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                        .addExtension(Extension.keyUsage, true,
                                new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature))
                        .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()))
                        .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
                                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)));
                X509Certificate ca = new JcaX509CertificateConverter().getCertificate(b.build(signer(kp.getPrivate())));
                Pem.writePrivateKey(abs.resolve("ca.key"), kp.getPrivate());
                Pem.writeCertificates(abs.resolve("ca.crt"), ca);
                Pki pki = new Pki(abs, trustDomain, ca, kp.getPrivate(), clock);
                pki.writeCrlEntries(List.of());
                return pki;
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalStateException("cannot create CA: " + e.getMessage(), e);
            }
        });
    }

    /** Opens an existing CA (needs {@code ca.crt} and {@code ca.key}). */
    public static Pki open(Path dir) {
        return open(dir, Clock.systemUTC());
    }

    /** As {@link #open(Path)} with the clock used for validity periods and CRL dates. */
    public static Pki open(Path dir, Clock clock) {
        Path abs = dir.toAbsolutePath().normalize();
        Path crt = abs.resolve("ca.crt");
        Path key = abs.resolve("ca.key");
        if (!Files.exists(crt) || !Files.exists(key)) {
            throw new IllegalStateException("no CA in " + abs + " (need ca.crt and ca.key; run Pki.init)");
        }
        X509Certificate ca = Pem.readCertificate(crt);
        List<String> ids = Identities.spiffeIds(ca);
        if (ids.size() != 1 || !ids.get(0).matches("spiffe://[^/]+")) {
            throw new IllegalStateException(crt + " names no trust domain (URI SAN spiffe://<trust-domain>)");
        }
        String td = ids.get(0).substring("spiffe://".length());
        PrivateKey caKey = Pem.readPrivateKey(key);
        return new Pki(abs, td, ca, caKey, clock);
    }

    public String trustDomain() {
        return trustDomain;
    }

    public Path dir() {
        return dir;
    }

    public Path caCertFile() {
        return dir.resolve("ca.crt");
    }

    public Path crlFile() {
        return dir.resolve("ca.crl");
    }

    public X509Certificate caCertificate() {
        return caCert;
    }

    /** Issues a leaf and writes {@code <name>.key} (0600) then {@code <name>.crt}, replacing older files of that name. */
    public IssuedCert issue(CertRequest req) {
        Objects.requireNonNull(req, "req");
        String identity = "spiffe://" + trustDomain + "/" + req.spiffePath();
        Instant notBefore = req.notBefore() != null ? req.notBefore() : clock.instant().minus(BACKDATE);
        Instant notAfter = notBefore.plus(req.validity());
        KeyPair kp = newKeyPair();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            List<GeneralName> sans = new ArrayList<>();
            sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, identity));
            for (String dns : req.dnsNames()) {
                sans.add(new GeneralName(GeneralName.dNSName, dns));
            }
            for (String ip : req.ipAddresses()) {
                sans.add(new GeneralName(GeneralName.iPAddress, ip));
            }
            List<KeyPurposeId> eku = new ArrayList<>();
            if (req.serverAuth()) {
                eku.add(KeyPurposeId.id_kp_serverAuth);
            }
            if (req.clientAuth()) {
                eku.add(KeyPurposeId.id_kp_clientAuth);
            }
            X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
                    .addRDN(BCStyle.O, trustDomain).addRDN(BCStyle.CN, req.name()).build();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caCert, newSerial(),
                    Date.from(notBefore), Date.from(notAfter), subject, kp.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(eku.toArray(KeyPurposeId[]::new)))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert))
                    .addExtension(Extension.subjectAlternativeName, false,
                            GeneralNames.getInstance(new DERSequence(sans.toArray(ASN1Encodable[]::new))));
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(b.build(signer(caKey)));
            Path keyFile = dir.resolve(req.name() + ".key");
            Path certFile = dir.resolve(req.name() + ".crt");
            locked(dir, () -> {
                Pem.writePrivateKey(keyFile, kp.getPrivate());
                Pem.writeCertificates(certFile, cert);
                return null;
            });
            return new IssuedCert(certFile, keyFile, cert, identity);
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot issue " + req.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * A service certificate ({@code spiffe://<td>/region/<region>/<component>}, serverAuth + clientAuth,
     * DNS {@code localhost}, IP {@code 127.0.0.1}); use {@link #issue(CertRequest)} for other SANs.
     */
    public IssuedCert issueService(String name, String region, String component, Duration validity) {
        return issue(CertRequest.service(name, new Principal.Service(region, component).path(), validity));
    }

    /** As {@link #issueService(String, String, String, Duration)}, reached at {@code ipAddresses} (its IP SANs). */
    public IssuedCert issueService(String name, String region, String component, Duration validity, List<String> ipAddresses) {
        return issue(CertRequest.service(name, new Principal.Service(region, component).path(), validity).withIpAddresses(ipAddresses));
    }

    /** A merchant client certificate ({@code spiffe://<td>/merchant/<id>}, clientAuth), file stem {@code merchant-<id>}. */
    public IssuedCert issueMerchant(String merchantId, Duration validity) {
        return issue(CertRequest.client("merchant-" + merchantId, new Principal.Merchant(merchantId).path(), validity));
    }

    /** The operator client certificate ({@code spiffe://<td>/operator}, clientAuth), file stem {@code operator}. */
    public IssuedCert issueOperator(Duration validity) {
        return issue(CertRequest.client("operator", new Principal.Operator().path(), validity));
    }

    /** The metrics scraper's client certificate ({@code spiffe://<td>/prometheus}, clientAuth), file stem {@code prometheus}. */
    public IssuedCert issuePrometheus(Duration validity) {
        return issue(CertRequest.client("prometheus", new Principal.Prometheus().path(), validity));
    }

    /** Loads {@code <name>.crt} / {@code <name>.key} issued earlier. */
    public IssuedCert load(String name) {
        Path certFile = dir.resolve(name + ".crt");
        Path keyFile = dir.resolve(name + ".key");
        X509Certificate cert = Pem.readCertificate(certFile);
        List<String> ids = Identities.spiffeIds(cert);
        if (ids.size() != 1) {
            throw new IllegalStateException(certFile + " has " + ids.size() + " SPIFFE IDs, expected 1");
        }
        return new IssuedCert(certFile, keyFile, cert, ids.get(0));
    }

    /**
     * Issues a new certificate (new key, new serial) with the same name, identity, SANs, extended key usages
     * and validity length as {@code current}, starting now. Used by {@link CertificateRenewer}.
     */
    public IssuedCert reissue(IssuedCert current) {
        String prefix = "spiffe://" + trustDomain + "/";
        if (!current.identity().startsWith(prefix)) {
            throw new IllegalArgumentException(current.identity() + " is not in trust domain " + trustDomain);
        }
        X509Certificate c = current.cert();
        List<String> dns = new ArrayList<>();
        List<String> ips = new ArrayList<>();
        try {
            Collection<List<?>> sans = c.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    int type = (Integer) san.get(0);
                    if (type == GeneralName.dNSName) {
                        dns.add((String) san.get(1));
                    } else if (type == GeneralName.iPAddress) {
                        ips.add((String) san.get(1));
                    }
                }
            }
            List<String> eku = c.getExtendedKeyUsage() == null ? List.of() : c.getExtendedKeyUsage();
            return issue(new CertRequest(current.name(), current.identity().substring(prefix.length()), dns, ips,
                    eku.contains(KeyPurposeId.id_kp_serverAuth.getId()), eku.contains(KeyPurposeId.id_kp_clientAuth.getId()),
                    current.validity(), null));
        } catch (CertificateParsingException e) {
            throw new IllegalStateException("cannot read " + current.certFile() + ": " + e.getMessage(), e);
        }
    }

    /** Revokes a serial number: adds it to the CRL and rewrites {@code ca.crl}. Returns the new CRL. */
    public X509CRL revoke(BigInteger serial) {
        Objects.requireNonNull(serial, "serial");
        return locked(dir, () -> {
            List<X509CRLEntry> entries = currentEntries();
            List<Object[]> list = new ArrayList<>();
            boolean present = false;
            for (X509CRLEntry e : entries) {
                list.add(new Object[] {e.getSerialNumber(), e.getRevocationDate()});
                present |= e.getSerialNumber().equals(serial);
            }
            if (!present) {
                list.add(new Object[] {serial, Date.from(clock.instant())});
            }
            return writeCrlEntries(list);
        });
    }

    /** Revokes the certificate currently in {@code <name>.crt}. */
    public X509CRL revoke(String name) {
        return revoke(load(name).serial());
    }

    /** Re-signs the CRL with the same entries and a fresh thisUpdate/nextUpdate. */
    public X509CRL refreshCrl() {
        return locked(dir, () -> {
            List<Object[]> list = new ArrayList<>();
            for (X509CRLEntry e : currentEntries()) {
                list.add(new Object[] {e.getSerialNumber(), e.getRevocationDate()});
            }
            return writeCrlEntries(list);
        });
    }

    /** The CRL currently on disk. */
    public X509CRL crl() {
        return Pem.readCrl(crlFile());
    }

    public boolean isRevoked(BigInteger serial) {
        return Files.exists(crlFile()) && crl().getRevokedCertificate(serial) != null;
    }

    // ---------------------------------------------------------------------------------------------------

    private List<X509CRLEntry> currentEntries() {
        if (!Files.exists(crlFile())) {
            return List.of();
        }
        Set<? extends X509CRLEntry> revoked = crl().getRevokedCertificates();
        return revoked == null ? List.of() : List.copyOf(revoked);
    }

    private X509CRL writeCrlEntries(List<Object[]> entries) {
        try {
            BigInteger number = BigInteger.ONE;
            if (Files.exists(crlFile())) {
                X509CRLHolder old = new X509CRLHolder(crl().getEncoded());
                Extension ext = old.getExtension(Extension.cRLNumber);
                if (ext != null) {
                    number = CRLNumber.getInstance(ext.getParsedValue()).getCRLNumber().add(BigInteger.ONE);
                }
            }
            Instant now = clock.instant();
            X509v2CRLBuilder b = new JcaX509v2CRLBuilder(caCert, Date.from(now));
            b.setNextUpdate(Date.from(now.plus(CRL_VALIDITY)));
            for (Object[] e : entries) {
                b.addCRLEntry((BigInteger) e[0], (Date) e[1], CRLReason.unspecified);
            }
            b.addExtension(Extension.authorityKeyIdentifier, false,
                    new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(caCert));
            b.addExtension(Extension.cRLNumber, false, new CRLNumber(number));
            X509CRL crl = new JcaX509CRLConverter().getCRL(b.build(signer(caKey)));
            Pem.writeAtomically(crlFile(), Pem.toPem(crl).getBytes(StandardCharsets.US_ASCII), false);
            return crl;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot write CRL: " + e.getMessage(), e);
        }
    }

    static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no EC P-256 in this JDK", e);
        }
    }

    private static BigInteger newSerial() {
        return new BigInteger(159, RANDOM).add(BigInteger.ONE);
    }

    private static ContentSigner signer(PrivateKey key) {
        try {
            return new JcaContentSignerBuilder(SIG_ALG).build(key);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs {@code body} holding this JVM's lock for the directory and an exclusive file lock on {@code .lock}. */
    private static <T> T locked(Path dir, Supplier<T> body) {
        Object jvmLock = JVM_LOCKS.computeIfAbsent(dir, d -> new Object());
        synchronized (jvmLock) {
            try (FileChannel ch = FileChannel.open(dir.resolve(".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = ch.lock()) {
                return body.get();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot lock " + dir, e);
            }
        }
    }

    /** For callers that need the public key of the CA (e.g. {@code cert.verify(pki.caPublicKey())}). */
    public PublicKey caPublicKey() {
        return caCert.getPublicKey();
    }
}
