"""Tests for zoning.io: reading every format through one gate, and atomic writing."""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import Point, box

import zoning.io as zio
from zoning.crs import to_working
from zoning.errors import CRSError, PersonalDataError, ValidationError, ZoningError
from zoning.io import (
    atomic_path,
    check_columns,
    read_layer,
    read_table,
    refuse_personal_fields,
    standardise_columns,
    write_layer,
)

# three schools in 渝北区, lon/lat (WGS-84) and the same in the working CRS
LON = np.array([106.50, 106.52, 106.55])
LAT = np.array([29.60, 29.62, 29.65])
X, Y = to_working(LON, LAT)
NAMES = ["渝北区龙溪小学", "两路中学", "空港新城小学"]


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def schools_frame(*, crs: str = "EPSG:4545", **extra) -> gpd.GeoDataFrame:
    """Three schools as a plain frame (school_id a column, as a file holds it)."""
    xs, ys = (LON, LAT) if crs == "EPSG:4326" else (X, Y)
    data = {
        "school_id": ["S1", "S2", "S3"],
        "name": NAMES,
        "level": ["primary", "junior", "primary"],
        "ownership": ["public", "public", "private"],
        **extra,
    }
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(xs, ys), crs=crs)


def zones_frame() -> gpd.GeoDataFrame:
    x0, y0 = 400_000.0, 3_290_000.0
    return gpd.GeoDataFrame(
        {"zone_id": ["Z1", "Z2"], "level": ["primary", "primary"], "school_ids": ["S1", "S2;S3"]},
        geometry=[box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 1000, y0, x0 + 2000, y0 + 1000)],
        crs="EPSG:4545",
    )


def write(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns when crs is None; that is the point
        pyogrio.write_dataframe(gdf, path, **kwargs)
    return path


def assert_schools(gdf: gpd.GeoDataFrame) -> None:
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert gdf.index.name == "school_id"
    assert list(gdf.index) == ["S1", "S2", "S3"]
    assert gdf.crs.to_epsg() == 4545
    assert list(gdf["name"]) == NAMES
    assert list(gdf["level"]) == ["primary", "junior", "primary"]
    np.testing.assert_allclose(gdf.geometry.x, X, atol=1e-3)
    np.testing.assert_allclose(gdf.geometry.y, Y, atol=1e-3)
    assert "school_id" not in gdf.columns


# --------------------------------------------------------------------------------------------
# every format


def test_read_gpkg_picks_layer_by_kind(tmp_path):
    path = tmp_path / "district.gpkg"
    write(zones_frame(), path, layer="zones")
    write(schools_frame(), path, layer="schools")
    assert_schools(read_layer(path, "schools"))
    zones = read_layer(path, "zones")
    assert zones.index.name == "zone_id"
    assert list(zones.index) == ["Z1", "Z2"]
    assert zones.geometry.area.tolist() == pytest.approx([1e6, 1e6])


def test_read_gpkg_explicit_layer_and_only_layer(tmp_path):
    path = tmp_path / "x.gpkg"
    write(schools_frame(), path, layer="学校")
    # the only spatial layer is taken when none is called "schools"
    assert_schools(read_layer(path, "schools"))
    assert_schools(read_layer(path, "schools", layer="学校"))


def test_read_gpkg_missing_or_ambiguous_layer(tmp_path):
    path = tmp_path / "x.gpkg"
    write(schools_frame(), path, layer="学校")
    write(zones_frame(), path, layer="片区")
    with pytest.raises(ValidationError) as err:
        read_layer(path, "schools")
    msg = str(err.value)
    assert "x.gpkg" in msg and "'学校'" in msg and "'片区'" in msg and "layer=" in msg
    with pytest.raises(ValidationError, match=r"has no layer 'schools'.*'学校'"):
        read_layer(path, "schools", layer="schools")


def test_read_geojson_lonlat(tmp_path):
    path = write(schools_frame(crs="EPSG:4326"), tmp_path / "s.geojson")
    assert_schools(read_layer(path, "schools"))


def test_read_shapefile(tmp_path):
    path = write(schools_frame(), tmp_path / "s.shp")
    assert_schools(read_layer(path, "schools"))


def test_read_csv_lonlat(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"school_id": ["S1", "S2", "S3"], "name": NAMES,
                  "level": ["primary", "junior", "primary"],
                  "ownership": ["public", "public", "private"],
                  "lon": LON, "lat": LAT}).to_csv(path, index=False)
    gdf = read_layer(path, "schools")
    assert_schools(gdf)
    assert "lon" not in gdf.columns and "lat" not in gdf.columns


