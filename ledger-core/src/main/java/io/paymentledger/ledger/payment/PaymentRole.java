package io.paymentledger.ledger.payment;

/** What a payments call does, as a ledger transfer. */
public enum PaymentRole {
    /** A pending transfer payer -> merchant, id = payment id. */
    AUTHORIZE(9001),
    /** A post_pending of the authorisation, id = capture id. */
    CAPTURE(9002),
    /** A void_pending of the authorisation, id = void id. */
    VOID(9003),
    /** A posted transfer merchant -> payer, id = refund id. */
    REFUND(9004);

    /** The transfer code the payments API writes. */
    public final long transferCode;

    PaymentRole(long transferCode) {
        this.transferCode = transferCode;
    }
}
