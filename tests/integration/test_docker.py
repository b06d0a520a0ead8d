"""The Docker deployment: the compose file is valid for Compose itself, and what it mounts
into Asterisk is exactly the configuration the other tests check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cti.settings import Settings
from tests.conftest import need_service

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"


def compose_command() -> list[str]:
    """``docker compose`` (v2) when there, else ``docker-compose``; both need no daemon."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    need_service("Docker Compose", "neither docker compose nor docker-compose is installed")
    raise AssertionError("unreachable")


def resolved() -> dict[str, Any]:
    """The compose file as Compose itself reads it (``config``): validated, paths absolute."""
    env = {**os.environ, "CTI_AMI_SECRET": "a-secret", "CTI_SECRET_KEY": "k" * 32}
    done = subprocess.run(
        [*compose_command(), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = yaml.safe_load(done.stdout)
    return document


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path to host path of a service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume["target"]
        else:
            source, target = volume.split(":")[:2]
        if source.startswith("/"):
            found[target] = Path(source)
    return found


def test_compose_accepts_the_file_and_needs_its_secrets() -> None:
    services = resolved()["services"]
    assert set(services) == {"asterisk", "server", "redis", "postgres"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTI_")}
    missing = subprocess.run(
        [*compose_command(), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=ROOT,
    )
    assert missing.returncode != 0 and "CTI_AMI_SECRET" in missing.stderr


def test_asterisk_gets_exactly_the_configuration_the_tests_check() -> None:
    services = resolved()["services"]
    asterisk = mounts(services["asterisk"])
    tested = {p.name for p in (ROOT / "asterisk-conf").glob("*.conf")}
    conf = {
        t: h for t, h in asterisk.items() if t.startswith("/etc/asterisk/") and t.endswith(".conf")
    }
    assert {Path(t).name for t in conf} == tested
    for target, host in conf.items():
        assert host == ROOT / "asterisk-conf" / Path(target).name
    assert asterisk["/etc/asterisk/dialplans"] == ROOT / "dialplans"
    include = re.search(
        r"^#include (\S+)/\*\.conf$", (ROOT / "asterisk-conf" / "extensions.conf").read_text(), re.M
    )
    assert include is not None and include.group(1) == "dialplans"


def test_the_server_renders_dialplans_where_asterisk_reads_them() -> None:
    services = resolved()["services"]
    server = services["server"]
    directory = server["environment"]["CTI_DIALPLAN_DIRECTORY"]
    assert mounts(server)[directory] == mounts(services["asterisk"])["/etc/asterisk/dialplans"]
    extensions = server["environment"]["CTI_DIALPLAN_EXTENSIONS_CONF"]
    assert (
        mounts(server)[extensions] == mounts(services["asterisk"])["/etc/asterisk/extensions.conf"]
    )
    defaults = Settings()
    assert server["environment"]["CTI_AMI_HOST"] == defaults.ami.host
    assert mounts(server)[server["environment"]["CTI_IVR_SOUNDS"]] == ROOT / "var" / "sounds"


def test_the_dockerfile_copies_what_exists_and_runs_the_server() -> None:
    lines = [
        line.strip()
        for line in (DOCKER / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    instructions = [line.split()[0] for line in lines if not line.startswith(("&&", "CTI_"))]
    assert instructions[0] == "FROM" and "python:3.11" in lines[0]
    for line in lines:
        if line.startswith("COPY"):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {line.split()[1] for line in lines if line.startswith("COPY")}
    assert packages <= copied, "every package the wheel holds is copied in"
    defaults = Settings()
    exposed = {int(p) for line in lines if line.startswith("EXPOSE") for p in line.split()[1:]}
    assert exposed == {defaults.http.port, defaults.agi.port}
    assert lines[-1] == 'CMD ["cti", "serve"]'
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
