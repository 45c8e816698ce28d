-- Statuses nobody has sorted into a group: they count as not_registered
-- (DESIGN.md §1.5), and the page says so. No bind parameters. Read-only.
select
    s.entity,
    s.status_id,
    s.name
from roistat.status as s
where not s.is_mapped
    and s.vanished_at is null
order by
    s.entity,
    s.name
