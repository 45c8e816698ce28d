-- Merge the classified batch (deal_batch, from classify_deals.sql) into
-- roistat.deal, its status history and quarantine.
-- Bind parameters: sync_run_id, synced_at.
-- Idempotent and order-independent: the version with the newer ModifiedOn wins,
-- and at an equal ModifiedOn the larger content hash wins, so replaying any
-- windows in any order leaves the same rows; an unchanged row is not written.
--
-- New deals and new history rows are inserted with a plain INSERT of keys
-- classify_deals.sql found absent, in this same transaction. That is safe
-- because every writer of an entity's deals holds that entity's advisory lock
-- for its whole transaction (entity_sync.py, _take_entity_lock): nobody else
-- can insert one of these keys in between. It saves ON CONFLICT's speculative
-- insertion, which made an insert about half as dear again. Known deals go
-- through ON CONFLICT DO UPDATE, which finds each by its key through the
-- primary key whatever the size of the table.
with history as (
    insert into roistat.deal_status_history as h (
        entity,
        crm_id,
        modified_on,
        status_id,
        status_group,
        observed_at,
        sync_run_id
    )
    select
        entity,
        crm_id,
        modified_on,
        status_id,
        status_group,
        %(synced_at)s,
        %(sync_run_id)s
    from deal_batch
    where not has_history
),

resolved as (
    update roistat.rejected_record as r
    set resolved_at = %(synced_at)s
    from deal_batch as b
    where r.entity = b.entity
        and r.crm_id = b.crm_id::text
        and r.resolved_at is null
),

inserted as (
    insert into roistat.deal (
        entity,
        crm_id,
        title,
        created_on,
        modified_on,
        status_id,
        status_group,
        roistat_raw,
        roistat_kind,
        visit_id,
        marker,
        revenue,
        first_cost,
        profit,
        filter_value,
        paid_at,
        excluded_at,
        first_synced_at,
        last_synced_at,
        last_changed_at,
        content_hash,
        sync_run_id
    )
    select
        entity,
        crm_id,
        title,
        created_on,
        modified_on,
        status_id,
        status_group,
        roistat_raw,
        roistat_kind,
        visit_id,
        marker,
        revenue,
        first_cost,
        profit,
        filter_value,
        case when status_group = 'paid' then %(synced_at)s::timestamptz end,
        case when not passes_filter then %(synced_at)s::timestamptz end,
        %(synced_at)s,
        %(synced_at)s,
        %(synced_at)s,
        content_hash,
        %(sync_run_id)s
    from deal_batch
    where not is_stored
    returning excluded_at is not null as is_excluded
),

updated as (
    insert into roistat.deal as d (
        entity,
        crm_id,
        title,
        created_on,
        modified_on,
        status_id,
        status_group,
        roistat_raw,
        roistat_kind,
        visit_id,
        marker,
        revenue,
        first_cost,
        profit,
        filter_value,
        paid_at,
        excluded_at,
        first_synced_at,
        last_synced_at,
        last_changed_at,
        content_hash,
        sync_run_id
    )
    select
        entity,
        crm_id,
        title,
        created_on,
        modified_on,
        status_id,
        status_group,
        roistat_raw,
        roistat_kind,
        visit_id,
        marker,
        revenue,
        first_cost,
        profit,
        filter_value,
        case when status_group = 'paid' then %(synced_at)s::timestamptz end,
        case when not passes_filter then %(synced_at)s::timestamptz end,
        %(synced_at)s,
        %(synced_at)s,
        %(synced_at)s,
        content_hash,
        %(sync_run_id)s
    from deal_batch
    where is_stored
        and is_newer
    on conflict (entity, crm_id) do update set
        title = excluded.title,
        created_on = excluded.created_on,
        modified_on = excluded.modified_on,
        status_id = excluded.status_id,
        status_group = excluded.status_group,
        roistat_raw = excluded.roistat_raw,
        roistat_kind = excluded.roistat_kind,
        visit_id = excluded.visit_id,
        marker = excluded.marker,
        revenue = excluded.revenue,
        first_cost = excluded.first_cost,
        profit = excluded.profit,
        filter_value = excluded.filter_value,
        -- paid_at is the first sync that saw the deal paid, and it stays.
        paid_at = coalesce(d.paid_at, excluded.paid_at),
        excluded_at = case
            when excluded.excluded_at is null then null
            else coalesce(d.excluded_at, excluded.excluded_at)
        end,
        -- a deal the CRM sends again exists again
        deleted_at = null,
        last_synced_at = excluded.last_synced_at,
        last_changed_at = case
            when d.content_hash = excluded.content_hash then d.last_changed_at
            else excluded.last_changed_at
        end,
        content_hash = excluded.content_hash,
        sync_run_id = excluded.sync_run_id
    where (excluded.modified_on, excluded.content_hash) > (d.modified_on, d.content_hash)
    returning
        (xmax = 0) as is_new,
        excluded_at is not null as is_excluded
)

select
    (select count(*) from deal_batch) as staged,
    (select count(*) from inserted)
    + (select count(*) from updated where is_new) as loaded_new,
    (select count(*) from updated where not is_new) as loaded_changed,
    (select count(*) from inserted where is_excluded)
    + (select count(*) from updated where is_excluded) as excluded;
