"""The request's unit of work and Idempotency-Key, through real HTTP calls on both databases.

A small router writes into its own table (created on a fresh database, so the schema test of the real
database is unaffected); everything else is the production code path.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.orm import registry

from cauri.app import API_PREFIX, create_app
from cauri.core.db import utcnow
from cauri.core.errors import Conflict
from cauri.core.idempotency import IdempotencyRecord, idempotency_guard, request_fingerprint
from cauri.core.routing import SessionDep, api_router, writes_on_read
from tests.conftest import create_postgres_database, drop_postgres_database, make_settings, migrate, service_url

test_metadata = MetaData()
notes = Table(
    "uow_notes",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", String(100), nullable=False, unique=True),
)


class Note:
    """An ORM class for the test table, mapped outside the application's registry."""

    def __init__(self, text: str) -> None:
        self.text = text


registry().map_imperatively(Note, notes)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    fail_after_write: bool = False
    slow: float = 0.0


def notes_router() -> object:
    router = api_router(prefix="/uow", tags=["uow"])

    @router.post("/notes", status_code=201)
    async def create_note(body: NoteIn, session: SessionDep) -> dict[str, object]:
        result = await session.execute(insert(notes).values(text=body.text))
        if body.slow:
            await asyncio.sleep(body.slow)
        if body.fail_after_write:
            raise Conflict("Échec voulu.", "Deliberate failure.", code="deliberate")
        return {"id": result.inserted_primary_key[0], "text": body.text, "nonce": uuid.uuid4().hex}

    @router.post("/notes-unflushed", status_code=201)
    async def create_note_unflushed(body: NoteIn, session: SessionDep) -> dict[str, str]:
        # Never flushed here: the INSERT reaches the database at commit time, so a violation happens in the commit.
        session.add(Note(text=body.text))
        return {"text": body.text}

    @router.get("/notes")
    async def list_notes(session: SessionDep) -> list[str]:
        return list((await session.execute(select(notes.c.text).order_by(notes.c.id))).scalars())

    @router.get("/notes/{text}/undeclared-write")
    async def write_in_a_read(text: str, session: SessionDep) -> dict[str, str]:
        session.add(Note(text=text))
        await session.flush()
        return {"text": text}

    @router.get("/notes-locked")
    async def lock_in_a_read(session: SessionDep) -> list[str]:
        return list((await session.execute(select(notes.c.text).with_for_update())).scalars())

    @router.get("/notes/{text}/declared-write")
    @writes_on_read
    async def declared_write_in_a_read(text: str, session: SessionDep) -> dict[str, str]:
        session.add(Note(text=text))
        return {"text": text}

    return router


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def uow_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    tmp: Path = tmp_path_factory.mktemp("uow")
    admin_url = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'uow.db'}"
    else:
        admin_url = service_url("postgres")
        url = await create_postgres_database(admin_url)
    try:
        await migrate(url)
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(test_metadata.create_all)
        await engine.dispose()
        app = create_app(make_settings(url, tmp))
        app.include_router(notes_router(), prefix=API_PREFIX, dependencies=[Depends(idempotency_guard)])  # type: ignore[arg-type]
        async with LifespanManager(app):
            yield app
    finally:
        if admin_url:
            await drop_postgres_database(admin_url, url)


