package io.paymentledger.ledger.account;

import io.paymentledger.ledger.validation.Currencies;
import io.paymentledger.security.identity.Principal;
import java.util.HashSet;
import java.util.List;
import io.paymentledger.ledger.validation.Ids;
import io.paymentledger.ledger.validation.Metadata;

/** Checks of an account that need no state; the writer does the rest. */
public final class AccountValidator {

    /** Merchants one account may grant debits to. */
    public static final int GRANTED_MERCHANTS_MAX = 16;

    private AccountValidator() {}

    /**
     * A debit grant only on a platform account (a merchant's own account needs none, and a merchant must not give
     * others its money through the raw API), naming distinct, well-formed merchant ids.
     */
    static boolean validGrant(AccountSpec a) {
        List<String> g = a.grantedMerchants();
        if (g.isEmpty()) {
            return true;
        }
        if (!a.owner().isEmpty() || g.size() > GRANTED_MERCHANTS_MAX || new HashSet<>(g).size() != g.size()) {
            return false;
        }
        return g.stream().allMatch(m -> m != null && Principal.MERCHANT_ID.matcher(m).matches());
    }

    /** The first problem with the spec, or null when it is well formed. */
    public static AccountStatus check(AccountSpec a) {
        if (!Ids.isValid(a.id())) {
            return AccountStatus.INVALID_ID;
        }
        if (!Currencies.isKnown(a.currency())) {
            return AccountStatus.INVALID_CURRENCY;
        }
        if (!a.owner().isEmpty() && !Ids.isValid(a.owner())) {
            return AccountStatus.INVALID_OWNER;
        }
        if (AccountFlags.has(a.flags(), AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
                && AccountFlags.has(a.flags(), AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)) {
            return AccountStatus.FLAGS_MUTUALLY_EXCLUSIVE;
        }
        if (!Metadata.isValid(a.metadata())) {
            return AccountStatus.INVALID_METADATA;
        }
        if (!validGrant(a)) {
            return AccountStatus.INVALID_GRANT;
        }
        return null;
    }
}
