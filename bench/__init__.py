"""jackd's benchmark suite: jackd beside greenstalk, pystalk, aiostalk and a raw-socket baseline.

Run it with ``python -m bench`` (see bench/README.md). ``bench.run`` schedules the measurements
and writes the report, ``bench.worker`` is the subprocess that takes one measurement, and
``bench.cases`` holds what each measurement does.
"""
