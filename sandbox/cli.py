"""`python -m sandbox`: parse the flags, prepare the data, serve until stopped.

When the server accepts requests it prints one JSON line on stdout (url,
odata_path, user, password, client_id, client_secret, token_url, visits_path,
db_path, admin_token); logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from sandbox.app import create_app
from sandbox.options import (
    DECIMAL_MODES,
    EMPTY_LOOKUP_MODES,
    LOGIN_REFUSALS,
    NOT_FOUND_MODES,
    UNAUTHORIZED_MODES,
    OptionError,
    Quirks,
    SandboxOptions,
    parse_until,
)
from sandbox.server import BackgroundServer
from sandbox.state import SandboxState

log = logging.getLogger("sandbox")


def build_parser() -> argparse.ArgumentParser:
    defaults = SandboxOptions()
    quirks = Quirks()
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="A local bpm'online (Creatio) emulator."
    )
    data = parser.add_argument_group("data")
    data.add_argument("--leads", type=int, default=defaults.leads)
    data.add_argument("--orders", type=int, default=defaults.orders)
    data.add_argument("--seed", type=int, default=defaults.seed)
    data.add_argument("--until", type=parse_until, default=defaults.until, help="ISO date")
    data.add_argument("--roistat-column", default=defaults.roistat_column)
    data.add_argument("--data-dir", type=Path, default=defaults.data_dir)
    data.add_argument("--db", type=Path, default=None, help="database file (overrides data dir)")

    site = parser.add_argument_group("site")
    site.add_argument("--host", default=defaults.host)
    site.add_argument("--port", type=int, default=5000)
    site.add_argument("--netcore", action="store_true", help="OData at /odata, not /0/odata")
    site.add_argument("--user", default=defaults.user)
    site.add_argument("--password", default=defaults.password)
    site.add_argument("--client-id", default=defaults.client_id)
    site.add_argument("--client-secret", default=defaults.client_secret)
    site.add_argument("--token-path", default=defaults.token_path)
    site.add_argument("--token-lifetime", type=int, default=defaults.token_lifetime)
    site.add_argument("--row-cap", type=int, default=defaults.row_cap)
    site.add_argument("--admin-token", default=None, help="default: random, printed at start")

    quirk = parser.add_argument_group("quirks")
    quirk.add_argument("--decimals", choices=DECIMAL_MODES, default=quirks.decimals)
    quirk.add_argument(
        "--decimals-as-strings", action="store_true", help="same as --decimals string"
    )
    quirk.add_argument("--empty-lookup", choices=EMPTY_LOOKUP_MODES, default=quirks.empty_lookup)
    quirk.add_argument("--clock-offset-minutes", type=int, default=0)
    quirk.add_argument("--unauthorized", choices=UNAUTHORIZED_MODES, default=quirks.unauthorized)
    quirk.add_argument("--csrf-status", type=int, choices=(401, 403), default=quirks.csrf_status)
    quirk.add_argument("--session-max-requests", type=int, default=None)
    quirk.add_argument("--max-sessions", type=int, default=None)
    quirk.add_argument("--login-refusal", choices=LOGIN_REFUSALS, default=None)
    quirk.add_argument("--not-found", choices=NOT_FOUND_MODES, default=quirks.not_found)
    quirk.add_argument("--select-all-fails", action="store_true")
    quirk.add_argument("--no-in-operator", action="store_true")
    quirk.add_argument("--filter-node-limit", type=int, default=quirks.filter_node_limit)
    return parser


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    quirks = Quirks(
        decimals="string" if args.decimals_as_strings else args.decimals,
        empty_lookup=args.empty_lookup,
        clock_offset_minutes=args.clock_offset_minutes,
        unauthorized=args.unauthorized,
        csrf_status=args.csrf_status,
        session_max_requests=args.session_max_requests,
        max_sessions=args.max_sessions,
        login_refusal=args.login_refusal,
        not_found=args.not_found,
        select_all_fails=args.select_all_fails,
        in_operator=not args.no_in_operator,
        filter_node_limit=args.filter_node_limit,
    )
    options = SandboxOptions(
        leads=args.leads,
        orders=args.orders,
        seed=args.seed,
        until=args.until,
        roistat_column=args.roistat_column,
        user=args.user,
        password=args.password,
        host=args.host,
        port=args.port,
        netcore=args.netcore,
        data_dir=args.data_dir,
        db=args.db,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_path=args.token_path,
        token_lifetime=args.token_lifetime,
        row_cap=args.row_cap,
        quirks=quirks,
    )
    if args.admin_token:
        options.admin_token = args.admin_token
    options.validate()
    return options


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
    except OptionError as error:
        parser.error(str(error))

    started = time.monotonic()
    state = SandboxState.open(options)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # uvicorn runs in a thread, so the signals reach this thread and the working
    # copy of the database is always removed on the way out.
    server = BackgroundServer(create_app(state), options.host, options.port)
    try:
        server.start()
        ready = {
            "url": server.url,
            "odata_path": options.odata_path,
            "user": options.user,
            "password": options.password,
            "client_id": options.client_id,
            "client_secret": options.client_secret,
            "token_url": server.url + options.token_path,
            "visits_path": str(state.dataset.visits_path),
            "db_path": str(state.dataset.db_path),
            "admin_token": options.admin_token,
            "generation_seconds": state.dataset.generation_seconds,
            "startup_seconds": round(time.monotonic() - started, 3),
        }
        print(json.dumps(ready), flush=True)
        log.info("serving at %s (OData at %s%s)", server.url, server.url, options.odata_path)
        while not stop.wait(1.0):
            if not server.alive:
                log.error("the server thread stopped unexpectedly")
                return 1
        log.info("stopping")
    finally:
        server.stop()
        state.close()
    return 0
