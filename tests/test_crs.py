"""Tests for zoning.crs: datum shifts, the working CRS, and layer CRS checks."""

from __future__ import annotations

import doctest
import functools
import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import zoning.crs as zcrs
from zoning.crs import (
    WORKING_CRSES,
    bd09_to_gcj02,
    check_layer_crs,
    from_working,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_web,
    to_working,
    to_working_gdf,
    wgs84_to_gcj02,
)
from zoning.errors import CRSError, ZoningError
from zoning.settings import WORKING_CRS

CHONGQING = (106.55, 29.57)  # 解放碑, near the centre of the city
PARIS = (2.35, 48.85)
SOURCES = ("wgs84", "cgcs2000", "gcj02", "bd09")

china_lon = st.floats(73.7, 135.0, allow_nan=False)
china_lat = st.floats(18.0, 53.0, allow_nan=False)
cq_lon = st.floats(105.2, 110.2, allow_nan=False)
cq_lat = st.floats(28.1, 32.3, allow_nan=False)


@functools.cache
def _pyproj_4326_to_4545():
    """Built independently of zoning.crs (which goes from EPSG:4490)."""
    return pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4545", always_xy=True)


def _pyproj_4545(lon, lat):
    return _pyproj_4326_to_4545().transform(lon, lat)


def _ref_wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """Scalar GCJ-02 formula as published (coordTransform_py / eviltransform), inside China."""
    pi, a, ee = math.pi, 6378245.0, 0.00669342162296594323
    x, y = lng - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * pi) + 320 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlng += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlng += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlng += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1 - ee * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * pi)
    dlng = (dlng * 180.0) / (a / sqrtmagic * math.cos(radlat) * pi)
    return lng + dlng, lat + dlat


def _ref_gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    x_pi = math.pi * 3000.0 / 180.0
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _layer(geoms, crs):
    return gpd.GeoDataFrame({"name": [f"g{i}" for i in range(len(geoms))]}, geometry=geoms, crs=crs)


# ---------------------------------------------------------------------------------------------
# Hand-checkable values
# ---------------------------------------------------------------------------------------------


def test_default_working_crs_is_the_settings_one():
    assert WORKING_CRS == "EPSG:4545"
    assert WORKING_CRSES == ("EPSG:4544", "EPSG:4545", "EPSG:4546")


def test_chongqing_point_matches_pyproj_to_1mm():
    x, y = to_working(*CHONGQING)
    ex, ey = _pyproj_4545(*CHONGQING)
    assert abs(x - ex) < 1e-3
    assert abs(y - ey) < 1e-3
    # 1.45 degrees west of the 108E central meridian, about 3,273 km north of the equator.
    assert 359_000 < x < 360_000
    assert 3_273_000 < y < 3_274_000


def test_chongqing_point_round_trips_to_1e9_degrees():
    lon, lat = from_working(*to_working(*CHONGQING))
    assert abs(lon - CHONGQING[0]) < 1e-9
    assert abs(lat - CHONGQING[1]) < 1e-9


@pytest.mark.parametrize(
    ("wgs", "gcj"),
    [  # Published eviltransform test vectors, as (lon, lat).
        ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
        ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
        ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
    ],
)
def test_gcj02_published_vectors(wgs, gcj):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-9)
    assert lat == pytest.approx(gcj[1], abs=1e-9)
    back = gcj02_to_wgs84(*gcj)
    assert back[0] == pytest.approx(wgs[0], abs=1e-9)
    assert back[1] == pytest.approx(wgs[1], abs=1e-9)


def test_gcj02_offset_in_chongqing_is_a_few_hundred_metres():
    for lon, lat in [CHONGQING, (106.5, 29.6), (108.4, 30.8), (105.7, 28.9)]:
        x0, y0 = to_working(lon, lat)
        x1, y1 = to_working(*wgs84_to_gcj02(lon, lat))
        assert 100.0 < math.hypot(x1 - x0, y1 - y0) < 800.0


def test_gcj02_is_identity_outside_china():
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84):
        lon, lat = fn(*PARIS)
        assert (lon, lat) == PARIS
    lon, lat = wgs84_to_gcj02([2.35, -74.0, 151.2], [48.85, 40.7, -33.9])
    np.testing.assert_array_equal(lon, [2.35, -74.0, 151.2])
    np.testing.assert_array_equal(lat, [48.85, 40.7, -33.9])


