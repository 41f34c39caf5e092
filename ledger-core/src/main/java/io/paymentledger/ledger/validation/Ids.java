package io.paymentledger.ledger.validation;

import io.paymentledger.ledger.Limits;

/** Client-chosen ids: 1..64 characters of [A-Za-z0-9._:-]. */
public final class Ids {

    private Ids() {}

    /** Suffix of the id of the transfer the ledger writes when a hold times out. */
    public static final String EXPIRY_SUFFIX = "#expired";

    /** A transfer id as lookups accept it: a client id, or the id of a hold's expiry record. */
    public static boolean isValidTransferLookup(String id) {
        return isValid(id) || (id != null && id.endsWith(EXPIRY_SUFFIX)
                && isValid(id.substring(0, id.length() - EXPIRY_SUFFIX.length())));
    }

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
