"""Demo build time (target: under a minute) and zone validation against a GIS overlay.

Run: .venv/bin/python benchmarks/bench_demo.py

- demo: `write_demo` of the real-sized district (20,000 parcels, 200,000 addresses) vs the 60 s target.
- validation: `zoning.validate` (STRtree pairs, exact areas) against the peer a GIS analyst would
  reach for, `geopandas.overlay(parcels, zones, how="intersection")` + a groupby for the largest
  share, measured in the same run on the same data. Timings never fail anything; this only prints.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import geopandas as gpd

from zoning.demo import write_demo
from zoning.store import GeoPackageStore
from zoning.zones import validate


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def overlay_peer(parcels, zones):
    """Parcel shares by largest overlap, the geopandas.overlay way."""
    p = parcels[["geometry"]].reset_index()
    z = zones[["geometry"]].reset_index()
    inter = gpd.overlay(p, z, how="intersection", keep_geom_type=True)
    inter["area"] = inter.area
    best = inter.sort_values("area", ascending=False).drop_duplicates("parcel_id")
    return best.set_index("parcel_id")["area"] / parcels.area.reindex(best["parcel_id"]).to_numpy()


def main() -> None:
    with tempfile.TemporaryDirectory() as td:
        path = Path(td) / "demo.gpkg"
        _, t_build = timed(write_demo, path, seed=7)
        ds, t_load = timed(GeoPackageStore(path).load)
        report, t_val = timed(validate, ds.zones, schools=ds.schools, parcels=ds.parcels,
                              district=ds.district)
        prim = ds.zones[ds.zones["level"] == "primary"]
        _, t_ours = timed(validate, prim, parcels=ds.parcels)
        _, t_peer = timed(overlay_peer, ds.parcels, prim)
    print(f"{'measure':<48}{'seconds':>10}  note")
    print("-" * 90)
    print(f"{'demo build + write (20k parcels, 200k addr)':<48}{t_build:>10.2f}  "
          f"target < 60 s: {'met' if t_build < 60 else 'NOT met'} ({60 / t_build:.1f}x margin)")
    print(f"{'load store':<48}{t_load:>10.2f}")
    print(f"{'validate all checks, both levels':<48}{t_val:>10.2f}  "
          f"{len(report.problems)} problems")
    print(f"{'validate primary zones vs parcels (zoning)':<48}{t_ours:>10.2f}")
    print(f"{'peer: geopandas.overlay + largest share':<48}{t_peer:>10.2f}  "
          f"ratio peer/zoning = {t_peer / t_ours:.1f}x")


if __name__ == "__main__":
    main()
