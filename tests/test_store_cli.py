"""The CLI on a PostGIS store: copy a district in, use it by URL, copy it back out."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from zoning.cli import app
from zoning.store import GeoPackageStore, open_store

runner = CliRunner()


def test_copy_into_postgis_use_by_url_and_back(small_demo_path, pg_store, tmp_path):
    target = pg_store()
    url = target._conninfo + f"&schema={target.schema}"
    res = runner.invoke(app, ["store", "copy", str(small_demo_path), url, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["rows"]["addresses"] == 10_000 and out["audit_ok"]
    assert "password" not in res.output and target.schema in out["target"]
    # every reading command takes the URL where it took a file
    info = runner.invoke(app, ["info", url])
    assert info.exit_code == 0 and "10,000" in info.output.replace("10000", "10,000")
    gpkg = runner.invoke(app, ["lookup", "--data", str(small_demo_path), "--lonlat",
                               "106.63,29.72"])
    pg = runner.invoke(app, ["lookup", "--data", url, "--lonlat", "106.63,29.72"])
    assert pg.exit_code == gpkg.exit_code and pg.output == gpkg.output
    # and back out, as a backup: the same layers, the same audit chain
    backup = tmp_path / "backup.gpkg"
    res = runner.invoke(app, ["store", "copy", url, str(backup)])
    assert res.exit_code == 0, res.output
    assert "哈希链完整" in res.output
    a, b = GeoPackageStore(small_demo_path).load(), open_store(backup).load()
    assert a.parcels.index.equals(b.parcels.index) and a.zones.index.equals(b.zones.index)
    # a target that holds data already is refused, and nothing is written
    again = runner.invoke(app, ["store", "copy", str(small_demo_path), url])
    assert again.exit_code != 0 and "not empty" in again.output


@pytest.mark.parametrize("bad", ["postgresql://127.0.0.1:1/zoning?schema=Bad Name",
                                 "mysql://u:secret@h/db"])
def test_copy_refuses_bad_targets(small_demo_path, bad):
    res = runner.invoke(app, ["store", "copy", str(small_demo_path), bad])
    assert res.exit_code != 0 and "secret" not in res.output
    assert "schema" in res.output or "unknown store URL scheme" in res.output
