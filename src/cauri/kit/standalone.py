"""One shape for every provider's standalone client (the provider's API without the Cauri server), async and
blocking.

* :class:`StandaloneClient` is the async side: an async context manager that closes the connectors it owns.
* :class:`BlockingClient` is the blocking facade over one: ``close()`` and a context manager; its methods are
  declared with :func:`blocking` (an async method run to its end by :func:`run_sync`) or :func:`same` (a method
  that does no I/O), so a provider's facade is a list of names, typed from the async methods themselves::

      class SyncFedaPayClient(BlockingClient[FedaPayClient]):
          collect = blocking(FedaPayClient.collect)
          verify_webhook = same(FedaPayClient.verify_webhook)

Choice: one private event loop in a daemon thread runs the *same* async code (retries, breaker, OAuth cache,
logging) instead of a second implementation over ``httpx.Client``. A blocking call submits the coroutine to that
loop and waits for its result. Everything an object touches (its ``httpx.AsyncClient``) is created lazily on
that loop, so an object used through a blocking facade must only be used through it.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar

from pydantic import SecretStr

T = TypeVar("T")
P = ParamSpec("P")


class _LoopThread:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="cauri-connectors-sync", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread


_RUNNER = _LoopThread()


def run_sync(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` on the private connector loop and wait for its result (exceptions propagate)."""
    if _RUNNER.in_loop_thread():
        # Waiting here would block the very loop that must run the coroutine: a deadlock, refused instead.
        coroutine.close()
        raise RuntimeError("run_sync() called from the connector loop itself: await the coroutine instead")
    future = asyncio.run_coroutine_threadsafe(coroutine, _RUNNER.loop())
    return future.result(timeout)


def as_secret(value: str | SecretStr | None) -> SecretStr | None:
    """A credential as the caller gave it (text or ``SecretStr``), wrapped so it never shows in a repr or a log."""
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


class Closeable(Protocol):
    async def aclose(self) -> None: ...


class StandaloneClient:
    """The async side of a standalone client: ``async with`` closes the connectors given to ``__init__``
    (None for a part the caller gave no credentials for)."""

    def __init__(self, *owned: Closeable | None) -> None:
        self._owned = [part for part in owned if part is not None]

    async def aclose(self) -> None:
        for part in self._owned:
            await part.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


Client = TypeVar("Client", bound=StandaloneClient)


class BlockingClient(Generic[Client]):
    """The blocking facade of an async standalone client (``client``): every call runs on the private loop."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def close(self) -> None:
        run_sync(self.client.aclose())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def blocking(
    method: Callable[Concatenate[Client, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[BlockingClient[Client], P], T]:
    """The blocking twin of an async method of the client: same parameters, the awaited result."""

    def call(self: BlockingClient[Client], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(method(self.client, *args, **kwargs))

    functools.update_wrapper(call, method)  # its name and docstring, for help() and the docs
    return call


def same(method: Callable[Concatenate[Client, P], T]) -> Callable[Concatenate[BlockingClient[Client], P], T]:
    """A method of the client that does no I/O (verifying a signature, parsing a body), offered as it is."""

    def call(self: BlockingClient[Client], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return method(self.client, *args, **kwargs)

    functools.update_wrapper(call, method)
    return call