def test_read_csv_chinese_headers_gbk(tmp_path):
    path = tmp_path / "学校.csv"
    df = pd.DataFrame({"学校代码": ["S1", "S2", "S3"], "学校名称": NAMES,
                       "学段": ["primary", "junior", "primary"],
                       "办学性质": ["public", "public", "private"],
                       "经度": LON, "纬度": LAT})
    df.to_csv(path, index=False, encoding="gbk")  # Excel on a Chinese Windows saves GBK
    assert_schools(read_layer(path, "schools"))


def test_read_csv_wkt_needs_input_crs(tmp_path):
    path = tmp_path / "z.csv"
    z = zones_frame()
    pd.DataFrame({"zone_id": z.zone_id, "level": z.level, "school_ids": z.school_ids,
                  "wkt": z.geometry.to_wkt()}).to_csv(path, index=False)
    with pytest.raises(CRSError) as err:
        read_layer(path, "zones")
    assert "zones (z.csv)" in str(err.value) and "input_crs" in str(err.value)
    zones = read_layer(path, "zones", input_crs="EPSG:4545")
    assert zones.crs.to_epsg() == 4545
    assert zones.geometry.geom_equals_exact(z.set_index("zone_id").geometry, 1e-6).all()


def test_read_csv_wkt_lonlat(tmp_path):
    path = tmp_path / "s.csv"
    s = schools_frame(crs="EPSG:4326")
    pd.DataFrame({**{c: s[c] for c in ("school_id", "name", "level", "ownership")},
                  "geometry": s.geometry.to_wkt()}).to_csv(path, index=False)
    assert_schools(read_layer(path, "schools", input_crs="EPSG:4326"))


def test_read_csv_xy_needs_input_crs(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"school_id": ["S1", "S2", "S3"], "name": NAMES,
                  "level": ["primary", "junior", "primary"],
                  "ownership": ["public", "public", "private"],
                  "X": X, "Y": Y}).to_csv(path, index=False)
    with pytest.raises(CRSError, match=r"input_crs='EPSG:4545'"):
        read_layer(path, "schools")
    assert_schools(read_layer(path, "schools", input_crs="EPSG:4545"))
    with pytest.raises(CRSError, match=r"input_crs='nonsense' is not a CRS"):
        read_layer(path, "schools", input_crs="nonsense")


