-- The channels of the filtered "Sent leads" list, most deals first: the
-- choices the channel filter offers.
-- Bind parameters: the filters (filter_sent_leads.sql); channel_rows. Read-only.
select
    l.channel,
    count(*) as deals
from roistat.sent_leads as l
where {filters}
group by l.channel
order by
    deals desc,
    l.channel
limit %(channel_rows)s
