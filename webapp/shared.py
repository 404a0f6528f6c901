"""Rendered answers shared by the server's worker processes and kept across restarts, on disk.

Each worker process keeps what it rendered in memory (``Atlas.rendered``); without this tier every
worker would render each map page, towns payload, layer and popup set once for itself, and a restart
would render them all again. ``SharedRendered`` keeps each rendered answer (``webapp.http.Rendered``:
its bytes, deflate segments and ETag) in a file of its own, named by a hash of

- the fingerprint (``fingerprint``): the code and templates, the data and method files, the installed
  versions of the libraries that render, the configuration, and the network versions' files (names,
  sizes, modification times), computed once per process at start-up (``webapp.serve``);
- the stored data's state: the store's head revision (every import, edit, judgment and rollback moves
  it) and the networks folder's stamp (a new version);
- the answer's key (what it is, its parameters and language).

An answer is written only when the state did not move while it was rendered, and never while a data note
is shown (a corrupt database set aside). Files are written atomically (a reader sees a whole answer or
none); a damaged file is a miss and is removed. The folder is bounded in bytes (oldest read first out):
a hit refreshes the file's time. Everything here is best effort: an error of the file system is a miss.
Values are stored with ``marshal`` (bytes and strings only; no code is run on reading), as their deflate
segments only (the bytes are inflated on reading: about 1 ms for a 300 kB payload).
"""
from __future__ import annotations

import hashlib
import marshal
import os
import re
import shutil
import sys
import threading
import time
import zlib
from pathlib import Path

from .http import NONCE_TOKEN, Rendered, etag_of

FORMAT = 2
SUFFIX = ".rendered"
FOLDER_CHARS = 20  # a fingerprint's folder: its first characters
CODE_DIRS = ("webapp", "geo", "scoring", "templates")
RENDERING_PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "folium", "branca", "numpy", "pandas",
                      "geopandas", "shapely", "pyproj", "pyogrio", "scipy", "sqlalchemy")
CONFIG_KEYS = ("DATA_DIR", "NETWORKS_ROOT", "VENDOR_DIR", "VENDOR_PACKAGES", "APPLICATION_ROOT")


# -- the fingerprint of what renders ------------------------------------------------------------------

def _files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def code_roots() -> list[Path]:
    """The folders whose files are the code and templates that render the pages."""
    from . import ROOT

    return [ROOT / d for d in CODE_DIRS]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def installed_versions() -> dict:
    """Installed distributions' versions from their ``*.dist-info`` folder names on ``sys.path`` (one
    listing per folder; importlib.metadata parses each METADATA file, some 1 ms a package); the first
    one on the path wins, as for an import."""
    out: dict = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and "-" in name:
                dist, _, ver = name[: -len(".dist-info")].partition("-")
                out.setdefault(_normalise(dist), ver)
    return out


def fingerprint(app) -> str:
    """The hash of what every rendered answer may depend on besides the stored data and its own key:
    code and templates (``code_roots``), the data folder (method files included), library versions
    (``RENDERING_PACKAGES``), configuration (``CONFIG_KEYS``) and the network version files (named by
    size and time: an imported version's arrays may be large). Some 30 ms on the shipped tree."""
    from importlib.metadata import PackageNotFoundError, version

    from scoring.method import DEFAULT_METHOD_DIR  # used when the data folder has no method/ of its own

    svc = app.extensions["atlas"]
    h = hashlib.blake2b(digest_size=20)

    def add(*items) -> None:
        h.update(repr(items).encode() + b"\0")

    installed = installed_versions()

    def versions():
        for name in RENDERING_PACKAGES:
            found = installed.get(_normalise(name))
            if found is None:
                try:
                    found = version(name)
                except PackageNotFoundError:
                    pass
            yield name, found

    add("fingerprint", FORMAT, sys.version, list(versions()), [(k, app.config.get(k)) for k in CONFIG_KEYS])
    data_root = Path(svc.pipeline.sources.root)
    inside = Path(DEFAULT_METHOD_DIR).resolve().is_relative_to(data_root.resolve())  # then already read with it
    roots = code_roots() + [data_root] + ([] if inside else [Path(DEFAULT_METHOD_DIR)])
    for root in roots:
        add("tree", str(root))
        for path in _files(root):
            add(str(path.relative_to(root)))
            h.update(path.read_bytes())
    networks = Path(svc.pipeline.networks_root)
    for path in _files(networks):
        st = path.stat()
        add("network file", str(path.relative_to(networks)), st.st_size, st.st_mtime_ns)
    return h.hexdigest()


