-- Events (issue #21, docs/decisions/0006-events.md). The event stream is read from the journal itself (account and
-- transfer rows, in timestamp order): no row is added per write, nothing changes on the write path. This one row
-- names the cell (deployment) that event ids and cursors carry, and holds the key that makes cursors opaque to
-- merchants (a cursor in clear would show, between two of a merchant's events, how many others happened). It is
-- created once, by the first leader that serves events, and replicated like everything else, so cursors stay valid
-- across failover.
create table event_cell (
    singleton   boolean primary key default true check (singleton),
    name        varchar(64) not null,
    cursor_key  bytea not null,
    created_at  timestamp with time zone not null default now()
);