def test_read_csv_blank_coordinates(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("school_id,name,level,ownership,lon,lat\n"
                    "S1,a,primary,public,106.5,29.6\nS2,b,primary,public,,29.6\n")
    with pytest.raises(ValidationError, match=r"1 row\(s\) have no usable lon/lat \(file rows 3"):
        read_layer(path, "schools")


def test_read_excel(tmp_path):
    path = tmp_path / "学校.xlsx"
    df = pd.DataFrame({"学校代码": ["S1", "S2", "S3"], "学校名称": NAMES,
                       "学段": ["primary", "junior", "primary"],
                       "办学性质": ["public", "public", "private"],
                       "经度": LON, "纬度": LAT})
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        df.to_excel(xl, sheet_name="学校", index=False)
        pd.DataFrame({"说明": ["坐标为 WGS-84"]}).to_excel(xl, sheet_name="说明", index=False)
    assert_schools(read_layer(path, "schools"))  # the first sheet
    assert_schools(read_layer(path, "schools", layer="学校"))
    with pytest.raises(ValidationError, match=r"has no sheet '学校2' \(it has '学校', '说明'\)"):
        read_layer(path, "schools", layer="学校2")


def test_read_excel_numeric_ids(tmp_path):
    path = tmp_path / "s.xlsx"
    pd.DataFrame({"school_id": [1001, 1002], "name": ["a", "b"], "level": ["primary"] * 2,
                  "ownership": ["public"] * 2, "lon": LON[:2], "lat": LAT[:2]}).to_excel(
        path, index=False)
    assert list(read_layer(path, "schools").index) == ["1001", "1002"]


def test_read_float_ids_lose_the_point_zero(tmp_path):
    # a numeric id field comes back as float when a value is missing; ids must not read "1001.0"
    s = schools_frame()
    s["school_id"] = [1001.0, 1002.0, 1003.0]
    path = write(s, tmp_path / "s.gpkg", layer="schools")
    assert list(read_layer(path, "schools").index) == ["1001", "1002", "1003"]


# --------------------------------------------------------------------------------------------
# columns


def test_standardise_columns_maps_chinese_headers():
    df = pd.DataFrame(columns=["学校名称", " 学段 ", "办学性质", "片区编号", "对口学校", "户数",
                               "宗地代码", "Unit_Code", "其他"])
    out = standardise_columns(df)
    assert list(out.columns) == ["name", "level", "ownership", "zone_id", "school_ids",
                                 "households", "parcel_id", "unit_code", "其他"]
    assert list(df.columns)[0] == "学校名称"  # a renamed copy


def test_standardise_columns_refuses_two_columns_for_one_name():
    df = pd.DataFrame(columns=["学校名称", "名称", "户数", "Households"])
    with pytest.raises(ValidationError) as err:
        standardise_columns(df, layer="schools")
    msg = str(err.value)
    assert "'学校名称' and '名称' all mean 'name'" in msg
    assert "'户数' and 'Households' all mean 'households'" in msg
    assert "schools" in msg


def test_missing_columns_all_listed(tmp_path):
    s = schools_frame().drop(columns=["name", "ownership"])
    path = write(s, tmp_path / "s.geojson")
    with pytest.raises(ValidationError) as err:
        read_layer(path, "schools")
    msg = str(err.value)
    assert "schools (s.geojson)" in msg
    assert "missing required column(s) name, ownership" in msg
    assert "学校名称" in msg  # the hint about Chinese headers
    assert {p["column"] for p in err.value.problems} == {"name", "ownership"}


def test_missing_id_column(tmp_path):
    path = write(schools_frame().drop(columns=["school_id"]), tmp_path / "s.gpkg")
    with pytest.raises(ValidationError, match=r"missing required column\(s\) school_id"):
        read_layer(path, "schools")


def test_check_columns_accepts_index_name():
    df = pd.DataFrame({"name": ["a"]}, index=pd.Index(["S1"], name="school_id"))
    check_columns(df, ["school_id", "name"], layer="schools")


def test_duplicate_ids(tmp_path):
    s = schools_frame()
    s["school_id"] = ["S1", "S2", "S1"]
    path = write(s, tmp_path / "s.gpkg", layer="schools")
    with pytest.raises(ValidationError) as err:
        read_layer(path, "schools")
    msg = str(err.value)
    assert "school_id must be unique; repeated: S1" in msg and "s.gpkg" in msg


def test_empty_ids(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("school_id,name,level,ownership,lon,lat\n"
                    "S1,a,primary,public,106.5,29.6\n ,b,primary,public,106.5,29.6\n"
                    ",c,primary,public,106.5,29.6\n")
    with pytest.raises(ValidationError) as err:
        read_layer(path, "schools")
    assert "2 record(s) have an empty school_id (record(s) 2, 3" in str(err.value)


def test_missing_geometry(tmp_path):
    s = schools_frame()
    s.loc[1, "geometry"] = None
    path = write(s, tmp_path / "s.gpkg", layer="schools")
    with pytest.raises(ValidationError, match=r"1 feature\(s\) have no geometry \(S2\)"):
        read_layer(path, "schools")


def test_count_columns_are_numbers(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("parcel_id,户数,wkt\nP1,120,\"POLYGON ((0 0, 1 0, 1 1, 0 0))\"\n"
                    "P2, 80 ,\"POLYGON ((1 0, 2 0, 2 1, 1 0))\"\n")
    parcels = read_layer(path, "parcels", input_crs="EPSG:4326")
    assert parcels["households"].dtype == np.int64
    assert parcels["households"].sum() == 200
    path.write_text("parcel_id,households,wkt\nP1,120户,\"POLYGON ((0 0, 1 0, 1 1, 0 0))\"\n")
    with pytest.raises(ValidationError, match=r"column 'households' must hold numbers.*'120户'"):
        read_layer(path, "parcels", input_crs="EPSG:4326")


# --------------------------------------------------------------------------------------------
# personal data (seeds 000 五(四))


def test_forbidden_personal_fields_all_listed(tmp_path):
    s = schools_frame(**{"职业": ["a"] * 3, "家长收入": [1] * 3, "guardian_income": [1] * 3,
                         "occupation": ["b"] * 3})
    path = write(s, tmp_path / "s.gpkg", layer="schools")
    before = sha(path)
    with pytest.raises(PersonalDataError) as err:
        read_layer(path, "schools")
    msg = str(err.value)
    for col in ("职业", "家长收入", "guardian_income", "occupation"):
        assert repr(col) in msg
    assert "五(四)" in msg and "delete these columns" in msg and "s.gpkg" in msg
    assert isinstance(err.value, ValidationError)
    assert sha(path) == before


@pytest.mark.parametrize("col", ["guardianIncome", "Father Job", "parent-occupation",
                                 "income2023", "SALARY", "position_x", "工作单位", "月薪"])
def test_forbidden_in_any_spelling(col):
    with pytest.raises(PersonalDataError, match="rename"):
        refuse_personal_fields(pd.DataFrame(columns=[col]), layer="t")


def test_legit_columns_pass():
    cols = ["x", "y", "households", "name", "school_ids", "parcel_id", "unit_code", "address",
            "street", "community", "level", "ownership", "students", "class_no", "grade",
            "births", "year", "zone_id", "学校名称", "户数", "geometry", "jobsite_area"]
    refuse_personal_fields(pd.DataFrame(columns=cols), layer="t")


def test_read_table_refuses_personal_fields(tmp_path):
    path = tmp_path / "classes.csv"
    path.write_text("school_id,grade,class_no,students,家长职务\nS1,1,1,40,x\n")
    with pytest.raises(PersonalDataError, match="家长职务"):
        read_table(path, "classes")


# --------------------------------------------------------------------------------------------
# CRS


def test_shapefile_without_prj(tmp_path):
    path = write(schools_frame(), tmp_path / "s.shp")
    path.with_suffix(".prj").unlink()
    with pytest.raises(CRSError) as err:
        read_layer(path, "schools")
    msg = str(err.value)
    assert "schools (s.shp)" in msg and "set_crs" in msg and "input_crs" in msg and ".prj" in msg
    assert_schools(read_layer(path, "schools", input_crs="EPSG:4545"))


def test_gpkg_without_crs(tmp_path):
    path = write(schools_frame().set_crs(None, allow_override=True), tmp_path / "s.gpkg",
                 layer="schools")
    with pytest.raises(CRSError, match=r"'schools \(s.gpkg\)' has no coordinate.*set_crs"):
        read_layer(path, "schools")


def test_lonlat_labelled_as_metres(tmp_path):
    s = schools_frame(crs="EPSG:4326").set_crs("EPSG:4545", allow_override=True)
    path = write(s, tmp_path / "s.gpkg", layer="schools")
    with pytest.raises(CRSError, match=r"schools \(s.gpkg\).*look like longitude/latitude"):
        read_layer(path, "schools")


def test_metres_labelled_as_lonlat(tmp_path):
    s = schools_frame().set_crs("EPSG:4326", allow_override=True)
    path = write(s, tmp_path / "s.gpkg", layer="schools")
    with pytest.raises(CRSError, match=r"schools \(s.gpkg\).*look like projected metres"):
        read_layer(path, "schools")


def test_gcj02_source_shifts_about_500_m(tmp_path):
    path = write(schools_frame(crs="EPSG:4326"), tmp_path / "s.geojson")
    plain = read_layer(path, "schools")
    shifted = read_layer(path, "schools", source="gcj02")
    d = plain.geometry.distance(shifted.geometry)
    assert ((d > 300) & (d < 700)).all(), d
    gx, gy = to_working(LON, LAT, source="gcj02")
    np.testing.assert_allclose(shifted.geometry.x, gx, atol=1e-3)
    np.testing.assert_allclose(shifted.geometry.y, gy, atol=1e-3)


# --------------------------------------------------------------------------------------------
# shapefile encodings


def gbk_shapefile(tmp_path: Path) -> Path:
    path = write(schools_frame(), tmp_path / "s.shp", encoding="GBK")
    path.with_suffix(".cpg").unlink()
    # the names really are GBK bytes in the .dbf
    assert "渝北区龙溪小学".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    return path


def test_gbk_shapefile_without_cpg(tmp_path):
    assert_schools(read_layer(gbk_shapefile(tmp_path), "schools"))


@pytest.mark.parametrize("cpg", ["936", "GBK", "cp936"])
def test_gbk_shapefile_with_cpg(tmp_path, cpg):
    path = gbk_shapefile(tmp_path)
    path.with_suffix(".cpg").write_text(cpg)
    assert_schools(read_layer(path, "schools"))


def test_utf8_shapefile_with_wide_field_without_cpg(tmp_path):
    # a 144-byte field puts the width byte 0x90 in the .dbf header, which is not text
    s = schools_frame(remark=["重庆市渝北区" * 8] * 3)
    path = write(s, tmp_path / "s.shp", encoding="UTF-8")
    path.with_suffix(".cpg").unlink()
    assert zio._dbf_encoding(path) == "UTF-8"
    gdf = read_layer(path, "schools")
    assert_schools(gdf)
    assert gdf["remark"].iloc[0] == "重庆市渝北区" * 8


def test_utf8_detection_survives_a_cut_inside_a_character(tmp_path):
    # 1 deletion byte + 150 bytes of 3-byte characters per record: the 2 MB sample ends at byte
    # 5 of a record, inside the second character
    n = 13_300
    df = gpd.GeoDataFrame({"t": ["中" * 50] * n},
                          geometry=gpd.points_from_xy(np.full(n, 4e5), np.full(n, 3.29e6)),
                          crs="EPSG:4545")
    path = write(df, tmp_path / "big.shp", encoding="UTF-8")
    path.with_suffix(".cpg").unlink()
    raw = path.with_suffix(".dbf").read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    assert int.from_bytes(raw[10:12], "little") == 151
    cut = raw[header_len:header_len + 2_000_000]
    with pytest.raises(UnicodeDecodeError):
        cut.decode("utf-8")
    assert zio._dbf_encoding(path) == "UTF-8"


# --------------------------------------------------------------------------------------------
# damaged files


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".xlsx"])
@pytest.mark.parametrize("keep", [100, 0.5])
def test_truncated_file(tmp_path, suffix, keep):
    path = tmp_path / f"s{suffix}"
    if suffix == ".xlsx":
        df = pd.DataFrame(schools_frame(crs="EPSG:4326").drop(columns="geometry"))
        df.assign(lon=LON, lat=LAT).to_excel(path, index=False)
    else:
        write(schools_frame(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: keep if isinstance(keep, int) else int(len(raw) * keep)])
    with pytest.raises(ValidationError) as err:
        read_layer(path, "schools")
    msg = str(err.value)
    assert str(path) in msg and "truncated" in msg and "Export it again" in msg
    assert not isinstance(err.value, PersonalDataError)


@pytest.mark.parametrize(("part", "keep"), [(".shp", 100), (".shp", 150), (".dbf", 200),
                                            (".shx", 120)])
def test_truncated_shapefile(tmp_path, part, keep):
    path = write(schools_frame(), tmp_path / "s.shp")
    f = path.with_suffix(part)
    f.write_bytes(f.read_bytes()[:keep])
    with pytest.raises(ValidationError) as err:
        read_layer(path, "schools")
    msg = str(err.value)
    assert "s.shp" in msg and "truncated" in msg and f"s{part}" in msg


def test_shapefile_missing_dbf(tmp_path):
    path = write(schools_frame(), tmp_path / "s.shp")
    path.with_suffix(".dbf").unlink()
    with pytest.raises(ValidationError, match=r"\.dbf file\(s\) are missing"):
        read_layer(path, "schools")


def test_empty_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"")
    with pytest.raises(ValidationError, match="cannot be read"):
        read_layer(path, "schools")


