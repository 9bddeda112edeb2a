"""Folium maps: zones, schools and the outline, with or without a base map."""

from __future__ import annotations

import json

import pytest

from zoning.maps import zones_map


def test_map_has_every_zone_and_school(small_demo):
    ds = small_demo
    fmap = zones_map(ds.zones, ds.schools, level="primary", district=ds.district)
    html = fmap.get_root().render()
    primary = ds.zones.index[ds.zones["level"] == "primary"]
    for zid in primary[:10]:
        assert zid in html
    names = [getattr(c, "layer_name", "") for c in fmap._children.values()]
    assert "小学片区" in names and "区界" in names and "学校" in names
    markers = [c for c in fmap._children.values() if getattr(c, "layer_name", "") == "学校"][0]
    serving = ds.schools["level"].isin(["primary", "nine_year"]).sum()
    # one GeoJSON layer of circle markers (one element, not one per school), one feature each
    points = markers.data["features"]
    assert len(points) == serving
    assert {f["geometry"]["type"] for f in points} == {"Point"}
    names = set(ds.schools.loc[ds.schools["level"].isin(["primary", "nine_year"]), "name"])
    assert all(any(n in f["properties"]["tip"] for n in names) for f in points)


def test_offline_assets_replace_the_cdn(small_demo):
    ds = small_demo
    fmap = zones_map(ds.zones, ds.schools, level="junior", assets="/app/static/leaflet")
    html = fmap.get_root().render()
    assert "/app/static/leaflet/leaflet.js" in html
    assert "cdn.jsdelivr.net/npm/leaflet" not in html


def test_amap_basemap_shifts_overlays_to_gcj02(small_demo):
    ds = small_demo
    plain = zones_map(ds.zones, ds.schools, basemap="none")
    amap = zones_map(ds.zones, ds.schools, basemap="amap")

    def first_coord(fmap):
        for child in fmap._children.values():
            if type(child).__name__ == "GeoJson" and "zone_id" in json.dumps(child.data)[:5000]:
                geom = child.data["features"][0]["geometry"]
                ring = geom["coordinates"][0] if geom["type"] == "Polygon" else \
                    geom["coordinates"][0][0]
                return ring[0]
        raise AssertionError("no zone layer")

    (lon0, lat0), (lon1, lat1) = first_coord(plain), first_coord(amap)
    # GCJ-02 sits a few hundred metres from WGS-84 in Chongqing
    assert 0.001 < abs(lon1 - lon0) + abs(lat1 - lat0) < 0.01


def test_save_map_is_self_contained(small_demo, tmp_path):
    from zoning.maps import save_map

    out = tmp_path / "zones.html"
    save_map(zones_map(small_demo.zones, small_demo.schools), out)
    html = out.read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in html and "<script src=" not in html
    assert "Leaflet 1.9.4" in html or "1.9.4" in html
    assert ".leaflet-pane" in html  # the stylesheet
    assert [p.name for p in tmp_path.iterdir()] == ["zones.html"]  # no temporary file left


@pytest.mark.slow
def test_saved_map_draws_offline_in_a_real_browser(small_demo, tmp_path, chromium):
    """Open the saved file in Chromium with every network request refused: the zones draw."""
    from playwright.sync_api import sync_playwright

    from zoning.maps import save_map

    out = tmp_path / "zones.html"
    save_map(zones_map(small_demo.zones, small_demo.schools), out)
    with sync_playwright() as p:
        browser = chromium(p)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        refused = []

        def refuse(route):
            refused.append(route.request.url)
            route.abort()

        page.route("http*://**", refuse)
        page.goto(out.as_uri())
        page.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=30_000)
        box = page.locator(".leaflet-overlay-pane canvas").first.bounding_box()
        assert box and box["width"] > 300
        toggle = page.locator(".leaflet-control-layers-toggle").bounding_box()
        assert toggle and toggle["width"] > 20  # the word 图层, not a missing icon
        browser.close()
    assert refused == []  # nothing needed the network


def test_lookup_map_outlines_the_answer(small_demo):
    from zoning.lookup import lookup
    from zoning.maps import lookup_map

    res = lookup(small_demo, address=small_demo.addresses["address"].iloc[3])
    html = lookup_map(res, small_demo).get_root().render()
    for ans in res.levels.values():
        assert ans.zone_name in html
        for s in ans.schools:
            assert s.name in html
    assert "查询位置" in html
    miss = lookup(small_demo, address="不存在的路999号")
    with pytest.raises(ValueError, match="found answer"):
        lookup_map(miss, small_demo)
