"""Read and write layers: GeoPackage, GeoJSON, Shapefile (GBK too), CSV, Excel.

Every layer that comes in goes through the same gate: its columns are mapped (Chinese headers
accepted), required columns are checked (all missing ones reported at once), forbidden personal
fields are refused (seeds 000 五(四): 严禁采集家长职务和收入等信息), the id column becomes the index,
and the geometry is converted to the working CRS (after a check that the CRS fits the coordinates).
"""

from __future__ import annotations

import codecs
import glob
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from zoning.crs import to_working_gdf
from zoning.errors import CRSError, PersonalDataError, ValidationError, ZoningError
from zoning.settings import WORKING_CRS

__all__ = [
    "ALIASES",
    "LAYERS",
    "TABLES",
    "atomic_path",
    "check_columns",
    "read_layer",
    "read_table",
    "refuse_personal_fields",
    "standardise_columns",
    "write_layer",
]

#: Spatial layers: id column, required columns (besides the id and geometry), geometry kind.
LAYERS: dict[str, dict] = {
    "schools": {
        "id": "school_id",
        "required": ("name", "level", "ownership"),
        "geom": "Point",
    },
    "zones": {"id": "zone_id", "required": ("level", "school_ids"), "geom": "Polygon"},
    "parcels": {"id": "parcel_id", "required": ("households",), "geom": "Polygon"},
    "addresses": {"id": "address_id", "required": ("address",), "geom": "Point"},
    "district": {"id": "district_id", "required": ("name",), "geom": "Polygon"},
}

#: Attribute tables: required columns.
TABLES: dict[str, tuple[str, ...]] = {
    "classes": ("school_id", "grade", "class_no", "students"),
    "enrolment": ("school_id", "year", "grade", "students"),
    "births": ("community", "year", "births"),
    "housing": ("parcel_id", "year", "households"),
}

#: Column names as Chinese GIS and education offices write them → ours.
ALIASES: dict[str, str] = {
    "学校代码": "school_id",
    "学校标识码": "school_id",
    "学校名称": "name",
    "名称": "name",
    "学段": "level",
    "办学性质": "ownership",
    "片区编号": "zone_id",
    "片区代码": "zone_id",
    "对口学校": "school_ids",
    "学校": "school_ids",
    "不动产单元号": "unit_code",
    "宗地代码": "parcel_id",
    "宗地编号": "parcel_id",
    "户数": "households",
    "地址": "address",
    "地址编号": "address_id",
    "街道": "street",
    "街镇": "street",
    "社区": "community",
    "村社区": "community",
    "年份": "year",
    "年级": "grade",
    "班级": "class_no",
    "学生数": "students",
    "出生人数": "births",
}

# Guardian occupation and income may not be collected (seeds 000 五(四)). Matched on whole words in
# English and on substrings in Chinese; the list is deliberately broad: a false refusal is fixed by
# renaming a column, a false acceptance stores data the policy forbids.
_FORBIDDEN_EN = re.compile(
    r"(^|_)(occupation|job|jobs|employer|employment|position|title|income|salary|wage|wages|"
    r"earnings|rank)($|_)",
    re.IGNORECASE,
)
_FORBIDDEN_ZH = ("职业", "职务", "工作单位", "单位名称", "收入", "工资", "薪", "职级", "职称")

# Count columns: a CSV or Excel file is read as text (ids keep their leading zeros), so these are
# converted to numbers, as a GeoPackage or shapefile already gives them.
_NUMERIC = ("households", "students", "births", "year", "grade")


