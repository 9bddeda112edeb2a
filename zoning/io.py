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
    "read_features",
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
_NUMERIC = ("households", "students", "births", "year", "grade", "class_no")


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


def _sidecar(path: Path, ext: str) -> Path | None:
    """The shapefile part with suffix ``ext`` beside ``path`` (``.dbf`` or ``.DBF``), if any."""
    for candidate in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if candidate.exists():
            return candidate
    return None


#: What a .cpg may say → the encoding name GDAL (iconv) understands.
_CPG = {"936": "GBK", "CP936": "GBK", "GB2312": "GBK", "GBK": "GBK", "GB18030": "GB18030",
        "UTF8": "UTF-8", "UTF-8": "UTF-8", "65001": "UTF-8"}


def _dbf_encoding(path: Path) -> str | None:
    """Guess a shapefile's attribute encoding: its .cpg if any, else UTF-8 if it decodes, else GBK.

    Chinese GIS software (ArcGIS with a Chinese locale, SuperMap, MapGIS) writes GBK without a .cpg;
    GDAL would then assume ISO-8859-1 and turn every name into mojibake.
    """
    cpg = _sidecar(path, ".cpg")
    if cpg is not None:
        text = cpg.read_text(errors="replace").strip().upper()
        if text.isdigit() and text not in _CPG:
            return f"CP{text}"  # a Windows code page number, as ArcGIS writes it
        return _CPG.get(text, text) or None
    dbf = _sidecar(path, ".dbf")
    if dbf is None:
        return None
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return None
        header_len = int.from_bytes(head[8:10], "little")
        descriptors = fh.read(max(header_len - 32, 0))
        body = fh.read(2_000_000)
    # Field names may be Chinese too. Only the 11-byte name of each 32-byte field descriptor is
    # text: the rest holds binary widths (a 200-character field has the byte 0xC8).
    names = b"".join(descriptors[i:i + 11] for i in range(0, len(descriptors) - 31, 32))
    sample = names + body
    if sample.isascii():
        return "UTF-8"
    try:
        # incremental: the 2 MB sample may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "UTF-8"
    except UnicodeDecodeError:
        return "GBK"


def _check_shapefile(path: Path) -> None:
    """Refuse a shapefile with a missing or truncated part before GDAL reads it.

    GDAL reads a cut-off .shp without complaint and returns empty geometries for the missing
    records, so the lengths the headers declare are compared with the files' sizes.
    """
    parts = {ext: _sidecar(path, ext) for ext in (".shx", ".dbf")}
    missing = [ext for ext, part in parts.items() if part is None]
    if missing:
        raise ValidationError(
            f"{path}: the shapefile's {' and '.join(missing)} file(s) are missing beside it; copy "
            "all its parts (.shp, .shx, .dbf, .prj, .cpg) together"
        )
    problems = []
    records = {}
    for part in (path, parts[".shx"]):
        with open(part, "rb") as fh:
            head = fh.read(100)
        size = part.stat().st_size
        if len(head) < 100 or int.from_bytes(head[:4], "big") != 9994:
            problems.append(f"{part.name} has no shapefile header")
            continue
        declared = int.from_bytes(head[24:28], "big") * 2
        if size < declared:
            problems.append(f"{part.name} has {size:,} bytes, its header declares {declared:,}")
        if part is parts[".shx"]:
            records["shx"] = (declared - 100) // 8
    dbf = parts[".dbf"]
    with open(dbf, "rb") as fh:
        head = fh.read(32)
    if len(head) < 32:
        problems.append(f"{dbf.name} has no dBASE header")
    else:
        n = int.from_bytes(head[4:8], "little")
        declared = int.from_bytes(head[8:10], "little") + n * int.from_bytes(head[10:12], "little")
        size = dbf.stat().st_size
        if size < declared:
            problems.append(f"{dbf.name} has {size:,} bytes, its header declares {declared:,}")
        records["dbf"] = n
    if not problems and len(records) == 2 and records["shx"] != records["dbf"]:
        problems.append(
            f"{parts['.shx'].name} indexes {records['shx']} shapes, {dbf.name} has {records['dbf']} "
            "records"
        )
    if problems:
        raise ValidationError(
            f"{path}: the shapefile is incomplete, the file may be truncated ({'; '.join(problems)});"
            " copy it again, or export it again from the source software with all its parts"
        )


