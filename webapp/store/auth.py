"""Editors and CSRF: reading needs no account, every change of data needs a signed-in editor.

Every state-changing request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, as the
form field ``csrf_token`` or the header ``X-CSRF-Token``; a request from another origin is refused.
Only ``POST /api/recompute`` is exempt: it computes a result and changes nothing.

A sign-in is a session record in the store (``Store.open_session``); the cookie carries its token.
Signing out, removing or disabling the editor and a new password end it, for every copy of the
cookie. Failed sign-ins are throttled per name and per client address (``Store.signin_wait``).

Configuration (or the environment variable of the same name): ``SESSION_COOKIE_SECURE=1`` sends the
cookie over HTTPS only; ``HSTS_SECONDS=<n>`` adds ``Strict-Transport-Security: max-age=<n>`` (for a
site served over HTTPS only). The session cookie is ``SameSite=Lax`` and ``HttpOnly``.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from webapp.i18n import T, pick_lang

bp = Blueprint("auth", __name__)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
CSRF_EXEMPT = {"api.recompute"}  # read-only computations sent as POST
THROTTLED = {  # the sign-in page's answer while a name or a client waits ({minutes}: how long)
    "en": (
        "Too many failed sign-ins for this name or from this address; try again in {minutes} min."
    ),
    "ru": (
        "Слишком много неудачных попыток входа для этого имени или с этого адреса; "
        "повторите через {minutes} мин."
    ),
    "kk": (
        "Бұл атпен немесе бұл мекенжайдан кіру әрекеттері тым көп сәтсіз болды; "
        "{minutes} минуттан кейін қайталаңыз."
    ),
}


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def current_editor() -> str | None:
    """The signed-in editor's name, or None: the session's record in the store, read once a request
    (none for a session without a sign-in)."""
    if "editor" not in g:
        token = session.get("sid")
        g.editor = current_app.extensions["store"].session_editor(token) if token else None
    return g.editor


def _refuse(status: int, message: str):
    if request.path.startswith("/api/"):
        return {
            "error": (
                "forbidden" if status == 403 else "unauthorized" if status == 401 else "bad request"
            ),
            "message": message,
        }, status
    abort(status, message)


def _cross_origin() -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin == "null"
    return urlsplit(origin).netloc != request.host


def check_csrf():
    """before_request: refuse a state-changing request from another origin (403), then one without
    the session's token (400); an anonymous request to an editor's view is left to that view (401
    or the sign-in page)."""
    if request.method in SAFE_METHODS or request.endpoint in CSRF_EXEMPT:
        return None
    if _cross_origin():
        return _refuse(403, "cross-origin request refused")
    if needs_editor(request.endpoint) and current_editor() is None:
        return None  # the view refuses first (401, or the sign-in page) and reads nothing
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _refuse(400, "missing or wrong CSRF token; reload the page and try again")
    return None


def needs_editor(endpoint: str | None) -> bool:
    """True for an endpoint whose view only a signed-in editor may use (``editor_required``)."""
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, "needs_editor", False))


def editor_required(view):
    """A view only a signed-in editor may use: 401 for the API, the sign-in page otherwise.

    Checked before the CSRF token: an anonymous write is refused as unsigned-in (401), as the
    OpenAPI description says, and its body is not read.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_editor() is None:
            if request.path.startswith("/api/"):
                return {
                    "error": "unauthorized",
                    "message": "sign in as an editor to change data",
                }, 401
            return redirect(
                url_for("auth.login", next=_back_to(), lang=request.args.get("lang"))
            )
        return view(*args, **kwargs)

    wrapped.needs_editor = True  # type: ignore[attr-defined]
    return wrapped


def _back_to() -> str:
    """Where the sign-in returns to: the page asked for; for a refused write (a form's POST, which
    a redirect cannot repeat) the page the form was on, if it is this site's, else the map."""
    if request.method == "GET":
        return request.full_path
    ref = urlsplit(request.referrer or "")
    if ref.netloc == request.host and ref.path.startswith("/"):
        return ref.path + (f"?{ref.query}" if ref.query else "")
    return url_for("views.index", lang=request.args.get("lang"))


def _safe_next(target: str | None, lang: str | None = None) -> str:
    parts = urlsplit(target or "")
    return (
        target
        if target and not parts.scheme and not parts.netloc and target.startswith("/")
        and not target.startswith("//")
        else url_for("views.index", lang=lang)
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    store = current_app.extensions["store"]
    t = T(pick_lang(request.values.get("lang")), current_app.extensions["atlas"].method)
    error = None
    status, headers = 200, {}
    if request.method == "POST":
        name, password = request.form.get("name", "").strip(), request.form.get("password", "")
        client = request.remote_addr or ""
        wait = store.signin_wait(name, client)
        if wait > 0:  # refused before the password is checked: guessing costs no hashing
            minutes = max(1, math.ceil(wait / 60))
            error = THROTTLED.get(t.lang, THROTTLED["en"]).format(minutes=minutes)
            status, headers = 429, {"Retry-After": str(math.ceil(wait))}
        elif store.check_editor(name, password):
            store.record_signin(name, client, ok=True)
            session.clear()  # a new session: no fixation
            session["sid"] = store.open_session(name)
            session["editor"] = name
            csrf_token()
            return redirect(_safe_next(request.form.get("next"), t.lang))
        else:
            store.record_signin(name, client, ok=False)
            error, status = t("signin_failed"), 401
    return (
        render_template("login.html", t=t, error=error, next=request.values.get("next", "")),
        status,
        headers,
    )


@bp.post("/logout")
def logout():
    current_app.extensions["store"].end_session(session.get("sid"))
    session.clear()
    return redirect(url_for("views.index", lang=request.args.get("lang")))


def _secret_key(app) -> str:
    """SECRET_KEY from the config, else one kept in the instance folder (sessions survive a
    restart)."""
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _strict_transport(response):
    """after_request: HSTS when configured (``HSTS_SECONDS``)."""
    seconds = current_app.config.get("HSTS_SECONDS") or 0
    if seconds:
        response.headers["Strict-Transport-Security"] = f"max-age={int(seconds)}; includeSubDomains"
    return response


def init_app(app) -> None:
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    if not app.config.get("SESSION_COOKIE_SAMESITE"):  # Flask defines it (None): no setdefault
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SECURE"):
        app.config["SESSION_COOKIE_SECURE"] = _flag(os.environ.get("SESSION_COOKIE_SECURE", ""))
    if "HSTS_SECONDS" not in app.config:
        app.config["HSTS_SECONDS"] = int(os.environ.get("HSTS_SECONDS") or 0)
    app.after_request(_strict_transport)
    app.before_request(check_csrf)
    app.context_processor(lambda: {"csrf_token": csrf_token, "current_editor": current_editor()})
    app.register_blueprint(bp)
