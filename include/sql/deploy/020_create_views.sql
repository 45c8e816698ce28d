-- Create the views the data team reads: sent_leads and channel_report (DESIGN.md §3).
-- No bind parameters. Idempotent: each view is dropped and created again inside
-- the deploy transaction, so a changed column list never blocks a deploy.

drop view if exists roistat.channel_report;
drop view if exists roistat.sent_leads;
drop view if exists roistat.deal_attribution;

-- Each deal with its current status group and its channel.
create view roistat.deal_attribution as
select
    d.entity,
    d.crm_id,
    d.title,
    d.created_on,
    d.modified_on,
    (d.created_on at time zone 'UTC')::date as created_date,

    d.status_id,
    s.name as status_name,
    coalesce(s.status_group, 'not_registered') as status_group,
    coalesce(s.is_mapped, false) as is_status_mapped,

    d.roistat_raw,
    d.roistat_kind,
    d.visit_id,
    v.visit_date,
    case
        when d.roistat_kind = 'visit' and v.visit_id is not null
            then coalesce(nullif(v.marker, ''), 'no marker')
        when d.roistat_kind = 'visit' then 'unknown visit'
        when d.roistat_kind = 'nocookie' then 'nocookie'
        when d.roistat_kind = 'marker' then d.marker
        else 'no visit number'
    end as channel,

    d.revenue,
    d.first_cost,
    d.profit,

    d.paid_at,
    d.excluded_at,
    d.deleted_at,
    d.first_synced_at,
    d.last_synced_at
from roistat.deal as d
left join roistat.status as s
    on s.entity = d.entity
    and s.status_id = d.status_id
left join roistat.visit as v
    on v.visit_id = d.visit_id;

-- The "Sent leads" list: every lead and order that was exported.
create view roistat.sent_leads as
select
    a.*,
    exists (
        select 1
        from roistat.rejected_record as r
        where r.entity = a.entity
            and r.crm_id = a.crm_id::text
            and r.resolved_at is not null
    ) as was_rejected
from roistat.deal_attribution as a;

-- Per UTC creation day, entity and channel: deals by group and money.
create view roistat.channel_report as
with live_deals as (
    select *
    from roistat.deal_attribution
    where excluded_at is null
        and deleted_at is null
),

per_channel as (
    select
        created_date as day,
        entity,
        channel,
        count(*) as deals,
        count(*) filter (where status_group = 'not_registered') as not_registered,
        count(*) filter (where status_group = 'processing') as processing,
        count(*) filter (where status_group = 'paid') as paid,
        count(*) filter (where status_group = 'rejected') as rejected,
        coalesce(sum(revenue) filter (where status_group = 'paid'), 0) as revenue,
        coalesce(sum(revenue) filter (where status_group in ('processing', 'paid')), 0)
            as forecast_revenue,
        coalesce(sum(first_cost) filter (where status_group = 'paid'), 0) as first_cost,
        coalesce(sum(profit) filter (where status_group = 'paid'), 0) as profit
    from live_deals
    group by created_date, entity, channel
)

select
    day,
    entity,
    channel,
    deals,
    not_registered,
    processing,
    paid,
    rejected,
    revenue,
    forecast_revenue,
    first_cost,
    profit,
    round(revenue / nullif(paid, 0), 2) as average_check,
    round(paid::numeric / nullif(deals, 0), 4) as conversion
from per_channel;