def _parse_crs(crs: str | None, *, layer: str) -> pyproj.CRS | None:
    """``input_crs`` as a :class:`pyproj.CRS`, or a :class:`CRSError` naming the layer."""
    if crs is None:
        return None
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"layer {layer!r}: input_crs={crs!r} is not a CRS ({exc}); give an EPSG code such as "
            "'EPSG:4326' (longitude/latitude) or 'EPSG:4545'"
        ) from exc


def _geometry_from_table(df: pd.DataFrame, *, layer: str, crs: str | None) -> gpd.GeoDataFrame:
    """Build geometry for a CSV/Excel table from lon/lat, x/y or WKT columns."""
    cols = {str(c).lower(): c for c in df.columns}
    given = _parse_crs(crs, layer=layer)
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
            if given is None:
                if xs == "x":
                    raise CRSError(
                        f"layer {layer!r}: x/y columns carry no coordinate reference system (CRS); "
                        "pass input_crs, e.g. input_crs='EPSG:4545' for CGCS2000 Gauss-Kruger "
                        "metres, or name the columns lon/lat (经度/纬度) if they are degrees"
                    )
                given = pyproj.CRS.from_user_input("EPSG:4326")
            rest = df.drop(columns=[cols[xs], cols[ys]])
            return gpd.GeoDataFrame(rest, geometry=gpd.points_from_xy(x, y), crs=given)
    for name in ("wkt", "geometry", "geom"):
        if name in cols:
            text = df[cols[name]]
            blank = text.isna() | (text.astype(str).str.strip() == "")
            if blank.any():
                rows = ", ".join(str(i + 2) for i in np.flatnonzero(blank.to_numpy())[:10])
                raise ValidationError(
                    f"layer {layer!r}: {int(blank.sum())} row(s) have an empty {cols[name]!r} "
                    f"(file rows {rows}); fill them in or remove those rows"
                )
            try:
                geoms = shapely.from_wkt(text.astype(str).to_numpy(), on_invalid="raise")
            except shapely.errors.ShapelyError as exc:
                raise ValidationError(
                    f"layer {layer!r}: column {cols[name]!r} holds text that is not WKT ({exc}); "
                    "fix the geometry text"
                ) from exc
            if given is None:
                raise CRSError(
                    f"layer {layer!r}: WKT geometry carries no coordinate reference system (CRS); "
                    "pass input_crs, e.g. input_crs='EPSG:4326' for longitude/latitude or "
                    "'EPSG:4545' for CGCS2000 Gauss-Kruger metres"
                )
            return gpd.GeoDataFrame(df.drop(columns=[cols[name]]), geometry=geoms, crs=given)
    raise ValidationError(
        f"layer {layer!r}: a table needs lon/lat (or x/y, 经度/纬度) columns or a WKT column for its "
        f"geometry; found only {', '.join(map(str, df.columns))}"
    )


def _choose(path: Path, available: list[str], wanted: str | None, kind: str, *,
            candidates: list[str], what: str) -> str:
    """Pick the GeoPackage layer or Excel sheet to read, or say which ones there are."""
    shown = ", ".join(map(repr, available)) or "none"
    if wanted is not None:
        if wanted not in available:
            raise ValidationError(
                f"{path}: has no {what} {wanted!r} (it has {shown}); pass one of those as layer="
            )
        return wanted
    if kind in available:
        return kind
    if len(candidates) == 1:
        return candidates[0]
    raise ValidationError(
        f"{path}: no {what} is called {kind!r} (it has {shown}); pass layer=<name> to say which "
        f"one holds the {kind}"
    )


# A file from outside that the library cannot parse is the user's to fix, whatever the library
# raises: besides pyogrio's and pandas' own errors, a damaged .xlsx (a zip) comes out of
# zipfile/zlib/openpyxl as zlib.error, EOFError, NotImplementedError (unknown compression) or a
# KeyError/TypeError on broken XML, and pyogrio raises UnboundLocalError for a .prj that is not
# UTF-8 (tests/corpus/layer). So every exception of the read becomes a ValidationError that
# names the file, the exception and the fix; the class name stays in the message, so a bug of
# ours would still show.
_READ_ERRORS = (Exception,)


