"""Benchmark: a district's enrolment season of 50,000 applicants, eligibility through notices.

Target (issue 7): ``run_season`` — eligibility (三对口 through 不动产单元号, age, 随迁子女, disability,
special groups), private registration and lottery with the confirmation deadline, public
admission and 统筹, notices with 报到码 — ≤ 30 s for 50,000 applicants. The demo district plans
~28,600 starting-grade seats; a district with 50,000 applicants plans about that many, so the
demo's planned classes are scaled up until the seats exceed the applicants by ~3 % (some schools
still short: their planned classes keep the demo's proportions).

Also timed: importing the 50,000 applications into a store (row-by-row checks, one transaction)
and the same season saved to the store with its hash-chained audit entries.

Peer, measured in the same run: eligibility row by row, as a script without this package would
do it — one :meth:`zoning.lookup.Resolver.lookup` per 不动产单元号 (hukou, property, residence),
rules in Python — on a sample of 1,000, extrapolated, and checked to give the same 三对口
decisions. (Placement is a plain loop in ``zoning.enroll._place``: measured 5–8× faster than a
vectorised deferred acceptance giving the same assignment, so there is no faster peer to show.)

Prints times and ratios; never asserts on timing.

Run: ``.venv/bin/python benchmarks/bench_enroll.py [--n 50000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from zoning import enroll as en
from zoning.demo import build_demo
from zoning.lookup import Resolver
from zoning.store import GeoPackageStore

TARGET_S = 30.0
YEAR = 2027
SEED = "05 18 22 31 44"


def scaled(ds, n):
    """The demo with its planned classes scaled so seats ≈ 1.03 × n, in the same proportions."""
    schools = ds.schools.copy()
    seats = {lv: en._seats(ds, lv, en.EnrolSettings()).sum() for lv in en.LEVELS}
    share = {"primary": 0.55, "junior": 0.45}
    for lv, col in (("primary", "planned_primary_classes"), ("junior", "planned_junior_classes")):
        factor = 1.03 * n * share[lv] / seats[lv]
        schools[col] = np.ceil(schools[col] * factor).astype(int)
    return ds.with_layers(schools=schools)


def row_by_row(resolver, apps):
    """Peer: each applicant's three homes looked up one by one, rules in plain Python."""
    out = {}
    for r in apps.itertuples():
        zones = {}
        for kind in ("hukou_unit_code", "property_unit_code", "residence_unit_code"):
            code = getattr(r, kind)
            if isinstance(code, str) and code:
                ans = resolver.lookup(parcel=code)
                lv = ans.levels.get(r.level) if ans.found else None
                zones[kind] = lv.zone_id if lv else None
            else:
                zones[kind] = None
        h, p, z = (zones["hukou_unit_code"], zones["property_unit_code"],
                   zones["residence_unit_code"])
        sandukou = (r.level == "primary" and not r.rural and r.hukou_holder == "parent"
                    and r.property_owner == "parent" and h is not None and h == p == z)
        out[r.applicant_id] = sandukou
    return pd.Series(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000, help="applicants")
    ap.add_argument("--repeat", type=int, default=3, help="timed season runs (median)")
    args = ap.parse_args()

    t = time.perf_counter()
    ds = scaled(build_demo(seed=7), args.n)
    print(f"demo built in {time.perf_counter() - t:.1f} s; seats "
          + ", ".join(f"{lv} {en._seats(ds, lv, en.EnrolSettings()).sum():,}"
                      for lv in en.LEVELS))
    t = time.perf_counter()
    apps = en.demo_applicants(ds, year=YEAR, n=args.n, seed=1)
    conf = en.demo_confirmations(apps, year=YEAR, seed=1)
    print(f"{len(apps):,} synthetic applicants in {time.perf_counter() - t:.1f} s "
          f"({(apps['application_type'] == 'private').sum():,} private)")

    times, res = [], None
    for _ in range(args.repeat):
        t = time.perf_counter()
        res = en.run_season(ds, apps, year=YEAR, lottery_seed=SEED, confirmations=conf)
        times.append(time.perf_counter() - t)
    season = statistics.median(times)
    s = res.summary()
    verdict = "within" if season <= TARGET_S else "OVER"
    print(f"\nseason of {len(apps):,} applicants (eligibility → notices), median of "
          f"{args.repeat}: {season:.2f} s ({verdict} the {TARGET_S:.0f} s target; "
          f"{season / TARGET_S:.2f} of it)")
    for step, sec in res.timings.items():
        print(f"  {step:<12} {sec:6.2f} s")
    print(f"  outcomes {s['outcomes']}")
    print(f"  private schools {s['private_schools']} ({s['lotteries']} drawn), forfeited "
          f"{s['forfeited']}, 统筹 {s['tongchou']:,}, notices {s['notices']:,}")

    with tempfile.TemporaryDirectory() as tmp:
        store = GeoPackageStore(Path(tmp) / "district.gpkg")
        store.save(ds, actor="bench")
        t = time.perf_counter()
        rep = en.import_applicants(apps.drop(columns="applicant_id"), year=YEAR, store=store,
                                   actor="bench")
        t_import = time.perf_counter() - t
        stored_conf = en.demo_confirmations(store.query("applicants", {"year": YEAR}),
                                            year=YEAR, seed=1)
        t = time.perf_counter()
        saved = en.run_season(store, year=YEAR, lottery_seed=SEED, confirmations=stored_conf,
                              actor="bench")
        t_store = time.perf_counter() - t
        t = time.perf_counter()
        check = store.verify_audit()
        t_verify = time.perf_counter() - t
    print(f"\nimport {len(rep.accepted):,} applications into a store (row checks, one "
          f"transaction): {t_import:.2f} s")
    print(f"season from the store, saved with its audit entries: {t_store:.2f} s "
          f"(load + run + save; save {saved.timings.get('save', 0):.2f} s)")
    print(f"audit chain verified ({check.entries} entries, ok={check.ok}) in "
          f"{t_verify * 1e3:.1f} ms")

    # peer 1: row-by-row eligibility on a sample, extrapolated
    sample = apps[apps["application_type"] == "public"].sample(1_000, random_state=3)
    resolver = Resolver(ds)
    resolver.lookup(parcel=sample["residence_unit_code"].dropna().iloc[0])  # warm the caches
    t = time.perf_counter()
    peer = row_by_row(resolver, sample)
    t_peer = (time.perf_counter() - t) / len(sample)
    t = time.perf_counter()
    mine = en.eligibility(ds, sample, year=YEAR, resolver=resolver)
    t_mine = (time.perf_counter() - t) / len(sample)
    # compare where only the 三对口 test decides (not age, disability, special groups, migrants)
    # and where all three homes are given as codes (the peer does not match address text)
    coded = sample.set_index("applicant_id")[["hukou_unit_code", "property_unit_code",
                                               "residence_unit_code"]].notna().all(axis=1)
    plain = mine.index[mine["rule"].isin(["sandukou", "not_sandukou"]).to_numpy()
                       & coded.reindex(mine.index).to_numpy()]
    same = peer[plain] == (mine.loc[plain, "rule"] == "sandukou")
    full_eligibility = res.timings["eligibility"] / len(apps)
    print(f"\neligibility, per applicant: vectorised {t_mine * 1e6:.0f} µs on 1,000 "
          f"({full_eligibility * 1e6:.0f} µs at {len(apps):,}); row by row {t_peer * 1e6:.0f} µs")
    print(f"  row by row for {len(apps):,} applicants would take ~{t_peer * len(apps):.0f} s; "
          f"ratio {t_peer / full_eligibility:.0f}x")
    print(f"  same 三对口 decisions on the {len(same)} applicants the 三对口 test decides: "
          f"{bool(same.all())} ({int(same.sum())} agree)")

    print(f"\nseason / target: {season / TARGET_S:.3f}")


if __name__ == "__main__":
    main()
