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
COMMANDS = [c.name or c.callback.__name__ for c in app.registered_commands]


def test_command_list_is_complete():
    assert {"demo", "validate", "lookup", "forecast", "capacity", "dashboard"} <= set(COMMANDS)


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


def test_import_good_and_bad_file(small_demo_path, tmp_path, monkeypatch):
    from zoning.auth import add_user

    store_path = tmp_path / "s.gpkg"
    shutil.copy(small_demo_path, store_path)
    admin = add_user(GeoPackageStore(store_path), "root", role="admin", password="pw-0123456789")
    add_user(GeoPackageStore(store_path), "张工", role="planner", password="pw-0123456789",
             by=admin)
    monkeypatch.setenv("ZONING_PASSWORD", "pw-0123456789")
    ds = GeoPackageStore(store_path).load()
    good = tmp_path / "schools.geojson"
    ds.schools.to_crs(4326).reset_index().to_file(good)
    result = runner.invoke(app, ["import", "schools", str(good), "--store", str(store_path),
                                 "--actor", "张工"])
    assert result.exit_code == 0, result.output
    log = runner.invoke(app, ["audit", str(store_path), "--json", "--user", "root"])
    entries = json.loads(log.output)
    assert entries[-1]["actor"] == "张工" and entries[-1]["action"] == "import"

    before = store_path.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("school_id,name,level,ownership,lon,lat,家长职业\nS1,甲小学,primary,public,"
                   "106.6,29.7,工程师\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "schools", str(bad), "--store", str(store_path),
                                 "--user", "张工"])
    assert result.exit_code == 2
    assert "五(四)" in result.output
    assert store_path.read_bytes() == before


# ------------------------------------------------------------------------------------ capacity
def test_capacity_json_both_levels(small_demo_path):
    result = runner.invoke(app, ["capacity", "--data", str(small_demo_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["year"] == 2027
    for level in ("primary", "junior"):
        part = out["levels"][level]
        assert part["source"] == "forecast"
        row = part["schools"][0]
        assert {"school_id", "name", "level", "planned_classes", "cap", "seats", "demand", "ratio",
                "warning", "classes_needed", "shortfall_seats", "lo", "hi", "p_red"} <= set(row)
        s = part["summary"]
        assert s["schools"] == len(part["schools"])
        assert s["green"] + s["yellow"] + s["red"] + s["none"] == s["schools"]
    assert all(r["flag"] in ("large", "very_large", "over_cap") for r in out["large_classes"])


def test_capacity_writes_every_report(small_demo_path, tmp_path):
    files = {"excel": tmp_path / "cap.xlsx", "csv": tmp_path / "cap.csv",
             "map": tmp_path / "map.html", "notice": tmp_path / "notice.md"}
    args = ["capacity", "--data", str(small_demo_path), "--year", "2028"]
    for k, v in files.items():
        args += [f"--{k}", str(v)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2028年小学一年级学位预警" in result.stdout and "初中七年级" in result.stdout
    import pandas as pd

    sheets = pd.read_excel(files["excel"], sheet_name=None)
    assert set(sheets) == {"小学一年级", "初中七年级", "大班额"}
    assert sheets["小学一年级"]["招生年级"].eq("小学一年级").all()
    table = pd.read_csv(files["csv"], encoding="utf-8-sig")
    assert set(table["招生年级"]) == {"小学一年级", "初中七年级"}
    assert len(table) == len(sheets["小学一年级"]) + len(sheets["初中七年级"])
    for level in ("primary", "junior"):
        html = (tmp_path / f"map_{level}.html").read_text(encoding="utf-8")
        assert "学位预警图例" in html and "<script src=" not in html
    text = files["notice"].read_text(encoding="utf-8")
    assert "2028年秋季小学一年级招生学位预警" in text and "2028年秋季初中七年级招生学位预警" in text


def test_capacity_lower_caps_and_thresholds(small_demo_path):
    base = json.loads(runner.invoke(app, ["capacity", "--data", str(small_demo_path),
                                          "--level", "primary", "--json"]).stdout)
    lower = json.loads(runner.invoke(app, ["capacity", "--data", str(small_demo_path),
                                           "--level", "primary", "--primary-cap", "40",
                                           "--json"]).stdout)
    b, lo = base["levels"]["primary"], lower["levels"]["primary"]
    assert all(r["cap"] == 40 for r in lo["schools"])
    assert lo["summary"]["seats"] < b["summary"]["seats"]
    assert lo["summary"]["red"] >= b["summary"]["red"]


@pytest.mark.parametrize("args, message", [
    (["--primary-cap", "46"], "legal limit of 45"),
    (["--yellow", "1.2"], "0 < yellow < red"),
    (["--year", "2045"], "12 years"),
    (["--level", "senior"], "level='senior'"),
])
def test_capacity_bad_input_is_exit_2_with_the_fix(small_demo_path, args, message):
    result = runner.invoke(app, ["capacity", "--data", str(small_demo_path), *args])
    assert result.exit_code == 2
    assert message in result.stderr


# ------------------------------------------------------------------------------------ forecast
def test_forecast_table_and_json(small_demo_path):
    text = runner.invoke(app, ["forecast", "--data", str(small_demo_path), "--years", "3"])
    assert text.exit_code == 0, text.output
    assert "预计需求 (80%区间)" in text.stdout and "红色概率" in text.stdout
    out = json.loads(runner.invoke(app, ["forecast", "--data", str(small_demo_path), "--years",
                                         "3", "--json"]).stdout)
    assert {r["year"] for r in out} == {2027, 2028, 2029}
    assert all(r["lo"] <= r["demand"] <= r["hi"] for r in out)
    zones = runner.invoke(app, ["forecast", "--data", str(small_demo_path), "--by", "zone",
                                "--years", "2"])
    assert zones.exit_code == 0 and zones.stdout.startswith("片区\t年份")


def test_forecast_backtest(small_demo_path):
    result = runner.invoke(app, ["forecast", "--data", str(small_demo_path), "--backtest",
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert 0 <= out["mape"] < 0.25 and len(out["per_school"]) > 5
    junior = runner.invoke(app, ["forecast", "--data", str(small_demo_path), "--backtest",
                                 "--level", "junior"])
    assert junior.exit_code == 2 and "births 12 years earlier" in junior.stderr


def test_assign_reads_gbk_csv_and_refuses_a_damaged_workbook(small_demo_path, small_demo, tmp_path):
    import pandas as pd

    addresses = small_demo.addresses["address"].iloc[:40].tolist()
    src = tmp_path / "住户.csv"
    pd.DataFrame({"address": addresses}).to_csv(src, index=False, encoding="gbk")
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["assign", "--input", str(src), "--out", str(out), "--data",
                              str(small_demo_path)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert got["address"].tolist() == addresses and got["parcel_id"].notna().all()
    bad = tmp_path / "坏.xlsx"
    bad.write_bytes(b"PK\x03\x04 not a workbook")
    res = runner.invoke(app, ["assign", "--input", str(bad), "--out", str(out), "--data",
                              str(small_demo_path)])
    assert res.exit_code == 2 and "cannot be read" in res.output and "坏.xlsx" in res.output
