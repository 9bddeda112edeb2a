"""City-wide batch assignment on inputs larger than memory, partition by partition (extra ``scale``).

A city-wide run assigns tens of millions of rows — households from the 不动产登记 registry (a
不动产单元号 each), geocoded points from the online enrolment service, address text from paper
forms — to their zones and schools. :func:`assign_partitioned` reads such an input lazily as
dask(-geopandas) partitions (CSV files split by ``blocksize``, Parquet or GeoParquet files split by
file and row group), sends every partition through the same :meth:`zoning.lookup.Resolver.assign_frame`
as a single lookup or the chunked ``zoning assign``, and writes each partition's answer as soon as it
is computed. Memory is bounded by the partitions in flight, not by the input size.

How the work is spread: by default over worker processes, each of which loads the district and
builds its :class:`~zoning.lookup.Resolver` once, in the pool's initializer, and then serves every
partition it is given; a partition is read, assigned and written inside one task, so no rows travel
between processes, only a one-line summary per partition. Why processes: a profile of one
500,000-row partition of the benchmark's mix spends over 90 % of its CPU time in Python that holds
the GIL (address normalisation, unit-code parsing); the calls that release it (pyproj, shapely,
Arrow) take under 5 %, so threads cannot assign two partitions at once. A worker costs its own
resolver (about 0.9 GB RSS and 4–6 CPU-seconds to build for the demo district), which pays off
only where there is a free core for it: on the shared 2-core machine, with other jobs taking about
one core, ``benchmarks/bench_scale.py`` measured 123,000 rows/s with processes against 132,000
with threads at 10 M rows. ``scheduler="threads"`` (one resolver, half the memory) is there for
such machines, ``"sync"`` for debugging. A script that uses processes needs the
``if __name__ == "__main__":`` guard: workers are spawned, not forked (a fork would copy the
threads of pyarrow and dask into the child).

Rows may mix the kinds of key: :func:`assign_mixed` sends each row to ``assign_frame`` by the
first key it carries, address text, else a 不动产单元号/宗地代码, else lon/lat — the precedence
``assign_frame`` applies to whole columns. A frame with one kind of key column goes to
``assign_frame`` as it is, so the answers are the same row for row.

The output appears under its final name only when every partition is written (a failed or
interrupted run leaves no half output there): a directory of Parquet files ``part.000000.parquet``,
… in input order with a ``_zoning_assign.json`` manifest, or, for an ``out`` ending in ``.csv``,
one CSV file (UTF-8 with BOM, as the chunked command writes).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from zoning.errors import ValidationError, ZoningError

__all__ = ["BatchSummary", "assign_mixed", "assign_partitioned", "merge_result", "source_format"]

#: Key columns, as :meth:`zoning.lookup.Resolver.assign_frame` reads them (case-insensitive), in
#: its order of precedence. ``tests/test_scale.py`` checks that ``assign_frame`` accepts each.
ADDRESS_COLUMNS = ("address", "地址")
CODE_COLUMNS = ("parcel", "unit_code", "parcel_id", "不动产单元号")
LON_COLUMNS = ("lon", "lng", "经度")
LAT_COLUMNS = ("lat", "纬度")

#: Written into an output directory; only a directory carrying it is ever replaced.
MANIFEST = "_zoning_assign.json"

SCHEDULERS = ("processes", "threads", "sync")
_PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
_CSV_SUFFIXES = (".csv", ".txt")
_NO_KEY_REASON = "no address, unit code or lon/lat in this row"
_MISSING_EXTRA = ('批量分区处理需要安装 scale 扩展：pip install -e ".[scale]" '
                  "(dask-geopandas is not installed)")


@dataclass(frozen=True)
class BatchSummary:
    """What :func:`assign_partitioned` did.

    Attributes
    ----------
    out : pathlib.Path
        The output (a directory of Parquet files, or one CSV file).
    rows, placed : int
        Rows read; rows placed in a zone of at least one level.
    by_method : dict of str to int
        Placed rows by how they were placed (``parcel``, ``address_point``, ``point``).
    partitions : int
        Partitions the input was read as.
    seconds : float
        Wall time of the whole run.
    scheduler : str
        The dask scheduler used; ``workers`` how many processes or threads.
    """

    out: Path
    rows: int
    placed: int
    by_method: dict[str, int] = field(default_factory=dict)
    partitions: int = 0
    seconds: float = 0.0
    scheduler: str = "processes"
    workers: int = 1

    @property
    def unplaced(self) -> int:
        """Rows not placed; their ``reason`` column says why."""
        return self.rows - self.placed

    def summary_zh(self) -> str:
        """One line in Chinese for the command line."""
        rate = self.rows / self.seconds if self.seconds > 0 else float("nan")
        return (f"已分配 {self.placed}/{self.rows} 行（未能确定 {self.unplaced} 行，原因见 reason 列）"
                f" → {self.out}；{self.partitions} 个分区，{self.workers} 个"
                f"{'进程' if self.scheduler == 'processes' else '线程'}，"
                f"用时 {self.seconds:.1f} 秒（{rate:,.0f} 行/秒）")


# ----------------------------------------------------------------------------- rows of mixed kinds
def _column(frame: pd.DataFrame, names: Sequence[str]):
    cols = {str(c).lower(): c for c in frame.columns}
    return next((cols[n] for n in names if n in cols), None)


def _key_columns(frame: pd.DataFrame) -> dict[str, list]:
    """The key columns present, by kind, in ``assign_frame``'s order of precedence."""
    kinds = {}
    if (c := _column(frame, ADDRESS_COLUMNS)) is not None:
        kinds["address"] = [c]
    if (c := _column(frame, CODE_COLUMNS)) is not None:
        kinds["code"] = [c]
    lon, lat = _column(frame, LON_COLUMNS), _column(frame, LAT_COLUMNS)
    if lon is not None and lat is not None:
        kinds["point"] = [lon, lat]
    return kinds


