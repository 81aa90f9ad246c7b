"""The deployment files match the code: docker-compose.yml and the Dockerfile run real `cauri` commands with
real settings, `.env.example` documents every setting, and the job commands refuse to run without a broker."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.core import TyperGroup
from typer.testing import CliRunner

from cauri.cli import app as cli
from cauri.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = {f"CAURI_{name.upper()}" for name in Settings.model_fields}
runner = CliRunner()


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def dockerfile_command() -> list[str]:
    (line,) = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    command: list[str] = json.loads(line.removeprefix("CMD "))
    return command


def cauri_commands() -> list[tuple[str, list[str]]]:
    commands = [("Dockerfile", dockerfile_command())]
    for name, service in compose()["services"].items():
        command = service.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        if command and command[0] == "cauri":
            commands.append((name, command))
    return commands


def accepts(arguments: list[str]) -> bool:
    """Whether `cauri <arguments>` names a real command whose options and values parse (nothing is run)."""
    command = typer.main.get_command(cli)
    remaining = list(arguments)
    while isinstance(command, TyperGroup) and remaining and remaining[0] in command.commands:
        command = command.commands[remaining.pop(0)]
    if isinstance(command, TyperGroup):
        return False
    try:
        command.make_context(command.name or "cauri", remaining)
    except typer.TyperException:  # typer's click: unknown option, bad value, missing argument
        return False
    return True


def test_the_argument_check_catches_a_wrong_command_or_option() -> None:
    assert accepts(["serve", "--host", "0.0.0.0"])
    assert not accepts(["serve", "--hots", "0.0.0.0"])
    assert not accepts(["wroker"])
    assert not accepts(["db"])
    assert not accepts(["worker", "--concurrency", "many"])


@pytest.mark.parametrize(("where", "command"), cauri_commands(), ids=[name for name, _ in cauri_commands()])
def test_every_deployed_command_is_a_real_cauri_command(where: str, command: list[str]) -> None:
    assert accepts(command[1:]), f"{where}: `{shlex.join(command)}` is not a valid cauri command"


def test_compose_runs_every_role_after_the_migrations() -> None:
    services = compose()["services"]
    assert {"api", "worker", "scheduler", "migrate", "postgres", "redis"} <= set(services)
    roles = {name: services[name]["command"][:2] for name in ("api", "worker", "scheduler", "migrate")}
    assert roles == {
        "api": ["cauri", "serve"],
        "worker": ["cauri", "worker"],
        "scheduler": ["cauri", "scheduler"],
        "migrate": ["cauri", "db"],
    }
    for name in ("api", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["environment"]["CAURI_BROKER_URL"].startswith("redis://"), name
        assert services[name]["environment"]["CAURI_DATABASE_URL"].startswith("postgresql+asyncpg://"), name


def test_compose_sets_only_real_settings() -> None:
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        names = environment if isinstance(environment, dict) else [item.split("=", 1)[0] for item in environment]
        unknown = {n for n in names if n.startswith("CAURI_")} - SETTING_NAMES
        assert not unknown, f"{name} sets {sorted(unknown)}, which no setting reads"


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?(CAURI_[A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert SETTING_NAMES - documented == set(), "settings missing from .env.example"
    assert documented - SETTING_NAMES == set(), ".env.example names settings that do not exist"


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommenting a documented default must not break the service (``NAME=`` lines are unset by default)."""
    text = (ROOT / ".env.example").read_text()
    for name, value in re.findall(r"^# ?(CAURI_[A-Z0-9_]+)=(.+)$", text, flags=re.MULTILINE):
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.broker_url is None
    assert settings.extra_job_modules == []
    assert settings.allowed_hosts == ["*"]


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_job_processes_refuse_to_start_without_a_broker(command: str) -> None:
    result = runner.invoke(cli, [command], env={"CAURI_BROKER_URL": ""})
    assert result.exit_code == 2
    assert "CAURI_BROKER_URL" in result.output


def test_broker_settings_are_parsed_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAURI_EXTRA_JOB_MODULES", "acme.jobs, acme.more_jobs")
    monkeypatch.setenv("CAURI_BROKER_URL", "amqp://guest:guest@rabbit:5672/")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.extra_job_modules == ["acme.jobs", "acme.more_jobs"]
    assert settings.broker_url == "amqp://guest:guest@rabbit:5672/"
    monkeypatch.setenv("CAURI_BROKER_URL", "kafka://broker:9092")
    with pytest.raises(ValueError, match="CAURI_BROKER_URL"):
        Settings(_env_file=None)  # type: ignore[call-arg]
