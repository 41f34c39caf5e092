package io.paymentledger.ledger.account;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * An account as the writer holds it: immutable identity plus balances that only the single writer mutates.
 * Readers never see these objects; they read PostgreSQL.
 */
public final class AccountState {

    private final String id;
    private final String currency;
    private final long code;
    private final String owner;
    private final int flags;
    private final Map<String, String> metadata;
    private final long createdNs;
    /** The debit grant: merchants that may charge this (platform) account by a payment (Access.mayPayFrom); sorted, distinct. */
    private final List<String> grantedMerchants;
    long debitsPending;
    long debitsPosted;
    long creditsPending;
    long creditsPosted;

    public AccountState(String id, String currency, long code, String owner, int flags, Map<String, String> metadata,
            List<String> grantedMerchants, long createdNs, Balance balance) {
        this.id = id;
        this.grantedMerchants = List.copyOf(new TreeSet<>(grantedMerchants));
        this.currency = currency;
        this.code = code;
        this.owner = owner;
        this.flags = flags;
        this.metadata = Map.copyOf(metadata);
        this.createdNs = createdNs;
        this.debitsPending = balance.debitsPending();
        this.debitsPosted = balance.debitsPosted();
        this.creditsPending = balance.creditsPending();
        this.creditsPosted = balance.creditsPosted();
    }

    public String id() { return id; }
    public String currency() { return currency; }
    public long code() { return code; }
    public String owner() { return owner; }
    public int flags() { return flags; }
    public Map<String, String> metadata() { return metadata; }
    public long createdNs() { return createdNs; }
    public List<String> grantedMerchants() { return grantedMerchants; }

    /** A copy with every field (the writer freezes a sealed batch's new accounts with it). */
    public AccountState copy() {
        return new AccountState(id, currency, code, owner, flags, metadata, grantedMerchants, createdNs, balance());
    }

    public Balance balance() {
        return new Balance(debitsPending, debitsPosted, creditsPending, creditsPosted);
    }

    /** Replaces the balances (the writer's undo log uses it to roll a failed chain or batch back). */
    public void restore(Balance b) {
        debitsPending = b.debitsPending();
        debitsPosted = b.debitsPosted();
        creditsPending = b.creditsPending();
        creditsPosted = b.creditsPosted();
    }

    /** Applies deltas, or returns false and changes nothing when a balance would leave the int64 range or go negative. */
    public boolean add(long dDebitsPending, long dDebitsPosted, long dCreditsPending, long dCreditsPosted) {
        try {
            long dp = Math.addExact(debitsPending, dDebitsPending);
            long dpo = Math.addExact(debitsPosted, dDebitsPosted);
            long cp = Math.addExact(creditsPending, dCreditsPending);
            long cpo = Math.addExact(creditsPosted, dCreditsPosted);
            // The limit checks add pending and posted; keep that sum in range too.
            Math.addExact(dp, dpo);
            Math.addExact(cp, cpo);
            if (dp < 0 || dpo < 0 || cp < 0 || cpo < 0) {
                throw new io.paymentledger.ledger.write.LedgerBug("balance of " + id + " would go negative (a ledger bug, not bad input)");
            }
            debitsPending = dp;
            debitsPosted = dpo;
            creditsPending = cp;
            creditsPosted = cpo;
            return true;
        } catch (ArithmeticException overflow) {
            return false;
        }
    }

    /** debits_must_not_exceed_credits holds (or is not asked for). */
    public boolean debitsWithinCredits() {
        return !AccountFlags.has(flags, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS) || debitsPending + debitsPosted <= creditsPosted;
    }

    /** credits_must_not_exceed_debits holds (or is not asked for). */
    public boolean creditsWithinDebits() {
        return !AccountFlags.has(flags, AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS) || creditsPending + creditsPosted <= debitsPosted;
    }
}
