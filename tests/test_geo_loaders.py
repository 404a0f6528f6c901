"""The loaders without iterrows give what the row-wise loaders gave (shipped data)."""

from webapp import ROOT


def test_junction_lines_equal_the_row_wise_loader():
    import numpy as np

    from geo.junctions import Lines, _merge_sections
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
    assert all(a.equals_exact(b, 0) for a, b in zip(lines.geoms, [r[4] for r in rows]))
    points = np.array([[t.geometry.x, t.geometry.y] for _, t in layers.towns.iterrows()])
    assert lines.town_points.shape == points.shape == (27, 2)
    assert np.array_equal(lines.town_points, points)


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
