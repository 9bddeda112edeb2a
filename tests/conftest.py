"""Shared fixtures: a small demo district built once per session (the full one is marked slow)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from zoning.demo import write_demo
from zoning.store import GeoPackageStore


@pytest.fixture(scope="session")
def small_demo_path(tmp_path_factory):
    """A small demo district (2,000 parcels, 10,000 addresses) in a GeoPackage."""
    path = tmp_path_factory.mktemp("demo") / "small.gpkg"
    write_demo(path, seed=11, n_parcels=2_000, n_addresses=10_000)
    return path


@pytest.fixture(scope="session")
def small_demo(small_demo_path):
    """The small demo district loaded as a Dataset."""
    return GeoPackageStore(small_demo_path).load()


@pytest.fixture(scope="session")
def full_demo_path(tmp_path_factory):
    """The real-sized demo district, as `make run` builds it (seed 7)."""
    path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    write_demo(path, seed=7)
    return path


@pytest.fixture(scope="session")
def chromium():
    """A function ``launch(playwright)`` that starts Debian's headless chromium for a test.

    Skips without chromium or Playwright (fails in CI, where scripts/test-deps.sh installs them).
    """
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: scripts/test-deps.sh should have installed it")
        pytest.skip("chromium not installed (make test installs it on Debian as root)")
    pytest.importorskip("playwright.sync_api")
    # headless on a machine with no network and no GPU
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]

    def launch(playwright):
        return playwright.chromium.launch(executable_path=path, args=args)

    return launch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_url():
    """URL of a throw-away PostgreSQL 15 + PostGIS 3 server for this test session.

    ``scripts/postgis.sh`` installs (as root, on Debian), initialises and starts it; it is
    stopped and deleted at the end. ``ZONING_TEST_PG`` names an existing server instead. Skips
    where neither is possible, except in CI, where it fails.
    """
    pytest.importorskip("psycopg")
    if os.environ.get("ZONING_TEST_PG"):
        yield os.environ["ZONING_TEST_PG"]
        return
    script = Path(__file__).resolve().parent.parent / "scripts" / "postgis.sh"
    # not under pytest's tmp dirs: the server runs as the postgres user, who must reach it
    data = Path(tempfile.gettempdir()) / f"zoning-pg-{os.getpid()}-{secrets.token_hex(4)}"
    run = subprocess.run(["bash", str(script), "start", str(data), str(_free_port())],
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(f"PostGIS test server did not start: {run.stderr[-2000:]}")
        pytest.skip(f"no PostGIS test server here: {run.stderr.strip()[-300:]}")
    try:
        yield run.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(script), "stop", str(data)], capture_output=True, timeout=120)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_store(pg_url):
    """A function ``make()`` giving an empty PostGIS store in a new schema, dropped afterwards."""
    from zoning.postgis import PostGISStore

    made = []

    def make():
        store = PostGISStore(f"{pg_url}?schema=t_{secrets.token_hex(6)}")
        made.append(store)
        return store

    yield make
    for store in made:
        store.drop()


@pytest.fixture(params=["gpkg", "postgis"])
def empty_store(request, tmp_path):
    """An empty store of each back end: the same tests run against the GeoPackage and PostGIS."""
    if request.param == "gpkg":
        return GeoPackageStore(tmp_path / "district.gpkg")
    return request.getfixturevalue("pg_store")()
