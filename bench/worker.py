"""One measurement, in a process of its own: ``python -m bench.worker CASE ADDRESS N WARM``.

The parent (``bench.run``) starts a fresh server (beanstalkd, or Redis for a competitor) for
each measurement and this process on the CPU it was told; it prints one JSON line:
``{"ok": true, "seconds": ..., "server_cpu": ..., ...}``, ``{"ok": false, "error": "..."}``,
or ``{"ok": false, "skipped": true, "error": "why"}`` for a case that cannot run in this tree.
With ``--profile`` it first prints where the timed block spent its time (cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import io
import json
import os
import pstats
import sys
import traceback


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("case", help="scenario/client, e.g. put/jackd")
    parser.add_argument(
        "address", help="host:port of a fresh beanstalkd (or Redis); several joined by commas"
    )
    parser.add_argument("n", type=int, help="timed operations")
    parser.add_argument("warm", type=int, help="untimed warm-up operations first")
    parser.add_argument("--cpu", type=int, help="pin this process to this CPU first")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    from bench import cases, raw

    scenario, case = cases.find(args.case)
    profiler = cProfile.Profile() if args.profile else None
    if scenario.prefill:
        raw.fill(args.address, args.warm + args.n, cases.BODY)
    timer = cases.Timer(args.address, profiler, case.server)
    try:
        outcome = case.run(args.address, args.n, args.warm, timer)
        if inspect.iscoroutine(outcome):
            asyncio.run(outcome)
        if timer.seconds is None:
            raise RuntimeError("the case never ran its timed part")
    except cases.Skip as exc:
        print(json.dumps({"ok": False, "skipped": True, "error": str(exc)}))
        return 0
    except Exception as exc:
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        if isinstance(exc, asyncio.TimeoutError):
            detail = "no progress for 300 s (hung)"
        print(json.dumps({"ok": False, "error": detail[:300]}))
        return 0
    finally:
        timer.close()
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    jackd = sys.modules.get("jackd")
    print(
        json.dumps(
            {
                "ok": True,
                "seconds": timer.seconds,
                "server_cpu": timer.server_cpu,
                "client_cpu": timer.client_cpu,
                "client_cpus": sorted(os.sched_getaffinity(0)),
                "jackd": None if jackd is None else jackd.__file__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
