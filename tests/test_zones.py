"""Tests for zoning.zones: every problem of a zone layer, found and reported together.

The fixtures are a 3×3 grid of 1 km square zones per level in EPSG:4545, whose answers can be
checked by eye::

    y0+3000 ┌──────┬──────┬──────┐
            │ P02  │ P12  │ P22  │     zone ids P{col}{row} (primary), J{col}{row} (junior);
    y0+2000 ├──────┼──────┼──────┤     school PS{col}{row} / JS{col}{row} at each cell centre;
            │ P01  │ P11  │ P21  │     parcel R{col}{row}: a 100 m square around the centre
    y0+1000 ├──────┼──────┼──────┤     (offset 200 m so it does not sit on the school).
            │ P00  │ P10  │ P20  │
    y0      └──────┴──────┴──────┘
            x0    x0+1000 x0+2000 x0+3000
"""

from __future__ import annotations

import doctest
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import zoning.zones as zzones
from zoning.errors import ValidationError, ZoningError
from zoning.settings import DEFAULT, Settings
from zoning.zones import (
    ValidationReport,
    intersection_areas,
    school_level_serves,
    validate,
    zone_schools,
)

CRS = "EPSG:4545"
X0, Y0 = 400_000.0, 3_290_000.0
S = 1000.0  # cell side, m
N = 3
CELLS = [(i, j) for j in range(N) for i in range(N)]
PAIRWISE = {"overlap", "sliver_overlap", "gap", "sliver_gap", "unzoned_parcel", "split_parcel"}


def cell(i, j, size=S):
    return shapely.box(X0 + i * size, Y0 + j * size, X0 + (i + 1) * size, Y0 + (j + 1) * size)


def centre(i, j):
    return X0 + (i + 0.5) * S, Y0 + (j + 0.5) * S


def square(cx, cy, side=100.0):
    return shapely.box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def bowtie(i, j):
    """The cell's four corners in crossing order: two triangles touching at the centre."""
    x, y = X0 + i * S, Y0 + j * S
    return shapely.Polygon([(x, y), (x + S, y + S), (x + S, y), (x, y + S)])


def make_zones():
    rows, geoms, ids = [], [], []
    for prefix, level in (("P", "primary"), ("J", "junior")):
        for i, j in CELLS:
            ids.append(f"{prefix}{i}{j}")
            rows.append({"level": level, "school_ids": f"{prefix}S{i}{j}"})
            geoms.append(cell(i, j))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS,
                            index=pd.Index(ids, name="zone_id"))


def make_schools():
    rows, geoms, ids = [], [], []
    for prefix, level in (("P", "primary"), ("J", "junior")):
        for i, j in CELLS:
            ids.append(f"{prefix}S{i}{j}")
            rows.append({"name": f"{prefix}S{i}{j} 学校", "level": level, "ownership": "public"})
            geoms.append(shapely.Point(*centre(i, j)))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS,
                            index=pd.Index(ids, name="school_id"))


def make_parcels(extra=()):
    """One 100 m parcel per cell, plus ``extra`` (id, geometry) pairs."""
    ids = [f"R{i}{j}" for i, j in CELLS]
    geoms = [square(centre(i, j)[0] + 200, centre(i, j)[1] + 200) for i, j in CELLS]
    for pid, geom in extra:
        ids.append(pid)
        geoms.append(geom)
    return gpd.GeoDataFrame({"households": np.full(len(ids), 10)}, geometry=geoms, crs=CRS,
                            index=pd.Index(ids, name="parcel_id"))


def make_district():
    return gpd.GeoDataFrame({"name": ["测试区"]}, geometry=[shapely.box(X0, Y0, X0 + N * S,
                                                                     Y0 + N * S)],
                            crs=CRS, index=pd.Index(["D1"], name="district_id"))


@pytest.fixture
def zones():
    return make_zones()


@pytest.fixture
def schools():
    return make_schools()


@pytest.fixture
def parcels():
    return make_parcels()


@pytest.fixture
def district():
    return make_district()


def run(zones, schools=None, parcels=None, district=None, **kw):
    return validate(zones, schools=schools, parcels=parcels, district=district, **kw)


def full(zones, schools, parcels, district, **kw):
    return validate(zones, schools=schools, parcels=parcels, district=district, **kw)


def kinds(report):
    return set(report.problems["kind"])


def rows(report, kind):
    return report.problems[report.problems["kind"] == kind]


def one(report, kind, **where):
    df = rows(report, kind)
    for col, val in where.items():
        df = df[df[col] == val]
    assert len(df) == 1, f"expected one {kind} {where}, got:\n{report.problems.to_string()}"
    return df.iloc[0]


