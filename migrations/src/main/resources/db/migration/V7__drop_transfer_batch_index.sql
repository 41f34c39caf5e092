-- Every batch inserts its transfers into this index too: ~6 % of PostgreSQL's work per transfer row (measured: 140 vs
-- 132 ms per 10,000 rows with the ledger's other four indexes; issue #12). Its one reader, the journal verifier, reads
-- a batch's transfers by timestamp range instead (transfer_timestamp), and checks each row's batch_seq as it goes.
drop index transfer_batch;
