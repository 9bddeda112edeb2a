"""The demo district: realistic, valid, deterministic to the byte."""

from __future__ import annotations

import hashlib
import re
import time

import numpy as np
import pytest
import shapely

from zoning import crs
from zoning.demo import COUNTY, YEAR, build_demo, load_boundary, write_demo
from zoning.store import GeoPackageStore
from zoning.unitcode import is_valid, parse
from zoning.zones import validate, zone_schools


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_boundary_is_yubei_in_working_crs():
    b = load_boundary()
    assert b.is_valid
    # 渝北区 is about 1,450 km²
    assert 1.3e9 < b.area < 1.6e9
    # its representative point is back in 渝北 in lon/lat
    p = b.representative_point()
    lon, lat = crs.from_working(p.x, p.y, target="gcj02")
    assert 106.4 < lon < 107.0 and 29.5 < lat < 30.2


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a.gpkg", tmp_path / "b.gpkg", tmp_path / "c.gpkg"
    kw = dict(n_parcels=1_200, n_addresses=5_000)
    write_demo(a, seed=3, **kw)
    write_demo(b, seed=3, **kw)
    write_demo(c, seed=4, **kw)
    assert _sha(a) == _sha(b)
    assert _sha(a) != _sha(c)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_small_demo_validates(small_demo):
    ds = small_demo
    report = validate(ds.zones, schools=ds.schools, parcels=ds.parcels, district=ds.district)
    # nothing at all: no gap, no overlap, and every zone in one piece
    assert report.problems.empty, report.problems.head().to_string()


def test_zones_tile_the_district(small_demo):
    ds = small_demo
    district = ds.district.geometry.iat[0]
    for level in ("primary", "junior"):
        z = ds.zones[ds.zones["level"] == level].geometry
        assert z.area.sum() == pytest.approx(district.area, rel=1e-6)
        assert shapely.union_all(z.values).symmetric_difference(district).area < 1.0


def test_parcels_have_valid_codes_on_the_county(small_demo):
    ds = small_demo
    assert all(len(p) == 19 for p in ds.parcels.index)
    assert all(is_valid(p, allow_parcel=True) for p in ds.parcels.index)
    assert {parse(p, allow_parcel=True).county for p in ds.parcels.index} == {COUNTY}
    units = ds.addresses["unit_code"]
    assert units.map(is_valid).all()
    # a unit code belongs to its parcel
    assert (units.str[:19] == ds.addresses["parcel_id"]).all()
    assert ds.addresses["parcel_id"].isin(ds.parcels.index).all()


def test_addresses_look_like_chongqing_addresses(small_demo):
    a = small_demo.addresses
    assert a["address"].str.startswith("重庆市渝北区").all()
    assert a["address"].is_unique
    dwelling = re.compile(r"(路|大道|街|巷)\d+号.+\d+栋\d+单元\d+-\d+$")
    shop = re.compile(r"\d+号附\d+号$")
    village = re.compile(r"村\d+组\d+号$")
    kinds = a["address"].map(lambda s: bool(dwelling.search(s)) + 2 * bool(shop.search(s))
                             + 4 * bool(village.search(s)))
    assert (kinds == 1).mean() > 0.5
    assert (kinds == 2).any() and (kinds == 4).any()
    # every address point lies in its own parcel
    parcels = small_demo.parcels.geometry.loc[a["parcel_id"]].values
    assert shapely.covers(parcels, a.geometry.values).all()


def test_road_numbers_odd_and_even_sides(small_demo):
    p = small_demo.parcels
    urban = p[p["kind"].isin(["estate", "old_housing", "commercial"])]
    both = urban.groupby("road")["road_no"].agg(lambda s: {n % 2 for n in s})
    assert (both.map(len) == 2).mean() > 0.3  # many roads have both sides numbered


def test_schools_mix_and_zones_point_to_public_schools(small_demo):
    s = small_demo.schools
    counts = s.groupby(["ownership", "level"]).size()
    assert counts[("public", "primary")] >= 50
    assert counts[("public", "junior")] >= 18
    assert counts.loc["public"].get("nine_year", 0) + counts.loc["private"].get("nine_year", 0) >= 4
    assert s["ownership"].eq("private").sum() == 6
    links = zone_schools(small_demo.zones)
    assert s.loc[links["school_id"], "ownership"].eq("public").all()
    assert (links.groupby("zone_id").size() > 1).sum() >= 2  # 多校划片 zones exist


def test_some_schools_are_short_of_seats(small_demo):
    s = small_demo.schools
    e = small_demo.tables["enrolment"]
    g1 = e[(e["year"] == YEAR) & (e["grade"] == 1)].set_index("school_id")["students"]
    seats = s["planned_primary_classes"] * 45
    ratio = (g1 / seats.reindex(g1.index)).dropna()
    assert (ratio > 1.0).any() and (ratio < 0.9).any()


def test_tables_are_consistent(small_demo):
    t = small_demo.tables
    assert set(t) == {"classes", "enrolment", "births", "housing"}
    assert t["births"]["year"].nunique() >= 8
    assert t["births"]["community"].isin(small_demo.parcels["community"]).all()
    assert t["housing"]["parcel_id"].isin(small_demo.parcels.index).all()
    assert (t["housing"]["year"] > YEAR).all()
    classes = t["classes"]
    # starting grades respect the caps (seeds 000 五(二)); older grades carry some 大班额
    assert classes.loc[classes["grade"] == 1, "students"].max() <= 45
    assert classes.loc[classes["grade"] == 7, "students"].max() <= 50
    assert classes["students"].max() >= 56
    assert (classes["students"] >= 0).all()


def test_build_demo_without_writing_is_in_working_crs():
    ds = build_demo(seed=1, n_parcels=800, n_addresses=2_000)
    for layer in (ds.schools, ds.zones, ds.parcels, ds.addresses, ds.district):
        assert layer.crs.to_epsg() == 4545
    assert len(ds.addresses) == 2_000
    assert np.isfinite(ds.addresses.geometry.x).all()


@pytest.mark.slow
def test_full_demo_real_size_valid_and_under_a_minute(tmp_path):
    t0 = time.perf_counter()
    path = write_demo(tmp_path / "demo.gpkg", seed=7)
    elapsed = time.perf_counter() - t0
    assert elapsed < 60, f"demo took {elapsed:.1f} s"
    ds = GeoPackageStore(path).load()
    assert len(ds.parcels) == 20_000
    assert len(ds.addresses) == 200_000
    assert ds.addresses["address"].is_unique
    assert 500_000 < ds.parcels["households"].sum() < 1_200_000
    report = validate(ds.zones, schools=ds.schools, parcels=ds.parcels, district=ds.district)
    assert report.ok, report.errors.head().to_string()
