-- One page of the "Sent leads" list just before a keyset position (the
-- "newer" link), oldest first: the caller reverses it to show newest first.
-- Bind parameters: the filters (filter_sent_leads.sql); before_sort (the sort
-- time as text, '-infinity' for no creation time), before_entity,
-- before_crm_id: the first row shown; page_rows. Read-only.
select
    l.entity,
    l.crm_id,
    l.title,
    l.created_on,
    l.modified_on,

    l.status_id,
    l.status_name,
    l.status_group,
    l.is_status_mapped,

    l.revenue,
    l.first_cost,
    l.profit,

    l.roistat_raw,
    l.roistat_kind,
    l.visit_id,
    l.visit_date,
    l.channel,

    l.first_synced_at,
    l.last_synced_at,
    l.paid_at,
    l.excluded_at,
    l.deleted_at,
    l.was_rejected
from roistat.sent_leads as l
where {filters}
    and (coalesce(l.created_on, '-infinity'::timestamptz), l.entity, l.crm_id)
        > (%(before_sort)s::timestamptz, %(before_entity)s::text, %(before_crm_id)s::uuid)
order by
    coalesce(l.created_on, '-infinity'::timestamptz) asc,
    l.entity asc,
    l.crm_id asc
limit %(page_rows)s