def _words(column: str) -> str:
    """Split a column name into ``_``-separated lower-case words for :data:`_FORBIDDEN_EN`.

    ``guardianIncome``, ``Guardian Income``, ``guardian-income`` and ``income2023`` all become
    words the whole-word pattern sees; without this only ``_`` separated a word.
    """
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", column)
    text = re.sub(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", "_", text)
    return re.sub(r"[^0-9A-Za-z]+", "_", text).lower()


def standardise_columns(df: pd.DataFrame, *, layer: str | None = None) -> pd.DataFrame:
    """Rename Chinese or differently-cased headers to the names this package uses.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table; columns not in :data:`ALIASES` are kept as they are (stripped, lower-cased when
        ASCII).
    layer : str, optional
        Name used in the message.

    Returns
    -------
    pandas.DataFrame
        A renamed copy.

    Raises
    ------
    ValidationError
        If two columns end up with the same name (``名称`` and ``学校名称`` both mean ``name``),
        which would otherwise make one silently shadow the other.
    """
    mapping = {}
    sources: dict[str, list[str]] = {}
    for col in df.columns:
        if col == getattr(df, "_geometry_column_name", None):
            sources.setdefault(str(col), []).append(str(col))
            continue
        name = str(col).strip()
        if name in ALIASES:
            name = ALIASES[name]
        elif name.isascii():
            name = name.lower()
        sources.setdefault(name, []).append(str(col))
        if name != col:
            mapping[col] = name
    clashes = {k: v for k, v in sources.items() if len(v) > 1}
    if clashes:
        what = "; ".join(f"{' and '.join(map(repr, v))} all mean {k!r}" for k, v in clashes.items())
        where = f"layer {layer!r}: " if layer else ""
        raise ValidationError(
            f"{where}columns {what}; keep one of them, or rename the others to something else",
            problems=[{"layer": layer, "column": k, "kind": "duplicate_column"} for k in clashes],
        )
    return df.rename(columns=mapping) if mapping else df


def refuse_personal_fields(df: pd.DataFrame, *, layer: str) -> None:
    """Refuse columns for guardians' occupation or income (seeds 000 五(四)).

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read.
    layer : str
        Name used in the message.

    Raises
    ------
    PersonalDataError
        Naming every forbidden column and the fix (drop the column before importing).
    """
    bad = [
        str(c)
        for c in df.columns
        if _FORBIDDEN_EN.search(_words(str(c))) or any(k in str(c) for k in _FORBIDDEN_ZH)
    ]
    if bad:
        raise PersonalDataError(
            f"layer {layer!r}: column(s) {', '.join(map(repr, bad))} hold guardians' occupation or "
            "income, which may not be collected (seeds 000 五(四): 严禁采集家长职务和收入等信息); "
            "delete these columns from the file and import it again (a column that means "
            "something else, e.g. 'position' for a map location, must be renamed)",
            problems=[{"layer": layer, "column": c, "kind": "forbidden_personal_field"} for c in bad],
        )


def check_columns(df: pd.DataFrame, required: Iterable[str], *, layer: str) -> None:
    """Check that every required column is present; report all missing ones at once.

    Raises
    ------
    ValidationError
        Listing the missing columns, the columns found, and the fix.
    """
    missing = [c for c in required if c not in df.columns and c != df.index.name]
    if missing:
        found = ", ".join(map(str, df.columns))
        raise ValidationError(
            f"layer {layer!r}: missing required column(s) {', '.join(missing)} (found: {found}); "
            "add them or rename the matching columns (Chinese headers such as 学校名称, 片区编号, "
            "户数 are recognised)",
            problems=[{"layer": layer, "column": c, "kind": "missing_column"} for c in missing],
        )


# --------------------------------------------------------------------------------------------
# reading


def _dbf_encoding(path: Path) -> str | None:
    """Guess a shapefile's attribute encoding: its .cpg if any, else UTF-8 if it decodes, else GBK.

    Chinese GIS software (ArcGIS with a Chinese locale, SuperMap, MapGIS) writes GBK without a .cpg;
    GDAL would then assume ISO-8859-1 and turn every name into mojibake.
    """
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        text = cpg.read_text(errors="replace").strip().upper()
        return {"936": "GBK", "CP936": "GBK", "GB2312": "GBK", "GB18030": "GB18030"}.get(text, text)
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        return None
    raw = dbf.read_bytes()
    if raw[:1] == b"":
        return None
    header_len = int.from_bytes(raw[8:10], "little") if len(raw) >= 10 else 0
    body = raw[header_len:] if header_len else raw[32:]
    # field names in the header may be Chinese too
    sample = raw[32:header_len] + body[:2_000_000]
    if all(b < 0x80 for b in sample):
        return "UTF-8"
    try:
        sample.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        return "GBK"


def _geometry_from_table(df: pd.DataFrame, *, layer: str, crs: str | None) -> gpd.GeoDataFrame:
    """Build geometry for a CSV/Excel table from lon/lat, x/y or WKT columns."""
    cols = {str(c).lower(): c for c in df.columns}
    for xs, ys in (("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("经度", "纬度"),
                   ("x", "y")):
        if xs in cols and ys in cols:
            x = pd.to_numeric(df[cols[xs]], errors="coerce").to_numpy(float)
            y = pd.to_numeric(df[cols[ys]], errors="coerce").to_numpy(float)
            bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
            if bad.size:
                rows = ", ".join(str(i + 2) for i in bad[:10])
                raise ValidationError(
                    f"layer {layer!r}: {bad.size} row(s) have no usable {xs}/{ys} (file rows {rows}"
                    f"{' …' if bad.size > 10 else ''}); fill them in or remove those rows"
                )
            if crs is None and xs not in ("x",):
                crs = "EPSG:4326"
            rest = df.drop(columns=[cols[xs], cols[ys]])
            return gpd.GeoDataFrame(rest, geometry=gpd.points_from_xy(x, y), crs=crs)
    for name in ("wkt", "geometry", "geom"):
        if name in cols:
            try:
                geoms = shapely.from_wkt(df[cols[name]].astype(str).to_numpy(), on_invalid="raise")
            except shapely.errors.GEOSException as exc:
                raise ValidationError(
                    f"layer {layer!r}: column {cols[name]!r} holds text that is not WKT ({exc}); "
                    "fix the geometry text"
                ) from exc
            return gpd.GeoDataFrame(df.drop(columns=[cols[name]]), geometry=geoms, crs=crs)
    raise ValidationError(
        f"layer {layer!r}: a table needs lon/lat (or x/y, 经度/纬度) columns or a WKT column for its "
        f"geometry; found only {', '.join(map(str, df.columns))}"
    )


def _read_any(path: Path, *, layer: str | None, encoding: str | None, crs: str | None,
              name: str) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            try:
                df = pd.read_csv(path, encoding=encoding or "utf-8-sig", dtype=str)
            except UnicodeDecodeError:
                df = pd.read_csv(path, encoding="gb18030", dtype=str)
            return df
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(path, sheet_name=layer or 0, dtype=str)
        kwargs = {}
        if suffix == ".shp":
            enc = encoding or _dbf_encoding(path)
            if enc:
                kwargs["encoding"] = enc
        elif encoding:
            kwargs["encoding"] = encoding
        if suffix == ".gpkg" and layer is None:
            layer = name if name in {r[0] for r in pyogrio.list_layers(path)} else None
        return pyogrio.read_dataframe(path, layer=layer, **kwargs)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.GeometryError, ValueError, OSError) as exc:
        if isinstance(exc, ZoningError):
            raise
        raise ValidationError(
            f"{path}: cannot be read as a {suffix or 'data'} file ({exc}); the file may be truncated "
            "or not what its name says. Export it again from the source software (a shapefile needs "
            "its .shp, .shx and .dbf together)"
        ) from exc


def read_layer(
    path: str | os.PathLike,
    kind: str,
    *,
    layer: str | None = None,
    source: str | None = None,
    crs: str = WORKING_CRS,
    encoding: str | None = None,
    input_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one spatial layer, check it, and return it in the working CRS.

    Parameters
    ----------
    path : path-like
        GeoPackage, GeoJSON, Shapefile, CSV (lon/lat, x/y or WKT columns) or Excel file.
    kind : {"schools", "zones", "parcels", "addresses", "district"}
        What the layer holds; decides the id column and the required columns.
    layer : str, optional
        Layer (GeoPackage) or sheet (Excel) name; defaults to ``kind`` in a GeoPackage.
    source : {"gcj02", "bd09"}, optional
        The lon/lat are in a Chinese web-map datum (files cannot say so themselves).
    crs : str
        Working CRS to convert to.
    encoding : str, optional
        Attribute encoding; shapefiles without a .cpg are detected (UTF-8, else GBK).
    input_crs : str, optional
        CRS to assume for a CSV/Excel with x/y columns, which carry none.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by the layer's id column, in ``crs``.

    Raises
    ------
    ValidationError
        Unreadable file, missing columns, duplicate or empty ids.
    PersonalDataError
        A column holds guardians' occupation or income.
    CRSError
        No CRS, or one that does not fit the coordinates.
    """
    if kind not in LAYERS:
        raise ValidationError(f"kind {kind!r} is not a layer kind; use one of {', '.join(LAYERS)}")
    spec = LAYERS[kind]
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file; check the path")
    name = layer or kind
    df = _read_any(path, layer=layer, encoding=encoding, crs=input_crs, name=kind)
    df = standardise_columns(df)
    refuse_personal_fields(df, layer=name)
    if not isinstance(df, gpd.GeoDataFrame):
        df = _geometry_from_table(df, layer=name, crs=input_crs)
    check_columns(df, (spec["id"], *spec["required"]), layer=name)
    gdf = _set_id_index(df, spec["id"], layer=name)
    missing_geom = gdf.geometry.isna() | gdf.geometry.is_empty
    if missing_geom.any():
        ids = ", ".join(map(str, gdf.index[missing_geom][:10]))
        raise ValidationError(
            f"layer {name!r}: {int(missing_geom.sum())} feature(s) have no geometry ({ids}); "
            "draw them or remove them",
        )
    gdf = to_working_gdf(gdf, layer=name, source=source, crs=crs)
    return gdf


def _set_id_index(df: pd.DataFrame, id_col: str, *, layer: str) -> pd.DataFrame:
    ids = df[id_col].astype("string").str.strip()
    empty = ids.isna() | (ids == "")
    if empty.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(empty.to_numpy())[:10])
        raise ValidationError(
            f"layer {layer!r}: {int(empty.sum())} row(s) have an empty {id_col} (rows {rows}); "
            f"give every feature an id"
        )
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        shown = ", ".join(sorted(set(dup.astype(str)))[:10])
        raise ValidationError(
            f"layer {layer!r}: {id_col} must be unique; repeated: {shown}; "
            "give each feature its own id or merge the duplicates"
        )
    out = df.drop(columns=[id_col])
    out.index = pd.Index(ids.astype(str).to_numpy(), name=id_col)
    return out


def read_table(path: str | os.PathLike, kind: str, *, sheet: str | None = None) -> pd.DataFrame:
    """Read an attribute table (classes, enrolment, births, housing) from CSV, Excel or GeoPackage.

    Raises
    ------
    ValidationError
        Unreadable file or missing columns.
    PersonalDataError
        A column holds guardians' occupation or income.
    """
    if kind not in TABLES:
        raise ValidationError(f"kind {kind!r} is not a table kind; use one of {', '.join(TABLES)}")
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file; check the path")
    df = _read_any(path, layer=sheet, encoding=None, crs=None, name=kind)
    if isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    df = standardise_columns(df)
    refuse_personal_fields(df, layer=kind)
    check_columns(df, TABLES[kind], layer=kind)
    return df


# --------------------------------------------------------------------------------------------
# writing


class atomic_path:  # noqa: N801 - used like a function: ``with atomic_path(p) as tmp``
    """Context manager: write to a temporary file beside ``path``, then replace ``path`` at once.

    If the block raises, the temporary file is removed and ``path`` is left exactly as it was.
    With ``copy=True`` the temporary file starts as a copy of ``path`` (for updates in place).
    """

    def __init__(self, path: str | os.PathLike, *, copy: bool = False):
        self.path = Path(path)
        self.copy = copy

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=self.path.parent
        )
        os.close(fd)
        self.tmp = Path(tmp)
        if self.copy and self.path.exists():
            self.tmp.write_bytes(self.path.read_bytes())
        else:
            self.tmp.unlink()
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            with open(self.tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self.tmp, self.path)
        else:
            for extra in (self.tmp, *self.tmp.parent.glob(self.tmp.name + "-*")):
                extra.unlink(missing_ok=True)
        return False


_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}


def write_layer(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    encoding: str | None = None,
) -> None:
    """Write one layer (or attribute table) atomically.

    A GeoJSON or Shapefile is written to a temporary file and moved into place. For a GeoPackage
    the whole file is copied, the layer replaced in the copy, and the copy moved into place, so a
    failure half-way leaves the original file as it was. Shapefiles get a ``.cpg`` beside them.

    Parameters
    ----------
    gdf : GeoDataFrame or DataFrame
        The index is written as a column under its name.
    path : path-like
        Destination; the driver follows the suffix.
    layer : str, optional
        Layer name in a GeoPackage.
    encoding : str, optional
        Attribute encoding for a Shapefile (``"GBK"`` for Chinese GIS software; default UTF-8).
    """
    path = Path(path)
    driver = _DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise ValidationError(
            f"{path}: cannot write {path.suffix!r}; use .gpkg, .geojson or .shp"
        )
    frame = gdf.reset_index() if gdf.index.name else gdf
    if driver == "ESRI Shapefile":
        enc = encoding or "UTF-8"
        with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as td:
            tmp = Path(td) / path.name
            pyogrio.write_dataframe(frame, tmp, driver=driver, encoding=enc)
            tmp.with_suffix(".cpg").write_text(enc)
            for part in Path(td).iterdir():
                os.replace(part, path.with_suffix(part.suffix))
        return
    with atomic_path(path, copy=driver == "GPKG") as tmp:
        kwargs = {"layer": layer} if driver == "GPKG" else {}
        if driver == "GPKG" and tmp.exists():
            kwargs["append"] = False
        pyogrio.write_dataframe(frame, tmp, driver=driver, **kwargs)
