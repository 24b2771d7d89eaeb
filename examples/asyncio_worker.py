"""asyncio: one AsyncClient shared by many tasks, a worker loop, and safe cancellation."""

from __future__ import annotations

import asyncio
import os

import jackd
import jackd.aio

TUBE = "jackd-example-asyncio"


async def handle(job: jackd.Job) -> int:
    """Process one job: square the number in its body."""
    await asyncio.sleep(0)  # real work would await I/O here
    return int(job.body) ** 2


# --8<-- [start:sharing]
async def worker(address: str, results: list[int], stop: asyncio.Event) -> None:
    """Reserve, process and delete jobs until ``stop`` is set."""
    # A consumer gets a client of its own: its blocking reserve holds the connection.
    async with jackd.aio.connect(address) as client:
        await client.watch(TUBE)
        await client.ignore("default")
        while not stop.is_set():
            try:
                job = await client.reserve(timeout=1)
            except jackd.TimedOutError:
                continue
            results.append(await handle(job))
            await client.delete(job)


async def amain(address: str) -> None:
    async with jackd.aio.connect(address) as client:  # or: client = await jackd.aio.connect()
        await client.use(TUBE)
        # 100 tasks share one client: their puts are pipelined, each gets its own id.
        ids = await asyncio.gather(*(client.put(str(n)) for n in range(100)))
        print(f"100 tasks put jobs {min(ids)}..{max(ids)} through one client")
        # --8<-- [end:sharing]

        results: list[int] = []
        stop = asyncio.Event()
        workers = [asyncio.create_task(worker(address, results, stop)) for _ in range(3)]
        while (await client.stats_tube(TUBE)).current_jobs_ready:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(*workers)
        print(f"3 workers squared {len(results)} jobs, sum {sum(results)}")

        # --8<-- [start:cancel]
        # Cancelling a reserve is safe: a job the server hands out afterwards is not lost.
        await client.watch(TUBE)
        try:
            await asyncio.wait_for(client.reserve(), timeout=0.2)
        except asyncio.TimeoutError:
            print("reserve cancelled after 0.2 s")
        # The server still waits for a job on this connection and answers nothing else on it
        # until one comes, so this job must come from another client.
        async with jackd.aio.connect(address) as producer:
            await producer.use(TUBE)
            jid = await producer.put("last one")
        job = await client.reserve(timeout=5)  # gets the job the cancelled reserve received
        print(f"then reserved {job.body.decode()!r} (job {job.id == jid})")
        await client.delete(job)
        # --8<-- [end:cancel]


def main(address: str) -> None:
    asyncio.run(amain(address))


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
