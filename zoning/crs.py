"""Coordinate reference systems: the working CRS, Chinese web datums, and checks on layers.

Areas, distances and overlaps are computed in a projected metre CRS, the *working CRS*:
CGCS2000 / 3-degree Gauss-Kruger CM 108E (EPSG:4545) by default, which covers the whole of
Chongqing. The neighbouring zones CM 105E (EPSG:4544) and CM 111E (EPSG:4546) may be chosen
instead; no other CRS is accepted as a working CRS.

Longitude/latitude reaches the package in four datums:

``"wgs84"``
    GPS, OpenStreetMap, most GIS files (EPSG:4326).
``"cgcs2000"``
    China's national datum (EPSG:4490), used by 天地图 and official surveys. It agrees with
    WGS-84 at the sub-metre level, so the two are treated as the same datum.
``"gcj02"``
    The obfuscated "Mars" datum that Chinese law requires of published web maps (Amap/高德,
    Tencent). Its offset from WGS-84 is a few hundred metres and varies irregularly.
``"bd09"``
    Baidu's further obfuscation of GCJ-02.

The datum conversions use the publicly known formulas and are vectorised over NumPy arrays; the
inverses are solved iteratively to far below a millimetre rather than with the usual one-step
approximations, which are off by up to a few metres.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import shapely

from zoning.errors import CRSError
from zoning.settings import WORKING_CRS

if TYPE_CHECKING:
    from collections.abc import Callable

    import geopandas as gpd
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BASEMAPS",
    "CHINA_BBOX",
    "GEOGRAPHIC_CRS",
    "SOURCES",
    "WORKING_CRSES",
    "bd09_to_gcj02",
    "check_layer_crs",
    "from_working",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "to_web",
    "to_working",
    "to_working_gdf",
    "wgs84_to_gcj02",
]

#: The projected CRSes accepted as working CRS (CGCS2000 3-degree Gauss-Kruger, CM 105/108/111E).
WORKING_CRSES = ("EPSG:4544", "EPSG:4545", "EPSG:4546")

#: Datums that longitude/latitude may be given in (see the module docstring).
SOURCES = ("wgs84", "cgcs2000", "gcj02", "bd09")

#: Basemaps known to :func:`to_web`; only ``"amap"`` needs GCJ-02 coordinates.
BASEMAPS = ("none", "osm", "tianditu", "amap")

#: Geographic CRS the working CRS is projected from (CGCS2000 longitude/latitude).
GEOGRAPHIC_CRS = "EPSG:4490"

#: Rough box (lon_min, lat_min, lon_max, lat_max) inside which GCJ-02 applies.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

# GCJ-02 constants: the Krasovsky 1940 ellipsoid.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323

# BD-09 constants.
_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# Iterative inverses stop when the largest residual is below this many degrees (about 1 mm), or
# after this many iterations. Each iteration shrinks the error by a factor of about 100 (GCJ-02)
# or 1000 (BD-09), and the last residual is still applied, so results are good to ~1e-10 degrees.
_INVERSE_TOL = 1e-8
_INVERSE_MAX_ITER = 30

# Plausible coordinates of a layer in one of the working CRSes: x within this distance of the
# false easting (wide enough for all of Chongqing in any of the three zones, about 580 km from
# the far central meridian), y from the equator to the north of China.
_ZONE_HALF_WIDTH = 800_000.0
_NORTHING_RANGE = (0.0, 6_000_000.0)

# Suggested when a layer has no CRS.
_SET_CRS_HINT = (
    "set it with gdf.set_crs('EPSG:4326') if the coordinates are longitude/latitude, or the "
    "projected CRS the data was drawn in, e.g. EPSG:4545"
)


# --------------------------------------------------------------------------------------------
# Argument handling
# --------------------------------------------------------------------------------------------


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return `lon` and `lat` as float64 arrays broadcast to one shape."""
    lon_arr, lat_arr = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return lon_arr, lat_arr


