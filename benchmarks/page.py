"""The map page in a real browser: page weight and time to ready, this tree against a baseline
commit.

python -m benchmarks.page [--loads 7] [--baseline a42bf68 | --no-baseline]

Each version of the app is started as `python -m webapp.serve` on a free loopback port, with its own
temporary database and networks folder: this working tree, and the baseline commit (default a42bf68,
the last commit before the map's layers moved to cached endpoints) extracted with `git archive` into
a temporary folder (its `node_modules` a link to this tree's). Headless Debian chromium (driven from
Python the way tests/conftest.py and tests/test_browser.py do: playwright's client, never
`playwright install`) loads GET / once per version to warm the servers' caches, then ``--loads``
cold loads per version, interleaved, each in a new browser context (an empty HTTP cache).

Measured per load: the bytes transferred (navigation and every resource, headers included, from the
Resource Timing entries), the time from navigation start to ``document.body.dataset.ready`` (all 27
towns drawn) and to ``data-layers-ready`` (every layer of the layer control drawn; the baseline drew
them inline, before ``ready``, so for it the two are the same). Reported: medians, the HTML's bytes
raw and gzipped (fetched outside the browser), and the ratios baseline / this tree. One warm load
(the same context again: layers from the HTTP cache) is reported for this tree.

Checked (the run fails otherwise): both versions draw 27 town markers, the same overlays with the
same names in the layer control, and the same number of drawn features in each overlay.

Also reported (in process, shipped data): the bytes of all layers at the default parameters with
their coordinates rounded to 6, 5, 4 (the app's choice) and 3 decimals, raw and gzipped.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import io
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from benchmarks import load
from benchmarks.load import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "a42bf68"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# the moments the page sets its flags, relative to navigation start (installed before any page
# script)
TIMING = """(() => { const t = {}; window.__bench = t;
  new MutationObserver(() => { const b = document.body; if (!b) return;
    if (b.dataset.ready && t.ready === undefined) t.ready = performance.now();
    if (b.dataset.layersReady === "1" && t.layers === undefined) t.layers = performance.now(); })
  .observe(document, { attributes: true, subtree: true,
                      attributeFilter: ["data-ready", "data-layers-ready"] });
})();"""
# what the page drew: towns with a drawn marker, and per overlay of the layer control its drawn
# features
DRAWN = """() => { const b = JSON.parse(document.getElementById('boot').textContent);
  const overlays = window[b.registry.control + '_layers'].overlays;  // folium's name -> layer
  const markers = Object.values(b.registry.markers).filter(v => window[v] && window[v]._path
    && document.body.contains(window[v]._path)).length;
  const leaves = (l) => (l.eachLayer
    ? (() => { let n = 0; l.eachLayer(c => { n += leaves(c); }); return n; })() : 1);
  const drawn = Object.entries(overlays).map(([name, layer]) => [name.trim(), leaves(layer)]);
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const bytes = nav.transferSize + resources.reduce((s, r) => s + r.transferSize, 0);
  return { markers, overlays: drawn, bytes, requests: 1 + resources.length,
           ready: window.__bench.ready, layers: window.__bench.layers,
           flag: document.body.dataset.layersReady !== undefined }; }"""


def extract(commit: str, into: Path) -> Path:
    """The files of ``commit`` (git archive) in ``into``, with this tree's node_modules linked."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "node_modules").symlink_to((ROOT / "node_modules").resolve())
    return into


