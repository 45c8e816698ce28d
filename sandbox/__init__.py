"""A local bpm'online (Creatio) emulator: the project's stand-in for a real site.

It follows reference/creatio-api.md: where the real Creatio has a quirk, the
sandbox has it too, switchable per run. It serves real HTTP (FastAPI + uvicorn)
from a generated SQLite database.

Running it as a process
-----------------------
    python -m sandbox --port P --leads N --orders M --seed S
        [--user U --password W] [--host 127.0.0.1] [--data-dir DIR | --db PATH]
        [--netcore] [--until ISO_DATE] [--roistat-column NAME]
        [--client-id ID --client-secret SECRET --token-path /connect/token]
        [--token-lifetime SECONDS] [--row-cap N] [--admin-token TOKEN]
        [quirk flags: --decimals {number,string,ieee754} | --decimals-as-strings,
         --empty-lookup {zero,null}, --clock-offset-minutes M,
         --unauthorized {401,redirect,html}, --csrf-status {401,403},
         --session-max-requests N, --max-sessions N,
         --login-refusal {password_expired,sso_only}, --not-found {json,html},
         --select-all-fails, --no-in-operator, --filter-node-limit N]

`--port 0` picks a free port. When it accepts requests it prints ONE JSON line on
stdout: url, odata_path, user, password, client_id, client_secret, token_url,
visits_path, db_path, admin_token, generation_seconds, startup_seconds. Logs go
to stderr. SIGTERM or SIGINT stop it and delete its working copy of the data.

Defaults: user/password Supervisor/Supervisor, client roistat-client /
roistat-secret, tokens live 3600 s, at most 20,000 rows per response, data ends
at 2026-12-01T00:00:00Z, roistat column `UsrRoistat`, admin token random.

Running it in a test
--------------------
    from sandbox.testing import run_sandbox

    with run_sandbox(leads=300, orders=200, seed=1, data_dir=tmp_path, **options) as sb:
        session = sb.login()          # requests.Session with cookies + BPMCSRF header
        session.get(sb.odata_url + "/Lead", params={"$top": "10"})

`options` are the CLI options by Python name (user, password, netcore, until,
roistat_column, client_id, client_secret, token_path, token_lifetime, row_cap,
admin_token, db) and the quirks by name (decimals, empty_lookup, ...), or
`quirks={...}`. The yielded object has: url (site root, no trailing slash),
odata_path ("/0/odata" or "/odata"), odata_url, user, password, client_id,
client_secret, token_url, visits_path, db_path, admin_token, options, login(),
and `admin`, an `AdminClient`:

    set_fault(kind, **spec) -> dict      faults() / clear_faults()
    set_quirks(**changes) -> dict        quirks() / reset()  (faults, counters, quirks)
    touch(entity, ids=None, count=None, modified_on=None, **changes) -> list[id]
    insert(entity, n=1, modified_on=None, **values) -> list[id]
    delete(entity, ids) -> int
    rename_status(entity, status_id, new_name)     add_status(entity, name) -> id
    delete_status(entity, status_id) -> int        expire_sessions() -> int
    counters() -> {"counters", "requests", "active_sessions", "active_tokens"}
    reset_counters()                     info() -> dataset facts
    rows(entity, raw=False) -> list[dict]  (straight from SQLite)

`touch` sets ModifiedOn to the sandbox clock, max(real now, newest ModifiedOn +
1 tick), unless `modified_on` is given (a late commit); `changes` take OData names
or the aliases status, roistat, amount, title, brand, source, first_cost, profit,
payment. Status calls take "Lead"/"Order" or the lookup name. The admin HTTP API
lives under /_sandbox/ and needs the header `X-Sandbox-Admin: <admin token>`;
`sandbox.admin_client.AdminClient(url, token)` works against a child process too.
Fault specs are described in `sandbox.faults`.

What it serves
--------------
- POST /ServiceModel/AuthService.svc/Login: forms login (failure is HTTP 200 with
  Code 1, no cookies); under /0/ it answers 401. POST .../Logout and
  /0/rest/MainMenuService/Logout end the session. GET /0/ping (.NET Framework only).
- POST <token_path>: OAuth 2.0 client credentials (form or HTTP Basic); bad
  client -> 400 {"error":"invalid_client"}; tokens expire.
- OData 4 at /0/odata (/odata with --netcore): Lead, Order, QualifyStatus,
  OrderStatus, LeadSource, LeadMedium, Contact; service document, $metadata;
  $select, $filter, $orderby, $top, $skip, $count, $expand (lookups, nested
  $select); /Set/$count as text; Set(<guid>); POST/PATCH/DELETE. Needs the
  session cookies plus the BPMCSRF header, or a bearer token.
- POST /0/ServiceModel/ApplicationInfoService.svc/GetApplicationInfo: the user's
  time zone offset (the clock quirk's minutes).

Choices where the reference leaves a question open
--------------------------------------------------
- Above the row cap a response is silently truncated (no error, no next link).
- Failed login message: "Invalid username or password."
- Missing BPMCSRF header: 401 (403 with --csrf-status 403).
- `--unauthorized redirect|html` answer so even when the client sends
  `ForceUseSession: true`, so a client's detection of both is exercised.
- Empty lookups: the all-zero GUID by default; `--empty-lookup null` writes null,
  and a few imported rows store the all-zero GUID itself, so both forms appear.
- Strings compare case-insensitively (Creatio's usual `_CI_` collation).
- Above 100 filter nodes: 400, as ODataLib's MaxNodeCount.

Data
----
Generated deterministically from (seed, leads, orders, until, roistat column) and
cached as `<data dir>/sandbox-<hash>.sqlite` with the visits CSV beside it
(`visit_id,visit_date,marker,utm_source,utm_medium,utm_campaign,landing_page`).
Each run works on a private copy, so mutations never reach the cache.
"""
