"""The public portal's village pages at 1,000,000 households, with case workers measured at the same time (issue 6).

    .venv/bin/python -m bench.bench_portal [--seconds 30] [--connections 8] [--drop]

Targets: village list pages ≥ 300 requests/s from a load tool on loopback with p95 ≤ 100 ms, while the case page
(`/cases/<id>/`, bench_case_page) keeps its p95 ≤ 200 ms at the same time.

Uses the shared `doudi_bench` database (seeded with 1,000,000 households by bench_seed when missing; migrated, so the
portal's table and indexes exist). Prepares, once:
* the case-worker cases of bench_case_page (`bench_case_page.run`, which also records the case page alone);
* the portal's demo caseload (`portal.demo.demo_caseload_create`, set-based): dibao for ~5% of households, 特困 for
  ~1%, one in 17 terminated, pending cases in a running publicity for ~0.2%.
Then serves the system with gunicorn (`doudi serve`, 2 workers, as bench_case_page) and measures, with the load tool
**wrk** (Debian package `wrk`: C, event loop, 1 thread; `apt-get install wrk`) requesting random village pages of
the whole province:
1. first views: every village page once (8 Python client threads; each page is rendered and stored in the portal's
   file cache, which the workers share);
2. warm: the steady state, public load only;
3. warm + case worker: a Python client logged in as a county approver of 龙华区 requests case pages back to back;
4. the same with the portal in its own gunicorn pool at `nice 10` (second port), the layout docs/portal.md
   recommends, the case worker on the first server.
Also in-process: the cost of the cache fingerprint query (global and village) and of an uncached village list.
wrk, PostgreSQL, gunicorn and the Python clients share the same 2 cores; `uptime` is recorded.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import (
    ROOT,
    bench_url,
    database_exists,
    django_setup,
    drop_database,
    machine,
    migrate,
    percentiles,
    save,
    say,
)
from bench.bench_search import COUNTY, PASSWORD, PORT, Client, _maintenance, _start_server, _stop_server

TARGET_RPS = 300.0
TARGET_P95_MS = 100.0
CASE_TARGET_P95_MS = 200.0

LUA = """
math.randomseed(%(seed)d)
local paths = {%(paths)s}
local sequential = %(sequential)s
local i = 0
request = function()
  if sequential then
    i = i %% #paths + 1
    return wrk.format("GET", paths[i])
  end
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%%d errors=%%d seconds=%%.3f p50=%%.3f p95=%%.3f p99=%%.3f max=%%.3f\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def _wrk(
    paths: list[str], seconds: int, connections: int, seed: int, sequential: bool = False, port: int = PORT
) -> dict[str, Any]:
    """Run wrk for `seconds` with `connections` over `paths` (random, or each in turn); latency in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(
            LUA
            % {
                "seed": seed,
                "paths": ", ".join(f'"{p}"' for p in paths),
                "sequential": "true" if sequential else "false",
            }
        )
        script = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script,
                f"http://127.0.0.1:{port}",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    match = re.search(r"RESULT (.*)", out)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    values = dict(kv.split("=") for kv in match.group(1).split())
    requests, seconds_run = int(values["requests"]), float(values["seconds"])
    return {
        "requests": requests,
        "errors": int(values["errors"]),
        "rps": round(requests / seconds_run, 1),
        "p50": round(float(values["p50"]), 2),
        "p95": round(float(values["p95"]), 2),
        "p99": round(float(values["p99"]), 2),
        "max": round(float(values["max"]), 2),
        "connections": connections,
        "seconds": round(seconds_run, 1),
    }


def _start_portal_pool(port: int) -> subprocess.Popen[bytes]:
    """A second `doudi serve` (2 workers) for /public/ only, at lower CPU priority (nice 10): the production layout
    docs/portal.md recommends, so that public traffic queues in its own pool and yields the CPU to case workers."""
    import http.client
    import os
    import sys

    env = {**os.environ, "DATABASE_URL": bench_url(), "DOUDI_CONN_MAX_AGE": "600"}
    doudi = Path(sys.executable).with_name("doudi")
    log = open(ROOT / "bench" / "out" / "portal-pool.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        ["nice", "-n", "10", str(doudi), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/public/")
            conn.getresponse().read()
            return process
        except OSError:
            time.sleep(0.5)
    _stop_server(process)
    raise RuntimeError("the portal pool did not answer within 60 s")


def _first_views(paths: list[str], threads: int) -> dict[str, Any]:
    """Every path once, by `threads` Python clients sharing one queue: the cold pass (each page is rendered and
    stored; the file cache is shared by the server's workers). Latency in ms, wall-clock throughput."""
    import http.client
    import queue

    todo: queue.Queue[str] = queue.Queue()
    for path in paths:
        todo.put(path)
    samples: list[float] = []
    errors: list[int] = []

    def client() -> None:
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                return
            began = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            samples.append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                errors.append(response.status)

    began = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - began
    return {
        **percentiles(samples),
        "rps": round(len(samples) / seconds, 1),
        "seconds": round(seconds, 1),
        "errors": len(errors),
        "connections": threads,
    }


class CaseWorker(threading.Thread):
    """A county approver opening case pages back to back while the public load runs."""

    def __init__(self, username: str, case_ids: list[int], login: Client | None = None) -> None:
        super().__init__(daemon=True)
        if login is not None:  # reuse a session: another login would be an audited write
            self.client = login
        else:
            self.client = Client(PORT)
            if not self.client.login(username, PASSWORD):
                raise RuntimeError("case worker login failed")
        self.case_ids = case_ids
        self.samples: list[float] = []
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(6)
        while not self.stop.is_set():
            pk = rng.choice(self.case_ids)
            began = time.perf_counter()
            status, _body = self.client.request("GET", f"/cases/{pk}/")
            self.samples.append((time.perf_counter() - began) * 1000)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _prepare() -> dict[str, Any]:
    """Cases for the case page (bench_case_page), then the portal's demo caseload; both only once."""
    from django.db import connection

    from doudi.cases.models import Determination
    from doudi.portal.demo import demo_caseload_create

    setup: dict[str, Any] = {}
    if not Determination.objects.filter(rules_program="demo").exists():
        connection.close()
        from bench import bench_case_page

        say("-- case-worker cases (bench_case_page, which also measures the case page alone)")
        alone = bench_case_page.run(keep=True, requests=100)
        setup["case_page_alone"] = alone["http"]
        began = time.perf_counter()
        counts = demo_caseload_create(dibao_per_mille=50, tekun_per_mille=10, publicity_per_mille=2)
        setup["demo_caseload"] = counts.__dict__
        setup["demo_caseload_seconds"] = round(time.perf_counter() - began, 1)
        say(f"  demo caseload {counts} in {setup['demo_caseload_seconds']} s")
        connection.close()
        setup["vacuum_seconds"] = round(
            _maintenance(
                [
                    f"VACUUM ANALYZE {t}"
                    for t in (
                        "cases_application",
                        "cases_recipient",
                        "cases_determination",
                        "cases_publicity",
                        "core_auditlog",
                    )
                ]
            ),
            1,
        )
    return setup


def _fingerprint_cost(chain: list[str] | None, n: int = 2000) -> dict[str, float]:
    from doudi.cases.disclosure import caseload_fingerprint

    samples = []
    for _ in range(n):
        began = time.perf_counter()
        caseload_fingerprint(chain)
        samples.append((time.perf_counter() - began) * 1000)
    return percentiles(samples)


def _render_cost(villages: list[str], n: int = 200) -> dict[str, float]:
    """The uncached work of a village page in-process: the contract's query and the template."""
    from django.template.loader import render_to_string
    from django.utils import timezone

    from doudi.cases import disclosure

    samples = []
    today = timezone.localdate()
    for code in villages[:n]:
        began = time.perf_counter()
        rows = disclosure.village_recipients(village_code=code, on=today)
        render_to_string("portal/partials/list_table.html", {"rows": rows, "show_start": True})
        samples.append((time.perf_counter() - began) * 1000)
    return percentiles(samples)


def run(*, seconds: int = 30, connections: int = 8, keep: bool = True) -> dict[str, Any]:
    if not database_exists():
        say("== bench_portal: no benchmark database yet; seeding 1,000,000 households first")
        from bench import bench_seed

        bench_seed.run(households=1_000_000, keep=True)
    migrate()
    django_setup()
    from django.db import connection

    from doudi.cases.models import Application, CaseStep, Recipient
    from doudi.core.models import Region
    from doudi.registry.models import Household

    setup = _prepare()
    info = machine()
    county = Region.objects.get(code=COUNTY)
    villages = list(Region.objects.filter(level="village").order_by("code").values_list("code", flat=True))
    case_ids = list(
        Application.objects.filter(region_path__startswith=county.path, subject_key__startswith="h")
        .filter(pk__in=CaseStep.objects.values("application_id"))
        .order_by("pk")
        .values_list("pk", flat=True)[:150]
    )
    totals = {
        "households": Household.objects.count(),
        "villages": len(villages),
        "recipients": Recipient.objects.count(),
        "applications": Application.objects.count(),
    }
    say(f"== bench_portal: {totals}, {len(case_ids)} case pages, load {info['load_average']}")
    chain = [c for c in Region.objects.get(code=villages[0]).path.split("/") if c]
    in_process = {
        "fingerprint_global_ms": _fingerprint_cost(None),
        "fingerprint_village_ms": _fingerprint_cost(chain),
        "village_uncached_ms": _render_cost(villages),
    }
    say(f"  in-process: fingerprint global {in_process['fingerprint_global_ms']}")
    say(f"  in-process: fingerprint village {in_process['fingerprint_village_ms']}")
    say(f"  in-process: uncached village {in_process['village_uncached_ms']}")
    connection.close()
    paths = [f"/public/{code}/" for code in villages]
    from django.core.cache import caches

    caches["portal"].clear()  # the server's workers share this file cache: start cold
    process = _start_server(PORT)
    results: dict[str, Any] = {}
    try:
        # Log the case worker in first: a login is an audited write, which changes the caseload fingerprint.
        worker = CaseWorker("bench_county", case_ids)
        # first views: every village once (each is rendered: the cache is shared by the workers)
        results["first_views"] = _first_views(paths, connections)
        results["first_views"]["pages"] = len(paths)
        say(f"  first views {results['first_views']}")
        results["warm_public_only"] = _wrk(paths, seconds, connections, seed=2)
        say(f"  warm   {results['warm_public_only']}")
        worker.start()
        try:
            results["warm_with_case_worker"] = _wrk(paths, seconds, connections, seed=3)
        finally:
            worker.stop.set()
            worker.join(timeout=30)
        results["case_page_during_load"] = {**percentiles(worker.samples), "statuses": worker.statuses}
        say(f"  warm + case worker {results['warm_with_case_worker']}")
        say(f"  case page during the load {results['case_page_during_load']}")
        # the recommended layout: the portal in its own pool at lower CPU priority (same shared cache, warm)
        pool = _start_portal_pool(PORT + 1)
        try:
            worker = CaseWorker("bench_county", case_ids, login=worker.client)
            worker.start()
            try:
                results["separate_pool_public"] = _wrk(paths, seconds, connections, seed=4, port=PORT + 1)
            finally:
                worker.stop.set()
                worker.join(timeout=30)
            results["separate_pool_case_page"] = {**percentiles(worker.samples), "statuses": worker.statuses}
            say(f"  separate pool: public {results['separate_pool_public']}")
            say(f"  separate pool: case page {results['separate_pool_case_page']}")
        finally:
            _stop_server(pool)
    finally:
        _stop_server(process)
    verdicts: dict[str, Any] = {}
    for layout, public_key, case_key in (
        ("one_server", "warm_with_case_worker", "case_page_during_load"),
        ("separate_portal_pool", "separate_pool_public", "separate_pool_case_page"),
    ):
        public, case = results[public_key], results[case_key]
        passed = {
            "rps": public["rps"] >= TARGET_RPS,
            "p95": public["p95"] <= TARGET_P95_MS,
            "case_p95": case["p95"] <= CASE_TARGET_P95_MS,
            "no_errors": public["errors"] == 0 and set(case["statuses"]) == {200},
        }
        verdicts[layout] = {
            "ratios": {
                "rps": round(TARGET_RPS / public["rps"], 2) if public["rps"] else None,
                "p95": round(public["p95"] / TARGET_P95_MS, 2),
                "case_p95": round(case["p95"] / CASE_TARGET_P95_MS, 2),
            },
            "passed": passed,
        }
        say(
            f"  {layout}: village pages {public['rps']} req/s (target ≥ {TARGET_RPS:.0f}), p95 {public['p95']} ms "
            f"(≤ {TARGET_P95_MS:.0f}); case page p95 {case['p95']} ms (≤ {CASE_TARGET_P95_MS:.0f}) → "
            f"{'PASS' if all(passed.values()) else 'FAIL'} {passed}"
        )
    data = {
        "benchmark": "portal",
        "machine": info,
        **totals,
        "setup": setup,
        "load_tool": "wrk 4.1 (1 thread, random village pages of the whole province)",
        "in_process": in_process,
        "http": results,
        "targets": {"rps": TARGET_RPS, "p95_ms": TARGET_P95_MS, "case_p95_ms": CASE_TARGET_P95_MS},
        "verdicts": verdicts,
        "load_average_after": machine()["load_average"],
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }
    say(f"  saved {save('portal', data)}")
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    if not keep:
        drop_database()
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="duration of each measured phase")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark database afterwards")
    args = parser.parse_args(argv)
    run(seconds=args.seconds, connections=args.connections, keep=not args.drop)


if __name__ == "__main__":
    main()
