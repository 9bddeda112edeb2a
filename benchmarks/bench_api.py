"""HTTP lookup service under load on loopback, against in-process lookups measured in the same run.

Run: .venv/bin/python benchmarks/bench_api.py [--data data/demo.gpkg] [--workers 2]
     [--duration 15] [--rate 1000] [--rate-duration 15] [--concurrency 32] [--pool 50000]

1. **Peer, in process**: ``zoning.lookup.lookup(dataset, ...)`` called once per query, one at a
   time, on one core, for the same query mix (no HTTP, no JSON): lookups/s, p50, p99.
2. **Service**: ``zoning serve`` (uvicorn, ``--workers`` processes) is started on 127.0.0.1 on a
   free port with the full demo district, and a load generator in this process (raw asyncio
   HTTP/1.1 keep-alive connections; no locust or wrk on these machines) sends ``GET /lookup``:

   a. *saturation*, closed loop: ``--concurrency`` connections, each sending its next request as
      soon as the answer arrives, for ``--duration`` seconds: the most lookups/s the service
      gives, with p50/p99 latency at that load;
   b. *fixed rate*, open loop: ``--rate`` requests/s scheduled on a clock for ``--rate-duration``
      seconds; a request's latency counts from its scheduled time, so a stalled server cannot
      hide its queue (no coordinated omission). This is the issue's target: ≥ 1,000 lookups/s
      with p99 ≤ 20 ms.

   RSS of the server processes is sampled at start, every two seconds and at the end.

The query mix is drawn from ``--pool`` distinct queries: 50 % address text as stored, 10 % the
same typed loosely (no 重庆市, 幢 for 栋), 20 % 不动产单元号, 20 % points in GCJ-02 (as Amap gives
them). Queries repeat only by chance, so the service's LRU cache helps little; its hit rate is
printed. The load generator shares the machine's cores with the service: its CPU time is printed.

Timings never fail anything; this only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import psutil

from zoning.crs import from_working
from zoning.lookup import lookup
from zoning.store import GeoPackageStore

ROOT = Path(__file__).resolve().parent.parent
W = 100


# ------------------------------------------------------------------------------------ queries
def make_queries(ds, n: int, seed: int = 5) -> list[tuple[str, dict]]:
    """``n`` distinct-ish queries: ``(kind, params)`` with params as for ``GET /lookup``."""
    rng = np.random.default_rng(seed)
    a = ds.addresses
    rows = rng.choice(len(a), size=min(n, len(a)), replace=False)
    kinds = rng.choice(4, size=len(rows), p=[0.5, 0.1, 0.2, 0.2])
    px = a.geometry.x.to_numpy()[rows] + rng.normal(0, 5, len(rows))
    py = a.geometry.y.to_numpy()[rows] + rng.normal(0, 5, len(rows))
    lon, lat = (np.asarray(v) for v in from_working(px, py, target="gcj02"))
    text = a["address"].to_numpy()[rows]
    codes = a["unit_code"].to_numpy()[rows]
    out = []
    for i, k in enumerate(kinds):
        if k == 0:
            out.append(("address", {"address": str(text[i])}))
        elif k == 1:
            loose = str(text[i]).removeprefix("重庆市").replace("栋", "幢")
            out.append(("address", {"address": loose}))
        elif k == 2:
            out.append(("parcel", {"parcel": str(codes[i])}))
        else:
            out.append(("point", {"lon": round(float(lon[i]), 6), "lat": round(float(lat[i]), 6),
                                  "coords": "gcj02"}))
    return out


def request_bytes(params: dict) -> bytes:
    q = urllib.parse.urlencode(params)
    return f"GET /lookup?{q} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


# ------------------------------------------------------------------------------------ the peer
def peer_in_process(ds, queries, seconds: float = 8.0):
    """Per-query ``zoning.lookup.lookup`` on one core: (rate, latencies in s, answers)."""
    for kind, p in queries[:50]:  # build the resolver (address index etc.) outside the timing
        _lookup(ds, kind, p)
    lat, answers = [], {}
    t_end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() < t_end and i < len(queries):
        kind, p = queries[i]
        t = time.perf_counter()
        res = _lookup(ds, kind, p)
        lat.append(time.perf_counter() - t)
        if i < 500:
            answers[i] = res.levels["primary"].zone_id if "primary" in res.levels else None
        i += 1
    wall = time.perf_counter() - t0
    return i / wall, np.array(lat), answers


def _lookup(ds, kind, p):
    if kind == "address":
        return lookup(ds, address=p["address"])
    if kind == "parcel":
        return lookup(ds, parcel=p["parcel"])
    return lookup(ds, lonlat=(p["lon"], p["lat"]), coords=p["coords"])


# ------------------------------------------------------------------------------------ client
class _Conn:
    """One keep-alive HTTP/1.1 connection: send a request, read one Content-Length response."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(r, w)

    async def get(self, req: bytes) -> tuple[int, bytes]:
        self.writer.write(req)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        body = await self.reader.readexactly(length)
        return status, body

    def close(self):
        self.writer.close()