# -- the folder -----------------------------------------------------------------------------------------

class SharedRendered:
    """Rendered answers in ``folder`` (a subfolder per fingerprint), about ``max_bytes`` of files at most:
    pruned at start-up (``sweep``) and whenever a process has written an eighth of it since (so with n
    workers the folder may hold up to (1 + n/8) x ``max_bytes`` between two prunings)."""

    def __init__(self, folder: str | os.PathLike, max_bytes: int = 256 * 1024 * 1024):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.hits = self.misses = self.writes = 0
        self._written = 0
        self._lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass

    @staticmethod
    def name(fingerprint: str, state: tuple, key: tuple) -> str:
        """The file (in a folder of its fingerprint's) of the answer ``key`` rendered with ``fingerprint``
        from the stored ``state``."""
        h = hashlib.blake2b(digest_size=20)
        h.update(repr((FORMAT, fingerprint, state, key)).encode())
        return f"{fingerprint[:FOLDER_CHARS]}/{h.hexdigest()}{SUFFIX}"

    def sweep(self, fingerprint: str, tmp_age_s: float = 600) -> int:
        """After a start (each worker, once it listens): remove what other fingerprints rendered (older code
        or data: never asked for again), files of an earlier layout (answers at the top of the folder) and
        temporary files left by a killed process, then ``prune``. Returns the bytes kept."""
        keep = fingerprint[:FOLDER_CHARS]
        now = time.time()
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return 0
        for entry in entries:
            if entry.is_dir() and entry.name != keep:
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_file():
                self._remove(entry)
        for tmp in self.folder.glob("*/*.tmp"):
            try:
                if now - tmp.stat().st_mtime > tmp_age_s:
                    tmp.unlink()
            except OSError:
                continue
        return self.prune()

    def get(self, name: str) -> Rendered | None:
        path = self.folder / name
        try:
            raw = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        try:
            fmt, deflated, mimetype, etag = marshal.loads(raw)
            if fmt != FORMAT or not isinstance(deflated, tuple) or not all(isinstance(p, bytes) for p in deflated) \
                    or not isinstance(mimetype, str) or not isinstance(etag, str):
                raise ValueError("not a rendered answer")
            parts = tuple(zlib.decompressobj(-15).decompress(seg) for seg in deflated)
            if etag_of(NONCE_TOKEN.encode().join(parts)) != etag:
                raise ValueError("the bytes are not those the ETag names")
            value = Rendered(parts, deflated, mimetype, etag)
        except (EOFError, ValueError, TypeError, zlib.error):
            self.misses += 1
            self._remove(path)
            return None
        self.hits += 1
        try:
            os.utime(path)  # read recently: kept longer (oldest read first out)
        except OSError:
            pass
        return value

    def put(self, name: str, value: Rendered) -> bool:
        """Write ``value`` as ``name`` (atomically); False if it could not be written."""
        data = marshal.dumps((FORMAT, value.deflated, value.mimetype, value.etag))  # the bytes: inflated on reading
        path = self.folder / name
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            self._remove(tmp)
            return False
        with self._lock:
            self.writes += 1
            self._written += len(data)
            check = self._written > self.max_bytes // 8
            if check:
                self._written = 0
        if check:
            self.prune()
        return True

    def prune(self) -> int:
        """Remove the files read or written longest ago until the folder holds at most 80 % of
        ``max_bytes``; returns the bytes it holds then."""
        files = []
        for path in self.folder.glob(f"*/*{SUFFIX}"):
            try:
                st = path.stat()
            except OSError:
                continue
            files.append((st.st_mtime_ns, st.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return total
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self.max_bytes * 0.8:
                break
            if self._remove(path):
                total -= size
        return total

    @staticmethod
    def _remove(path: Path) -> bool:
        try:
            path.unlink()
            return True
        except OSError:
            return False

    def stats(self) -> dict:
        return {"folder": str(self.folder), "hits": self.hits, "misses": self.misses, "writes": self.writes}