# --------------------------------------------------------------------------------------------
# The clean grid
# --------------------------------------------------------------------------------------------


def test_clean_grid_has_no_problems(zones, schools, parcels, district):
    report = full(zones, schools, parcels, district)
    assert report.ok
    assert report.problems.empty
    assert list(report.problems.columns) == [
        "layer", "id", "kind", "severity", "level", "area", "x", "y", "message", "fix"]
    assert report.errors.empty and report.warnings.empty
    report.raise_if_errors()
    assert report.to_records() == []


def test_validate_needs_only_the_zones(zones):
    assert run(zones).problems.empty


def test_zones_of_different_levels_may_overlap(zones, schools, parcels, district):
    # every primary zone coincides with a junior one: 9 km² of cross-level overlap, no problem
    p, j = zones[zones["level"] == "primary"], zones[zones["level"] == "junior"]
    assert intersection_areas(p.geometry, j.geometry)["area"].sum() == pytest.approx(9e6)
    # and a junior zone that straddles two primary zones is fine too
    zones.loc["J00", "geometry"] = shapely.box(X0, Y0, X0 + 1500, Y0 + S)
    zones.loc["J10", "geometry"] = shapely.box(X0 + 1500, Y0, X0 + 2 * S, Y0 + S)
    parcels = parcels.drop(index="R10")  # now split 50/50 between J00 and J10
    report = full(zones, schools, parcels, district)
    assert report.problems.empty, report.problems.to_string()


def test_docstring_examples():
    result = doctest.testmod(zzones, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------------------------
# invalid_geometry
# --------------------------------------------------------------------------------------------


def test_bowtie_zone_is_reported_and_the_other_checks_still_run(zones, schools, parcels,
                                                               district):
    zones.loc["P11", "geometry"] = bowtie(1, 1)
    report = full(zones, schools, parcels, district)
    bad = one(report, "invalid_geometry")
    assert (bad["layer"], bad["id"], bad["severity"]) == ("zones", "P11", "error")
    assert "Self-intersection" in bad["message"]
    assert math.isfinite(bad["x"]) and math.isfinite(bad["y"])  # a bow-tie has zero area
    # repaired for the pairwise checks: the two triangles are kept, the top and bottom are gaps
    gaps = rows(report, "gap")
    assert set(gaps["level"]) == {"primary"}
    assert gaps["area"].sum() == pytest.approx(S * S / 2, abs=1)
    # the school at the crossing point is still (on the boundary of) its zone; the parcel is split
    assert "split_parcel" in kinds(report)
    assert not report.ok


def test_bowtie_parcel_is_reported(zones, district):
    x, y = centre(0, 0)
    tie = shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])
    report = run(zones, parcels=make_parcels([("BT", tie)]), district=district)
    bad = one(report, "invalid_geometry")
    assert (bad["layer"], bad["id"]) == ("parcels", "BT")
    assert "Self-intersection" in bad["message"]
    assert kinds(report) == {"invalid_geometry"}  # repaired, it lies inside P00/J00


def test_missing_and_empty_geometries_are_reported_not_crashed_on(zones, district):
    zones.loc["J22", "geometry"] = None
    parcels = make_parcels([("NONE", None), ("EMPTY", shapely.Polygon())])
    report = run(zones, parcels=parcels, district=district)
    empty = rows(report, "empty_geometry")
    assert set(zip(empty["layer"], empty["id"], strict=True)) == {
        ("zones", "J22"), ("parcels", "NONE"), ("parcels", "EMPTY")}
    assert one(report, "gap", level="junior")["area"] == pytest.approx(S * S, abs=1)
    # a parcel without a geometry is not also "unzoned" (it is reported once)
    assert set(rows(report, "unzoned_parcel")["id"]) == {"R22"}


def test_a_zone_that_is_not_an_area(zones):
    zones.loc["P00", "geometry"] = shapely.Point(*centre(0, 0))
    report = run(zones)
    assert one(report, "not_polygon")["id"] == "P00"


# --------------------------------------------------------------------------------------------
# overlap
# --------------------------------------------------------------------------------------------


def test_overlap_of_two_zones_of_one_level(zones):
    zones.loc["P00", "geometry"] = shapely.box(X0, Y0, X0 + S + 100, Y0 + S)  # 100 m into P10
    report = run(zones)
    row = one(report, "overlap")
    assert row["severity"] == "error" and row["level"] == "primary"
    assert row["area"] == pytest.approx(100 * S, abs=1)
    assert {row["id"], "P10"} == {"P00", "P10"} or {row["id"], "P00"} == {"P00", "P10"}
    assert "P00" in row["id"] + row["message"] and "P10" in row["id"] + row["message"]
    assert "100,000" in row["message"]
    assert X0 + S <= row["x"] <= X0 + S + 100 and Y0 <= row["y"] <= Y0 + S
    assert not report.ok