def _has_text(values: pd.Series) -> np.ndarray:
    text = values.astype(object)
    ok = text.notna().to_numpy(copy=True)
    ok[ok] = text[ok].map(str).str.strip().ne("").to_numpy()
    return ok


def assign_mixed(resolver, frame: pd.DataFrame, *, coords: str = "wgs84") -> pd.DataFrame:
    """Assign rows that each carry their own kind of key, through ``Resolver.assign_frame``.

    A row goes by the first key it has: address text, else a 不动产单元号/宗地代码, else a lon/lat
    pair. A frame with only one kind of key column is passed to ``assign_frame`` whole, so its
    answers are exactly ``assign_frame``'s.

    Parameters
    ----------
    resolver : zoning.lookup.Resolver
        Built once for the district.
    frame : pandas.DataFrame
        Any of the columns ``assign_frame`` reads (``address``/``地址``, ``unit_code``/
        ``parcel``/``parcel_id``/``不动产单元号``, ``lon``/``lat``/``经度``/``纬度``).
    coords : {"wgs84", "cgcs2000", "gcj02", "bd09"}
        Datum of the lon/lat columns.

    Returns
    -------
    pandas.DataFrame
        As ``assign_frame``: same index as ``frame``, ``method``, ``parcel_id``, ``reason`` and per
        level ``{level}_zone_id``, ``{level}_school_ids``. A row with no key at all is not placed,
        with the reason ``"no address, unit code or lon/lat in this row"``.

    Raises
    ------
    ValidationError
        When the frame has no key column (from ``assign_frame``, naming the columns found).
    """
    kinds = _key_columns(frame)
    if len(kinds) <= 1:
        return resolver.assign_frame(frame, coords=coords)
    flat = frame.reset_index(drop=True)
    taken = np.zeros(len(flat), dtype=bool)
    pieces = []
    for kind, cols in kinds.items():
        if kind == "point":
            has = np.ones(len(flat), dtype=bool)
            for c in cols:
                has &= pd.to_numeric(flat[c], errors="coerce").notna().to_numpy()
        else:
            has = _has_text(flat[cols[0]])
        rows = has & ~taken
        taken |= rows
        if rows.any() or not pieces:
            # an empty first piece still gives the output its columns
            pieces.append(resolver.assign_frame(flat.loc[rows, cols], coords=coords))
    out = pd.concat(pieces).reindex(pd.RangeIndex(len(flat)))
    if (~taken).any():
        reason = out["reason"].astype(object)
        reason[~taken] = _NO_KEY_REASON
        out["reason"] = reason
    out.index = frame.index
    return out


