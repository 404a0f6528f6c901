"""Network versions in the app: the list, an editor's upload (imported in a background thread) and a
comparison of two versions town by town.

An upload is saved to a temporary folder under the networks root, imported with
``geo.netimport.import_network`` and saved with ``save_version`` in a thread; the request waits at
most ``NETWORK_IMPORT_WAIT`` seconds, then answers with the state (the page refreshes itself while
the import runs; ``GET /api/networks/import-status`` for scripts). A file that cannot be imported
saves nothing: the versions, and every result, stay as they were.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename

from geo import ParamError
from geo.netimport import (
    DEFAULT_ROOT,
    NetworkImportError,
    delete_version,
    import_network,
    list_versions,
    save_version,
)
from geo.params import VERSION_NAME, default_params
from geo.versions import SHIPPED

from webapp.map.serialize import verdict_label
from webapp.store.auth import current_editor, editor_required
from webapp.i18n import T, pick_lang
from webapp.model import get_atlas
from webapp.params import from_args
from webapp.security import public_text
from webapp.store.db import JOB_MAX_S, JobBoard

bp = Blueprint("networks", __name__)
log = logging.getLogger(__name__)
SUFFIXES = (".osm.pbf", ".pbf", ".gpkg", ".geojson", ".zip")  # .zip: a zipped shapefile
SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
MAX_UNZIPPED = 4 * 1024**3
MAX_ZIP_RATIO = 100  # a shapefile packs 2-10 times; far more is a zip bomb
COMPARED = ("aggl_in_fua", "aggl_near_large_city", "aggl_corridor_junction")
JOB = "network-import"
PROGRESS_EVERY_S = 0.5  # progress is written to the store at most this often
STAGING = ".upload-"  # an upload's staging folder under the networks root (removed when it ends)
STAGING_GRACE_S = 600.0  # older than this, with no import running, a staging folder is a leftover


def _classes_said(report: dict) -> str:
    """Where a line layer's road classes came from (an OSM extract says nothing more): a column
    found by its name, or none, every line then a republican road (the command line maps others:
    ``python -m geo import-network --class-col``)."""
    if report.get("kind") != "lines":
        return ""
    column = (report.get("columns") or {}).get("class")
    if column:
        return f"; road classes from the column '{column}'"
    return ("; no road class column (highway or class): every line taken as a republican road"
            " (python -m geo import-network --class-col maps another column)")


class Importer:
    """One network import at a time, in a background thread; ``status()`` says how it goes.

    The state is kept in the store (``webapp.store.db.JobBoard``) when the importer has one, so
    every worker process sees the same import and none starts a second while one runs; an import
    still running an hour (``JOB_MAX_S``) after its start (its process ended) is reported as failed.
    Without a store (``store=None``) it is kept in this process.
    """

    def __init__(self, root: Path, store=None):
        self.root = Path(root)
        self._lock = threading.Lock()
        self._state: dict = {"state": "idle"}
        self.board: JobBoard | None = None
        self._last_progress = 0.0
        self.on_saved = None  # called after a version is saved (drops what was rendered)
        if store is not None:
            self.attach(store)

    def attach(self, store) -> None:
        """Keep the state in ``store`` from now on (shared with every process using it), and remove
        the staging folders a stopped process left (``clean_staging``)."""
        self.board = JobBoard(store, JOB)
        clean_staging(self.root, running=self.status()["state"] == "running")

    def status(self) -> dict:
        """State (idle, running, done, failed), name, file, message, progress, started, finished."""
        if self.board is not None:
            return dict(self.board.status()[0])
        with self._lock:
            return dict(self._state)

    def start(self, path: Path, name: str, folder: Path) -> threading.Thread | None:
        """Import ``path`` as version ``name`` in a thread (``folder`` removed at the end); None if
        one runs."""
        state = {
            "state": "running",
            "name": name,
            "file": path.name,
            "message": "",
            "progress": {},
            "started": _now(),
            "finished": "",
        }
        with self._lock:
            if self.board is not None:
                if not self.board.claim(state):
                    return None
            elif self._state["state"] == "running":
                return None
            self._state = state
        thread = threading.Thread(
            target=self._run, args=(path, name, folder), daemon=True, name=f"network-import-{name}"
        )
        thread.start()
        return thread

    def _progress(self, counts: dict) -> None:
        with self._lock:
            self._state["progress"] = {
                k: v for k, v in dict(counts).items() if isinstance(v, (int, float, str))
            }
            state, now = dict(self._state), time.monotonic()
            due = now - self._last_progress >= PROGRESS_EVERY_S
            if due:
                self._last_progress = now
        if due and self.board is not None:
            self.board.update(state)

    def _run(self, path: Path, name: str, folder: Path) -> None:
        try:
            net = import_network(path, progress=self._progress)
            save_version(net, name, self.root)
            if self.on_saved:
                self.on_saved()
            self._finish(
                "done",
                f"{net.report['nodes']:,} nodes, {net.report['edges']:,} edges, "
                f"{net.report['km']:,.0f} km" + _classes_said(net.report),
            )
        except NetworkImportError as exc:
            self._finish("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure of a file is reported, never a dead thread
            log.exception("network import of %s failed", path.name)
            self._finish(
                "failed", f"{path.name} could not be imported ({type(exc).__name__}: {exc})"
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _finish(self, state: str, message: str) -> None:
        message = public_text(message)  # the status is public: file names, never server folders
        with self._lock:
            self._state.update(state=state, message=message, finished=_now())
            final = dict(self._state)
        if self.board is not None:
            self.board.finish(final)


def clean_staging(root: Path, *, running: bool) -> list[Path]:
    """Remove the upload staging folders (``.upload-*``) a process that stopped mid-upload or mid-
    import left under ``root``; returns them.

    A folder still in use is spared: one written in
    the last ``STAGING_GRACE_S`` (an upload being saved, in this or another server), and, while an
    import runs, one younger than the longest import (``JOB_MAX_S``: it may hold that file).
    """
    keep_s = JOB_MAX_S if running else STAGING_GRACE_S
    removed = []
    for folder in sorted(root.glob(STAGING + "*")) if root.is_dir() else []:
        if folder.is_symlink() or not folder.is_dir():
            continue
        if time.time() - folder.stat().st_mtime > keep_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("removed %d staging folder(s) left by a stopped upload or import", len(removed))
    return removed


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def get_importer() -> Importer:
    return current_app.extensions["network_import"]


def _t() -> T:
    return T(pick_lang(request.values.get("lang")), get_atlas().method)


# -- the list ------------------------------------------------------------------------------------


def versions() -> list[dict]:
    """Every version with name, source, date, sha256, nodes, edges and km (the shipped one
    first)."""
    svc = get_atlas()
    net = svc.spatial.network(default_params())
    shipped = svc.pipeline.network_info(SHIPPED) | {
        "nodes": int(net.n_nodes),
        "edges": int(len(net.u)),
        "km": round(float(net.km.sum()), 3),
    }
    return [shipped, *list_versions(svc.pipeline.networks_root)]


# what a network import or upload message says, for a page in another language than English: the
# first pattern found in the (English) message names the key of translations.json saying it
IMPORT_GISTS = (
    ("file: choose a file", "net_err_nofile"),
    ("is not one of", "net_err_type"),
    ("unknown file type", "net_err_type"),
    ("could not be read as OpenStreetMap data", "net_err_osm"),
    ("could not be read as a GIS layer", "net_err_layer"),
    ("its content is another", "net_err_content"),
    ("no coordinate reference system", "net_err_crs"),
    ("has no roads", "net_err_roads"),
    ("no segment with two", "net_err_roads"),
    ("is empty (0 bytes)", "net_err_empty"),
    ("class value(s)", "net_err_class"),
    ("outside longitude", "net_err_coords"),
    ("name: 1-64 letters", "net_err_name"),
    ("not allowed: use 1-64", "net_err_name"),
    ("exists", "net_err_exists"),
    ("unpacks to", "net_err_zip"),
    ("larger than", "net_err_zip"),
)


@bp.app_template_global("import_said")
def import_said(t: T, message: str) -> str:
    """A network import's or upload's message in the page's language: in kk and ru what is wrong
    in a sentence of its own, the parser's English detail after it (the detail names the file and
    values; it is not translated)."""
    if t.lang == "en" or not message:
        return message
    key = next((k for pattern, k in IMPORT_GISTS if pattern in message), None)
    gist = t(key) if key else t("net_err_other")
    return f"{gist} ({t('detail_in_english')}: {message})"


def _page(problems: list[str] | None = None, status: int = 200, importing: dict | None = None):
    problems = [public_text(p) for p in problems or []]  # no server folders in what a page shows
    return (
        render_template(
            "networks.html",
            t=_t(),
            versions=versions(),
            problems=problems,
            importing=importing or get_importer().status(),
            suffixes=SUFFIXES,
        ),
        status,
    )


@bp.get("/networks")
def networks():
    """The network versions, and for an editor the upload form."""
    return _page()


# -- the upload ----------------------------------------------------------------------------------


def _check_upload(file, name: str, known: list[str]) -> list[str]:
    """What is wrong with an upload's file and name (empty: nothing)."""
    problems = []
    if file is None or not file.filename:
        problems.append("file: choose a file (" + ", ".join(SUFFIXES) + ")")
    elif not file.filename.lower().endswith(SUFFIXES):
        problems.append(f"file: '{file.filename}' is not one of " + ", ".join(SUFFIXES))
    if not VERSION_NAME.match(name):
        problems.append(
            "name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    elif name in known:
        problems.append(f"name: a version '{name}' exists; choose another name")
    return problems


def _unzip_shapefile(archive: Path, folder: Path) -> Path:
    """The one .shp of a zipped shapefile, extracted flat (its parts only) into ``folder``."""
    try:
        with zipfile.ZipFile(archive) as z:
            members = [
                m
                for m in z.infolist()
                if not m.is_dir() and m.filename.lower().endswith(SHAPE_PARTS)
            ]
            unzipped = sum(m.file_size for m in members)
            if unzipped > MAX_UNZIPPED:
                raise NetworkImportError(
                    f"{archive.name}: the shapefile is larger than {MAX_UNZIPPED >> 30} GB unzipped"
                )
            if unzipped > MAX_ZIP_RATIO * max(archive.stat().st_size, 1):
                raise NetworkImportError(
                    f"{archive.name} unpacks to {unzipped:,} bytes, more than {MAX_ZIP_RATIO} "
                    "times its size; zip the shapefile's parts as they are"
                )
            for m in members:
                target = folder / secure_filename(Path(m.filename).name)
                with z.open(m) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise NetworkImportError(f"{archive.name} is not a readable zip archive ({exc})") from None
    shps = sorted(folder.glob("*.shp"))
    if len(shps) != 1:
        raise NetworkImportError(
            f"{archive.name} must hold exactly one shapefile (.shp with .shx, .dbf, .prj); "
            f"found {len(shps)}"
        )
    return shps[0]


def _stage(file, root: Path) -> tuple[Path, Path]:
    """The uploaded file saved into a new temporary folder under ``root``: (file to import,
    folder)."""
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=STAGING, dir=root))
    path = folder / (secure_filename(file.filename) or "upload")
    file.save(path)
    if path.suffix.lower() != ".zip":
        return path, folder
    try:
        return _unzip_shapefile(path, folder), folder
    except NetworkImportError:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@bp.post("/networks")
