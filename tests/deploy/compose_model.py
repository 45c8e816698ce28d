"""docker-compose.yaml as the containers would see it, without a Docker engine.

Reads the file with PyYAML (anchors and `<<` merges resolved), substitutes
`${VAR}`, `${VAR:-default}` and `${VAR:?message}` from `.env.example` the way
Compose does, and adds each service's `env_file` values under its own
`environment` (Compose gives `environment` the last word).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is unset or empty."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=value lines; `#` lines and blank lines are skipped, values kept verbatim."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ValueError(f"{path.name}: not KEY=value: {line!r}")
        values[key.strip()] = value.strip()
    return values


def interpolate(text: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        value = variables.get(name)
        op = match.group("op")
        if op in (":-", "-"):
            empty = value is None or (op == ":-" and value == "")
            return match.group("arg") if empty else value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise InterpolationError(f"{name}: {match.group('arg')}")
            return value
        return value or ""

    return _VARIABLE.sub(replace, text)


def _interpolate_tree(node: Any, variables: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables) for key, value in node.items()}
    return node


@dataclass
class Service:
    name: str
    spec: dict[str, Any]

    @property
    def command(self) -> list[str]:
        command = self.spec.get("command") or []
        return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]

    @property
    def environment(self) -> dict[str, str]:
        return self.spec.get("environment") or {}

    @property
    def image(self) -> str | None:
        return self.spec.get("image")

    @property
    def profiles(self) -> list[str]:
        return self.spec.get("profiles") or []

    def bind_mounts(self) -> dict[str, str]:
        """Target → source for `./path:/target` volumes."""
        mounts = {}
        for volume in self.spec.get("volumes") or []:
            source, target = str(volume).split(":")[:2]
            if source.startswith((".", "/")):
                mounts[target] = source
        return mounts

    def named_volumes(self) -> dict[str, str]:
        """Target → volume name."""
        mounts = {}
        for volume in self.spec.get("volumes") or []:
            source, target = str(volume).split(":")[:2]
            if not source.startswith((".", "/")):
                mounts[target] = source
        return mounts

    def container_ports(self) -> set[int]:
        ports = set()
        for mapping in self.spec.get("ports") or []:
            ports.add(int(str(mapping).rsplit(":", 1)[-1].split("/")[0]))
        return ports


@dataclass
class ComposeModel:
    raw: dict[str, Any]
    variables: dict[str, str]
    services: dict[str, Service]

    def service(self, name: str) -> Service:
        return self.services[name]

    def airflow_services(self) -> list[Service]:
        """Services that run Airflow itself (they carry the executor setting)."""
        return [s for s in self.services.values() if "AIRFLOW__CORE__EXECUTOR" in s.environment]


def load_compose(compose_file: Path = COMPOSE_FILE, env_file: Path = ENV_EXAMPLE) -> ComposeModel:
    variables = read_env_file(env_file)
    raw = yaml.safe_load(compose_file.read_text())
    services = {}
    for name, spec in (raw.get("services") or {}).items():
        spec = _interpolate_tree(dict(spec), {**variables, "ENV_FILE_PATH": str(env_file)})
        environment: dict[str, str] = {}
        for path in spec.get("env_file") or []:
            environment.update(read_env_file(Path(path)))
        declared = spec.get("environment") or {}
        if isinstance(declared, list):
            declared = dict(item.split("=", 1) for item in declared)
        environment.update({key: str(value) for key, value in declared.items()})
        spec["environment"] = environment
        services[name] = Service(name, spec)
    return ComposeModel(raw, variables, services)
