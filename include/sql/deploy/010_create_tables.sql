-- Create the warehouse tables in schema roistat (DESIGN.md §3).
-- No bind parameters. Idempotent: every statement is "if not exists", so the
-- deploy step can run before every sync.

create schema if not exists roistat;

-- CRM lead stages and order statuses, keyed by id (customers rename stages).
create table if not exists roistat.status (
    entity          text        not null check (entity in ('lead', 'order')),
    status_id       uuid        not null,
    name            text        not null,
    status_group    text        not null default 'not_registered'
                    check (status_group in ('not_registered', 'processing', 'paid', 'rejected')),
    is_mapped       boolean     not null default false,

    first_seen_at   timestamptz not null default now(),
    last_seen_at    timestamptz not null default now(),  -- the last import that changed the row
    vanished_at     timestamptz,
    renamed_from    text,

    primary key (entity, status_id)
);

-- One row per lead or order, with its attribution and money.
create table if not exists roistat.deal (
    entity          text        not null check (entity in ('lead', 'order')),
    crm_id          uuid        not null,
    title           text,
    created_on      timestamptz,
    modified_on     timestamptz not null,

    status_id       uuid,
    status_group    text        not null default 'not_registered'
                    check (status_group in ('not_registered', 'processing', 'paid', 'rejected')),

    roistat_raw     text,
    roistat_kind    text        not null
                    check (roistat_kind in ('visit', 'nocookie', 'empty', 'marker', 'invalid')),
    visit_id        bigint,
    marker          text,

    revenue         numeric,
    first_cost      numeric,
    profit          numeric,
    filter_value    text,

    paid_at         timestamptz,
    excluded_at     timestamptz,
    deleted_at      timestamptz,

    first_synced_at timestamptz not null default now(),
    last_synced_at  timestamptz not null default now(),
    last_changed_at timestamptz not null default now(),
    content_hash    text        not null,
    sync_run_id     bigint,

    primary key (entity, crm_id)
);

-- Every index on roistat.deal is paid for by every deal a sync writes (a
-- random-key btree insert costs about as much as the row itself). No query
-- reads deals by creation time alone (the page's range filters go through
-- deal_sent_leads_order_idx) or by modification time (a sync continues from
-- roistat.watermark), so those two indexes of the first release are dropped
-- from warehouses that have them. The CRM id and visit number indexes serve
-- only the trigram search, and go when pg_trgm is not installed (see
-- 030_sent_leads_indexes.sql, which builds the page's indexes).
drop index if exists roistat.deal_created_on_idx;
drop index if exists roistat.deal_modified_on_idx;
do $$
begin
    if not exists (select 1 from pg_extension where extname = 'pg_trgm') then
        drop index if exists roistat.deal_crm_id_idx;
        drop index if exists roistat.deal_visit_id_idx;
    end if;
end
$$;

-- Lock order. A sync's transaction writes roistat.deal and then roistat.sync_run
-- (its finish_run); the deploy takes a lock on both (creating an index locks
-- its table even when the index exists), and must take them in the same order
-- or the two deadlock. This lock, held to the end of the deploy, puts deal
-- first; it comes after the drops, so the deploy never has to raise a lock on
-- deal while a sync that has read the table waits on it.
lock table roistat.deal in share mode;

-- One row per observed status change of a deal: its path and cycle time.
create table if not exists roistat.deal_status_history (
    entity          text        not null check (entity in ('lead', 'order')),
    crm_id          uuid        not null,
    modified_on     timestamptz not null,
    status_id       uuid,
    status_group    text        not null,
    observed_at     timestamptz not null default now(),
    sync_run_id     bigint,

    primary key (entity, crm_id, modified_on)
);

-- Website visits, loaded from the tracker's export: the channel of a deal.
create table if not exists roistat.visit (
    visit_id        bigint      primary key,
    visit_date      timestamptz,
    marker          text,
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    landing_page    text,
    loaded_at       timestamptz not null default now()
);

-- One row per entity per sync run: window, counts and timings.
create table if not exists roistat.sync_run (
    sync_run_id     bigserial   primary key,
    dag_id          text,
    run_id          text,
    try_number      integer,
    entity          text        not null check (entity in ('lead', 'order')),
    mode            text        not null,
    window_start    timestamptz,
    window_end      timestamptz,
    status          text        not null default 'running'
                    check (status in ('running', 'success', 'failed')),

    rows_read       bigint      not null default 0,
    filtered_out    bigint      not null default 0,
    loaded_new      bigint      not null default 0,
    loaded_changed  bigint      not null default 0,
    loaded_unchanged bigint     not null default 0,
    rejected        bigint      not null default 0,
    unmapped_statuses bigint    not null default 0,
    deleted         bigint      not null default 0,
    watermark       timestamptz,

    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    seconds         numeric,
    error           text,
    -- the PostgreSQL session that holds the run's transaction: a 'running' row
    -- whose session is gone belongs to a task that was killed
    backend_pid     integer
);

-- With the pid, when that session started: PostgreSQL reuses pids, so a pid
-- alone could make a dead run look alive (added after the first release, hence
-- the alter: deploys are idempotent and upgrade an existing warehouse).
alter table roistat.sync_run add column if not exists backend_start timestamptz;

create index if not exists sync_run_entity_idx on roistat.sync_run (entity, started_at desc);

-- The last ModifiedOn loaded per entity: where a run with no window continues.
create table if not exists roistat.watermark (
    entity          text        primary key check (entity in ('lead', 'order')),
    modified_on     timestamptz not null,
    sync_run_id     bigint,
    updated_at      timestamptz not null default now()
);

-- Rows that broke a rule: kept with the reason and the raw payload, never loaded guessed.
create table if not exists roistat.rejected_record (
    entity          text        not null check (entity in ('lead', 'order')),
    crm_id          text        not null,
    modified_on     text,
    reason          text        not null,
    raw_payload     jsonb       not null,
    sync_run_id     bigint,
    first_rejected_at timestamptz not null default now(),
    last_rejected_at  timestamptz not null default now(),
    resolved_at     timestamptz,

    primary key (entity, crm_id)
);
