package io.paymentledger.security.pki;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * PEM reading and writing, and the file-writing rules of this module: every file is written to a temporary
 * file in the same directory and atomically moved into place; private keys and other secrets are created
 * with POSIX mode 0600 from the first instant (the permission is part of the {@code open} call, so the file
 * is never world-readable, whatever the umask).
 */
public final class Pem {

    /** rw------- */
    public static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> PUBLIC_READ = PosixFilePermissions.fromString("rw-r--r--");
    private static final SecureRandom RANDOM = new SecureRandom();

    private Pem() {}

    /** The first certificate in a PEM file. */
    public static X509Certificate readCertificate(Path file) {
        List<X509Certificate> all = readCertificates(file);
        if (all.isEmpty()) {
            throw new IllegalArgumentException("no certificate in " + file);
        }
        return all.get(0);
    }

    /** All certificates of a PEM file, in file order. */
    public static List<X509Certificate> readCertificates(Path file) {
        try {
            return parseCertificates(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** All certificates of PEM text. */
    public static List<X509Certificate> parseCertificates(byte[] pem) {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            List<X509Certificate> out = new ArrayList<>();
            for (var c : cf.generateCertificates(new ByteArrayInputStream(pem))) {
                out.add((X509Certificate) c);
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("not a PEM certificate: " + e.getMessage(), e);
        }
    }

    /** A CRL in PEM form ({@code X509 CRL}). */
    public static X509CRL readCrl(Path file) {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            return (X509CRL) cf.generateCRL(new ByteArrayInputStream(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("not a CRL: " + file + ": " + e.getMessage(), e);
        }
    }

    /** A private key file: PKCS#8 {@code PRIVATE KEY} or traditional {@code EC PRIVATE KEY} / {@code RSA PRIVATE KEY}. */
    public static PrivateKey readPrivateKey(Path file) {
        try {
            return parsePrivateKey(Files.readString(file, StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Parses PEM private-key text (PKCS#8 or traditional). */
    public static PrivateKey parsePrivateKey(String pem) {
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object o = parser.readObject();
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            if (o instanceof PrivateKeyInfo info) {
                return converter.getPrivateKey(info);
            }
            if (o instanceof PEMKeyPair pair) {
                return converter.getPrivateKey(pair.getPrivateKeyInfo());
            }
            throw new IllegalArgumentException("no unencrypted private key in PEM text");
        } catch (IOException e) {
            throw new IllegalArgumentException("bad private key PEM: " + e.getMessage(), e);
        }
    }

    /** PEM text ({@code CERTIFICATE}) of certificates, concatenated. */
    public static String toPem(X509Certificate... certs) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            for (X509Certificate c : certs) {
                w.writeObject(c);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }

    /** PEM text ({@code X509 CRL}). */
    public static String toPem(X509CRL crl) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            w.writeObject(crl);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }

    /** PKCS#8 PEM text ({@code PRIVATE KEY}), the form Vert.x {@code PemKeyCertOptions} and grpc-java accept. */
    public static String toPkcs8Pem(PrivateKey key) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            w.writeObject(new PemObject("PRIVATE KEY", key.getEncoded()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }

    /** Writes certificates atomically (mode 0644). */
    public static void writeCertificates(Path file, X509Certificate... certs) {
        writeAtomically(file, toPem(certs).getBytes(StandardCharsets.US_ASCII), false);
    }

    /** Writes a PKCS#8 private key atomically, created 0600. */
    public static void writePrivateKey(Path file, PrivateKey key) {
        writeAtomically(file, toPkcs8Pem(key).getBytes(StandardCharsets.US_ASCII), true);
    }

    /**
     * Writes {@code content} to a temporary file in the target directory, fsyncs it and moves it over
     * {@code target} atomically. With {@code secret} the temporary file is created with mode 0600 (the mode is
     * given to {@code open}, so there is no window in which it is readable by others).
     */
    public static void writeAtomically(Path target, byte[] content, boolean secret) {
        Path dir = target.toAbsolutePath().getParent();
        FileAttribute<Set<PosixFilePermission>> mode =
                PosixFilePermissions.asFileAttribute(secret ? OWNER_ONLY : PUBLIC_READ);
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            for (int i = 0; tmp == null; i++) {
                Path candidate = dir.resolve("." + target.getFileName() + "." + HexFormat.of().toHexDigits(RANDOM.nextInt()) + ".tmp");
                try (FileChannel ch = FileChannel.open(candidate,
                        Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), mode)) {
                    ByteBuffer buf = ByteBuffer.wrap(content);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    ch.force(true);
                    tmp = candidate;
                } catch (FileAlreadyExistsException e) {
                    if (i > 10) {
                        throw e;
                    }
                }
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (UnsupportedOperationException e) {
            throw new IllegalStateException("file system of " + dir + " has no POSIX permissions; refusing to write "
                    + target.getFileName(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }
}