def _out(arr: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return `arr`, or its value as a ``numpy.float64`` scalar when it is 0-d."""
    return arr[()] if arr.ndim == 0 else arr


def _check_working_crs(crs: Any) -> str:
    """Return `crs` as one of :data:`WORKING_CRSES`, or raise :class:`CRSError`.

    Accepts ``"EPSG:4545"`` in any letter case, the integer ``4545`` or an equivalent
    :class:`pyproj.CRS`.
    """
    code: str | None = None
    if isinstance(crs, str):
        code = crs.strip().upper()
    elif isinstance(crs, int | np.integer) and not isinstance(crs, bool):
        code = f"EPSG:{int(crs)}"
    elif isinstance(crs, pyproj.CRS):
        epsg = crs.to_epsg()
        code = None if epsg is None else f"EPSG:{epsg}"
    if code not in WORKING_CRSES:
        raise CRSError(
            f"crs={crs!r} is not a working CRS; use one of {', '.join(WORKING_CRSES)} "
            f"(CGCS2000 3-degree Gauss-Kruger, CM 105E/108E/111E; default {WORKING_CRS})."
        )
    return code


def _check_source(value: Any, *, name: str) -> str:
    """Return `value` lower-cased if it is one of :data:`SOURCES`, or raise :class:`CRSError`."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in SOURCES:
        raise CRSError(
            f"{name}={value!r} is not a known datum; use one of "
            f"{', '.join(repr(s) for s in SOURCES)}."
        )
    return key


@lru_cache(maxsize=16)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    """Return a cached ``always_xy`` transformer from `src` to `dst`."""
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


@lru_cache(maxsize=16)
def _crs(code: str) -> pyproj.CRS:
    """Return a cached :class:`pyproj.CRS` for `code`."""
    return pyproj.CRS.from_user_input(code)


# --------------------------------------------------------------------------------------------
# GCJ-02
# --------------------------------------------------------------------------------------------


def _in_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Return True where (`lon`, `lat`) is inside the rough box :data:`CHINA_BBOX` (NaN: False)."""
    lon_min, lat_min, lon_max, lat_max = CHINA_BBOX
    return (lon >= lon_min) & (lon <= lon_max) & (lat >= lat_min) & (lat <= lat_max)


def _multiple_sines(t: NDArray[np.float64], *, high: bool) -> tuple[NDArray[np.float64], ...]:
    """Return sin(πt/30), sin(πt/12), sin(πt/3), sin(πt) and, if `high`, sin(2πt), sin(6πt).

    Only ``sin`` and ``cos`` of a = πt/60 are evaluated; the multiples 2a, 5a, 20a, 60a, 120a and
    360a follow by double-, sum- and triple-angle identities, which costs a few multiplications
    instead of one transcendental call each. The rounding error grows with the multiple but stays
    below 1e-13 in these sines, far below 1e-15 degrees once scaled into an offset.
    """
    a = t * (np.pi / 60.0)
    s1 = np.sin(a)
    c1 = np.cos(a)
    s2 = 2.0 * s1 * c1  # 2a = πt/30
    c2 = 1.0 - 2.0 * s1 * s1
    s4 = 2.0 * s2 * c2
    c4 = 1.0 - 2.0 * s2 * s2
    s5 = s4 * c1 + c4 * s1  # 5a = πt/12
    c5 = c4 * c1 - s4 * s1
    s10 = 2.0 * s5 * c5
    c10 = 1.0 - 2.0 * s5 * s5
    s20 = 2.0 * s10 * c10  # 20a = πt/3
    c20 = 1.0 - 2.0 * s10 * s10
    s60 = s20 * (3.0 - 4.0 * s20 * s20)  # 60a = πt
    if not high:
        return s2, s5, s20, s60
    c60 = c20 * (4.0 * c20 * c20 - 3.0)
    s120 = 2.0 * s60 * c60  # 120a = 2πt
    s360 = s120 * (3.0 - 4.0 * s120 * s120)  # 360a = 6πt
    return s2, s5, s20, s60, s120, s360


def _gcj_offset(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS-84 (`lon`, `lat`), box ignored.

    This is the public transformLat/transformLon formula with x = lon - 105, y = lat - 35::

        dlat = -100 + 2x + 3y + 0.2y² + 0.1xy + 0.2√|x| + (20 sin 6πx + 20 sin 2πx)·2/3
               + (20 sin πy + 40 sin(πy/3))·2/3 + (160 sin(πy/12) + 320 sin(πy/30))·2/3
        dlon = 300 + x + 2y + 0.1x² + 0.1xy + 0.1√|x| + (20 sin 6πx + 20 sin 2πx)·2/3
               + (20 sin πx + 40 sin(πx/3))·2/3 + (150 sin(πx/12) + 300 sin(πx/30))·2/3

    scaled from metres on the Krasovsky ellipsoid to degrees. The sines come from
    :func:`_multiple_sines`; the latitude's cosine from its sine (valid for |lat| ≤ 90).
    """
    x = lon - 105.0
    y = lat - 35.0
    sx30, sx12, sx3, sx1, sx2pi, sx6pi = _multiple_sines(x, high=True)
    sy30, sy12, sy3, sy1 = _multiple_sines(y, high=False)
    shared = (20.0 * sx6pi + 20.0 * sx2pi) * (2.0 / 3.0) + 0.1 * x * y
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.2 * np.sqrt(np.abs(x)) + shared
    dlat += (20.0 * sy1 + 40.0 * sy3 + 160.0 * sy12 + 320.0 * sy30) * (2.0 / 3.0)
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * np.sqrt(np.abs(x)) + shared
    dlon += (20.0 * sx1 + 40.0 * sx3 + 150.0 * sx12 + 300.0 * sx30) * (2.0 / 3.0)
    sin_lat = np.sin(lat * (np.pi / 180.0))
    sin2 = sin_lat * sin_lat
    cos_lat = np.sqrt(1.0 - sin2)
    magic = 1.0 - _GCJ_EE * sin2
    sqrt_magic = np.sqrt(magic)
    dlat *= (180.0 / (_GCJ_A * (1.0 - _GCJ_EE) * np.pi)) * magic * sqrt_magic
    dlon *= (180.0 / (_GCJ_A * np.pi)) * sqrt_magic / cos_lat
    return dlon, dlat


def _max_abs(*arrays: NDArray[np.float64]) -> float:
    """Return the largest finite absolute value in `arrays` (0.0 when there is none)."""
    best = 0.0
    for arr in arrays:
        mag = np.abs(arr)
        best = max(best, float(np.max(mag, where=np.isfinite(mag), initial=0.0)))
    return best


def _fixed_point_inverse(
    forward: Callable[
        [NDArray[np.float64], NDArray[np.float64]],
        tuple[NDArray[np.float64], NDArray[np.float64]],
    ],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    start: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve ``forward(p) == (lon, lat)`` for p by fixed-point iteration from `start`.

    Valid when `forward` is the identity plus a small, slowly varying shift, as both datum
    shifts are: each step ``p -= forward(p) - target`` shrinks the error a hundredfold or more.
    """
    x, y = (np.array(a, dtype=np.float64) for a in start)
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        fx -= lon
        fy -= lat
        x -= fx
        y -= fy
        if _max_abs(fx, fy) < _INVERSE_TOL:
            break
    return x, y


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS-84 longitude/latitude to GCJ-02 (the datum of Amap/高德 and Tencent maps).

    Uses the publicly known GCJ-02 formula (Krasovsky ellipsoid, transformLat/transformLon
    polynomials). It applies only inside China; elsewhere the coordinates are returned unchanged.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS-84 longitude and latitude in degrees; any shapes that broadcast together.

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 longitude and latitude as float64 arrays of the broadcast input shape
        (``numpy.float64`` scalars when both inputs are scalars). NaN stays NaN.

    Notes
    -----
    "Inside China" is the rough box of the reference implementations, lon 72.004-137.8347,
    lat 0.8293-55.8271 (:data:`CHINA_BBOX`). It holds all of mainland China, but this is a known
    limitation: Hong Kong, Macau and Taiwan, where GCJ-02 does not apply, are inside the box and
    are shifted too, as are Mongolia, Korea, Japan and much of South-East Asia.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)
    >>> print(f"{lon:.9f} {lat:.9f}")
    121.531541859 31.175303984
    >>> lon, lat = wgs84_to_gcj02(2.35, 48.85)  # Paris: outside China, unchanged
    >>> print(lon, lat)
    2.35 48.85
    """
    lon_arr, lat_arr = _as_arrays(lon, lat)
    out_lon = lon_arr.copy()
    out_lat = lat_arr.copy()
    inside = _in_china(lon_arr, lat_arr)
    if inside.all():
        dlon, dlat = _gcj_offset(lon_arr, lat_arr)
        out_lon += dlon
        out_lat += dlat
    elif inside.any():
        dlon, dlat = _gcj_offset(lon_arr[inside], lat_arr[inside])
        out_lon[inside] += dlon
        out_lat[inside] += dlat
    return _out(out_lon), _out(out_lat)


def _gcj_forward_raw(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Apply the GCJ-02 shift everywhere, ignoring the China box."""
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude back to WGS-84.

    GCJ-02 has no closed-form inverse; this solves ``wgs84_to_gcj02(p) == (lon, lat)`` by
    fixed-point iteration, vectorised over all points, until the largest residual is below
    1e-8 degrees (usually four iterations, at most 30); as the last correction is still applied,
    the result is good to about 1e-10 degrees (0.01 mm). Round trips through
    :func:`wgs84_to_gcj02` thus agree to far better than 1e-6 degrees, unlike the common one-step
    approximation, which is off by up to several metres.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees; any shapes that broadcast together.

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS-84 longitude and latitude as float64 arrays of the broadcast input shape
        (``numpy.float64`` scalars when both inputs are scalars). NaN stays NaN.

    Notes
    -----
    Points outside the rough China box (see :func:`wgs84_to_gcj02`) are returned unchanged.
    Within a few hundred metres of the box edge the round trip is not exact, because the forward
    shift jumps there; no part of mainland China is that close to the edge.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(106.55, 29.57))
    >>> print(f"{lon:.9f} {lat:.9f}")
    106.550000000 29.570000000
    """
    lon_arr, lat_arr = _as_arrays(lon, lat)
    out_lon = lon_arr.copy()
    out_lat = lat_arr.copy()
    inside = _in_china(lon_arr, lat_arr)
    if inside.all():
        out_lon, out_lat = _fixed_point_inverse(
            _gcj_forward_raw, lon_arr, lat_arr, (lon_arr, lat_arr)
        )
    elif inside.any():
        sub_lon, sub_lat = lon_arr[inside], lat_arr[inside]
        out_lon[inside], out_lat[inside] = _fixed_point_inverse(
            _gcj_forward_raw, sub_lon, sub_lat, (sub_lon, sub_lat)
        )
    return _out(out_lon), _out(out_lat)


# --------------------------------------------------------------------------------------------
# BD-09
# --------------------------------------------------------------------------------------------


def _bd_forward(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Apply the BD-09 formula to float64 arrays."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_approx_inverse(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Apply the usual one-step approximate BD-09 inverse to float64 arrays."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude to BD-09 (the datum of Baidu maps).

    Uses the public Baidu formula: with ``x_pi = π·3000/180``,
    ``z = √(x² + y²) + 0.00002·sin(y·x_pi)``, ``θ = atan2(y, x) + 0.000003·cos(x·x_pi)``,
    BD-09 is ``(z·cos θ + 0.0065, z·sin θ + 0.006)``. Applied everywhere (no China box).

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees; any shapes that broadcast together.

    Returns
    -------
    lon, lat : numpy.ndarray
        BD-09 longitude and latitude as float64 arrays of the broadcast input shape
        (``numpy.float64`` scalars when both inputs are scalars).

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(106.55, 29.57)
    >>> print(f"{lon - 106.55:.4f} {lat - 29.57:.4f}")
    0.0064 0.0063
    """
    lon_arr, lat_arr = _as_arrays(lon, lat)
    out_lon, out_lat = _bd_forward(lon_arr, lat_arr)
    return _out(out_lon), _out(out_lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert BD-09 longitude/latitude back to GCJ-02.

    Starts from the usual approximate inverse formula and refines it by fixed-point iteration
    until ``gcj02_to_bd09`` of the result matches the input to 1e-8 degrees (usually two
    iterations; the result is then good to about 1e-11 degrees), so round trips agree to far
    better than 1e-6 degrees.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees; any shapes that broadcast together.

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 longitude and latitude as float64 arrays of the broadcast input shape
        (``numpy.float64`` scalars when both inputs are scalars). NaN stays NaN.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09(106.55, 29.57))
    >>> print(f"{lon:.9f} {lat:.9f}")
    106.550000000 29.570000000
    """
    lon_arr, lat_arr = _as_arrays(lon, lat)
    out_lon, out_lat = _fixed_point_inverse(
        _bd_forward, lon_arr, lat_arr, _bd_approx_inverse(lon_arr, lat_arr)
    )
    return _out(out_lon), _out(out_lat)


# --------------------------------------------------------------------------------------------
# Working CRS
# --------------------------------------------------------------------------------------------


def _to_wgs84(
    lon: NDArray[np.float64], lat: NDArray[np.float64], source: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert lon/lat arrays from datum `source` (already checked) to WGS-84/CGCS2000."""
    if source == "bd09":
        lon, lat = bd09_to_gcj02(lon, lat)
        source = "gcj02"
    if source == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    return lon, lat


def _from_wgs84(
    lon: NDArray[np.float64], lat: NDArray[np.float64], target: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert WGS-84/CGCS2000 lon/lat arrays to datum `target` (already checked)."""
    if target in ("gcj02", "bd09"):
        lon, lat = wgs84_to_gcj02(lon, lat)
    if target == "bd09":
        lon, lat = gcj02_to_bd09(lon, lat)
    return lon, lat


def _project(
    src: str, dst: str, x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transform float64 arrays of one shape with the cached transformer `src` → `dst`."""
    shape = x.shape
    # Contiguous 1-d copies: pyproj then transforms them in place without further copies.
    xs = np.array(x, dtype=np.float64, copy=True).reshape(-1)
    ys = np.array(y, dtype=np.float64, copy=True).reshape(-1)
    _transformer(src, dst).transform(xs, ys, inplace=True)
    return xs.reshape(shape), ys.reshape(shape)


def to_working(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    source: str = "wgs84",
    crs: str = WORKING_CRS,
) -> tuple[Any, Any]:
    """Project longitude/latitude into the working CRS.

    The points are first converted from `source` to WGS-84/CGCS2000 (treated as one datum), then
    projected from CGCS2000 (EPSG:4490) with a cached :class:`pyproj.Transformer`.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees; any shapes that broadcast together.
    source : {"wgs84", "cgcs2000", "gcj02", "bd09"}, default "wgs84"
        Datum of `lon`, `lat`.
    crs : {"EPSG:4545", "EPSG:4544", "EPSG:4546"}, default "EPSG:4545"
        Working CRS.

    Returns
    -------
    x, y : numpy.ndarray
        Easting and northing in metres, float64 arrays of the broadcast input shape
        (``numpy.float64`` scalars when both inputs are scalars). Points the projection cannot
        handle come back as ``inf``.

    Raises
    ------
    CRSError
        If `source` or `crs` is not one of the allowed values.

    Examples
    --------
    >>> x, y = to_working(106.55, 29.57)
    >>> print(f"{x:.3f} {y:.3f}")
    359487.933 3273325.934
    """
    key = _check_source(source, name="source")
    code = _check_working_crs(crs)
    lon_arr, lat_arr = _as_arrays(lon, lat)
    lon_arr, lat_arr = _to_wgs84(lon_arr, lat_arr, key)
    x, y = _project(GEOGRAPHIC_CRS, code, np.asarray(lon_arr), np.asarray(lat_arr))
    return _out(x), _out(y)


def from_working(
    x: ArrayLike,
    y: ArrayLike,
    *,
    target: str = "wgs84",
    crs: str = WORKING_CRS,
) -> tuple[Any, Any]:
    """Convert working-CRS coordinates back to longitude/latitude; the inverse of `to_working`.

    Parameters
    ----------
    x, y : float or array_like
        Easting and northing in metres in `crs`; any shapes that broadcast together.
    target : {"wgs84", "cgcs2000", "gcj02", "bd09"}, default "wgs84"
        Datum of the longitude/latitude returned.
    crs : {"EPSG:4545", "EPSG:4544", "EPSG:4546"}, default "EPSG:4545"
        Working CRS of `x`, `y`.

    Returns
    -------
    lon, lat : numpy.ndarray
        Longitude and latitude in degrees, float64 arrays of the broadcast input shape
        (``numpy.float64`` scalars when both inputs are scalars).

    Raises
    ------
    CRSError
        If `target` or `crs` is not one of the allowed values.

    Examples
    --------
    >>> lon, lat = from_working(*to_working(106.55, 29.57, source="gcj02"), target="gcj02")
    >>> print(f"{lon:.9f} {lat:.9f}")
    106.550000000 29.570000000
    """
    key = _check_source(target, name="target")
    code = _check_working_crs(crs)
    x_arr, y_arr = _as_arrays(x, y)
    lon, lat = _project(code, GEOGRAPHIC_CRS, x_arr, y_arr)
    lon, lat = _from_wgs84(lon, lat, key)
    return _out(np.asarray(lon)), _out(np.asarray(lat))


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def _fmt_bounds(bounds: NDArray[np.float64]) -> str:
    """Format total bounds for a message."""

    def fmt(v: float) -> str:
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.6g}"

    minx, miny, maxx, maxy = (float(b) for b in bounds)
    return f"x {fmt(minx)}..{fmt(maxx)}, y {fmt(miny)}..{fmt(maxy)}"


def _crs_label(crs: pyproj.CRS) -> str:
    """Return 'EPSG:nnnn (name)' or just the name of `crs`."""
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg is not None else repr(crs.name)


def _zone_hint(minx: float, maxx: float) -> str:
    """Suggest the zone-numbered CGCS2000 3-degree CRS when x carries a zone prefix."""
    zone = int(minx // 1_000_000)
    if zone == int(maxx // 1_000_000) and 25 <= zone <= 45:
        return (
            f" The x values carry the zone number {zone} as a prefix: the data are probably in "
            f"EPSG:{4513 + zone - 25} (CGCS2000 / 3-degree Gauss-Kruger zone {zone})."
        )
    return ""


def check_layer_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, layer: str) -> None:
    """Check that a layer has a CRS its coordinates can actually be in.

    Catches the common mistakes of hand-made GIS files: no CRS at all, projected metres labelled
    as longitude/latitude, longitude/latitude labelled as a projected CRS, and, for the working
    CRSes, coordinates with a zone-number prefix or with x and y swapped.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        The layer.
    layer : str
        Name of the layer, used in messages.

    Raises
    ------
    CRSError
        If ``gdf.crs`` is None; if the CRS is geographic but the coordinates fall outside
        longitude -180..180 / latitude -90..90; if the CRS is projected but every coordinate fits
        inside those ranges (they look like longitude/latitude); if the CRS is one of
        :data:`WORKING_CRSES` and x is not within 800 km of its false easting or y is outside
        0..6,000,000 m; or if a coordinate is infinite or NaN. The range checks are skipped for
        an empty layer.

    Notes
    -----
    A projected layer whose coordinates are all tiny (within ±180 m east and ±90 m north of the
    CRS origin) is reported as longitude/latitude; no real layer in a Chinese CRS is there.
    """
    crs = gdf.crs
    if crs is None:
        raise CRSError(
            f"Layer {layer!r} has no coordinate reference system (CRS); {_SET_CRS_HINT}."
        )
    bounds = np.asarray(gdf.total_bounds, dtype=np.float64)
    if np.isnan(bounds).all():  # empty layer, or only empty/missing geometries
        return
    if not np.isfinite(bounds).all():
        raise CRSError(
            f"Layer {layer!r} has infinite or NaN coordinates ({_fmt_bounds(bounds)}); "
            "repair or drop those geometries."
        )
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    fits_lonlat = minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0
    label = _crs_label(crs)
    if crs.is_geographic:
        if not fits_lonlat:
            raise CRSError(
                f"Layer {layer!r} is labelled {label}, a longitude/latitude CRS, but its "
                f"coordinates ({_fmt_bounds(bounds)}) are outside longitude -180..180 / latitude "
                "-90..90: they look like projected metres. Set the CRS the data was drawn in "
                "with gdf.set_crs(..., allow_override=True), e.g. EPSG:4545."
            )
        return
    if not crs.is_projected:
        return
    if fits_lonlat:
        raise CRSError(
            f"Layer {layer!r} is labelled {label}, a projected CRS in metres, but its coordinates "
            f"({_fmt_bounds(bounds)}) look like longitude/latitude in degrees. If they are, set "
            "gdf.set_crs('EPSG:4326', allow_override=True)."
        )
    epsg = crs.to_epsg()
    code = None if epsg is None else f"EPSG:{epsg}"
    if code in WORKING_CRSES:
        false_easting = _false_easting(code)
        x_lo, x_hi = false_easting - _ZONE_HALF_WIDTH, false_easting + _ZONE_HALF_WIDTH
        y_lo, y_hi = _NORTHING_RANGE
        if minx < x_lo or maxx > x_hi or miny < y_lo or maxy > y_hi:
            raise CRSError(
                f"Layer {layer!r} is labelled {label}, but its coordinates ({_fmt_bounds(bounds)}) "
                f"don't fit that CRS: expected x {x_lo:,.0f}..{x_hi:,.0f} and "
                f"y {y_lo:,.0f}..{y_hi:,.0f} metres. Check that x and y are not swapped and set "
                f"the CRS the data was drawn in with gdf.set_crs(..., allow_override=True)."
                + _zone_hint(minx, maxx)
            )


@lru_cache(maxsize=8)
def _false_easting(code: str) -> float:
    """Return the false easting of projected CRS `code` in metres."""
    for param in _crs(code).coordinate_operation.params:
        if param.name == "False easting":
            return float(param.value)
    return 0.0  # pragma: no cover - every working CRS has one


def _shift_geometries(geoms: NDArray[np.object_], fn: Callable[..., tuple[Any, Any]]) -> Any:
    """Apply the vectorised lon/lat function `fn` to every vertex of `geoms`, keeping any z."""
    geoms = np.asarray(geoms, dtype=object)

    def xy_fn(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0], out[:, 1] = fn(coords[:, 0], coords[:, 1])
        return out

    has_z = shapely.has_z(geoms)
    if not has_z.any():
        return shapely.transform(geoms, xy_fn)
    result = geoms.copy()
    result[~has_z] = shapely.transform(geoms[~has_z], xy_fn)
    result[has_z] = shapely.transform(geoms[has_z], xy_fn, include_z=True)
    return result


def _with_geometry(gdf: Any, geoms: Any, crs: str) -> Any:
    """Return a copy of `gdf` (GeoDataFrame or GeoSeries) with geometries `geoms` in `crs`."""
    import geopandas as gpd

    if isinstance(gdf, gpd.GeoSeries):
        return gpd.GeoSeries(geoms, index=gdf.index, crs=crs, name=gdf.name)
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=crs)
    return out.set_crs(crs, allow_override=True)


def to_working_gdf(
    gdf: gpd.GeoDataFrame,
    *,
    layer: str,
    source: str | None = None,
    crs: str = WORKING_CRS,
) -> gpd.GeoDataFrame:
    """Return a copy of a layer in the working CRS, after checking its CRS.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        The layer, with a CRS set.
    layer : str
        Name of the layer, used in messages.
    source : {None, "wgs84", "cgcs2000", "gcj02", "bd09"}, optional
        Datum of a longitude/latitude layer. GIS files cannot express GCJ-02 or BD-09, so a layer
        digitised on Amap or Baidu says EPSG:4326 while its coordinates are really in one of
        those; pass ``"gcj02"`` or ``"bd09"`` and every vertex of every geometry is shifted back
        to WGS-84 before projecting (whatever geographic CRS the layer is labelled with). None,
        ``"wgs84"`` and ``"cgcs2000"`` trust the layer's CRS.
    crs : {"EPSG:4545", "EPSG:4544", "EPSG:4546"}, default "EPSG:4545"
        Working CRS.

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A new object of the input type in `crs`; an unchanged copy if the layer is already in
        `crs`.

    Raises
    ------
    CRSError
        If :func:`check_layer_crs` fails; if `source` or `crs` is not allowed; or if `source` is
        ``"gcj02"`` or ``"bd09"`` but the layer is not in a longitude/latitude CRS.
    """
    key = None if source is None else _check_source(source, name="source")
    code = _check_working_crs(crs)
    check_layer_crs(gdf, layer=layer)
    if key in ("gcj02", "bd09"):
        if not gdf.crs.is_geographic:
            raise CRSError(
                f"Layer {layer!r} is labelled {_crs_label(gdf.crs)}, a projected CRS, but "
                f"source={key!r} is a longitude/latitude datum; pass source=None for projected "
                "layers."
            )

        def fn(lon: Any, lat: Any) -> tuple[Any, Any]:
            return to_working(lon, lat, source=key, crs=code)

        return _with_geometry(gdf, _shift_geometries(gdf.geometry.values, fn), code)
    if gdf.crs == _crs(code):
        return gdf.copy()
    return gdf.to_crs(code)


def to_web(gdf: gpd.GeoDataFrame, *, basemap: str = "none") -> gpd.GeoDataFrame:
    """Return a copy of a layer in longitude/latitude (EPSG:4326) for a web map (folium).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        The layer, with a CRS set.
    basemap : {"none", "osm", "tianditu", "amap"}, default "none"
        Tiles the layer is drawn over. Amap (高德) tiles are in GCJ-02, so for ``"amap"`` every
        vertex is shifted into GCJ-02 (the result is still labelled EPSG:4326, as GIS formats
        cannot express GCJ-02). OpenStreetMap and 天地图 tiles are WGS-84/CGCS2000, so the
        others give plain WGS-84.

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A new object of the input type, labelled EPSG:4326.

    Raises
    ------
    CRSError
        If `basemap` is unknown or the layer fails :func:`check_layer_crs`.
    """
    key = basemap.strip().lower() if isinstance(basemap, str) else None
    if key not in BASEMAPS:
        raise CRSError(
            f"basemap={basemap!r} is unknown; use one of {', '.join(repr(b) for b in BASEMAPS)}."
        )
    check_layer_crs(gdf, layer="passed to to_web")
    out = gdf.to_crs("EPSG:4326")
    if key == "amap":
        return _with_geometry(
            out, _shift_geometries(out.geometry.values, wgs84_to_gcj02), "EPSG:4326"
        )
    return out
