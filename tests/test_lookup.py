"""Lookup with explanation, and batch assignment, on the small demo district."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from zoning.cli import app
from zoning.crs import from_working
from zoning.errors import ValidationError
from zoning.lookup import Resolver, lookup
from zoning.zones import zone_schools

runner = CliRunner()


def _zone_of_parcel(ds, pid, level):
    """The zone that holds a demo parcel (parcels are built inside one zone)."""
    zones = ds.zones[ds.zones["level"] == level]
    pt = shapely.point_on_surface(ds.parcels.geometry.loc[pid])
    return zones.index[zones.geometry.covers(pt)][0]


@pytest.fixture(scope="module")
def dwelling(small_demo):
    a = small_demo.addresses
    return a[a["building"] > 0].iloc[len(a) // 3]


def test_lookup_by_unit_code_resolves_to_its_parcel(small_demo, dwelling):
    res = lookup(small_demo, parcel=dwelling["unit_code"])
    assert res.found and res.kind == "parcel"
    assert res.parcel_id == dwelling["parcel_id"] == dwelling["unit_code"][:19]
    for level in ("primary", "junior"):
        ans = res.levels[level]
        assert ans.zone_id == _zone_of_parcel(small_demo, res.parcel_id, level)
        assert ans.method == "parcel" and ans.share == pytest.approx(1.0)
        assert ans.schools and all(s.distance_m >= 0 for s in ans.schools)
        expected = set(zone_schools(small_demo.zones.loc[[ans.zone_id]])["school_id"])
        assert {s.school_id for s in ans.schools} == expected
        assert ans.explanation_zh.startswith("对口")


def test_lookup_by_bare_parcel_code(small_demo, dwelling):
    res = lookup(small_demo, parcel=dwelling["parcel_id"])
    assert res.found and res.parcel_id == dwelling["parcel_id"]


def test_malformed_unit_code_is_explained_not_raised(small_demo, dwelling):
    res = lookup(small_demo, parcel=dwelling["unit_code"][:27])
    assert not res.found
    assert "27" in res.reason_zh and not res.levels


def test_unit_code_of_another_county(small_demo):
    res = lookup(small_demo, parcel="500103001002GB00012F00010203")
    assert not res.found
    assert "渝中区" in res.reason_zh


def test_lookup_by_exact_address(small_demo, dwelling):
    res = lookup(small_demo, address=dwelling["address"])
    assert res.found and res.kind == "address"
    assert res.address_id == dwelling.name
    assert res.parcel_id == dwelling["parcel_id"]
    assert res.levels["primary"].method == "parcel"


def test_lookup_by_noisy_address(small_demo, dwelling):
    noisy = (dwelling["address"].removeprefix("重庆市").replace("栋", "幢")
             .replace("1", "１"))
    res = lookup(small_demo, address=noisy)
    assert res.found, res.reason
    assert res.parcel_id == dwelling["parcel_id"]


def test_unknown_address_never_gets_a_school(small_demo):
    res = lookup(small_demo, address="重庆市渝北区不存在路99999号")
    assert not res.found
    assert res.reason_zh
    assert all(a.zone_id is None for a in res.levels.values())


def test_lookup_by_point_in_each_datum(small_demo):
    ds = small_demo
    sid = zone_schools(ds.zones[ds.zones["level"] == "primary"])["school_id"].iat[0]
    p = ds.schools.geometry.loc[sid]
    zones = ds.zones[ds.zones["level"] == "primary"]
    expected = zones.index[zones.geometry.covers(p)][0]
    for datum in ("wgs84", "gcj02", "bd09", "cgcs2000"):
        lon, lat = from_working(p.x, p.y, target=datum)
        res = lookup(ds, lonlat=(float(lon), float(lat)), coords=datum)
        assert res.found
        assert res.levels["primary"].zone_id == expected
        assert res.x == pytest.approx(p.x, abs=0.01)


def test_point_outside_the_district(small_demo):
    res = lookup(small_demo, lonlat=(116.4, 39.9))  # Beijing
    assert not res.found
    assert "不在本区" in res.reason_zh


@pytest.mark.parametrize("kwargs", [{}, {"address": "a", "parcel": "b"}])
def test_exactly_one_query(small_demo, kwargs):
    with pytest.raises(ValidationError):
        lookup(small_demo, **kwargs)


def test_bad_lonlat_is_a_clear_error(small_demo):
    with pytest.raises(ValidationError, match="longitude"):
        lookup(small_demo, lonlat=(29.6, 406.5))


def test_multi_school_zone_explained(small_demo):
    ds = small_demo
    links = zone_schools(ds.zones)
    multi = links.groupby("zone_id").size()
    zid = multi[multi > 1].index[0]
    zone = ds.zones.geometry.loc[zid]
    inside = ds.parcels.index[ds.parcels.geometry.within(zone) & (ds.parcels["households"] > 0)]
    res = lookup(ds, parcel=inside[0])
    level = ds.zones.at[zid, "level"]
    assert len(res.levels[level].schools) == 2
    assert "多校划片" in res.levels[level].explanation_zh


def test_result_is_json_ready(small_demo, dwelling):
    res = lookup(small_demo, address=dwelling["address"])
    json.dumps(res.to_dict(), ensure_ascii=False, default=str)


def test_assign_frame_mixed_kinds(small_demo):
    ds = small_demo
    r = Resolver(ds)
    a = ds.addresses.iloc[:50]
    by_addr = r.assign_frame(pd.DataFrame({"address": a["address"].tolist() + ["火星路1号"]}))
    assert by_addr["primary_zone_id"].iloc[:50].notna().all()
    assert by_addr["primary_zone_id"].iat[50] is None
    assert by_addr["reason"].iat[50]
    codes = r.assign_frame(pd.DataFrame({"unit_code": a["unit_code"].tolist() + ["bad"]}))
    assert (codes["parcel_id"].iloc[:50].to_numpy() == a["parcel_id"].to_numpy()).all()
    assert codes["reason"].iat[50]
    lon, lat = from_working(a.geometry.x.to_numpy(), a.geometry.y.to_numpy())
    pts = r.assign_frame(pd.DataFrame({"lon": lon, "lat": lat}))
    # a point inside its parcel lies in the parcel's zone
    assert (pts["primary_zone_id"].to_numpy() == codes["primary_zone_id"].iloc[:50]
            .to_numpy()).all()
    with pytest.raises(ValidationError, match="address column"):
        r.assign_frame(pd.DataFrame({"foo": [1]}))


def test_cli_lookup_and_assign(small_demo_path, small_demo, dwelling, tmp_path):
    ok = runner.invoke(app, ["lookup", "--data", str(small_demo_path), "--address",
                             dwelling["address"], "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["parcel_id"] == dwelling["parcel_id"]
    text = runner.invoke(app, ["lookup", "--data", str(small_demo_path), "--parcel",
                               dwelling["unit_code"]])
    assert text.exit_code == 0 and "对口小学" in text.output and "对口初中" in text.output
    miss = runner.invoke(app, ["lookup", "--data", str(small_demo_path), "--address", "火星路1号"])
    assert miss.exit_code == 1 and "未能确定" in miss.output
    bad = runner.invoke(app, ["lookup", "--data", str(small_demo_path), "--lonlat", "abc"])
    assert bad.exit_code == 2

    src = tmp_path / "in.csv"
    out = tmp_path / "out.csv"
    pd.DataFrame({"address": small_demo.addresses["address"].iloc[:300]}).to_csv(src, index=False)
    res = runner.invoke(app, ["assign", "--data", str(small_demo_path), "--input", str(src),
                              "--out", str(out), "--chunk", "120"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype=str)
    assert len(got) == 300
    assert got["primary_zone_id"].notna().all() and got["junior_zone_id"].notna().all()
    assert np.all(got["address"].to_numpy() == small_demo.addresses["address"].iloc[:300]
                  .to_numpy())


def test_answer_carries_the_schools_capacity_warning(small_demo, dwelling):
    """A parent sees each school's 学位预警 for the coming intake, as officials publish it."""
    from zoning.capacity import WARNING_ZH, capacity_for_year

    res = lookup(small_demo, parcel=dwelling["unit_code"])
    for level, grade in (("primary", "一"), ("junior", "七")):
        table = capacity_for_year(small_demo, level=level, year=2027)
        ans = res.levels[level]
        for sch in ans.schools:
            assert sch.warning == table.at[sch.school_id, "warning"]
            assert sch.warning_zh == WARNING_ZH[sch.warning]
            assert f"{sch.name}2027年{grade}年级学位预警为{sch.warning_zh}" in ans.explanation_zh


def test_no_enrolment_means_no_warning_not_an_error(small_demo, dwelling):
    from dataclasses import replace

    bare = replace(small_demo, tables={})
    res = Resolver(bare).lookup(parcel=dwelling["unit_code"])
    assert res.found
    for ans in res.levels.values():
        assert all(s.warning is None for s in ans.schools)
        assert "学位预警" not in ans.explanation_zh