def test_mixed_inside_and_outside_china():
    lon = np.array([PARIS[0], CHONGQING[0], np.nan, PARIS[0]])
    lat = np.array([PARIS[1], CHONGQING[1], 30.0, PARIS[1]])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert (g_lon[[0, 3]] == PARIS[0]).all()
    assert g_lon[1] != CHONGQING[0]
    assert np.isnan(g_lon[2])
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    np.testing.assert_allclose(w_lon, lon, atol=1e-9)
    np.testing.assert_allclose(w_lat, lat, atol=1e-9)


def test_bd09_matches_the_published_formula():
    lon, lat = gcj02_to_bd09(*CHONGQING)
    ref = _ref_gcj02_to_bd09(*CHONGQING)
    assert lon == pytest.approx(ref[0], abs=1e-12)
    assert lat == pytest.approx(ref[1], abs=1e-12)


def test_bd09_inverse_is_better_than_the_one_step_approximation():
    b_lon, b_lat = gcj02_to_bd09(CHONGQING[0], CHONGQING[1])
    approx = zcrs._bd_approx_inverse(np.asarray(b_lon), np.asarray(b_lat))
    exact = bd09_to_gcj02(b_lon, b_lat)
    err_approx = max(abs(approx[0] - CHONGQING[0]), abs(approx[1] - CHONGQING[1]))
    err_exact = max(abs(exact[0] - CHONGQING[0]), abs(exact[1] - CHONGQING[1]))
    assert err_exact < 1e-10
    assert err_exact < err_approx


def test_docstring_examples():
    result = doctest.testmod(zcrs, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_matches_the_scalar_reference(lon, lat):
    got = wgs84_to_gcj02(lon, lat)
    ref = _ref_wgs84_to_gcj02(lon, lat)
    assert abs(got[0] - ref[0]) < 1e-11
    assert abs(got[1] - ref[1]) < 1e-11


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_wgs84_gcj02_round_trip(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert abs(back[0] - lon) < 1e-6
    assert abs(back[1] - lat) < 1e-6


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_bd09_round_trip(lon, lat):
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert abs(back[0] - lon) < 1e-6
    assert abs(back[1] - lat) < 1e-6


@settings(max_examples=200, deadline=None)
@given(cq_lon, cq_lat, st.sampled_from(SOURCES), st.sampled_from(WORKING_CRSES))
def test_working_round_trip(lon, lat, source, crs):
    x, y = to_working(lon, lat, source=source, crs=crs)
    back = from_working(x, y, target=source, crs=crs)
    assert abs(back[0] - lon) < 1e-6
    assert abs(back[1] - lat) < 1e-6


@settings(max_examples=200, deadline=None)
@given(cq_lon, cq_lat)
def test_4545_agrees_with_pyproj(lon, lat):
    x, y = to_working(lon, lat)
    ex, ey = _pyproj_4545(lon, lat)
    assert abs(x - ex) < 1e-3
    assert abs(y - ey) < 1e-3


@settings(max_examples=100, deadline=None)
@given(cq_lon, cq_lat)
def test_to_working_with_source_composes_the_point_functions(lon, lat):
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = gcj02_to_bd09(g_lon, g_lat)
    x, y = to_working(lon, lat)
    for source, p in [("gcj02", (g_lon, g_lat)), ("bd09", (b_lon, b_lat))]:
        sx, sy = to_working(*p, source=source)
        assert abs(sx - x) < 1e-3
        assert abs(sy - y) < 1e-3


# ---------------------------------------------------------------------------------------------
# Shapes and types
# ---------------------------------------------------------------------------------------------

ALL_POINT_FUNCTIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    to_working,
    lambda lon, lat: to_working(lon, lat, source="bd09", crs="EPSG:4546"),
]
# How closely one point computed alone matches the same point computed in an array: the iterative
# inverses stop when the whole array has converged, so a lone point may stop one step earlier
# (still ~1e-10 degrees, about 10 µm, from exact).
ATOL = [1e-9, 1e-9, 1e-9, 1e-9, 1e-9, 1e-4]


@pytest.mark.parametrize("fn", ALL_POINT_FUNCTIONS)
def test_scalars_give_float64_scalars(fn):
    a, b = fn(*CHONGQING)
    for v in (a, b):
        assert isinstance(v, np.float64)
        assert np.ndim(v) == 0


@pytest.mark.parametrize(("fn", "atol"), list(zip(ALL_POINT_FUNCTIONS, ATOL, strict=True)))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (0,)])
def test_arrays_keep_their_shape_and_match_scalars(fn, atol, shape):
    rng = np.random.default_rng(5)
    lon = rng.uniform(105.2, 110.2, shape)
    lat = rng.uniform(28.1, 32.3, shape)
    a, b = fn(lon, lat)
    assert a.shape == shape and b.shape == shape
    assert a.dtype == np.float64 and b.dtype == np.float64
    for idx in np.ndindex(*shape):
        sa, sb = fn(lon[idx], lat[idx])
        assert sa == pytest.approx(a[idx], rel=0, abs=atol)
        assert sb == pytest.approx(b[idx], rel=0, abs=atol)