def test_missing_file_and_unknown_kind(tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        read_layer(tmp_path / "nope.gpkg", "schools")
    with pytest.raises(ValidationError, match="not a layer kind; use one of schools"):
        read_layer(tmp_path / "nope.gpkg", "school")
    with pytest.raises(ValidationError, match="not a table kind"):
        read_table(tmp_path / "nope.csv", "class")


# --------------------------------------------------------------------------------------------
# tables


def test_read_table_csv_and_gpkg(tmp_path):
    path = tmp_path / "classes.csv"
    path.write_text("学校代码,年级,班级,学生数\nS1,1,1,45\nS1,1,2,44\n")
    df = read_table(path, "classes")
    assert list(df.columns) == ["school_id", "grade", "class_no", "students"]
    assert df["students"].dtype == np.int64 and df["students"].sum() == 89
    assert df["school_id"].tolist() == ["S1", "S1"]
    gpkg = tmp_path / "t.gpkg"
    write(pd.DataFrame(df), gpkg, layer="classes")
    write(schools_frame(), gpkg, layer="schools")
    back = read_table(gpkg, "classes")
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


def test_read_table_missing_columns(tmp_path):
    path = tmp_path / "births.csv"
    path.write_text("社区,births\n龙溪,100\n")
    with pytest.raises(ValidationError, match=r"births \(births.csv\).*missing required "
                                              r"column\(s\) year"):
        read_table(path, "births")


# --------------------------------------------------------------------------------------------
# writing


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_write_layer_round_trip(tmp_path, suffix):
    schools = read_layer(write(schools_frame(), tmp_path / "in.gpkg"), "schools")
    path = tmp_path / f"out{suffix}"
    write_layer(schools, path, layer="schools")
    back = read_layer(path, "schools")
    assert_schools(back)
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                  pd.DataFrame(schools.drop(columns="geometry")),
                                  check_dtype=False)


