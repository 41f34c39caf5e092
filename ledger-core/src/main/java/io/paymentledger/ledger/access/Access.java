package io.paymentledger.ledger.access;

import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.account.AccountSpec;
import io.paymentledger.ledger.account.AccountState;

/**
 * The ledger's one authorisation rule (ARCHITECTURE invariant 8, docs/decisions/0003-tenant-isolation.md). Every
 * path asks here: the writer for accounts, transfers, holds, chains and payments; the readers for lookups,
 * histories, balances and payments. Nothing else decides what a caller may do or see.
 *
 * <ul>
 *   <li><b>read</b> an account (its existence, balances, owner, history): the operator, or the merchant that owns it;</li>
 *   <li><b>debit</b> it with the ledger API (transfers out, holds): read it;</li>
 *   <li><b>credit</b> it (name it as the other side of a transfer the caller makes): the same as debit, so that a
 *       caller cannot probe for, or pay into, accounts it has no business with;</li>
 *   <li><b>pay from</b> it (be the payer of an authorisation, {@code PaymentsService.Authorize}): debit it, or be a
 *       merchant named in the account's debit grant ({@link AccountState#grantedMerchants()}: platform accounts only,
 *       set by the operator). This is all a grant allows: a grantee moves a granted account's money only by a
 *       payment into its own account (then captured, voided, refunded through that payment), never by a raw
 *       transfer or hold, so not to another granted account, not to itself without a payment record;</li>
 *   <li><b>see</b> a transfer (lookups, EXISTS replays, pending ids): read either of its accounts;</li>
 *   <li><b>resolve</b> a hold (post, void): could make that hold now (debit its debit account, credit its credit
 *       account);</li>
 *   <li><b>see</b> a payment: read its merchant or its payer account; <b>manage</b> it (capture, void, refund) or
 *       <b>receive</b> one (be the merchant account of an authorisation): read the merchant account.</li>
 * </ul>
 * Whatever a caller may not see is answered exactly as what does not exist; the callers of this class make sure
 * of that (same status, no timestamp, no balances).
 *
 * <p>Expiry of holds is the writer's own act on the server clock; no caller is involved and nothing here is asked.
 */
public final class Access {

    private Access() {}

    /** May {@code caller} read an account owned by {@code owner} ("" for platform accounts; null when unknown)? */
    public static boolean mayRead(Caller caller, String owner) {
        return caller.isOperator() || (owner != null && caller.merchantId().equals(owner));
    }

    public static boolean mayRead(Caller caller, AccountState account) {
        return account != null && mayRead(caller, account.owner());
    }

    /** Debit with the ledger API (CreateTransfers: transfers out, holds). A grant does not count here. */
    public static boolean mayDebit(Caller caller, AccountState account) {
        return mayRead(caller, account);
    }

    /**
     * Be the payer of a new authorisation: an account the caller may debit, or a platform account whose grant names
     * it. The only place a grant counts (decision 0003, "The grant").
     */
    public static boolean mayPayFrom(Caller caller, AccountState payer) {
        return payer != null && (mayDebit(caller, payer)
                || (payer.owner().isEmpty() && payer.grantedMerchants().contains(caller.merchantId())));
    }

    public static boolean mayCredit(Caller caller, AccountState account) {
        return mayDebit(caller, account);
    }

    /**
     * May {@code caller} create this account: the operator any; a merchant only one it owns, without a grant (a
     * grant exists only on platform accounts, which are the operator's).
     */
    public static boolean mayCreate(Caller caller, AccountSpec spec) {
        return caller.isOperator() || (caller.merchantId().equals(spec.owner()) && spec.grantedMerchants().isEmpty());
    }

    /** May {@code caller} see a transfer between accounts owned by these owners. */
    public static boolean maySee(Caller caller, String debitOwner, String creditOwner) {
        return mayRead(caller, debitOwner) || mayRead(caller, creditOwner);
    }

    public static boolean maySee(Caller caller, AccountState debit, AccountState credit) {
        return mayRead(caller, debit) || mayRead(caller, credit);
    }

    public static boolean mayResolve(Caller caller, AccountState debit, AccountState credit) {
        return mayDebit(caller, debit) && mayCredit(caller, credit);
    }

    public static boolean maySeePayment(Caller caller, AccountState merchant, AccountState payer) {
        return mayRead(caller, merchant) || mayRead(caller, payer);
    }

    /** Capture, void, refund. */
    public static boolean mayManagePayment(Caller caller, AccountState merchant) {
        return mayRead(caller, merchant);
    }

    /** Be the merchant (credit) account of a new authorisation. */
    public static boolean mayReceivePayment(Caller caller, AccountState merchant) {
        return mayRead(caller, merchant);
    }
}