def test_lists_integers_and_broadcasting():
    lon, lat = wgs84_to_gcj02([106, 107], 30)
    assert lon.shape == (2,) and lat.shape == (2,)
    assert lon.dtype == np.float64
    assert lat[0] == pytest.approx(wgs84_to_gcj02(106.0, 30.0)[1], abs=1e-12)


def test_inputs_are_not_modified():
    lon = np.array([106.55, 107.0])
    lat = np.array([29.57, 30.0])
    keep = lon.copy(), lat.copy()
    for fn in ALL_POINT_FUNCTIONS:
        fn(lon, lat)
    np.testing.assert_array_equal(lon, keep[0])
    np.testing.assert_array_equal(lat, keep[1])


def test_nan_passes_through_the_inverses():
    for fn in (gcj02_to_wgs84, bd09_to_gcj02):
        lon, lat = fn([np.nan, CHONGQING[0]], [np.nan, CHONGQING[1]])
        assert np.isnan(lon[0]) and np.isnan(lat[0])
        assert np.isfinite(lon[1]) and np.isfinite(lat[1])


# ---------------------------------------------------------------------------------------------
# Argument errors
# ---------------------------------------------------------------------------------------------


def test_unknown_source_or_target():
    with pytest.raises(CRSError, match="'gcj02'") as err:
        to_working(*CHONGQING, source="wgs-84")
    assert "source='wgs-84'" in str(err.value)
    with pytest.raises(CRSError, match="target="):
        from_working(359_000.0, 3_273_000.0, target="mars")
    with pytest.raises(CRSError, match="source="):
        to_working(*CHONGQING, source=None)


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857", "EPSG:4524", 4490, None, "nonsense"])
def test_unknown_working_crs(crs):
    with pytest.raises(CRSError, match="EPSG:4544, EPSG:4545, EPSG:4546"):
        to_working(*CHONGQING, crs=crs)
    with pytest.raises(CRSError):
        from_working(359_000.0, 3_273_000.0, crs=crs)


def test_crs_errors_are_value_errors_and_zoning_errors():
    with pytest.raises(ValueError):
        to_working(*CHONGQING, crs="EPSG:3857")
    with pytest.raises(ZoningError):
        to_working(*CHONGQING, crs="EPSG:3857")


@pytest.mark.parametrize("crs", ["epsg:4545", " EPSG:4545", 4545, pyproj.CRS("EPSG:4545")])
def test_equivalent_spellings_of_a_working_crs(crs):
    assert to_working(*CHONGQING, crs=crs) == to_working(*CHONGQING)


def test_source_is_case_insensitive():
    assert to_working(*CHONGQING, source="GCJ02") == to_working(*CHONGQING, source="gcj02")


# ---------------------------------------------------------------------------------------------
# check_layer_crs
# ---------------------------------------------------------------------------------------------


def test_missing_crs_names_the_layer_and_the_fix():
    gdf = _layer([shapely.Point(CHONGQING)], None)
    with pytest.raises(CRSError) as err:
        check_layer_crs(gdf, layer="schools")
    msg = str(err.value)
    assert "'schools'" in msg
    assert "set_crs" in msg
    assert "EPSG:4326" in msg and "EPSG:4545" in msg


def test_lonlat_labelled_as_4545():
    gdf = _layer([shapely.box(106.5, 29.5, 106.6, 29.6)], "EPSG:4545")
    with pytest.raises(CRSError, match="look like longitude/latitude") as err:
        check_layer_crs(gdf, layer="zones")
    assert "'zones'" in str(err.value)


def test_metres_labelled_as_4326():
    gdf = _layer([shapely.box(359_000, 3_273_000, 360_000, 3_274_000)], "EPSG:4326")
    with pytest.raises(CRSError, match="look like projected metres") as err:
        check_layer_crs(gdf, layer="parcels")
    assert "'parcels'" in str(err.value)