async def open_conns(port, n, gap=0.01):
    """``n`` connections opened one by one, ``gap`` seconds apart.

    uvicorn's workers share one listening socket, and a worker woken by a burst of connections
    accepts every one that is waiting: opened all at once, they would all land on one worker.
    Parents' browsers connect over time, not in one burst.
    """
    conns = []
    for _ in range(n):
        conns.append(await _Conn.open(port))
        await asyncio.sleep(gap)
    return conns


async def closed_loop(port, reqs, concurrency, seconds):
    """``concurrency`` connections back to back for ``seconds``: (n, wall, latencies, errors)."""
    conns = await open_conns(port, concurrency)
    lat, errors = [], {}
    stop = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker(c):
        while time.perf_counter() < stop:
            req = reqs[next(counter) % len(reqs)]
            t = time.perf_counter()
            try:
                status, _ = await c.get(req)
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    return len(lat), wall, np.array(lat), errors


async def open_loop(port, reqs, rate, seconds, connections=64):
    """``rate`` requests/s on a clock for ``seconds``; latency from each scheduled time."""
    conns = await open_conns(port, connections)
    queue: asyncio.Queue = asyncio.Queue()
    lat, done, errors = [], [], {}
    n_total = int(rate * seconds)

    async def producer():
        t0 = time.perf_counter()
        for i in range(n_total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            queue.put_nowait((due, reqs[i % len(reqs)]))
        for _ in conns:
            queue.put_nowait(None)

    async def worker(c):
        while True:
            item = await queue.get()
            if item is None:
                return
            due, req = item
            try:
                status, _ = await c.get(req)
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            done.append(time.perf_counter())
            lat.append(done[-1] - due)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(producer(), *(worker(c) for c in conns))
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    return len(lat), wall, np.array(lat), errors, np.array(done) - t0


def windows(lat, done, width=1.0, limit=0.020) -> str:
    """Per-``width``-second p99 of the fixed-rate phase: is a bad p99 steady or a few stalls?"""
    if not len(lat):
        return ""
    idx = (done // width).astype(int)
    p99 = np.array([np.percentile(lat[idx == i], 99) for i in np.unique(idx)])
    bad = int((p99 > limit).sum())
    return (f"{'':<36}per {width:g}-s window p99: median {np.median(p99) * 1e3:.1f} ms, worst "
            f"{p99.max() * 1e3:.1f} ms; {bad} of {len(p99)} windows above {limit * 1e3:.0f} ms")


# ------------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path) -> tuple[int, bytes]:
    async def once():
        c = await _Conn.open(port)
        try:
            return await c.get(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        finally:
            c.close()

    return asyncio.run(once())


def start_server(data: Path, port: int, workers: int, cache: int, timeout: float = 180.0):
    # one loopback client sends every request: the per-client rate limit is turned off
    cmd = [sys.executable, "-m", "zoning.cli", "serve", "--data", str(data), "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(workers), "--cache", str(cache),
           "--rate-limit", "0"]
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_api_{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    t0 = time.perf_counter()
    pids = set()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"zoning serve exited with {proc.returncode}; see {log.name}")
        try:
            status, body = http_get(port, "/health")
            if status == 200:
                pids.add(json.loads(body)["worker_pid"])
                if len(pids) >= workers:
                    return proc, time.perf_counter() - t0, log.name
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"zoning serve did not become ready in {timeout:.0f} s; see {log.name}")


def server_rss(proc) -> tuple[float, list[float]]:
    """Total and per-process RSS (MB) of the server: its parent and worker processes."""
    p = psutil.Process(proc.pid)
    procs = [p, *p.children(recursive=True)]
    rss = []
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            rss.append(q.memory_info().rss / 2**20)
    return sum(rss), rss


def server_cpu(proc) -> dict[int, float]:
    """CPU seconds so far of each server process, by pid."""
    p = psutil.Process(proc.pid)
    out = {}
    for q in [p, *p.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = q.cpu_times()
            out[q.pid] = t.user + t.system
    return out


def cpu_line(before: dict, after: dict, me: float, wall: float) -> str:
    """Cores used by the server (total and per busy process) and by the load generator."""
    used = {pid: (after[pid] - before.get(pid, 0.0)) / wall for pid in after}
    busy = sorted((u for u in used.values() if u > 0.02), reverse=True)
    return (f"{'':<36}CPU: server {sum(used.values()):.2f} cores "
            f"(per worker {' / '.join(f'{u:.2f}' for u in busy)}), load generator "
            f"{me / wall:.2f} cores")


class RssSampler(threading.Thread):
    """Sample the server's total RSS every ``every`` seconds until stopped."""

    def __init__(self, proc, every=2.0):
        super().__init__(daemon=True)
        self.proc, self.every, self.samples = proc, every, []
        self._stop_evt = threading.Event()

    def run(self):
        while not self._stop_evt.wait(self.every):
            self.samples.append(server_rss(self.proc)[0])

    def stop(self):
        self._stop_evt.set()
        self.join()


def cache_stats(port, workers) -> dict:
    """Sum the lookup-cache counters of every worker (each /health reaches one worker)."""
    seen = {}
    for _ in range(50 * workers):
        status, body = http_get(port, "/health")
        if status == 200:
            h = json.loads(body)
            seen[h["worker_pid"]] = h["cache"]
        if len(seen) >= workers:
            break
    hits = sum(c["hits"] for c in seen.values())
    misses = sum(c["misses"] for c in seen.values())
    return {"workers_seen": len(seen), "hits": hits, "misses": misses}


def ms(x) -> str:
    return f"{x * 1e3:7.2f} ms"


def report(name, n, wall, lat, errors):
    rate = n / wall if wall else float("nan")
    p50, p99 = (np.percentile(lat, [50, 99]) if len(lat) else (float("nan"),) * 2)
    err = sum(errors.values())
    print(f"{name:<36}{n:>9,} req {wall:6.1f} s {rate:9,.0f} /s   p50 {ms(p50)}  p99 {ms(p99)}  "
          f"max {ms(lat.max() if len(lat) else float('nan'))}  errors {err}"
          + (f" {errors}" if err else ""))
    return rate, p50, p99, err


# ------------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "demo.gpkg")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=int, default=4096, help="lookup cache per worker")
    ap.add_argument("--duration", type=float, default=15.0, help="saturation phase, seconds")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rate", type=float, default=1000.0, help="fixed-rate phase, requests/s")
    ap.add_argument("--rate-duration", type=float, default=15.0, help="fixed-rate phase, s")
    ap.add_argument("--pool", type=int, default=50_000, help="distinct queries")
    ap.add_argument("--peer-seconds", type=float, default=8.0)
    args = ap.parse_args()

    if not args.data.exists():
        print(f"{args.data} is missing: building it as `make demo` does (seed 7) ...")
        subprocess.run([sys.executable, "-m", "zoning.cli", "demo", "--out", str(args.data),
                        "--seed", "7"], check=True, cwd=ROOT)

    print("=" * W)
    print(f"HTTP lookup service — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    print("=" * W)
    t = time.perf_counter()
    ds = GeoPackageStore(args.data).load()
    print(f"data: {args.data.name}: {len(ds.schools)} schools, {len(ds.zones)} zones, "
          f"{len(ds.parcels):,} parcels, {len(ds.addresses):,} addresses "
          f"(loaded in {time.perf_counter() - t:.1f} s)")
    queries = make_queries(ds, args.pool)
    reqs = [request_bytes(p) for _, p in queries]
    kinds = {k: sum(1 for q, _ in queries if q == k) for k in ("address", "parcel", "point")}
    print(f"queries: {len(queries):,} distinct ({', '.join(f'{k} {v:,}' for k, v in kinds.items())})")

    # 1. the peer, in process, before the server exists (nothing else on the cores)
    print("-" * W)
    rate_peer, lat_peer, answers = peer_in_process(ds, queries, args.peer_seconds)
    p50, p99 = np.percentile(lat_peer, [50, 99])
    print(f"{'in-process zoning.lookup.lookup()':<36}{len(lat_peer):>9,} q   1 core "
          f"{rate_peer:9,.0f} /s   p50 {ms(p50)}  p99 {ms(p99)}")

    # 2. the service; the load generator drops the district first and freezes what is left, so
    # that its own garbage collections do not stall the clock it measures with
    del ds
    gc.collect()
    gc.freeze()
    port = free_port()
    proc, ready, logname = start_server(args.data, port, args.workers, args.cache)
    try:
        rss0, per0 = server_rss(proc)
        print(f"zoning serve: {args.workers} worker(s) on 127.0.0.1:{port}, ready in {ready:.1f} s; "
              f"RSS {rss0:,.0f} MB ({' + '.join(f'{r:.0f}' for r in per0)})")
        # same answers as in process, on the first queries
        mismatched = 0
        for i, zone in list(answers.items())[:200]:
            status, body = http_get(port, reqs[i].split(b" ")[1].decode())
            got = json.loads(body)["levels"].get("primary", {}).get("zone_id")
            mismatched += status != 200 or got != zone
        print(f"answers checked against in-process lookup: 200, mismatches {mismatched}")

        sampler = RssSampler(proc)
        sampler.start()
        cpu_srv0, cpu_me0 = server_cpu(proc), time.process_time()
        run = asyncio.run
        try:
            import uvloop

            run = uvloop.run
        except ImportError:
            pass
        n, wall, lat, err = run(closed_loop(port, reqs, args.concurrency, args.duration))
        cpu_srv1, cpu_me1 = server_cpu(proc), time.process_time()
        print("-" * W)
        sat = report(f"saturation ({args.concurrency} connections)", n, wall, lat, err)
        print(cpu_line(cpu_srv0, cpu_srv1, cpu_me1 - cpu_me0, wall))
        n, wall, lat, err, done = run(open_loop(port, reqs[::-1], args.rate, args.rate_duration))
        cpu_srv2, cpu_me2 = server_cpu(proc), time.process_time()
        fixed = report(f"fixed rate {args.rate:,.0f}/s (open loop)", n, wall, lat, err)
        print(windows(lat, done))
        print(cpu_line(cpu_srv1, cpu_srv2, cpu_me2 - cpu_me1, wall))
        sampler.stop()
        rss1, per1 = server_rss(proc)
        cache = cache_stats(port, args.workers)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("-" * W)
    samples = sampler.samples or [rss1]
    print(f"server RSS: start {rss0:,.0f} MB, end {rss1:,.0f} MB "
          f"({' + '.join(f'{r:.0f}' for r in per1)}); during load min {min(samples):,.0f}, "
          f"max {max(samples):,.0f} MB over {len(samples)} samples")
    total = cache["hits"] + cache["misses"]
    print(f"lookup cache ({cache['workers_seen']} workers): {cache['hits']:,} hits of {total:,} "
          f"({cache['hits'] / total if total else 0:.1%})")
    print("-" * W)
    print(f"service / in-process (lookups/s, saturation): {sat[0] / rate_peer:.2f}×   "
          f"[{args.workers} workers over HTTP vs 1 core in process]")
    print(f"target ≥ 1,000 lookups/s with p99 ≤ 20 ms: saturation {sat[0]:,.0f}/s; at "
          f"{args.rate:,.0f}/s p99 {fixed[2] * 1e3:.1f} ms, errors {fixed[3]} → "
          f"{'met' if sat[0] >= 1000 and fixed[2] <= 0.020 and not fixed[3] else 'NOT met'}")
    print(f"server log: {logname}")


if __name__ == "__main__":
    main()
