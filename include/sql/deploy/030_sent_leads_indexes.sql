-- Create the indexes the "Sent leads" page reads through (plugins/roistat/sent_leads_query.py).
-- No bind parameters. Idempotent: "if not exists".

-- The page lists deals newest first by creation time and pages by keyset
-- (sort time, entity, crm_id). A deal without a creation time sorts last: the
-- key is coalesced to -infinity, and the page's queries use the same expression,
-- so an index scan (backwards) hands out any page of 50 rows without a sort.
-- Its creation-time range filter reads the same index.
create index if not exists deal_sent_leads_order_idx
    on roistat.deal ((coalesce(created_on, '-infinity'::timestamptz)), entity, crm_id);

-- The search box matches title and roistat value anywhere in the text (ilike
-- '%...%'), which only a trigram index serves; without one a search reads the
-- whole table (about a second per million deals). pg_trgm is an extension a
-- database owner installs once (`create extension pg_trgm;`); when it is there,
-- the next deploy builds the index.
--
-- The same search also matches a deal by its CRM id or its visit number, OR-ed
-- with the text match: PostgreSQL can serve the whole search from indexes only
-- when every arm has one, so the CRM id index (the primary key starts with
-- entity) and the visit number index come with the trigram index. Without
-- pg_trgm the search reads the whole table whatever other indexes exist, no
-- other query uses those two, and each would only slow every deal a sync
-- writes: 010_create_tables.sql drops them then.
do $$
begin
    if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        execute 'create index if not exists deal_sent_leads_search_idx on roistat.deal '
            'using gin (title gin_trgm_ops, roistat_raw gin_trgm_ops)';
        execute 'create index if not exists deal_crm_id_idx on roistat.deal (crm_id)';
        execute 'create index if not exists deal_visit_id_idx on roistat.deal (visit_id) '
            'where visit_id is not null';
    end if;
end
$$;
