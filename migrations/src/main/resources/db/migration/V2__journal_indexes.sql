-- The journal verifier (./ledger verify) reads each batch's accounts by batch_seq, in creation order
-- (transfers have transfer_batch). Without this index every page of the audit would scan the account table.
create index account_batch on account (batch_seq, created_ns);
