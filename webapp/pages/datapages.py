"""Pages of the stored data: completeness (towns x inputs), import, history with rollback, expert
judgments."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from scoring import InputError

from webapp.store.auth import current_editor, editor_required
from webapp.i18n import T, pick_lang
from webapp.model import get_atlas
from webapp.store.stats_io import (
    EstimateRow,
    StatsFileError,
    estimate_template_csv,
    export_estimates_csv,
    forbidden_character,
    problem_lines,
)
from webapp.store.db import SHIPPED_BY, StoreError

bp = Blueprint("data", __name__)
TEXT_MAX = {"author": 300, "date": 40, "rationale": 4000, "source": 1000}


def _t() -> T:
    return T(pick_lang(request.values.get("lang")), get_atlas().method)


CLI_MARK = " (command line)"  # webapp.store.cli: who imported from the command line


def _who(t: T):
    """An editor's name as a page shows it: the shipped data's revision and rows, and the command
    line's mark, in ``t``'s language."""

    def who(name: str | None) -> str:
        if name == SHIPPED_BY:
            return t("rev_kind_shipped")
        if name and name.endswith(CLI_MARK):
            return f"{name.removesuffix(CLI_MARK)} ({t('command_line')})"
        return name or "–"

    return who


def _completeness(svc) -> dict:
    """Town id -> input -> the stored row used for scoring (or None)."""
    snap = svc.snapshot()
    grid = {tid: {} for tid in svc.metas}
    for table in (snap.statistics, snap.curated):
        for tid, inputs in table.items():
            grid.setdefault(tid, {}).update(inputs)
    return grid


@bp.get("/data")
def data(report: dict | None = None, status: int = 200):
    """Which statistical and curated inputs exist for which town, with period and source; import
    form."""
    svc = get_atlas()
    t = _t()
    names = [n for n, s in svc.method.inputs.items() if s.role in ("statistical", "curated")]
    snap = svc.snapshot()
    return (
        render_template(
            "data.html",
            t=t,
            grid=_completeness(svc),
            names=names,
            method=svc.method,
            metas=svc.metas,
            errors=snap.errors,
            revision=snap.head,
            report=report,
            estimates=snap.estimates,
            latest=next(iter(svc.store.revisions()), None),
        ),
        status,
    )


@bp.get("/data/estimates-template.csv")
def estimates_template():
    """The estimates import template: long rows (town, year, source, input, low, high, method,
    coverage, most_likely, note) and an '#allowed' comment row."""
    return Response(
        estimate_template_csv(get_atlas().method),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=estimates_template.csv"},
    )


@bp.get("/data/estimates.csv")
def estimates_export():
    """The stored estimates (not the shipped data/estimates.csv) in the estimates import format."""
    return Response(
        export_estimates_csv(get_atlas().store.estimates()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=estimates.csv"},
    )


@bp.post("/data/import")
@editor_required
def data_import():
    """The import form without JavaScript: the page again, with the report."""
    svc = get_atlas()
    file = request.files.get("file")
    if file is None or not file.filename:
        return data(report={"ok": False, "problems": [_t()("import_help")]}, status=400)
    try:
        rev, rows = svc.import_file(file.read(), file.filename, editor=current_editor())
    except InputError as exc:
        return data(
            report={"ok": False, "file": file.filename, "problems": _problems(exc, file.filename)},
            status=400,
        )
    kind = "estimates" if any(isinstance(r, EstimateRow) for r in rows) else "values"
    return data(
        report={
            "ok": True,
            "file": file.filename,
            "revision": rev,
            "values": len(rows),
            "kind": kind,
            "outranked": svc.outranked(rows, rev),
        }
    )


def _problems(exc: InputError, filename: str) -> list[str]:
    """A rejected file's problems in the page's language (at most MAX_PROBLEMS, then how many more
    there are)."""
    if not isinstance(exc, StatsFileError):
        return list(exc.problems)
    return problem_lines(exc, filename, _t())


@bp.get("/history")
def history():
    svc = get_atlas()
    done = request.args.get("rolled_back", ""), request.args.get("to", "")
    rolled_back = (
        {"new": int(done[0]), "to": int(done[1])}
        if all(x.isdigit() and len(x) < 10 for x in done)
        else None
    )
    t = _t()
    return render_template(
        "history.html",
        t=t,
        who=_who(t),
        revisions=svc.store.revisions(),
        metas=svc.metas,
        rolled_back=rolled_back,
    )


@bp.get("/history/<int:rev>")
def revision(rev: int):
    svc = get_atlas()
    try:
        info, changes = svc.store.revision(rev), svc.store.changes(rev)
    except StoreError as exc:
        abort(404, str(exc))
    t = _t()
    return render_template(
        "revision.html", t=t, who=_who(t), rev=info, changes=changes, metas=svc.metas
    )


@bp.post("/history/<int:rev>/rollback")
@editor_required
def rollback(rev: int):
    try:
        new = get_atlas().rollback(rev, editor=current_editor())
    except StoreError as exc:
        abort(404, str(exc))
    return redirect(
        url_for("data.history", lang=request.values.get("lang"), rolled_back=new, to=rev)
    )


@bp.get("/judgments")
def judgments(problems: list[str] | None = None, status: int = 200):
    svc = get_atlas()
    t = _t()
    return (
        render_template(
            "judgments.html",
            t=t,
            who=_who(t),
            judgments=svc.store.judgments(),
            metas=svc.metas,
            method=svc.method,
            problems=problems or [],
            form=request.form,
        ),
        status,
    )


def _field(t: T, name: str) -> str:
    """A form field as a problem names it: its name in English, its label in kk and ru."""
    return name if t.lang == "en" else t(name)


def _judgment_form(svc) -> tuple[dict, list[str]]:
    """The form -> (judgment, problems in the page's language)."""
    f, t = request.form, _t()
    problems = []
    tid = svc.town_id(f.get("town", ""))
    if tid is None:
        problems.append(t("judgment_town"))
    scenarios = [s for s in f.getlist("scenarios") if s]
    if (
        not scenarios
        or any(s not in svc.method.scenarios for s in scenarios)
        or len(set(scenarios)) != len(scenarios)
    ):
        names = svc.method.scenarios if t.lang == "en" else map(t.scenario, svc.method.scenarios)
        problems.append(t("judgment_scenarios").format(list=", ".join(names)))
    texts = {k: f.get(k, "").strip() for k in TEXT_MAX}
    for k, limit in TEXT_MAX.items():
        if not texts[k] or len(texts[k]) > limit:
            problems.append(t("judgment_text").format(field=_field(t, k), limit=limit))
        elif (bad := forbidden_character(texts[k])) is not None:
            problems.append(t("judgment_control").format(field=_field(t, k), char=bad))
    return {"town_id": tid, "scenarios": scenarios, **texts}, problems


@bp.post("/judgments")
@editor_required
def record_judgment():
    svc = get_atlas()
    judgment, problems = _judgment_form(svc)
    if problems:
        return judgments(problems, 400)
    svc.store.record_judgment(judgment, editor=current_editor())
    svc.snapshot()
    return redirect(url_for("data.judgments", lang=request.values.get("lang")))


@bp.post("/judgments/<int:jid>/withdraw")
@editor_required
def withdraw_judgment(jid: int):
    svc, t = get_atlas(), _t()
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > 2000:
        return judgments([t("judgment_reason")], 400)
    if (bad := forbidden_character(reason)) is not None:
        problem = t("judgment_control").format(field=_field(t, "reason"), char=bad)
        return judgments([problem], 400)
    try:
        svc.store.withdraw_judgment(jid, editor=current_editor(), reason=reason)
    except StoreError:  # no such judgment, or withdrawn already: the list says which are left
        return judgments([t("judgment_gone").format(jid)], 404)
    svc.snapshot()
    return redirect(url_for("data.judgments", lang=request.values.get("lang")))


def published_distances(svc, params, town: dict) -> list[dict]:
    """The independently published road distances for one town (data/validation/road_distances.csv,
    read once through geo.validation), each beside the km derived at the request's parameters, with
    the ratio, the verdict (geo.validation's 15 % rule) and the known limits said in words: a town
    whose source names another nearest large city than the one the network routes it to, or that
    reaches the network only by an assumed straight link."""
    from geo import (
        validation,
    )  # the validation table is read only by town pages (start-up stays light)

    out = []
    for r in validation_rows():
        if r["town_id"] != town["id"]:
            continue
        km = svc.spatial.road_km(params, town["id"], r["city_id"])
        ratio, verdict = validation.judge(km, r)
        out.append(
            {
                "city_id": r["city_id"],
                "published_km": float(r["published_km"]),
                "derived_km": km if ratio is not None else None,
                "ratio": ratio,
                "measure": r["measure"],
                "verdict": verdict,
                "source": r["source_url"],
                "source_title": r["source_title"],
                "is_nearest": r["is_nearest"] == "yes",
            }
        )
    return out


@cache
def validation_rows() -> tuple[dict, ...]:
    """geo.validation.load_table, parsed once per process."""
    from geo import validation

    return tuple(validation.load_table())
