-- Totals of the filtered "Sent leads" list for the page's header.
-- Bind parameters: the filters (filter_sent_leads.sql). Read-only.
-- As in roistat.channel_report, excluded and deleted deals are counted apart
-- and left out of the groups and the money; revenue counts paid deals, the
-- forecast processing plus paid (DESIGN.md §1.5).
with filtered as (
    select
        l.status_group,
        l.revenue,
        l.excluded_at is null and l.deleted_at is null as is_live,
        l.excluded_at is not null as is_excluded,
        l.deleted_at is not null as is_deleted,
        l.created_on
    from roistat.sent_leads as l
    where {filters}
)

select
    count(*) as listed,
    count(*) filter (where is_live) as deals,
    count(*) filter (where is_live and status_group = 'not_registered') as not_registered,
    count(*) filter (where is_live and status_group = 'processing') as processing,
    count(*) filter (where is_live and status_group = 'paid') as paid,
    count(*) filter (where is_live and status_group = 'rejected') as rejected,

    coalesce(sum(revenue) filter (where is_live and status_group = 'paid'), 0) as revenue,
    coalesce(sum(revenue) filter (where is_live and status_group in ('processing', 'paid')), 0)
        as forecast_revenue,

    count(*) filter (where is_excluded) as excluded,
    count(*) filter (where is_deleted) as deleted,
    max(created_on) as newest_created_on
from filtered
