-- Self-describing checkpoints: the DER of the signer's X.509 certificate, so that a checkpoint signed before a
-- certificate renewal (a new key every renewal) can still be verified against the CA (./ledger verify).
-- Null for checkpoints signed before this migration: those are checked against trusted keys.
alter table journal_checkpoint add column certificate bytea;
