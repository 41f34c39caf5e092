package io.paymentledger.security.secrets;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import io.github.jopenlibs.vault.json.JsonValue;
import io.github.jopenlibs.vault.response.LogicalResponse;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.pki.CertRequest;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pem;

/**
 * Service certificates from Vault's PKI secrets engine, with the SPIFFE URI SAN. The driver's
 * {@code pki().issue} cannot send {@code uri_sans}, so this writes {@code <mount>/issue/<role>} through the
 * engine-version-1 client (STACK.md §6.1 gotchas 2-3) with {@code common_name}, {@code alt_names},
 * {@code ip_sans}, {@code uri_sans}, {@code ttl}, {@code format=pem} and {@code private_key_format=pkcs8}.
 * <p>
 * Files written to {@code outDir}: {@code <name>.key} (PKCS#8, 0600), {@code <name>.crt} (leaf plus any
 * intermediates from {@code ca_chain}) and {@code vault-ca.crt} (issuing CA and chain: the trust file).
 * The Vault role decides key type (use {@code ec}/256), extended key usages and whether the URI SAN is
 * allowed ({@code allowed_uri_sans}); the returned certificate is checked to carry exactly the requested
 * SPIFFE ID.
 */
public final class VaultPki {

    private final VaultClient client;
    private final String mount;
    private final String role;
    private final String trustDomain;
    private final Path outDir;

    /**
     * @param mount       PKI mount, e.g. {@code pki}
     * @param role        the role to issue with
     * @param trustDomain SPIFFE trust domain of the identities
     * @param outDir      where certificate and key files go
     */
    public VaultPki(VaultClient client, String mount, String role, String trustDomain, Path outDir) {
        this.client = Objects.requireNonNull(client, "client");
        this.mount = Objects.requireNonNull(mount, "mount");
        this.role = Objects.requireNonNull(role, "role");
        this.trustDomain = Identities.requireTrustDomain(trustDomain);
        this.outDir = outDir.toAbsolutePath().normalize();
    }

    /** A service certificate for {@code spiffe://<td>/region/<region>/<component>}, DNS localhost, IP 127.0.0.1. */
    public IssuedCert issueService(String name, String region, String component, java.time.Duration ttl) {
        return issue(CertRequest.service(name, new Principal.Service(region, component).path(), ttl));
    }

    /**
     * A merchant client certificate ({@code spiffe://<td>/merchant/<id>}), file stem {@code merchant-<id>}; the id must
     * be a merchant id ({@link Principal#requireMerchantId}: a reserved one such as {@code operator} is refused before
     * Vault is asked).
     */
    public IssuedCert issueMerchant(String merchantId, java.time.Duration ttl) {
        return issue(CertRequest.client("merchant-" + merchantId, new Principal.Merchant(merchantId).path(), ttl));
    }

