"""HTTP efficiency: answers rendered once and kept as bytes, gzip when accepted, ETags and 304s.

``cached(key, build, mimetype)`` renders an answer once per key (the caller puts the data
generation, parameters and language in the key) and keeps its bytes, its gzip and an ETag on the
atlas service (bounded in bytes). ``respond`` turns it into a response: 304 when the client's
``If-None-Match`` matches, gzip when ``Accept-Encoding`` allows it.

Per-response CSP nonces: while an answer is rendered for the cache, ``g.csp_nonce`` holds
``NONCE_TOKEN`` (use ``csp_nonce()`` or ``g.csp_nonce`` in templates and render functions); each
response then substitutes the request's own ``g.csp_nonce``. The gzip of such a page is kept as
deflate segments between the tokens, so the substitution costs no recompression. A page carrying a
nonce gets no ETag (a 304 would pair an old body with a new nonce).

``init_app`` registers an ``after_request`` hook that compresses, and tags with an ETag, the other
dynamic text answers (town pages, single-town API, exports).
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from flask import Response, g, request

NONCE_TOKEN = "__CSP_NONCE_7f3c2a__"
_TOKEN = NONCE_TOKEN.encode()
MIN_COMPRESS = 1024  # bytes; smaller answers are sent as they are
COMPRESSIBLE = ("text/", "application/json", "application/geo+json", "application/javascript", "image/svg+xml")
LEVEL = 6
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FINAL_BLOCK = zlib.compressobj(LEVEL, zlib.DEFLATED, -15).flush()  # an empty last deflate block


def csp_nonce() -> str:
    """The nonce to write into a page: the token while rendering for the cache, else the request's own
    (made by webapp.security when it is first asked for, and sent in the CSP header)."""
    from .security import csp_nonce as request_nonce

    return request_nonce()


@dataclass(frozen=True)
class Rendered:
    """One rendered answer: its bytes (split at the nonce tokens), their deflate segments, an ETag."""

    parts: tuple[bytes, ...]  # the body split at NONCE_TOKEN
    deflated: tuple[bytes, ...]  # raw deflate of each part, sync-flushed (byte-aligned, not final)
    mimetype: str
    etag: str

    @property
    def nbytes(self) -> int:
        return sum(map(len, self.parts)) + sum(map(len, self.deflated)) + 200

    @property
    def has_nonce(self) -> bool:
        return len(self.parts) > 1

    def body(self, nonce: str = "") -> bytes:
        return nonce.encode().join(self.parts)

    def gzipped(self, nonce: str = "") -> bytes:
        """gzip of ``body(nonce)``: the cached segments joined by the (tiny) compressed nonce."""
        glue = _deflate(nonce.encode()) if self.has_nonce else b""
        raw = self.body(nonce)
        trailer = struct.pack("<II", zlib.crc32(raw) & 0xFFFFFFFF, len(raw) & 0xFFFFFFFF)
        return _GZIP_HEADER + glue.join(self.deflated) + _FINAL_BLOCK + trailer


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)


def etag_of(data: bytes) -> str:
    """The ETag of a rendered answer's bytes (with NONCE_TOKEN where the nonces go)."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def render(text: str | bytes, mimetype: str) -> Rendered:
    """Bytes, deflate segments and ETag of a rendered answer (NONCE_TOKEN marks nonce places)."""
    data = text.encode() if isinstance(text, str) else text
    parts = tuple(data.split(_TOKEN))
    return Rendered(parts, tuple(_deflate(p) for p in parts), mimetype, etag_of(data))


@contextmanager
def rendering_for_cache():
    """Within: ``g.csp_nonce`` is NONCE_TOKEN, so the rendered bytes serve every later request."""
    had, old = "csp_nonce" in g, g.get("csp_nonce")
    g.csp_nonce = NONCE_TOKEN
    try:
        yield
    finally:
        if had:
            g.csp_nonce = old
        else:
            g.pop("csp_nonce", None)


def cached(key: tuple, build: Callable[[], str | bytes], mimetype: str, *, share: bool = True) -> Rendered:
    """The answer for ``key``, rendered once (kept on the atlas service, bounded in bytes; ``share``: and
    in the folder the server's processes share, ``webapp.shared``)."""
    from .model import get_atlas

    def make() -> Rendered:
        with rendering_for_cache():
            return render(build(), mimetype)
    return get_atlas().rendered(key, make, share=share)


def accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def respond(rendered: Rendered, *, status: int = 200, conditional: bool = True) -> Response:
    """A response for a cached answer: 304 on a matching ETag, gzip when accepted, the nonce filled in."""
    nonce = csp_nonce() if rendered.has_nonce else ""
    tagged = conditional and not rendered.has_nonce
    if tagged and rendered.etag in request.if_none_match:
        resp = Response(status=304)
        resp.set_etag(rendered.etag)
        return resp
    if accepts_gzip() and sum(map(len, rendered.parts)) >= MIN_COMPRESS:
        resp = Response(rendered.gzipped(nonce), status=status, mimetype=rendered.mimetype)
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = Response(rendered.body(nonce), status=status, mimetype=rendered.mimetype)
    resp.vary.add("Accept-Encoding")
    if tagged:
        resp.set_etag(rendered.etag)
    resp.headers["X-Compressed-Cache"] = "1"  # marks answers the after_request hook leaves alone
    return resp


def _compressible(resp: Response) -> bool:
    return (resp.status_code == 200 and not resp.direct_passthrough and not resp.is_streamed
            and "Content-Encoding" not in resp.headers and (resp.mimetype or "").startswith(COMPRESSIBLE))


def finish(resp: Response) -> Response:
    """after_request: ETag + conditional GET, then gzip, for dynamic text answers not cached above."""
    if resp.headers.pop("X-Compressed-Cache", None):
        return resp
    if not _compressible(resp):
        return resp
    data = resp.get_data()
    if request.method == "GET" and "ETag" not in resp.headers and NONCE_TOKEN not in resp.headers.get(
            "Content-Security-Policy", "") and not g.get("csp_nonce"):
        resp.set_etag(hashlib.blake2b(data, digest_size=12).hexdigest())
        resp.make_conditional(request)
        if resp.status_code == 304:
            return resp
    if accepts_gzip() and len(data) >= MIN_COMPRESS:
        c = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
        resp.set_data(c.compress(data) + c.flush())
        resp.headers["Content-Encoding"] = "gzip"
        resp.vary.add("Accept-Encoding")
    return resp


def init_app(app) -> None:
    """Register the compression/ETag hook."""
    app.after_request(finish)


__all__ = ["NONCE_TOKEN", "Rendered", "cached", "csp_nonce", "init_app", "render", "respond"]
