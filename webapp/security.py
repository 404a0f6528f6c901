"""Response headers, the Content-Security-Policy and request limits (see SECURITY.md).

``init_app`` registers the hooks: a Content-Security-Policy that allows only this app's own script
files (no inline script: the maps' Folium scripts are served as files, webapp.pages.views),
``nosniff``, no framing, a strict referrer policy; limits checked before any view runs (query-string
size, JSON nesting depth); and a refusal (403) of POST/DELETE that a browser sends from another site
(``Sec-Fetch-Site`` / ``Origin``); ``Cache-Control: no-store`` on the pages and answers of a signed-
in editor. ``load_json_body`` is the one place a request body is parsed as JSON; it refuses text
that is not valid Unicode (a lone surrogate such as ``\\ud800``) naming the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from werkzeug.exceptions import BadRequest, Forbidden, RequestURITooLarge

MAX_QUERY_BYTES = 64 * 1024  # a permalink with 20 planned roads is far below this
MAX_JSON_DEPTH = 32  # the deepest valid body is 4 ({"planned_roads": [{"from": [lon, lat]}]})
MAX_MESSAGE = 300  # error messages echo user text at most this long
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: no UTF-8 text can hold it
# browser features: the map's fullscreen button uses one (for this app only); nothing else is needed
PERMISSIONS_POLICY = ", ".join(
    [
        "fullscreen=(self)",
        *(
            f"{feature}=()"
            for feature in (
                "accelerometer",
                "autoplay",
                "camera",
                "display-capture",
                "encrypted-media",
                "geolocation",
                "gyroscope",
                "magnetometer",
                "microphone",
                "midi",
                "payment",
                "publickey-credentials-get",
                "screen-wake-lock",
                "serial",
                "usb",
                "xr-spatial-tracking",
            )
        ),
    ]
)
# an absolute file path of two or more parts (/srv/app/instance/networks/x.gpkg, C:\\data\\x.gpkg)
SERVER_PATH = re.compile(
    r"(?<![\w.:/~-])(?:[A-Za-z]:\\|/)(?:[^\s'\"()<>;,|/\\]+[/\\])+([^\s'\"()<>;,|/\\]*)"
)


class BodyError(BadRequest):
    """A request body that is not a JSON document this app accepts (400, named field ``body``)."""


def content_security_policy() -> str:
    """The policy: own script files only; no framing, no plugins, no foreign hosts.

    Styles keep ``'unsafe-inline'``: the templates, Folium and the popups use style attributes, and
    a style cannot run script. Forms may post to this app only (``form-action 'self'``).
    """
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


POLICY = content_security_policy()


def clip(text: Any, limit: int = MAX_MESSAGE) -> str:
    """``text`` as a string of at most ``limit`` characters, server paths cut to their last part
    (error messages that echo input or a library's message)."""
    text = public_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cap_messages(messages: list, *, limit: int = 50, length: int = 2 * MAX_MESSAGE) -> list[str]:
    """At most ``limit`` messages of at most ``length`` characters, then one line saying how many
    more."""
    kept = [clip(m, length) for m in messages[:limit]]
    return kept + (
        [f"... and {len(messages) - limit} further problem(s) not listed"]
        if len(messages) > limit
        else []
    )


def public_text(text: Any) -> str:
    """``text`` without server file paths: each absolute path becomes its last part (the file's
    name).

    For messages that anyone can read (the network import status, error pages): a server's folders
    are not the public's business and help an attacker aim.
    """
    return SERVER_PATH.sub(lambda m: m.group(1) or "(folder)", str(text))


def lone_surrogate(value: Any, where: str = "body") -> str | None:
    """Where in parsed JSON a text (key or value) holds a lone surrogate, as ``body.a[0].b``; or
    None.

    JSON's ``\\ud800`` escape gives Python a string that cannot be encoded as UTF-8: every answer
    that echoed it would fail. Walked without recursion (the depth is checked separately).
    """
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if SURROGATE.search(item):
                return path
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, dict):
            for k, v in item.items():
                name = SURROGATE.sub("?", k)
                if name != k:
                    return f"{path}.{clip(name, 60)} (its name)"
                stack.append((v, f"{path}.{clip(k, 60)}"))
    return None


