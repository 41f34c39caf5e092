-- Merchant API keys (the alternative to a client certificate): only HMAC-SHA256(pepper, key) is stored; the
-- pepper lives in the secret store, never in the database. Looked up by key_id (part of the presented key).
create table api_key (
    key_id       varchar(16) primary key,
    merchant_id  varchar(64) not null,
    hmac_hex     varchar(64) not null,
    created_at   timestamp with time zone not null default now(),
    revoked_at   timestamp with time zone
);
create index api_key_merchant on api_key (merchant_id);
