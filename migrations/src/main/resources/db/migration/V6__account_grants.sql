-- Debit grants (tenant isolation, docs/decisions/0003-tenant-isolation.md): a platform account (owner '') may
-- name the merchants allowed to debit it, e.g. a customer's wallet that the customer let shop-1 and shop-2
-- authorise payments against. A JSON array of merchant ids, sorted, null when none. Set by the operator when the
-- account is created and part of the account's journal hash (./ledger verify detects a grant added behind the
-- ledger's back). Read with the account row, so no query gains a join.
alter table account add column granted_merchants jsonb;