def _read_any(path: Path, *, layer: str | None, encoding: str | None, kind: str,
              spatial: bool) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            try:
                df = pd.read_csv(path, encoding=encoding or "utf-8-sig", dtype=str)
            except UnicodeDecodeError:
                if encoding:
                    raise
                df = pd.read_csv(path, encoding="gb18030", dtype=str)
            return df
        if suffix in (".xlsx", ".xlsm", ".xls"):
            with pd.ExcelFile(path) as book:
                sheets = [str(s) for s in book.sheet_names]
                # a workbook's first sheet is its data by convention; notes sheets come after
                sheet = _choose(path, sheets, layer, kind, candidates=sheets[:1], what="sheet")
                return pd.read_excel(book, sheet_name=sheet, dtype=str)
        kwargs = {}
        if suffix == ".shp":
            _check_shapefile(path)
            enc = encoding or _dbf_encoding(path)
            if enc:
                kwargs["encoding"] = enc
        elif encoding:
            kwargs["encoding"] = encoding
        if suffix == ".gpkg":
            listed = pyogrio.list_layers(path)
            names = [str(r[0]) for r in listed]
            candidates = [str(r[0]) for r in listed if (r[1] is not None) == spatial]
            layer = _choose(path, names, layer, kind, candidates=candidates, what="layer")
        return pyogrio.read_dataframe(path, layer=layer, **kwargs)
    except ZoningError:
        raise
    except _READ_ERRORS as exc:
        raise ValidationError(
            f"{path}: cannot be read as a {suffix or 'data'} file ({type(exc).__name__}: {exc}); "
            "the file may be truncated or damaged, or not what its name says. Export it again "
            "from the source software (a shapefile needs its .shp, .shx and .dbf together)"
        ) from exc


def _numeric_columns(df: pd.DataFrame, *, layer: str) -> pd.DataFrame:
    """Convert the count columns of a text-read table to numbers (integers where whole)."""
    for col in _NUMERIC:
        if col not in df.columns or pd.api.types.is_numeric_dtype(df[col]):
            continue
        text = df[col].astype(object).where(df[col].notna(), None)
        text = pd.Series([None if v is None else str(v).strip() or None for v in text],
                         index=df.index, dtype=object)
        num = pd.to_numeric(text, errors="coerce").astype(float)
        bad = text.notna().to_numpy() & np.isnan(num.to_numpy())
        if bad.any():
            where = np.flatnonzero(bad)
            shown = ", ".join(f"record {i + 1}: {text.iloc[i]!r}" for i in where[:5])
            raise ValidationError(
                f"layer {layer!r}: column {col!r} must hold numbers; {int(bad.sum())} value(s) do "
                f"not ({shown}{' …' if where.size > 5 else ''}); fix those cells",
                problems=[{"layer": layer, "column": col, "record": int(i) + 1,
                           "kind": "not_a_number"} for i in where],
            )
        values = num.to_numpy()
        if np.isfinite(values).all() and (values == np.round(values)).all():
            values = values.astype("int64")
        df = df.assign(**{col: values})
    return df


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
        Layer (GeoPackage) or sheet (Excel) name. Defaults to the layer or sheet called ``kind``;
        else the only spatial layer of a GeoPackage, or the first sheet of a workbook.
    source : {"gcj02", "bd09"}, optional
        The lon/lat are in a Chinese web-map datum (files cannot say so themselves).
    crs : str
        Working CRS to convert to.
    encoding : str, optional
        Attribute encoding; shapefiles without a .cpg are detected (UTF-8, else GBK).
    input_crs : str, optional
        CRS of a file that carries none: a CSV/Excel with x/y or WKT columns (lon/lat columns
        default to EPSG:4326), or a shapefile without its .prj. Ignored when the file has a CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by the layer's id column, in ``crs``. Count columns (``households``, ``students``,
        ``births``, ``year``, ``grade``, ``class_no``) are numbers whatever the format.

    Raises
    ------
    ValidationError
        Unreadable or truncated file, missing layer, missing columns, duplicate or empty ids,
        features without geometry, counts that are not numbers.
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
    label = f"{layer or kind} ({path.name})"
    df = _read_any(path, layer=layer, encoding=encoding, kind=kind, spatial=True)
    df = standardise_columns(df, layer=label)
    refuse_personal_fields(df, layer=label)
    if not isinstance(df, gpd.GeoDataFrame):
        df = _geometry_from_table(df, layer=label, crs=input_crs)
    elif df.crs is None and input_crs is not None:
        df = df.set_crs(_parse_crs(input_crs, layer=label))
    check_columns(df, (spec["id"], *spec["required"]), layer=label)
    df = _numeric_columns(df, layer=label)
    gdf = _set_id_index(df, spec["id"], layer=label)
    missing_geom = gdf.geometry.isna() | gdf.geometry.is_empty
    if missing_geom.any():
        ids = ", ".join(map(str, gdf.index[missing_geom][:10]))
        raise ValidationError(
            f"layer {label!r}: {int(missing_geom.sum())} feature(s) have no geometry ({ids}); "
            "draw them or remove them",
        )
    try:
        return to_working_gdf(gdf, layer=label, source=source, crs=crs)
    except CRSError as exc:
        if gdf.crs is not None:
            raise
        raise CRSError(
            f"{exc} Reading a file, pass read_layer(..., input_crs=...) instead"
            f"{' (a shapefile without its .prj has no CRS)' if path.suffix.lower() == '.shp' else ''}"
            "."
        ) from exc
    except pyproj.exceptions.ProjError as exc:
        raise _unusable_crs(label, gdf.crs, crs, exc) from exc


