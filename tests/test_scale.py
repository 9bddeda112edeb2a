"""City-wide batch (zoning.scale): partition by partition, the same answers as one assign_frame."""

from __future__ import annotations

import json
import os
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zoning.cli import app
from zoning.crs import from_working
from zoning.errors import ValidationError, ZoningError
from zoning.lookup import Resolver
from zoning.scale import (
    ADDRESS_COLUMNS,
    CODE_COLUMNS,
    LAT_COLUMNS,
    LON_COLUMNS,
    MANIFEST,
    assign_mixed,
    merge_result,
)

runner = CliRunner()
# dask's GeoParquet reader calls a pandas method pandas 3.1 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")
ANSWER = ["method", "parcel_id", "reason", "primary_zone_id", "primary_school_ids",
          "junior_zone_id", "junior_school_ids"]


def _need_dask():
    try:
        import dask_geopandas  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail('dask-geopandas is missing in CI: make test installs ".[scale]"')
        pytest.skip('dask-geopandas not installed (pip install -e ".[scale]")')


@pytest.fixture(scope="module")
def resolver(small_demo):
    return Resolver(small_demo)


@pytest.fixture(scope="module")
def homes(small_demo):
    """1,200 rows, one key each: points (some outside the district), 不动产单元号 (some of
    another county, some mistyped, some bare 宗地代码), addresses (some that do not exist)."""
    a = small_demo.addresses
    rng = np.random.default_rng(3)
    n = 1_200
    kind = np.arange(n) % 3
    idx = rng.integers(0, len(a), n)
    x = a.geometry.x.to_numpy()[idx] + rng.normal(0, 20, n)
    y = a.geometry.y.to_numpy()[idx] + rng.normal(0, 20, n)
    x[::97] += 80_000  # far outside the district
    lon, lat = from_working(x, y)
    code = a["unit_code"].to_numpy()[idx].astype(object)
    code[1::50] = ["500105" + c[6:] for c in code[1::50]]  # 江北区: not this district
    code[4::50] = [c[:-1] for c in code[4::50]]  # one character short
    code[7::50] = a["parcel_id"].to_numpy()[idx][7::50]  # a bare 宗地代码
    text = a["address"].to_numpy()[idx].astype(object)
    text[2::60] = "重庆市渝北区火星路1号"
    text[5::60] = [t.replace("重庆市渝北区", "") for t in text[5::60]]
    return pd.DataFrame({
        "record_id": np.arange(n, dtype=np.int64),
        "address": pd.Series(np.where(kind == 2, text, None), dtype=object),
        "unit_code": pd.Series(np.where(kind == 1, code, None), dtype=object),
        "lon": np.where(kind == 0, lon, np.nan), "lat": np.where(kind == 0, lat, np.nan),
    })


def _norm(frame: pd.DataFrame) -> pd.DataFrame:
    """Answer columns as plain objects, missing as None, on a 0..n-1 index."""
    out = frame[ANSWER].astype(object).reset_index(drop=True)
    return out.where(out.notna(), None)


def _expected(resolver, homes) -> pd.DataFrame:
    """Each kind through assign_frame on its own whole frame, put back in input order."""
    parts = []
    for cols in (["address"], ["unit_code"], ["lon", "lat"]):
        rows = homes[cols[0]].notna()
        parts.append(resolver.assign_frame(homes.loc[rows, cols]))
    return _norm(pd.concat(parts).sort_index())


