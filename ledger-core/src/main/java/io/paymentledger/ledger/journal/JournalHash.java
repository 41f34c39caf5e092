package io.paymentledger.ledger.journal;

import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.transfer.TransferRow;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The journal's hash chain: hash(n) = SHA-256(hash(n-1), batch header, every account created and every transfer
 * written in batch n, in timestamp order). Computed by the writer before commit and recomputed by
 * {@code ./ledger verify} from the rows in the database, so the encoding is canonical (sorted metadata,
 * fixed field order) and uses only what the rows hold.
 */
public final class JournalHash {

    /** hash(0): the chain's anchor. */
    public static final byte[] GENESIS = new byte[32];
    /**
     * Set in the hashed flags of an account that has a debit grant, whose merchants then follow its creation time.
     * Accounts without one hash exactly as before grants existed (journals written then still verify); stored
     * flags never have this bit.
     */
    static final int HASH_GRANT_FOLLOWS = 1 << 30;

    private JournalHash() {}

    public static byte[] next(byte[] prev, long seq, long epoch, List<AccountState> accounts, List<TransferRow> transfers) {
        MessageDigest sha = sha256();
        try (DataOutputStream out = new DataOutputStream(new DigestOutputStream(OutputStream.nullOutputStream(), sha))) {
            out.write(prev);
            out.writeLong(seq);
            out.writeLong(epoch);
            out.writeInt(accounts.size());
            for (AccountState a : accounts) {
                out.writeUTF(a.id());
                out.writeUTF(a.currency());
                out.writeLong(a.code());
                out.writeUTF(a.owner());
                boolean granted = !a.grantedMerchants().isEmpty();
                out.writeInt(granted ? a.flags() | HASH_GRANT_FOLLOWS : a.flags());
                writeMetadata(out, a.metadata());
                out.writeLong(a.createdNs());
                if (granted) {
                    out.writeInt(a.grantedMerchants().size());
                    for (String m : a.grantedMerchants()) {
                        out.writeUTF(m);
                    }
                }
            }
            out.writeInt(transfers.size());
            for (TransferRow t : transfers) {
                out.writeUTF(t.id());
                out.writeUTF(t.debitAccountId());
                out.writeUTF(t.creditAccountId());
                out.writeLong(t.amount());
                out.writeUTF(t.currency());
                out.writeLong(t.code());
                out.writeInt(t.flags());
                out.writeUTF(t.pendingId() == null ? "" : t.pendingId());
                out.writeInt(t.timeoutSeconds());
                out.writeUTF(t.paymentId() == null ? "" : t.paymentId());
                writeMetadata(out, t.metadata());
                out.writeLong(t.timestampNs());
                writeBalance(out, t.debitBalance());
                writeBalance(out, t.creditBalance());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sha.digest();
    }

    private static void writeMetadata(DataOutputStream out, Map<String, String> metadata) throws IOException {
        out.writeInt(metadata.size());
        for (var e : new TreeMap<>(metadata).entrySet()) {
            out.writeUTF(e.getKey());
            out.writeUTF(e.getValue());
        }
    }

    private static void writeBalance(DataOutputStream out, Balance b) throws IOException {
        out.writeLong(b.debitsPending());
        out.writeLong(b.debitsPosted());
        out.writeLong(b.creditsPending());
        out.writeLong(b.creditsPosted());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