def test_sliver_overlap_is_a_warning(zones):
    zones.loc["P00", "geometry"] = shapely.box(X0, Y0, X0 + S + 0.0005, Y0 + S)  # 0.5 m²
    report = run(zones)
    row = one(report, "sliver_overlap")
    assert row["severity"] == "warning"
    assert row["area"] == pytest.approx(0.5, abs=0.01)
    assert report.ok
    assert "overlap" not in kinds(report)


def test_sliver_area_is_a_setting(zones):
    zones.loc["P00", "geometry"] = shapely.box(X0, Y0, X0 + S + 100, Y0 + S)
    report = run(zones, settings=Settings(sliver_area=200_000))
    assert kinds(report) == {"sliver_overlap"}


def test_multipolygon_zone_overlap(zones):
    # P00 owns a 飞地 that covers half of P22
    zones.loc["P00", "geometry"] = shapely.MultiPolygon(
        [cell(0, 0), shapely.box(X0 + 2 * S, Y0 + 2 * S, X0 + 2.5 * S, Y0 + 3 * S)])
    row = one(run(zones), "overlap")
    assert row["area"] == pytest.approx(S * S / 2, abs=1)
    assert X0 + 2 * S <= row["x"] <= X0 + 2.5 * S


# --------------------------------------------------------------------------------------------
# gap
# --------------------------------------------------------------------------------------------


def test_gap_where_a_zone_is_missing(zones, district):
    report = run(zones.drop(index="P11"), district=district)
    assert kinds(report) == {"gap"}
    row = one(report, "gap")
    assert row["severity"] == "error" and row["level"] == "primary"
    assert row["area"] == pytest.approx(S * S, abs=1)
    assert cell(1, 1).contains(shapely.Point(row["x"], row["y"]))


def test_sliver_gap_is_a_warning(zones, district):
    zones.loc["P22", "geometry"] = shapely.box(X0 + 2 * S, Y0 + 2 * S, X0 + 3 * S - 0.0005,
                                              Y0 + 3 * S)
    report = run(zones, district=district)
    assert kinds(report) == {"sliver_gap"}
    assert report.ok


def test_multipolygon_zone_leaves_no_gap(zones, schools, parcels, district):
    # P00 also covers cell (2, 2), whose own zone is gone; its school moves to P00
    zones.loc["P00", "geometry"] = shapely.MultiPolygon([cell(0, 0), cell(2, 2)])
    zones.loc["P00", "school_ids"] = "PS00;PS22"
    report = full(zones.drop(index="P22"), schools, parcels, district)
    # no gap, no error: only a warning that the zone is in two parts (an exclave may be meant)
    assert report.ok and kinds(report) == {"non_contiguous_zone"}, report.problems.to_string()
    row = report.problems.iloc[0]
    assert row["id"] == "P00" and row["severity"] == "warning"
    assert row["area"] == pytest.approx(S * S, abs=1)
    # located on the smaller part (here the two are the same size: either)
    assert any(cell(i, i).contains(shapely.Point(row["x"], row["y"])) for i in (0, 2))


def test_zone_in_one_piece_is_not_reported(zones, district):
    # a hole, and a detached crumb below 100 m², do not make a zone "in several parts"
    crumb = shapely.box(X0 + S + 1, Y0 + 1, X0 + S + 6, Y0 + 6)
    zones.loc["P00", "geometry"] = shapely.MultiPolygon([
        cell(0, 0).difference(cell(0, 0).centroid.buffer(S / 10)), crumb])
    assert "non_contiguous_zone" not in kinds(run(zones, district=district))


@pytest.mark.parametrize("shape", ["geoseries", "geometry", "cells", "wgs84"])
def test_district_in_other_shapes(zones, district, shape):
    if shape == "geoseries":
        d = district.geometry
    elif shape == "geometry":
        d = district.geometry.iloc[0]
    elif shape == "cells":  # nine rows, one per cell: the union is the boundary
        d = gpd.GeoDataFrame(geometry=[cell(i, j) for i, j in CELLS], crs=CRS)
    else:  # longitude/latitude: reprojected to the working CRS before the areas are taken
        d = district.to_crs("EPSG:4326")
    assert run(zones, district=d).ok
    row = one(run(zones.drop(index="J11"), district=d), "gap")
    assert row["area"] == pytest.approx(S * S, rel=1e-4)
    assert cell(1, 1).contains(shapely.Point(row["x"], row["y"]))


