"""Drive the running app with concurrent clients (loopback only, bounded in requests and time).

python -m benchmarks.load --spawn                 # start `python -m webapp.serve` on a free port,
then load it python -m benchmarks.load --url
http://127.0.0.1:5000
[--clients 16] [--requests 3000] [--seconds 90]
python -m benchmarks.load --startup-runs 5 [--baseline DIR]

Each client keeps one HTTP/1.1 connection, asks for gzip like a browser and sends a mix:
GET / (default and other parameters, three languages), GET /api/towns, POST /api/recompute with
parameters seen before (cached) and new ones (a near_km never asked before: a real recompute), and
conditional GETs that repeat an ETag (304 expected); half the recomputes (--new-share) ask new ones.
Before the measured run, one request per cached answer of the mix warms the caches, on as many
concurrent connections as there are clients, twice (each server process keeps its own caches;
--cold: none).
Reported: throughput, p50/p99 per route,
errors (any status other than 200/304, or a failed check of the body). With --spawn it also
reports start-up to first page: from starting the server process to the first 200 on GET /.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ROOT = Path(__file__).resolve().parent.parent
SEED = 7
WARM_ROUNDS = (
    2  # which worker process accepts a connection is the kernel's choice: two rounds reach each
)
CACHED_PARAMS = [
    {},
    {"near_km": 200},
    {"fua_minutes": 90},
    {"large_city_min_pop": 500000},
    {"speed_republican": 90},
    {"planned_roads": [{"from": "Karazhal", "to": "Zhezkazgan", "class": "republican"}]},
]


class Client:
    """One keep-alive connection; records (route, seconds, ok) per request."""

    def __init__(self, host: str, port: int, out: list, lock: threading.Lock):
        self.host, self.port, self.out, self.lock = host, port, out, lock
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.etags: dict[str, str] = {}

    def request(
        self, route: str, method: str, path: str, body: dict | None = None, revalidate: bool = False
    ):
        headers = {"Accept-Encoding": "gzip"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if revalidate and path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        t = time.perf_counter()
        ok = True
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
            ok = resp.status in (200, 304)
            if resp.status == 200 and resp.getheader("ETag"):
                self.etags[path] = resp.getheader("ETag")
            if (
                ok
                and resp.status == 200
                and route == "POST /api/recompute"
                and random.random() < 0.05
            ):
                raw = (
                    gzip.decompress(payload)
                    if resp.getheader("Content-Encoding") == "gzip"
                    else payload
                )
                ok = len(json.loads(raw)["features"]) == 27
        except (OSError, http.client.HTTPException, ValueError):
            ok = False
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        dt = time.perf_counter() - t
        with self.lock:
            self.out.append((route, dt, ok))


NEW_SHARE = 0.5  # of the recomputes, the share with parameters never asked before (an honest mix)


def plan(n: int, rng: random.Random, fresh: iter, new_share: float = NEW_SHARE) -> list[tuple]:
    """The request mix: (route, method, path, body, revalidate): a quarter map pages, a quarter town
    payloads, half recomputes, ``new_share`` of which with new parameters (a cache miss)."""
    out = []
    for _ in range(n):
        r = rng.random()
        lang = rng.choice(["en", "ru", "kk"])
        if r < 0.25:
            q = urlencode(
                {"lang": lang} | (rng.choice([{}, {"near_km": 200}, {"fua_minutes": 90}]))
            )
            out.append(("GET /", "GET", f"/?{q}", None, rng.random() < 0.3))
        elif r < 0.5:
            out.append(
                ("GET /api/towns", "GET", f"/api/towns?lang={lang}", None, rng.random() < 0.3)
            )
        elif rng.random() >= new_share:
            out.append(
                (
                    "POST /api/recompute",
                    "POST",
                    f"/api/recompute?lang={lang}",
                    rng.choice(CACHED_PARAMS),
                    False,
                )
            )
        else:
            out.append(
                ("POST /api/recompute", "POST", f"/api/recompute?lang={lang}", next(fresh), False)
            )
    return out


def warm_up(host: str, port: int, connections: int = 1) -> None:
    """One request for each cached answer of the mix (pages, payloads), not measured; sent over
    ``connections`` concurrent connections, so that every worker process of a server gets them."""

    def one():
        c = Client(host, port, [], threading.Lock())
        for lang in ("en", "ru", "kk"):
            for extra in ({}, {"near_km": 200}, {"fua_minutes": 90}):
                c.request("warm", "GET", "/?" + urlencode({"lang": lang} | extra))
            c.request("warm", "GET", f"/api/towns?lang={lang}")
            for body in CACHED_PARAMS:
                c.request("warm", "POST", f"/api/recompute?lang={lang}", body)
        c.conn.close()

    for _ in range(WARM_ROUNDS):
        threads = [threading.Thread(target=one) for _ in range(connections)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()


def fresh_params(i: int) -> dict:
    """The i-th never-asked parameter set: a threshold, a speed or a radius in turn (each a new
    value)."""
    kind = i % 4
    step = i // 4
    return [
        {"near_km": round(50 + 0.37 * step, 2)},
        {"fua_minutes": round(30 + 0.11 * step, 2)},
        {"speed_republican": round(50 + 0.013 * step, 3)},
        {"corridor_km": round(5 + 0.019 * step, 3)},
    ][kind]


def run_load(
    host: str,
    port: int,
    *,
    clients: int,
    requests: int,
    seconds: float,
    new_share: float = NEW_SHARE,
) -> dict:
    """Run ``requests`` requests over ``clients`` threads (stopping after ``seconds``); summary per
    route."""
    rng = random.Random(SEED)
    # never asked before: a recompute (against a server started elsewhere, --url, restart it between
    # runs:
    # its cache would hold these answers)
    fresh = (fresh_params(i) for i in range(10**6))
    work = plan(requests, rng, fresh, new_share)
    out, lock, deadline = [], threading.Lock(), time.perf_counter() + seconds
    queue = iter(work)
    qlock = threading.Lock()

    def worker():
        c = Client(host, port, out, lock)
        while time.perf_counter() < deadline:
            with qlock:
                item = next(queue, None)
            if item is None:
                break
            c.request(*item)
        c.conn.close()

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return summarise(out, wall, clients)


def summarise(out: list, wall: float, clients: int) -> dict:
    by = defaultdict(list)
    errors = defaultdict(int)
    for route, dt, ok in out:
        by[route].append(dt)
        errors[route] += not ok
    routes = {}
    for route, times in sorted(by.items()):
        times.sort()
        routes[route] = {
            "n": len(times),
            "p50_ms": 1000 * statistics.median(times),
            "p99_ms": 1000 * times[min(len(times) - 1, int(0.99 * len(times)))],
            "errors": errors[route],
        }
    return {
        "clients": clients,
        "requests": len(out),
        "seconds": wall,
        "throughput_rps": len(out) / wall,
        "errors": sum(errors.values()),
        "routes": routes,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(
    port: int, timeout: float = 60, *, root: Path = ROOT, env_extra: dict | None = None
) -> tuple[subprocess.Popen, float]:
    """Start `python -m webapp.serve` of the tree at ``root`` (``env_extra``: e.g. its own
    database); seconds from start to the first 200 on GET / (the page read whole)."""
    env = {
        k: v for k, v in os.environ.items() if k != "INSTANCE_DIR"
    }  # each tree its own instance/ (unless env_extra)
    # the per-client limit on new computations (webapp.security) is off: one loopback client is all
    # the load
    env |= {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONPATH": str(root),
        "COSTLY_PER_MINUTE": "0",
    } | (env_extra or {})
    log = (
        tempfile.TemporaryFile()
    )  # a file, not a pipe: a full pipe would block the server's logging
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.serve"], cwd=root, env=env, stdout=log, stderr=log
    )
    while time.perf_counter() - t < timeout:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(
                f"server at {root} exited ({proc.returncode}): {log.read().decode()[-2000:]}"
            )
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status == 200 and body.rstrip().endswith(b"</html>"):
                took = time.perf_counter() - t
                proc.log = log
                return proc, took
        except OSError:
            time.sleep(0.02)
        finally:
            conn.close()
    proc.terminate()
    raise RuntimeError(f"server at {root} did not answer within {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a server that ``spawn`` started, and close its log."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    finally:
        log = getattr(proc, "log", None)
        if log is not None:
            log.close()


def startup_runs(n: int, roots: tuple = (ROOT,)) -> dict:
    """Start the server of each tree in ``roots`` ``n`` times, the trees taking turns (one server at
    a time, stopped after its first page).

    Nothing is kept between starts (each worker caches in memory only). Returns root -> [(seconds,
    load average)]; a first start of each tree is not counted.
    """
    out: dict = {root: [] for root in roots}
    for i in range(n + 1):
        for root in roots:
            proc, took = spawn(free_port(), root=Path(root))
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            stop(proc)
            if i:
                out[root].append((took, load))
    return out


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants (Linux /proc; 0
    elsewhere).

    The server's CPU per request is the cost measure that contention on a shared machine does not
    inflate as much as latency.
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def report(s: dict, startup: float | None) -> str:
    lines = []
    if startup is not None:
        lines.append(f"start-up to first page: {startup:.2f} s (target < 3 s)")
    lines.append(
        f"{s['clients']} concurrent clients, {s['requests']} requests in {s['seconds']:.1f} s: "
        f"{s['throughput_rps']:.0f} requests/s, {s['errors']} errors"
    )
    if s.get("server_cpu_s") is not None:
        lines.append(
            f"server CPU {s['server_cpu_s']:.1f} s: {1000 * s['server_cpu_s'] / s['requests']:.1f}"
            f" ms per request (load average at the start {s['load_average']})"
        )
    lines.append(f"  {'route':22} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for route, r in s["routes"].items():
        lines.append(
            f"  {route:22} {r['n']:>6} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>6}"
        )
    lines.append("  targets: p99 POST /api/recompute < 300 ms, GET / < 500 ms, zero errors")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--url", default="http://127.0.0.1:5000")
    ap.add_argument("--spawn", action="store_true", help="start the server on a free loopback port")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument(
        "--new-share",
        type=float,
        default=NEW_SHARE,
        help=f"share of the recomputes with new parameters (default {NEW_SHARE})",
    )
    ap.add_argument(
        "--cold", action="store_true", help="no warm-up: the first render of each page is measured"
    )
    ap.add_argument(
        "--startup-runs",
        type=int,
        default=0,
        metavar="N",
        help="only measure start-up to the first page, N times (no load)",
    )
    ap.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help=(
            "another checkout (e.g. a worktree of an earlier commit), started in turns with"
            " this one"
        ),
    )
    args = ap.parse_args(argv)
    if args.startup_runs:
        if not 1 <= args.startup_runs <= 50:
            ap.error("--startup-runs: 1 to 50")
        if args.baseline and not (args.baseline / "webapp" / "serve.py").is_file():
            ap.error(f"--baseline {args.baseline}: no webapp/serve.py there")
        roots = (ROOT,) + ((args.baseline.resolve(),) if args.baseline else ())
        runs = startup_runs(args.startup_runs, roots)
        medians = {}
        for root, rs in runs.items():
            for took, load in rs:
                print(f"{root}: start-up to first page {took:.2f} s (load average {load:.1f})")
            medians[root] = statistics.median(r[0] for r in rs)
            print(
                f"{root}: median {medians[root]:.2f} s (min {min(r[0] for r in rs):.2f}, max "
                f"{max(r[0] for r in rs):.2f}) over {len(rs)} starts (target < 3 s)"
            )
        if args.baseline:
            print(
                f"this tree / baseline: {medians[ROOT] / medians[roots[1]]:.2f} (medians, same run,"
                " in turns)"
            )
        return 0
    if args.requests > 100_000 or args.seconds > 600:
        ap.error("bounded: at most 100000 requests and 600 seconds")
    proc, startup = None, None
    if args.spawn:
        host, port = "127.0.0.1", free_port()
        proc, startup = spawn(port)
    else:
        url = urlsplit(args.url)
        host, port = url.hostname, url.port or 80
        if host not in LOOPBACK:
            ap.error("loopback only: --url must be http://127.0.0.1:PORT or localhost")
    try:
        if not args.cold:
            warm_up(host, port, args.clients)
        cpu = tree_cpu(proc.pid) if proc is not None else None
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        s = run_load(
            host,
            port,
            clients=args.clients,
            requests=args.requests,
            seconds=args.seconds,
            new_share=args.new_share,
        )
        s["server_cpu_s"] = None if cpu is None else tree_cpu(proc.pid) - cpu
        s["load_average"] = None if load is None else round(load, 1)
    finally:
        if proc is not None:
            stop(proc)
    print(report(s, startup))
    ok = s["errors"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
