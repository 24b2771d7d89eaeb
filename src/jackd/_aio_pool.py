"""``jackd.aio.Pool``: the asyncio twin of ``jackd.Pool``, over the same placement and health.

Every decision is ``jackd.pool.PoolBase``'s and ``jackd._placement``'s; this only awaits.
``put_many`` pipelines each server's share on its connection, all servers at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from . import _commands as cmds
from ._commands import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR, DEFAULT_TUBE, Body, Seconds
from ._errors import ConnectionLostError, DrainingError, NotFoundError
from ._placement import JobRef
from ._stats import ServerStats, TubeStats
from .aio import AsyncClient
from .pool import ONE_TRY, Member, PoolBase, sum_tube_stats


class Pool(PoolBase[AsyncClient]):
    """Several beanstalkd servers used as one, from asyncio; see ``jackd.Pool``.

    The same arguments, placement, failover and errors; its methods are coroutines.
    """

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<jackd.aio.Pool {list(self._members)}>"

    async def close(self) -> None:
        """Close every connection."""
        for member in self._members.values():
            client, member.client = member.client, None
            if client is not None:
                await client.close()

    async def client(self, server: str) -> AsyncClient:
        """The ``AsyncClient`` for one server of the pool (connecting it if need be)."""
        return await self._connect(self._member(server))

    async def _connect(self, member: Member[AsyncClient]) -> AsyncClient:
        client = member.client
        if client is None:
            client = AsyncClient(member.address, reconnect=ONE_TRY, **self._options)
            await client.connect()
            if self._used != DEFAULT_TUBE:
                await client.use(self._used)
            member.client = client
        return client

    async def _lost(self, member: Member[AsyncClient], error: Exception) -> None:
        self._failed(member, str(error))
        client, member.client = member.client, None
        if client is not None:
            await client.close()

    async def put(
        self,
        body: Body,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
        *,
        key: str | bytes | None = None,
    ) -> JobRef:
        """Put a job on the next live server (with ``key``: the key's server); see Pool.put."""
        data = cmds.body_bytes(body)
        errors: dict[str, str] = {}
        for member in self._order(key):
            try:
                client = await self._connect(member)
                jid = await client.put(data, priority, delay, ttr)
            except DrainingError as exc:
                self._failed(member, "draining")
                errors[member.address] = str(exc)
                continue
            except ConnectionLostError as exc:
                await self._lost(member, exc)
                errors[member.address] = str(exc)
                if exc.maybe_applied and not self.at_least_once:
                    raise
                continue
            member.health.answered()
            return JobRef(member.address, jid)
        raise self._none_live(errors)

    async def put_many(
        self,
        bodies: Iterable[Body],
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
        *,
        raise_on_error: bool = True,
    ) -> list[Any]:
        """Put many jobs spread over the live servers, pipelined per server; see Pool."""
        data = [cmds.body_bytes(body) for body in bodies]
        results: list[Any] = [None] * len(data)
        todo = list(range(len(data)))
        errors: dict[str, str] = {}
        while todo:
            members = self._order(None)
            if not members:
                error = self._none_live(errors)
                for i in todo:
                    results[i] = error
                break
            share = self._shares(todo, len(members))
            args = (priority, delay, ttr)
            again = await asyncio.gather(
                *(
                    self._put_share(members[slot], indexes, data, results, errors, *args)
                    for slot, indexes in share.items()
                )
            )
            todo = [i for indexes in again for i in indexes]
        if raise_on_error:
            for outcome in results:
                if isinstance(outcome, Exception):
                    raise outcome
        return results

    async def _put_share(
        self,
        member: Member[AsyncClient],
        indexes: Sequence[int],
        data: list[Any],
        results: list[Any],
        errors: dict[str, str],
        priority: int,
        delay: Seconds,
        ttr: Seconds,
    ) -> list[int]:
        try:
            client = await self._connect(member)
            pipe = client.pipeline()
            for i in indexes:
                pipe.put(data[i], priority, delay, ttr)
            answers = await pipe.execute(raise_on_error=False)
        except ConnectionLostError as exc:
            await self._lost(member, exc)
            errors[member.address] = str(exc)
            return list(indexes)
        again, lost = self._take_answers(member, indexes, answers, results)
        if lost is not None:
            await self._lost(member, lost)
            errors[member.address] = str(lost)
        elif again:
            self._failed(member, "draining")
        else:
            member.health.answered()
        return again

    async def use(self, tube: str) -> str:
        """Put later jobs into ``tube``, on every server."""
        cmds.tube_name(tube)
        self._used = tube
        for member in self._members.values():
            if member.client is not None:
                try:
                    await member.client.use(tube)
                except ConnectionLostError as exc:
                    await self._lost(member, exc)
        return tube

    async def _each_live(self) -> list[tuple[Member[AsyncClient], AsyncClient]]:
        found = []
        for member in self._order(None):
            try:
                found.append((member, await self._connect(member)))
            except ConnectionLostError as exc:
                await self._lost(member, exc)
        return found

    async def stats(self) -> dict[str, ServerStats]:
        """Each live server's statistics, by address."""
        out: dict[str, ServerStats] = {}
        for member, client in await self._each_live():
            try:
                out[member.address] = await client.stats()
            except ConnectionLostError as exc:
                await self._lost(member, exc)
        return out

    async def stats_tube(self, tube: str) -> TubeStats:
        """A tube's statistics summed over the live servers; NotFoundError if none has it."""
        found: list[TubeStats] = []
        for member, client in await self._each_live():
            try:
                found.append(await client.stats_tube(tube))
            except NotFoundError:
                continue
            except ConnectionLostError as exc:
                await self._lost(member, exc)
        if not found:
            raise NotFoundError(f"stats-tube {tube}: NOT_FOUND on every live server")
        return sum_tube_stats(found)
