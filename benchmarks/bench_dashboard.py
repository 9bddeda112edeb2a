"""Benchmark: the dashboard in a real browser on the full demo district.

Targets (issue 8): the demo district loads in ≤ 3 s on a warm cache; an edit's impact appears in
≤ 1 s. Measured in headless Chromium (Debian's, ``/usr/bin/chromium``) against ``streamlit run
dashboard.py`` on ``data/demo.gpkg`` (built by ``make demo`` when missing):

- cold: the first visit after the server starts (reads the GeoPackage, builds the lookup index);
- warm: each page opened again in a new browser tab (cached engines), until its content shows;
- lookup: an address typed and the 对口 schools shown;
- edit: a parcel moved by its code on the planners' page, until the impact panel shows.

The peer for the warm load is the cold load in the same run (what the cache saves). Prints the
figures; never asserts on timing.

The staff pages need sign-in: the benchmark runs on a copy of the demo store and signs in as the
demo's planner (``data/demo-users.txt``; a store without users gets a planner of its own in the
copy). Each new tab is a new session: it signs in, then opens the pages from the navigation.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py``
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "demo.gpkg"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
RUNS = 5


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, data: Path) -> subprocess.Popen:
    env = {**os.environ, "ZONING_DATA": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the dashboard did not start within 60 s")


def _timed(page, url: str, ready: str) -> float:
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(ready, timeout=180_000)
    return time.perf_counter() - t


def _timed_link(page, name: str, ready: str) -> float:
    """Open a page from the navigation (same session: still signed in)."""
    t = time.perf_counter()
    page.get_by_role("link", name=name).click()
    page.wait_for_selector(ready, timeout=180_000)
    return time.perf_counter() - t


def _planner(data: Path) -> tuple[str, str]:
    """The planner's name and password in the benchmark's copy of the store."""
    from zoning import auth
    from zoning.store import GeoPackageStore

    listed = DATA.with_name(f"{DATA.stem}-users.txt")
    if listed.exists():
        for line in listed.read_text("utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1] == "planner":
                return parts[0], parts[2]
    store = GeoPackageStore(data)
    if auth.has_users(store):
        raise SystemExit(f"{DATA} has users but {listed} does not list a planner: rebuild the "
                         "demo with `zoning demo`")
    password = secrets.token_urlsafe(12)
    admin = auth.add_user(store, "bench-admin", role="admin", password=secrets.token_urlsafe(12))
    auth.add_user(store, "bench-planner", role="planner", password=password, by=admin)
    return "bench-planner", password


def _sign_in(page, name: str, password: str) -> None:
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("text=已登录", timeout=60_000)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from zoning.simulate import current_plan
    from zoning.store import GeoPackageStore

    if not DATA.exists():
        subprocess.run(["make", "demo"], cwd=ROOT, check=True)
    ds = GeoPackageStore(DATA).load()
    plan = current_plan(ds, level="primary")
    hh = ds.parcels["households"]
    parcel = hh[hh > 0].index[0]
    to_zone = next(z for z in plan.zones.index if z != plan.assignment[parcel])
    address = ds.addresses["address"].iloc[1234]

    port = _port()
    url = f"http://127.0.0.1:{port}"
    tmp = tempfile.mkdtemp(prefix="bench-dashboard-")
    data = Path(tmp) / DATA.name
    shutil.copy(DATA, data)
    name, password = _planner(data)
    server = _serve(port, data)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            cold = {"入学查询": _timed(page, url, "text=查询内容不会被保存")}
            _sign_in(page, name, password)
            cold["片区调整"] = _timed_link(page, "片区调整", "text=这是现行片区")
            cold["学位预警"] = _timed_link(page, "学位预警", "text=红色预警")
            warm = {k: [] for k in cold}
            lookups, edits = [], []
            for _ in range(RUNS):
                tab = browser.new_page(viewport={"width": 1400, "height": 1000})
                warm["入学查询"].append(_timed(tab, url, "text=查询内容不会被保存"))
                tab.get_by_label("住址或不动产单元号").fill(address)
                t = time.perf_counter()
                tab.get_by_role("button", name="查询").click()
                tab.wait_for_selector("text=对口小学", timeout=60_000)
                lookups.append(time.perf_counter() - t)
                _sign_in(tab, name, password)
                warm["片区调整"].append(_timed_link(tab, "片区调整", "text=这是现行片区"))
                tab.get_by_role("tab", name="按宗地号").click()
                box = tab.get_by_label("宗地代码（每行一个，或用逗号、空格分隔）")
                box.fill(parcel)
                box.press("Control+Enter")
                tab.get_by_label("移入片区").nth(1).click()
                tab.keyboard.type(to_zone)
                tab.get_by_role("option", name=f"（{to_zone}）", exact=False).first.click()
                t = time.perf_counter()
                tab.get_by_role("button", name="移入", exact=True).click()
                tab.wait_for_selector("text=不再连片的片区", timeout=60_000)
                edits.append(time.perf_counter() - t)
                warm["学位预警"].append(_timed_link(tab, "学位预警", "text=红色预警"))
                tab.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"full demo: {len(ds.parcels):,} parcels, {len(ds.addresses):,} addresses, "
          f"{len(ds.schools)} schools; median of {RUNS} runs\n")
    for name, c in cold.items():
        w = statistics.median(warm[name])
        print(f"{name}: warm {w:5.2f} s (target ≤ 3 s: {'ok' if w <= 3 else 'OVER'}), "
              f"cold {c:5.2f} s, cold / warm {c / w:4.1f}x")
    lk, ed = statistics.median(lookups), statistics.median(edits)
    print(f"lookup of an address: {lk:5.2f} s")
    print(f"edit to impact shown: {ed:5.2f} s (target ≤ 1 s: {'ok' if ed <= 1 else 'OVER'})")


if __name__ == "__main__":
    main()
