-- One page of the "Sent leads" list, newest first, after a keyset position;
-- with every keyset parameter null it is the first page, and with page_rows
-- null it is the whole filtered list (the CSV download).
-- Bind parameters: the filters (filter_sent_leads.sql); after_sort (the sort
-- time as text, '-infinity' for a deal with no creation time), after_entity,
-- after_crm_id: the last row already shown; page_rows. Read-only.
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
    and (
        %(after_sort)s::timestamptz is null
        or (coalesce(l.created_on, '-infinity'::timestamptz), l.entity, l.crm_id)
            < (%(after_sort)s::timestamptz, %(after_entity)s::text, %(after_crm_id)s::uuid)
    )
order by
    coalesce(l.created_on, '-infinity'::timestamptz) desc,
    l.entity desc,
    l.crm_id desc
limit %(page_rows)s
