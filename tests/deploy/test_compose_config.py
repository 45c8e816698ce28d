"""`docker-compose config` validates and renders docker-compose.yaml with .env.example.

`config` is the one Compose command that needs no Docker engine. The client is
Debian's `docker-compose` package (Compose 1.29, which validates against the
Compose schema); as root the test installs it when it is missing, otherwise it
skips and says how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from compose_model import COMPOSE_FILE, ENV_EXAMPLE, REPO_ROOT, load_compose


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["apt-get", *args],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("docker-compose is not installed; as root: apt-get install -y docker-compose")
    result = _apt_get("install", "-y", "docker-compose")
    if result.returncode != 0:
        _apt_get("update")
        result = _apt_get("install", "-y", "docker-compose")
    found = shutil.which("docker-compose")
    if not found:
        pytest.skip(
            "apt-get install -y docker-compose failed "
            f"(exit {result.returncode}): {(result.stderr or result.stdout)[-500:]}"
        )
    return found


def _config(docker_compose: str, env_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            docker_compose,
            "--project-directory",
            str(REPO_ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE_FILE),
            "config",
            *args,
        ],
        # ENV_FILE_PATH: the services' env_file (default .env, which users create).
        env={**os.environ, "ENV_FILE_PATH": str(env_file)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    shutil.copy(ENV_EXAMPLE, path)
    return path


def test_compose_config_renders_with_the_example_env(docker_compose, env_file):
    result = _config(docker_compose, env_file)
    assert result.returncode == 0, result.stderr

    rendered = yaml.safe_load(result.stdout)
    model = load_compose(env_file=env_file)
    assert set(rendered["services"]) == set(model.services)
    for name, service in rendered["services"].items():
        # What Compose resolved equals what the package tests read (compose_model).
        assert service.get("environment", {}) == {
            key: str(value) for key, value in model.service(name).environment.items()
        }, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith("/"):
                assert Path(source).is_dir() and Path(source).is_relative_to(REPO_ROOT), source
    assert rendered["services"]["sandbox"]["profiles"] == ["sandbox"]


def test_compose_config_names_the_missing_secret(docker_compose, env_file):
    lines = env_file.read_text().splitlines()
    env_file.write_text("\n".join(line for line in lines if not line.startswith("JWT_SECRET=")))

    result = _config(docker_compose, env_file, "--quiet")

    assert result.returncode != 0
    assert "set JWT_SECRET in .env" in result.stderr


def test_compose_config_rejects_a_broken_copy(docker_compose, env_file, tmp_path):
    # So that a clean render above means the schema was checked, not skipped.
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text(
        COMPOSE_FILE.read_text().replace(
            "condition: service_completed_successfully", "condition: service_finished", 1
        )
    )
    result = subprocess.run(
        [docker_compose, "--env-file", str(env_file), "-f", str(broken), "config", "--quiet"],
        env={**os.environ, "ENV_FILE_PATH": str(env_file)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "service_finished" in result.stderr
