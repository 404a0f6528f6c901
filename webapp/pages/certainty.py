"""How sure is each recommendation: the robustness run (API with progress) and the data-needed
page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from scoring.information import atlas_value_of_information
from scoring.uncertainty import collection_plan

from webapp.i18n import T, pick_lang
from webapp.model import get_atlas
from webapp.robust import get_runner
from webapp.pages.views import sorted_towns

bp = Blueprint("certainty", __name__)


@bp.app_template_global("robust_labels")
def robust_labels(t: T, method) -> dict:
    """The words and colours static/robustness.js needs, in the page's language."""
    keys = (
        "draws",
        "robust_running",
        "robust_error",
        "stability",
        "modal",
        "drivers",
        "variants",
        "pessimistic",
        "realistic",
        "optimistic",
        "stability_legend",
        "shade_stability",
        "shade_off",
        "insufficient",
        "tie_short",
        "stab_elsewhere",
    )
    choices = [k for (f, k, _) in method.texts if f == "uncertainty.csv"]
    return {
        "text": {k: t(k) for k in keys},
        "order": list(method.scenarios),
        "choices": {c: t.choice_label(c) for c in choices},
        "choice_help": {
            c: t.text(
                "uncertainty.csv",
                c,
                "description",
                method.texts[("uncertainty.csv", c, "description")]["en"],
            )
            for c in choices
        },
        "scenarios": {s: t.scenario(s) for s in method.scenarios},
        "colours": {s: v["colour"] for s, v in method.scenarios.items()},
    }


@bp.get("/api/robustness")
def robustness_status():
    """The robustness run at the default parameters for the current data: state, progress and, when
    done, one record per town (shares, modal, stability, drivers, variants).

    A GET starts a run that is missing; it changes no data.
    """
    return get_runner(current_app).status()


@bp.get("/data-needed")
def data_needed():
    """The planner's data-collection plan: which indicators, collected in order, settle the most
    recommendations; and per town its possible scenarios and most decisive missing input."""
    svc = get_atlas()
    t = T(pick_lang(request.args.get("lang")), svc.method)
    atlas = svc.results()
    plan = collection_plan({tw["id"]: tw["levels"] for tw in atlas["towns"]}, svc.method)
    metas = svc.metas

    def by_name(ids: list[str]) -> list[str]:  # alphabetical in the page's language
        return sorted(ids, key=lambda i: t.sort_key(t.name(metas[i])))

    open_towns = sorted_towns(
        [tw for tw in atlas["towns"] if not tw["scenario"].get("settled", True)], metas, t
    )
    return render_template(
        "data_needed.html",
        t=t,
        by_name=by_name,
        plan=plan,
        towns=atlas["towns"],
        open_towns=open_towns,
        metas=svc.metas,
        method=svc.method,
        evi=value_of_information(svc),
    )


def value_of_information(svc) -> list[dict]:
    """The expected value of information of each estimated input and each uninformed indicator
    (scoring.information) at the default parameters, under the shipped and stored estimates; kept
    per stored state (a few seconds to compute)."""

    def build() -> list[dict]:
        snap = svc.snapshot()
        return atlas_value_of_information(svc.results(), snap.estimates, svc.method)

    return svc.cached(("value_of_information",), build)
