"""The zoning command line: every command has --help, exit codes mean what they say."""

from __future__ import annotations

import json
import shutil

import pytest
import shapely
from typer.testing import CliRunner

from zoning.cli import app
from zoning.store import GeoPackageStore

runner = CliRunner()
COMMANDS = ["demo", "validate", "info", "unitcode", "import", "audit", "dashboard"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_validate_demo_passes(small_demo_path):
    result = runner.invoke(app, ["validate", str(small_demo_path)])
    assert result.exit_code == 0, result.output
    assert "通过" in result.output


def test_validate_broken_copy_reports_every_problem(small_demo_path, tmp_path):
    broken = tmp_path / "broken.gpkg"
    shutil.copy(small_demo_path, broken)
    store = GeoPackageStore(broken)
    ds = store.load()
    zones = ds.zones.copy()
    prim = zones.index[zones["level"] == "primary"]
    a, b, c = prim[0], prim[1], prim[2]
    # 1. self-intersecting zone: a bow-tie inside zone a
    x0, y0, x1, y1 = zones.geometry[a].bounds
    zones.loc[a, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    # 2. overlap: zone b grows over its neighbours
    zones.loc[b, "geometry"] = zones.geometry[b].buffer(300)
    # 3. a gap: zone c removed
    zones = zones.drop(index=c)
    # 4. a zone pointing at a school that does not exist
    zones.loc[prim[3], "school_ids"] = "S999"
    store.save(ds.with_layers(zones=zones))

    result = runner.invoke(app, ["validate", str(broken), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    kinds = {p["kind"] for p in report["problems"]}
    assert {"invalid_geometry", "overlap", "gap", "unknown_school"} <= kinds
    assert not report["ok"]
    ids = {p["id"] for p in report["problems"]}
    assert a in ids and b in ids and prim[3] in ids
    for p in report["problems"]:
        assert p["fix"] and p["message"]

    text = runner.invoke(app, ["validate", str(broken)])
    assert text.exit_code == 1
    assert "错误" in text.output and "片区重叠" in text.output


def test_validate_missing_file_exit_2(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.gpkg")])
    assert result.exit_code == 2
    assert "zoning demo" in result.output


def test_info_json(small_demo_path):
    result = runner.invoke(app, ["info", str(small_demo_path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["parcels"] == 2_000 and info["addresses"] == 10_000
    assert info["crs"] == "EPSG:4545"


def test_unitcode_valid_and_invalid():
    ok = runner.invoke(app, ["unitcode", "500112001002GB00012F00010203", "--json"])
    assert ok.exit_code == 0
    assert json.loads(ok.output)["county_name"] == "渝北区"
    bad = runner.invoke(app, ["unitcode", "500112001002GB00012F0001020"])  # 27 characters
    assert bad.exit_code == 1
    assert "27" in bad.output


def test_import_good_and_bad_file(small_demo_path, tmp_path):
    store_path = tmp_path / "s.gpkg"
    shutil.copy(small_demo_path, store_path)
    ds = GeoPackageStore(store_path).load()
    good = tmp_path / "schools.geojson"
    ds.schools.to_crs(4326).reset_index().to_file(good)
    result = runner.invoke(app, ["import", "schools", str(good), "--store", str(store_path),
                                 "--actor", "张工"])
    assert result.exit_code == 0, result.output
    log = runner.invoke(app, ["audit", str(store_path), "--json"])
    entries = json.loads(log.output)
    assert entries[-1]["actor"] == "张工" and entries[-1]["action"] == "import"

    before = store_path.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("school_id,name,level,ownership,lon,lat,家长职业\nS1,甲小学,primary,public,"
                   "106.6,29.7,工程师\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "schools", str(bad), "--store", str(store_path)])
    assert result.exit_code == 2
    assert "五(四)" in result.output
    assert store_path.read_bytes() == before
