"""City-wide batch: the partitioned path (zoning.scale, dask) against the in-memory path, same run.

Run: .venv/bin/python benchmarks/bench_scale.py [--rows 10000000 50000000] [--data data/demo.gpkg]
     [--file-rows 500000] [--memory-budget-gb 12] [--workdir DIR] [--keep] [--max-minutes 50]

1. **Input**: ``max(--rows)`` rows written as Parquet files of ``--file-rows`` rows (one dask
   partition each); the smaller sizes are the first files of the same input. Each row carries one
   key, as a city-wide batch mixes its sources: 45 % lon/lat in WGS-84 (geocoded homes, jittered
   ~15 m around an address; 3 % anywhere within 10 km of the district, many outside it), 45 %
   不动产单元号 (the 不动产登记 registry; 2 % the bare 19-character 宗地代码, 3 % another
   county's code, 1 % mistyped), 10 % address text (paper forms: 55 % as stored, 40 % typed
   loosely — no 重庆市渝北区 or no 街道, full-width digits, 3楼2号 for 3-2 — which normalise to
   the stored text, 5 % a room or road that does not exist, matched the slow way and refused).
   Plus a ``record_id``. Rows are drawn from the demo district (``data/demo.gpkg``, built with
   ``zoning demo --seed 7`` when missing): a store is one district and a Resolver serves one
   store, so a city-wide run is 41 such runs or one run against a city store. Replicating the
   demo 41 times would not change the per-row work (point-in-zone, unit-code parsing, parcel and
   address look-ups are per row; the Locator's cost grows only with the log of the zone count,
   see bench_lookup.py's 3,000-zone city) but would multiply each worker's resolver by 41, which
   this machine (2 cores, 24 GiB shared) cannot hold twice; so the rows repeat the demo's
   200,000 addresses. Only the 5 % of address rows that do not exist are (nearly) unique, so
   the in-memory path's one pass over all texts saves little against per-partition matching.
2. **In memory**: one process reads every file into one frame (``pandas.read_parquet``), builds
   one Resolver, assigns the whole frame once (``zoning.scale.assign_mixed``, i.e.
   ``Resolver.assign_frame`` per kind of key) and writes one Parquet file.
3. **Partitioned**: ``zoning.scale.assign_partitioned`` with the processes scheduler (one resolver
   per worker, built in the pool's initializer), and at the smallest size also with the threads
   scheduler (one shared resolver) to choose between them by measurement.

Each run is a child process; this process samples the RSS of the child and all its descendants
every 50 ms (peak of the sum; shared library pages count once per process). The in-memory child
is killed when that sum passes ``--memory-budget-gb`` (other agents share the machine); then the
largest input the 10 M run's bytes per row predict to fit is measured instead. Other agents
share the 2 cores: for each run the cores it kept busy and the CPU the rest of the machine used
meanwhile ("others", in cores) are printed, to read its rate against. Rates count the
child's work from loading the district to the last byte written. Answers of the two paths are
compared row by row (a digest of method, parcel, reason and zone columns in input order).

Timings never fail anything; this only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parent.parent
W = 104
COMPARED = ["method", "parcel_id", "reason", "primary_zone_id", "junior_zone_id"]


# ------------------------------------------------------------------------------------ input
def _variants(text: pd.Series, rng) -> pd.Series:
    """Addresses as people type them: forms that normalise to the stored text."""
    pick = rng.integers(0, 4, len(text))
    out = text.copy()
    m = pick == 0
    out[m] = text[m].str.replace("重庆市渝北区", "", regex=False)
    m = pick == 1
    out[m] = text[m].str.replace(r"^(重庆市渝北区)\w+?街道", r"\1", regex=True)
    m = pick == 2
    out[m] = text[m].str.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    m = pick == 3
    out[m] = text[m].str.replace(r"(\d+)-(\d+)$", r"\1楼\2号", regex=True)
    return out


def _unknown(text: pd.Series, rng) -> pd.Series:
    """Addresses that do not exist: a room number past the building's, or a road not there."""
    bump = pd.Series(rng.integers(40, 90, len(text)).astype(str), index=text.index)
    room = text.str.replace(r"-(\d+)$", "-", regex=True)
    has_room = text.str.contains(r"-\d+$", regex=True)
    out = (room + bump).where(has_room, text.str.replace(r"街道(\w+?)路", "街道云汉路", regex=True))
    return out.where(rng.random(len(text)) < 0.5,
                     text.str.replace(r"街道(\w+?)[路街道]", "街道金星路", regex=True))


