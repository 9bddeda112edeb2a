"""Shared fixtures: a small demo district built once per session (the full one is marked slow)."""

from __future__ import annotations

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