@pytest.fixture
async def http(uow_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=uow_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def count_notes(app: FastAPI, text: str) -> int:
    async with app.state.read_sessionmaker() as session:
        return int((await session.execute(select(func.count()).where(notes.c.text == text))).scalar_one())


def unique_text() -> str:
    return f"note-{uuid.uuid4().hex[:10]}"


async def test_success_commits_once(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    text = unique_text()
    response = await http.post("/api/v1/uow/notes", json={"text": text})
    assert response.status_code == 201
    assert await count_notes(uow_app, text) == 1


async def test_error_after_a_write_rolls_everything_back(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    text = unique_text()
    response = await http.post("/api/v1/uow/notes", json={"text": text, "fail_after_write": True})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "deliberate"
    assert await count_notes(uow_app, text) == 0


async def test_failure_at_commit_is_a_problem_not_a_success(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    text = unique_text()
    assert (await http.post("/api/v1/uow/notes", json={"text": text})).status_code == 201
    duplicate = await http.post("/api/v1/uow/notes-unflushed", json={"text": text})
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "concurrent_update"
    assert await count_notes(uow_app, text) == 1


async def test_retry_with_same_key_returns_the_first_answer(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    text = unique_text()
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = await http.post("/api/v1/uow/notes", json={"text": text}, headers=headers)
    second = await http.post("/api/v1/uow/notes", json={"text": text}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()  # same nonce: the stored answer, not a second run
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count_notes(uow_app, text) == 1


async def test_stored_answers_are_encrypted_at_rest(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    key = uuid.uuid4().hex
    first = await http.post("/api/v1/uow/notes", json={"text": unique_text()}, headers={"Idempotency-Key": key})
    async with uow_app.state.sessionmaker() as session:
        stored = (await session.execute(select(IdempotencyRecord).where(IdempotencyRecord.key == key))).scalar_one()
    assert stored.response_body
    assert first.json()["nonce"].encode() not in stored.response_body


async def test_same_key_with_another_body_is_refused(http: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    assert (await http.post("/api/v1/uow/notes", json={"text": unique_text()}, headers=headers)).status_code == 201
    other = await http.post(
        "/api/v1/uow/notes", json={"text": unique_text()}, headers={**headers, "Accept-Language": "en"}
    )
    assert other.status_code == 422
    problem = other.json()
    assert problem["code"] == "validation_error"
    assert problem["field"] == "Idempotency-Key"
    assert problem["errors"][0]["code"] == "idempotency_key_reused"
    assert "different request" in problem["errors"][0]["message"]


async def test_key_of_a_request_still_running_is_a_409(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    key, text = uuid.uuid4().hex, unique_text()
    body = json.dumps({"text": text}).encode()
    async with uow_app.state.sessionmaker() as session:
        session.add(
            IdempotencyRecord(
                scope="anonymous",
                key=key,
                method="POST",
                path="/api/v1/uow/notes",
                request_hash=request_fingerprint("POST", "/api/v1/uow/notes", "", body),
                owner_token="someone-else",
            )
        )
        await session.commit()
    response = await http.post(
        "/api/v1/uow/notes", content=body, headers={"Idempotency-Key": key, "Content-Type": "application/json"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert response.headers["Retry-After"] == "1"
    assert await count_notes(uow_app, text) == 0


async def test_abandoned_key_is_taken_over_after_its_lease(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    key, text = uuid.uuid4().hex, unique_text()
    body = json.dumps({"text": text}).encode()
    async with uow_app.state.sessionmaker() as session:
        session.add(
            IdempotencyRecord(
                scope="anonymous",
                key=key,
                method="POST",
                path="/api/v1/uow/notes",
                request_hash=request_fingerprint("POST", "/api/v1/uow/notes", "", body),
                owner_token="crashed-process",
                locked_at=utcnow() - timedelta(minutes=5),
            )
        )
        await session.commit()
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    response = await http.post("/api/v1/uow/notes", content=body, headers=headers)
    assert response.status_code == 201
    replay = await http.post("/api/v1/uow/notes", content=body, headers=headers)
    assert replay.json() == response.json()
    assert await count_notes(uow_app, text) == 1


async def test_failed_request_frees_its_key_for_a_corrected_retry(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    key, text = uuid.uuid4().hex, unique_text()
    headers = {"Idempotency-Key": key}
    failed = await http.post("/api/v1/uow/notes", json={"text": text, "fail_after_write": True}, headers=headers)
    assert failed.status_code == 409
    fixed = await http.post("/api/v1/uow/notes", json={"text": text}, headers=headers)
    assert fixed.status_code == 201
    assert await count_notes(uow_app, text) == 1


async def test_concurrent_retries_run_the_work_once(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    text = unique_text()
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    responses = await asyncio.gather(
        *(http.post("/api/v1/uow/notes", json={"text": text, "slow": 0.05}, headers=headers) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    created = {r.json()["nonce"] for r in responses if r.status_code == 201}
    assert len(created) == 1  # every 201 is the same answer
    assert await count_notes(uow_app, text) == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there"])
async def test_invalid_keys_are_refused(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post("/api/v1/uow/notes", json={"text": unique_text()}, headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"


@asynccontextmanager
async def writer_holding_the_lock(app: FastAPI) -> AsyncIterator[AsyncConnection]:
    """Another connection in the middle of a write: SQLite's write lock, or a PostgreSQL table lock that lets
    readers through (EXCLUSIVE) but no writer. Committed when the block ends."""
    async with app.state.engine.connect() as connection:
        if app.state.settings.is_sqlite:
            await connection.execute(insert(notes).values(text=unique_text()))  # BEGIN IMMEDIATE: the write lock
        else:
            await connection.execute(text("LOCK TABLE uow_notes IN EXCLUSIVE MODE"))
        yield connection
        await connection.commit()


async def test_a_read_runs_while_another_connection_holds_the_write_lock(
    http: httpx.AsyncClient, uow_app: FastAPI
) -> None:
    first = unique_text()
    assert (await http.post("/api/v1/uow/notes", json={"text": first})).status_code == 201
    async with writer_holding_the_lock(uow_app):
        # busy_timeout is 30 s: a read that queued for the lock would still be waiting after 10.
        response = await asyncio.wait_for(http.get("/api/v1/uow/notes"), timeout=10)
    assert response.status_code == 200
    assert first in response.json()


async def test_a_write_still_waits_for_the_writer(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    note = unique_text()
    async with writer_holding_the_lock(uow_app):
        write = asyncio.ensure_future(http.post("/api/v1/uow/notes", json={"text": note}))
        done, _ = await asyncio.wait({write}, timeout=1.0)
        assert not done, "a write went through while another connection held the write lock"
        assert await count_notes(uow_app, note) == 0
    response = await asyncio.wait_for(write, timeout=30)
    assert response.status_code == 201, response.text
    assert await count_notes(uow_app, note) == 1


async def test_a_read_route_that_writes_undeclared_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, uow_app: FastAPI
) -> None:
    note = unique_text()
    response = await http.get(f"/api/v1/uow/notes/{note}/undeclared-write")
    assert response.status_code == 500
    assert await count_notes(uow_app, note) == 0


async def test_a_read_route_that_locks_rows_is_refused(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/v1/uow/notes-locked")).status_code == 500


async def test_a_read_route_declared_as_writing_commits(http: httpx.AsyncClient, uow_app: FastAPI) -> None:
    note = unique_text()
    response = await http.get(f"/api/v1/uow/notes/{note}/declared-write")
    assert response.status_code == 200, response.text
    assert await count_notes(uow_app, note) == 1