def spawn(root: Path, work: Path, timeout: float = 90) -> tuple[subprocess.Popen, int]:
    """`python -m webapp.serve` of the tree at ``root`` with a fresh database; (process, port)."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    proc, _ = load.spawn(
        port,
        timeout,
        root=root,
        env_extra={
            "DATABASE_URL": f"sqlite:///{work / 'atlas.sqlite3'}",
            "SECRET_KEY": "benchmark",
            "NETWORKS_ROOT": str(work / "networks"),
        },
    )
    return proc, port


def html_bytes(port: int) -> tuple[int, int]:
    """GET /: (bytes as sent without gzip, bytes as sent gzipped)."""
    out = []
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/", headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if headers and resp.getheader("Content-Encoding") != "gzip":
            body = gzip.compress(body)
        out.append(len(body))
        conn.close()
    return out[0], out[1]


def load_once(browser, port: int, *, context=None) -> dict:
    """One load of GET / in a new context (cold) or in ``context`` (its cache as it is)."""
    ctx = context or browser.new_context(viewport={"width": 1500, "height": 900})
    page = ctx.new_page()
    page.add_init_script(TIMING)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    # a page that fetches its layers says so in its boot data ("layers"); the baseline's were inline
    page.wait_for_function(
        "() => document.body.dataset.layersReady === '1'"
        " || !JSON.parse(document.getElementById('boot').textContent).layers",
        timeout=60000,
    )
    got = page.evaluate(DRAWN)
    if got["layers"] is None:  # no separate flag: every layer was drawn inline, before ready
        got["layers"] = got["ready"]
    got["errors"] = errors
    page.close()
    if context is None:
        ctx.close()
    return got


def check_same(name: str, got: dict, ref: dict) -> list[str]:
    """What differs between a load and the reference drawing (27 markers, overlays and their
    features)."""
    problems = []
    if got["markers"] != 27:
        problems.append(f"{name}: {got['markers']} town markers drawn, not 27")
    if got["errors"]:
        problems.append(f"{name}: page errors {got['errors']}")
    if got["overlays"] != ref["overlays"]:
        problems.append(f"{name}: overlays {got['overlays']} differ from {ref['overlays']}")
    return problems


def run(loads: int, baseline: str | None) -> int:
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    if not exe:
        print("Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-page-"))
    procs, versions = [], {}
    try:
        if baseline:
            base_root = extract(baseline, tmp / "baseline")
            versions[f"baseline {baseline}"] = base_root
        versions["this tree"] = ROOT
        ports = {}
        for i, (name, root) in enumerate(versions.items()):
            proc, port = spawn(root, tmp / f"work{i}")
            procs.append(proc)
            ports[name] = port
        sizes = {name: html_bytes(port) for name, port in ports.items()}
        results = {name: [] for name in versions}
        warm_cache = None
        problems = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
            ref = None
            for name, port in ports.items():  # warm the servers' caches (not counted)
                first = load_once(browser, port)
                ref = ref or first
                problems += check_same(name + " (warm-up)", first, ref)
            for _ in range(loads):
                for name, port in ports.items():
                    got = load_once(browser, port)
                    problems += check_same(name, got, ref)
                    results[name].append(got)
            ctx = browser.new_context(viewport={"width": 1500, "height": 900})
            load_once(browser, ports["this tree"], context=ctx)
            warm_cache = load_once(browser, ports["this tree"], context=ctx)
            problems += check_same("this tree (warm cache)", warm_cache, ref)
            ctx.close()
            browser.close()
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    print(report(results, sizes, warm_cache, loads, ref))
    print(precision_table())
    for line in problems:
        print("CHECK FAILED:", line)
    return 1 if problems else 0


def precision_table(digits=(6, 5, 4, 3)) -> str:
    """Bytes of every layer (default parameters, English) with coordinates rounded to each of
    ``digits``."""
    from webapp import create_app
    from webapp.map import layers
    from webapp.model import get_atlas
    from webapp.pages.views import translator

    tmp = Path(tempfile.mkdtemp(prefix="bench-page-db-"))
    try:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp / 'a.sqlite3'}",
                "SECRET_KEY": "benchmark",
                "NETWORKS_ROOT": str(tmp / "networks"),
            }
        )
        lines = [
            "layers' bytes by coordinate decimals (all 8 layers, default parameters; 1e-4 degree <="
            " 11 m):"
        ]
        kept = layers.DIGITS
        with app.test_request_context("/"):
            svc = get_atlas()
            t = translator(svc, "en")
            try:
                for d in digits:
                    layers.DIGITS = d
                    svc.cache.clear()
                    svc.__dict__.pop(
                        "oblasts_geojson", None
                    )  # rounded once per process: again at d
                    raw = [
                        json.dumps(
                            layers.build(n, svc, svc.default_params, t),
                            ensure_ascii=False,
                            separators=(",", ":"),
                        ).encode()
                        for n in layers.LAYERS
                    ]
                    mark = "  (the app)" if d == kept else ""
                    lines.append(
                        f"  {d} decimals: {sum(map(len, raw)):>9,} bytes, gzipped "
                        f"{sum(len(gzip.compress(r, 6)) for r in raw):>8,}{mark}"
                    )
            finally:
                layers.DIGITS = kept
        return "\n".join(lines)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(results: dict, sizes: dict, warm: dict | None, loads: int, ref: dict) -> str:
    lines = [
        (
            f"GET / in headless chromium, median of {loads} cold loads each (new context, empty"
            " HTTP cache; servers warmed by one load)"
        ),
        (
            f"  {'version':22} {'HTML raw':>10} {'HTML gzip':>10} {'requests':>9}"
            f" {'transferred':>12} {'ready ms':>9} {'layers-ready ms':>16}"
        ),
    ]
    med = {}
    for name, rows in results.items():
        raw, gz = sizes[name]
        med[name] = m = {
            "raw": raw,
            "gzip": gz,
            "bytes": _median(rows, "bytes"),
            "requests": _median(rows, "requests"),
            "ready": _median(rows, "ready"),
            "layers": _median(rows, "layers"),
        }
        lines.append(
            f"  {name:22} {raw:>10,} {gz:>10,} {m['requests']:>9.0f} {m['bytes']:>12,.0f} "
            f"{m['ready']:>9.0f} {m['layers']:>16.0f}"
        )
        lines.append(
            f"  {'':22} ready ms of each load: " + ", ".join(f"{r['ready']:.0f}" for r in rows)
        )
    if warm:
        lines.append(
            f"  this tree, warm HTTP cache (one repeat load): transferred {warm['bytes']:,} bytes, "
            f"ready {warm['ready']:.0f} ms, layers-ready {warm['layers']:.0f} ms"
        )
    names = list(med)
    if len(names) == 2:
        a, b = med[names[0]], med[names[1]]
        lines.append(
            f"  ratios {names[0]} / this tree: HTML raw {a['raw'] / b['raw']:.1f}x, transferred "
            f"{a['bytes'] / b['bytes']:.2f}x, ready {a['ready'] / b['ready']:.2f}x, "
            f"layers-ready {a['layers'] / b['layers']:.2f}x"
        )
    lines.append("  targets: HTML < 250,000 bytes; ready < 1,000 ms")
    lines.append(
        "  same drawing in every load (checked): 27 markers; overlays and features: "
        + ", ".join(f"{n} {c}" for n, c in ref["overlays"])
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.page",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--loads", type=int, default=7, help="cold loads per version (at least 5)")
    ap.add_argument("--baseline", default=BASELINE, help="the commit measured as the baseline")
    ap.add_argument("--no-baseline", action="store_true", help="measure this tree only")
    args = ap.parse_args(argv)
    if not 5 <= args.loads <= 50:
        ap.error("--loads: 5 to 50")
    return run(args.loads, None if args.no_baseline else args.baseline)


if __name__ == "__main__":
    sys.exit(main())
