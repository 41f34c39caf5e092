package io.paymentledger.ledger.account;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * An account as a client asks for it. Validated by {@link AccountValidator}; created by the writer.
 *
 * @param grantedMerchants the debit grant (merchants that may debit this platform account), as sent: the validator
 *                         refuses duplicates, so the set it stands for is {@link #grants()}
 */
public record AccountSpec(String id, String currency, long code, String owner, int flags, Map<String, String> metadata,
        List<String> grantedMerchants) {

    public AccountSpec {
        metadata = Map.copyOf(metadata);
        grantedMerchants = List.copyOf(grantedMerchants);
    }

    public AccountSpec(String id, String currency, long code, String owner, int flags, Map<String, String> metadata) {
        this(id, currency, code, owner, flags, metadata, List.of());
    }

    /** The grant as the ledger stores it: distinct merchant ids, sorted. */
    public List<String> grants() {
        return List.copyOf(new TreeSet<>(grantedMerchants));
    }

    /** Same fields as an existing account (the idempotency rule). */
    public boolean sameFieldsAs(AccountState a) {
        return currency.equals(a.currency()) && code == a.code() && owner.equals(a.owner()) && flags == a.flags()
                && metadata.equals(a.metadata()) && grants().equals(a.grantedMerchants());
    }
}
