package io.paymentledger.security.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.bouncycastle.asn1.x509.CRLNumber;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.X509CRLHolder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;

class PkiTest {

    private static final String TD = "ledger.test";
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    @TempDir
    static Path dir;
    static Pki pki;

    @BeforeAll
    static void init() {
        pki = Pki.init(dir.resolve("pki"), TD);
    }

    @Test
    void caIsASelfSignedTenYearP256CertificateAuthority() throws Exception {
        X509Certificate ca = pki.caCertificate();
        ca.verify(ca.getPublicKey());
        assertThat(ca.getBasicConstraints()).as("CA:true").isGreaterThanOrEqualTo(0);
        boolean[] ku = ca.getKeyUsage();
        assertThat(ku[5]).as("keyCertSign").isTrue();
        assertThat(ku[6]).as("cRLSign").isTrue();
        assertThat(Duration.between(ca.getNotBefore().toInstant(), ca.getNotAfter().toInstant()))
                .isGreaterThanOrEqualTo(Duration.ofDays(3650));
        assertThat(ca.getPublicKey()).isInstanceOf(ECPublicKey.class);
        assertThat(((ECPublicKey) ca.getPublicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
        assertThat(ca.getSigAlgName()).isEqualTo("SHA256withECDSA");
        assertThat(Files.readString(pki.caCertFile())).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(Files.readString(pki.dir().resolve("ca.key"))).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(mode(pki.dir().resolve("ca.key"))).isEqualTo("rw-------");
        Pki fresh = Pki.init(dir.resolve("fresh"), TD);
        assertThat(fresh.crl().getRevokedCertificates()).as("empty CRL written at init").isNull();
        fresh.crl().verify(fresh.caPublicKey());
    }

    @Test
    void initIsIdempotentOpenReloadsAndAnotherTrustDomainIsRefused() {
        Pki again = Pki.init(pki.dir(), TD);
        assertThat(again.caCertificate()).isEqualTo(pki.caCertificate());
        Pki opened = Pki.open(pki.dir());
        assertThat(opened.trustDomain()).isEqualTo(TD);
        assertThat(opened.caCertificate()).isEqualTo(pki.caCertificate());
        assertThatThrownBy(() -> Pki.init(pki.dir(), "other.test")).hasMessageContaining("ledger.test");
        assertThatThrownBy(() -> Pki.open(dir.resolve("nothing-here"))).hasMessageContaining("no CA");
        assertThatThrownBy(() -> Pki.init(dir.resolve("bad"), "Bad Domain")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void serviceCertificateVerifiesAgainstTheCaAndCarriesSpiffeIdSansAndBothUsages() throws Exception {
        IssuedCert c = pki.issueService("ledger-eu", "eu-west", "ledger", Duration.ofDays(30));
        X509Certificate cert = c.cert();
        cert.verify(pki.caPublicKey());
        assertThat(c.identity()).isEqualTo("spiffe://ledger.test/region/eu-west/ledger");
        assertThat(sans(cert)).containsExactlyInAnyOrder(
                "6:spiffe://ledger.test/region/eu-west/ledger", "2:localhost", "7:127.0.0.1");
        assertThat(cert.getExtendedKeyUsage()).containsExactlyInAnyOrder(SERVER_AUTH, CLIENT_AUTH);
        assertThat(cert.getBasicConstraints()).as("not a CA").isEqualTo(-1);
        assertThat(cert.getKeyUsage()[0]).as("digitalSignature").isTrue();
        assertThat(Duration.between(Instant.now(), c.notAfter())).isBetween(Duration.ofDays(29), Duration.ofDays(30));
        assertThat(Identities.fromCertificate(cert, TD)).contains(new Principal.Service("eu-west", "ledger"));

        // the files on disk are the same certificate and a matching PKCS#8 key, mode 0600
        assertThat(Pem.readCertificate(c.certFile())).isEqualTo(cert);
        assertThat(Files.readString(c.keyFile())).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(mode(c.keyFile())).isEqualTo("rw-------");
        assertThat(mode(c.certFile())).isEqualTo("rw-r--r--");
        assertThat(pki.load("ledger-eu").cert()).isEqualTo(cert);

        // the JDK's own PKIX validation accepts the chain
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(pki.caCertificate(), null)));
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX").validate(
                CertificateFactory.getInstance("X.509").generateCertPath(List.of(cert)), params);
    }

    @Test
    void merchantAndOperatorCertificatesAreClientOnly() throws Exception {
        IssuedCert m = pki.issueMerchant("acme-42", Duration.ofDays(1));
        IssuedCert o = pki.issueOperator(Duration.ofDays(1));
        m.cert().verify(pki.caPublicKey());
        o.cert().verify(pki.caPublicKey());
        assertThat(m.identity()).isEqualTo("spiffe://ledger.test/merchant/acme-42");
        assertThat(o.identity()).isEqualTo("spiffe://ledger.test/operator");
        assertThat(m.cert().getExtendedKeyUsage()).containsExactly(CLIENT_AUTH);
        assertThat(o.cert().getExtendedKeyUsage()).containsExactly(CLIENT_AUTH);
        assertThat(m.certFile().getFileName().toString()).isEqualTo("merchant-acme-42.crt");
        assertThat(mode(m.keyFile())).isEqualTo("rw-------");
        assertThat(mode(o.keyFile())).isEqualTo("rw-------");
        assertThatThrownBy(() -> pki.issueService("x", "eu", "database", Duration.ofDays(1)))
                .hasMessageContaining("unknown component");
        assertThatThrownBy(() -> pki.issueMerchant("bad_id", Duration.ofDays(1)))
                .hasMessageContaining("invalid merchant id");
    }

    @Test
    void aReservedMerchantIdIsRefusedInAnyCaseAndNothingIsWritten() throws Exception {
        for (String reserved : List.of("operator", "Operator", "OPERATOR", "oPeRaToR", "anonymous", "Anonymous")) {
            assertThatThrownBy(() -> pki.issueMerchant(reserved, Duration.ofDays(1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("invalid merchant id '" + reserved + "': reserved (anonymous, operator name the deployment's"
                            + " own callers, in any case)");
            // Nor through the generic request that every issuer (this one and VaultPki) mints with.
            assertThatThrownBy(() -> pki.issue(CertRequest.client("sneaky", "merchant/" + reserved, Duration.ofDays(1))))
                    .hasMessageContaining("invalid merchant id '" + reserved + "': reserved");
            assertThat(dir.resolve("pki").resolve("merchant-" + reserved + ".crt")).doesNotExist();
        }
        assertThat(dir.resolve("pki").resolve("sneaky.crt")).doesNotExist();
        // Merchant ids that only contain the word are merchants like any other.
        assertThat(pki.issueMerchant("operator-shop", Duration.ofDays(1)).identity())
                .isEqualTo("spiffe://ledger.test/merchant/operator-shop");
    }

    @Test
    void customSansAndBackdatedValidity() throws Exception {
        Instant start = Instant.now().minus(Duration.ofHours(3));
        IssuedCert c = pki.issue(CertRequest.service("router-a", "region/us/router", Duration.ofHours(1))
                .withDnsNames(List.of("router.us.internal", "localhost"))
                .withIpAddresses(List.of("10.0.0.7", "::1"))
                .withNotBefore(start));
        assertThat(sans(c.cert())).contains("2:router.us.internal", "7:10.0.0.7", "6:spiffe://ledger.test/region/us/router");
        assertThat(c.notAfter()).isBefore(Instant.now());
        assertThatThrownBy(() -> c.cert().checkValidity()).isInstanceOf(java.security.cert.CertificateExpiredException.class);
    }

    @Test
    void revokeWritesACaSignedCrlWithNextUpdateAndIncreasingNumber() throws Exception {
        IssuedCert a = pki.issueMerchant("rev-a", Duration.ofDays(1));
        IssuedCert b = pki.issueMerchant("rev-b", Duration.ofDays(1));
        BigInteger before = crlNumber(pki.crl());

        X509CRL crl1 = pki.revoke(a.serial());
        X509CRL crl2 = pki.revoke("merchant-rev-b");

        X509CRL onDisk = pki.crl();
        assertThat(onDisk).isEqualTo(crl2);
        assertThat(Files.readString(pki.crlFile())).startsWith("-----BEGIN X509 CRL-----");
        onDisk.verify(pki.caPublicKey());
        assertThat(onDisk.getIssuerX500Principal()).isEqualTo(pki.caCertificate().getSubjectX500Principal());
        assertThat(onDisk.getNextUpdate()).isAfter(onDisk.getThisUpdate());
        assertThat(onDisk.isRevoked(a.cert())).isTrue();
        assertThat(onDisk.isRevoked(b.cert())).isTrue();
        assertThat(pki.isRevoked(a.serial())).isTrue();
        assertThat(crl1.isRevoked(b.cert())).isFalse();
        assertThat(crlNumber(crl1)).isGreaterThan(before);
        assertThat(crlNumber(crl2)).isGreaterThan(crlNumber(crl1));

        IssuedCert fresh = pki.issueMerchant("rev-c", Duration.ofDays(1));
        assertThat(onDisk.isRevoked(fresh.cert())).isFalse();
        assertThat(pki.refreshCrl().isRevoked(a.cert())).as("refresh keeps entries").isTrue();
    }

    @Test
    void reissueKeepsIdentitySansAndUsagesWithANewKeyAndSerial() throws Exception {
        IssuedCert old = pki.issue(CertRequest.service("witness-1", "region/ap/witness", Duration.ofDays(3))
                .withDnsNames(List.of("witness.ap")));
        IssuedCert renewed = pki.reissue(old);
        renewed.cert().verify(pki.caPublicKey());
        assertThat(renewed.identity()).isEqualTo(old.identity());
        assertThat(renewed.certFile()).isEqualTo(old.certFile());
        assertThat(renewed.serial()).isNotEqualTo(old.serial());
        assertThat(renewed.cert().getPublicKey()).isNotEqualTo(old.cert().getPublicKey());
        assertThat(sans(renewed.cert())).containsExactlyInAnyOrderElementsOf(sans(old.cert()));
        assertThat(renewed.cert().getExtendedKeyUsage()).isEqualTo(old.cert().getExtendedKeyUsage());
        assertThat(renewed.validity()).isEqualTo(old.validity());
        assertThat(Pem.readCertificate(old.certFile())).isEqualTo(renewed.cert());
        assertThat(mode(renewed.keyFile())).isEqualTo("rw-------");
    }

    static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    static List<String> sans(X509Certificate c) throws Exception {
        List<String> out = new ArrayList<>();
        for (List<?> san : c.getSubjectAlternativeNames()) {
            out.add(san.get(0) + ":" + san.get(1));
        }
        return out;
    }

    private static BigInteger crlNumber(X509CRL crl) throws Exception {
        Extension ext = new X509CRLHolder(crl.getEncoded()).getExtension(Extension.cRLNumber);
        return CRLNumber.getInstance(ext.getParsedValue()).getCRLNumber();
    }
}