def json_depth(value: Any) -> int:
    """Nesting depth of parsed JSON, counted without recursion (a scalar is 0, ``[]`` is 1)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def load_json_body(data: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a request body as JSON; raise BodyError if it is not JSON, too deep, or not UTF-8.

    Parameters
    ----------
    data : the raw body (already bounded by ``MAX_CONTENT_LENGTH``).
    max_depth : deepest nesting accepted; Python's parser would otherwise stop with RecursionError.
    """
    try:
        value = json.loads(data)
    except RecursionError:
        raise BodyError(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, TypeError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BodyError("not a JSON document") from None
    if json_depth(value) > max_depth:
        raise BodyError(f"JSON nested deeper than {max_depth} levels")
    bad = lone_surrogate(value)
    if bad is not None:
        raise BodyError(f"{bad}: a lone surrogate (\\ud800-\\udfff) is not text; send valid UTF-8")
    return value


def _check_limits() -> None:
    """Refuse an oversized query string before any view parses it (414)."""
    if len(request.query_string) > MAX_QUERY_BYTES:
        raise RequestURITooLarge(f"the query string is longer than {MAX_QUERY_BYTES} bytes")


def is_cross_site(method: str, headers, host_url: str, trusted: tuple[str, ...] = ()) -> bool:
    """True for a state-changing request that a browser sent from another site.

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` with every POST/DELETE; a form or script on
    another site cannot forge them. A request without them (curl, scripts, the test client) is not a
    browser's cross-site request and passes (sign-in and CSRF tokens are issue 10's).
    """
    if method in SAFE_METHODS:
        return False
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("Origin")
    return origin is not None and origin not in (host_url.rstrip("/"), *trusted)


def _refuse_cross_site() -> None:
    """403 for a cross-site POST/DELETE (a form on another site must not upload or delete
    statistics)."""
    from flask import current_app

    if is_cross_site(
        request.method,
        request.headers,
        request.host_url,
        tuple(current_app.config.get("TRUSTED_ORIGINS", ())),
    ):
        raise Forbidden("cross-site requests may not change anything here")


COSTLY_WINDOW_S = 60.0
MAX_CLIENTS = 10_000  # clients remembered at once (the least recent are forgotten first)


class CostLimiter:
    """Per client, at most ``limit`` *new* parameter sets within ``window`` seconds on the costly
    routes; repeating one (a cached answer) costs nothing.

    Kept in this process's memory: with several worker processes each counts its own share (the
    limit is per process).
    """

    def __init__(self, limit: int, window: float = COSTLY_WINDOW_S):
        self.limit, self.window = limit, window
        self._seen: OrderedDict[str, OrderedDict[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str, key: str, now: float | None = None) -> float:
        """Seconds ``client`` must wait before asking for ``key`` (0: allowed now, and recorded)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.setdefault(client, OrderedDict())
            self._seen.move_to_end(client)
            while seen and next(iter(seen.values())) <= now - self.window:
                seen.popitem(last=False)
            if key in seen:
                return 0.0
            if len(seen) >= self.limit:
                return next(iter(seen.values())) + self.window - now
            seen[key] = now
            while len(self._seen) > MAX_CLIENTS:
                self._seen.popitem(last=False)
            return 0.0


def requested_params():
    """The parameters a request asks to be computed (``geo.params.Params``), or None when it asks
    for none (the defaults, computed at start) or for invalid ones (refused, or the defaults shown,
    without a computation).

    Any GET/HEAD with a parameter (geo_params.csv, ``planned_roads``) in its query, and the body of
    ``POST /api/recompute``. Parsed once a request (``g``).
    """
    if "requested_params" not in g:
        g.requested_params = _parse_requested()
    return g.requested_params


def _parse_requested():
    from geo import ParamError
    from geo.params import parse_params

    if request.endpoint == "api.recompute":
        try:
            raw = load_json_body(request.get_data()) if request.is_json else None
        except BodyError:
            return None
        if not isinstance(raw, dict):
            return None
    elif request.method in ("GET", "HEAD"):
        names = _parameter_names()
        raw = {k: v for k, v in request.args.items() if k in names}
    else:
        return None
    if not raw:
        return None
    try:
        params = parse_params(raw)
    except ParamError:
        return None
    return params if params.to_query() else None


def parameter_set() -> str | None:
    """The parameter set a request asks to be computed, the same for every route: a page, its map
    script, popups, layers, exports and a recompute of the same parameters are one set (the
    computation is cached by it); None for the defaults and invalid parameters."""
    params = requested_params()
    if params is None:
        return None
    return hashlib.sha256(repr(sorted(params.to_query().items())).encode()).hexdigest()


def planned_road_work(params, edges: int) -> int:
    """The routing work of ``params``' planned roads on a network of ``edges`` edges: roads x edges.

    Each planned road is inserted into the road graph of every metric (a copy of the graph and a
    bounded search from one of its ends: work that grows with the network's edges); measured at
    0.2-0.4 s a road on 2 million edges (docs/performance.md).
    """
    return len(params.planned_roads) * int(edges)


def _network_edges(params) -> int:
    """Edges of the network version ``params`` names (its graph is loaded for the answer anyway)."""
    from webapp.model import get_atlas

    return len(get_atlas().pipeline.model(params.network).network(params).u)


def _limit_planned_roads():
    """422 for planned roads whose routing work exceeds ``MAX_PLANNED_ROAD_EDGES`` (roads x edges),
    before anything is computed; the answer names the limit, the value and the roads allowed."""
    limit = int(current_app.config.get("MAX_PLANNED_ROAD_EDGES") or 0)
    params = requested_params()
    if limit <= 0 or params is None or not params.planned_roads:
        return None
    from geo import ParamError

    try:
        edges = _network_edges(params)
    except ParamError:  # an unknown version: the view names it
        return None
    work = planned_road_work(params, edges)
    if work <= limit:
        return None
    t = _translator()
    message = t("planned_roads_too_costly").format(
        roads=len(params.planned_roads),
        edges=edges,
        value=work,
        limit=limit,
        allowed=limit // max(edges, 1),
    )
    body = {
        "error": "too costly",
        "message": message,
        "limit": {"name": "MAX_PLANNED_ROAD_EDGES", "value": limit},
        "value": work,
        "fields": {"planned_roads": message},
    }
    return _refusal(422, body, t("planned_roads_too_costly_title"), t)


def _parameter_names() -> frozenset[str]:
    from geo.params import load_specs

    return frozenset([*load_specs(), "planned_roads"])


def _limit_costly():
    """429 with ``Retry-After`` for a client asking too many new parameter sets, on any route."""
    limiter: CostLimiter | None = current_app.extensions.get("cost_limiter")
    if limiter is None:
        return None
    key = parameter_set()
    if key is None:
        return None
    wait = limiter.wait(request.remote_addr or "-", key)
    if wait <= 0:
        return None
    return _too_many(limiter, max(1, math.ceil(wait)))


def _too_many(limiter: CostLimiter, seconds: int):
    """The 429: JSON from the API, a page otherwise; the message in the request's language."""
    t = _translator()
    message = t("too_many_parameter_sets").format(
        limit=limiter.limit, window=f"{limiter.window:.0f}", seconds=seconds
    )
    body = {"error": "too many requests", "message": message, "retry_after": seconds}
    return _refusal(429, body, t("too_many_parameter_sets_title"), t, {"Retry-After": str(seconds)})


def _translator():
    """The request's language's texts, with the method's when they load (a page's header)."""
    from webapp.i18n import T, pick_lang

    lang = pick_lang(request.values.get("lang"))
    try:
        from webapp.model import get_atlas

        return T(lang, get_atlas().method)
    except Exception:  # noqa: BLE001 - a refusal needs no data
        return T(lang)


def _refusal(status: int, body: dict, heading: str, t, headers: dict | None = None):
    """A refusal before any view: ``body`` as JSON from the API, a page (``heading``, ``body``'s
    message) otherwise."""
    from flask import render_template

    if request.path.startswith("/api/"):
        return current_app.response_class(
            json.dumps(body, ensure_ascii=False) + "\n",
            status=status,
            mimetype="application/json",
            headers=headers or {},
        )
    page = render_template("error.html", t=t, heading=heading, message=body["message"])
    return page, status, headers or {}


def _set_headers(response: Response) -> Response:
    """The security headers of every response (pages, API, assets, errors)."""
    h = response.headers
    h.setdefault("Content-Security-Policy", POLICY)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    h.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if response.mimetype in ("text/html", "application/json") and _signed_in():
        h["Cache-Control"] = (
            "no-store"  # an editor's page holds the CSRF token and unpublished state
        )
    return response


def _signed_in() -> bool:
    """True for a request with a sign-in session (read from the cookie only: no database call)."""
    try:
        return bool(session.get("sid"))
    except RuntimeError:  # no request context
        return False


def init_app(app: Flask) -> None:
    """Register the limits, the cross-site refusal, the costly-route limit and the headers.

    ``COSTLY_PER_MINUTE`` (config or environment): new parameter sets a client may ask per minute,
    of any route (``parameter_set``); 0 turns the limit off.
    """
    app.before_request(_check_limits)
    app.before_request(_refuse_cross_site)
    app.before_request(_limit_planned_roads)  # a refusal is not a computation: not counted
    limit = int(app.config.get("COSTLY_PER_MINUTE") or 0)
    if limit > 0:
        app.extensions["cost_limiter"] = CostLimiter(limit)
        app.before_request(_limit_costly)
    app.after_request(_set_headers)
