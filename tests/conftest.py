"""Shared fixtures: a small demo district built once per session (the full one is marked slow)."""

from __future__ import annotations

import os
import shutil

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
