-- Create the per-transaction tables the loader works in. No bind parameters.
-- Both are dropped at commit or rollback, and emptied after every batch.

-- deal_stage: one batch as the loader COPYs it (binary format, so the columns
-- must match deal_loader.STAGE_TYPES). The two ids arrive as text and become
-- uuid in classify_deals.sql: the binary uuid format would need uuid.UUID
-- objects, and parsing the ids there costs the loader more than the cast here.
create temporary table if not exists deal_stage (
    entity          text        not null,
    crm_id          text        not null,
    title           text,
    created_on      timestamptz,
    modified_on     timestamptz not null,
    status_id       text,
    status_group    text        not null,
    roistat_raw     text,
    roistat_kind    text        not null,
    visit_id        bigint,
    marker          text,
    revenue         numeric,
    first_cost      numeric,
    profit          numeric,
    filter_value    text,
    passes_filter   boolean     not null
) on commit drop;

-- deal_batch: the batch after classify_deals.sql, one row per deal, with its
-- content hash and what the warehouse already holds of it.
create temporary table if not exists deal_batch (
    entity          text        not null,
    crm_id          uuid        not null,
    title           text,
    created_on      timestamptz,
    modified_on     timestamptz not null,
    status_id       uuid,
    status_group    text        not null,
    roistat_raw     text,
    roistat_kind    text        not null,
    visit_id        bigint,
    marker          text,
    revenue         numeric,
    first_cost      numeric,
    profit          numeric,
    filter_value    text,
    passes_filter   boolean     not null,
    content_hash    text        not null,
    is_stored       boolean     not null,  -- roistat.deal has the deal
    is_newer        boolean     not null,  -- and this version replaces it (or it is new)
    has_history     boolean     not null   -- deal_status_history has this version
) on commit drop;