def read_features(
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    source: str | None = None,
    crs: str = WORKING_CRS,
    encoding: str | None = None,
    input_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a spatial layer of any schema through the same gate, in the working CRS.

    For files drawn elsewhere (a zone layer a GIS office made years ago) whose columns are not
    ours yet: the encoding is detected (GBK shapefiles), guardians' occupation and income
    columns are refused, every feature needs a geometry, and the CRS is checked and converted;
    the columns are returned as the file names them (not renamed) and the index is 0..n-1.
    :func:`read_layer` is the gate for files that already follow a layer's schema.

    Parameters
    ----------
    path : path-like
        GeoPackage, GeoJSON or Shapefile (or CSV/Excel with lon/lat or WKT columns).
    layer : str, optional
        Layer of a GeoPackage with several spatial layers.
    source, crs, encoding, input_crs
        As for :func:`read_layer`.

    Returns
    -------
    geopandas.GeoDataFrame

    Raises
    ------
    ValidationError
        Unreadable or truncated file, several layers and none chosen, features without geometry.
    PersonalDataError
        A column holds guardians' occupation or income.
    CRSError
        No CRS, or one that does not fit the coordinates.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file; check the path")
    label = f"{layer or path.stem} ({path.name})"
    df = _read_any(path, layer=layer, encoding=encoding, kind=layer or path.stem, spatial=True)
    refuse_personal_fields(df, layer=label)
    dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if dup:  # a damaged .dbf header, or two fields given one name
        raise ValidationError(
            f"layer {label!r}: column(s) {', '.join(map(repr, dup))} appear more than once; "
            "give each column its own name in the source software and export the layer again")
    if not isinstance(df, gpd.GeoDataFrame):
        df = _geometry_from_table(df, layer=label, crs=input_crs)
    elif df.crs is None and input_crs is not None:
        df = df.set_crs(_parse_crs(input_crs, layer=label))
    df = df.reset_index(drop=True)
    missing = df.geometry.isna() | df.geometry.is_empty
    if missing.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(missing.to_numpy())[:10])
        raise ValidationError(
            f"layer {label!r}: {int(missing.sum())} feature(s) have no geometry (record(s) {rows}, "
            "counting from 1); draw them or remove them")
    try:
        return to_working_gdf(df, layer=label, source=source, crs=crs)
    except CRSError as exc:
        if df.crs is not None:
            raise
        shp = " (a shapefile without its .prj has no CRS)" if path.suffix.lower() == ".shp" else ""
        raise CRSError(f"{exc} Reading a file, pass input_crs=... instead{shp}.") from exc
    except pyproj.exceptions.ProjError as exc:
        raise _unusable_crs(label, df.crs, crs, exc) from exc


