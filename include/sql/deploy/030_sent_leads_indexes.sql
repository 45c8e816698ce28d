-- Create the indexes the "Sent leads" page reads through (plugins/roistat/sent_leads_query.py).
-- No bind parameters. Idempotent: "if not exists".

-- The page lists deals newest first by creation time and pages by keyset
-- (sort time, entity, crm_id). A deal without a creation time sorts last: the
-- key is coalesced to -infinity, and the page's queries use the same expression,
-- so an index scan (backwards) hands out any page of 50 rows without a sort.
create index if not exists deal_sent_leads_order_idx
    on roistat.deal ((coalesce(created_on, '-infinity'::timestamptz)), entity, crm_id);

-- The search box finds a deal by its CRM id (the primary key starts with entity).
create index if not exists deal_crm_id_idx on roistat.deal (crm_id);

-- The search box matches title and roistat value anywhere in the text (ilike
-- '%...%'), which only a trigram index serves; without one a search reads the
-- whole table (about a second per million deals). pg_trgm is an extension a
-- database owner installs once (`create extension pg_trgm;`); when it is there,
-- the next deploy builds the index, and when it is not, nothing changes.
do $$
begin
    if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        execute 'create index if not exists deal_sent_leads_search_idx on roistat.deal '
            'using gin (title gin_trgm_ops, roistat_raw gin_trgm_ops)';
    end if;
end
$$;
