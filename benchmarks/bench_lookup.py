"""Point → zone and parcel → zone: zoning.assign against the peers measured in the same run.

Run: .venv/bin/python benchmarks/bench_lookup.py [--points 10000000] [--peer-points 1000000]

- batch point → zone: ``Locator.locate_index`` on 10 M random points over (a) the demo district's
  66 primary zones (points in the district's bounding box) and (b) a synthetic 3,000-zone city
  (Voronoi cells of 3,000 random seeds in a 60 km square), against ``geopandas.sjoin(points,
  zones, predicate="within")``, a plain ``shapely.STRtree.query(points, predicate="within")`` and
  an ``rtree`` index (bounding-box candidates, then a prepared ``shapely.contains_xy``). The peers
  run on the first ``--peer-points`` points (10 M point geometries cost several GB and most of a
  minute each) and their rate is per point. Answers are compared on points off every boundary.
  Peak extra memory of ``locate_index`` on all points is measured with ``tracemalloc`` (NumPy
  reports its allocations to it) against the input coordinate arrays.
- single lookup: 10,000 random points one at a time, ``Locator.locate_one`` against
  ``gdf.sindex.query(shapely.Point(x, y), predicate="within")``; p50 and p99 in µs.
- parcels: ``assign_parcels`` against ``maup.assign`` (largest overlap too), 20,000 parcels,
  both from scratch (every index built inside the timed call), best of 3.

Timings never fail anything; this only prints. Targets: ≥ 20× sjoin for batches, p50 ≤ 20 µs and
p99 ≤ 100 µs for single points, ≥ 10× maup for parcels, peak memory ≤ 2× the input arrays.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
import warnings

import geopandas as gpd
import maup
import numpy as np
import pandas as pd
import rtree
import shapely

from zoning.assign import Locator, _parcel_zones, assign_parcels
from zoning.demo import build_demo

W = 104


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def best_of(k, fn, *args):
    out, best = None, float("inf")
    for _ in range(k):
        out, t = timed(fn, *args)
        best = min(best, t)
    return out, best


def synthetic_city(n=3_000, side=60_000.0, seed=3):
    """Voronoi cells of ``n`` random seeds in a ``side`` square, as a primary zone layer."""
    rng = np.random.default_rng(seed)
    x0, y0 = 380_000.0, 3_260_000.0
    seeds = shapely.multipoints(np.column_stack([x0 + rng.uniform(0, side, n),
                                                 y0 + rng.uniform(0, side, n)]))
    square = shapely.box(x0, y0, x0 + side, y0 + side)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=square, ordered=True))
    cells = shapely.intersection(cells, square)
    return gpd.GeoDataFrame({"level": "primary"}, geometry=cells, crs="EPSG:4545",
                            index=pd.Index([f"C-{i:04d}" for i in range(n)], name="zone_id"))


# --------------------------------------------------------------------------------- the peers
def peer_sjoin(zones, x, y):
    """Coordinates → zone positions through geopandas.sjoin; returns (answer, t_points)."""
    t0 = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=zones.crs)
    t_points = time.perf_counter() - t0
    j = gpd.sjoin(pts, zones[["geometry"]].reset_index(drop=True), predicate="within",
                  how="left")
    j = j[~j.index.duplicated(keep="first")]
    out = j["index_right"].fillna(-1).to_numpy().astype(np.int64)
    return out, t_points


def peer_strtree(zones, x, y):
    tree = shapely.STRtree(zones.geometry.to_numpy())
    pi, zi = tree.query(shapely.points(x, y), predicate="within")
    out = np.full(len(x), np.iinfo(np.int64).max)
    np.minimum.at(out, pi, zi)
    out[out == np.iinfo(np.int64).max] = -1
    return out


def peer_rtree(zones, x, y):
    geoms = zones.geometry.to_numpy().copy()
    shapely.prepare(geoms)
    b = shapely.bounds(geoms)
    idx = rtree.index.Index(((i, tuple(bb), None) for i, bb in enumerate(b)))
    pts = np.column_stack([x, y])
    ids, counts = idx.intersection_v(pts, pts)
    rep = np.repeat(np.arange(len(x)), counts.astype(np.int64))
    ids = ids.astype(np.int64)
    hit = shapely.contains_xy(geoms[ids], x[rep], y[rep])
    out = np.full(len(x), np.iinfo(np.int64).max)
    np.minimum.at(out, rep[hit], ids[hit])
    out[out == np.iinfo(np.int64).max] = -1
    return out


def peak_memory(loc, x, y):
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    loc.locate_index(x, y)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


# --------------------------------------------------------------------------------- sections
def batch(name, zones, *, n, n_peer, rows, notes):
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = zones.total_bounds
    x = rng.uniform(minx, maxx, n)
    y = rng.uniform(miny, maxy, n)
    loc, t_build = timed(Locator.from_zones, zones)
    ours, t_ours = best_of(3, loc.locate_index, x, y)
    _, t_ids = best_of(3, loc.locate, x, y)
    rate = n / t_ours
    m = min(n, n_peer)
    xs, ys = x[:m], y[:m]
    on = loc.on_boundary(xs, ys)
    mine = ours[:m].astype(np.int64)
    rows.append((f"{name}: Locator build", "", t_build, "", "", "",
                 f"{loc._nx}×{loc._ny} cells of {loc.cell_size:.1f} m"))
    rows.append((f"{name}: Locator.locate_index", n, t_ours, rate, 1.0, "",
                 f"{rate / 1e6:.1f} M points/s; locate (ids) {t_ids:.2f} s"))
    (sj, t_points), t_sj = timed(peer_sjoin, zones, xs, ys)
    peers = [("geopandas.sjoin(within)", sj, t_sj,
              f"incl. points_from_xy {t_points:.2f} s; sjoin alone {m / (t_sj - t_points):,.0f}/s"
              f" → {rate / (m / (t_sj - t_points)):.0f}×")]
    st, t_st = timed(peer_strtree, zones, xs, ys)
    peers.append(("shapely.STRtree.query(within)", st, t_st, "incl. shapely.points"))
    rt, t_rt = timed(peer_rtree, zones, xs, ys)
    peers.append(("rtree bbox + contains_xy", rt, t_rt, "incl. building the rtree index"))
    for label, answer, t, note in peers:
        bad = int(((answer != mine) & ~on).sum())
        rows.append((f"{name}: {label}", m, t, m / t, rate / (m / t), bad, note))
    peak = peak_memory(loc, x, y)
    inputs = x.nbytes + y.nbytes
    notes.append(f"{name}: peak extra memory of locate_index on {n:,} points = "
                 f"{peak / 1e6:,.0f} MB (answer {n * 4 / 1e6:,.0f} MB + working set); input x+y "
                 f"= {inputs / 1e6:,.0f} MB, 2× = {2 * inputs / 1e6:,.0f} MB → "
                 f"{peak / inputs:.2f}× the input ({'met' if peak <= 2 * inputs else 'NOT met'}); "
                 f"{int(on.sum())} of the {m:,} compared points lie on a boundary")
    return loc


def single(name, zones, loc, *, n=10_000):
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = zones.total_bounds
    x = rng.uniform(minx, maxx, n).tolist()
    y = rng.uniform(miny, maxy, n).tolist()
    ids = zones.index
    sindex = zones.sindex
    ours = np.empty(n)
    peer = np.empty(n)
    clock = time.perf_counter_ns
    loc.locate_one(x[0], y[0])
    sindex.query(shapely.Point(x[0], y[0]), predicate="within")
    agree = 0
    for i in range(n):
        t0 = clock()
        a = loc.locate_one(x[i], y[i])
        t1 = clock()
        hit = sindex.query(shapely.Point(x[i], y[i]), predicate="within")
        b = ids[hit.min()] if hit.size else None
        t2 = clock()
        ours[i] = (t1 - t0) / 1e3
        peer[i] = (t2 - t1) / 1e3
        agree += a == b
    p = [np.percentile(v, q) for v in (ours, peer) for q in (50, 99)]
    return (f"{name}: {n:,} single points", p[0], p[1], p[2], p[3], p[2] / p[0], n - agree)


def straddling(parcels, zones, *, n, seed=1):
    """``parcels`` plus ``n`` copies moved so that their centroid sits on a vertex two zones
    share: parcels split between zones, which need exact overlaps."""
    rng = np.random.default_rng(seed)
    verts = shapely.get_coordinates(shapely.boundary(zones.geometry.to_numpy()))
    cover = np.zeros(len(verts), dtype=np.int64)
    for g in zones.geometry.to_numpy():
        cover += shapely.intersects_xy(g, verts[:, 0], verts[:, 1])
    verts = verts[rng.choice(np.flatnonzero(cover >= 2), n, replace=False)]
    moved = parcels.iloc[rng.choice(len(parcels), n, replace=False)].copy()
    c = shapely.centroid(moved.geometry.to_numpy())
    dx, dy = verts[:, 0] - shapely.get_x(c), verts[:, 1] - shapely.get_y(c)
    moved["geometry"] = [shapely.affinity.translate(g, a, b)
                         for g, a, b in zip(moved.geometry, dx, dy, strict=True)]
    moved.index = pd.Index([f"{p}-moved" for p in moved.index], name="parcel_id")
    return pd.concat([parcels, moved])


def parcels_vs_maup(label, parcels, zones, level):
    """Time both from scratch, best of 3.

    ``assign_parcels`` builds its index of zone boundaries inside the timed call, as maup
    builds its spatial index.
    """
    lz = zones[zones["level"] == level]
    ours, t_ours = best_of(3, lambda: assign_parcels(parcels, zones, level=level))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # maup warns about unassigned parcels (none here)
        theirs, t_maup = best_of(3, lambda: maup.assign(parcels[["geometry"]],
                                                        lz[["geometry"]]))
    a = ours["zone_id"].fillna("-").to_numpy()
    b = theirs.reindex(ours.index).fillna("-").to_numpy()
    # untimed: how many parcels the exact grid steps answered, without any GEOS predicate
    pg = parcels.geometry.to_numpy()
    zg = lz.geometry.to_numpy()
    code = _parcel_zones(shapely.bounds(pg), pg, zg, ~shapely.is_empty(zg))
    return label, len(parcels), t_ours, t_maup, t_maup / t_ours, int((a != b).sum()), \
        int(ours["split"].sum()), int((code >= -1).sum())


# --------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--peer-points", type=int, default=1_000_000)
    args = ap.parse_args()

    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print("zoning.assign benchmarks: point → zone, parcel → zone")
    print(f"machine: {nproc} CPUs (nproc), {platform.machine()}, {platform.system()}; "
          f"python {platform.python_version()}")
    print(f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), geopandas "
          f"{gpd.__version__}, pandas {pd.__version__}, numpy {np.__version__}, rtree "
          f"{rtree.__version__}, maup {getattr(maup, '__version__', '?')}")
    ds, t_demo = timed(build_demo, seed=7)
    print(f"demo district built in memory (seed 7): {len(ds.zones)} zones, {len(ds.parcels):,} "
          f"parcels, {t_demo:.1f} s")
    city = synthetic_city()
    primary = ds.zones[ds.zones["level"] == "primary"]
    print()

    rows, notes = [], []
    loc_demo = batch("demo 66 zones", primary, n=args.points, n_peer=args.peer_points,
                     rows=rows, notes=notes)
    loc_city = batch("city 3,000 zones", city, n=args.points, n_peer=args.peer_points,
                     rows=rows, notes=notes)
    print("BATCH point → zone (random points over the zones' bounding box; peers on the first "
          f"{min(args.points, args.peer_points):,} points, rates per point)")
    print(f"{'method':<52}{'points':>11}{'s':>8}{'points/s':>13}{'Locator ×':>10}"
          f"{'mismatch':>9}  note")
    print("-" * W)
    for label, n, t, rate, ratio, bad, note in rows:
        n_s = f"{n:,}" if n != "" else ""
        rate_s = f"{rate:,.0f}" if rate != "" else ""
        ratio_s = f"{ratio:.1f}×" if ratio != "" else ""
        print(f"{label:<52}{n_s:>11}{t:>8.2f}{rate_s:>13}{ratio_s:>10}{bad!s:>9}  {note}")
    for note in notes:
        print("  " + note)
    print("  mismatch = answers that differ from Locator on points off every boundary "
          "(must be 0)")
    print()

    print("SINGLE point → zone (µs per lookup, one Python call each)")
    print(f"{'case':<40}{'ours p50':>10}{'ours p99':>10}{'sindex p50':>12}{'sindex p99':>12}"
          f"{'p50 ×':>8}{'disagree':>10}")
    print("-" * W)
    for label, o50, o99, s50, s99, ratio, bad in (single("demo 66 zones", primary, loc_demo),
                                                  single("city 3,000 zones", city, loc_city)):
        print(f"{label:<40}{o50:>10.1f}{o99:>10.1f}{s50:>12.1f}{s99:>12.1f}{ratio:>7.1f}×"
              f"{bad:>10}")
    print("  target: p50 ≤ 20 µs, p99 ≤ 100 µs; sindex includes shapely.Point(x, y) and the id "
          "lookup")
    print()

    print("PARCELS → zones by largest overlap (demo district; both from scratch, best of 3)")
    print(f"{'case':<32}{'parcels':>8}{'assign_parcels ms':>19}{'maup.assign ms':>16}"
          f"{'maup / ours':>13}{'differ':>8}{'split':>7}{'no GEOS':>9}")
    print("-" * W)
    mixed = straddling(ds.parcels, primary, n=2_000)
    for label, n, t_ours, t_maup, ratio, differ, split, exact in (
            parcels_vs_maup("primary", ds.parcels, ds.zones, "primary"),
            parcels_vs_maup("junior", ds.parcels, ds.zones, "junior"),
            parcels_vs_maup("primary + 2,000 straddling", mixed, ds.zones, "primary")):
        print(f"{label:<32}{n:>8,}{t_ours * 1e3:>19.1f}{t_maup * 1e3:>16.1f}{ratio:>12.1f}×"
              f"{differ:>8}{split:>7}{exact:>9,}")
    print("  differ = parcels whose zone differs from maup's (ties would go to maup's first "
          "label, ours to the first zone in frame order; the demo's frame order is label order)")
    print("  no GEOS = parcels answered by the exact grid of zone boundaries (box or edges clear "
          "of every boundary,\n    zone by winding number), without a GEOS predicate or "
          "intersection; the others go to prepared contains, then GEOS intersections")
    print("  straddling = copies of demo parcels moved onto vertices two zones share; each needs "
          "exact GEOS intersections with the zones, the same work in both")
    print("  target: ≥ 10× maup on the 20,000 parcels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