def _unusable_crs(label: str, given, crs: str, exc: Exception) -> CRSError:
    """A CRS that pyproj reads but cannot convert (a damaged .prj reads as a half definition)."""
    name = getattr(given, "name", None) or str(given)[:60]
    return CRSError(
        f"layer {label!r}: its CRS {name!r} cannot be converted to {crs} ({exc}); the .prj or "
        "the file's CRS is damaged or incomplete: export the layer again, or delete the .prj and "
        "pass input_crs=, e.g. 'EPSG:4545'")


def _set_id_index(df: pd.DataFrame, id_col: str, *, layer: str) -> pd.DataFrame:
    col = df[id_col]
    if pd.api.types.is_float_dtype(col):
        # a numeric id column with a gap comes back as float: 1001.0 → "1001"
        whole = col.notna() & (col == np.round(col))
        col = col.astype(object).where(~whole, col.where(whole).astype("Int64").astype(object))
    ids = col.astype("string").str.strip()
    empty = ids.isna() | (ids == "")
    if empty.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(empty.to_numpy())[:10])
        raise ValidationError(
            f"layer {layer!r}: {int(empty.sum())} record(s) have an empty {id_col} (record(s) "
            f"{rows}, counting from 1); give every feature an id",
            problems=[{"layer": layer, "record": int(i) + 1, "kind": "empty_id"}
                      for i in np.flatnonzero(empty.to_numpy())],
        )
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        repeated = sorted(set(dup.astype(str)))
        shown = ", ".join(repeated[:10]) + (" …" if len(repeated) > 10 else "")
        raise ValidationError(
            f"layer {layer!r}: {id_col} must be unique; repeated: {shown}; "
            "give each feature its own id or merge the duplicates",
            problems=[{"layer": layer, "id": i, "kind": "duplicate_id"} for i in repeated],
        )
    out = df.drop(columns=[id_col])
    out.index = pd.Index(ids.astype(str).to_numpy(), name=id_col)
    return out


def read_table(path: str | os.PathLike, kind: str, *, sheet: str | None = None) -> pd.DataFrame:
    """Read an attribute table (classes, enrolment, births, housing) from CSV, Excel or GeoPackage.

    Parameters
    ----------
    path : path-like
        CSV, Excel or GeoPackage file.
    kind : {"classes", "enrolment", "births", "housing"}
        What the table holds; decides the required columns.
    sheet : str, optional
        Sheet (Excel) or table (GeoPackage) name; defaults to the one called ``kind``, else the
        first sheet of a workbook or the only attribute table of a GeoPackage.

    Returns
    -------
    pandas.DataFrame
        With count columns (``students``, ``births``, ``households``, ``year``, ``grade``,
        ``class_no``) as numbers.

    Raises
    ------
    ValidationError
        Unreadable file, missing table or columns, counts that are not numbers.
    PersonalDataError
        A column holds guardians' occupation or income.
    """
    if kind not in TABLES:
        raise ValidationError(f"kind {kind!r} is not a table kind; use one of {', '.join(TABLES)}")
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file; check the path")
    label = f"{sheet or kind} ({path.name})"
    df = _read_any(path, layer=sheet, encoding=None, kind=kind, spatial=False)
    if isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    df = standardise_columns(df, layer=label)
    refuse_personal_fields(df, layer=label)
    check_columns(df, TABLES[kind], layer=label)
    return _numeric_columns(df, layer=label)


# --------------------------------------------------------------------------------------------
# writing