def test_write_layer_replaces_one_gpkg_layer_and_keeps_others(tmp_path):
    path = tmp_path / "d.gpkg"
    write(zones_frame(), path, layer="zones")
    schools = read_layer(write(schools_frame(), tmp_path / "in.gpkg"), "schools")
    write_layer(schools, path, layer="schools")
    write_layer(schools.iloc[:1], path, layer="schools")
    assert list(read_layer(path, "schools").index) == ["S1"]
    assert list(read_layer(path, "zones").index) == ["Z1", "Z2"]


def test_write_shapefile_gbk(tmp_path):
    schools = read_layer(write(schools_frame(), tmp_path / "in.gpkg"), "schools")
    path = tmp_path / "out" / "学校.shp"  # a folder that does not exist yet
    write_layer(schools, path, encoding="GBK")
    assert path.with_suffix(".cpg").read_text().strip().upper() in ("GBK", "936", "CP936")
    assert "渝北区龙溪小学".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    assert_schools(read_layer(path, "schools"))
    # and without the .cpg, as Chinese GIS software would hand it over
    path.with_suffix(".cpg").unlink()
    assert_schools(read_layer(path, "schools"))


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_write_shapefile_removes_stale_parts(tmp_path):
    schools = read_layer(write(schools_frame(), tmp_path / "in.gpkg"), "schools")
    path = tmp_path / "s.shp"
    write_layer(schools, path)
    path.with_suffix(".qix").write_bytes(b"old spatial index")
    write_layer(schools.set_crs(None, allow_override=True), path)
    assert not path.with_suffix(".qix").exists()
    assert not path.with_suffix(".prj").exists()  # the old CRS does not describe the new data


