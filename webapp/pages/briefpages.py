"""The brief's pages: the region brief of all towns (/brief), the comparison of 2-4 towns
(/compare), and both briefs as PDF (WeasyPrint: a well-kept library that prints the same HTML and
CSS without a browser process; the small maps are SVG, so nothing needs a script)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.urls import urlencode

from webapp.pages.brief import (
    get_official,
    map_svg,
    measure_items,
    official_items,
    outcome_words,
    robust_towns,
    scenario_names,
    town_brief,
)
from webapp.i18n import LANGS, T
from webapp.pages.mapview import legend
from webapp.model import get_atlas
from webapp.params import queries
from webapp.security import clip
from webapp.map.serialize import colour
from webapp.pages.views import request_params, sorted_towns, town_page_html, translator

bp = Blueprint("briefpages", __name__)
bp.add_app_template_global(scenario_names, "scenario_names")
bp.add_app_template_global(outcome_words, "outcome_words")
COMPARE_MIN, COMPARE_MAX = 2, 4


def _atlas_and_t():

    svc = get_atlas()
    atlas, params, errors = request_params()
    return svc, translator(svc, request.args.get("lang")), atlas, params


def region_html(*, for_pdf: bool = False) -> str:
    svc, t, atlas, params = _atlas_and_t()
    robust = robust_towns()
    query, lang_query = queries(params, t.lang, LANGS)
    rows = [
        (
            tw,
            town_brief(
                tw, (robust or {}).get(tw["id"]) if robust is not None else None, svc.method
            ),
        )
        for tw in sorted_towns(atlas["towns"], svc.metas, t)
    ]
    counts: dict[str, int] = {}
    for _, b in rows:
        counts[b.kind] = counts.get(b.kind, 0) + 1
    return render_template(
        "brief.html",
        t=t,
        rows=rows,
        metas=svc.metas,
        counts=counts,
        svg=map_svg(svc, t, atlas["towns"], label_all=True),
        query=query,
        lang_query=lang_query,
        legend=_legend(svc, t),
        for_pdf=for_pdf,
        nondefault=params.changed(),
        pdf_url=url_for("briefpages.region_pdf") + ("?" + query if query else ""),
        draws=next((b.sureness.draws for _, b in rows if b.sureness.draws), None),
    )


def _legend(svc, t: T) -> list:
    """The legend's town markers (cities and tourism sites are not drawn on the brief's map)."""
    return legend(svc.method, t)["markers"][:-2]


@bp.get("/brief")
def region():
    """The region brief: the 27 towns on one map with its legend and one table (two A4 pages)."""
    return region_html()


def pdf_document(html: str):
    """``html`` laid out on A4 pages by WeasyPrint; styles read from the app's static folder,
    nothing else fetched (no network, no other file)."""
    import weasyprint
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    static = Path(current_app.static_folder or "")

    class StaticOnly(URLFetcher):
        def fetch(self, url: str, headers=None) -> URLFetcherResponse:
            name = url.split("/static/", 1)[1] if "/static/" in url else ""
            if not name or "/" in name or not (static / name).is_file():
                raise ValueError(f"not fetched: {url}")
            return URLFetcherResponse(
                url, (static / name).read_bytes(), {"Content-Type": "text/css"}
            )

    return weasyprint.HTML(
        string=html, base_url="http://atlas.invalid/", url_fetcher=StaticOnly()
    ).render()


def _pdf(html: str, filename: str) -> Response:
    """``html`` as a PDF download."""
    return Response(
        pdf_document(html).write_pdf(),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/brief.pdf")
def region_pdf():
    return _pdf(region_html(for_pdf=True), "monotowns-brief.pdf")


@bp.get("/town/<tid>/brief.pdf")
def town_pdf(tid: str):
    return _pdf(town_page_html(tid, for_pdf=True), f"{tid}-brief.pdf")


@bp.get("/compare")
def compare():
    """2 to 4 towns side by side: verdict, how sure, indicator levels as bars on one scale, scores,
    the government's signals and what the scenarios mean in practice. Towns are named by id
    (``towns=a,b`` or ``towns=a&towns=b``: the page's check boxes); with fewer than two the page
    asks for more."""
    svc, t, atlas, params = _atlas_and_t()
    ids = [x for arg in request.args.getlist("towns") for x in arg.split(",") if x]
    by_id = {tw["id"]: tw for tw in atlas["towns"]}
    problems = [clip(t("compare_unknown").format(x)) for x in ids if x not in by_id]
    if len(set(ids)) != len(ids):
        problems.append(t("compare_twice"))
    if len(ids) > COMPARE_MAX:
        problems.append(t("compare_help"))
    if problems or len(ids) < COMPARE_MIN:
        ids = list(dict.fromkeys(x for x in ids if x in by_id))[:COMPARE_MAX]
    compared = not problems and len(ids) >= COMPARE_MIN
    robust = robust_towns() if compared else None
    chosen = [by_id[x] for x in ids] if compared else []
    briefs = [
        town_brief(tw, (robust or {}).get(tw["id"]) if robust is not None else None, svc.method)
        for tw in chosen
    ]
    off = get_official(svc)
    official = [official_items(off, b.id, b.scenarios, t.lang) for b in briefs]
    measures = [measure_items(off, b.id, b.scenarios, t.lang) for b in briefs]
    query, lang_query = queries(params, t.lang, LANGS)
    if ids:  # the same towns in another language
        lang_query = {
            k: q + "&" + urlencode({"towns": ",".join(ids)}) for k, q in lang_query.items()
        }
    ranks = {
        code: [b.level for b in svc.method.indicators[code].bands] for code in svc.method.levelled
    }
    return render_template(
        "compare.html",
        t=t,
        towns=chosen,
        briefs=briefs,
        metas=svc.metas,
        method=svc.method,
        ranks=ranks,
        problems=problems,
        query=query,
        lang_query=lang_query,
        all_towns=sorted_towns(atlas["towns"], svc.metas, t),
        ids=ids,
        id_names=[t.name(svc.metas[x]) for x in ids],
        hidden=params.to_query(),
        colours=[colour(tw, svc.method) for tw in chosen],
        official=official,
        measures=measures,
    ), (400 if problems else 200)