def test_district_with_a_hole_and_an_exclave(zones):
    # the district is the ring of eight outer cells plus a far exclave; the zones cover more
    ring = shapely.difference(shapely.box(X0, Y0, X0 + 3 * S, Y0 + 3 * S), cell(1, 1))
    exclave = cell(5, 5)
    district = gpd.GeoSeries([ring, exclave], crs=CRS)
    report = run(zones, district=district)
    gaps = rows(report, "gap")
    assert set(gaps["level"]) == {"primary", "junior"}
    assert gaps["area"].tolist() == pytest.approx([S * S, S * S], abs=1)
    assert all(cell(5, 5).contains(shapely.Point(x, y))
               for x, y in zip(gaps["x"], gaps["y"], strict=True))


def test_gap_is_reported_per_level(zones, district):
    report = run(zones.drop(index=["P00", "J22"]), district=district)
    gaps = rows(report, "gap")
    assert sorted(gaps["level"]) == ["junior", "primary"]


# --------------------------------------------------------------------------------------------
# parcels
# --------------------------------------------------------------------------------------------


def test_unzoned_parcel_names_the_nearest_zone(zones, district):
    outside = shapely.box(X0 - 300, Y0 + 400, X0 - 200, Y0 + 500)  # 200 m west of P00 / J00
    report = run(zones, parcels=make_parcels([("OUT", outside)]), district=district)
    assert kinds(report) == {"unzoned_parcel"}
    for level, zid in (("primary", "P00"), ("junior", "J00")):
        row = one(report, "unzoned_parcel", level=level)
        assert (row["layer"], row["id"], row["severity"]) == ("parcels", "OUT", "error")
        assert f"nearest: {zid}, 200 m" in row["message"]


def test_unzoned_parcels_after_a_missing_geometry_keep_their_own_nearest_zone(zones):
    # STRtree.query_nearest drops inputs without a geometry: the answers must not shift
    parcels = make_parcels([
        ("NONE", None),
        ("WEST", shapely.box(X0 - 300, Y0 + 400, X0 - 200, Y0 + 500)),  # 200 m from P00
        ("NORTH", shapely.box(X0 + 2400, Y0 + 3300, X0 + 2500, Y0 + 3400)),  # 300 m from P22
    ])
    report = run(zones, parcels=parcels)
    assert "nearest: P00, 200 m" in one(report, "unzoned_parcel", id="WEST",
                                        level="primary")["message"]
    assert "nearest: P22, 300 m" in one(report, "unzoned_parcel", id="NORTH",
                                        level="primary")["message"]


def test_parcel_touching_a_zone_only_at_its_edge_is_unzoned(zones):
    edge = shapely.box(X0 - 100, Y0, X0, Y0 + 100)
    report = run(zones, parcels=make_parcels([("EDGE", edge)]))
    assert "nearest: P00, 0 m" in one(report, "unzoned_parcel", level="primary")["message"]


def test_split_parcel_lists_both_zones_with_shares(zones, district):
    straddler = shapely.box(X0 + S - 50, Y0 + 400, X0 + S + 50, Y0 + 500)  # P00 | P10, 50/50
    report = run(zones, parcels=make_parcels([("SPLIT", straddler)]), district=district)
    assert kinds(report) == {"split_parcel"}
    row = one(report, "split_parcel", level="primary")
    assert (row["layer"], row["id"], row["severity"]) == ("parcels", "SPLIT", "error")
    assert "P00 50%" in row["message"] and "P10 50%" in row["message"]
    assert row["area"] == pytest.approx(100 * 100)
    assert "J00 50%" in one(report, "split_parcel", level="junior")["message"]


def test_parcel_mostly_in_one_zone_is_not_split(zones, district):
    mostly = shapely.box(X0 + S - 97, Y0 + 400, X0 + S + 3, Y0 + 500)  # 97% in P00, 3% in P10
    parcels = make_parcels([("MOSTLY", mostly)])
    assert run(zones, parcels=parcels, district=district).problems.empty
    assert DEFAULT.split_share == 0.95
    # stricter setting: now split
    report = run(zones, parcels=parcels, settings=Settings(split_share=0.99))
    assert "MOSTLY" in set(rows(report, "split_parcel")["id"])


# --------------------------------------------------------------------------------------------
# schools and zone attributes
# --------------------------------------------------------------------------------------------


