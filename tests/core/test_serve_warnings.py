"""`cauri serve --workers N` names what would stay per process (docs/performance.md, "Several API processes")."""

from __future__ import annotations

from cauri.cli import _several_processes_warnings, serve_banner
from cauri.core.config import Settings


def test_one_process_needs_no_warning() -> None:
    assert _several_processes_warnings(Settings(), 1) == []


def test_several_processes_without_shared_services_are_warned() -> None:
    warnings = " ".join(_several_processes_warnings(Settings(), 4))
    assert "CAURI_BROKER_URL" in warnings
    assert "CAURI_REDIS_URL" in warnings
    assert "CAURI_SANDBOX_URL" in warnings


def test_a_fully_shared_deployment_is_not_warned() -> None:
    settings = Settings(
        broker_url="redis://127.0.0.1:6379/0",
        redis_url="redis://127.0.0.1:6379/2",
        sandbox_url="http://127.0.0.1:8090",
    )
    assert _several_processes_warnings(settings, 4) == []


def test_the_rate_limit_redis_serves_as_the_shared_redis() -> None:
    settings = Settings(rate_limit_storage_url="redis://127.0.0.1:6379/1")
    assert settings.shared_redis_url == "redis://127.0.0.1:6379/1"
    assert Settings(rate_limit_storage_url="memory://").shared_redis_url is None


def test_the_sandbox_shared_by_serve_is_not_warned_and_the_banner_says_where_it_is() -> None:
    settings = Settings(
        broker_url="redis://127.0.0.1:6379/0",
        redis_url="redis://127.0.0.1:6379/2",
        sandbox_shared_url="http://127.0.0.1:8123",
        listen_port=8100,
    )
    assert _several_processes_warnings(settings, 4) == []
    banner = serve_banner(settings, 4)
    assert "sandbox   http://127.0.0.1:8100/sandbox" in banner
    assert "one sandbox process for the 4 API processes, at http://127.0.0.1:8123" in banner
    assert settings.sandbox_base_url == "http://127.0.0.1:8123", "the connector calls the shared process directly"


def test_one_process_embeds_the_sandbox_at_its_public_address() -> None:
    banner = serve_banner(Settings(listen_port=8100), 1)
    assert "sandbox   http://127.0.0.1:8100/sandbox (embedded payment provider)" in banner
