package io.paymentledger.security.journal;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Objects;

import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pem;

/**
 * Signs journal checkpoints (the bytes of a SHA-256 journal hash, or any bytes) with a service's EC P-256
 * key from the PKI, and verifies such signatures with only the public key bytes. Signatures are
 * SHA256withECDSA in ASN.1 DER form; public keys travel as X.509 SubjectPublicKeyInfo bytes.
 * Instances are thread-safe.
 */
public final class JournalSigner {

    /** The only algorithm produced and accepted. */
    public static final String ALGORITHM = "SHA256withECDSA";

    /** A signature with what a verifier needs. */
    public record JournalSignature(String algorithm, byte[] signature, byte[] publicKey) {}

    private final PrivateKey privateKey;
    private final byte[] publicKey;

    private JournalSigner(PrivateKey privateKey, PublicKey publicKey) {
        if (!(privateKey instanceof ECPrivateKey)) {
            throw new IllegalArgumentException("journal signing needs an EC key, got " + privateKey.getAlgorithm());
        }
        this.privateKey = privateKey;
        this.publicKey = publicKey.getEncoded();
        // Refuse a key file that does not belong to the certificate.
        byte[] probe = {1, 2, 3};
        if (!verify(this.publicKey, ALGORITHM, probe, sign(probe).signature())) {
            throw new IllegalArgumentException("private key does not match the certificate's public key");
        }
    }

    /** From a PKCS#8 key file and the certificate holding its public key. */
    public static JournalSigner fromFiles(Path keyFile, Path certFile) {
        return new JournalSigner(Pem.readPrivateKey(keyFile), Pem.readCertificate(certFile).getPublicKey());
    }

    /** From a certificate issued by the PKI (the service's own key pair). */
    public static JournalSigner of(IssuedCert cert) {
        return fromFiles(cert.keyFile(), cert.certFile());
    }

    /** X.509 SubjectPublicKeyInfo bytes of the signing key. */
    public byte[] publicKey() {
        return publicKey.clone();
    }

    public JournalSignature sign(byte[] data) {
        Objects.requireNonNull(data, "data");
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(privateKey);
            s.update(data);
            return new JournalSignature(ALGORITHM, s.sign(), publicKey.clone());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("signing failed: " + e.getMessage(), e);
        }
    }

    /**
     * True when {@code signature} is a valid {@code algorithm} signature of {@code data} by the key in
     * {@code publicKeyBytes}. Malformed keys or signatures give false; an algorithm other than
     * {@link #ALGORITHM} is an {@link IllegalArgumentException} (no algorithm negotiation).
     */
    public static boolean verify(byte[] publicKeyBytes, String algorithm, byte[] data, byte[] signature) {
        if (!ALGORITHM.equals(algorithm)) {
            throw new IllegalArgumentException("unsupported journal signature algorithm: " + algorithm);
        }
        Objects.requireNonNull(data, "data");
        if (publicKeyBytes == null || signature == null) {
            return false;
        }
        try {
            PublicKey key = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(publicKeyBytes));
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(key);
            s.update(data);
            return s.verify(signature);
        } catch (SignatureException | InvalidKeyException | java.security.spec.InvalidKeySpecException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
