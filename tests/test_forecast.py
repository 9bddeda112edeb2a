"""Tests of zoning.forecast: a hand-computed district of two zones, and the small demo."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from zoning.errors import ValidationError
from zoning.forecast import (
    backtest,
    births_by_zone,
    entry_ratios,
    forecast,
    forecast_grades,
    progression_ratios,
)
from zoning.store import Dataset


def _tiny(school_ids=("A", "B"), extra_school=None):
    """Zone Z1 = box(0..10) for A, Z2 = box(10..20) for B.

    Parcels: p1 (C1, 60 hh) and p2 (C2, 20 hh) in Z1; p3 (C2, 20 hh) and p4 (C2, being built,
    100 households completed in 2025) in Z2. So Z1 gets all of C1's births and half of C2's.

    Births          2015 2016 2017 2018
      C1              40   40   50   60
      C2              20   40   20   40
      → Z1            50   60   60   80
      → Z2            10   20   10   20

    Grade-1 intake  2021 2022 2023   (births 6 years earlier: 2015–2017)
      A               45   60   66   ratios 0.9, 1.0, 1.1 → mean 1.0, std 0.1
      B               10   20   10   ratios 1.0, 1.0, 1.0 → mean 1.0, std 0
    """
    zones = gpd.GeoDataFrame(
        {"level": ["primary", "primary"], "school_ids": list(school_ids)},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        index=pd.Index(["Z1", "Z2"], name="zone_id"))
    parcels = gpd.GeoDataFrame(
        {"community": ["C1", "C2", "C2", "C2"], "households": [60, 20, 20, 0],
         "status": ["occupied"] * 3 + ["under_construction"]},
        geometry=[shapely.box(1, 1, 4, 4), shapely.box(5, 5, 8, 8), shapely.box(11, 1, 14, 4),
                  shapely.box(15, 5, 18, 8)],
        index=pd.Index(["p1", "p2", "p3", "p4"], name="parcel_id"))
    ids = ["A", "B"] + ([extra_school] if extra_school else [])
    schools = gpd.GeoDataFrame(
        {"level": "primary", "ownership": "public", "planned_primary_classes": [2, 1, 1][:len(ids)],
         "planned_junior_classes": 0},
        geometry=[shapely.Point(2, 2), shapely.Point(12, 2), shapely.Point(3, 3)][:len(ids)],
        index=pd.Index(ids, name="school_id"))
    births = pd.DataFrame(
        [{"street": "S", "community": c, "year": y, "births": b}
         for c, row in {"C1": (40, 40, 50, 60), "C2": (20, 40, 20, 40)}.items()
         for y, b in zip(range(2015, 2019), row, strict=True)])
    intake = {"A": (45, 60, 66), "B": (10, 20, 10)}
    if extra_school:
        intake[extra_school] = (15, 20, 22)
    rows = [{"school_id": s, "year": y, "grade": 1, "students": n}
            for s, row in intake.items() for y, n in zip((2021, 2022, 2023), row, strict=True)]
    # grade 2 of A: 45 → 45 (2022), 60 → 54 (2023): progression 1.0 and 0.9, mean 0.95
    rows += [{"school_id": "A", "year": 2021, "grade": 2, "students": 40},
             {"school_id": "A", "year": 2022, "grade": 2, "students": 45},
             {"school_id": "A", "year": 2023, "grade": 2, "students": 54}]
    housing = pd.DataFrame({"parcel_id": ["p4"], "year": [2025], "households": [100]})
    parcels["street"] = "S"
    empty = gpd.GeoDataFrame({"address": []}, geometry=[],
                             index=pd.Index([], name="address_id"))
    return Dataset(schools=schools, zones=zones, parcels=parcels, addresses=empty,
                   tables={"births": births, "enrolment": pd.DataFrame(rows),
                           "housing": housing})


@pytest.fixture
def tiny():
    return _tiny()


def test_births_by_zone_spreads_by_households(tiny):
    zb = births_by_zone(tiny, level="primary")
    assert zb.index.name == "zone_id"
    assert zb.loc["Z1"].tolist() == [50, 60, 60, 80]
    assert zb.loc["Z2"].tolist() == [10, 20, 10, 20]


def test_entry_ratios_by_hand(tiny):
    r = entry_ratios(tiny, level="primary")
    np.testing.assert_allclose(r.loc["A", [2021, 2022, 2023]].astype(float), [0.9, 1.0, 1.1])
    assert r.loc["A", "mean"] == pytest.approx(1.0)
    assert r.loc["A", "std"] == pytest.approx(0.1)
    assert r.loc["B", "mean"] == pytest.approx(1.0)
    assert r.loc["B", "std"] == pytest.approx(0.0)
    assert r["n_years"].tolist() == [3, 3]


def test_forecast_point_by_hand(tiny):
    f = forecast(tiny, level="primary", years=2).set_index(["school_id", "year"])
    # 2024 ← births 2018; 2025 ← births 2019, extended by the mean of the last 3 changes
    assert f.loc[("A", 2024), "demand"] == pytest.approx(80.0)
    assert f.loc[("A", 2025), "demand"] == pytest.approx(80 + (10 + 0 + 20) / 3)
    assert f.loc[("B", 2024), "demand"] == pytest.approx(20.0)
    # B: births 20 + (10 - 10 + 10) / 3, plus 100 new households × 0.06
    assert f.loc[("B", 2025), "demand"] == pytest.approx(20 + 10 / 3 + 6.0)
    assert f.loc[("B", 2025), "new_households"] == 100
    assert not f.loc[("A", 2024), "extrapolated"] and f.loc[("A", 2025), "extrapolated"]
    assert f.loc[("A", 2024), "seats"] == 90 and f.loc[("B", 2024), "seats"] == 45
    assert f.loc[("A", 2024), "warning"] == "green"  # 80 / 90 = 0.89
    assert f.loc[("A", 2025), "warning"] == "red"  # 90 / 90
    assert f.loc[("B", 2025), "warning"] == "green"


def test_new_housing_adds_households_times_yield(tiny):
    a = forecast(tiny, level="primary", years=2, children_per_household=0.0)
    b = forecast(tiny, level="primary", years=2, children_per_household=0.25)
    diff = (b["demand"] - a["demand"]).to_numpy()
    np.testing.assert_allclose(diff, [0, 0, 0, 100 * 0.25])


def test_interval_widens_beyond_births(tiny):
    f = forecast(tiny, level="primary", years=2).set_index(["school_id", "year"])
    assert (f["lo"] <= f["demand"]).all() and (f["demand"] <= f["hi"]).all()
    # B has no ratio spread: observed births give a point, extended births an interval
    assert f.loc[("B", 2024), "hi"] - f.loc[("B", 2024), "lo"] == pytest.approx(0.0)
    assert f.loc[("B", 2025), "hi"] - f.loc[("B", 2025), "lo"] > 1.0


def test_p_red_in_range_and_monotone_in_seats(tiny):
    f = forecast(tiny, level="primary", years=2)
    fewer = replace(tiny, schools=tiny.schools.assign(planned_primary_classes=[1, 1]))
    g = forecast(fewer, level="primary", years=2)
    assert f["p_red"].between(0, 1).all()
    assert (g["p_red"] >= f["p_red"]).all()
    assert (g["p_red"] > f["p_red"]).any()


def test_same_seed_same_interval(tiny):
    a = forecast(tiny, level="primary", seed=3)
    b = forecast(tiny, level="primary", seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["seed"] == 3


def test_multi_school_zone_shared_by_intake():
    ds = _tiny(school_ids=("A;C", "B"), extra_school="C")
    r = entry_ratios(ds, level="primary")
    # A took 171 of the 228 pupils of Z1 over 2021–23 (3/4), C took 57 (1/4)
    np.testing.assert_allclose(r.loc["A", [2021, 2022, 2023]].astype(float),
                               [45 / 37.5, 60 / 45, 66 / 45])
    np.testing.assert_allclose(r.loc["C", [2021, 2022, 2023]].astype(float),
                               [15 / 12.5, 20 / 15, 22 / 15])
    f = forecast(ds, level="primary", years=1).set_index("school_id")
    # together the two schools take the zone's births × their pooled ratio
    assert f.loc["A", "births"] + f.loc["C", "births"] == pytest.approx(80.0)
    assert f.loc["A", "births"] == pytest.approx(60.0)


def test_zone_forecast_by_hand(tiny):
    z = forecast(tiny, level="primary", years=2, by="zone").set_index(["zone_id", "year"])
    # one school per zone: the zone's demand is its school's (Z1 → A, Z2 → B)
    assert z.loc[("Z1", 2024), "demand"] == pytest.approx(80.0)
    assert z.loc[("Z2", 2025), "demand"] == pytest.approx(20 + 10 / 3 + 6.0)
    assert z.loc[("Z2", 2025), "new_households"] == 100
    assert z.attrs["by"] == "zone"
    s = forecast(tiny, level="primary", years=2).set_index(["school_id", "year"])
    for zone, school in (("Z1", "A"), ("Z2", "B")):
        for y in (2024, 2025):
            for col in ("lo", "hi"):  # same draws, same interval
                assert z.loc[(zone, y), col] == pytest.approx(s.loc[(school, y), col])


def test_zone_forecast_multi_school_zone_sums_its_schools():
    ds = _tiny(school_ids=("A;C", "B"), extra_school="C")
    z = forecast(ds, level="primary", years=2, by="zone").set_index(["zone_id", "year"])
    s = forecast(ds, level="primary", years=2).set_index(["school_id", "year"])
    for y in (2024, 2025):
        assert z.loc[("Z1", y), "demand"] == pytest.approx(
            s.loc[("A", y), "demand"] + s.loc[("C", y), "demand"])
        assert z.loc[("Z1", y), "births"] == pytest.approx(
            s.loc[("A", y), "births"] + s.loc[("C", y), "births"])
    with pytest.raises(ValidationError, match="by='parcel'"):
        forecast(ds, level="primary", by="parcel")


def test_progression_and_grades(tiny):
    p = progression_ratios(tiny)
    assert p.loc["A", 2] == pytest.approx(0.95)
    g = forecast_grades(tiny, level="primary", years=2).set_index(["school_id", "year", "grade"])
    assert g.loc[("A", 2024, 1), "students"] == pytest.approx(80.0)
    assert g.loc[("A", 2024, 2), "students"] == pytest.approx(66 * 0.95)
    assert g.loc[("A", 2025, 2), "students"] == pytest.approx(80 * 0.95)


def test_missing_births_table_is_named(tiny):
    ds = replace(tiny, tables={k: v for k, v in tiny.tables.items() if k != "births"})
    with pytest.raises(ValidationError, match="table 'births': missing"):
        forecast(ds, level="primary")


def test_every_problem_reported_together(tiny):
    ds = replace(tiny, schools=tiny.schools.drop(columns="planned_primary_classes"),
                 tables={"births": tiny.tables["births"].drop(columns="births")})
    with pytest.raises(ValidationError) as err:
        forecast(ds, level="primary")
    text = str(err.value)
    assert "births" in text and "enrolment" in text and "planned_primary_classes" in text
    assert len(err.value.problems) == 3


def test_unknown_level_and_nothing_to_fit(tiny):
    with pytest.raises(ValidationError, match="level 'senior'"):
        forecast(tiny, level="senior")
    with pytest.raises(ValidationError, match="no year ≤ 2019 has both grade-1 intake"):
        forecast(tiny, level="primary", base_year=2019, years=1)


def test_backtest_by_hand(tiny):
    # fit on 2021–22 (A: 0.9, 1.0 → 0.95), forecast 2023 from births 2017 (60) → 57 vs 66
    bt = backtest(tiny, level="primary")
    row = bt.per_school.set_index("school_id").loc["A"]
    assert row["forecast"] == pytest.approx(57.0)
    assert row["abs_pct_error"] == pytest.approx(9 / 66)
    assert bt.mape == pytest.approx((9 / 66 + 0.0) / 2)


# ------------------------------------------------------------------------------ small demo
@pytest.mark.parametrize("level", ["primary", "junior"])
def test_small_demo_forecast(small_demo, level):
    f = forecast(small_demo, level=level)
    s = small_demo.schools
    serving = {"primary": ("primary", "nine_year"), "junior": ("junior", "nine_year")}[level]
    public = s.index[(s["ownership"] == "public") & s["level"].isin(serving)]
    counts = f.groupby("school_id").size()
    assert set(public) <= set(counts.index)
    assert (counts == 6).all()
    assert (f["lo"] <= f["demand"]).all() and (f["demand"] <= f["hi"]).all()
    assert f["p_red"].between(0, 1).all()
    assert set(f["warning"]) <= {"green", "yellow", "red", "none"}
    # "none" only where a school has neither seats nor demand (as zoning.capacity)
    none = f["warning"] == "none"
    assert ((f.loc[none, "seats"] == 0) & (f.loc[none, "demand"] == 0)).all()
    assert np.isfinite(f["demand"]).all()
    z = forecast(small_demo, level=level, by="zone")
    zones = small_demo.zones.index[small_demo.zones["level"] == level]
    assert set(z["zone_id"]) == set(zones)
    # every pupil a zone sends arrives at one of the (public) schools
    on_public = f[f["school_id"].isin(public)].groupby("year")["demand"].sum()
    np.testing.assert_allclose(z.groupby("year")["demand"].sum(), on_public)


def test_small_demo_backtest(small_demo):
    bt = backtest(small_demo, level="primary")
    assert np.isfinite(bt.mape) and bt.mape < 0.25


def test_small_demo_junior_backtest_explains_missing_births(small_demo):
    with pytest.raises(ValidationError, match="births 12 years earlier"):
        backtest(small_demo, level="junior")


@pytest.mark.parametrize("level, year", [("primary", 2027), ("primary", 2031), ("junior", 2028)])
def test_parcel_demand_sums_to_the_zone_forecast(small_demo, level, year):
    from zoning.assign import assign_parcels
    from zoning.forecast import parcel_demand

    d = parcel_demand(small_demo, level=level, year=year)
    assert d.index.equals(small_demo.parcels.index) and (d >= 0).all()
    assert d.attrs["year"] == year
    z = forecast(small_demo, level=level, years=year - 2026, by="zone")
    z = z[z["year"] == year].set_index("zone_id")["demand"]
    zone = assign_parcels(small_demo.parcels, small_demo.zones, level=level)["zone_id"]
    np.testing.assert_allclose(d.groupby(zone.reindex(d.index)).sum().reindex(z.index), z,
                               atol=1e-9)


def test_parcel_demand_by_hand(tiny):
    from zoning.forecast import parcel_demand

    d = parcel_demand(tiny, level="primary", year=2024)
    # births 2018: C1 60 → p1; C2 40 split 20/20 hh → p2 20, p3 20 (p4 has no households)
    # Z1 = p1 + p2 = 80 × ratio 1.0; Z2 = p3 20 × 1.0
    assert d.to_dict() == pytest.approx({"p1": 60.0, "p2": 20.0,
                                         "p3": 20.0, "p4": 0.0})
    d25 = parcel_demand(tiny, level="primary", year=2025)
    assert d25["p4"] == pytest.approx(100 * 0.06)  # completed in 2025: households × yield
    with pytest.raises(ValidationError, match="after the base year"):
        parcel_demand(tiny, level="primary", year=2023)
