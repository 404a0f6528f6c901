"""The loaders without iterrows give what the row-wise loaders gave (shipped data)."""

from webapp import ROOT


def test_junction_lines_equal_the_row_wise_loader():
    import numpy as np

    import shapely

    from geo.additions import PLACED
    from geo.junctions import Lines, _merge_sections, line_distances_km, reach_km
    from geo.layers import load_layers
    from geo.params import load_road_classes

    layers = load_layers(ROOT / "data")
    lines = Lines(layers)
    major = {c for c, rc in load_road_classes().items() if rc.junction_line}
    rows = [
        (
            r["road_id"],
            r["class"],
            f"road {r['road_id']} {r['name_ru'] or ''}".strip(),
            r["corridors"] or "",
            r.geometry,
        )
        for _, r in layers.roads.iterrows()
        if r["class"] in major
    ]
    rows += [
        (r["line_id"], "railway", f"railway {r['name']}", "", r.geometry)
        for _, r in layers.railways.iterrows()
        if r["status"] == "operating"
    ]
    rows += [
        (r["corr_id"], "corridor", f"corridor {r['name']}", "", r.geometry)
        for _, r in layers.corridors.iterrows()
        if r["planned"] == "no" and not r["roads"]
    ]
    rows = _merge_sections(rows)
    assert len(rows) > 10
    assert lines.ids == [r[0] for r in rows]
    assert lines.types.tolist() == [r[1] for r in rows]
    assert lines.names == [r[2] for r in rows]
    assert lines.corridors == [r[3] for r in rows]
    points = np.array([[t.geometry.x, t.geometry.y] for _, t in layers.towns.iterrows()])
    assert lines.town_points.shape == points.shape == (27, 2)
    assert np.array_equal(lines.town_points, points)
    # the geometries are not kept (issue 25): every town's distance to each line, from the row-wise
    # geometries (a railway with a placed far end is measured at its sourced station), as far as
    # the largest radius a planner may set, inf beyond it
    placed = set(layers.railways.loc[layers.railways["basis"] == PLACED, "line_id"])
    measured = [shapely.get_point(r[4], 0) if r[0] in placed else r[4] for r in rows]
    every = line_distances_km(points, measured)
    near = every <= reach_km()
    assert reach_km() == 200 and near.any() and not near.all()
    assert np.array_equal(lines.dist[near], every[near])
    assert np.all(np.isinf(lines.dist[~near]))


def test_official_members_equal_the_row_wise_loader():
    from geo.layers import load_layers
    from geo.official import Official

    layers = load_layers(ROOT / "data")
    official = Official(layers)
    old = {r["town_id"]: r for _, r in official.table.iterrows() if r["town_id"]}
    assert official.members and official.members.keys() == old.keys()
    for tid, row in old.items():
        assert {k: str(v) for k, v in official.members[tid].items()} == {
            k: str(v) for k, v in row.items()
        }
    for tid in layers.towns["id"]:
        assert official.flag(tid).reason  # every town answered (member or not)
