"""``cauri bulk submit``: the demo pension fund pays a file from the shell, as a real subprocess, on the embedded
default (SQLite) a newcomer's shell has: the batch's services are proven on both databases by the other bulk tests,
and five CLI starts per database cost CI a minute.

The command runs the batch's jobs in its own process (no broker: the embedded default) against the sandbox
simulator served by this test; the simulator's books and the database say what was paid.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import select

from cauri.core.db import make_engine, make_sessionmaker
from cauri.disbursements.models import BulkBatch, BulkLine
from cauri.kit.testing import serve_app
from tests.conftest import migrate
from tests.disbursements.bulk_files import DATA
from tests.disbursements.support import sandbox_simulator

ORG = "caisse-retraite-demo"
MAKER = "gestionnaire1@demo.cauri.africa"
CHECKER = "gestionnaire2@demo.cauri.africa"


async def cauri(environment: dict[str, str], directory: Path, *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cauri.cli",
        *arguments,
        cwd=directory,  # no stray .env file is read
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


def flat(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


async def test_cauri_bulk_submit_pays_the_file_and_prints_a_summary(tmp_path: Path) -> None:
    simulator = sandbox_simulator()
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await migrate(url)
    async with serve_app(simulator.app) as sandbox_url:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CAURI_")}
        environment.update(
            {
                "CAURI_ENV": "test",
                "CAURI_DATABASE_URL": url,
                "CAURI_FILES_DIR": str(tmp_path / "files"),
                "CAURI_SANDBOX_URL": sandbox_url,
                "CAURI_BULK_PROVIDER_RATE_LIMITS": '{"sandbox": "none"}',
                "CAURI_BULK_POLL_INITIAL_SECONDS": "0.05",
                "CAURI_LOG_LEVEL": "WARNING",
                "COLUMNS": "200",
            }
        )
        code, output = await cauri(environment, tmp_path, "demo")
        assert code == 0, output
        file = str(DATA / "bulk_excel_fr.csv")

        code, output = await cauri(
            environment, tmp_path, "bulk", "submit", file, "--org", ORG, "--as", MAKER, "--approve"
        )
        assert code == 1, output
        assert "Cette organisation exige une deuxième personne : indiquez --approver EMAIL." in flat(output)

        code, output = await cauri(
            environment, tmp_path, "bulk", "submit", file, "--org", ORG, "--as", MAKER, "--approve", "--approver", MAKER
        )
        assert code == 1, output
        assert "exige qu'une autre personne approuve" in flat(output)

        code, output = await cauri(
            environment,
            tmp_path,
            "bulk",
            "submit",
            file,
            "--org",
            ORG,
            "--as",
            MAKER,
            "--approve",
            "--approver",
            CHECKER,
            "--wait",
        )
        assert code == 0, output
        text = flat(output)
        assert "12 ligne(s) valide(s), 0 en erreur" in text
        assert "total 810 000 F CFA" in text
        assert "État final : COMPLETED (100.0 %)" in text
        assert "Payées │ 12 │ 810 000 F CFA" in text

        code, output = await cauri(environment, tmp_path, "bulk", "submit", file, "--org", "nowhere", "--lang", "en")
        assert code == 1
        assert "Organisation not found: nowhere" in flat(output)

        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                batches = (await session.execute(select(BulkBatch).order_by(BulkBatch.created_at))).scalars().all()
                assert [batch.state for batch in batches] == ["AWAITING_APPROVAL", "AWAITING_APPROVAL", "COMPLETED"]
                paid = batches[-1]
                assert paid.completed_amount == 810_000
                lines = (await session.execute(select(BulkLine).where(BulkLine.batch_id == paid.id))).scalars().all()
                for line in lines:
                    assert line.provider_reference is not None
                    assert simulator.paid_out(line.provider_reference) == line.amount
        finally:
            await engine.dispose()
    await simulator.aclose()