@editor_required
def upload():
    """An editor's upload: checked, staged, imported in the background; the page with the
    outcome."""
    svc = get_atlas()
    file, name = request.files.get("file"), request.form.get("name", "").strip()
    problems = _check_upload(file, name, svc.pipeline.versions())
    if problems:
        return _page(problems, 400)
    importer = get_importer()
    if importer.status()["state"] == "running":
        return _page([_t()("network_import_busy")], 409)
    try:
        path, folder = _stage(file, importer.root)
    except NetworkImportError as exc:
        return _page([str(exc)], 400)
    importer.on_saved = svc.networks_changed
    thread = importer.start(path, name, folder)
    if thread is None:
        shutil.rmtree(folder, ignore_errors=True)
        return _page([_t()("network_import_busy")], 409)
    log.info("network import of %s as '%s' started by %s", path.name, name, current_editor())
    thread.join(timeout=float(current_app.config["NETWORK_IMPORT_WAIT"]))
    state = importer.status()
    return _page(status={"done": 200, "running": 202}.get(state["state"], 400), importing=state)


@bp.post("/networks/<name>/delete")
@editor_required
def delete(name: str):
    """An editor removes an imported version (the shipped network cannot be removed)."""
    svc = get_atlas()
    if name == SHIPPED or name not in svc.pipeline.versions():
        return _page([f"name: no imported network version '{name}'"], 404)
    if request.form.get("confirm") != "yes":
        return _page(["confirm: tick the box to confirm the deletion"], 400)
    try:
        delete_version(name, svc.pipeline.networks_root)
    except NetworkImportError as exc:
        return _page([str(exc)], 400)
    svc.networks_changed()
    log.info("network version '%s' deleted by %s", name, current_editor())
    return _page(importing={"state": "deleted", "name": name, "file": "", "message": ""})


