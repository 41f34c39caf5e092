-- Every batch rewrites the balances of the accounts it touched. Room on each page lets PostgreSQL do that as a
-- heap-only update (no index is touched, the balance columns are not indexed) instead of a new row version plus
-- an entry in every index of the table.
-- [jooq ignore start]
alter table account set (fillfactor = 50);
-- [jooq ignore stop]