    /**
     * Issues per {@code req}: its SPIFFE path, DNS and IP SANs and validity (as {@code ttl}). Its
     * {@code notBefore} and extended-key-usage flags are not sent: Vault and the role decide those.
     * The common name is the first DNS name, or the request name if there is none.
     */
    public IssuedCert issue(CertRequest req) {
        String identity = "spiffe://" + trustDomain + "/" + req.spiffePath();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("common_name", req.dnsNames().isEmpty() ? req.name() : req.dnsNames().get(0));
        if (!req.dnsNames().isEmpty()) {
            body.put("alt_names", String.join(",", req.dnsNames()));
        }
        if (!req.ipAddresses().isEmpty()) {
            body.put("ip_sans", String.join(",", req.ipAddresses()));
        }
        body.put("uri_sans", identity);
        body.put("ttl", req.validity().toSeconds() + "s");
        body.put("format", "pem");
        body.put("private_key_format", "pkcs8");
        String what = "PKI issue of " + identity;
        String path = mount + "/issue/" + role;
        LogicalResponse r = client.call(what, () -> client.raw().logical().write(path, body));
        if (r.getRestResponse().getStatus() == 403 && client.reauthenticate()) {
            r = client.call(what, () -> client.raw().logical().write(path, body));
        }
        int status = r.getRestResponse().getStatus();
        if (status != 200) {
            throw new SecretStoreException(what + " refused by vault: HTTP " + status + " "
                    + VaultClient.errorsOf(r.getRestResponse().getBody()));
        }
        Map<String, String> data = r.getData();
        String certPem = data.get("certificate");
        String keyPem = data.get("private_key");
        if (certPem == null || keyPem == null) {
            throw new SecretStoreException(what + ": vault response has no certificate or private_key");
        }
        X509Certificate leaf = Pem.parseCertificates(certPem.getBytes(StandardCharsets.US_ASCII)).get(0);
        List<String> ids = Identities.spiffeIds(leaf);
        if (!ids.equals(List.of(identity))) {
            throw new SecretStoreException(what + ": vault issued a certificate with SPIFFE IDs " + ids
                    + " (does the role allow uri_sans?)");
        }
        PrivateKey key = Pem.parsePrivateKey(keyPem);
        requireMatch(leaf, key, what);

        List<X509Certificate> chain = new ArrayList<>();
        List<X509Certificate> trust = new ArrayList<>();
        if (data.get("issuing_ca") != null) {
            trust.addAll(Pem.parseCertificates(data.get("issuing_ca").getBytes(StandardCharsets.US_ASCII)));
        }
        JsonValue caChain = r.getDataObject() == null ? null : r.getDataObject().get("ca_chain");
        if (caChain != null && caChain.isArray()) {
            for (JsonValue v : caChain.asArray()) {
                for (X509Certificate c : Pem.parseCertificates(v.asString().getBytes(StandardCharsets.US_ASCII))) {
                    if (!c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
                        chain.add(c);
                    }
                    if (!trust.contains(c)) {
                        trust.add(c);
                    }
                }
            }
        }
        List<X509Certificate> certFileContent = new ArrayList<>();
        certFileContent.add(leaf);
        chain.stream().filter(c -> !c.equals(leaf)).forEach(certFileContent::add);

        Path keyFile = outDir.resolve(req.name() + ".key");
        Path certFile = outDir.resolve(req.name() + ".crt");
        Pem.writePrivateKey(keyFile, key);
        Pem.writeCertificates(certFile, certFileContent.toArray(X509Certificate[]::new));
        if (!trust.isEmpty()) {
            Pem.writeCertificates(issuingCaFile(), trust.toArray(X509Certificate[]::new));
        }
        return new IssuedCert(certFile, keyFile, leaf, identity);
    }

    /** A new certificate with the identity, SANs and validity length of {@code current} (for {@code CertificateRenewer}). */
    public IssuedCert reissue(IssuedCert current) {
        String prefix = "spiffe://" + trustDomain + "/";
        if (!current.identity().startsWith(prefix)) {
            throw new IllegalArgumentException(current.identity() + " is not in trust domain " + trustDomain);
        }
        List<String> dns = new ArrayList<>();
        List<String> ips = new ArrayList<>();
        try {
            var sans = current.cert().getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (Integer.valueOf(2).equals(san.get(0))) {
                        dns.add((String) san.get(1));
                    } else if (Integer.valueOf(7).equals(san.get(0))) {
                        ips.add((String) san.get(1));
                    }
                }
            }
        } catch (java.security.cert.CertificateParsingException e) {
            throw new IllegalStateException(e);
        }
        return issue(new CertRequest(current.name(), current.identity().substring(prefix.length()), dns, ips,
                true, true, current.validity(), null));
    }

    /** The trust file written with each issue: issuing CA and its chain. */
    public Path issuingCaFile() {
        return outDir.resolve("vault-ca.crt");
    }

    private static void requireMatch(X509Certificate cert, PrivateKey key, String what) {
        try {
            String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256with" + key.getAlgorithm();
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            byte[] probe = "probe".getBytes(StandardCharsets.US_ASCII);
            s.update(probe);
            byte[] sig = s.sign();
            s.initVerify(cert.getPublicKey());
            s.update(probe);
            if (!s.verify(sig)) {
                throw new SecretStoreException(what + ": private key does not match the certificate");
            }
        } catch (java.security.GeneralSecurityException e) {
            throw new SecretStoreException(what + ": cannot check the key pair: " + e.getMessage(), e);
        }
    }
}
