-- The newest sync run of each entity, and the newest successful one: the
-- page warns when the newest failed and says when data last arrived.
-- No bind parameters. Read-only.
with newest as (
    select distinct on (r.entity)
        r.entity,
        r.sync_run_id,
        r.dag_id,
        r.run_id,
        r.status,
        r.started_at,
        r.finished_at,
        r.error
    from roistat.sync_run as r
    order by
        r.entity,
        r.started_at desc,
        r.sync_run_id desc
),

newest_success as (
    select
        r.entity,
        max(r.finished_at) as finished_at
    from roistat.sync_run as r
    where r.status = 'success'
    group by r.entity
)

select
    n.entity,
    n.sync_run_id,
    n.dag_id,
    n.run_id,
    n.status,
    n.started_at,
    n.finished_at,
    n.error,
    s.finished_at as last_success_at
from newest as n
left join newest_success as s
    on s.entity = n.entity
order by n.entity
