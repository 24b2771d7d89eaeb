"""``python -m jackd``: the ``jackd`` command (it needs the cli extra, and says so)."""

from jackd.cli import main

if __name__ == "__main__":  # pragma: no cover - the tests run python -m jackd in subprocesses
    main()