# -- the comparison ------------------------------------------------------------------------------


def _number(x):
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _row(what: str, a, b) -> dict:
    """One compared value: both values and, for numbers, the difference and the % of ``a``."""
    na, nb = _number(a), _number(b)
    diff = None if na is None or nb is None else nb - na
    pct = None if diff is None or not na else 100.0 * diff / na
    return {"what": what, "a": a, "b": b, "diff": diff, "pct": pct}


def _town_rows(ta: dict, tb: dict) -> list[dict]:
    """What differs for one town between two results (nearest city, road km, inputs, scenario)."""
    ga, gb = ta["agglomeration"], tb["agglomeration"]
    rows = [
        _row("nearest_large_city", ga["nearest_large_city"], gb["nearest_large_city"]),
        _row("road_km", ga["road_km"], gb["road_km"]),
    ]
    rows += [_row(k, ta["inputs"][k], tb["inputs"][k]) for k in COMPARED]
    # what the map says (a tie, undetermined ...), as the changes tables compare it
    rows.append(_row("scenario", verdict_label(ta["scenario"]), verdict_label(tb["scenario"])))
    return [r for r in rows if r["a"] != r["b"]]


def compare(params, a: str, b: str) -> dict:
    """Town id -> differing rows between versions ``a`` and ``b`` at ``params``; ParamError if
    unknown."""
    svc = get_atlas()
    pa, pb = params.with_changes(network=a), params.with_changes(network=b)
    ra, rb = svc.results(pa), svc.results(pb)
    out = {}
    for ta, tb in zip(ra["towns"], rb["towns"]):
        rows = _town_rows(ta, tb)
        if rows:
            out[ta["id"]] = rows
    return {"towns": out, "a": ra["parameters"]["network"], "b": rb["parameters"]["network"]}


