-- Fill deal_batch from the staged batch (deal_stage): one row per deal, the
-- version merge_deals.sql will offer, its content hash, whether roistat.deal
-- already holds the deal and this version replaces it, and whether
-- deal_status_history already has this version.
-- No bind parameters. Reads the warehouse, writes only the temporary table.
--
-- Within a batch the version with the newer ModifiedOn wins, and at an equal
-- ModifiedOn the larger content hash: the same rule the merge applies against
-- the stored row, so the outcome does not depend on the order rows arrive in.
--
-- The content hash is the md5 of the business columns' record text, as every
-- version of the loader has written it: a stored hash stays comparable with a
-- new one, so an unchanged deal is recognised as unchanged after an upgrade.
--
-- This is a statement of its own, run before the merge writes anything, so
-- the lookups below see roistat.deal as it was before the batch (a lookup in
-- the statement that inserts would scan the rows it is inserting).
insert into deal_batch
select
    s.entity,
    s.crm_id,
    s.title,
    s.created_on,
    s.modified_on,
    s.status_id,
    s.status_group,
    s.roistat_raw,
    s.roistat_kind,
    s.visit_id,
    s.marker,
    s.revenue,
    s.first_cost,
    s.profit,
    s.filter_value,
    s.passes_filter,
    s.content_hash,
    d.crm_id is not null as is_stored,
    d.crm_id is null
    or (s.modified_on, s.content_hash) > (d.modified_on, d.content_hash) as is_newer,
    h.crm_id is not null as has_history
from (
    select distinct on (entity, crm_id)
        *
    from (
        select
            typed.*,
            md5(row(
                typed.title,
                typed.created_on,
                typed.status_id,
                typed.roistat_raw,
                typed.roistat_kind,
                typed.visit_id,
                typed.marker,
                typed.revenue,
                typed.first_cost,
                typed.profit,
                typed.filter_value,
                typed.passes_filter
            )::text) as content_hash
        from (
            select
                st.entity,
                st.crm_id::uuid as crm_id,
                st.title,
                st.created_on,
                st.modified_on,
                st.status_id::uuid as status_id,
                st.status_group,
                st.roistat_raw,
                st.roistat_kind,
                st.visit_id,
                st.marker,
                st.revenue,
                st.first_cost,
                st.profit,
                st.filter_value,
                st.passes_filter
            from deal_stage as st
        ) as typed
    ) as hashed
    order by entity, crm_id, modified_on desc, content_hash desc
) as s
left join roistat.deal as d
    on d.entity = s.entity
    and d.crm_id = s.crm_id
left join roistat.deal_status_history as h
    on h.entity = s.entity
    and h.crm_id = s.crm_id
    and h.modified_on = s.modified_on;
