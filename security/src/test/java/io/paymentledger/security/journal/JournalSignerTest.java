package io.paymentledger.security.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;

class JournalSignerTest {

    @TempDir
    Path dir;

    @Test
    void signsACheckpointHashThatVerifiesWithThePublicKeyBytesOnly() throws Exception {
        Pki pki = Pki.init(dir, "ledger.test");
        IssuedCert ledger = pki.issueService("ledger-eu", "eu", "ledger", Duration.ofDays(1));
        JournalSigner signer = JournalSigner.of(ledger);
        byte[] checkpoint = MessageDigest.getInstance("SHA-256").digest("journal up to seq 1042".getBytes());

        JournalSigner.JournalSignature sig = signer.sign(checkpoint);
        assertThat(sig.algorithm()).isEqualTo("SHA256withECDSA");
        assertThat(sig.publicKey()).isEqualTo(ledger.cert().getPublicKey().getEncoded());
        assertThat(JournalSigner.verify(sig.publicKey(), sig.algorithm(), checkpoint, sig.signature())).isTrue();

        byte[] other = checkpoint.clone();
        other[0] ^= 1;
        assertThat(JournalSigner.verify(sig.publicKey(), sig.algorithm(), other, sig.signature())).isFalse();
        byte[] badSig = sig.signature().clone();
        badSig[badSig.length - 1] ^= 1;
        assertThat(JournalSigner.verify(sig.publicKey(), sig.algorithm(), checkpoint, badSig)).isFalse();
        assertThat(JournalSigner.verify(sig.publicKey(), sig.algorithm(), checkpoint, new byte[] {1, 2})).isFalse();
        assertThat(JournalSigner.verify(new byte[] {1, 2, 3}, sig.algorithm(), checkpoint, sig.signature())).isFalse();

        IssuedCert otherService = pki.issueService("ledger-us", "us", "ledger", Duration.ofDays(1));
        assertThat(JournalSigner.verify(otherService.cert().getPublicKey().getEncoded(), sig.algorithm(), checkpoint,
                sig.signature())).as("another service's key").isFalse();
        assertThatThrownBy(() -> JournalSigner.verify(sig.publicKey(), "SHA1withECDSA", checkpoint, sig.signature()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void refusesAKeyFileThatDoesNotBelongToTheCertificate() {
        Pki pki = Pki.init(dir, "ledger.test");
        IssuedCert a = pki.issueService("a", "eu", "ledger", Duration.ofDays(1));
        IssuedCert b = pki.issueService("b", "eu", "ledger", Duration.ofDays(1));
        assertThatThrownBy(() -> JournalSigner.fromFiles(a.keyFile(), b.certFile()))
                .hasMessageContaining("does not match");
    }
}