def merge_result(frame: pd.DataFrame, result: pd.DataFrame) -> pd.DataFrame:
    """The input's columns, then the answer's.

    An answer column whose name the input already uses (``parcel_id``, ``method``, ``reason``)
    is written as ``assigned_<name>``, so no output has two columns of one name.
    """
    clash = {c: f"assigned_{c}" for c in result.columns if c in frame.columns}
    return pd.concat([frame, result.rename(columns=clash)], axis=1)


# ----------------------------------------------------------------------------- the input
def _require_dask():
    try:
        import dask.dataframe as dd
        import dask_geopandas
    except ImportError as exc:
        raise ZoningError(_MISSING_EXTRA) from exc
    return dd, dask_geopandas


def source_format(source) -> str:
    """``"parquet"`` or ``"csv"``: the format of a file, a directory of files, a glob or a list.

    Raises
    ------
    ValidationError
        When nothing matches, or the files are neither CSV nor Parquet, or both.
    """
    paths = _expand(source)
    kinds = {_kind_of(p) for p in paths}
    if kinds == {None} or None in kinds:
        bad = next(p for p in paths if _kind_of(p) is None)
        raise ValidationError(f"{bad}: not a CSV or Parquet file; give .csv, .parquet or "
                              ".geoparquet files (or a directory of them)")
    if len(kinds) > 1:
        raise ValidationError(f"{source}: mixes CSV and Parquet files; give one format per run")
    return kinds.pop()


def _kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    return None


def _expand(source) -> list[Path]:
    """Every input file: a file, a directory (its CSV/Parquet files, recursively), a glob, a list."""
    items = list(source) if isinstance(source, list | tuple) else [source]
    files: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            hits = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not hits:
                raise ValidationError(f"{text}: no file matches this pattern; check the path")
            files += hits
        elif Path(text).is_dir():
            hits = sorted(p for p in Path(text).rglob("*") if p.is_file()
                          and _kind_of(p) is not None and not p.name.startswith(("_", ".")))
            if not hits:
                raise ValidationError(f"{text}: the directory holds no .csv or .parquet file")
            files += hits
        elif Path(text).is_file():
            files.append(Path(text))
        else:
            raise ValidationError(f"{text}: no such file or directory; check the path")
    return files


def _is_geoparquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return b"geo" in meta


def _read(source, *, blocksize):
    """The input as a dask (geo)DataFrame, and its format."""
    dd, dask_geopandas = _require_dask()
    fmt = source_format(source)
    files = _expand(source)
    names = [os.fspath(p) for p in files]
    if fmt == "csv":
        # everything as text, as the chunked path reads it: codes keep their leading zeros
        ddf = dd.read_csv(names, dtype=str, blocksize=blocksize, encoding="utf-8-sig",
                          keep_default_na=True)
    elif _is_geoparquet(files[0]):
        ddf = dask_geopandas.read_parquet(names)
    else:
        ddf = dd.read_parquet(names)
    return ddf, fmt


# ----------------------------------------------------------------------------- one partition
#: Resolvers of this process, by run token: set by the pool's initializer in a worker process,
#: by :func:`assign_partitioned` itself for the threads and sync schedulers.
_RESOLVERS: dict[str, object] = {}
_INIT_ERRORS: dict[str, BaseException] = {}


