"""Benchmark zoning.crs on 1,000,000 random points in Chongqing, against peers in the same run.

Peers:

* the per-point pure-Python approach of the popular scalar coordinate-conversion libraries
  (eviltransform, coordTransform_py): the same formulas, one point at a time with ``math``;
  timed on 20,000 points and scaled to a per-point rate;
* ``pyproj.Transformer.transform`` on the same 1,000,000 points for the projection.

Run with ``python benchmarks/bench_crs.py``. Prints a table; never asserts on timing; exits 0.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np
import pyproj

from zoning.crs import (
    GEOGRAPHIC_CRS,
    bd09_to_gcj02,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_working,
    wgs84_to_gcj02,
)

N = 1_000_000
N_SCALAR = 20_000
REPEATS = 3
TARGET = 1_000_000.0  # points per second
SEED = 20240901

# ---------------------------------------------------------------------------------------------
# The scalar peer: per-point pure Python, written the way the scalar libraries write it.
# ---------------------------------------------------------------------------------------------

_PI = math.pi
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0


def _out_of_china(lng: float, lat: float) -> bool:
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * _PI) + 20.0 * math.sin(2.0 * x * _PI)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * _PI) + 40.0 * math.sin(y / 3.0 * _PI)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * _PI) + 320 * math.sin(y * _PI / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * _PI) + 20.0 * math.sin(2.0 * x * _PI)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * _PI) + 40.0 * math.sin(x / 3.0 * _PI)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * _PI) + 300.0 * math.sin(x / 30.0 * _PI)) * 2.0 / 3.0
    return ret


def _delta(lng: float, lat: float) -> tuple[float, float]:
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * _PI
    magic = math.sin(radlat)
    magic = 1 - _EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * _PI)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * math.cos(radlat) * _PI)
    return dlng, dlat


def py_wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    if _out_of_china(lng, lat):
        return lng, lat
    dlng, dlat = _delta(lng, lat)
    return lng + dlng, lat + dlat


def py_gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """The same fixed-point inverse as zoning.crs, one point at a time (eviltransform 'exact')."""
    if _out_of_china(lng, lat):
        return lng, lat
    w_lng, w_lat = lng, lat
    for _ in range(30):
        dlng, dlat = _delta(w_lng, w_lat)
        r_lng = w_lng + dlng - lng
        r_lat = w_lat + dlat - lat
        w_lng -= r_lng
        w_lat -= r_lat
        if abs(r_lng) < 1e-8 and abs(r_lat) < 1e-8:
            break
    return w_lng, w_lat


def py_gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def py_bd09_to_gcj02(bd_lng: float, bd_lat: float) -> tuple[float, float]:
    """The usual approximate inverse, refined by the same fixed-point iteration as zoning.crs."""
    x = bd_lng - 0.0065
    y = bd_lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    g_lng, g_lat = z * math.cos(theta), z * math.sin(theta)
    for _ in range(30):
        f_lng, f_lat = py_gcj02_to_bd09(g_lng, g_lat)
        r_lng, r_lat = f_lng - bd_lng, f_lat - bd_lat
        g_lng -= r_lng
        g_lat -= r_lat
        if abs(r_lng) < 1e-8 and abs(r_lat) < 1e-8:
            break
    return g_lng, g_lat


def _per_point(fn: Callable[[float, float], tuple[float, float]]) -> Callable[..., object]:
    def run(lon: np.ndarray, lat: np.ndarray) -> list[tuple[float, float]]:
        return [fn(a, b) for a, b in zip(lon.tolist(), lat.tolist(), strict=True)]

    return run


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def _rate(fn: Callable[..., object], lon: np.ndarray, lat: np.ndarray, repeats: int) -> float:
    """Best-of-`repeats` points per second of ``fn(lon, lat)``, after one warm-up call."""
    fn(lon[:100], lat[:100])
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(lon, lat)
        best = min(best, time.perf_counter() - t0)
    return lon.size / best


def _combined(*rates: float) -> float:
    """Rate of running stages one after another."""
    return 1.0 / sum(1.0 / r for r in rates)


def main() -> int:
    rng = np.random.default_rng(SEED)
    lon = rng.uniform(105.2, 110.2, N)  # Chongqing: lon 105.2-110.2, lat 28.1-32.3
    lat = rng.uniform(28.1, 32.3, N)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = gcj02_to_bd09(g_lon, g_lat)
    s = slice(0, N_SCALAR)

    # Sanity: the peers compute the same numbers (so the comparison is like for like).
    for fn, py_fn, (x, y) in [
        (wgs84_to_gcj02, py_wgs84_to_gcj02, (lon, lat)),
        (gcj02_to_wgs84, py_gcj02_to_wgs84, (g_lon, g_lat)),
        (gcj02_to_bd09, py_gcj02_to_bd09, (g_lon, g_lat)),
        (bd09_to_gcj02, py_bd09_to_gcj02, (b_lon, b_lat)),
    ]:
        ours = np.column_stack(fn(x[:1000], y[:1000]))
        peer = np.array(_per_point(py_fn)(x[:1000], y[:1000]))
        diff = float(np.abs(ours - peer).max())
        if diff > 1e-9:
            print(f"WARNING: {fn.__name__} differs from the scalar peer by {diff:.2e} degrees")

    transformer = pyproj.Transformer.from_crs(GEOGRAPHIC_CRS, "EPSG:4545", always_xy=True)

    def pyproj_transform(x: np.ndarray, y: np.ndarray) -> object:
        return transformer.transform(x, y)

    def to_working_gcj02(x: np.ndarray, y: np.ndarray) -> object:
        return to_working(x, y, source="gcj02")

    r_pyproj = _rate(pyproj_transform, lon, lat, REPEATS)
    r_py_inverse = _rate(_per_point(py_gcj02_to_wgs84), g_lon[s], g_lat[s], 1)

    rows: list[tuple[str, float, str, float]] = []
    for name, fn, py_fn, (x, y) in [
        ("wgs84_to_gcj02", wgs84_to_gcj02, py_wgs84_to_gcj02, (lon, lat)),
        ("gcj02_to_wgs84", gcj02_to_wgs84, None, (g_lon, g_lat)),
        ("gcj02_to_bd09", gcj02_to_bd09, py_gcj02_to_bd09, (g_lon, g_lat)),
        ("bd09_to_gcj02", bd09_to_gcj02, py_bd09_to_gcj02, (b_lon, b_lat)),
    ]:
        ours = _rate(fn, x, y, REPEATS)
        peer = r_py_inverse if py_fn is None else _rate(_per_point(py_fn), x[s], y[s], 1)
        rows.append((name, ours, "pure Python, per point", peer))
    rows.append(
        (
            "to_working(source='wgs84')",
            _rate(to_working, lon, lat, REPEATS),
            "pyproj Transformer.transform",
            r_pyproj,
        )
    )
    rows.append(
        (
            "to_working(source='gcj02')",
            _rate(to_working_gcj02, g_lon, g_lat, REPEATS),
            "per-point Python inverse + pyproj",
            _combined(r_py_inverse, r_pyproj),
        )
    )

    print(
        f"zoning.crs benchmark: {N:,} random points in Chongqing (scalar peers on "
        f"{N_SCALAR:,}, scaled); best of {REPEATS}"
    )
    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, pyproj {pyproj.__version__} "
        f"(PROJ {pyproj.proj_version_str}), {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print()
    header = (
        f"{'operation':<28} {'points/s':>12}  {'peer':<34} {'peer points/s':>13}"
        f"  {'ratio':>7}  target >= 1M/s"
    )
    print(header)
    print("-" * len(header))
    for name, ours, peer_name, peer in rows:
        met = "yes" if ours >= TARGET else "NO"
        ratio = ours / peer
        print(f"{name:<28} {ours:>12,.0f}  {peer_name:<34} {peer:>13,.0f}  {ratio:>6.1f}x  {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
