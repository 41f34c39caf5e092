package io.paymentledger.ledger.validation;

import io.paymentledger.ledger.Limits;

/** Client-chosen ids: 1..64 characters of [A-Za-z0-9._:-]. */
public final class Ids {

    private Ids() {}

    public static boolean isValid(String id) {
        if (id == null || id.isEmpty() || id.length() > Limits.ID_LENGTH_MAX) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == ':' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
