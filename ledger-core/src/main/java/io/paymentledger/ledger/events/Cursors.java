package io.paymentledger.ledger.events;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;

/**
 * Cursors as callers see them: {@code <cell>:<22 characters>}, the position (batch, timestamp: 16 bytes, one AES
 * block) encrypted under the cell's key. Opaque on purpose: in clear, the difference between two of a merchant's
 * cursors would tell how many batches and transfers of others happened between them (timestamps advance by 1 ns
 * under load), which the tenant wall forbids (decision 0003, "No oracle"). Deterministic, so the same event always
 * has the same cursor, on every node. A cursor that was tampered with decrypts to a position whose batch and
 * timestamp do not fit together (or lie in the future); it is refused as malformed.
 */
public final class Cursors {

    /** What a cursor string could not be turned into a position for. */
    public static final class Invalid extends Exception {
        public final boolean otherCell;

        Invalid(String message, boolean otherCell) {
            super(message);
            this.otherCell = otherCell;
        }
    }

    private static final int TOKEN_CHARS = 22;

    private final String cell;
    private final SecretKeySpec key;
    /** An initialised cipher per thread and direction: set-up costs more than the one block it then encrypts. */
    private final ThreadLocal<Cipher> encrypt;
    private final ThreadLocal<Cipher> decrypt;

    public Cursors(String cell, byte[] key) {
        this.cell = cell;
        this.key = new SecretKeySpec(key, "AES");
        this.encrypt = ThreadLocal.withInitial(() -> cipher(Cipher.ENCRYPT_MODE));
        this.decrypt = ThreadLocal.withInitial(() -> cipher(Cipher.DECRYPT_MODE));
    }

    public String cell() {
        return cell;
    }

    public String encode(Position p) {
        byte[] block = ByteBuffer.allocate(16).putLong(p.batchSeq()).putLong(p.timestampNs()).array();
        return cell + ":" + Base64.getUrlEncoder().withoutPadding().encodeToString(crypt(Cipher.ENCRYPT_MODE, block));
    }

    /** The position of a cursor this cell issued; empty string: {@link Position#START}. */
    public Position decode(String cursor) throws Invalid {
        if (cursor.isEmpty()) {
            return Position.START;
        }
        int colon = cursor.lastIndexOf(':');
        if (colon <= 0 || cursor.length() - colon - 1 != TOKEN_CHARS) {
            throw new Invalid("after_cursor is not a cursor this ledger issued", false);
        }
        if (!cursor.substring(0, colon).equals(cell)) {
            throw new Invalid("after_cursor is of cell '" + cursor.substring(0, colon) + "', this is cell '" + cell + "'", true);
        }
        byte[] block;
        try {
            block = Base64.getUrlDecoder().decode(cursor.substring(colon + 1));
        } catch (IllegalArgumentException e) {
            throw new Invalid("after_cursor is not a cursor this ledger issued", false);
        }
        if (block.length != 16) {
            throw new Invalid("after_cursor is not a cursor this ledger issued", false);
        }
        ByteBuffer b = ByteBuffer.wrap(crypt(Cipher.DECRYPT_MODE, block));
        long seq = b.getLong();
        long ts = b.getLong();
        // A batch number and a timestamp of the ledger: both positive and far below the 2^62 a random block reaches
        // in 3 of 4 cases; the source checks that the batch's timestamps contain it.
        if (seq <= 0 || ts <= 0 || seq > (1L << 48) || ts > (1L << 62)) {
            throw new Invalid("after_cursor is not a cursor this ledger issued", false);
        }
        return new Position(seq, ts);
    }

    private byte[] crypt(int mode, byte[] block) {
        try {
            return (mode == Cipher.ENCRYPT_MODE ? encrypt : decrypt).get().doFinal(block);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES failed on one block: " + e.getMessage(), e);
        }
    }

    private Cipher cipher(int mode) {
        try {
            Cipher c = Cipher.getInstance("AES/ECB/NoPadding");
            c.init(mode, key);
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES is not available: " + e.getMessage(), e);
        }
    }
}
