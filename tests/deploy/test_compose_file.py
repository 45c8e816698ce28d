"""docker-compose.yaml, the Dockerfile and .env.example agree with the package.

No Docker engine runs here, so these read the files: every service's command,
image, volumes, profiles and environment are checked against what the package
has (DAG ids, connection ids, paths, the sandbox's own CLI, Airflow's own CLI).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from compose_model import (
    COMPOSE_FILE,
    DOCKERFILE,
    DOCKERIGNORE,
    ENV_EXAMPLE,
    REPO_ROOT,
    ComposeModel,
    load_compose,
    read_env_file,
)

from roistat.settings import DEFAULT_SETTINGS_FILE, load_settings_file, parse_settings

# DESIGN.md §3: the outside contract.
BPMONLINE_CONN_ID = "bpmonline_default"
WAREHOUSE_CONN_ID = "roistat_warehouse"
AIRFLOW_SERVICES = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
OTHER_SERVICES = {"postgres", "redis", "airflow-init", "airflow-cli", "sandbox"}
AIRFLOW_HOME_IN_IMAGE = "/opt/airflow"


@pytest.fixture(scope="module")
def compose() -> ComposeModel:
    return load_compose()


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


def dag_ids_in_repo() -> set[str]:
    ids = set()
    for path in (REPO_ROOT / "dags").glob("*.py"):
        ids.update(re.findall(r'dag_id="([\w.-]+)"', path.read_text()))
    return ids


def test_the_stack_has_every_service_the_issue_names(compose):
    assert set(compose.services) == set(AIRFLOW_SERVICES) | OTHER_SERVICES
    assert compose.service("sandbox").profiles == ["sandbox"]
    assert compose.service("airflow-cli").profiles == ["debug"]
    for name in set(compose.services) - {"sandbox", "airflow-cli"}:
        assert compose.service(name).profiles == [], f"{name} must start without a profile"


def test_airflow_services_run_the_component_they_are_named_for(compose):
    for name, command in AIRFLOW_SERVICES.items():
        assert compose.service(name).command == command, name


def test_every_airflow_command_parses_with_airflow_own_cli(compose):
    commands = [compose.service(name).command for name in AIRFLOW_SERVICES]
    init_script = compose.service("airflow-init").command[-1]
    commands.append(init_script.strip().splitlines()[-1].split("/entrypoint airflow ")[1].split())
    check = (
        "import json, sys\n"
        "from airflow.cli.cli_parser import get_parser\n"
        "parser = get_parser()\n"
        "for command in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        parser.parse_args(command)\n"
        "    except SystemExit:\n"
        "        print('INVALID', json.dumps(command))\n"
    )
    env = {
        **os.environ,
        # The CLI offers `celery ...` only when the executor is CeleryExecutor.
        "AIRFLOW__CORE__EXECUTOR": compose.service("airflow-worker").environment[
            "AIRFLOW__CORE__EXECUTOR"
        ],
        "AIRFLOW_HOME": str(REPO_ROOT / ".airflow"),
    }
    result = subprocess.run(
        [sys.executable, "-c", check, json.dumps(commands)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "INVALID" not in result.stdout, result.stdout


def test_airflow_init_migrates_and_creates_the_warehouse_database(compose, env_example):
    init = compose.service("airflow-init")
    script = init.command[-1]
    assert init.environment["_AIRFLOW_DB_MIGRATE"] == "true"
    assert script.strip().splitlines()[-1] == "exec /entrypoint airflow version"
    assert "AIRFLOW_CONN_ROISTAT_WAREHOUSE" in script
    assert init.environment["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] in script
    warehouse = urlsplit(env_example["AIRFLOW_CONN_ROISTAT_WAREHOUSE"])
    # The script creates the database only on the stack's own server.
    assert f'parts.hostname == "{warehouse.hostname}"' in script
    assert warehouse.path.lstrip("/") != compose.service("postgres").environment["POSTGRES_DB"]


def test_all_airflow_services_and_the_sandbox_share_the_image_built_here(compose):
    images = {s.name: s.image for s in compose.services.values() if s.spec.get("build")}
    assert set(images) >= set(AIRFLOW_SERVICES) | {"airflow-init", "sandbox"}
    assert len(set(images.values())) == 1, images
    for name in images:
        assert compose.service(name).spec["build"] in (".", {"context": "."}), name
    assert DOCKERFILE.exists()
    for service in compose.services.values():
        # It reinstalls packages on every start of every container (reference §8).
        assert not service.environment.get("_PIP_ADDITIONAL_REQUIREMENTS"), service.name


def test_airflow_runs_celery_and_the_workers_find_the_api_server(compose):
    airflow = compose.airflow_services()
    assert {s.name for s in airflow} >= set(AIRFLOW_SERVICES)
    postgres = compose.service("postgres").environment
    api_server = compose.service("airflow-apiserver")
    for service in airflow:
        env = service.environment
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", service.name

        execution = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert execution.hostname == api_server.name, service.name
        assert execution.port in api_server.container_ports(), service.name
        assert execution.path == "/execution/"

        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
            url = urlsplit(env[key].removeprefix("db+"))
            assert url.hostname == "postgres", key
            assert url.username == postgres["POSTGRES_USER"], key
            assert url.password == postgres["POSTGRES_PASSWORD"], key
            assert url.path == "/" + postgres["POSTGRES_DB"], key
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        # One secret for all, or tokens signed by one process fail in another.
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_mounted_paths_exist_and_are_where_airflow_and_roistat_look(compose):
    expected = {
        f"{AIRFLOW_HOME_IN_IMAGE}/dags": "./dags",
        f"{AIRFLOW_HOME_IN_IMAGE}/plugins": "./plugins",
        f"{AIRFLOW_HOME_IN_IMAGE}/include": "./include",
    }
    declared_volumes = set(compose.raw.get("volumes") or {})
    for service in compose.airflow_services():
        mounts = service.bind_mounts()
        assert mounts == expected, service.name
        for source in mounts.values():
            assert (COMPOSE_FILE.parent / source).is_dir(), source
        assert set(service.named_volumes().values()) <= declared_volumes, service.name

        env = service.environment
        # Airflow's defaults under AIRFLOW_HOME=/opt/airflow; the mounts must sit there.
        assert env.get("AIRFLOW__CORE__DAGS_FOLDER", f"{AIRFLOW_HOME_IN_IMAGE}/dags") in mounts
        assert env.get("AIRFLOW__CORE__PLUGINS_FOLDER", f"{AIRFLOW_HOME_IN_IMAGE}/plugins") in (
            mounts
        )
        # plugins/roistat is imported as `roistat` in the scheduler too, not only in tasks.
        assert f"{AIRFLOW_HOME_IN_IMAGE}/plugins" in env["PYTHONPATH"].split(":")
        assert env["ROISTAT_INCLUDE_DIR"] == f"{AIRFLOW_HOME_IN_IMAGE}/include"
        settings = Path(env["ROISTAT_SETTINGS_FILE"])
        relative = settings.relative_to(f"{AIRFLOW_HOME_IN_IMAGE}/include")
        assert REPO_ROOT / "include" / relative == DEFAULT_SETTINGS_FILE
        assert DEFAULT_SETTINGS_FILE.exists()


def test_dag_ids_named_in_the_compose_files_exist_in_dags(compose):
    dag_ids = dag_ids_in_repo()
    assert {"roistat_visits_import", "roistat_bpmonline_statuses", "roistat_bpmonline_sync"} <= (
        dag_ids
    )
    text = COMPOSE_FILE.read_text() + ENV_EXAMPLE.read_text()
    named = set(re.findall(r"\broistat_(?:bpmonline|visits)_[a-z_]+\b", text))
    assert named, "the compose header should tell which DAGs to trigger"
    assert named <= dag_ids, named - dag_ids
    assert dag_ids <= named, f"not named in the compose header: {dag_ids - named}"


def test_connections_in_env_example_match_the_design_and_the_sandbox(compose, env_example):
    from airflow.sdk import Connection

    from roistat.bpmonline_connection import BpmOnlineConnection
    from roistat.bpmonline_hook import BpmOnlineHook
    from sandbox.cli import build_parser, options_from_args

    settings = load_settings_file(DEFAULT_SETTINGS_FILE)
    assert (settings.bpmonline_conn_id, settings.warehouse_conn_id) == (
        BPMONLINE_CONN_ID,
        WAREHOUSE_CONN_ID,
    )
    conn_vars = {key for key in env_example if key.startswith("AIRFLOW_CONN_")}
    assert conn_vars == {
        f"AIRFLOW_CONN_{BPMONLINE_CONN_ID.upper()}",
        "AIRFLOW_CONN_ROISTAT_WAREHOUSE",
    }

    raw = env_example[f"AIRFLOW_CONN_{BPMONLINE_CONN_ID.upper()}"]
    conn = Connection.from_json(raw, conn_id=BPMONLINE_CONN_ID)
    assert conn.conn_type == BpmOnlineHook.conn_type
    bpm = BpmOnlineConnection.from_airflow(conn)  # the hook's own check of the fields
    sandbox = options_from_args(build_parser().parse_args(compose.service("sandbox").command[3:]))
    site = urlsplit(bpm.site)
    assert site.hostname == "sandbox"
    assert site.port == sandbox.port
    assert bpm.odata_path == sandbox.odata_path
    assert (bpm.login, bpm.password) == (sandbox.user, sandbox.password)

    warehouse = Connection.from_uri(
        env_example["AIRFLOW_CONN_ROISTAT_WAREHOUSE"], conn_id=WAREHOUSE_CONN_ID
    )
    postgres = compose.service("postgres").environment
    assert warehouse.conn_type == "postgres"
    assert warehouse.host == "postgres"
    assert (warehouse.login, warehouse.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )

    # Every Airflow container gets them through env_file.
    for service in compose.airflow_services():
        assert service.environment[f"AIRFLOW_CONN_{BPMONLINE_CONN_ID.upper()}"] == raw


def test_the_settings_variable_example_is_valid_settings():
    lines = [
        line.removeprefix("# ")
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.startswith("# AIRFLOW_VAR_ROISTAT_INTEGRATION=")
    ]
    assert len(lines) == 1
    value = lines[0].split("=", 1)[1]
    settings = parse_settings(json.loads(value), source="AIRFLOW_VAR_ROISTAT_INTEGRATION")
    assert settings.entities == ["lead"]


def test_the_sandbox_service_is_a_valid_sandbox_invocation(compose):
    from sandbox.cli import build_parser, options_from_args

    service = compose.service("sandbox")
    command = service.command
    assert command[:3] == ["python", "-m", "sandbox"]
    options = options_from_args(build_parser().parse_args(command[3:]))  # raises if invalid
    assert options.host == "0.0.0.0"
    assert options.port in service.container_ports()
    assert service.spec.get("working_dir") == AIRFLOW_HOME_IN_IMAGE  # sandbox/ is there

    # The visits file it writes must be readable by the tasks of roistat_visits_import.
    data_dir = str(options.data_dir)
    volume = service.named_volumes()[data_dir]
    assert compose.service("airflow-worker").named_volumes()[data_dir] == volume


def test_dockerfile_builds_on_the_pinned_airflow_with_the_pinned_requirements():
    text = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    base = re.search(r"^FROM (\S+)", text, flags=re.M).group(1)
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
    repository, tag = base.split(":")
    assert repository == "apache/airflow"

    pins = dict(
        re.findall(r"^([\w.-]+)==(\S+)", (REPO_ROOT / "requirements.txt").read_text(), re.M)
    )
    version, python = re.fullmatch(r"([\d.]+)-python(\d+\.\d+)", tag).groups()
    assert version == pins["apache-airflow"]
    assert "apache-airflow-providers-celery" in pins
    requires = re.search(
        r'requires-python = ">=(\S+),<(\S+)"', (REPO_ROOT / "pyproject.toml").read_text()
    )
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(requires.group(1)) <= as_tuple(python) < as_tuple(requires.group(2))

    assert re.search(r"pip install .*-r \S*requirements\.txt -c \S*requirements-lock\.txt", text)
    assert re.search(r"pip install .*--no-deps /tmp/roistat", text)
    assert not re.search(r"^(ENV|ARG)\b.*_PIP_ADDITIONAL_REQUIREMENTS", text, flags=re.M)


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            sources += parts[:-1]
    assert {"dags", "plugins", "include", "sandbox", "requirements.txt"} <= set(sources)
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert source not in ignored, f"{source} is copied but .dockerignore drops it"
    assert {".venv", ".git", ".env"} <= ignored


def test_dockerfile_environment_matches_the_compose_environment(compose):
    text = DOCKERFILE.read_text()
    env = dict(re.findall(r"(\w+)=(\S+)", text.split("\nENV ", 1)[1]))
    worker = compose.service("airflow-worker").environment
    for key in ("PYTHONPATH", "ROISTAT_INCLUDE_DIR", "ROISTAT_SETTINGS_FILE"):
        assert env[key] == worker[key], key


def test_env_file_with_secrets_stays_out_of_git_and_the_image():
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in DOCKERIGNORE.read_text().splitlines()