def test_zone_prefixed_metres_labelled_as_4545():
    gdf = _layer([shapely.Point(36_359_000, 3_273_000)], "EPSG:4545")
    with pytest.raises(CRSError, match="don't fit that CRS") as err:
        check_layer_crs(gdf, layer="homes")
    assert "EPSG:4524" in str(err.value)  # CGCS2000 3-degree zone 36 (CM 108E), with prefix


def test_swapped_axes_in_a_working_crs():
    gdf = _layer([shapely.Point(3_273_000, 359_000)], "EPSG:4545")
    with pytest.raises(CRSError, match="don't fit that CRS"):
        check_layer_crs(gdf, layer="homes")


@pytest.mark.parametrize("crs", WORKING_CRSES)
def test_all_of_chongqing_fits_every_working_crs(crs):
    corners = [(105.2, 28.1), (110.2, 28.1), (105.2, 32.3), (110.2, 32.3)]
    x, y = to_working(*np.array(corners).T, crs=crs)
    gdf = _layer([shapely.MultiPoint(np.column_stack([x, y]))], crs)
    check_layer_crs(gdf, layer="chongqing")


def test_correct_layers_pass():
    check_layer_crs(_layer([shapely.Point(CHONGQING)], "EPSG:4326"), layer="a")
    check_layer_crs(_layer([shapely.Point(CHONGQING)], "EPSG:4490"), layer="b")
    check_layer_crs(_layer([shapely.Point(to_working(*CHONGQING))], "EPSG:4545"), layer="c")
    check_layer_crs(_layer([shapely.Point(1_000_000, 6_000_000)], "EPSG:3857"), layer="d")
    # A GeoSeries works too.
    check_layer_crs(gpd.GeoSeries([shapely.Point(CHONGQING)], crs="EPSG:4326"), layer="e")


@pytest.mark.parametrize("crs", ["EPSG:4545", "EPSG:4326"])
def test_empty_layers_skip_the_range_checks(crs):
    check_layer_crs(_layer([], crs), layer="empty")
    check_layer_crs(_layer([shapely.Point(), None], crs), layer="only empties")


def test_empty_layer_without_crs_still_fails():
    with pytest.raises(CRSError, match="set_crs"):
        check_layer_crs(gpd.GeoDataFrame(geometry=[]), layer="empty")


def test_infinite_coordinates():
    gdf = _layer([shapely.Point(np.inf, 30.0), shapely.Point(CHONGQING)], "EPSG:4326")
    with pytest.raises(CRSError, match="infinite or NaN"):
        check_layer_crs(gdf, layer="bad")


# ---------------------------------------------------------------------------------------------
# to_working_gdf and to_web
# ---------------------------------------------------------------------------------------------


def _polygons():
    return [
        shapely.box(106.50, 29.50, 106.60, 29.60),
        shapely.Polygon(
            [(106.7, 29.7), (106.8, 29.7), (106.8, 29.8), (106.7, 29.7)],
            holes=[[(106.78, 29.71), (106.79, 29.71), (106.79, 29.72), (106.78, 29.71)]],
        ),
        shapely.MultiPolygon([shapely.box(107.0, 30.0, 107.1, 30.1)]),
    ]


@pytest.mark.parametrize("source", ["gcj02", "bd09"])
def test_to_working_gdf_shifts_vertices_like_the_point_functions(source):
    gdf = _layer(_polygons(), "EPSG:4326")
    gdf.index = [10, 20, 30]
    out = to_working_gdf(gdf, layer="zones", source=source)
    assert out.crs == pyproj.CRS("EPSG:4545")
    assert list(out.index) == [10, 20, 30]
    assert list(out["name"]) == ["g0", "g1", "g2"]
    assert gdf.crs == pyproj.CRS("EPSG:4326")  # input untouched
    coords_in = shapely.get_coordinates(gdf.geometry.values)
    coords_out = shapely.get_coordinates(out.geometry.values)
    ex, ey = to_working(coords_in[:, 0], coords_in[:, 1], source=source)
    np.testing.assert_allclose(coords_out[:, 0], ex, rtol=0, atol=1e-6)
    np.testing.assert_allclose(coords_out[:, 1], ey, rtol=0, atol=1e-6)
    # ...which differs from trusting the EPSG:4326 label by the GCJ-02 offset.
    plain = shapely.get_coordinates(to_working_gdf(gdf, layer="zones").geometry.values)
    shift = np.hypot(*(coords_out - plain).T)
    assert (shift > 100).all() and (shift < 1500).all()
    assert shapely.get_type_id(out.geometry.values).tolist() == [3, 3, 6]
    assert shapely.get_num_interior_rings(out.geometry.values[1]) == 1


