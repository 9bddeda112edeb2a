"""Tests for zoning.capacity: caps, warnings, demand sharing, tables, outputs."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from zoning.capacity import (
    MAX_CAP,
    WARNING_ZH,
    CapacitySettings,
    capacity_table,
    class_cap,
    district_summary,
    large_classes,
    observed_demand,
    public_notice,
    school_demand,
    to_csv,
    to_excel,
    warning_level,
    warning_levels,
    warning_map,
)
from zoning.errors import ValidationError, ZoningWarning

CRS = "EPSG:4545"
X0, Y0 = 500_000, 3_270_000


def _schools():
    """Three primary-serving schools and one junior: S1 (2 classes), S2 (4), S3 (0), J1 (3)."""
    return gpd.GeoDataFrame(
        {
            "name": ["一小", "二小", "三小", "一中"],
            "level": ["primary", "nine_year", "primary", "junior"],
            "ownership": ["public", "public", "private", "public"],
            "planned_primary_classes": [2, 4, 0, 0],
            "planned_junior_classes": [0, 2, 0, 3],
        },
        geometry=[Point(X0 + 500, Y0 + 500), Point(X0 + 1500, Y0 + 500),
                  Point(X0 + 2500, Y0 + 500), Point(X0 + 1500, Y0 + 1500)],
        index=pd.Index(["S1", "S2", "S3", "J1"], name="school_id"), crs=CRS,
    )


def _zones():
    """Z1 → S1 alone; Z2 is 多校划片 (S1、S2); Z3 → S3; Z4 (junior) → S2, J1."""
    return gpd.GeoDataFrame(
        {"level": ["primary", "primary", "primary", "junior"],
         "school_ids": ["S1", "S1、S2", "S3", "S2;J1"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
                  box(X0 + 2000, Y0, X0 + 3000, Y0 + 1000), box(X0, Y0, X0 + 3000, Y0 + 2000)],
        index=pd.Index(["Z1", "Z2", "Z3", "Z4"], name="zone_id"), crs=CRS,
    )


@pytest.mark.parametrize(("school_level", "grades"), [
    ("primary", range(1, 7)), ("junior", range(7, 10)), ("nine_year", range(1, 10))])
def test_class_cap_every_grade(school_level, grades):
    # the cap follows the grade; a 九年一贯制 school uses 45 for 1-6 and 50 for 7-9
    for grade in grades:
        assert class_cap(school_level, grade) == (45 if grade <= 6 else 50)


@pytest.mark.parametrize(("school_level", "grade"), [("primary", 7), ("junior", 6),
                                                     ("nine_year", 10), ("primary", 0)])
def test_class_cap_grade_outside_the_level(school_level, grade):
    with pytest.raises(ValidationError, match="not taught"):
        class_cap(school_level, grade)


def test_class_cap_lowered_and_raised():
    assert class_cap("primary", 1, caps={"primary": 40}) == 40
    assert class_cap("nine_year", 7, caps={"primary": 40}) == 50
    assert class_cap("junior", 8, caps={"junior": 48}) == 48
    with pytest.raises(ValidationError, match=r"primary_cap=46.*45"):
        class_cap("primary", 1, caps={"primary": 46})
    with pytest.raises(ValidationError, match=r"junior_cap=55.*50"):
        CapacitySettings(junior_cap=55)
    with pytest.raises(ValidationError, match="unknown key"):
        class_cap("primary", 1, caps={"senior": 40})
    with pytest.raises(ValidationError, match="use one of"):
        class_cap("senior", 10)


def test_settings_thresholds():
    with pytest.raises(ValidationError, match="yellow"):
        CapacitySettings(yellow=1.0, red=1.0)
    with pytest.raises(ValidationError):
        CapacitySettings(yellow=0.0)
    assert CapacitySettings().cap("junior") == MAX_CAP["junior"]


# ------------------------------------------------------------------------------------ warnings
@pytest.mark.parametrize(("ratio", "level"), [
    (0.0, "green"), (0.8999, "green"), (0.9, "yellow"), (0.9999, "yellow"), (1.0, "red"),
    (3.0, "red"), (math.inf, "red"), (math.nan, "none"),
])
def test_warning_edges(ratio, level):
    assert warning_level(ratio) == level
    assert warning_levels([ratio]).tolist() == [level]


def test_warning_levels_custom_thresholds():
    assert warning_levels(np.array([0.7, 0.8, 0.95]), yellow=0.8, red=0.95).tolist() == [
        "green", "yellow", "red"]


# ------------------------------------------------------------------------------------ demand
def test_school_demand_shares_multi_school_zone():
    # Z2's 120 is shared by seats: S1 has 2×45 = 90, S2 has 4×45 = 180 → 40 / 80
    d = school_demand(pd.Series({"Z1": 30.0, "Z2": 120.0}), _zones(), _schools(), level="primary")
    assert d["S1"] == pytest.approx(70.0)
    assert d["S2"] == pytest.approx(80.0)
    assert d["S3"] == 0.0  # Z3 has no demand
    assert "J1" not in d.index
    assert d.sum() == pytest.approx(150.0)


def test_school_demand_equal_shares_without_seats():
    s = _schools()
    s["planned_primary_classes"] = 0
    d = school_demand(pd.Series({"Z2": 100.0}), _zones(), s, level="primary")
    assert d["S1"] == d["S2"] == pytest.approx(50.0)


def test_school_demand_unknown_zone_refused():
    with pytest.raises(ValidationError, match="Z9"):
        school_demand(pd.Series({"Z9": 5.0}), _zones(), _schools(), level="primary")


def test_empty_zone_is_green():
    d = school_demand(pd.Series(dtype=float), _zones(), _schools(), level="primary")
    t = capacity_table(_schools(), level="primary", demand=d)
    assert t.loc["S1", "demand"] == 0.0
    assert t.loc["S1", "warning"] == "green"
    assert t.loc["S3", "warning"] == "none"  # no seats, no demand
    assert (t["shortfall_seats"] >= 0).all()


# ------------------------------------------------------------------------------------ table
def test_capacity_table_columns_and_values():
    t = capacity_table(_schools(), level="junior", demand=pd.Series({"S2": 95, "J1": 160}))
    assert list(t.index) == ["S2", "J1"]
    assert t.index.name == "school_id"
    j = t.loc["J1"]
    assert (j["cap"], j["seats"], j["classes_needed"]) == (50, 150, 4)
    assert j["shortfall_classes"] == 1 and j["shortfall_seats"] == 10
    assert j["warning"] == "red"
    assert t.loc["S2", "warning"] == "yellow"  # 95 / 100


def test_zero_planned_classes_no_division_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from 1/0 either
        t = capacity_table(_schools(), level="primary", demand=pd.Series({"S3": 20}))
    row = t.loc["S3"]
    assert math.isinf(row["ratio"])
    assert row["warning"] == "red"
    assert row["problem"] == "no planned classes"
    assert district_summary(t)["problems"] == ["S3"]


def test_zero_planned_classes_strict():
    with pytest.raises(ValidationError, match=r"S3.*planned_primary_classes"):
        capacity_table(_schools(), level="primary", demand=pd.Series({"S3": 20}), strict=True)


def test_lower_cap_changes_seats():
    t = capacity_table(_schools(), level="primary", demand=pd.Series({"S1": 80}),
                       settings=CapacitySettings(primary_cap=40))
    assert t.loc["S1", "seats"] == 80
    assert t.loc["S1", "warning"] == "red"


# ------------------------------------------------------------------------------------ classes
def test_large_classes_hand_table():
    classes = pd.DataFrame({
        "school_id": ["A"] * 7,
        "grade": [1, 1, 3, 4, 5, 7, 8],
        "class_no": [1, 2, 1, 1, 1, 1, 1],
        "students": [45, 46, 56, 65, 66, 51, 50],
    })
    got = large_classes(classes)
    flags = dict(zip(zip(got["grade"], got["class_no"], strict=True), got["flag"], strict=True))
    assert flags == {(1, 2): "over_cap", (3, 1): "large", (4, 1): "large",
                     (5, 1): "very_large", (7, 1): "over_cap"}
    assert list(got.columns) == ["school_id", "grade", "class_no", "students", "flag", "flag_zh"]
    assert got["flag_zh"].str.contains("班额").all()


# ------------------------------------------------------------------------------------ demo
@pytest.fixture(scope="module")
def demo_table(small_demo):
    from zoning.capacity import capacity_for_year

    return capacity_for_year(small_demo, level="primary", year=2027)


def test_demo_observed_demand(small_demo, demo_table):
    observed = observed_demand(small_demo, level="primary", year=2026)
    e = small_demo.tables["enrolment"]
    assert observed.sum() == e.loc[(e["year"] == 2026) & (e["grade"] == 1), "students"].sum()
    s = district_summary(demo_table)
    assert s["red"] > 0 and s["green"] > 0
    assert s["schools"] == len(demo_table)
    assert set(demo_table["level"]) <= {"primary", "nine_year"}
    assert (demo_table["ownership"] == "private").any()
    with pytest.raises(ValidationError, match="year=1990"):
        observed_demand(small_demo, level="primary", year=1990)


def test_demo_notice(demo_table):
    text = public_notice(demo_table, district="渝北区", year=2027, level="primary")
    assert text.startswith("# 渝北区2027年秋季小学一年级招生学位预警")
    assert "健全招生预警机制，合理引导家长预期" in text
    for name in demo_table.loc[demo_table["warning"] == "red", "name"]:
        assert name in text
    assert "红色" in text
    assert "（请填写本区招生咨询电话）" in text
    for name in demo_table.loc[demo_table["warning"] == "green", "name"]:
        assert f"| {name} |" not in text


def test_notice_warns_on_problems():
    t = capacity_table(_schools(), level="primary", demand=pd.Series({"S3": 20}))
    with pytest.warns(ZoningWarning, match="S3"):
        public_notice(t)


def test_excel_csv_round_trip(demo_table, tmp_path):
    to_excel(demo_table, tmp_path / "cap.xlsx")
    to_csv(demo_table, tmp_path / "cap.csv")
    x = pd.read_excel(tmp_path / "cap.xlsx", dtype={"学校代码": str})
    c = pd.read_csv(tmp_path / "cap.csv", encoding="utf-8-sig", dtype={"学校代码": str})
    for back in (x, c):
        assert {"学校", "学段", "计划班数", "每班上限", "学位数", "需求", "比例", "预警"} <= set(back)
        assert len(back) == len(demo_table)
        assert back["学位数"].sum() == demo_table["seats"].sum()
        assert set(back["预警"]) <= set(WARNING_ZH.values())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    to_csv(demo_table, tmp_path / "raw.csv", public=False)
    raw = pd.read_csv(tmp_path / "raw.csv", index_col="school_id")
    assert raw["warning"].tolist() == demo_table["warning"].tolist()


def test_warning_map_renders(small_demo, demo_table):
    fmap = warning_map(demo_table, small_demo.schools, small_demo.zones, level="primary")
    html = fmap.get_root().render()
    assert "学位预警图例" in html
    for colour in ("#2e7d32", "#f9a825", "#c62828"):
        assert colour in html
    zone_ids = small_demo.zones.index[small_demo.zones["level"] == "primary"]
    assert all(str(z) in html for z in zone_ids[:5])


def test_warning_map_hand_zones():
    t = capacity_table(_schools(), level="primary", demand=pd.Series({"S1": 100, "S2": 10}))
    html = warning_map(t, _schools(), _zones(), level="primary").get_root().render()
    assert "Z2" in html and "Z4" not in html


# ------------------------------------------------------------------------------------ season demand
def _applicants(ds, seed=3):
    """Applications of 2027 on the small demo, with the school each should count at.

    Homes are taken in single-school primary zones, so the expected school is unambiguous; it is
    found through :func:`zoning.lookup.lookup` (the parent-facing path), not the batch path.
    """
    from zoning.lookup import lookup
    from zoning.zones import zone_schools

    links = zone_schools(ds.zones[ds.zones["level"] == "primary"])
    single = links.groupby("zone_id").filter(lambda g: len(g) == 1)
    rows, expect = [], {}
    addrs = ds.addresses.sample(400, random_state=seed)
    for i, (code, text) in enumerate(zip(addrs["unit_code"], addrs["address"], strict=True)):
        ans = lookup(ds, parcel=code).levels.get("primary")
        if ans is None or ans.zone_id not in set(single["zone_id"]):
            continue
        sid = ans.schools[0].school_id
        by_code = len(rows) % 2 == 0
        rows.append({"applicant_id": f"A{i}", "year": 2027, "level": "primary",
                     "status": "registered", "application_type": "public", "school_id": None,
                     "property_unit_code": code if by_code else None,
                     "residence_address": None if by_code else text})
        expect[sid] = expect.get(sid, 0) + 1
        if len(rows) == 40:
            break
    private = ds.schools.index[(ds.schools["ownership"] == "private")
                               & ds.schools["level"].isin(["primary", "nine_year"])][0]
    extra = [
        # a private application counts at its school
        {"applicant_id": "P1", "year": 2027, "level": "primary", "status": "registered",
         "application_type": "private", "school_id": private},
        {"applicant_id": "P2", "year": 2027, "level": "primary", "status": "registered",
         "application_type": "private", "school_id": private},
        # withdrawn, another year, another level: not counted
        {"applicant_id": "W1", "year": 2027, "level": "primary", "status": "withdrawn",
         "application_type": "private", "school_id": private},
        {"applicant_id": "Y1", "year": 2026, "level": "primary", "status": "registered",
         "application_type": "private", "school_id": private},
        {"applicant_id": "J1", "year": 2027, "level": "junior", "status": "registered",
         "application_type": "private", "school_id": private},
        # an address nobody can place: reported, not counted
        {"applicant_id": "U1", "year": 2027, "level": "primary", "status": "registered",
         "application_type": "public", "school_id": None,
         "residence_address": "北京市海淀区中关村大街1号"},
    ]
    expect[private] = expect.get(private, 0) + 2
    assert len(rows) >= 20
    return pd.DataFrame(rows + extra), expect


def test_applicant_demand_counts_each_application_once(small_demo):
    from zoning.capacity import applicant_demand

    apps, expect = _applicants(small_demo)
    with pytest.warns(ZoningWarning, match=r"1 primary application.*U1"):
        demand, unplaced = applicant_demand(small_demo, apps, level="primary", year=2027)
    assert unplaced["applicant_id"].tolist() == ["U1"]
    got = demand[demand > 0].to_dict()
    assert got == pytest.approx({k: float(v) for k, v in expect.items()})
    assert demand.sum() == len(apps) - 6 + 2  # 40ish placed homes + 2 private


def test_applicant_demand_refuses_unknown_school(small_demo):
    from zoning.capacity import applicant_demand

    apps = pd.DataFrame({"applicant_id": ["X"], "year": [2027], "level": ["primary"],
                         "school_id": ["S999"]})
    with pytest.raises(ValidationError, match="S999"):
        applicant_demand(small_demo, apps, level="primary", year=2027)
    with pytest.raises(ValidationError, match="applicant_id"):
        applicant_demand(small_demo, apps.drop(columns="applicant_id"), level="primary",
                         year=2027)


def test_season_demand_sources(small_demo):
    from zoning.capacity import capacity_for_year, season_demand

    apps, _ = _applicants(small_demo)
    with pytest.warns(ZoningWarning):
        assert season_demand(small_demo, level="primary", year=2027,
                             applicants=apps).source == "applicants"
    # junior applicants of 2027 exist only as one private application
    assert season_demand(small_demo, level="junior", year=2027,
                         applicants=apps).source == "applicants"
    assert season_demand(small_demo, level="primary", year=2026).source == "enrolment"
    d = season_demand(small_demo, level="primary", year=2029)
    assert d.source == "forecast" and {"lo", "hi", "p_red"} <= set(d.detail)
    t = capacity_for_year(small_demo, level="primary", year=2029)
    assert t.attrs == {"level": "primary", "year": 2029, "source": "forecast"}
    assert (t["lo"] <= t["demand"] + 1e-9).all() and (t["demand"] <= t["hi"] + 1e-9).all()
    assert t["p_red"].between(0, 1).all()
    with pytest.raises(ValidationError, match="12 years"):
        season_demand(small_demo, level="primary", year=2040)
    with pytest.raises(ValidationError, match="2019"):
        season_demand(small_demo, level="primary", year=2019)


def test_forecast_covers_private_schools(small_demo):
    from zoning.capacity import capacity_for_year

    t = capacity_for_year(small_demo, level="primary", year=2027)
    private = t[t["ownership"] == "private"]
    assert len(private) and (private["demand"] > 0).all()


@pytest.mark.slow
@pytest.mark.xdist_group("full-demo")  # one worker builds the full demo
def test_full_demo_short_schools_are_red_and_notice_lists_them(full_demo_path):
    """The demo plans some schools deliberately short of seats: the 2027 warning finds them."""
    import json

    from zoning.capacity import capacity_for_year
    from zoning.store import GeoPackageStore

    store = GeoPackageStore(full_demo_path)
    ds = store.load()
    short = json.loads(store.get_meta("demo"))["short_of_seats"]
    for level in ("primary", "junior"):
        assert len(short[level]) >= 5
        t = capacity_for_year(ds, level=level, year=2027)
        assert (t.loc[short[level], "warning"] == "red").all(), level
        assert (t.loc[short[level], "p_red"] > 0.8).all()
        s = district_summary(t)
        assert s["green"] > s["red"] > 0 and s["problems"] == []
        text = public_notice(t, year=2027, level=level)
        for name in t.loc[short[level], "name"]:
            assert name in text
        red_rows = [line for line in text.splitlines() if "红色（学位不足）" in line
                    and line.startswith("| ")]
        assert len(red_rows) == s["red"]