def make_file(ds, n: int, seed: int, start_id: int) -> pd.DataFrame:
    """``n`` input rows, one key each (see the module docstring for the mix)."""
    from zoning.crs import from_working

    rng = np.random.default_rng(seed)
    a = ds.addresses
    kind = rng.choice(3, n, p=[0.45, 0.45, 0.10])
    idx = rng.integers(0, len(a), n)
    ax, ay = a.geometry.x.to_numpy(), a.geometry.y.to_numpy()

    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    pts = np.flatnonzero(kind == 0)
    x = ax[idx[pts]] + rng.normal(0, 15, len(pts))
    y = ay[idx[pts]] + rng.normal(0, 15, len(pts))
    far = rng.random(len(pts)) < 0.03
    x0, y0, x1, y1 = a.total_bounds
    x[far] = rng.uniform(x0 - 10_000, x1 + 10_000, far.sum())
    y[far] = rng.uniform(y0 - 10_000, y1 + 10_000, far.sum())
    lon[pts], lat[pts] = from_working(x, y, target="wgs84")

    code = np.full(n, None, dtype=object)
    cds = np.flatnonzero(kind == 1)
    units = a["unit_code"].to_numpy()[idx[cds]].astype(object)
    r = rng.random(len(cds))
    parcel = r < 0.02
    units[parcel] = a["parcel_id"].to_numpy()[idx[cds][parcel]]
    other = (r >= 0.02) & (r < 0.05)
    units[other] = ["500105" + u[6:] for u in units[other]]
    typo = (r >= 0.05) & (r < 0.06)
    units[typo] = [u[:13] + "X" + u[14:] if i % 2 else u[:-1] for i, u in enumerate(units[typo])]
    code[cds] = units

    addr = np.full(n, None, dtype=object)
    ads = np.flatnonzero(kind == 2)
    text = pd.Series(a["address"].to_numpy()[idx[ads]], dtype=object)
    r = rng.random(len(ads))
    loose = (r >= 0.55) & (r < 0.95)
    bad = r >= 0.95
    text[loose] = _variants(text[loose], rng)
    text[bad] = _unknown(text[bad], rng)
    addr[ads] = text.to_numpy()

    return pd.DataFrame({
        "record_id": np.arange(start_id, start_id + n, dtype=np.int64),
        "address": pd.Series(addr, dtype=object), "unit_code": pd.Series(code, dtype=object),
        "lon": lon, "lat": lat,
    })


