"""The import contract of docs/architecture.md (``lint-imports``, configured in pyproject.toml) holds, and it does
catch an upward import: the same layers without their one listed exception report it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _contracts() -> list[dict[str, Any]]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        contracts: list[dict[str, Any]] = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    return contracts


def test_every_contract_is_kept() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_layers_contract_reports_an_upward_import(tmp_path: Path) -> None:
    # core.jobs.registry imports cauri.modules (a composition root) and is the contract's one listed exception;
    # without it, the contract must break and name that import.
    layers = next(contract for contract in _contracts() if contract["id"] == "layers")
    assert layers["ignore_imports"] == ["cauri.core.jobs.registry -> cauri.modules"]
    listed = "".join(f"\n    {layer}" for layer in layers["layers"])
    config = tmp_path / "upward.ini"
    config.write_text(
        f"[importlinter]\nroot_package = cauri\n\n[importlinter:contract:layers]\nname = layers\ntype = layers\n"
        f"layers ={listed}\n"
    )
    result = _lint(str(config))
    assert result.returncode == 1, result.stdout
    assert "cauri.core.jobs.registry -> cauri.modules" in result.stdout
