-- Create the per-transaction staging table the loader COPYs one batch into.
-- No bind parameters. Dropped at commit or rollback.
create temporary table if not exists deal_stage (
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
    passes_filter   boolean     not null
) on commit drop;
