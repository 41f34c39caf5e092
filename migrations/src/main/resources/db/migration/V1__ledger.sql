-- The ledger's schema. This directory is its only source: jOOQ classes are generated from it at build time.
-- Written by one writer per region (the leader), in batches: one transaction and one commit per batch.

-- Leadership fencing. One row. Every write transaction checks that `epoch` is the writer's own fencing token,
-- so a deposed leader cannot commit. A new leader raises it; it never goes down.
create table leadership (
    singleton   boolean primary key default true check (singleton),
    epoch       bigint not null check (epoch >= 0),
    region      varchar(64) not null,
    changed_at  timestamp with time zone not null default now()
);
insert into leadership (singleton, epoch, region) values (true, 0, '');

-- The journal: one row per committed write batch, hash-chained to the previous one (tamper evidence).
create table journal_batch (
    seq             bigint primary key,
    epoch           bigint not null,
    region          varchar(64) not null,
    first_ts_ns     bigint not null,
    last_ts_ns      bigint not null,
    account_count   integer not null,
    transfer_count  integer not null,
    prev_hash       bytea not null,
    hash            bytea not null,
    committed_at    timestamp with time zone not null default now()
);

-- Signed checkpoints over the journal: the leader signs the hash of a batch now and then.
create table journal_checkpoint (
    batch_seq       bigint primary key,
    hash            bytea not null,
    signer          varchar(256) not null,
    public_key      bytea not null,
    algorithm       varchar(32) not null,
    signature       bytea not null,
    signed_at       timestamp with time zone not null default now()
);

create table account (
    id               varchar(64) primary key,
    currency         varchar(3) not null,
    code             bigint not null check (code >= 0 and code <= 4294967295),
    owner            varchar(64) not null,
    -- bit 0: debits_must_not_exceed_credits, bit 1: credits_must_not_exceed_debits
    flags            integer not null,
    metadata         jsonb,
    debits_pending   bigint not null default 0 check (debits_pending >= 0),
    debits_posted    bigint not null default 0 check (debits_posted >= 0),
    credits_pending  bigint not null default 0 check (credits_pending >= 0),
    credits_posted   bigint not null default 0 check (credits_posted >= 0),
    created_ns       bigint not null,
    batch_seq        bigint not null
);
create index account_owner on account (owner);

-- Transfers are immutable once written: a hold's later state lives in pending_transfer.
-- dr_* / cr_* are the balances of the debit / credit account right after this transfer (balance history).
create table transfer (
    id                 varchar(80) primary key,
    debit_account_id   varchar(64) not null,
    credit_account_id  varchar(64) not null,
    amount             bigint not null check (amount >= 0),
    currency           varchar(3) not null,
    code               bigint not null,
    -- bit 0: linked, 1: pending, 2: post_pending, 3: void_pending, 4: expiry (written by the ledger)
    flags              integer not null,
    pending_id         varchar(64),
    timeout_seconds    integer not null default 0,
    payment_id         varchar(64),
    metadata           jsonb,
    timestamp_ns       bigint not null,
    batch_seq          bigint not null,
    dr_debits_pending  bigint not null,
    dr_debits_posted   bigint not null,
    dr_credits_pending bigint not null,
    dr_credits_posted  bigint not null,
    cr_debits_pending  bigint not null,
    cr_debits_posted   bigint not null,
    cr_credits_pending bigint not null,
    cr_credits_posted  bigint not null
);
create unique index transfer_timestamp on transfer (timestamp_ns);
create index transfer_debit_account on transfer (debit_account_id, timestamp_ns);
create index transfer_credit_account on transfer (credit_account_id, timestamp_ns);
create index transfer_batch on transfer (batch_seq);

-- The mutable state of a hold: what it still holds and whether it was posted, voided or expired.
create table pending_transfer (
    id              varchar(64) primary key,
    remaining       bigint not null check (remaining >= 0),
    posted          bigint not null default 0,
    -- 1 held, 2 posted (nothing left), 3 voided, 4 expired
    state           smallint not null,
    expires_at_ns   bigint not null
);
create index pending_transfer_expiry on pending_transfer (expires_at_ns) where state = 1 and expires_at_ns > 0;

-- A payment: an authorisation hold plus its captures, voids and refunds (all of them transfers).
create table payment (
    id                   varchar(64) primary key,
    payer_account_id     varchar(64) not null,
    merchant_account_id  varchar(64) not null,
    currency             varchar(3) not null,
    authorized_amount    bigint not null,
    captured_amount      bigint not null default 0,
    refunded_amount      bigint not null default 0,
    released_amount      bigint not null default 0,
    authorized_at_ns     bigint not null,
    expires_at_ns        bigint not null,
    -- 1 voided, 2 expired: why the rest of the hold was released
    release_reason       smallint not null default 0,
    metadata             jsonb
);