# ------------------------------------------------------------------ rows of mixed kinds
def test_assign_frame_reads_every_key_column_name(resolver, small_demo):
    """The alias lists in zoning.scale are the ones assign_frame reads."""
    a = small_demo.addresses.iloc[:3]
    lon, lat = from_working(a.geometry.x.to_numpy(), a.geometry.y.to_numpy())
    for name in ADDRESS_COLUMNS:
        got = resolver.assign_frame(pd.DataFrame({name.upper(): a["address"].to_numpy()}))
        assert (got["method"] == "parcel").all(), name
    for name in CODE_COLUMNS:
        got = resolver.assign_frame(pd.DataFrame({name: a["unit_code"].to_numpy()}))
        assert got["parcel_id"].tolist() == a["parcel_id"].tolist(), name
    for lon_name in LON_COLUMNS:
        for lat_name in LAT_COLUMNS:
            got = resolver.assign_frame(pd.DataFrame({lon_name: lon, lat_name: lat}))
            assert (got["method"] == "point").all(), (lon_name, lat_name)


def test_mixed_rows_answer_as_assign_frame_per_kind(resolver, homes):
    got = assign_mixed(resolver, homes)
    assert got.index.equals(homes.index)
    pd.testing.assert_frame_equal(_norm(got), _expected(resolver, homes))
    # the rows that cannot be placed keep their own reason
    reasons = got["reason"].dropna()
    assert reasons.str.contains("outside every zone").any()
    assert reasons.str.contains("parcel not in this district").any()
    assert got.loc[homes["unit_code"].str.len() == 27, "reason"].notna().all()


def test_a_row_with_several_keys_goes_by_the_first(resolver, small_demo):
    """Address text before a 不动产单元号 before lon/lat, as assign_frame ranks whole columns."""
    a = small_demo.addresses
    one, other = a.iloc[:40], a.iloc[-40:]
    lon, lat = from_working(other.geometry.x.to_numpy(), other.geometry.y.to_numpy())
    both = pd.DataFrame({"address": one["address"].to_numpy(),
                         "unit_code": other["unit_code"].to_numpy(), "lon": lon, "lat": lat})
    both.loc[20:, "address"] = None  # these go by their code
    got = assign_mixed(resolver, both)
    assert got["parcel_id"].iloc[:20].tolist() == one["parcel_id"].iloc[:20].tolist()
    assert got["parcel_id"].iloc[20:].tolist() == other["parcel_id"].iloc[20:].tolist()
    assert one["parcel_id"].iloc[:20].tolist() != other["parcel_id"].iloc[:20].tolist()


def test_one_kind_goes_to_assign_frame_as_it_is(resolver, homes):
    codes = homes.loc[homes["unit_code"].notna(), ["unit_code"]]
    pd.testing.assert_frame_equal(assign_mixed(resolver, codes), resolver.assign_frame(codes))
    with pytest.raises(ValidationError, match="address column"):
        assign_mixed(resolver, pd.DataFrame({"foo": [1]}))


def test_row_without_any_key_says_so(resolver, homes):
    frame = homes.iloc[:6].copy()
    frame.loc[frame.index[0], ["lon", "lat"]] = np.nan
    frame.loc[frame.index[1], "unit_code"] = "  "
    got = assign_mixed(resolver, frame)
    assert got["reason"].iloc[:2].str.contains("no address, unit code or lon/lat").all()
    assert got["primary_zone_id"].iloc[:2].isna().all()


def test_merge_result_never_doubles_a_column_name(resolver, small_demo):
    frame = pd.DataFrame({"parcel_id": small_demo.addresses["unit_code"].iloc[:3].to_numpy()})
    merged = merge_result(frame, resolver.assign_frame(frame))
    assert merged.columns.is_unique
    assert merged["assigned_parcel_id"].tolist() == small_demo.addresses["parcel_id"].iloc[:3] \
        .tolist()


# ------------------------------------------------------------------ partitioned (dask)
def _write_parquet_files(homes, folder, n_files=3):
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(homes)), n_files)):
        homes.iloc[part].to_parquet(folder / f"homes-{i}.parquet", index=False)
    return folder


