-- The "Sent leads" filters: one predicate over roistat.sent_leads aliased `l`,
-- put in place of {filters} in this folder's queries (sent_leads_query.py).
-- Bind parameters, each null for "no filter": entity, status_group, channel,
-- created_from and created_before (a half-open range of creation times),
-- search_like (an ilike pattern, '\' escapes), search_uuid, search_number.
-- Read-only. Each unused filter folds away when the plan is made, because the
-- page runs its queries unprepared, so PostgreSQL plans with the values.
(%(entity)s::text is null or l.entity = %(entity)s::text)
and (%(status_group)s::text is null or l.status_group = %(status_group)s::text)
and (%(channel)s::text is null or l.channel = %(channel)s::text)
and (
    %(created_from)s::timestamptz is null
    or coalesce(l.created_on, '-infinity'::timestamptz) >= %(created_from)s::timestamptz
)
and (
    %(created_before)s::timestamptz is null
    or coalesce(l.created_on, '-infinity'::timestamptz) < %(created_before)s::timestamptz
)
and (
    %(search_like)s::text is null
    or l.title ilike %(search_like)s::text
    or l.roistat_raw ilike %(search_like)s::text
    or l.crm_id = %(search_uuid)s::uuid
    or l.visit_id = %(search_number)s::bigint
)
