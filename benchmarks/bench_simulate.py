"""Benchmark: a planner's edit and its impact, incremental vs a full recompute, on the full demo.

Target (issue 6): ≤ 50 ms for a typical edit on the demo district (median of runs). A typical edit
moves 1–200 parcels from a zone to a neighbouring one. Measured:

- ours: ``move_parcels`` (new plan, outlines redrawn around the moved parcels) +
  ``Simulator.impact`` (touched parcels and zones only);
- the peer, in the same run: the same edit followed by a full recompute of the new plan, as a
  tool without incremental bookkeeping would do it — parcels re-assigned to the new zones by
  largest overlap (``assign_parcels``), demand summed per zone, the capacity table, and every
  parcel's distance to its school.

Both answers are checked equal before timing. Prints times and ratios; never asserts on timing.

Run: ``.venv/bin/python benchmarks/bench_simulate.py``
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import shapely
from timing import median_time

from zoning import simulate as sm
from zoning.assign import assign_parcels
from zoning.demo import build_demo

TARGET_S = 0.050
RUNS = 15


def _edits(plan, sim, rng, sizes):
    """Edits of the given sizes: the parcels of a zone nearest a touching zone, moved to it."""
    z = plan.zones
    out = []
    while len(out) < len(sizes):
        frm = rng.choice(z.index.to_numpy())
        nbs = [n for n in z.index[z.sindex.query(z.geometry.loc[frm], predicate="touches")]
               if n != frm]
        if not nbs:
            continue
        to = rng.choice(nbs)
        rows = np.flatnonzero((plan.assignment == frm).to_numpy())
        n = sizes[len(out)]
        if len(rows) < n:
            continue
        d = shapely.distance(z.geometry.loc[to], shapely.points(sim.px[rows], sim.py[rows]))
        out.append((plan.assignment.index[rows[np.argsort(d)[:n]]], to))
    return out


def main():
    t = time.perf_counter()
    ds = build_demo(seed=7)
    print(f"demo built in {time.perf_counter() - t:.1f} s: {len(ds.parcels)} parcels, "
          f"{len(ds.schools)} schools")
    base = sm.current_plan(ds, level="primary")
    sim = sm.Simulator(ds, level="primary")
    sim.capacity(base)
    sim.distances(base)
    rng = np.random.default_rng(0)
    sim_demand = _demand_series(sim, ds)
    for n in (1, 10, 50, 200):
        edits = _edits(base, sim, rng, [n] * 5)

        def ours(edits=edits):
            for ids, to in edits:
                after = sm.move_parcels(base, ids, to, ds.parcels)
                sim.impact(base, after)

        def peer(edits=edits):
            for ids, to in edits:
                after = sm.move_parcels(base, ids, to, ds.parcels)
                full = sm.Simulator(ds, level="primary", demand=sim_demand)
                a = assign_parcels(ds.parcels, sm.plan_dataset(ds, after).zones,
                                   level="primary")["zone_id"]
                full.capacity(replace(after, assignment=a, plan_id="full"))
                full.distances(after)

        # same answers: incremental demand per school = full recompute
        ids, to = edits[0]
        after = sm.move_parcels(base, ids, to, ds.parcels)
        inc = sim.impact(base, after)
        fresh = sm.Simulator(ds, level="primary", demand=sim_demand).capacity(after)
        assert np.allclose(sim.capacity(after)["demand"], fresh["demand"])
        assert len(inc.moved) == n

        t_ours = median_time(ours, RUNS) / len(edits)
        t_peer = median_time(peer, repeat=3) / len(edits)
        verdict = "within" if t_ours <= TARGET_S else "OVER"
        print(f"\nedit of {n:>3} parcels: ours {t_ours * 1e3:7.1f} ms ({verdict} the "
              f"{TARGET_S * 1e3:.0f} ms target), full recompute {t_peer * 1e3:7.1f} ms, "
              f"peer / ours {t_peer / t_ours:.1f}x")


def _demand_series(sim, ds):
    import pandas as pd

    s = pd.Series(sim.demand, index=ds.parcels.index, name="demand")
    s.attrs["year"] = sim.year
    return s


if __name__ == "__main__":
    main()
