"""Run the synchronous integration suite against ``jackd.aio.AsyncClient`` too.

``SyncOverAsync`` owns an event loop in a thread of its own and turns every coroutine method of
an AsyncClient into a blocking call, so a test written against ``jackd.Client`` exercises the
asyncio client unchanged. Calls from several threads become concurrent tasks on that one loop,
sharing the one connection, which is exactly the situation the asyncio client must handle.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from jackd.aio import AsyncClient, AsyncPipeline

T = TypeVar("T")


class SyncOverAsync:
    """A blocking facade over an AsyncClient running on a private event loop."""

    def __init__(self, address: Any = None, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = AsyncClient(address, **kwargs)
        try:
            self._call(self._client.connect())
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if inspect.iscoroutinefunction(attr):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._call(attr(*args, **kwargs))

            return call
        return attr

    def pipeline(self) -> _SyncPipeline:
        return _SyncPipeline(self, self._client.pipeline())

    def close(self) -> None:
        self._call(self._client.close())

    def shutdown(self) -> None:
        """Close the client and stop its event loop (the fixtures do this after each test)."""
        if not self._loop.is_closed():
            self.close()
            self._stop_loop()

    def quit(self) -> None:
        self._call(self._client.quit())

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> SyncOverAsync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _SyncPipeline:
    """A blocking facade over an AsyncPipeline: queue as usual, ``execute`` blocks."""

    def __init__(self, owner: SyncOverAsync, pipeline: AsyncPipeline) -> None:
        self._owner = owner
        self._pipeline = pipeline

    def __len__(self) -> int:
        return len(self._pipeline)

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        return self._owner._call(self._pipeline.execute(raise_on_error))

    def __getattr__(self, name: str) -> Any:
        queue = getattr(self._pipeline, name)

        def add(*args: Any, **kwargs: Any) -> _SyncPipeline:
            queue(*args, **kwargs)
            return self

        return add