def test_school_outside_its_zone_is_a_warning(zones, schools):
    schools.loc["PS00", "geometry"] = shapely.Point(*centre(1, 0))  # inside P10
    report = run(zones, schools=schools)
    row = one(report, "school_outside_zone")
    assert (row["layer"], row["id"], row["severity"], row["level"]) == (
        "schools", "PS00", "warning", "primary")
    assert "P00" in row["message"]
    assert (row["x"], row["y"]) == centre(1, 0)
    assert report.ok
    report.raise_if_errors()  # warnings do not raise


def test_school_on_its_zone_boundary_is_inside(zones, schools):
    schools.loc["PS00", "geometry"] = shapely.Point(X0 + S, Y0 + 500)
    assert run(zones, schools=schools).problems.empty


@pytest.mark.parametrize("ids", ["", None, np.nan, " ; ", "；"])
def test_no_school(zones, schools, ids):
    zones["school_ids"] = zones["school_ids"].astype(object)
    zones.loc["P00", "school_ids"] = ids
    report = run(zones, schools=schools)
    assert kinds(report) == {"no_school"}
    assert one(report, "no_school")["id"] == "P00"


def test_unknown_school(zones, schools):
    zones.loc["P00", "school_ids"] = "PS00;PS99"
    report = run(zones, schools=schools)
    assert kinds(report) == {"unknown_school"}
    row = one(report, "unknown_school")
    assert row["id"] == "P00" and "PS99" in row["message"]


def test_level_mismatch(zones, schools):
    zones.loc["P00", "school_ids"] = "JS00"  # a junior school on a primary zone
    report = run(zones, schools=schools)
    assert kinds(report) == {"level_mismatch"}
    row = one(report, "level_mismatch")
    assert row["id"] == "P00" and "JS00" in row["message"] and "junior" in row["message"]


def test_private_school_zoned(zones, schools):
    schools.loc["PS00", "ownership"] = "private"
    report = run(zones, schools=schools)
    assert kinds(report) == {"private_school_zoned"}
    assert one(report, "private_school_zoned")["id"] == "P00"


@pytest.mark.parametrize("level", ["primry", "Primary", "小学", None])
def test_bad_level(zones, schools, level):
    zones["level"] = zones["level"].astype(object)
    zones.loc["P00", "level"] = level
    report = run(zones, schools=schools)
    # reported once, as a bad level (not also as a level mismatch with its school)
    assert kinds(report) == {"bad_level"}
    assert one(report, "bad_level")["id"] == "P00"


def test_duplicate_school(zones, schools):
    zones.loc["P00", "school_ids"] = "PS00;PS00"
    report = run(zones, schools=schools)
    assert kinds(report) == {"duplicate_school"}
    assert one(report, "duplicate_school")["id"] == "P00"


def test_a_school_may_serve_several_zones(zones, schools):
    zones.loc["P10", "school_ids"] = "PS00"  # PS00 lies in P00, one of its two zones
    assert run(zones, schools=schools).problems.empty


@pytest.mark.parametrize("ids", ["S1;S2", "S1、S2", "S1,S2", "S1，S2", "S1；S2", " S1 ; S2 ;"])
def test_zone_schools_splits_several_schools(ids):
    zones = pd.DataFrame({"level": ["primary", "junior"], "school_ids": [ids, "S3"]},
                         index=pd.Index(["Z1", "Z2"], name="zone_id"))
    out = zone_schools(zones)
    assert out.to_dict("list") == {"zone_id": ["Z1", "Z1", "Z2"],
                                   "school_id": ["S1", "S2", "S3"],
                                   "level": ["primary", "primary", "junior"]}


def test_zone_schools_keeps_a_non_string_zone_index():
    zones = pd.DataFrame({"level": ["primary", "junior"], "school_ids": ["S1;S2", None]},
                         index=pd.Index([10, 20], name="zone_id"))
    out = zone_schools(zones)
    assert out["zone_id"].tolist() == [10, 10]
    assert out["level"].tolist() == ["primary", "primary"]


def test_zone_schools_of_no_zones():
    zones = pd.DataFrame({"level": [], "school_ids": []}, index=pd.Index([], name="zone_id"))
    assert zone_schools(zones).empty


def test_several_schools_per_zone_validate(zones, schools):
    # 多校划片: P00 and P10 merged into one zone served by both schools
    zones.loc["P00", "geometry"] = shapely.box(X0, Y0, X0 + 2 * S, Y0 + S)
    zones.loc["P00", "school_ids"] = "PS00、PS10"
    report = run(zones.drop(index="P10"), schools=schools, district=make_district())
    assert report.problems.empty, report.problems.to_string()