class atomic_path:  # noqa: N801 - used like a function: ``with atomic_path(p) as tmp``
    """Context manager: write to a temporary file beside ``path``, then replace ``path`` at once.

    If the block raises, the temporary file is removed and ``path`` is left exactly as it was.
    With ``copy=True`` the temporary file starts as a copy of ``path`` (for updates in place).
    The replaced file keeps the permissions of the original (a new one gets the usual ones for
    the user's umask, not the owner-only mode of a temporary file).

    A writer killed outright (power cut, ``kill -9``) cannot clean up: its temporary file carries
    its process id, and the next write beside the same file removes the copies whose writer is
    gone.
    """

    def __init__(self, path: str | os.PathLike, *, copy: bool = False):
        self.path = Path(path)
        self.copy = copy

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}.{os.getpid()}.", suffix=self.path.suffix,
            dir=self.path.parent
        )
        os.close(fd)
        self.tmp = Path(tmp)
        try:
            if self.copy and self.path.exists():
                shutil.copyfile(self.path, self.tmp)  # streamed: a city-wide store is large
            else:
                self.tmp.unlink()
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            try:
                with open(self.tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.chmod(self.tmp, _mode_for(self.path))
                os.replace(self.tmp, self.path)
            except BaseException:
                self._clean()
                raise
        else:
            self._clean()
        return False

    def _clean(self) -> None:
        _unlink_with_sidecars(self.tmp)

    def _remove_orphans(self) -> None:
        """Remove temporary copies left by writers of ``path`` that were killed."""
        pattern = f".{glob.escape(self.path.stem)}.*{glob.escape(self.path.suffix)}"
        for tmp in self.path.parent.glob(pattern):
            pid = tmp.name[len(self.path.stem) + 2:].split(".", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                _unlink_with_sidecars(tmp)


def _unlink_with_sidecars(path: Path) -> None:
    # SQLite leaves -journal/-wal/-shm files beside a GeoPackage it was writing
    pattern = glob.escape(str(path)) + "-*"
    for extra in (path, *map(Path, glob.glob(pattern))):
        extra.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _mode_for(path: Path) -> int:
    """Permission bits for a file replacing ``path``: its own, or 0o666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}

# Parts of a shapefile beside the .shp; any not written anew is removed with the old version
# (a stale .prj or spatial index would describe the old data).
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qpj")


def write_layer(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    encoding: str | None = None,
) -> None:
    """Write one layer (or attribute table) atomically.

    A GeoJSON is written to a temporary file and moved into place. For a GeoPackage the whole
    file is copied, the layer replaced in the copy, and the copy moved into place, so a failure
    half-way leaves the original file as it was. A Shapefile is written complete in a temporary
    folder beside ``path`` and its parts moved into place (the .shp last); it gets a ``.cpg``.

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

    Raises
    ------
    ValidationError
        For a suffix with no driver.
    """
    path = Path(path)
    driver = _DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise ValidationError(
            f"{path}: cannot write {path.suffix!r}; use .gpkg, .geojson or .shp"
        )
    frame = gdf.reset_index() if gdf.index.name else gdf
    if driver == "ESRI Shapefile":
        enc = (encoding or "UTF-8").upper()
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{path.stem}.", dir=path.parent) as td:
            tmp = Path(td) / path.name
            pyogrio.write_dataframe(frame, tmp, driver=driver, encoding=enc)
            tmp.with_suffix(".cpg").write_text(enc)
            mode = _mode_for(path)
            written = {p.suffix.lower(): p for p in Path(td).iterdir()}
            for suffix in _SHAPEFILE_PARTS:
                if suffix in written:
                    os.chmod(written[suffix], mode)
                    os.replace(written[suffix], path.with_suffix(suffix))
                else:
                    for old in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
                        old.unlink(missing_ok=True)
            os.chmod(written[".shp"], mode)
            os.replace(written[".shp"], path)
        return
    with atomic_path(path, copy=driver == "GPKG") as tmp:
        # the temporary file's name is not a valid layer name: name the layer after the file
        kwargs = {"layer": layer or re.sub(r"\W+", "_", path.stem).strip("_") or "layer"} \
            if driver == "GPKG" else {}
        if driver == "GPKG" and tmp.exists():
            kwargs["append"] = False
        pyogrio.write_dataframe(frame, tmp, driver=driver, **kwargs)
