"""Run every benchmark: seed 1M households into a fresh PostgreSQL database, measure search on it, drop it.

.venv/bin/python -m bench [--households N] [--requests N] [--keep]
"""

from __future__ import annotations

import argparse

from bench import bench_search, bench_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()
    bench_seed.run(households=args.households, keep=True)
    bench_search.run(requests=args.requests, keep=args.keep)


if __name__ == "__main__":
    main()