def _build_resolver(data, warm: tuple[str, ...]):
    from zoning.lookup import Resolver
    from zoning.store import Dataset, open_store

    ds = data if isinstance(data, Dataset) else open_store(data).load()
    resolver = Resolver(ds)
    # built here once, not by whichever partition needs them first
    if "address" in warm:
        resolver.addresses  # noqa: B018 - a lazy property: builds the address index
    if "code" in warm and len(ds.parcels):
        resolver.assign_frame(pd.DataFrame({"parcel": [ds.parcels.index[0]]}))
    return resolver


def _init_worker(token: str, data, warm: tuple[str, ...]) -> None:
    """Pool initializer: the district and its resolver, once per worker process."""
    try:
        _RESOLVERS[token] = _build_resolver(data, warm)
    except BaseException as exc:  # noqa: BLE001 - raised again by the first task, with its type
        _INIT_ERRORS[token] = exc


@dataclass(frozen=True)
class _Run:
    token: str
    tmp: str
    fmt: str
    coords: str


_SUMMARY_META = pd.DataFrame({
    "partition": pd.Series(dtype="int64"), "rows": pd.Series(dtype="int64"),
    "placed": pd.Series(dtype="int64"), "parcel": pd.Series(dtype="int64"),
    "address_point": pd.Series(dtype="int64"), "point": pd.Series(dtype="int64"),
    "columns": pd.Series(dtype=object),
})


def _points_from_geometry(part: pd.DataFrame, coords: str,
                          number: int = 0) -> tuple[pd.DataFrame, str]:
    """A GeoParquet partition: point geometry → ``lon``/``lat`` columns (unless it has them)."""
    geom_name = getattr(part, "_geometry_column_name", None)
    if geom_name is None or geom_name not in part.columns:
        return part, coords
    frame = pd.DataFrame(part.drop(columns=[geom_name]))
    if _column(frame, LON_COLUMNS) is not None and _column(frame, LAT_COLUMNS) is not None:
        return frame, coords
    geom = part.geometry
    kinds = geom.geom_type
    bad = kinds.notna() & (kinds != "Point")
    if bad.any():
        raise ValidationError(f"partition {number}, row {bad.idxmax()}: geometry is a "
                              f"{kinds[bad].iloc[0]}; a GeoParquet input needs point geometry "
                              "(or lon/lat columns)")
    if geom.crs is None:
        raise ValidationError("the GeoParquet input has no CRS; write it with its CRS "
                              "(EPSG:4326 for GPS/WGS-84 points)")
    if geom.crs.is_projected:
        if coords not in ("wgs84", "cgcs2000"):
            raise ValidationError(f"coords={coords!r}, but the geometry is in projected "
                                  f"{geom.crs.to_string()}; a projected CRS is never GCJ-02 or "
                                  "BD-09: leave coords as wgs84")
        geom, coords = geom.to_crs("EPSG:4490"), "cgcs2000"
    frame["lon"] = geom.x.to_numpy()
    frame["lat"] = geom.y.to_numpy()
    return frame, coords


def _assign_partition(part: pd.DataFrame, run: _Run, partition_info=None) -> pd.DataFrame:
    number = int(partition_info["number"]) if partition_info else 0
    resolver = _RESOLVERS.get(run.token)
    if resolver is None:
        err = _INIT_ERRORS.get(run.token)
        if err is not None:
            raise err
        raise ZoningError(f"no resolver for run {run.token} in process {os.getpid()}")
    frame, coords = _points_from_geometry(part, run.coords, number)
    frame = frame.reset_index(drop=True)
    result = assign_mixed(resolver, frame, coords=coords)
    merged = merge_result(frame, result)
    path = Path(run.tmp) / f"part.{number:06d}.{run.fmt}"
    if run.fmt == "csv":
        merged.to_csv(path, index=False, header=False, encoding="utf-8")
    else:
        _write_parquet(merged, path)
    methods = result["method"].where(result["reason"].isna())
    return pd.DataFrame({
        "partition": [number], "rows": [len(frame)], "placed": [int(result["reason"].isna().sum())],
        "parcel": [int((methods == "parcel").sum())],
        "address_point": [int((methods == "address_point").sum())],
        "point": [int((methods == "point").sum())],
        "columns": [json.dumps([str(c) for c in merged.columns], ensure_ascii=False)],
    })


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write one partition as Parquet.

    Text columns are always Arrow ``string`` (an all-empty column too), so every file of the
    output has the same schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [pa.field(f.name, pa.string()) if (pa.types.is_null(f.type)
                                                or pa.types.is_large_string(f.type)
                                                or pa.types.is_string_view(f.type)) else f
              for f in table.schema]
    table = table.cast(pa.schema(fields))
    pq.write_table(table, path)