def test_parquet_directory_in_processes_same_answers(small_demo_path, resolver, homes, tmp_path):
    _need_dask()
    from zoning.scale import assign_partitioned

    src = _write_parquet_files(homes, tmp_path / "in")
    out = tmp_path / "assigned"
    s = assign_partitioned(src, out, data=small_demo_path, scheduler="processes", workers=2)
    assert s.partitions == 3 and s.rows == len(homes) and s.workers == 2
    files = sorted(out.glob("part.*.parquet"))
    assert len(files) == 3
    got = pd.read_parquet(out)
    assert got["record_id"].tolist() == homes["record_id"].tolist()
    pd.testing.assert_frame_equal(_norm(got), _expected(resolver, homes))
    assert s.placed == int(got["reason"].isna().sum()) and s.unplaced > 0
    assert s.by_method["point"] + s.by_method["parcel"] + s.by_method["address_point"] == s.placed
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["rows"] == len(homes) and "primary_zone_id" in manifest["columns"]
    assert "已分配" in s.summary_zh()
    assert not list(tmp_path.glob(".assigned.*"))


def test_one_big_csv_in_blocks_same_answers(small_demo_path, resolver, homes, tmp_path):
    _need_dask()
    from zoning.scale import assign_partitioned

    src = tmp_path / "homes.csv"
    homes.to_csv(src, index=False, encoding="utf-8-sig")
    out = tmp_path / "assigned.csv"
    s = assign_partitioned(src, out, data=small_demo_path, scheduler="threads", workers=2,
                           blocksize=src.stat().st_size // 4)
    assert s.partitions >= 4 and s.rows == len(homes)
    got = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    # the reference reads the file as the chunked command does: every column as text
    whole = pd.read_csv(src, dtype=str, encoding="utf-8-sig")
    assert got["record_id"].tolist() == whole["record_id"].tolist()
    expected = assign_mixed(resolver, whole)
    pd.testing.assert_frame_equal(_norm(got).astype(str), _norm(expected).astype(str))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4545"])
def test_geoparquet_points_are_located_by_their_geometry(small_demo_path, resolver, homes,
                                                         tmp_path, crs):
    _need_dask()
    from zoning.scale import assign_partitioned

    pts = homes.loc[homes["lon"].notna(), ["record_id", "lon", "lat"]].reset_index(drop=True)
    gdf = gpd.GeoDataFrame(pts[["record_id"]], geometry=gpd.points_from_xy(pts["lon"], pts["lat"]),
                           crs="EPSG:4326").to_crs(crs)
    gdf.iloc[:200].to_parquet(tmp_path / "a.parquet")
    gdf.iloc[200:].to_parquet(tmp_path / "b.parquet")
    out = tmp_path / "assigned"
    s = assign_partitioned(str(tmp_path / "*.parquet"), out, data=small_demo_path,
                           scheduler="sync")
    assert s.partitions == 2
    got = pd.read_parquet(out)
    want = resolver.assign_frame(pts[["lon", "lat"]])
    assert got["primary_zone_id"].tolist() == want["primary_zone_id"].tolist()
    assert got["junior_zone_id"].tolist() == want["junior_zone_id"].tolist()


def test_failed_run_leaves_no_output_and_keeps_the_earlier_one(small_demo_path, homes,
                                                              tmp_path):
    _need_dask()
    import shapely

    from zoning.scale import assign_partitioned

    src = _write_parquet_files(homes, tmp_path / "in")
    out = tmp_path / "assigned"
    assign_partitioned(src, out, data=small_demo_path, scheduler="sync")
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    # a GeoParquet input whose last file holds a polygon: that partition fails, others finish
    geo = tmp_path / "geo"
    geo.mkdir()
    pts = homes.loc[homes["lon"].notna(), ["lon", "lat"]].reset_index(drop=True)
    geom = gpd.points_from_xy(pts["lon"], pts["lat"])
    for i in range(3):
        part = gpd.GeoDataFrame(geometry=geom[i * 100:(i + 1) * 100], crs="EPSG:4326")
        if i == 2:
            part.loc[5, "geometry"] = shapely.box(106.5, 29.6, 106.6, 29.7)
        part.to_parquet(geo / f"p{i}.parquet")
    with pytest.raises(ValidationError, match="partition 2, row 5: geometry is a Polygon"):
        assign_partitioned(geo, out, data=small_demo_path, scheduler="processes", workers=2)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    fresh = tmp_path / "fresh.csv"
    with pytest.raises(ValidationError):
        assign_partitioned(geo, fresh, data=small_demo_path, scheduler="sync")
    assert not fresh.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_what_it_cannot_do(small_demo_path, homes, tmp_path):
    _need_dask()
    from zoning.scale import assign_partitioned

    src = _write_parquet_files(homes, tmp_path / "in", n_files=1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ValidationError, match="not the output of an earlier run"):
        assign_partitioned(src, mine, data=small_demo_path)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValidationError, match="no such file"):
        assign_partitioned(tmp_path / "nope.parquet", tmp_path / "o", data=small_demo_path)
    with pytest.raises(ValidationError, match="no file matches"):
        assign_partitioned(str(tmp_path / "*.csv"), tmp_path / "o", data=small_demo_path)
    (tmp_path / "x.xlsx").write_bytes(b"")
    with pytest.raises(ValidationError, match="not a CSV or Parquet"):
        assign_partitioned(tmp_path / "x.xlsx", tmp_path / "o", data=small_demo_path)
    with pytest.raises(ValidationError, match="coords"):
        assign_partitioned(src, tmp_path / "o", data=small_demo_path, coords="mars")
    pd.DataFrame({"foo": [1, 2]}).to_parquet(tmp_path / "foo.parquet")
    with pytest.raises(ValidationError, match="address column"):
        assign_partitioned(tmp_path / "foo.parquet", tmp_path / "o", data=small_demo_path)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ command line
