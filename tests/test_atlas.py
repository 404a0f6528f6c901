"""All 27 towns merged and scored, with provenance for every input."""

import pytest

from geo.params import default_params
from scoring import InputError
from scoring.atlas import build_atlas
from scoring.loaders import load_values
from scoring.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline()


@pytest.fixture(scope="module")
def atlas(pipeline):
    return pipeline.run()


def test_every_input_has_provenance(atlas, method):
    assert len(atlas["towns"]) == 27
    for t in atlas["towns"]:
        for name in method.inputs:
            p = t["provenance"][name]
            assert p["status"] in ("sourced", "derived", "missing")
            assert (p["value"] is None) == (p["status"] == "missing"), (t["id"], name)
            assert p["source"]


def test_paper_towns_complete_and_others_provisional(atlas):
    by = {t["id"]: t for t in atlas["towns"]}
    for tid in ("balkhash", "karazhal", "temirtau"):
        assert by[tid]["scenario"]["completeness"] == "6/6"
        assert len(by[tid]["paper_agglomeration"]) == 4  # 3 agglomeration inputs and tourism
    others = [t for t in atlas["towns"] if t["id"] not in ("balkhash", "karazhal", "temirtau")]
    assert all(t["scenario"]["provisional"] for t in others)
    # no statistic is invented: the 24 other towns have no economic input at all
    assert all(t["inputs"]["econ_industrial_output"] is None for t in others)


def test_derived_vs_paper_agglomeration_reported(atlas):
    by = {t["id"]: t for t in atlas["towns"]}
    diffs = {
        (t, p["input"]) for t in by for p in by[t].get("paper_agglomeration", []) if p["differs"]
    }
    assert diffs == {("balkhash", "aggl_near_large_city"), ("karazhal", "aggl_corridor_junction")}
    why = next(
        p["why"]
        for p in by["balkhash"]["paper_agglomeration"]
        if p["input"] == "aggl_near_large_city"
    )
    assert "Karaganda" in why and "beyond near_km = 100 km" in why


def test_results_carry_parameters(atlas):
    assert atlas["parameters"]["spatial"]["fua_minutes"] == 60
    assert atlas["parameters"]["method"]["bands"]["agglomeration"][-1] == ["high", None]


def test_bad_statistics_file_names_row_and_field(tmp_path, method):
    f = tmp_path / "statistics.csv"
    f.write_text(
        "town_id,input,value,unit,period,source,note\n"
        "x,mono_output_share,140,%,2020,doc,\n"
        "x,aggl_in_fua,100,,2020,doc,\n"
        "y,econ_profitable_share,20,%,2020,,\n"
    )
    with pytest.raises(InputError) as exc:
        load_values(f, method, "statistical")
    msg = str(exc.value)
    assert (
        "statistics.csv town 'x': field 'mono_output_share' value 140 is out of range; allowed: 0"
        " to 100" in msg
    )
    assert "statistics.csv row 3 town 'x': field 'input' value 'aggl_in_fua'" in msg
    assert "statistics.csv row 4 town 'y': field 'source' is empty" in msg


def test_bad_curated_file(tmp_path, method):
    f = tmp_path / "curated.csv"
    f.write_text(
        "town_id,input,value,unit,period,status,source,note\n"
        "x,special_raw_materials,50,0 or 100,2025,sourced,why,\n"
        "y,special_raw_materials,,0 or 100,,missing,,\n"
        "x,mono_output_share,50,%,2025,sourced,doc,\n"
    )
    with pytest.raises(InputError) as exc:
        load_values(f, method, "curated")
    msg = str(exc.value)
    assert "field 'special_raw_materials' value 50 is out of range; allowed: 0 or 100" in msg
    assert "curated.csv row 3 town 'y': field 'source' is empty" in msg
    assert (
        "curated.csv row 4 town 'x': field 'input' value 'mono_output_share'; allowed: an input of"
        " role 'curated'" in msg
    )


def test_roles_come_from_the_method(method):
    assert method.input_names("derived") == [
        "aggl_in_fua",
        "aggl_near_large_city",
        "aggl_corridor_junction",
        "special_tourism",
    ]
    assert method.input_names("curated") == ["special_raw_materials"]
    assert len(method.input_names("statistical")) == 20


def test_unknown_town_in_data_is_an_error(pipeline, method):
    derived = pipeline.spatial.derive(default_params())
    with pytest.raises(InputError, match="town_id 'atlantis' is not one of the towns"):
        build_atlas(derived, method, statistics={"atlantis": {}}, curated={})


def test_paper_towns_keep_their_printed_special_inputs(atlas):
    """The paper's Table 4: raw materials 100/100/100 (kept, the reserve rule's answer beside them)
    and tourism 100/0/0 (derived from the tourism-site layer, equal to the paper)."""
    by = {t["id"]: t for t in atlas["towns"]}
    for tid, tourism in (("balkhash", 100), ("karazhal", 0), ("temirtau", 0)):
        raw = by[tid]["provenance"]["special_raw_materials"]
        assert raw["value"] == 100 and raw["status"] == "sourced" and "Maimurunova" in raw["source"]
        assert "reserve rule gives" in raw["rule_check"]
        assert by[tid]["inputs"]["special_tourism"] == tourism
        check = next(p for p in by[tid]["paper_agglomeration"] if p["input"] == "special_tourism")
        assert check["differs"] is False
    assert "Lake Balkhash shore" in by["balkhash"]["provenance"]["special_tourism"]["source"]


def test_special_potential_level_for_25_towns(atlas):
    assert sum(t["levels"]["special"] is not None for t in atlas["towns"]) >= 25


def test_mixed_years_are_said(atlas):
    by = {t["id"]: t for t in atlas["towns"]}
    assert len(by["zhezkazgan"]["input_years"]) >= 1
    assert all(isinstance(y, str) and len(y) == 4 for t in atlas["towns"] for y in t["input_years"])


def test_stored_provenance_made_once_gives_the_same_atlas():
    """The stored inputs' provenance made once (webapp.model's snapshot) gives the same atlas as
    made per run, and the shared entries are not modified by a run."""
    import copy

    from scoring.atlas import build_atlas, stored_provenance
    from scoring.pipeline import Pipeline

    pipe = Pipeline()
    s = pipe.sources
    d = pipe.model("shipped").derive(pipe.run()["_derivation"].params)
    stored = stored_provenance(s.method, s.statistics, s.curated, [t.town_id for t in d.towns])
    before = copy.deepcopy(stored)
    kw = dict(statistics=s.statistics, curated=s.curated, experts=s.experts,
              paper_inputs=s.paper_inputs)
    plain, shared = build_atlas(d, s.method, **kw), build_atlas(d, s.method, stored=stored, **kw)
    assert plain == shared
    assert stored == before
