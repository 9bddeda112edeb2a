"""Tests for zoning.store: the GeoPackage and PostGIS stores, their audit log, and failed writes.

The tests that take ``store`` or ``empty_store`` run against both back ends (tests/conftest.py);
those about the file itself (modes, damaged files, GeoPackage metadata) take ``gpkg``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import stat
import warnings
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from zoning.errors import PersonalDataError, ValidationError
from zoning.store import Dataset, GeoPackageStore, open_store

X0, Y0 = 400_000.0, 3_290_000.0  # 渝北区, EPSG:4545


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_dataset() -> Dataset:
    """Two primary zones of 1 km², four parcels, three schools, three addresses."""
    crs = "EPSG:4545"
    schools = gpd.GeoDataFrame(
        {"name": ["渝北区龙溪小学", "两路小学", "空港中学"], "level": ["primary", "primary", "junior"],
         "ownership": ["public", "public", "public"]},
        geometry=[Point(X0 + 500, Y0 + 500), Point(X0 + 1500, Y0 + 500), Point(X0 + 1000, Y0 + 900)],
        index=pd.Index(["S1", "S2", "S3"], name="school_id"), crs=crs,
    )
    zones = gpd.GeoDataFrame(
        {"level": ["primary", "primary"], "school_ids": ["S1", "S2"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)],
        index=pd.Index(["Z1", "Z2"], name="zone_id"), crs=crs,
    )
    parcels = gpd.GeoDataFrame(
        {"households": [120, 80, 200, 50]},
        geometry=[box(X0 + i * 500, Y0, X0 + (i + 1) * 500, Y0 + 500) for i in range(4)],
        index=pd.Index([f"500112001001GB0000{i}" for i in range(1, 5)], name="parcel_id"),
        crs=crs,
    )
    addresses = gpd.GeoDataFrame(
        {"address": ["龙溪街道金开大道1号", "两路街道双龙大道88号附2号", "空港大道3号"],
         "parcel_id": parcels.index[[0, 2, 3]]},
        geometry=[Point(X0 + 250, Y0 + 250), Point(X0 + 1250, Y0 + 250), Point(X0 + 1750, Y0 + 250)],
        index=pd.Index(["A1", "A2", "A3"], name="address_id"), crs=crs,
    )
    district = gpd.GeoDataFrame(
        {"name": ["渝北区"]}, geometry=[box(X0, Y0, X0 + 2000, Y0 + 1000)],
        index=pd.Index(["500112"], name="district_id"), crs=crs,
    )
    classes = pd.DataFrame({"school_id": ["S1", "S1", "S2"], "grade": [1, 1, 1],
                            "class_no": [1, 2, 1], "students": [45, 44, 40]})
    births = pd.DataFrame({"community": ["龙溪", "两路"], "year": [2018, 2018], "births": [310, 270]})
    return Dataset(schools=schools, zones=zones, parcels=parcels, addresses=addresses,
                   district=district, tables={"classes": classes, "births": births})


@pytest.fixture
def store(empty_store):
    empty_store.save(make_dataset(), actor="setup")
    return empty_store


@pytest.fixture
def gpkg(tmp_path) -> GeoPackageStore:
    s = GeoPackageStore(tmp_path / "district.gpkg")
    s.save(make_dataset(), actor="setup")
    return s


def is_gpkg(store) -> bool:
    return isinstance(store, GeoPackageStore)


def name_of(store) -> str:
    """What a message names the store by: the file name, or the PostGIS schema."""
    return store.path.name if is_gpkg(store) else f"schema={store.schema}"


def snapshot(store) -> str:
    """A fingerprint of everything stored: the file's bytes, or every table's rows."""
    if is_gpkg(store):
        return sha(store.path)
    d = store.dump()
    parts = [f"{n}:{f.to_csv()}" for n, f in sorted({**d["layers"], **d["own"]}.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def listing(store) -> list[str]:
    return sorted(p.name for p in store.path.parent.iterdir()) if is_gpkg(store) else []


def tamper(store, sql: str, *params) -> None:
    """Edit the store behind its back, as a forger with database access would."""
    if is_gpkg(store):
        with closing(sqlite3.connect(store.path)) as con, con:
            con.execute(sql, params)
        return
    import psycopg

    sql = sql.replace("?", "%s").replace(
        "sqlite_sequence SET seq = 1 WHERE name = 'audit_log'",
        "zoning_state SET value = '1' WHERE key = 'audit_seq'")
    with psycopg.connect(store._conninfo, autocommit=True) as con:
        con.execute(f"SET search_path TO {store.schema}, public")
        con.execute(sql, params)


def assert_layer_equal(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame) -> None:
    assert got.index.name == want.index.name
    assert list(got.index) == list(want.index)
    assert got.crs == want.crs
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry")),
        check_dtype=False,
    )
    assert got.geometry.geom_equals_exact(want.geometry, tolerance=1e-6).all()


# --------------------------------------------------------------------------------------------
# save and load


def test_save_load_round_trip(store):
    want = make_dataset()
    got = store.load()
    for name in ("schools", "zones", "parcels", "addresses", "district"):
        assert_layer_equal(getattr(got, name), getattr(want, name))
    assert set(got.tables) == {"classes", "births"}
    for name, table in want.tables.items():
        pd.testing.assert_frame_equal(got.tables[name], table, check_dtype=False)
    assert got.parcels["households"].sum() == 450
    assert got.crs.to_epsg() == 4545


def test_layers_lists_everything(store):
    names = set(store.layers())
    assert {"schools", "zones", "parcels", "addresses", "district", "classes", "births"} <= names
    assert {"meta", "audit_log", "plans", "applicants"} <= names


def test_read_one_layer_and_unknown_name(store):
    assert list(store.read("zones").index) == ["Z1", "Z2"]
    with pytest.raises(ValidationError) as err:
        store.read("roads")
    msg = str(err.value)
    assert name_of(store) in msg and "unknown layer 'roads'" in msg and "schools" in msg


def test_read_known_kind_absent_from_store(store):
    with pytest.raises(ValidationError, match=r"has no layer 'housing' \(it has .*'schools'"):
        store.read("housing")


def test_missing_store(tmp_path):
    s = GeoPackageStore(tmp_path / "none.gpkg")
    for call in (s.layers, s.load, lambda: s.read("zones"), lambda: s.get_meta("k"),
                 lambda: s.audit("a", "b", "c"), s.audit_log):
        with pytest.raises(ValidationError) as err:
            call()
        assert "none.gpkg" in str(err.value) and "zoning demo" in str(err.value)
    assert not (tmp_path / "none.gpkg").exists()


def test_load_names_missing_layers(empty_store):
    s = empty_store
    ds = make_dataset()
    s.save(ds.with_layers(parcels=None, addresses=None))
    with pytest.raises(ValidationError, match=r"missing layer\(s\) parcels, addresses"):
        s.load()


def test_save_keeps_layers_not_in_dataset(store):
    ds = store.load()
    store.save(ds.with_layers(district=None, tables={}), actor="planner")
    assert "district" in store.layers()
    assert store.load().district is not None


def test_save_replaces_layer_contents(store):
    ds = store.load()
    store.save(ds.with_layers(zones=ds.zones.iloc[:1]))
    assert list(store.read("zones").index) == ["Z1"]


def test_save_without_id_index_is_refused(store):
    before = snapshot(store)
    ds = make_dataset()
    with pytest.raises(ValidationError, match=r"layer 'zones': no zone_id.*set_index\('zone_id'\)"):
        store.save(ds.with_layers(zones=ds.zones.reset_index(drop=True)))
    assert snapshot(store) == before


def test_save_with_forbidden_column_is_refused(store):
    before = snapshot(store)
    ds = make_dataset()
    bad = ds.tables["births"].assign(家长职业="x")
    with pytest.raises(PersonalDataError, match="家长职业"):
        store.save(ds.with_layers(tables={"births": bad}))
    with pytest.raises(PersonalDataError, match="guardian_income"):
        store.save(ds.with_layers(schools=ds.schools.assign(guardian_income=1)))
    assert snapshot(store) == before


def test_failed_save_half_way_leaves_store(gpkg, monkeypatch):
    store = gpkg
    before = sha(store.path)
    listing = sorted(p.name for p in store.path.parent.iterdir())
    real = pyogrio.write_dataframe
    calls = []

    def fail_on_third(df, target, **kwargs):
        calls.append(kwargs.get("layer"))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real(df, target, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", fail_on_third)
    with pytest.raises(RuntimeError, match="disk full"):
        store.save(make_dataset(), actor="planner")
    assert sha(store.path) == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == listing


def test_failed_save_half_way_leaves_postgis_store(pg_store, monkeypatch):
    from zoning.postgis import PostGISStore

    store = pg_store()
    store.save(make_dataset(), actor="setup")
    before = snapshot(store)
    real = PostGISStore._replace_table
    calls = []

    def fail_on_third(self, con, name, frame):
        calls.append(name)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real(self, con, name, frame)

    monkeypatch.setattr(PostGISStore, "_replace_table", fail_on_third)
    with pytest.raises(RuntimeError, match="disk full"):
        store.save(make_dataset().with_layers(zones=make_dataset().zones.iloc[:1]),
                   actor="planner")
    assert snapshot(store) == before and len(calls) == 3


def test_save_keeps_file_mode(gpkg):
    store = gpkg
    os.chmod(store.path, 0o644)
    store.save(make_dataset())
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644


# --------------------------------------------------------------------------------------------
# import


def write_file(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.write_dataframe(gdf.reset_index(), path, **kwargs)
    return path


def test_import_layer_good_file(store, tmp_path):
    zones = make_dataset().zones.to_crs("EPSG:4326")
    zones.loc["Z3"] = ["primary", "S3", box(106.5, 29.6, 106.51, 29.61)]
    src = write_file(zones, tmp_path / "片区.geojson")
    got = store.import_layer("zones", src, actor="张老师")
    assert list(got.index) == ["Z1", "Z2", "Z3"]
    stored = store.read("zones")
    assert_layer_equal(stored, got)
    log = store.audit_log()
    last = log.iloc[-1]
    assert (last["actor"], last["action"], last["target"]) == ("张老师", "import", "zones")
    assert "3 rows from 片区.geojson" in last["detail"]
    # the other layers are untouched
    assert_layer_equal(store.read("schools"), make_dataset().schools)


def test_import_table(store, tmp_path):
    src = tmp_path / "classes.csv"
    src.write_text("学校代码,年级,班级,学生数\nS3,7,1,50\n")
    store.import_layer("classes", src, actor="a")
    assert store.read("classes").to_dict("records") == [
        {"school_id": "S3", "grade": 7, "class_no": 1, "students": 50}
    ]


def test_import_with_read_options(store, tmp_path):
    # read_layer's own ``source`` (the web-map datum) passes through import_layer
    zones = make_dataset().zones.to_crs("EPSG:4326")
    src = write_file(zones, tmp_path / "amap.shp", encoding="GBK")
    plain = store.import_layer("zones", src, actor="a", encoding="GBK")
    shifted = store.import_layer("zones", src, actor="a", source="gcj02", encoding="GBK")
    d = plain.geometry.centroid.distance(shifted.geometry.centroid)
    assert ((d > 300) & (d < 700)).all()
    assert_layer_equal(store.read("zones"), shifted)


def bad_sources(tmp_path: Path) -> dict[str, tuple[Path, type, str]]:
    ds = make_dataset()
    missing = write_file(ds.zones.drop(columns="school_ids"), tmp_path / "missing.geojson")
    personal = write_file(ds.zones.assign(occupation="x"), tmp_path / "personal.gpkg")
    truncated = write_file(ds.zones, tmp_path / "truncated.gpkg")
    truncated.write_bytes(truncated.read_bytes()[:100])
    no_crs = write_file(ds.zones.set_crs(None, allow_override=True), tmp_path / "nocrs.shp")
    return {
        "missing column": (missing, ValidationError, "missing required column(s) school_ids"),
        "personal field": (personal, PersonalDataError, "'occupation'"),
        "truncated": (truncated, ValidationError, "truncated"),
        "no crs": (no_crs, ValueError, "set_crs"),
    }


@pytest.mark.parametrize("case", ["missing column", "personal field", "truncated", "no crs"])
def test_failed_import_leaves_store(store, tmp_path, case):
    (tmp_path / "src").mkdir()
    src, error, text = bad_sources(tmp_path / "src")[case]
    before, files = snapshot(store), listing(store)
    with pytest.raises(error) as err:
        store.import_layer("zones", src, actor="张老师")
    assert text in str(err.value) and src.name in str(err.value)
    assert snapshot(store) == before and listing(store) == files


def test_import_unknown_kind(store, tmp_path):
    with pytest.raises(ValidationError, match="kind 'roads': use one of schools"):
        store.import_layer("roads", tmp_path / "x.gpkg", actor="a")


def test_import_into_new_store(tmp_path, empty_store):
    src = write_file(make_dataset().schools, tmp_path / "s.gpkg", layer="schools")
    s = empty_store
    s.import_layer("schools", src, actor="a")
    assert "schools" in s.layers() and "audit_log" in s.layers()
    assert s.audit_log()["action"].tolist() == ["import"]


# --------------------------------------------------------------------------------------------
# audit log and meta


def test_audit_appends_in_order(store):
    store.audit("张老师", "edit_zone", "Z1", {"moved": ["P1"], "note": "调整"})
    store.audit("李科长", "approve", "plan-2", "批准")
    log = store.audit_log()
    assert list(log.columns) == ["entry_id", "at", "actor", "action", "target", "detail",
                                 "prev_hash", "hash"]
    # hash-chained: each entry names the one before it
    assert log["prev_hash"].iloc[1:].tolist() == log["hash"].iloc[:-1].tolist()
    assert log["actor"].tolist() == ["setup", "张老师", "李科长"]
    assert log["action"].tolist() == ["save", "edit_zone", "approve"]
    assert log["entry_id"].is_monotonic_increasing
    assert '"moved": ["P1"]' in log["detail"].iloc[1] and "调整" in log["detail"].iloc[1]
    times = [dt.datetime.fromisoformat(t) for t in log["at"]]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times)
    now = dt.datetime.now(dt.UTC)
    assert all(abs((now - t).total_seconds()) < 60 for t in times)


def test_save_without_actor_writes_no_audit_row(empty_store):
    s = empty_store
    s.save(make_dataset())
    assert s.audit_log().empty
    assert list(s.audit_log().columns)[:3] == ["entry_id", "at", "actor"]


def test_meta_round_trip(store):
    assert store.get_meta("schema") is None
    store.set_meta("schema", "1")
    store.set_meta("built_by", "测试")
    store.set_meta("schema", "2")
    assert store.get_meta("schema") == "2"
    assert store.get_meta("built_by") == "测试"
    assert store.read("meta").set_index("key")["value"].to_dict() == {"schema": "2",
                                                                      "built_by": "测试"}


def test_reading_never_writes(tmp_path):
    # a GeoPackage made by other software has none of the store's own tables yet
    path = write_file(make_dataset().zones, tmp_path / "other.gpkg", layer="zones")
    os.chmod(path, 0o444)
    try:
        before = sha(path)
        s = GeoPackageStore(path)
        assert s.get_meta("schema") is None
        assert s.audit_log().empty
        assert s.read("plans").empty
        assert list(s.read("zones").index) == ["Z1", "Z2"]
        assert sha(path) == before
    finally:
        os.chmod(path, 0o644)


def test_own_tables_registered_as_attributes(gpkg):
    store = gpkg
    with sqlite3.connect(store.path) as con:
        rows = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
        applicant_cols = [r[1] for r in con.execute("PRAGMA table_info(applicants)")]
    for name in ("plans", "applicants", "audit_log", "meta"):
        assert rows[name] == "attributes"
    assert rows["zones"] == "features" and rows["classes"] == "attributes"
    listed = {str(r[0]): r[1] for r in pyogrio.list_layers(store.path)}
    assert listed["audit_log"] is None and listed["zones"] == "Polygon"
    assert "id_number" in applicant_cols
    for col in applicant_cols:
        assert not any(w in col for w in ("occupation", "income", "job", "salary", "employer"))


def test_damaged_store(gpkg):
    store = gpkg
    store.path.write_bytes(store.path.read_bytes()[:100])
    for call in (store.layers, store.audit_log, lambda: store.get_meta("k"),
                 lambda: store.audit("a", "b", "c")):
        with pytest.raises(ValidationError) as err:
            call()
        assert "district.gpkg" in str(err.value) and "damaged" in str(err.value)
    before = sha(store.path)
    with pytest.raises(ValidationError, match="damaged"):
        store.save(make_dataset())
    assert sha(store.path) == before


# --------------------------------------------------------------------------------------------
# opening


def test_open_store_gpkg_path(tmp_path):
    s = open_store(tmp_path / "d.gpkg")
    assert isinstance(s, GeoPackageStore) and s.path == tmp_path / "d.gpkg"
    assert repr(s) == f"GeoPackageStore({str(tmp_path / 'd.gpkg')!r})"


@pytest.mark.parametrize("url", ["postgresql://planner:s3cr3t@127.0.0.1:1/zoning",
                                 "postgres://planner:s3cr3t@127.0.0.1:1/zoning?schema=yubei",
                                 "postgresql://127.0.0.1:1/zoning?password=s3cr3t",
                                 "postgresql://planner:p@ss:s3cr3t@127.0.0.1:1/zoning"])
def test_open_store_postgres_does_not_leak_password(url):
    pytest.importorskip("psycopg")
    from zoning.postgis import PostGISStore

    s = open_store(url)
    assert isinstance(s, PostGISStore)
    assert "s3cr3t" not in repr(s) and "planner" not in repr(s) and "127.0.0.1" in repr(s)
    with pytest.raises(ValidationError) as err:
        s.layers()  # nothing listens on port 1
    msg = str(err.value)
    assert "s3cr3t" not in msg and "planner" not in msg
    assert "127.0.0.1" in msg and "cannot connect" in msg and "postgis.sh" in msg


def test_open_store_bad_schema_name():
    pytest.importorskip("psycopg")
    with pytest.raises(ValidationError, match="schema 'Yu Bei'"):
        open_store("postgresql://127.0.0.1/zoning?schema=Yu Bei")


def test_open_store_unknown_scheme():
    with pytest.raises(ValidationError, match=r"unknown store URL scheme 'http'") as err:
        open_store("http://user:s3cr3t@host/x.gpkg")
    assert "s3cr3t" not in str(err.value)


def test_dataset_layer_lookup():
    ds = make_dataset()
    assert ds.layer("zones") is ds.zones
    assert ds.layer("births") is ds.tables["births"]
    with pytest.raises(ValidationError, match=r"no layer or table 'housing'.*classes"):
        ds.layer("housing")
    assert np.isclose(ds.zones.area.sum(), 2e6)


# --------------------------------------------------------------------------------------------
# the audit log's hash chain


def test_verify_audit_whole_chain(store):
    for i in range(4):
        store.audit("张老师", "edit_zone", f"Z{i}", {"i": i})
    check = store.verify_audit()
    assert check.ok and check.entries == 5 and check.broken_entry is None
    assert len(check.head) == 64
    assert store.verify_audit(head=check.head).ok
    assert store.verify_audit(head=f"5:{check.head}").ok


def test_verify_audit_detects_an_edited_entry(store):
    for i in range(4):
        store.audit("张老师", "edit_zone", f"Z{i}", {"i": i})
    tamper(store, "UPDATE audit_log SET detail = '{\"i\": 9}' WHERE entry_id = 3")
    check = store.verify_audit()
    assert not check.ok and check.broken_entry == 3
    assert "edited" in check.problem and "第 3 条" in check.problem_zh


@pytest.mark.parametrize("deleted, broken", [(1, 2), (3, 4), (5, 5)])
def test_verify_audit_detects_a_deleted_entry(store, deleted, broken):
    for i in range(4):
        store.audit("张老师", "edit_zone", f"Z{i}", {"i": i})
    tamper(store, "DELETE FROM audit_log WHERE entry_id = ?", deleted)
    check = store.verify_audit()
    assert not check.ok and check.broken_entry == broken
    assert "deleted" in check.problem


def test_verify_audit_head_catches_a_recomputed_chain(store):
    store.audit("张老师", "edit_zone", "Z1", "x")
    head = store.verify_audit().head
    # a forger deletes the last entry and fixes the AUTOINCREMENT counter: the chain is whole
    tamper(store, "DELETE FROM audit_log WHERE entry_id = 2")
    tamper(store, "UPDATE sqlite_sequence SET seq = 1 WHERE name = 'audit_log'")
    assert store.verify_audit().ok
    check = store.verify_audit(head=head)
    assert not check.ok and head in check.problem


def test_old_postgis_store_is_migrated(pg_store):
    import psycopg

    store = pg_store()
    store.save(make_dataset(), actor="setup")
    with psycopg.connect(store._conninfo, autocommit=True) as con:
        con.execute(f"SET search_path TO {store.schema}, public")
        con.execute("ALTER TABLE applicants DROP COLUMN sibling_group, DROP COLUMN disability")
        con.execute("INSERT INTO applicants (applicant_id, year, level, id_number, name, "
                    "birth_date, created_at) VALUES ('A1', 2027, 'primary', "
                    "'11010520200101003X', '小明', '2020-01-01', '2027-05-01')")
    store.migrate()
    apps = store.read("applicants")
    assert apps.loc[0, "applicant_id"] == "A1" and apps.loc[0, "disability"] == "none"
    assert "sibling_group" in apps.columns and store.verify_audit().ok


def test_postgis_schema_dropped_by_another_program_is_made_again(pg_store):
    import psycopg

    store = pg_store()
    store.save(make_dataset(), actor="setup")  # checks the schema once
    store.audit("a", "b", "c")  # and not again
    with psycopg.connect(store._conninfo, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {store.schema} CASCADE")
    with pytest.raises(ValidationError, match="dropped or changed by another program.*try again"):
        store.audit("a", "b", "c")
    store.save(make_dataset(), actor="again")  # checked, and made, again
    assert store.load().zones.index.tolist() == make_dataset().zones.index.tolist()
    assert store.verify_audit().ok


def test_postgis_store_has_spatial_indexes_and_srid(pg_store):
    import psycopg

    store = pg_store()
    store.save(make_dataset(), actor="setup")
    with psycopg.connect(store._conninfo, autocommit=True) as con:
        idx = {r[0] for r in con.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE %s",
            (store.schema, "%USING gist%"))}
        srid = con.execute("SELECT srid FROM geometry_columns WHERE f_table_schema = %s AND "
                           "f_table_name = 'zones'", (store.schema,)).fetchone()[0]
    assert {f"{n}_geometry_idx" for n in ("schools", "zones", "parcels", "addresses",
                                          "district")} <= idx
    assert srid == 4545


def test_missing_postgis_store_reads_nothing_and_creates_nothing(pg_store):
    import psycopg

    s = pg_store()
    for call in (s.layers, s.load, lambda: s.read("zones"), s.audit_log):
        with pytest.raises(ValidationError, match=f"schema={s.schema}: no store in this schema"):
            call()
    assert s.get_meta("k") is None and s.data_version() == ""
    with psycopg.connect(s._conninfo, autocommit=True) as con:
        assert con.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                           (s.schema,)).fetchone() is None


def test_duplicate_ids_are_refused_and_nothing_written(store):
    before = snapshot(store)
    ds = make_dataset()
    twice = pd.concat([ds.zones, ds.zones.iloc[:1]])
    with pytest.raises(ValidationError, match=r"layer 'zones': 1 duplicate zone_id value\(s\) \(Z1\)"):
        store.save(ds.with_layers(zones=gpd.GeoDataFrame(twice, crs=ds.zones.crs)),
                   actor="a")
    assert snapshot(store) == before


def test_data_version_changes_with_layers_not_with_rows(store):
    v0 = store.data_version()
    store.audit("a", "b", "c")
    assert store.data_version() == v0
    store.save(make_dataset().with_layers(zones=make_dataset().zones.iloc[:1]))
    assert store.data_version() != v0


def test_copy_store_round_trip(store, pg_store, tmp_path):
    """A full export of a store and a restore into an empty one give identical query results."""
    from zoning.store import copy_store

    store.audit("张老师", "edit_zone", "Z1", {"i": 1})
    rows = pd.DataFrame({"applicant_id": ["A1"], "year": [2027], "level": ["primary"],
                         "id_number": ["11010520200101003X"], "name": ["甲"],
                         "birth_date": ["2020-01-01"], "created_at": ["2027-06-03"]})
    store.write_rows({"applicants": rows}, audit=[{"actor": "a", "action": "import",
                                                   "target": "applicants"}])
    store.set_meta("schema", "7")
    from zoning import auth

    auth.add_user(store, "管理员", role="admin", password="a-long-password-1")
    head = store.verify_audit().head
    backup = GeoPackageStore(tmp_path / "backup.gpkg")
    restored = pg_store()
    copy_store(store, backup)
    copy_store(backup, restored)
    for copy in (backup, restored):
        a, b = store.load(), copy.load()
        for name in ("schools", "zones", "parcels", "addresses", "district"):
            assert_layer_equal(getattr(b, name), getattr(a, name))
        for name in a.tables:
            pd.testing.assert_frame_equal(b.tables[name], a.tables[name], check_dtype=False)
        for name in ("applicants", "audit_log", "plans"):
            pd.testing.assert_frame_equal(copy.query(name), store.query(name), check_dtype=False)
        assert copy.get_meta("schema") == "7"
        # users come along with their hashes: the same password signs in on the copy
        assert auth.authenticate(copy, "管理员", "a-long-password-1").role == "admin"
        check = copy.verify_audit(head=head)
        assert check.ok and check.head == head
        # the copy goes on appending to the same chain
        copy.audit("b", "c", "d")
        log = copy.audit_log()
        assert copy.verify_audit().ok and log["entry_id"].tolist() == list(range(1, len(log) + 1))
        assert log["action"].iloc[-1] == "c"
    with pytest.raises(ValidationError, match="not empty"):
        copy_store(store, backup)


def test_old_store_is_migrated_and_chained(tmp_path):
    # a store written before applicants had the enrolment columns and before the chain
    path = tmp_path / "old.gpkg"
    s = GeoPackageStore(path)
    s.save(make_dataset())
    with closing(sqlite3.connect(path)) as con, con:
        con.execute("DROP TABLE audit_log")
        con.execute("DROP TABLE applicants")
        con.execute("CREATE TABLE audit_log (entry_id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT "
                    "NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, "
                    "detail TEXT NOT NULL DEFAULT '')")
        con.execute("CREATE TABLE applicants (applicant_id TEXT PRIMARY KEY, year INTEGER NOT "
                    "NULL, level TEXT NOT NULL, id_number TEXT NOT NULL, name TEXT NOT NULL, "
                    "birth_date TEXT NOT NULL, created_at TEXT NOT NULL)")
        con.execute("INSERT INTO applicants VALUES ('A1', 2027, 'primary', "
                    "'11010520200101003X', '小明', '2020-01-01', '2027-05-01')")
        for i in range(3):
            con.execute("INSERT INTO audit_log (at, actor, action, target) VALUES "
                        "('2026-01-01T00:00:00+00:00', 'old', 'save', ?)", (f"t{i}",))
    before = s.verify_audit()
    assert not before.ok and "predates" in before.problem
    s.audit("新", "edit_zone", "Z1")
    log = s.audit_log()
    assert len(log) == 4 and log["hash"].notna().all()
    assert s.verify_audit().ok
    apps = s.read("applicants")
    assert apps.loc[0, "applicant_id"] == "A1" and apps.loc[0, "hukou_holder"] == "parent"
    assert {"residence_permit_start", "sibling_group", "disability"} <= set(apps.columns)


def test_write_rows_is_all_or_nothing(store):
    rows = pd.DataFrame({"applicant_id": ["A1", "A2"], "year": [2027, 2027],
                         "level": ["primary", "primary"],
                         "id_number": ["11010520200101003X", "11010520200101003X"],
                         "name": ["甲", "乙"], "birth_date": ["2020-01-01", "2020-01-01"],
                         "created_at": ["2027-06-03", "2027-06-03"]})
    n = len(store.audit_log())
    with pytest.raises(ValidationError, match="never both"):
        store.write_rows({"applicants": rows}, audit=[{"actor": "a", "action": "import",
                                                       "target": "applicants"}])
    assert store.read("applicants").empty and len(store.audit_log()) == n
    store.write_rows({"applicants": rows.iloc[:1]},
                     audit=[{"actor": "a", "action": "import", "target": "applicants"}])
    assert store.query("applicants", {"year": 2027})["applicant_id"].tolist() == ["A1"]
    assert store.audit_log()["action"].iloc[-1] == "import" and store.verify_audit().ok
    with pytest.raises(PersonalDataError):
        store.write_rows({"applicants": rows.iloc[1:].assign(guardian_income=1)})
    with pytest.raises(ValidationError, match="no column"):
        store.write_rows({"applicants": rows.iloc[1:].assign(colour="red")})