def make_input(data: Path, folder: Path, total: int, file_rows: int) -> list[Path]:
    """Parquet files of ``file_rows`` rows adding up to ``total``; reused when already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zoning.store import open_store

    folder.mkdir(parents=True, exist_ok=True)
    n_files = -(-total // file_rows)
    files = [folder / f"homes-{i:05d}.parquet" for i in range(n_files)]
    todo = [i for i, f in enumerate(files) if not f.exists()]
    if todo:
        ds = open_store(data).load()
        t0 = time.perf_counter()
        for k, i in enumerate(todo):
            n = min(file_rows, total - i * file_rows)
            frame = make_file(ds, n, seed=1000 + i, start_id=i * file_rows)
            tmp = files[i].with_suffix(".tmp")
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
            os.replace(tmp, files[i])
            if k % 10 == 9 or k == len(todo) - 1:
                print(f"  input: {k + 1}/{len(todo)} files written "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return files


def input_dir(workdir: Path, files: list[Path], rows: int, file_rows: int) -> Path:
    """A directory holding (hard links to) the first files that make ``rows`` rows."""
    d = workdir / f"in-{rows}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir()
    for f in files[: -(-rows // file_rows)]:
        os.link(f, d / f.name)
    return d


# ------------------------------------------------------------------------------------ children
def child_in_memory(args) -> dict:
    from zoning.lookup import Resolver
    from zoning.scale import _write_parquet, assign_mixed, merge_result
    from zoning.store import open_store

    t0 = time.perf_counter()
    resolver = Resolver(open_store(args.data).load())
    t1 = time.perf_counter()
    frame = pd.read_parquet(args.input)
    t2 = time.perf_counter()
    result = assign_mixed(resolver, frame)
    t3 = time.perf_counter()
    _write_parquet(merge_result(frame, result), Path(args.out))
    t4 = time.perf_counter()
    return {"rows": len(frame), "placed": int(result["reason"].isna().sum()),
            "seconds": t4 - t0, "phases": {"load": t1 - t0, "read": t2 - t1, "assign": t3 - t2,
                                           "write": t4 - t3}}


def child_partitioned(args) -> dict:
    from zoning.scale import assign_partitioned

    s = assign_partitioned(args.input, args.out, data=args.data, scheduler=args.scheduler,
                           workers=args.workers)
    return {"rows": s.rows, "placed": s.placed, "seconds": s.seconds,
            "partitions": s.partitions, "workers": s.workers}


# ------------------------------------------------------------------------------------ parent
def run_child(argv: list[str], budget: float | None, timeout: float) -> dict:
    """Run a child, sampling the RSS of its process tree; kill it past ``budget`` bytes."""
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = _busy()
    proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE,
                            text=True)
    top = psutil.Process(proc.pid)
    peak = peak_main = 0
    killed = None
    while proc.poll() is None:
        try:
            procs = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        total = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            total += rss
            if p.pid == proc.pid:
                peak_main = max(peak_main, rss)
        peak = max(peak, total)
        elapsed = time.perf_counter() - t0
        if budget is not None and total > budget:
            killed = f"passed the {budget / 2**30:.0f} GiB budget after {elapsed:.0f} s"
        elif elapsed > timeout:
            killed = f"still running after {timeout / 60:.0f} min"
        if killed:
            for p in reversed(procs):
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            break
        time.sleep(0.05)
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU the rest of the machine used meanwhile (other agents share the 2 cores): all busy CPU
    # time less this run's (its processes are reaped, so RUSAGE_CHILDREN holds all of it)
    ours = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    others = max(_busy() - busy0 - ours, 0.0) / wall
    seen = {"peak": peak, "peak_main": peak_main, "wall": wall, "cpu": ours / wall,
            "others": others}
    if killed:
        return {"killed": killed, **seen}
    if proc.returncode != 0:
        return {"killed": f"failed with exit code {proc.returncode}", **seen}
    res = json.loads(out.strip().splitlines()[-1])
    res.update(seen)
    return res


def _busy() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs, not idle or waiting)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def digest(path: Path) -> str:
    """SHA-256 over the compared columns' row hashes, in input order, file by file."""
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted(path.glob("part.*.parquet"))
    h = hashlib.sha256()
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=1_000_000, columns=COMPARED):
            frame = batch.to_pandas()
            frame = frame.astype(object).where(frame.notna(), "")
            h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def gib(b: float) -> str:
    return f"{b / 2**30:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000_000, 50_000_000])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "demo.gpkg")
    ap.add_argument("--file-rows", type=int, default=500_000)
    ap.add_argument("--memory-budget-gb", type=float, default=12.0)
    ap.add_argument("--workdir", type=Path,
                    default=Path(tempfile.gettempdir()) / "zoning-bench-scale")
    ap.add_argument("--keep", action="store_true", help="keep the generated input and outputs")
    ap.add_argument("--max-minutes", type=float, default=50.0,
                    help="skip runs that would start after this")
    ap.add_argument("--workers", type=int, default=None)
    # a child run (used by this script itself)
    ap.add_argument("--child", choices=["in-memory", "partitioned"])
    ap.add_argument("--input")
    ap.add_argument("--out")
    ap.add_argument("--scheduler", default="processes")
    args = ap.parse_args()
    if args.child:
        res = (child_in_memory if args.child == "in-memory" else child_partitioned)(args)
        print(json.dumps(res))
        return

    t_start = time.perf_counter()
    deadline = t_start + 60 * args.max_minutes
    if not args.data.exists():
        subprocess.run([str(Path(sys.executable).with_name("zoning")), "demo", "--out",
                        str(args.data), "--seed", "7"], check=True)
    sizes = sorted(set(args.rows))
    budget = args.memory_budget_gb * 2**30
    print(f"{platform.machine()}, {psutil.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM "
          f"({psutil.virtual_memory().available / 2**30:.0f} GiB available); "
          f"store {args.data}; in-memory budget {args.memory_budget_gb:g} GiB")
    print("=" * W)
    t = time.perf_counter()
    files = make_input(args.data, args.workdir / "input", sizes[-1], args.file_rows)
    size_on_disk = sum(f.stat().st_size for f in files)
    print(f"input: {sizes[-1]:,} rows in {len(files)} Parquet files, "
          f"{size_on_disk / 2**30:.2f} GiB on disk ({time.perf_counter() - t:.0f} s)")

    rows_out = []
    bytes_per_row = None

    def run(label, size, argv, budget_=None):
        if time.perf_counter() > deadline:
            print(f"  {label} at {size:,}: skipped (past --max-minutes)")
            return None
        left = deadline - time.perf_counter()
        res = run_child(argv, budget_, timeout=max(left, 60))
        res.update(label=label, size=size)
        rows_out.append(res)
        if "killed" in res:
            print(f"  {label:<24} {size:>12,} rows: {res['killed']}; peak RSS "
                  f"{gib(res['peak'])} GiB", flush=True)
        else:
            print(f"  {label:<24} {size:>12,} rows: {res['seconds']:7.1f} s, "
                  f"{res['rows'] / res['seconds']:>10,.0f} rows/s, peak RSS "
                  f"{gib(res['peak'])} GiB (main process {gib(res['peak_main'])}), "
                  f"{res['cpu']:.1f} cores busy, others {res['others']:.1f}"
                  + (f"; phases {', '.join(f'{k} {v:.0f} s' for k, v in res['phases'].items())}"
                     if "phases" in res else ""), flush=True)
        return res

    for size in sizes:
        d = input_dir(args.workdir, files, size, args.file_rows)
        mem_out = args.workdir / f"out-mem-{size}.parquet"
        part_out = args.workdir / f"out-part-{size}"
        print(f"{size:,} rows:")
        common = ["--data", str(args.data), "--input", str(d)]
        part = run("partitioned, processes", size,
                   ["--child", "partitioned", *common, "--out", str(part_out)]
                   + (["--workers", str(args.workers)] if args.workers else []))
        if size == sizes[0]:
            run("partitioned, threads", size,
                ["--child", "partitioned", *common, "--out", str(args.workdir / "out-threads"),
                 "--scheduler", "threads"]
                + (["--workers", str(args.workers)] if args.workers else []))
        mem = run("in memory", size, ["--child", "in-memory", *common, "--out", str(mem_out)],
                  budget)
        if mem and "killed" not in mem and bytes_per_row is None:
            bytes_per_row = mem["peak"] / size
        if mem and "killed" in mem and bytes_per_row:
            fit = int(0.85 * budget / bytes_per_row) // args.file_rows * args.file_rows
            if sizes[0] < fit < size:
                print(f"  the {sizes[0]:,}-row run's {bytes_per_row:,.0f} bytes/row predict "
                      f"{fit:,} rows fit the budget:")
                d2 = input_dir(args.workdir, files, fit, args.file_rows)
                run("in memory (fits)", fit, ["--child", "in-memory", "--data", str(args.data),
                                              "--input", str(d2), "--out", str(mem_out)], budget)
                shutil.rmtree(d2, ignore_errors=True)
        if part and mem and "killed" not in part and "killed" not in mem:
            t = time.perf_counter()
            same = digest(mem_out) == digest(part_out)
            print(f"  same answers, row by row: {'yes' if same else 'NO'} "
                  f"({time.perf_counter() - t:.0f} s to compare)")
            print(f"  partitioned / in memory: {mem['seconds'] / part['seconds']:.2f}× the "
                  f"throughput, {part['peak'] / mem['peak']:.2f}× the peak RSS")
        mem_out.unlink(missing_ok=True)
        if not args.keep:
            shutil.rmtree(part_out, ignore_errors=True)
            shutil.rmtree(args.workdir / "out-threads", ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)

    print("=" * W)
    print(f"{'run':<24} {'rows':>12} {'seconds':>9} {'rows/s':>12} {'peak RSS GiB':>13} "
          f"{'cores':>6} {'others':>6}  note")
    for r in rows_out:
        if "killed" in r:
            print(f"{r['label']:<24} {r['size']:>12,} {'-':>9} {'-':>12} {gib(r['peak']):>13} "
                  f"{r['cpu']:>6.1f} {r['others']:>6.1f}  {r['killed']}")
        else:
            print(f"{r['label']:<24} {r['rows']:>12,} {r['seconds']:>9.1f} "
                  f"{r['rows'] / r['seconds']:>12,.0f} {gib(r['peak']):>13} "
                  f"{r['cpu']:>6.1f} {r['others']:>6.1f}  placed {r['placed'] / r['rows']:.1%}")
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    print(f"whole benchmark: {(time.perf_counter() - t_start) / 60:.1f} min")


if __name__ == "__main__":
    main()