def test_integer_zone_ids(zones, schools, parcels, district):
    zones.loc["P00", "school_ids"] = "PS99"
    zones = zones.reset_index(drop=True)  # zone ids 0..17
    zones.index.name = "zone_id"
    report = full(zones, schools, parcels, district)
    assert kinds(report) == {"unknown_school"}
    assert one(report, "unknown_school")["id"] == "0"


def test_nine_year_school_serves_both_levels(zones, schools):
    assert school_level_serves("nine_year") == ("primary", "junior")
    assert school_level_serves("primary") == ("primary",)
    assert school_level_serves("junior") == ("junior",)
    assert school_level_serves("high") == ()
    assert school_level_serves(None) == ()
    # one 九年一贯制 school serves both P00 and J00
    schools.loc["PS00", "level"] = "nine_year"
    zones.loc["J00", "school_ids"] = "PS00"
    assert run(zones, schools=schools).problems.empty
    # an unknown school level serves no zone
    schools.loc["PS00", "level"] = "high"
    report = run(zones, schools=schools)
    assert set(rows(report, "level_mismatch")["id"]) == {"P00", "J00"}


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _two_errors_one_warning(zones, schools):
    zones.loc["P00", "school_ids"] = "PS99"
    zones.loc["P10", "school_ids"] = ""
    schools.loc["JS22", "geometry"] = shapely.Point(*centre(0, 0))
    return run(zones, schools=schools)


def test_raise_if_errors_carries_every_error(zones, schools):
    report = _two_errors_one_warning(zones, schools)
    assert (len(report.errors), len(report.warnings)) == (2, 1)
    with pytest.raises(ValidationError) as info:
        report.raise_if_errors()
    assert isinstance(info.value, ZoningError) and isinstance(info.value, ValueError)
    assert len(info.value.problems) == 2
    assert {p["kind"] for p in info.value.problems} == {"unknown_school", "no_school"}
    assert all(p["severity"] == "error" for p in info.value.problems)
    assert "2 validation error(s)" in str(info.value)
    assert "P00" in str(info.value) and "P10" in str(info.value)
    json.dumps(info.value.problems, allow_nan=False)


def test_raise_if_errors_shortens_a_long_list(zones):
    far = [(f"OUT{k}", square(X0 - 1000 - 200 * k, Y0)) for k in range(25)]
    report = run(zones, parcels=make_parcels(far))
    assert len(report.errors) == 50  # 25 parcels × 2 levels
    with pytest.raises(ValidationError, match="and 30 more") as info:
        report.raise_if_errors()
    assert len(info.value.problems) == 50


def test_to_records_is_json_ready(zones, schools):
    report = _two_errors_one_warning(zones, schools)
    records = report.to_records()
    assert len(records) == 3
    text = json.dumps(records, allow_nan=False, ensure_ascii=False)
    assert "NaN" not in text
    for rec in records:
        assert set(rec) == set(report.problems.columns)
        assert rec["area"] is None  # attribute problems have no area …
    warning = next(r for r in records if r["severity"] == "warning")
    assert (warning["x"], warning["y"]) == centre(0, 0)  # … a located one has x, y
    no_school = next(r for r in records if r["kind"] == "no_school")
    assert no_school["x"] is None and no_school["y"] is None


def test_to_records_with_areas_and_locations(zones, district):
    report = run(zones.drop(index="P11"), district=district)
    (rec,) = report.to_records()
    assert isinstance(rec["area"], float) and isinstance(rec["x"], float)
    json.dumps(rec, allow_nan=False)


def test_report_is_a_frozen_dataclass():
    report = ValidationReport(pd.DataFrame(columns=["severity"]))
    with pytest.raises(AttributeError):
        report.problems = None


def test_a_broken_copy_reports_every_problem(zones, schools, parcels, district):
    zones = zones.copy()
    zones.loc["J11", "geometry"] = bowtie(1, 1)  # invalid_geometry
    zones.loc["P00", "geometry"] = shapely.box(X0, Y0, X0 + S + 100, Y0 + S)  # overlap
    zones = zones.drop(index="P22")  # gap
    zones.loc["P02", "school_ids"] = "PS99"  # unknown_school
    zones.loc["J00", "school_ids"] = ""  # no_school
    zones.loc["J10", "school_ids"] = "PS10"  # level_mismatch
    schools.loc["PS20", "ownership"] = "private"  # private_school_zoned
    schools.loc["PS12", "geometry"] = shapely.Point(*centre(0, 0))  # school_outside_zone
    parcels = make_parcels([
        ("OUT", shapely.box(X0 - 300, Y0 + 400, X0 - 200, Y0 + 500)),  # unzoned_parcel
        ("SPLIT", shapely.box(X0 + S - 50, Y0 + 1400, X0 + S + 50, Y0 + 1500)),  # split_parcel
    ])
    report = full(zones, schools, parcels, district)
    expected = {"invalid_geometry", "overlap", "gap", "unknown_school", "no_school",
                "level_mismatch", "private_school_zoned", "school_outside_zone",
                "unzoned_parcel", "split_parcel"}
    assert expected <= kinds(report), report.problems.to_string()
    assert not report.ok
    with pytest.raises(ValidationError) as info:
        report.raise_if_errors()
    assert {p["kind"] for p in info.value.problems} == expected - {"school_outside_zone"}
    json.dumps(report.to_records(), allow_nan=False)


