"""Benchmark zoning.address on the real-sized demo district, against a naive peer in the same run.

Builds the demo (seed 7, 200,000 addresses), indexes it, and matches 20,000 noisy variants of
table addresses (``zoning.address.noisy_addresses``: full-width digits, missing 重庆市/区, 幢 for
栋, 二单元, 15楼3号, 附号 forms, spaces, a wrong or missing estate name, …) with
``AddressIndex.match_many``. Reports build time, addresses/s, exact/fuzzy/partial/none rates,
the correct rate and the number of wrong accepted answers.

Peer: the naive approach — ``rapidfuzz.process.extractOne`` of each query over the whole list of
200,000 address strings (scorer ``fuzz.ratio``, the fastest; no normalisation, no blocking).
Timed on 200 queries and scaled; its correct rate and wrong answers on those 200 are printed
too, because a naive matcher always answers.

Run with ``python benchmarks/bench_address.py``. Prints; never asserts on timing; exits 0.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np
import pandas as pd
import rapidfuzz
from rapidfuzz import fuzz, process

from zoning.address import AddressIndex, noisy_addresses
from zoning.demo import build_demo

N_QUERIES = 20_000
N_PEER = 200
SEED = 7
TARGET_RATE = 5_000.0  # addresses per second
TARGET_CORRECT = 0.98


def main() -> int:
    t0 = time.perf_counter()
    addresses = build_demo(seed=SEED).addresses
    t_demo = time.perf_counter() - t0

    t0 = time.perf_counter()
    index = AddressIndex.from_frame(addresses)
    t_build = time.perf_counter() - t0

    noisy = noisy_addresses(addresses, n=N_QUERIES, seed=SEED)
    t0 = time.perf_counter()
    out = index.match_many(noisy["text"])
    t_match = time.perf_counter() - t0
    rate = len(noisy) / t_match

    truth = noisy["address_id"].to_numpy()
    got = out["address_id"].to_numpy()
    accepted = out["method"].isin(["exact", "fuzzy"]).to_numpy()
    right = accepted & (got == truth)
    wrong = accepted & (got != truth)
    methods = out["method"].value_counts(normalize=True)
    # a partial answer is right when it names the truth's parcel
    partial = out["method"].to_numpy() == "partial"
    parcel_truth = addresses["parcel_id"].reindex(truth).to_numpy()
    partial_right = partial & (out["parcel_id"].to_numpy() == parcel_truth)

    # the peer: extractOne over every address string, on a subset, scaled
    choices = addresses["address"].tolist()
    ids = addresses.index.to_numpy()
    peer_q = noisy.iloc[:N_PEER]
    process.extractOne(peer_q["text"].iat[0], choices[:1000], scorer=fuzz.ratio)  # warm-up
    t0 = time.perf_counter()
    peer_hits = [process.extractOne(q, choices, scorer=fuzz.ratio) for q in peer_q["text"]]
    t_peer = time.perf_counter() - t0
    peer_rate = N_PEER / t_peer
    peer_ids = np.array([ids[h[2]] for h in peer_hits], dtype=object)
    peer_right = float(np.mean(peer_ids == peer_q["address_id"].to_numpy()))
    peer_wrong = int(np.sum(peer_ids != peer_q["address_id"].to_numpy()))
    ours_sub_right = float(np.mean(right[:N_PEER]))

    print(f"zoning.address benchmark: demo district seed {SEED}, {len(addresses):,} addresses, "
          f"{N_QUERIES:,} noisy queries")
    print(f"Python {platform.python_version()}, pandas {pd.__version__}, NumPy {np.__version__}, "
          f"rapidfuzz {rapidfuzz.__version__}, {platform.machine()}, {os.cpu_count()} CPUs")
    print()
    print(f"demo build                 {t_demo:8.1f} s")
    print(f"index build (from_frame)   {t_build:8.1f} s   {index!r}")
    print(f"match_many                 {t_match:8.2f} s   {rate:,.0f} addresses/s "
          f"(target >= {TARGET_RATE:,.0f}: {'yes' if rate >= TARGET_RATE else 'NO'})")
    print()
    print("method      share")
    for m in ("exact", "fuzzy", "partial", "none"):
        print(f"{m:<10} {methods.get(m, 0.0):6.2%}")
    print()
    print(f"correct (exact or fuzzy, right address)  {right.mean():7.2%}   "
          f"(target >= {TARGET_CORRECT:.0%}: {'yes' if right.mean() >= TARGET_CORRECT else 'NO'})")
    print(f"wrong accepted answers                   {int(wrong.sum()):7d}   (target 0)")
    print(f"partial answers on the right parcel      {int(partial_right.sum()):7d} "
          f"of {int(partial.sum())}")
    print(f"refused (none)                           {int((out['method'] == 'none').sum()):7d}")
    print()
    header = f"{'matcher':<44} {'addresses/s':>12} {'correct':>8} {'wrong':>6}"
    print(f"peer on the first {N_PEER} queries, same run")
    print(header)
    print("-" * len(header))
    print(f"{'AddressIndex.match_many (all 20,000)':<44} {rate:>12,.0f} {right.mean():>8.2%} "
          f"{int(wrong.sum()):>6d}")
    print(f"{'AddressIndex.match_many (first 200)':<44} {'':>12} {ours_sub_right:>8.2%} "
          f"{int(wrong[:N_PEER].sum()):>6d}")
    print(f"{'rapidfuzz extractOne over all, fuzz.ratio':<44} {peer_rate:>12,.1f} "
          f"{peer_right:>8.2%} {peer_wrong:>6d}")
    print(f"speed ratio (ours / peer): {rate / peer_rate:,.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