def test_write_layer_unknown_suffix(tmp_path):
    with pytest.raises(ValidationError, match=r"cannot write '.kml'; use .gpkg"):
        write_layer(schools_frame(), tmp_path / "s.kml")


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_write_layer_is_atomic(tmp_path, monkeypatch, suffix):
    schools = read_layer(write(schools_frame(), tmp_path / "in.gpkg"), "schools")
    folder = tmp_path / "out"
    path = folder / f"s{suffix}"
    write_layer(schools, path, layer="schools")
    before = {p.name: sha(p) for p in folder.iterdir()}
    real = pyogrio.write_dataframe

    def half_way(df, target, **kwargs):
        real(df.iloc[:1], target, **kwargs)  # part of the data is on disk ...
        Path(target).with_suffix(Path(target).suffix).write_bytes(b"garbage")
        raise RuntimeError("disk full")  # ... when the write fails

    monkeypatch.setattr(pyogrio, "write_dataframe", half_way)
    with pytest.raises(RuntimeError, match="disk full"):
        write_layer(schools, path, layer="schools")
    assert {p.name: sha(p) for p in folder.iterdir()} == before  # no temp files, same bytes
    monkeypatch.undo()
    assert_schools(read_layer(path, "schools"))


def test_atomic_path_failure_leaves_original(tmp_path):
    path = tmp_path / "f.gpkg"
    path.write_bytes(b"original")
    with pytest.raises(KeyError), atomic_path(path, copy=True) as tmp:
        assert tmp.read_bytes() == b"original"
        assert tmp.parent == path.parent and tmp != path
        tmp.write_bytes(b"half")
        Path(str(tmp) + "-journal").write_bytes(b"j")
        raise KeyError("boom")
    assert path.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gpkg"]


