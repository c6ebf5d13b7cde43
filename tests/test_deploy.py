"""Deployment files stay consistent with the CLI and settings."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import yaml

from kefu.cli import app
from kefu.core.config import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _cli_ok(argv: list[str]) -> None:
    """The command line parses against the real Typer app (--help stops before running anything)."""
    from typer.testing import CliRunner

    assert argv[0] == "kefu", argv
    args = [a for a in argv[1:]]
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, (argv, result.output)


def _settings_keys() -> set[str]:
    return {f"KEFU_{name.upper()}" for name in Settings.model_fields}


def test_compose_services_use_real_commands_and_settings() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = doc["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "scheduler"} <= set(services)
    for name in ("migrate", "api", "worker", "scheduler"):
        _cli_ok(services[name]["command"])
    env = services["api"]["environment"]
    assert set(env) <= _settings_keys(), set(env) - _settings_keys()
    assert env["KEFU_ENV"] == "prod" and "KEFU_REDIS_URL" in env
    assert services["scheduler"]["deploy"]["replicas"] >= 2
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    assert "pip install" in dockerfile and 'CMD ["kefu", "serve"' in dockerfile


def test_systemd_units_use_real_commands_and_settings() -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {u.name for u in units} == {
        "kefu-api@.service",
        "kefu-migrate.service",
        "kefu-scheduler.service",
        "kefu-worker@.service",
    }
    for unit in units:
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        cp.read(unit)
        argv = shlex.split(cp["Service"]["ExecStart"].replace("%i", "8001"))
        assert argv[0] == "/opt/kefu/.venv/bin/kefu"
        _cli_ok(["kefu", *argv[1:]])
        assert cp["Service"]["EnvironmentFile"] == "/etc/kefu/kefu.env"
    keys = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "systemd" / "kefu.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert keys <= _settings_keys(), keys - _settings_keys()
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "systemd" / "kefu.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    Settings(env="prod", secret_key=example["KEFU_SECRET_KEY"], database_url=example["KEFU_DATABASE_URL"])