def test_validate_does_not_modify_its_inputs(zones, schools, parcels, district):
    zones.loc["P11", "geometry"] = bowtie(1, 1)
    before = [x.copy() for x in (zones, schools, parcels, district)]
    full(zones, schools, parcels, district)
    for a, b in zip(before, (zones, schools, parcels, district), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_layers_in_another_crs_are_reprojected(zones, schools, parcels, district):
    report = full(zones, schools.to_crs("EPSG:4326"), parcels.to_crs("EPSG:4326"),
                  district.to_crs("EPSG:4326"))
    assert report.ok and not (kinds(report) & PAIRWISE - {"sliver_gap"})


def test_zones_in_longitude_latitude_are_measured_in_metres(zones):
    zones.loc["P00", "geometry"] = shapely.box(X0, Y0, X0 + S + 100, Y0 + S)
    row = one(run(zones.to_crs("EPSG:4326")), "overlap")
    assert row["area"] == pytest.approx(100 * S, rel=1e-3)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@st.composite
def tilings(draw):
    """A random n×m grid, cells assigned to zones at random, and parcels inside cells."""
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 4))
    size = draw(st.sampled_from([50.0, 333.3, 1000.0]))
    labels = draw(st.lists(st.integers(0, 4), min_size=n * m, max_size=n * m))
    cells = {(i, j): cell(i, j, size) for j in range(m) for i in range(n)}
    by_zone = {}
    for geom, label in zip(cells.values(), labels, strict=True):
        by_zone.setdefault(label, []).append(geom)
    ids = [f"Z{k}" for k in by_zone]
    geoms = [shapely.union_all(g) for g in by_zone.values()]
    zones = gpd.GeoDataFrame({"level": "primary", "school_ids": [f"S{k}" for k in by_zone]},
                             geometry=geoms, crs=CRS, index=pd.Index(ids, name="zone_id"))
    boxes = draw(st.lists(
        st.tuples(st.sampled_from(sorted(cells)),
                  st.floats(0.01, 0.98), st.floats(0.01, 0.98),
                  st.floats(0.005, 0.5), st.floats(0.005, 0.5)),
        max_size=20))
    pgeoms = []
    for (i, j), fx, fy, w, h in boxes:
        x = X0 + (i + fx) * size
        y = Y0 + (j + fy) * size
        pgeoms.append(shapely.box(x, y, min(x + w * size, X0 + (i + 0.99) * size),
                                  min(y + h * size, Y0 + (j + 0.99) * size)))
    parcels = gpd.GeoDataFrame(geometry=pgeoms, crs=CRS,
                               index=pd.Index([f"R{k}" for k in range(len(pgeoms))],
                                              name="parcel_id"))
    district = gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + n * size, Y0 + m * size)],
                                crs=CRS)
    return zones, parcels, district, size


@settings(max_examples=25, deadline=None)
@given(tilings())
def test_a_tiling_has_no_overlap_gap_or_split(tiling):
    zones, parcels, district, _ = tiling
    report = run(zones, parcels=parcels, district=district)
    # cells are dealt to zones at random, so a zone may come in pieces: only that is reported
    assert kinds(report) <= {"non_contiguous_zone"}, report.problems.to_string()
    assert report.ok


@settings(max_examples=25, deadline=None)
@given(tilings(), st.data())
def test_shrinking_a_zone_always_opens_a_gap(tiling, data):
    zones, _, district, size = tiling
    zid = data.draw(st.sampled_from(list(zones.index)))
    d = data.draw(st.floats(1.0, size / 5))
    old = zones.loc[zid, "geometry"]
    zones.loc[zid, "geometry"] = old.buffer(-d)
    lost = old.area - zones.loc[zid, "geometry"].area
    report = run(zones, district=district)
    gaps = report.problems[report.problems["kind"].isin(["gap", "sliver_gap"])]
    assert (gaps["kind"] == "gap").any()
    assert not report.ok
    assert gaps["area"].sum() == pytest.approx(lost, rel=1e-6, abs=0.1)
    assert not (kinds(report) & {"overlap", "sliver_overlap"})