def test_cli_parquet_round_trip_and_csv_engine_dask(small_demo_path, resolver, homes, tmp_path):
    _need_dask()
    src = _write_parquet_files(homes, tmp_path / "in")
    out = tmp_path / "assigned"
    res = runner.invoke(app, ["assign", "--data", str(small_demo_path), "--input", str(src),
                              "--out", str(out), "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert f"/{len(homes)} 行" in res.output and "分区" in res.output
    pd.testing.assert_frame_equal(_norm(pd.read_parquet(out)), _expected(resolver, homes))

    csv_in = tmp_path / "homes.csv"
    homes.to_csv(csv_in, index=False)
    chunked, dasked = tmp_path / "chunked.csv", tmp_path / "dask.csv"
    a = runner.invoke(app, ["assign", "--data", str(small_demo_path), "--input", str(csv_in),
                            "--out", str(chunked), "--chunk", "500"])
    b = runner.invoke(app, ["assign", "--data", str(small_demo_path), "--input", str(csv_in),
                            "--out", str(dasked), "--engine", "dask", "--blocksize", "20000"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    # both engines write the same file, byte for byte
    assert chunked.read_bytes() == dasked.read_bytes()
    bad = runner.invoke(app, ["assign", "--data", str(small_demo_path), "--input", str(src),
                              "--out", str(tmp_path / "x.csv"), "--engine", "chunks"])
    assert bad.exit_code == 2 and "分区处理" in bad.output


def test_cli_names_the_extra_when_dask_is_missing(small_demo_path, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_geopandas", None)  # import raises ImportError
    src = tmp_path / "in.parquet"
    pd.DataFrame({"unit_code": ["500112001003GB00001F00010001"]}).to_parquet(src)
    res = runner.invoke(app, ["assign", "--data", str(small_demo_path), "--input", str(src),
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert 'pip install -e ".[scale]"' in res.output and "scale 扩展" in res.output
    with pytest.raises(ZoningError, match="scale"):
        from zoning.scale import assign_partitioned

        assign_partitioned(src, tmp_path / "out", data=small_demo_path)
    assert not (tmp_path / "out").exists()
