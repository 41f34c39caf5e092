package io.paymentledger.security.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.paymentledger.security.pki.CertRequest;
import io.paymentledger.security.pki.Pki;

class IdentitiesTest {

    private static final String TD = "ledger.test";

    @TempDir
    Path dir;

    @Test
    void parsesTheThreePrincipalForms() {
        assertThat(Identities.parse("spiffe://ledger.test/operator", TD)).contains(new Principal.Operator());
        assertThat(Identities.parse("spiffe://ledger.test/merchant/acme-1", TD)).contains(new Principal.Merchant("acme-1"));
        assertThat(Identities.parse("spiffe://ledger.test/region/eu-west/witness", TD))
                .contains(new Principal.Service("eu-west", "witness"));
        for (String c : Principal.COMPONENTS) {
            assertThat(Identities.parse("spiffe://ledger.test/region/us/" + c, TD)).isPresent();
        }
        assertThat(new Principal.Service("eu", "agent").spiffeId(TD)).isEqualTo("spiffe://ledger.test/region/eu/agent");
    }

    @Test
    void rejectsOtherTrustDomainsUnknownPathsAndMalformedIds() {
        assertThat(Identities.parse("spiffe://evil.test/operator", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test.evil/operator", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test/admin", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test/operator/extra", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test/region/eu/database", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test/merchant/bad_id", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test/merchant/a?x=1", TD)).isEmpty();
        // A reserved merchant id (a certificate minted before the rule) is nobody, in any case.
        assertThat(Identities.parse("spiffe://ledger.test/merchant/operator", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test/merchant/Operator", TD)).isEmpty();
        assertThat(Identities.parse("spiffe://ledger.test", TD)).isEmpty();
        assertThat(Identities.parse("https://ledger.test/operator", TD)).isEmpty();
        assertThat(Identities.parse(null, TD)).isEmpty();
        assertThatThrownBy(() -> Identities.parse("spiffe://x/operator", "Not Valid")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void certificateFromThePkiMapsToItsPrincipalAndNotInAnotherTrustDomain() {
        Pki pki = Pki.init(dir, TD);
        var m = pki.issueMerchant("m-7", Duration.ofHours(1));
        assertThat(Identities.fromCertificate(m.cert(), TD)).contains(new Principal.Merchant("m-7"));
        assertThat(Identities.fromCertificate(m.cert(), "other.test")).isEmpty();
        // a certificate with a SPIFFE ID outside the principal forms
        var odd = pki.issue(CertRequest.service("odd", "jobs/batch", Duration.ofHours(1)));
        assertThat(Identities.fromCertificate(odd.cert(), TD)).isEmpty();
        // the CA certificate names only the trust domain
        assertThat(Identities.fromCertificate(pki.caCertificate(), TD)).isEmpty();
    }

    @Test
    void certificatesWithoutOrWithSeveralSpiffeIdsHaveNoPrincipal() throws Exception {
        X509Certificate none = selfSigned(new GeneralName(GeneralName.dNSName, "localhost"));
        X509Certificate noSanAtAll = selfSigned();
        X509Certificate two = selfSigned(
                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://ledger.test/operator"),
                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://ledger.test/merchant/acme"));
        X509Certificate oneAndHttps = selfSigned(
                new GeneralName(GeneralName.uniformResourceIdentifier, "https://example.com/x"),
                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://ledger.test/operator"));
        assertThat(Identities.fromCertificate(none, TD)).isEmpty();
        assertThat(Identities.fromCertificate(noSanAtAll, TD)).isEmpty();
        assertThat(Identities.spiffeIds(two)).hasSize(2);
        assertThat(Identities.fromCertificate(two, TD)).isEmpty();
        assertThat(Identities.fromCertificate(oneAndHttps, TD)).contains(new Principal.Operator());
    }

    @Test
    void principalsValidateTheirParts() {
        assertThatThrownBy(() -> new Principal.Merchant("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Principal.Merchant("a/b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Principal.Service("EU", "ledger")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Principal.Service("eu", "vault")).hasMessageContaining("unknown component");
    }

    private static X509Certificate selfSigned(GeneralName... sans) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = g.generateKeyPair();
        X500Name name = new X500Name("CN=test");
        var b = new JcaX509v3CertificateBuilder(name, BigInteger.TEN, Date.from(Instant.now()),
                Date.from(Instant.now().plusSeconds(3600)), name, kp.getPublic());
        if (sans.length > 0) {
            b.addExtension(Extension.subjectAlternativeName, false,
                    GeneralNames.getInstance(new DERSequence((ASN1Encodable[]) sans)));
        }
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
    }

}