# ----------------------------------------------------------------------------- the run
def assign_partitioned(
    source,
    out,
    *,
    data,
    coords: str = "wgs84",
    scheduler: str = "processes",
    workers: int | None = None,
    blocksize: str | int = "64MB",
    progress: bool = False,
) -> BatchSummary:
    """Assign a large input to zones and schools, partition by partition, into ``out``.

    Parameters
    ----------
    source : path, glob or list of paths
        CSV (one big file, split by ``blocksize``, or many files) or Parquet/GeoParquet (a file,
        a directory of files, a glob). Columns as :meth:`zoning.lookup.Resolver.assign_frame`
        reads them; rows may mix the kinds of key (see :func:`assign_mixed`). A GeoParquet
        input without lon/lat columns is located by its point geometry.
    out : path
        Output: a directory of Parquet files, or one CSV file when it ends in ``.csv``. An
        existing CSV file, or a directory written by an earlier run (it carries
        ``_zoning_assign.json``), is replaced once the new output is complete.
    data : Dataset or path
        The district: a loaded :class:`zoning.store.Dataset`, or a store path that every worker
        process opens itself (cheaper: the parent then holds no copy).
    coords : {"wgs84", "cgcs2000", "gcj02", "bd09"}
        Datum of the lon/lat columns.
    scheduler : {"processes", "threads", "sync"}
        dask's local scheduler. ``processes`` builds one resolver per worker process.
    workers : int, optional
        Worker processes or threads; default: the CPUs this process may use.
    blocksize : str or int
        Bytes per partition for CSV input (Parquet partitions follow files and row groups).
    progress : bool
        Show dask's progress bar on standard error.

    Returns
    -------
    BatchSummary
        Rows, rows placed, placed rows by method, partitions, time.

    Raises
    ------
    ValidationError
        For an input that is not CSV/Parquet or does not exist, an unknown ``coords`` or
        ``scheduler``, an ``out`` that is an unrelated directory, or rows without any key column.
    ZoningError
        When the ``scale`` extra (dask-geopandas) is not installed.

    Examples
    --------
    >>> from zoning.scale import assign_partitioned
    >>> s = assign_partitioned("homes/*.parquet", "assigned/", data="data/demo.gpkg")  # doctest: +SKIP
    >>> s.rows, s.placed  # doctest: +SKIP
    (10000000, 9701342)
    """
    from zoning.crs import SOURCES
    from zoning.store import Dataset

    t0 = time.perf_counter()
    _require_dask()
    if coords not in SOURCES:
        raise ValidationError(f"coords={coords!r} is not a known datum; use one of "
                              f"{', '.join(SOURCES)}")
    if scheduler not in SCHEDULERS:
        raise ValidationError(f"scheduler={scheduler!r}; use one of {', '.join(SCHEDULERS)}")
    if not isinstance(data, Dataset) and not Path(data).exists() and "://" not in str(data):
        raise ValidationError(f"{data}: no such store; build one with `zoning demo` or give "
                              "the district's .gpkg")
    out = Path(out)
    fmt = "csv" if out.suffix.lower() in _CSV_SUFFIXES else "parquet"
    _check_replaceable(out, fmt)
    ddf, _ = _read(source, blocksize=blocksize)
    kinds = _key_columns(ddf._meta)
    if getattr(ddf._meta, "_geometry_column_name", None) is not None:
        kinds.setdefault("point", [])
    if not kinds:
        raise ValidationError(
            f"{source}: the input needs an address column, a parcel/unit_code column, or "
            f"lon/lat columns; found {', '.join(map(str, ddf.columns))}")
    workers = 1 if scheduler == "sync" else (workers or _cpus())
    token = uuid.uuid4().hex
    tmp = out.with_name(f".{out.name}.part-{token[:8]}")
    tmp.mkdir(parents=True)
    run = _Run(token=token, tmp=os.fspath(tmp), fmt=fmt, coords=coords)
    warm = tuple(kinds)
    pool = None
    done = False
    try:
        graph = ddf.map_partitions(_assign_partition, run, meta=_SUMMARY_META,
                                   enforce_metadata=False, align_dataframes=False)
        kwargs: dict = {"scheduler": scheduler, "num_workers": workers}
        if scheduler == "processes":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: see the module docstring
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(token, data, warm))
            kwargs.update(pool=pool, chunksize=1)
        else:
            _RESOLVERS[token] = _build_resolver(data, warm)
        if progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar(out=sys.stderr, minimum=1):
                parts = graph.compute(**kwargs)
        else:
            parts = graph.compute(**kwargs)
        parts = parts.sort_values("partition")
        if fmt == "csv":
            _join_csv(tmp, parts, out)
        else:
            _write_manifest(tmp, parts, source)
            _replace_dir(tmp, out)
        done = True
    except BrokenProcessPool as exc:
        raise ZoningError(
            "a worker process died (out of memory, or killed); use fewer workers or smaller "
            "partitions (blocksize, smaller Parquet row groups). A script that calls this with "
            "the processes scheduler needs the `if __name__ == \"__main__\":` guard") from exc
    finally:
        _RESOLVERS.pop(token, None)
        if pool is not None:
            # before the clean-up: a worker still busy would write into the directory
            pool.shutdown(wait=True, cancel_futures=True)
        if not done:
            shutil.rmtree(tmp, ignore_errors=True)
    by_method = {m: int(parts[m].sum()) for m in ("parcel", "address_point", "point")}
    return BatchSummary(out=out, rows=int(parts["rows"].sum()), placed=int(parts["placed"].sum()),
                        by_method=by_method, partitions=len(parts),
                        seconds=time.perf_counter() - t0, scheduler=scheduler, workers=workers)


