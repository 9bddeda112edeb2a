"""Benchmark: school capacity table (demand → seats → warnings) on the full demo.

Target: capacity_table ≤ 50 ms for the demo's ~100 schools (median of 50 runs). Peer, measured in
the same run: a straightforward per-school pandas loop, the way a spreadsheet-minded script does it
(for each school: filter the zone table for zones naming it, sum their demand shares, divide by
seats, look up the warning). Prints times and ratios; never asserts on timing.

Run: ``.venv/bin/python benchmarks/bench_capacity.py``
"""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np
import pandas as pd
from timing import median_time

from zoning.capacity import (
    CapacitySettings,
    capacity_table,
    observed_demand,
    school_demand,
    warning_level,
)
from zoning.demo import YEAR, build_demo
from zoning.zones import zone_schools

TARGET_S = 0.050
RUNS = 50


def _zone_demand(ds, level):
    """Plausible zone demand: each school's observed intake spread evenly over its zones."""
    links = zone_schools(ds.zones[ds.zones["level"] == level])
    obs = observed_demand(ds, level=level, year=YEAR)
    n = links.groupby("school_id")["zone_id"].transform("size")
    share = links["school_id"].map(obs).fillna(0) / n
    return share.groupby(links["zone_id"]).sum()


def _peer(ds, zone_demand, level, cap):
    """One school at a time, as a spreadsheet-minded script would."""
    zones = ds.zones[ds.zones["level"] == level]
    col = f"planned_{level}_classes"
    rows = []
    for sid, school in ds.schools.iterrows():
        if school["level"] not in (level, "nine_year"):
            continue
        demand = 0.0
        for zid, zone in zones.iterrows():
            ids = [s.strip() for s in str(zone["school_ids"]).replace("、", ";").split(";")]
            if sid not in ids:
                continue
            seats_in_zone = sum(int(ds.schools.loc[s, col]) * cap for s in ids
                                if s in ds.schools.index)
            own = int(school[col]) * cap
            share = own / seats_in_zone if seats_in_zone else 1 / len(ids)
            demand += float(zone_demand.get(zid, 0.0)) * share
        planned = int(school[col])
        seats = planned * cap
        ratio = demand / seats if seats else (math.inf if demand > 0 else math.nan)
        needed = math.ceil(round(demand / cap, 9))
        rows.append({"school_id": sid, "name": school["name"], "planned_classes": planned,
                     "seats": seats, "demand": demand, "ratio": ratio,
                     "warning": warning_level(ratio), "classes_needed": needed,
                     "shortfall_classes": max(0, needed - planned),
                     "shortfall_seats": max(0.0, demand - seats)})
    return pd.DataFrame(rows).set_index("school_id")


def _vectorised(ds, zone_demand, level):
    """What the peer does, the package's way: share zone demand, then the table."""
    demand = school_demand(zone_demand, ds.zones, ds.schools, level=level)
    return capacity_table(ds, level=level, demand=demand)


def main():
    t = time.perf_counter()
    ds = build_demo(seed=7)
    print(f"demo built in {time.perf_counter() - t:.1f} s: {len(ds.schools)} schools, "
          f"{len(ds.zones)} zones")
    settings = CapacitySettings()
    for level in ("primary", "junior"):
        cap = settings.cap(level)
        zd = _zone_demand(ds, level)
        per_school = school_demand(zd, ds.zones, ds.schools, level=level)
        table = capacity_table(ds, level=level, demand=per_school)
        peer = _peer(ds, zd, level, cap)
        # same answer before timing anything
        assert np.allclose(peer["demand"], table.loc[peer.index, "demand"])
        assert (peer["warning"] == table.loc[peer.index, "warning"]).all()

        t_table = median_time(partial(capacity_table, ds, level=level, demand=per_school), RUNS)
        t_full = median_time(partial(_vectorised, ds, zd, level), RUNS)
        t_peer = median_time(partial(_peer, ds, zd, level, cap), RUNS)
        verdict = "within" if t_table <= TARGET_S else "OVER"
        print(f"\n{level}: {len(table)} schools, warnings "
              f"{table['warning'].value_counts().to_dict()}")
        print(f"  capacity_table           median {t_table * 1e3:7.2f} ms  "
              f"({verdict} the {TARGET_S * 1e3:.0f} ms target)")
        print(f"  school_demand + table    median {t_full * 1e3:7.2f} ms")
        print(f"  peer per-school loop     median {t_peer * 1e3:7.2f} ms")
        print(f"  capacity_table / target: {t_table / TARGET_S:.3f}")
        print(f"  peer / vectorised (demand + table): {t_peer / t_full:.1f}x")


if __name__ == "__main__":
    main()