def test_atomic_path_success_replaces_and_keeps_mode(tmp_path):
    path = tmp_path / "f.gpkg"
    path.write_bytes(b"original")
    os.chmod(path, 0o644)
    with atomic_path(path) as tmp:
        assert not tmp.exists()  # copy=False: a fresh file
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not the 0o600 of a temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gpkg"]


def test_atomic_path_new_file_gets_umask_mode(tmp_path):
    path = tmp_path / "sub" / "new.geojson"
    old = os.umask(0o022)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(old)
    assert path.read_text() == "{}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_errors_are_zoning_errors():
    # callers that only know the built-ins still catch them
    assert issubclass(PersonalDataError, ValueError)
    assert issubclass(CRSError, ZoningError)


def test_read_layer_zones_polygons(tmp_path):
    z = zones_frame()
    z["geometry"] = [shapely.Polygon([(4e5, 3.29e6), (4e5 + 10, 3.29e6), (4e5, 3.29e6 + 10)]),
                     Point(4e5, 3.29e6).buffer(10)]
    zones = read_layer(write(z, tmp_path / "z.geojson"), "zones")
    assert zones.geometry.area.round().tolist() == [50, 314]


def test_write_gpkg_without_a_layer_name_names_it_after_the_file(tmp_path):
    """`zoning import-text --out 导入 片区.gpkg` once failed: the temporary name is no layer name."""
    import geopandas as gpd
    import pyogrio
    import shapely

    from zoning.io import write_layer

    g = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(400000, 3290000)], crs="EPSG:4545")
    path = tmp_path / "导入 片区.gpkg"
    write_layer(g, path)
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["导入_片区"]
