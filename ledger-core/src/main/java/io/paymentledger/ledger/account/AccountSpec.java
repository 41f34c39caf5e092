package io.paymentledger.ledger.account;

import java.util.Map;

/** An account as a client asks for it. Validated by {@link AccountValidator}; created by the writer. */
public record AccountSpec(String id, String currency, long code, String owner, int flags, Map<String, String> metadata) {

    public AccountSpec {
        metadata = Map.copyOf(metadata);
    }

    /** Same fields as an existing account (the idempotency rule). */
    public boolean sameFieldsAs(AccountState a) {
        return currency.equals(a.currency()) && code == a.code() && owner.equals(a.owner()) && flags == a.flags()
                && metadata.equals(a.metadata());
    }
}