def test_to_working_gdf_keeps_z_and_other_geometry_column_names():
    gdf = _layer([shapely.Point(106.55, 29.57, 250.0), shapely.Point(106.6, 29.6)], "EPSG:4326")
    gdf = gdf.rename_geometry("geom")
    out = to_working_gdf(gdf, layer="pts", source="gcj02", crs="EPSG:4544")
    assert out.geometry.name == "geom"
    assert out.crs == pyproj.CRS("EPSG:4544")
    assert shapely.has_z(out.geometry.values).tolist() == [True, False]
    assert shapely.get_coordinates(out.geometry.values[:1], include_z=True)[0, 2] == 250.0
    ex, ey = to_working(106.55, 29.57, source="gcj02", crs="EPSG:4544")
    assert out.geometry.iloc[0].x == pytest.approx(ex, abs=1e-6)
    assert out.geometry.iloc[0].y == pytest.approx(ey, abs=1e-6)


def test_to_working_gdf_plain_wgs84_matches_to_crs():
    gdf = _layer(_polygons(), "EPSG:4326")
    out = to_working_gdf(gdf, layer="zones")
    assert out.geometry.geom_equals_exact(gdf.to_crs("EPSG:4545").geometry, 1e-6).all()
    out = to_working_gdf(gdf, layer="zones", source="cgcs2000", crs="EPSG:4546")
    assert out.crs == pyproj.CRS("EPSG:4546")


def test_to_working_gdf_geoseries():
    s = gpd.GeoSeries(_polygons(), crs="EPSG:4326", name="zones")
    out = to_working_gdf(s, layer="zones", source="gcj02")
    assert isinstance(out, gpd.GeoSeries)
    assert out.crs == pyproj.CRS("EPSG:4545")
    assert out.name == "zones"


def test_to_working_gdf_already_in_working_crs_is_an_unchanged_copy():
    gdf = to_working_gdf(_layer(_polygons(), "EPSG:4326"), layer="zones")
    out = to_working_gdf(gdf, layer="zones")
    assert out is not gdf
    assert out.equals(gdf)
    out.loc[out.index[0], "name"] = "changed"
    assert gdf["name"].iloc[0] == "g0"


def test_to_working_gdf_errors():
    projected = to_working_gdf(_layer(_polygons(), "EPSG:4326"), layer="zones")
    with pytest.raises(CRSError, match="longitude/latitude datum"):
        to_working_gdf(projected, layer="zones", source="gcj02")
    with pytest.raises(CRSError, match="'zones'"):
        to_working_gdf(_layer(_polygons(), None), layer="zones")
    with pytest.raises(CRSError, match="source="):
        to_working_gdf(_layer(_polygons(), "EPSG:4326"), layer="zones", source="wgs")
    with pytest.raises(CRSError, match="EPSG:4544"):
        to_working_gdf(_layer(_polygons(), "EPSG:4326"), layer="zones", crs="EPSG:3857")


@pytest.mark.parametrize("basemap", ["none", "osm", "tianditu"])
def test_to_web_plain_wgs84(basemap):
    gdf = to_working_gdf(_layer(_polygons(), "EPSG:4326"), layer="zones")
    out = to_web(gdf, basemap=basemap)
    assert out.crs == pyproj.CRS("EPSG:4326")
    assert out.geometry.geom_equals_exact(_layer(_polygons(), "EPSG:4326").geometry, 1e-8).all()


def test_to_web_amap_is_gcj02():
    gdf = to_working_gdf(_layer(_polygons(), "EPSG:4326"), layer="zones")
    out = to_web(gdf, basemap="amap")
    assert out.crs == pyproj.CRS("EPSG:4326")
    wgs = shapely.get_coordinates(_layer(_polygons(), "EPSG:4326").geometry.values)
    got = shapely.get_coordinates(out.geometry.values)
    ex, ey = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    np.testing.assert_allclose(got[:, 0], ex, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got[:, 1], ey, rtol=0, atol=1e-8)
    # Round trip: reading what Amap shows back with source="gcj02" gives the original.
    back = to_working_gdf(out, layer="zones", source="gcj02")
    assert back.geometry.geom_equals_exact(gdf.geometry, 1e-4).all()


def test_to_web_errors():
    gdf = _layer(_polygons(), "EPSG:4326")
    with pytest.raises(CRSError, match="'amap'"):
        to_web(gdf, basemap="baidu")
    with pytest.raises(CRSError, match="set_crs"):
        to_web(_layer(_polygons(), None))