# --------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_five_thousand_parcels_and_a_hundred_zones():
    rng = np.random.default_rng(42)
    k = 10  # 10×10 zones of 1 km, primary only
    zgeoms = [cell(i, j) for j in range(k) for i in range(k)]
    zones = gpd.GeoDataFrame({"level": "primary", "school_ids": [f"S{z}" for z in range(k * k)]},
                             geometry=zgeoms, crs=CRS,
                             index=pd.Index([f"Z{z:03d}" for z in range(k * k)], name="zone_id"))
    n = 5000
    # parcels 20 m wide at random inside the cells, kept 30 m clear of every cell edge …
    ci, cj = rng.integers(0, k, n), rng.integers(0, k, n)
    fx, fy = rng.uniform(30, S - 50, n), rng.uniform(30, S - 50, n)
    x, y = X0 + ci * S + fx, Y0 + cj * S + fy
    geoms = shapely.box(x, y, x + 20, y + 20)
    # … except 40 straddling a vertical cell edge 50/50 and 30 beyond the east edge of the grid
    geoms[:40] = shapely.box(X0 + (ci[:40] % (k - 1) + 1) * S - 10, y[:40],
                             X0 + (ci[:40] % (k - 1) + 1) * S + 10, y[:40] + 20)
    geoms[40:70] = shapely.box(X0 + k * S + 100, y[40:70], X0 + k * S + 120, y[40:70] + 20)
    parcels = gpd.GeoDataFrame(geometry=geoms, crs=CRS,
                               index=pd.Index([f"R{p:05d}" for p in range(n)], name="parcel_id"))
    district = gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + k * S, Y0 + k * S)], crs=CRS)
    report = run(zones, parcels=parcels, district=district)
    assert kinds(report) == {"split_parcel", "unzoned_parcel"}
    assert sorted(rows(report, "split_parcel")["id"]) == [f"R{p:05d}" for p in range(40)]
    assert sorted(rows(report, "unzoned_parcel")["id"]) == [f"R{p:05d}" for p in range(40, 70)]
    assert all("100 m)" in m for m in rows(report, "unzoned_parcel")["message"])


# --------------------------------------------------------------------------------------------
# Ids, columns, helpers
# --------------------------------------------------------------------------------------------


def test_duplicate_ids_are_reported_not_crashed_on(zones, schools, district):
    zones = pd.concat([zones, zones.loc[["P00"]]])  # P00 twice: also an overlap with itself
    schools = pd.concat([schools, schools.loc[["PS11"]]])
    parcels = make_parcels([("R00", square(*centre(1, 1)))])
    report = full(zones, schools, parcels, district)
    dup = rows(report, "duplicate_id")
    assert set(zip(dup["layer"], dup["id"], strict=True)) == {
        ("zones", "P00"), ("schools", "PS11"), ("parcels", "R00")}
    assert "2 rows" in dup.iloc[0]["message"]
    assert one(report, "overlap")["area"] == pytest.approx(S * S, abs=1)


@pytest.mark.parametrize(("layer", "column"), [("zones", "school_ids"), ("zones", "level"),
                                               ("schools", "ownership")])
def test_a_missing_column_raises(zones, schools, layer, column):
    frames = {"zones": zones, "schools": schools}
    frames[layer] = frames[layer].drop(columns=column)
    with pytest.raises(ValidationError, match=f"'{layer}' has no column '{column}'"):
        validate(frames["zones"], schools=frames["schools"])


def test_intersection_areas_gives_positions_and_positive_areas(zones):
    p = zones.geometry[zones["level"] == "primary"]
    # the first box lies in P00 and P10 and touches P01 and P11 along an edge (zero area)
    probe = gpd.GeoSeries([shapely.box(X0 + 900, Y0 + 900, X0 + 1100, Y0 + 1000),
                           shapely.box(X0 - 10, Y0, X0, Y0 + 10)],  # touches P00 only
                          crs=CRS)
    out = intersection_areas(probe, p).sort_values("right")
    assert list(out.columns) == ["left", "right", "area"]
    assert out["left"].tolist() == [0, 0]
    assert [p.index[r] for r in out["right"]] == ["P00", "P10"]
    assert out["area"].tolist() == pytest.approx([100 * 100, 100 * 100])
    empty = intersection_areas(probe.iloc[1:], p)
    assert empty.empty and list(empty.columns) == ["left", "right", "area"]
