-- Deals per UTC creation day and status group, for the page's chart.
-- Bind parameters: the filters (filter_sent_leads.sql); chart_from (timestamptz):
-- the first day charted. Read-only. Excluded and deleted deals are left out.
select
    l.created_date,
    l.status_group,
    count(*) as deals
from roistat.sent_leads as l
where {filters}
    and l.created_on >= %(chart_from)s::timestamptz
    and l.excluded_at is null
    and l.deleted_at is null
group by
    l.created_date,
    l.status_group
order by
    l.created_date,
    l.status_group
