-- The channels of the filtered "Sent leads" list in the chart's days, most
-- deals first: the choices the channel filter offers.
-- Bind parameters: the filters (filter_sent_leads.sql); chart_from (timestamptz);
-- channel_rows. Read-only.
select
    l.channel,
    count(*) as deals
from roistat.sent_leads as l
where {filters}
    and l.created_on >= %(chart_from)s::timestamptz
group by l.channel
order by
    deals desc,
    l.channel
limit %(channel_rows)s