def _cpus() -> int:
    """CPUs this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_replaceable(out: Path, fmt: str) -> None:
    if not out.exists():
        return
    if fmt == "csv" and out.is_dir():
        raise ValidationError(f"{out}: is a directory; give a .csv file name for CSV output")
    if fmt == "parquet" and not (out.is_dir() and (out / MANIFEST).exists()):
        raise ValidationError(f"{out}: exists and is not the output of an earlier run "
                              f"(no {MANIFEST}); choose a new path or remove it first")


def _write_manifest(tmp: Path, parts: pd.DataFrame, source) -> None:
    manifest = {
        "source": [os.fspath(p) for p in _expand(source)][:1000],
        "rows": int(parts["rows"].sum()), "placed": int(parts["placed"].sum()),
        "partitions": len(parts),
        "columns": json.loads(parts["columns"].iloc[0]) if len(parts) else [],
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                encoding="utf-8")


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished directory to ``out``; an earlier run's output there goes only after."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _join_csv(tmp: Path, parts: pd.DataFrame, out: Path) -> None:
    """The partitions' CSV files, in order, under one header, as one file replacing ``out``."""
    columns = json.loads(parts["columns"].iloc[0]) if len(parts) else []
    joined = tmp / "joined.csv"
    with open(joined, "wb") as dst:
        dst.write(pd.DataFrame(columns=columns).to_csv(index=False).encode("utf-8-sig"))
        for number in parts["partition"]:
            piece = tmp / f"part.{int(number):06d}.csv"
            with open(piece, "rb") as src:
                shutil.copyfileobj(src, dst, 16 << 20)
            piece.unlink()
    os.replace(joined, out)
    shutil.rmtree(tmp, ignore_errors=True)