@bp.get("/networks/compare")
def compare_page():
    """Towns whose nearest city, road km, agglomeration inputs or scenario differ between two
    versions."""
    svc, t = get_atlas(), _t()
    args = {k: v for k, v in request.args.items() if k not in ("a", "b")}
    a, b = request.args.get("a", SHIPPED), request.args.get("b", SHIPPED)
    try:
        result, problems = compare(from_args(args), a, b), []
    except ParamError as exc:
        result, problems = None, [f"{k}: {v}" for k, v in exc.field_errors.items()]
    return render_template(
        "network_compare.html",
        t=t,
        result=result,
        problems=problems,
        a=a,
        b=b,
        names=svc.pipeline.versions(),
        metas=svc.metas,
        city_names={r["name_en"]: t.name(r) for r in svc.city_rows.values()},
        binary={n for n, spec in svc.method.inputs.items() if spec.kind == "binary"},
    ), (400 if problems else 200)


# -- the API -------------------------------------------------------------------------------------


@bp.get("/api/networks")
def api_networks():
    """The network versions (name, source, date, sha256, nodes, edges, km) and the import state."""
    return {"versions": versions(), "import": get_importer().status()}


@bp.get("/api/networks/import-status")
def api_import_status():
    """The state of the latest upload's import (polled while it runs)."""
    return get_importer().status()


def _upload_limit():
    """before_request: an uploaded network file may be larger than the app's other bodies, and only
    a signed-in editor's is read (anyone else is refused before the body is parsed)."""
    if request.method == "POST" and request.path == "/networks":
        if current_editor() is None:
            return redirect(url_for("auth.login", next="/networks", lang=request.args.get("lang")))
        request.max_content_length = int(current_app.config["NETWORK_UPLOAD_MB"]) * 1024 * 1024
    return None


def init_app(app) -> None:
    """The importer (one per app, over the app's networks root) and the upload limit."""
    root = app.config.get("NETWORKS_ROOT")
    app.extensions["network_import"] = Importer(Path(root) if root else DEFAULT_ROOT)
    app.before_request(_upload_limit)
