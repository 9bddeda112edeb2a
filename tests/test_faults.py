"""Faults survived with nothing lost: a save killed half-way, a connection dropped mid-transaction.

Each runs against both back ends where the fault exists for it. (Two approvers racing: see
tests/test_simulate.py::test_concurrent_approvals_exactly_one_wins; a full export and restore:
tests/test_store.py::test_copy_store_round_trip.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from test_store import make_dataset, snapshot

from zoning import simulate as sm
from zoning.errors import ValidationError
from zoning.store import GeoPackageStore

# the child saves a dataset large enough that the write takes seconds: it announces the start,
# then writes 300,000 addresses
_CHILD = textwrap.dedent("""
    import sys, numpy as np, geopandas as gpd, pandas as pd
    from shapely import points
    sys.path.insert(0, {tests!r})
    from test_store import make_dataset
    from zoning.store import open_store
    store = open_store({url!r})
    ds = make_dataset()
    n = 300_000
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, size=(n, 2)) + [400_000.0, 3_290_000.0]
    addresses = gpd.GeoDataFrame(
        {{"address": [f"龙溪街道金开大道{{i}}号" for i in range(n)],
          "parcel_id": ds.parcels.index[np.arange(n) % 4]}},
        geometry=points(xy), index=pd.Index([f"A{{i}}" for i in range(n)], name="address_id"),
        crs=ds.addresses.crs)
    print("start", flush=True)
    store.save(ds.with_layers(addresses=addresses), actor="killed")
    print("done", flush=True)
""")


def _kill_during_save(store, url: str, delay: float) -> None:
    code = _CHILD.format(tests=os.path.dirname(__file__), url=url)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "start"
        time.sleep(delay)
        assert child.poll() is None, "the save finished before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert "done" not in child.stdout.read()


@pytest.mark.parametrize("delay", [0.5, 1.5])
def test_save_killed_half_way_leaves_gpkg_at_previous_version(tmp_path, delay):
    store = GeoPackageStore(tmp_path / "district.gpkg")
    store.save(make_dataset(), actor="setup")
    before = snapshot(store)
    _kill_during_save(store, str(store.path), delay)
    assert snapshot(store) == before
    assert len(store.load().addresses) == 3 and store.verify_audit().ok
    # the next write works and leaves no stray copy behind
    store.save(make_dataset(), actor="after")
    assert store.audit_log()["actor"].tolist() == ["setup", "after"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["district.gpkg"]


@pytest.mark.parametrize("delay", [0.5, 1.5])
def test_save_killed_half_way_leaves_postgis_at_previous_version(pg_store, delay):
    import psycopg

    store = pg_store()
    store.save(make_dataset(), actor="setup")
    before = snapshot(store)
    url = store._conninfo + f"&schema={store.schema}"
    _kill_during_save(store, url, delay)
    # the server rolls the dead client's transaction back once it notices the closed socket
    with psycopg.connect(store._conninfo, autocommit=True) as con:
        for _ in range(100):
            busy = con.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND pid <> pg_backend_pid() AND state <> "
                               "'idle' AND query LIKE '%%addresses%%'").fetchone()[0]
            if not busy:
                break
            time.sleep(0.1)
    assert snapshot(store) == before
    assert len(store.load().addresses) == 3 and store.verify_audit().ok
    store.save(make_dataset(), actor="after")
    assert store.audit_log()["actor"].tolist() == ["setup", "after"]


def test_connection_dropped_mid_plan_save_leaves_no_partial_plan(pg_store, small_demo,
                                                                monkeypatch):
    """The server drops the connection after the plan row is written, before its audit entry."""
    import psycopg

    from zoning.postgis import PostGISStore

    store = pg_store()
    base = sm.current_plan(small_demo, level="primary")
    sm.save_plan(store, base, actor="张工")
    draft = sm.attach_school(base, base.zones.index[0], [base.zones.iloc[1]["school_ids"]])
    real = PostGISStore._append_audit
    dropped = []

    def drop_then_append(self, con, *args):
        if not dropped:
            pid = con.execute("SELECT pg_backend_pid()").fetchone()[0]
            # the plan row is in this transaction now; another session kills this one
            assert con.execute("SELECT count(*) FROM plans").fetchone()[0] == 2
            with psycopg.connect(store._conninfo, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            dropped.append(pid)
        return real(self, con, *args)

    monkeypatch.setattr(PostGISStore, "_append_audit", drop_then_append)
    with pytest.raises(ValidationError, match="connection was lost during the write; nothing "
                                              "was written"):
        sm.save_plan(store, draft, actor="张工")
    monkeypatch.undo()
    assert dropped
    plans = sm.list_plans(store)
    assert plans["plan_id"].tolist() == [base.plan_id]
    assert store.audit_log()["target"].tolist() == [base.plan_id] and store.verify_audit().ok
    # the same save, once the connection is back, goes through whole
    sm.save_plan(store, draft, actor="张工")
    assert pd.Index(sm.list_plans(store)["plan_id"]).equals(pd.Index([base.plan_id,
                                                                        draft.plan_id]))
