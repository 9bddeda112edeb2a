"""The ``zoning`` command line: thin wrappers over the library, Chinese tables, ``--json`` for machines."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from zoning.cli_users import UserOption, guarded
from zoning.errors import PermissionDenied, SignInError, UnitCodeError, ZoningError

app = typer.Typer(
    name="zoning",
    help="义务教育招生服务片区规划与学位对口工具 (Chongqing school service zones).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_DEFAULT_DATA = Path("data/demo.gpkg")

#: Chinese labels of validation problem kinds, for the people's table.
KIND_ZH = {
    "invalid_geometry": "几何无效",
    "not_polygon": "不是面要素",
    "bad_level": "学段错误",
    "no_school": "未对口学校",
    "duplicate_school": "学校重复",
    "unknown_school": "学校不存在",
    "level_mismatch": "学段不符",
    "private_school_zoned": "民办学校划片",
    "overlap": "片区重叠",
    "sliver_overlap": "细小重叠",
    "gap": "片区空隙",
    "sliver_gap": "细小空隙",
    "unzoned_parcel": "宗地未入片区",
    "split_parcel": "宗地跨片区",
    "school_outside_zone": "学校在片区外",
}


def _fail(exc: ZoningError) -> None:
    typer.echo(f"错误 (error): {exc}", err=True)
    # 3: not signed in, or the role may not (zoning.auth); 2: any other error
    raise typer.Exit(3 if isinstance(exc, PermissionDenied | SignInError) else 2)


def _finite(obj):
    """JSON has no NaN or Infinity: non-finite floats become null (numpy scalars included)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _print_json(obj) -> None:
    typer.echo(json.dumps(_finite(obj), ensure_ascii=False, indent=2, default=str,
                          allow_nan=False))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="GeoPackage to write")] = _DEFAULT_DATA,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same bytes")] = 7,
    parcels: Annotated[int, typer.Option(help="number of parcels")] = 20_000,
    addresses: Annotated[int, typer.Option(help="number of addresses")] = 200_000,
    users: Annotated[bool, typer.Option(
        "--users/--no-users", help="add one user per role with a random password, written to "
        "<store>-users.txt beside the store (owner-only) and printed")] = True,
) -> None:
    """Build the demo district (渝北区, real boundary) into a GeoPackage."""
    from zoning.cli_users import create_demo_users
    from zoning.demo import write_demo

    try:
        path = write_demo(out, seed=seed, n_parcels=parcels, n_addresses=addresses,
                          progress=sys.stderr.isatty())
        made = create_demo_users(path) if users else None
    except ZoningError as exc:
        _fail(exc)
    typer.echo(f"演示区县已生成: {path} (seed={seed}, 宗地 {parcels}, 地址 {addresses})")
    if made:
        file, rows = made
        typer.echo(f"演示用户（每个角色一个，密码随机生成，已写入 {file}，仅本人可读）:")
        for name, role, password in rows:
            typer.echo(f"  {name}\t{role}\t{password}")


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="GeoPackage store to check")] = _DEFAULT_DATA,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Check zones: geometry, overlaps, gaps, parcels in exactly one zone, schools.

    Exit code 0 when there is no error (warnings allowed), 1 when there are errors, 2 when the data
    cannot be read.
    """
    from zoning.store import open_store
    from zoning.zones import validate as run

    try:
        ds = open_store(path).load()
        report = run(ds.zones, schools=ds.schools, parcels=ds.parcels, district=ds.district)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json({"path": str(path), "ok": report.ok, "errors": len(report.errors),
                     "warnings": len(report.warnings), "problems": report.to_records()})
    else:
        _print_validation(path, report, ds)
    raise typer.Exit(0 if report.ok else 1)


def _print_validation(path, report, ds) -> None:
    typer.echo(f"检查 {path}: 片区 {len(ds.zones)} 个, 学校 {len(ds.schools)} 所, "
               f"宗地 {len(ds.parcels)} 宗")
    if report.problems.empty:
        typer.echo("通过: 未发现问题。")
        return
    verdict = "通过" if report.ok else "未通过"
    typer.echo(f"{verdict}: 错误 {len(report.errors)} 项, 警告 {len(report.warnings)} 项")
    typer.echo(f"{'级别':<4}\t{'图层':<8}\t{'编号':<22}\t{'问题':<8}\t说明 / 建议")
    for r in report.problems.itertuples():
        sev = "错误" if r.severity == "error" else "警告"
        typer.echo(f"{sev}\t{r.layer:<8}\t{r.id:<22}\t{KIND_ZH.get(r.kind, r.kind)}\t"
                   f"{r.message}; {r.fix}")


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="GeoPackage store")] = _DEFAULT_DATA,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Summarise a store: layers, counts of schools by level, zones, parcels, addresses."""
    from zoning.store import open_store

    try:
        ds = open_store(path).load()
    except ZoningError as exc:
        _fail(exc)
    summary = {
        "path": str(path),
        "crs": str(ds.crs),
        "schools": {"/".join(k): int(v)
                    for k, v in ds.schools.groupby(["ownership", "level"]).size().items()},
        "zones": {k: int(v) for k, v in ds.zones["level"].value_counts().items()},
        "parcels": len(ds.parcels),
        "households": int(ds.parcels["households"].sum()),
        "addresses": len(ds.addresses),
        "tables": {k: len(v) for k, v in ds.tables.items()},
    }
    if as_json:
        _print_json(summary)
        return
    typer.echo(f"数据: {path} (坐标系 {summary['crs']})")
    typer.echo("学校: " + ", ".join(f"{k} {v}" for k, v in summary["schools"].items()))
    typer.echo("片区: " + ", ".join(f"{k} {v}" for k, v in summary["zones"].items()))
    typer.echo(f"宗地: {summary['parcels']}, 户数: {summary['households']}, "
               f"地址: {summary['addresses']}")


@app.command()
def unitcode(
    code: Annotated[str, typer.Argument(help="不动产单元号 (28 characters) or 宗地代码 (19)")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Check and explain a 不动产单元号 (GB/T 37346-2019)."""
    from zoning.unitcode import parse

    try:
        uc = parse(code, allow_parcel=True)
    except UnitCodeError as exc:
        if as_json:
            _print_json({"code": code, "valid": False, "error": str(exc),
                         "error_zh": exc.message_zh, "position": exc.position})
        else:
            typer.echo(f"无效: {exc.message_zh}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        _print_json({"code": uc.code, "valid": True, "parcel_code": uc.parcel_code,
                     "county": uc.county, "county_name": uc.county_name,
                     "explanation": uc.explain()})
    else:
        typer.echo(f"有效: {uc.code}\n{uc.explain()}")


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="schools, zones, parcels, addresses, district, "
                                             "classes, enrolment, births or housing")],
    source: Annotated[Path, typer.Argument(help="file to import")],
    store: Annotated[Path, typer.Option(help="GeoPackage store to write into")] = _DEFAULT_DATA,
    user: UserOption = None,
    coords: Annotated[str | None, typer.Option(
        help="the file's lon/lat are in this web-map datum: gcj02 or bd09")] = None,
    encoding: Annotated[str | None, typer.Option(help="attribute encoding, e.g. GBK")] = None,
) -> None:
    """Import a layer or table into a store, checked, atomically (a failure changes nothing).

    Needs sign-in: a planner imports layers and tables; replacing the zones in force is the
    approver's (seeds 000 五(一)).
    """
    from zoning.io import LAYERS

    kwargs = {}
    if kind in LAYERS:
        kwargs = {"source": coords, "encoding": encoding}
    guard, who = guarded(store, user)
    try:
        frame = guard.import_layer(kind, source, actor=who.username, **kwargs)
    except ZoningError as exc:
        _fail(exc)
    typer.echo(f"已导入 {kind}: {len(frame)} 条 → {store}")


@app.command()
def audit(
    first: Annotated[str | None, typer.Argument(
        help="GeoPackage store; or 'verify' to check the log's hash chain", show_default=False,
        metavar="[STORE|verify]")] = None,
    second: Annotated[Path | None, typer.Argument(help="the store, after 'verify'",
                                                  show_default=False, metavar="[STORE]")] = None,
    head: Annotated[str | None, typer.Option(help="with verify: a head hash recorded earlier "
                                                  "(HASH or ENTRY_ID:HASH) the log must contain")]
    = None,
    migrate: Annotated[bool, typer.Option("--migrate", help="with verify: first chain an older "
                                          "store's log (a write)")] = False,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Show the audit log (who changed what, when); `zoning audit verify` checks its hash chain.

    Showing the log needs sign-in (approver, officer or admin); `verify` does not.

    `verify` exits 0 when the chain is whole, 1 when an entry was edited or deleted (the first
    broken entry is named), 2 when the store cannot be read.
    """
    if first == "verify":
        _audit_verify(second or _DEFAULT_DATA, head=head, migrate=migrate, as_json=as_json)
        return
    if second is not None:
        _fail(ZoningError(f"unexpected argument {str(second)!r}: use `zoning audit STORE` or "
                          "`zoning audit verify STORE`"))
    store = Path(first) if first else _DEFAULT_DATA
    guard, _ = guarded(store, user, "audit.read")
    try:
        log = guard.audit_log()
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json(log.to_dict("records"))
        return
    if log.empty:
        typer.echo("审计日志为空。")
    for r in log.itertuples():
        typer.echo(f"{r.at}\t{r.actor}\t{r.action}\t{r.target}\t{r.detail}")


def _audit_verify(store: Path, *, head: str | None, migrate: bool, as_json: bool) -> None:
    from zoning.store import open_store

    try:
        s = open_store(store)
        if migrate:
            s.migrate()
        check = s.verify_audit(head=head)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json({"store": str(store), "ok": check.ok, "entries": check.entries,
                     "head": check.head, "broken_entry": check.broken_entry,
                     "problem": check.problem, "problem_zh": check.problem_zh})
    elif check.ok:
        typer.echo(f"审计日志完整：共 {check.entries} 条，哈希链无断裂。")
        if check.head:
            typer.echo(f"最新哈希（请另行记录，下次用 --head 核对）：{check.entries}:{check.head}")
    else:
        typer.echo(f"审计日志核验未通过：{check.problem_zh}", err=True)
        typer.echo(f"(detail: {check.problem})", err=True)
    raise typer.Exit(0 if check.ok else 1)


@app.command()
def lookup(
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    address: Annotated[str | None, typer.Option(help="address text")] = None,
    parcel: Annotated[str | None, typer.Option(help="不动产单元号 or 宗地代码")] = None,
    lonlat: Annotated[str | None, typer.Option(help="LON,LAT in degrees")] = None,
    coords: Annotated[str, typer.Option(help="datum of --lonlat: wgs84, cgcs2000, gcj02 "
                                             "(Amap) or bd09 (Baidu)")] = "wgs84",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Which primary and junior school serve an address, a 不动产单元号 or a point, and why."""
    from zoning.lookup import lookup as run
    from zoning.store import open_store

    point = None
    if lonlat is not None:
        try:
            lon, lat = (float(v) for v in lonlat.replace("，", ",").split(","))
        except ValueError:
            typer.echo(f"错误: --lonlat 应为 经度,纬度，例如 106.63,29.72；收到 {lonlat!r}", err=True)
            raise typer.Exit(2) from None
        point = (lon, lat)
    if sum(q is not None for q in (address, parcel, point)) != 1:
        typer.echo("错误: 请给出 --address、--parcel 或 --lonlat 之一", err=True)
        raise typer.Exit(2)
    try:
        ds = open_store(data).load()
        res = run(ds, address=address, parcel=parcel, lonlat=point, coords=coords)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json(res.to_dict())
    else:
        typer.echo(f"查询: {res.query}")
        if res.matched_address:
            typer.echo(f"匹配地址: {res.matched_address}（相似度 {res.match_score:.0f}）")
        if not res.found:
            typer.echo(f"未能确定对口学校: {res.reason_zh}")
            if res.candidates is not None and len(res.candidates):
                typer.echo("相近地址:")
                for c in res.candidates.head(5).itertuples():
                    typer.echo(f"  {c.address}（{c.score:.0f}）")
        for ans in res.levels.values():
            typer.echo(ans.explanation_zh)
            for sch in ans.schools:
                typer.echo(f"  {sch.name}（{sch.school_id}）直线距离约 {sch.distance_m:,.0f} 米")
    raise typer.Exit(0 if res.found else 1)


def _count_lines_and_encoding(path: Path) -> tuple[int, str]:
    """Data rows of a CSV file, and its encoding: UTF-8 (with or without BOM), else GB18030.

    One streaming pass: Chinese offices' CSV files come from Excel in GBK as often as in UTF-8.
    """
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, lines = True, 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            lines += block.count(b"\n")
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
    return max(lines - 1, 0), "utf-8-sig" if utf8 else "gb18030"


@app.command()
def assign(
    input: Annotated[Path, typer.Option("--input", help="CSV (or GeoPackage/Excel) with an "
                                        "address, a parcel/unit_code, or lon/lat columns; "
                                        "Parquet/GeoParquet, a directory or a glob of files "
                                        "go partition by partition (extra scale)")],
    out: Annotated[Path, typer.Option(help="CSV to write: the input plus zone and school "
                                           "ids per level (partitioned: a Parquet directory "
                                           "unless the name ends in .csv)")],
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    coords: Annotated[str, typer.Option(help="datum of lon/lat columns")] = "wgs84",
    chunk: Annotated[int, typer.Option(help="rows per chunk")] = 200_000,
    engine: Annotated[str, typer.Option(help="auto (dask for Parquet, directories and globs, "
                                             "chunks otherwise), chunks or dask")] = "auto",
    workers: Annotated[int | None, typer.Option(help="dask: worker processes (default: "
                                                     "every CPU)")] = None,
    blocksize: Annotated[str, typer.Option(help="dask: bytes per CSV partition")] = "64MB",
) -> None:
    """Assign a batch of addresses, parcels or points to zones and schools (millions of rows)."""
    import glob

    import pandas as pd
    from tqdm.auto import tqdm

    from zoning.lookup import Resolver
    from zoning.scale import assign_mixed, merge_result
    from zoning.store import open_store

    if engine not in ("auto", "chunks", "dask"):
        typer.echo(f"错误: --engine 应为 auto、chunks 或 dask；收到 {engine!r}", err=True)
        raise typer.Exit(2)
    suffix = input.suffix.lower()
    partitioned = (glob.has_magic(str(input)) or input.is_dir()
                   or suffix in (".parquet", ".geoparquet", ".pq"))
    if engine == "dask" or (engine == "auto" and partitioned):
        _assign_partitioned(input, out, data=data, coords=coords, workers=workers,
                            blocksize=blocksize)
        return
    if partitioned:
        typer.echo(f"错误: {input} 是 Parquet 文件、目录或通配路径，只能分区处理；"
                   "请去掉 --engine chunks（或用 --engine dask）", err=True)
        raise typer.Exit(2)
    try:
        resolver = Resolver(open_store(data).load())
    except ZoningError as exc:
        _fail(exc)
    if not input.exists():
        _fail(ZoningError(f"{input}: no such file; check the path"))
    suffix = input.suffix.lower()
    if suffix in (".csv", ".txt"):
        total, encoding = _count_lines_and_encoding(input)
        chunks = pd.read_csv(input, dtype=str, chunksize=chunk, encoding=encoding)
    else:
        import pyogrio

        try:
            frame = (pd.read_excel(input, dtype=str) if suffix in (".xlsx", ".xls")
                     else pyogrio.read_dataframe(input, read_geometry=False))
        except Exception as exc:  # noqa: BLE001 - any reader failure is a damaged input file
            _fail(ZoningError(
                f"{input}: cannot be read ({type(exc).__name__}: {exc}); the file may be damaged "
                "or not what its name says. Export it again as CSV (UTF-8 or GBK) or Excel"))
        total = len(frame)
        chunks = (frame.iloc[i:i + chunk] for i in range(0, max(total, 1), chunk))
    tmp = out.with_name(f".{out.name}.part")
    done = placed = 0
    try:
        with tqdm(total=total, unit="行", desc="分配", disable=not sys.stderr.isatty()) as bar:
            for i, part in enumerate(chunks):
                res = assign_mixed(resolver, part, coords=coords)
                merged = merge_result(part, res)
                merged.to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False,
                              encoding="utf-8-sig" if i == 0 else "utf-8")
                done += len(part)
                placed += int(res["reason"].isna().sum())
                bar.update(len(part))
        os.replace(tmp, out)
    except ZoningError as exc:
        tmp.unlink(missing_ok=True)
        _fail(exc)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    typer.echo(f"已分配 {placed}/{done} 行 → {out}")


def _assign_partitioned(input: Path, out: Path, *, data: Path, coords: str,
                        workers: int | None, blocksize: str) -> None:
    """``zoning assign`` on inputs larger than memory: dask partitions (zoning.scale)."""
    from zoning.scale import assign_partitioned

    try:
        summary = assign_partitioned(input, out, data=data, coords=coords, workers=workers,
                                     blocksize=blocksize, progress=sys.stderr.isatty())
    except ZoningError as exc:
        _fail(exc)
    typer.echo(summary.summary_zh())


@app.command()
def publish(
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    level: Annotated[str, typer.Option(help="primary or junior")] = "primary",
    out: Annotated[Path | None, typer.Option(help="text file to write (default: print)")] = None,
) -> None:
    """Write the zones as the 划片 text list a district publishes (roads, 单双号 ranges, 村/组)."""
    from zoning.publish import zone_text_list
    from zoning.store import open_store

    try:
        text = zone_text_list(open_store(data).load(), level=level)
    except ZoningError as exc:
        _fail(exc)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"已写出 {len(text.splitlines())} 所学校的划片范围 → {out}")


@app.command()
def crosscheck(
    text: Annotated[Path, typer.Option(help="published 划片 text list, one school per line: "
                                            "学校: 条目、条目…")],
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    level: Annotated[str, typer.Option(help="primary or junior")] = "primary",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Check a published 划片 text list against the zone map, address by address.

    Exit code 0 when every zoned address agrees, 1 when some disagree, conflict or are not
    covered by the text.
    """
    from zoning.address import parse_rule_list
    from zoning.lookup import Resolver
    from zoning.store import open_store

    try:
        rules = parse_rule_list(text.read_text(encoding="utf-8-sig"))
        resolver = Resolver(open_store(data).load())
        report = resolver.cross_check(rules, level=level, progress=sys.stderr.isatty())
    except (ZoningError, OSError) as exc:
        _fail(exc if isinstance(exc, ZoningError) else ZoningError(str(exc)))
    counts = report["status"].value_counts().to_dict()
    unparsed = [r.raw for r in rules if r.kind == "unparsed"]
    bad = report[~report["status"].isin(["agree", "unzoned"])]
    if as_json:
        _print_json({"counts": counts, "unparsed_clauses": unparsed,
                     "problems": bad.reset_index().head(1000).to_dict("records")})
    else:
        labels = {"agree": "一致", "disagree": "不一致", "conflict": "多校冲突",
                  "no_rule": "文字未覆盖", "unzoned": "不在片区内"}
        typer.echo("核对结果: " + ", ".join(f"{labels.get(k, k)} {v}" for k, v in counts.items()))
        for raw in unparsed:
            typer.echo(f"无法解析的条目: {raw}")
        for r in bad.head(20).itertuples():
            typer.echo(f"{r.Index}\t{labels[r.status]}\t片区 {r.zone_id} {r.schools}\t"
                       f"文字 {r.rule_schools}")
    raise typer.Exit(0 if bad.empty else 1)


@app.command()
def forecast(
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    level: Annotated[str, typer.Option(help="primary or junior")] = "primary",
    years: Annotated[int, typer.Option(help="years ahead")] = 6,
    by: Annotated[str, typer.Option(help="school or zone")] = "school",
    backtest: Annotated[bool, typer.Option("--backtest", help="hold out the last observed "
                                           "year and report the error (MAPE)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Forecast starting-grade demand per school with an 80 % interval and the chance of red."""
    from zoning import forecast as fc
    from zoning.store import open_store

    try:
        ds = open_store(data).load()
        if backtest:
            res = fc.backtest(ds, level=level)
        else:
            table = fc.forecast(ds, level=level, years=years, by=by)
    except ZoningError as exc:
        _fail(exc)
    names = ds.schools["name"]
    if backtest:
        per = res.per_school
        if as_json:
            _print_json({"level": level, "mape": res.mape,
                         "per_school": per.to_dict("records")})
            return
        typer.echo(f"回测（留出最近 {res.holdout} 年）: 平均绝对百分比误差 MAPE = {res.mape:.1%}")
        worst = per.sort_values("abs_pct_error", ascending=False).head(10)
        for r in worst.itertuples():
            typer.echo(f"  {names.get(r.school_id, r.school_id)}: 预测 {r.forecast:.0f}, 实际 "
                       f"{r.observed:.0f}, 误差 {r.abs_pct_error:.1%}")
        return
    if as_json:
        _print_json(table.to_dict("records"))
        return
    if by == "zone":
        typer.echo("片区\t年份\t预计需求 (80%区间)\t新增住房户数")
        for r in table.itertuples():
            typer.echo(f"{r.zone_id}\t{r.year}\t{r.demand:.0f} ({r.lo:.0f}-{r.hi:.0f})\t"
                       f"{r.new_households:.0f}")
        return
    zh = {"green": "绿", "yellow": "黄", "red": "红", "none": "无"}
    typer.echo("学校\t年份\t预计需求 (80%区间)\t学位\t红色概率\t预警")
    for r in table.itertuples():
        typer.echo(f"{names.get(r.school_id, r.school_id)}\t{r.year}\t{r.demand:.0f} "
                   f"({r.lo:.0f}-{r.hi:.0f})\t{r.seats:.0f}\t{r.p_red:.0%}\t"
                   f"{zh.get(r.warning, r.warning)}")


def _with_suffix(path: Path, level: str, many: bool) -> Path:
    """``map.html`` → ``map_primary.html`` when one file per level is written."""
    return path.with_name(f"{path.stem}_{level}{path.suffix}") if many else path


@app.command()
def capacity(
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    year: Annotated[int | None, typer.Option(help="intake year (default: the year after the "
                                                  "last enrolment year)")] = None,
    level: Annotated[str, typer.Option(help="primary, junior or all")] = "all",
    primary_cap: Annotated[int, typer.Option(help="students per grade-1 class (≤ 45)")] = 45,
    junior_cap: Annotated[int, typer.Option(help="students per grade-7 class (≤ 50)")] = 50,
    yellow: Annotated[float, typer.Option(help="yellow from demand/seats ≥ this")] = 0.9,
    red: Annotated[float, typer.Option(help="red from demand/seats ≥ this")] = 1.0,
    excel: Annotated[Path | None, typer.Option(help="write the tables (and 大班额) to .xlsx")] = None,
    csv: Annotated[Path | None, typer.Option(help="write the tables to CSV")] = None,
    map_: Annotated[Path | None, typer.Option("--map", help="write a warning map (.html); "
                                              "one per level, suffixed, for --level all")] = None,
    notice: Annotated[Path | None, typer.Option(help="write the public warning notice "
                                                     "(Markdown)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """学位预警: seats against demand per school, a district summary, 大班额, reports to publish.

    Demand is the season's registered applicants when the store has them for YEAR, else the
    observed intake for a past year, else the forecast (with its 80 % interval and P(red)).
    """
    import warnings as _warnings

    from zoning import capacity as cap
    from zoning.maps import save_map
    from zoning.store import open_store

    levels = ["primary", "junior"] if level == "all" else [level]
    try:
        settings = cap.CapacitySettings(primary_cap=primary_cap, junior_cap=junior_cap,
                                        yellow=yellow, red=red)
        store = open_store(data)
        ds = store.load()
        applicants = store.read("applicants")
        if year is None:
            enrol = ds.layer("enrolment")
            year = int(enrol["year"].max()) + 1
        tables = {}
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            for lv in levels:
                tables[lv] = cap.capacity_for_year(ds, level=lv, year=year,
                                                   applicants=applicants, settings=settings)
        classes = ds.tables.get("classes")
        large = (cap.large_classes(classes, ds.schools, settings=settings)
                 if classes is not None else None)
    except ZoningError as exc:
        _fail(exc)
    for w in caught:
        typer.echo(f"警告 (warning): {w.message}", err=True)
    district = (str(ds.district["name"].iloc[0]) if ds.district is not None
                and "name" in ds.district and len(ds.district) else "本区")
    zh_level = {"primary": "小学一年级", "junior": "初中七年级"}
    zh_source = {"applicants": "已报名人数", "enrolment": "实际入学人数", "forecast": "预测"}
    many = len(levels) > 1
    written = []
    if excel is not None:
        cap.to_excel({zh_level[lv]: t for lv, t in tables.items()}, excel, large=large)
        written.append(excel)
    if csv is not None:
        cap.to_csv(list(tables.values()), csv)
        written.append(csv)
    if map_ is not None:
        for lv, t in tables.items():
            out = _with_suffix(map_, lv, many)
            save_map(cap.warning_map(t, ds.schools, ds.zones, level=lv), out)
            written.append(out)
    if notice is not None:
        from zoning.io import atomic_path

        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")  # already reported above, per table
            text = "\n".join(cap.public_notice(t, district=district, year=year, level=lv)
                             for lv, t in tables.items())
        with atomic_path(notice) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        written.append(notice)
    if as_json:
        _print_json({
            "year": year,
            "levels": {lv: {"source": t.attrs["source"], "summary": cap.district_summary(t),
                            "schools": t.reset_index().to_dict("records")}
                       for lv, t in tables.items()},
            "large_classes": [] if large is None else large.to_dict("records"),
            "written": [str(p) for p in written],
        })
    else:
        zh = {"green": "绿", "yellow": "黄", "red": "红", "none": "无"}
        for lv, t in tables.items():
            s = cap.district_summary(t)
            typer.echo(f"{district}{year}年{zh_level[lv]}学位预警（需求来源: "
                       f"{zh_source[t.attrs['source']]}）")
            typer.echo(f"  学校 {s['schools']} 所: 红 {s['red']}、黄 {s['yellow']}、绿 "
                       f"{s['green']}；学位 {s['seats']}，需求 {s['demand']:.0f}，缺学位 "
                       f"{s['shortfall_seats']:.0f}（{s['shortfall_classes']} 个班）")
            show = t[t["warning"].isin(["red", "yellow"])].sort_values("ratio", ascending=False)
            if len(show):
                typer.echo("  学校\t计划班数\t学位\t需求\t比例\t预警\t需要班数")
            for sid, r in show.iterrows():
                # whole children, as the notice; the ratio to 0.1 % so 99.9 % and 100 % differ
                typer.echo(f"  {r['name']}（{sid}）\t{r['planned_classes']}\t{r['seats']}\t"
                           f"{math.ceil(round(r['demand'], 9))}\t{r['ratio']:.1%}\t"
                           f"{zh[r['warning']]}\t{r['classes_needed']}")
        if large is not None and len(large):
            typer.echo(f"大班额: {len(large)} 个班（其中超大班额 "
                       f"{int((large['flag'] == 'very_large').sum())} 个、起始年级超上限 "
                       f"{int((large['flag'] == 'over_cap').sum())} 个）")
        for p in written:
            typer.echo(f"已写出: {p}")


@app.command()
def optimize(
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    level: Annotated[str, typer.Option(help="primary or junior")] = "primary",
    year: Annotated[int | None, typer.Option(help="intake year (default: the year after the "
                                                  "last enrolment year)")] = None,
    time_limit: Annotated[float, typer.Option(help="seconds per plan")] = 60.0,
    blocks: Annotated[int, typer.Option(help="about how many blocks of parcels to move")] = 2000,
    add_classes: Annotated[list[str] | None, typer.Option(
        "--add-classes", help="extra classes allowed at a school, e.g. S012=2 (repeatable)")] = None,
    gap: Annotated[float, typer.Option(help="relative MIP gap to stop at")] = 0.01,
    tradeoff: Annotated[bool, typer.Option("--tradeoff", help="also solve plans that trade "
                                           "more moves for shorter trips")] = False,
    contiguity: Annotated[str, typer.Option(help="order (fast, a subset of contiguous plans) or "
                                            "flow (exact)")] = "order",
    threads: Annotated[int, typer.Option(min=1, help="cores to use (HiGHS searches on each "
                                         "thread)")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Rebalance zones under the class caps, moving the fewest households (MIP, HiGHS)."""
    from zoning import optimize as opt
    from zoning.store import open_store

    extra = {}
    for item in add_classes or []:
        sid, _, num = item.partition("=")
        if not sid.strip() or not num.strip().isdigit():
            _fail(ZoningError(f"--add-classes {item!r}: write SCHOOL=CLASSES, e.g. S012=2"))
        extra[sid.strip()] = extra.get(sid.strip(), 0) + int(num)
    from tqdm.auto import tqdm

    weights = opt.DEFAULT_WEIGHTS if tradeoff else opt.DEFAULT_WEIGHTS[:1]
    bar = tqdm(total=round(len(weights) * time_limit), unit="秒", desc="求解",
               disable=not sys.stderr.isatty())
    t0 = time.monotonic()

    def progress(plan, plans, best, bound):
        bar.n = min(round(time.monotonic() - t0), bar.total)
        num = [f"{x:,.0f}" if math.isfinite(x) else "—" for x in (best, bound)]
        bar.set_postfix_str(f"方案 {plan + 1}/{plans} 目标 {num[0]} 下界 {num[1]}")

    try:
        ds = open_store(data).load()
        with bar:
            res = opt.optimize(ds, level=level, year=year, time_limit=time_limit,
                               n_blocks=blocks, add_classes=extra, mip_rel_gap=gap,
                               distance_weights=weights, contiguity=contiguity,
                               threads=threads, progress=progress)
            bar.n = bar.total  # done (early when every plan proved its gap)
    except ZoningError as exc:
        _fail(exc)
    s = res.schools
    before = s[s["demand_before"] > s["seats"] + 1e-6]
    if as_json:
        _print_json({**res.summary(), "plans": [p.summary() for p in res.plans],
                     "schools": s.reset_index().to_dict("records")})
        return
    zh = {"optimal": "最优（在间隙内）", "feasible": "可行（时间到）", "greedy": "贪心方案",
          "over_capacity": "仍有超额"}
    typer.echo(f"求解状态: {zh.get(res.status, res.status)}；MIP 间隙 {res.mip_gap:.2%}；"
               f"用时 {res.seconds:.1f} 秒")
    if res.method == "mip" and res.contiguity == "order":
        typer.echo("  （连片约束用“按学校顺序”模型：间隙只相对于该模型允许的方案；"
                   "--contiguity flow 为精确模型）")
    typer.echo(f"调整户数: {res.moved_households} 户（{res.moved_parcels} 宗地、"
               f"{res.moved_blocks} 个街块）；最高学位比 {res.worst_ratio:.1%}")
    typer.echo(f"调整前超额学校 {len(before)} 所，调整后 {len(res.over_cap)} 所")
    if len(before):
        typer.echo("  学校\t学位\t调整前需求\t调整后需求\t调整前比例\t调整后比例")
    for sid, r in before.sort_values("ratio_before", ascending=False).iterrows():
        typer.echo(f"  {r['name']}（{sid}）\t{r['seats']:.0f}\t{r['demand_before']:.0f}\t"
                   f"{r['demand_after']:.0f}\t{r['ratio_before']:.1%}\t{r['ratio_after']:.1%}")
    for p in res.plans[1:]:
        typer.echo(f"权衡方案（距离权重 {p.distance_weight:g}）: 调整 {p.moved_households} 户，"
                   f"学生总路程 {p.distance:.0f} 人·公里，间隙 {p.mip_gap:.2%}")


@app.command()
def dashboard(
    data: Annotated[Path, typer.Option(help="store to show: a .gpkg file or postgresql:// URL")
                    ] = _DEFAULT_DATA,
    port: Annotated[int, typer.Option(help="port")] = 8501,
) -> None:
    """Start the Streamlit dashboard on http://localhost:PORT."""
    script = Path(__file__).resolve().parent.parent / "dashboard.py"
    from zoning.store import store_location

    try:
        env = {**os.environ, "ZONING_DATA": store_location(data)}
    except ZoningError as exc:
        _fail(exc)
    # run from the project folder: Streamlit serves ./static (the vendored Leaflet and
    # Leaflet.draw, so maps work offline) and reads .streamlit/config.toml from there
    raise typer.Exit(subprocess.call(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.headless", "true", "--server.enableStaticServing", "true",
         "--browser.gatherUsageStats", "false"], env=env, cwd=script.parent))


@app.command()
def serve(
    data: Annotated[Path, typer.Option(help="GeoPackage store to serve")] = _DEFAULT_DATA,
    host: Annotated[str, typer.Option(help="address to listen on (default: loopback only)")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option(help="port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes; each loads the data and "
                                              "answers on one core", min=1)] = 1,
    cache: Annotated[int, typer.Option(help="lookup answers cached per worker (0: off)",
                                       min=0)] = 4096,
    access_log: Annotated[bool, typer.Option("--access-log", help="log one line per request, "
                                             "without query string or client address")] = False,
    rate_limit: Annotated[float, typer.Option(
        help="public requests per second per client address and worker (0: off); a client "
             "above it gets 429 with Retry-After", min=0)] = 10.0,
    rate_burst: Annotated[int | None, typer.Option(
        help="requests a client may send at once before the limit applies (default 3 × the "
             "rate, at least 10)", min=1)] = None,
) -> None:
    """Start the HTTP lookup service (FastAPI): /lookup, /schools/{id}, /warnings, /health.

    The OpenAPI schema is at /openapi.json and the docs at /docs. Queries are never logged.
    Needs the optional API dependencies (the `api` extra: fastapi, uvicorn).
    """
    try:
        from zoning.api import serve as run
    except ImportError as exc:
        typer.echo(f"错误: 查询服务需要安装 api 扩展（pip install -e \".[api]\"）：{exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"学区查询服务: http://{host}:{port}/docs（数据 {data}，{workers} 个进程）", err=True)
    try:
        run(data, host=host, port=port, workers=workers, cache_size=cache,
            access_log=access_log, rate_limit=rate_limit, rate_burst=rate_burst)
    except ZoningError as exc:
        _fail(exc)


# ------------------------------------------------------------------------------------ bring in
_LEVEL_ZH = {"primary": "小学", "junior": "初中"}


def _pairs(items: list[str] | None, option: str) -> dict:
    """``NAME=ID`` options as a dict."""
    out = {}
    for item in items or []:
        name, sep, sid = item.replace("＝", "=").rpartition("=")
        if not sep or not name.strip() or not sid.strip():
            _fail(ZoningError(f"{option} {item!r}: write 名称=学校编号, e.g. 东大街一小=S012"))
        out[name.strip()] = sid.strip()
    return out


def _tsv(rows, header: str, limit: int) -> None:
    if header:
        typer.echo("  " + header)
    for row in rows[:limit]:
        typer.echo("  " + "\t".join("" if v is None or v != v else str(v) for v in row))
    if len(rows) > limit:
        typer.echo(f"  …… 另有 {len(rows) - limit} 项（--json 输出全部，或加大 --limit）")


@app.command("import-text")
def import_text(
    text: Annotated[Path, typer.Option(help="published 划片 list: .txt/.md (UTF-8 or GBK), .docx, "
                                            ".xlsx or .csv with a school and a clauses column")],
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    level: Annotated[str, typer.Option(help="primary or junior")] = "primary",
    out: Annotated[Path | None, typer.Option(help="write the new zones to .gpkg, .geojson or .shp "
                                                  "(GBK)")] = None,
    save: Annotated[bool, typer.Option("--save", help="replace the level's zones in the store "
                                       "(atomic, with an audit entry; approver)")] = False,
    user: UserOption = None,
    school_map: Annotated[list[str] | None, typer.Option(
        "--map", help="school name as written=SCHOOL_ID, for names not found (repeatable)")]
    = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet (default: the first)")] = None,
    limit: Annotated[int, typer.Option(help="rows shown per table")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Zones from a district's published 划片 text list: clauses → addresses → parcels → zones.

    Reports the clauses read and those that cannot be read, the school names matched, the
    addresses each school's clauses claim, conflicts (several schools claim an address) and gaps
    (no clause claims it). Exit code 0 when the list was read and applied without any of these
    problems, 1 when some need the planner's attention (the zones are still made), 2 when the
    list or the store cannot be read, or --save is refused because the zones do not validate.
    """
    from zoning.io import write_layer
    from zoning.store import open_store
    from zoning.textimport import import_text as run
    from zoning.textimport import read_text_list

    mapping = _pairs(school_map, "--map")
    guard = None
    if save:  # sign in before the work, not after it
        guard, who = guarded(data, user, "zones.import")
    try:
        store = guard or open_store(data)
        ds = store.load()
        tl = read_text_list(text, sheet=sheet)
        res = run(ds, tl, level=level, school_map=mapping, progress=sys.stderr.isatty())
    except ZoningError as exc:
        _fail(exc)
    s = res.summary
    problems = (s["clauses_unparsed"] or s["schools_unmatched"] or s["conflicts_unresolved"]
                or s["gaps"] or s["addresses_unknown_school"] or not s["valid"])
    written = []
    try:
        if out is not None:
            write_layer(res.zones, out, encoding="GBK" if out.suffix.lower() == ".shp" else None)
            written.append(str(out))
        if save:
            res.save(guard, ds, actor=who.username)
    except ZoningError as exc:
        if not as_json:
            _print_import_text(res, text, limit)
        _fail(exc)
    if as_json:
        _print_json({
            "summary": s, "written": written, "saved": bool(save),
            "schools": res.schools.reset_index().to_dict("records"),
            "unparsed": res.text.unparsed.to_dict("records"),
            "skipped": res.text.skipped.to_dict("records"),
            "conflicts": res.conflict_groups().head(500).to_dict("records"),
            "gaps": res.gap_groups().head(500).to_dict("records"),
            "split_parcels": res.parcels[res.parcels["split"]].reset_index()
            .head(500).to_dict("records"),
            "validation": res.validation.to_records()[:500],
        })
    else:
        _print_import_text(res, text, limit)
        for p in written:
            typer.echo(f"已写出片区: {p}")
        if save:
            typer.echo(f"已保存到 {data}：{_LEVEL_ZH.get(level, level)}片区已替换"
                       f"（审计记录：{who.username}）")
    raise typer.Exit(1 if problems else 0)


def _print_import_text(res, path: Path, limit: int) -> None:
    s = res.summary
    t = res.text
    typer.echo(f"划片文字: {path}（{_LEVEL_ZH.get(res.level, res.level)}）")
    typer.echo(f"  学校 {s['schools_in_text']} 所（已对应 {s['schools_matched']}），条目 {s['clauses']} "
               f"条（可识别 {s['clauses'] - s['clauses_unparsed']}，无法识别 "
               f"{s['clauses_unparsed']}），未作为条目读取的行 {s['lines_skipped']}")
    names = res.schools
    fuzzy = names[names["method"].isin(["normalised", "fuzzy"])]
    if len(fuzzy):
        typer.echo("学校名称按简称或相近名称对应（请核对）:")
        _tsv([(n, r.school_id, r.school_name, r.reason_zh) for n, r in fuzzy.iterrows()],
             "文中名称\t学校编号\t学校名称\t说明", limit)
    miss = names[names["school_id"].isna()]
    if len(miss):
        typer.echo("未能对应的学校名称（其条目不划入任何学校，可用 --map 名称=编号 指定）:")
        _tsv([(n, r.reason_zh, r.candidates) for n, r in miss.iterrows()], "文中名称\t原因\t候选",
             limit)
    if len(t.unparsed):
        typer.echo("无法识别的条目（不会划入任何地址）:")
        _tsv([(r.line, r.school, r.raw, r.reason_zh) for r in
              t.unparsed.drop_duplicates(["school", "line", "raw"]).itertuples()],
             "行\t学校\t条目\t原因", limit)
    if len(t.skipped):
        typer.echo("未作为划片条目读取的行:")
        _tsv([(r.line, r.text[:60], r.reason_zh) for r in t.skipped.itertuples()],
             "行\t内容\t原因", limit)
    typer.echo(f"地址 {s['addresses']:,} 个: 已对应学校 {s['addresses_placed']:,}（单校 "
               f"{s['addresses_claimed']:,}、多校划片 {s['addresses_shared']:,}、冲突按更具体条目归属 "
               f"{s['addresses_resolved']:,}）；冲突未解决 {s['addresses_conflict']:,}；未覆盖 "
               f"{s['gaps']:,}；学校未对应 {s['addresses_unknown_school']:,}")
    names_of = res.schools.dropna(subset=["school_id"]).drop_duplicates("school_id")\
        .set_index("school_id")["school_name"]
    per = sorted(s["per_school"].items(), key=lambda kv: -kv[1])
    typer.echo("各校对应地址数:")
    _tsv([(sid, names_of.get(sid, ""), n) for sid, n in per], "学校编号\t学校名称\t地址数",
         max(limit, 100))
    for sid in s["schools_without_addresses"]:
        typer.echo(f"  注意：{names_of.get(sid, sid)}（{sid}）的条目没有对应到任何地址")
    cg = res.conflict_groups()
    if len(cg):
        typer.echo("冲突（同一地址被多所学校的条目覆盖）:")
        zh = {"resolved": "按更具体条目归属", "conflict": "未解决"}
        _tsv([(r.addresses, zh.get(r.status, r.status), r.school_ids or "", r.claimants,
               r.example) for r in cg.itertuples()], "地址数\t处理\t归属\t涉及条目\t例", limit)
    gg = res.gap_groups()
    if len(gg):
        typer.echo("未覆盖的地址（没有条目划入，按道路/小区/村社区）:")
        _tsv([(r.where, r.addresses, r.numbers, r.near or "", r.example) for r in gg.itertuples()],
             "位置\t地址数\t门牌\t提及该处的条目\t例", limit)
    typer.echo(f"宗地 {s['parcels']:,} 宗: 按所含地址多数归属 {s['parcels_from_text']:,}，无对应地址、"
               f"按最近宗地归入 {s['parcels_nearest']:,}（其中有住户 "
               f"{s['parcels_nearest_with_households'] or 0}）；地址分属多校的宗地 "
               f"{s['parcels_split']:,}")
    if s["addresses_without_parcel"]:
        typer.echo(f"  注意：{s['addresses_without_parcel']:,} 个地址不在任何宗地内，未参与宗地归属")
    split = res.parcels[res.parcels["split"]]
    if len(split):
        _tsv([(pid, r.zone_id, f"{r.share:.0%}", r.votes) for pid, r in split.iterrows()],
             "宗地\t归入片区\t多数占比\t各校地址数", limit)
    verdict = "校验通过" if res.validation.ok else f"校验未通过（错误 {s['validation_errors']} 项）"
    typer.echo(f"片区 {s['zones']} 个（铺满全区、无重叠）: {verdict}；警告 {s['validation_warnings']} 项")
    for r in res.validation.errors.head(limit).itertuples():
        typer.echo(f"  {KIND_ZH.get(r.kind, r.kind)}\t{r.id}\t{r.message}")


@app.command("import-plan")
def import_plan(
    file: Annotated[Path, typer.Option(help="zone layer: Shapefile (GBK or UTF-8), GeoJSON or "
                                            "GeoPackage")],
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    level: Annotated[str, typer.Option(help="primary or junior")] = "primary",
    school_column: Annotated[str | None, typer.Option(help="column naming the schools (ids or "
                                                           "names); default: detected")] = None,
    zone_column: Annotated[str | None, typer.Option(help="column with zone ids")] = None,
    school_map: Annotated[list[str] | None, typer.Option(
        "--map", help="value as written=SCHOOL_ID (repeatable)")] = None,
    coords: Annotated[str | None, typer.Option(help="the file's lon/lat are in this web-map "
                                                    "datum: gcj02 or bd09")] = None,
    encoding: Annotated[str | None, typer.Option(help="attribute encoding, e.g. GBK")] = None,
    layer: Annotated[str | None, typer.Option(help="GeoPackage layer")] = None,
    out: Annotated[list[Path] | None, typer.Option(help="export the plan: .shp (GBK), .geojson, "
                                                        ".gpkg or .txt (划片文字) (repeatable)")]
    = None,
    save: Annotated[bool, typer.Option("--save", help="store the plan as a draft version "
                                       "(planner)")] = False,
    user: UserOption = None,
    limit: Annotated[int, typer.Option(help="rows shown per table")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """An existing zone layer (e.g. drawn by a GIS office) as a plan, with what did not match.

    Exit code 0 when every feature's schools were found and the zones validate, 1 when something
    needs attention (listed), 2 when the file or the store cannot be read.
    """
    from zoning.simulate import export_plan, save_plan
    from zoning.store import open_store
    from zoning.textimport import import_plan as run

    mapping = _pairs(school_map, "--map")
    guard = who = None
    if save:
        guard, who = guarded(data, user, "plan.edit")
    try:
        store = guard or open_store(data)
        ds = store.load()
        res = run(ds, file, level=level, school_column=school_column, zone_column=zone_column,
                  school_map=mapping, layer=layer, source=coords, encoding=encoding,
                  author=who.username if who else _who(user or ""))
        written = [str(export_plan(ds, res.plan, p)) for p in out or []]
        if save:
            save_plan(guard, res.plan, actor=who.username)
    except ZoningError as exc:
        _fail(exc)
    s = res.summary
    problems = bool(s["values_unmatched"] or s["features_dropped"] or not s["valid"]
                    or s["parcels_unzoned"])
    if as_json:
        _print_json({"summary": s, "plan_id": res.plan.plan_id, "written": written,
                     "saved": bool(save),
                     "values": res.values.reset_index().to_dict("records"),
                     "unmatched": res.unmatched.reset_index().to_dict("records"),
                     "validation": res.validation.to_records()[:500]})
        raise typer.Exit(1 if problems else 0)
    typer.echo(f"片区图层: {file}（{_LEVEL_ZH.get(level, level)}）: 要素 {s['features_read']} 个"
               + (f"（其他学段 {s['features_other_level']} 个未导入）" if s["features_other_level"]
                  else ""))
    typer.echo(f"学校列: {s['school_column']}；片区编号列: {s['zone_column'] or '（无，按学校生成）'}")
    typer.echo(f"学校取值 {s['values']} 个，已对应 {s['values_matched']} 个")
    fuzzy = res.values[res.values["method"].isin(["normalised", "fuzzy"])]
    if len(fuzzy):
        typer.echo("按简称或相近名称对应（请核对）:")
        _tsv([(n, r.school_id, r.school_name, r.reason_zh) for n, r in fuzzy.iterrows()],
             "取值\t学校编号\t学校名称\t说明", limit)
    if len(res.unmatched):
        typer.echo("未能对应的取值（这些要素不成为片区，可用 --map 取值=编号 指定）:")
        _tsv([(n, r.features, r.reason_zh, r.candidates) for n, r in res.unmatched.iterrows()],
             "取值\t要素数\t原因\t候选", limit)
    if s["schools_without_zone"]:
        typer.echo("本学段没有片区的公办学校: " + "、".join(s["schools_without_zone"][:limit]))
    verdict = "校验通过" if res.validation.ok else f"校验未通过（错误 {s['validation_errors']} 项）"
    typer.echo(f"片区 {s['zones']} 个；宗地 {s['parcels']:,} 宗，未入任何片区 {s['parcels_unzoned']:,}；"
               f"{verdict}")
    for r in res.validation.errors.head(limit).itertuples():
        typer.echo(f"  {KIND_ZH.get(r.kind, r.kind)}\t{r.id}\t{r.message}")
    if s["hint_zh"]:
        typer.echo(f"提示: {s['hint_zh']}")
    typer.echo(f"方案编号: {res.plan.plan_id}" + ("（已保存为草稿）" if save else ""))
    for p in written:
        typer.echo(f"已写出: {p}")
    raise typer.Exit(1 if problems else 0)


@app.command("export-plan")
def export_plan_cmd(
    out: Annotated[list[Path], typer.Option(help=".shp (GBK attributes, .cpg written), .geojson, "
                                                 ".gpkg or .txt (published 划片 list); repeatable")],
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    plan: Annotated[str | None, typer.Option(help="stored plan id (default: the zones in "
                                                  "force)")] = None,
    level: Annotated[str, typer.Option(help="primary or junior (with the zones in force)")]
    = "primary",
    user: UserOption = None,
) -> None:
    """Export a plan (or the zones in force) as a Shapefile, GeoJSON, GeoPackage or text list.

    The zones in force are public; a stored plan (--plan) needs sign-in (planner or approver).
    """
    from zoning.simulate import current_plan, export_plan, load_plan
    from zoning.store import open_store

    try:
        store = guarded(data, user)[0] if plan else open_store(data)
        ds = store.load()
        p = load_plan(store, plan, crs=ds.crs) if plan else current_plan(ds, level=level)
        for path in out:
            export_plan(ds, p, path)
            typer.echo(f"已写出: {path}")
    except ZoningError as exc:
        _fail(exc)


# ------------------------------------------------------------------------------------ enrolment
lottery_app = typer.Typer(
    help="民办学校电脑随机摇号：摇号前公布承诺哈希，摇号时公布种子，任何人可复核 (verifiable lottery).",
    no_args_is_help=True)
enroll_app = typer.Typer(
    help="招生季：报名导入、资格审核、民办摇号、公办录取与统筹、入学通知书和报到码 (enrolment season).",
    no_args_is_help=True)
app.add_typer(lottery_app, name="lottery")
app.add_typer(enroll_app, name="enroll")


def _register_auth_commands() -> None:
    from zoning.cli_users import retention, user_app

    app.add_typer(user_app, name="user")
    app.command("retention")(retention)


_register_auth_commands()


def _register_store_commands() -> None:
    from zoning.cli_store import store_app

    app.add_typer(store_app, name="store")


_register_store_commands()

def _when(at: str | None):
    """--at as a time on the CST clock (default now)."""
    import pandas as pd

    from zoning.lottery import CST

    if at is None:
        return pd.Timestamp.now(CST)
    try:
        t = pd.Timestamp(at)
    except ValueError:
        _fail(ZoningError(f"--at {at!r}: give a time like 2027-06-20T10:00"))
    return t.tz_localize(CST) if t.tzinfo is None else t.tz_convert(CST)


def _override(officer: str | None, reason: str | None, user=None):
    from zoning.enroll import Override

    if officer is None and reason is None:
        return None
    try:
        return Override(officer or (user.username if user is not None else ""), reason or "")
    except ZoningError as exc:
        _fail(exc)


def _quota(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        sid, _, num = item.partition("=")
        if not sid.strip() or not num.strip().isdigit():
            _fail(ZoningError(f"--quota {item!r}: write SCHOOL=SEATS, e.g. S094=20"))
        out[sid.strip()] = int(num)
    return out


def _who(actor: str) -> str:
    return actor or os.environ.get("USER", "unknown")


@lottery_app.command("commit")
def lottery_commit(
    data: Annotated[Path, typer.Option(help="GeoPackage store with the applicants")] = _DEFAULT_DATA,
    year: Annotated[int, typer.Option(help="intake year")] = 2027,
    out: Annotated[Path, typer.Option(help="folder for the files to publish")] = Path("lottery"),
    school: Annotated[list[str] | None, typer.Option(
        "--school", help="only this private school (repeatable)")] = None,
    siblings: Annotated[bool, typer.Option("--siblings/--no-siblings",
                                           help="draw multi-child families together")] = True,
    quota: Annotated[list[str] | None, typer.Option(
        "--quota", help="own-area seats of a school, e.g. S094=20 (repeatable)")] = None,
    at: Annotated[str | None, typer.Option(help="when (default now), e.g. 2027-06-19T17:00")]
    = None,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Before the draw: write and audit each oversubscribed school's applicant list and commitment.

    Schools with no more applicants than seats need no lottery: they admit by registration
    (seeds 000 三(二)).
    """
    from zoning import enroll as en
    from zoning import lottery as lot

    t = _when(at)
    store, who = guarded(data, user, "lottery.run")
    try:
        ds = store.load()
        settings = en.EnrolSettings(siblings_together=siblings, own_area_quota=_quota(quota))
        apps = store.query("applicants", {"year": year})
        decisions = en.eligibility(ds, apps, year=year, settings=settings)
        lists = en.lottery_lists(ds, decisions, year=year, settings=settings)
        rows, audit = [], []
        for key, (params, lst) in lists.items():
            if school and params.school_id not in school:
                continue
            row = {"key": key, "school_id": params.school_id, "level": params.level,
                   "seats": params.seats, "applicants": len(lst)}
            if len(lst) <= params.seats:
                rows.append({**row, "method": "registration"})
                continue
            apath, cpath, c = lot.write_commit(out, lst, params, at=t)
            rows.append({**row, "method": "lottery", "applicants_sha256": c.applicants_sha256,
                         "params_sha256": c.params_sha256, "commit_file": str(cpath),
                         "applicants_file": str(apath)})
            audit.append({"actor": who.username, "action": "lottery_commit", "target": key,
                          "detail": {"applicants_sha256": c.applicants_sha256,
                                     "params_sha256": c.params_sha256, "applicants": len(lst),
                                     "seats": params.seats, "committed_at": c.committed_at}})
        if audit:
            store.write_rows({}, audit=audit)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        typer.echo(f"{year}年没有民办学校报名。")
    for r in rows:
        lv = {"primary": "小学", "junior": "初中"}[r["level"]]
        name = ds.schools["name"].get(r["school_id"], r["school_id"])
        if r["method"] == "registration":
            typer.echo(f"{name}（{r['school_id']}）{lv}：报名 {r['applicants']} 人 ≤ 计划 {r['seats']} 人，"
                       "直接登记录取，无需摇号。")
        else:
            typer.echo(f"{name}（{r['school_id']}）{lv}：报名 {r['applicants']} 人 > 计划 {r['seats']} 人，"
                       "需摇号。请在摇号前公布：")
            typer.echo(f"  报名名单哈希 SHA-256: {r['applicants_sha256']}")
            typer.echo(f"  摇号参数哈希 SHA-256: {r['params_sha256']}")
            typer.echo(f"  文件: {r['applicants_file']}, {r['commit_file']}")


@lottery_app.command("draw")
def lottery_draw(
    commit_file: Annotated[Path, typer.Argument(help="KEY.commit.json written by `commit`")],
    seed: Annotated[str, typer.Option(help="the seed announced at the draw, exactly as read out")],
    at: Annotated[str | None, typer.Option(help="when (default now), e.g. 2027-06-20T10:00")]
    = None,
    officer: Annotated[str | None, typer.Option(help="officer overriding the date window")]
    = None,
    override_reason: Annotated[str | None, typer.Option(help="why the draw is outside June 20")]
    = None,
    data: Annotated[Path | None, typer.Option(help="store whose audit log records the draw "
                                              "(then sign-in as an officer is needed)")]
    = None,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Draw from a published commitment and the announced seed; write the result and receipts."""
    from zoning import enroll as en
    from zoning import lottery as lot

    t = _when(at)
    store, who = guarded(data, user, "lottery.run") if data is not None else (None, None)
    try:
        c, lst, c_sha = lot.read_commit(commit_file)
        ov = en.Timeline.for_year(c.params.year).check(
            "lottery", t, override=_override(officer, override_reason, who),
            target=c.params.key)
        d = lot.draw(lst, c.params, seed, commitment=c, at=t, commit_sha256=c_sha)
        dpath, rpath = lot.write_draw(commit_file.parent, d)
        if data is not None:
            entries = [ov] if ov else []
            entries.append({"actor": who.username, "action": "lottery_draw",
                            "target": c.params.key,
                            "detail": {"seed": d.seed, "applicants_sha256": d.applicants_sha256,
                                       "params_sha256": d.params_sha256,
                                       "admitted": len(d.admitted), "draw_file": dpath.name}})
            store.write_rows({}, audit=entries)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json({"key": c.params.key, "seed": d.seed, "seats": c.params.seats,
                     "applicants": len(d.order), "admitted": d.admitted,
                     "draw_file": str(dpath), "receipts_file": str(rpath)})
        return
    typer.echo(f"摇号完成：{c.params.key}，种子“{d.seed}”，报名 {len(d.order)} 人，计划 "
               f"{c.params.seats} 人，录取 {len(d.admitted)} 人。")
    typer.echo("顺位\t报名号\t校验哈希（前16位）\t结果")
    for r in d.order.head(10).itertuples():
        typer.echo(f"{r.rank}\t{r.applicant_id}\t{r.hash[:16]}\t{'录取' if r.admitted else '候补'}")
    typer.echo(f"已写出: {dpath}, {rpath}；复核: zoning lottery verify {commit_file}")


@lottery_app.command("verify")
def lottery_verify(
    commit_file: Annotated[Path, typer.Argument(help="KEY.commit.json (KEY.applicants.csv "
                                                     "beside it)")],
    draw_file: Annotated[Path | None, typer.Option("--draw", help="KEY.draw.json (default: "
                                                   "beside the commit file)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Re-run a draw from its published files: match (exit 0) or mismatch (exit 1)."""
    from zoning import lottery as lot

    try:
        v = lot.verify_files(commit_file, draw_file)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json(v.to_dict())
    elif v.ok:
        typer.echo(f"一致 (match)：{v.key} 按公布的名单、参数和种子“{v.seed}”重新摇号，结果与公布的"
                   f"完全一致（报名 {v.n_applicants} 人，录取 {v.n_admitted} 人）。")
    else:
        typer.echo(f"不一致 (mismatch)：{v.key}", err=True)
        for zh, en_ in zip(v.problems_zh, v.problems, strict=True):
            typer.echo(f"  {zh} ({en_})", err=True)
    raise typer.Exit(0 if v.ok else 1)


@enroll_app.command("import")
def enroll_import(
    source: Annotated[Path, typer.Argument(help="CSV or Excel file of applications")],
    data: Annotated[Path, typer.Option(help="GeoPackage store to save into")] = _DEFAULT_DATA,
    year: Annotated[int, typer.Option(help="intake year")] = 2027,
    report: Annotated[Path | None, typer.Option(help="write the rejected rows and why (CSV)")]
    = None,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Import applications row by row: accepted rows saved together, rejected rows with reasons.

    Exit code 0 when every row was accepted, 1 when some were rejected, 2 when the file was
    refused whole (e.g. a column for guardians' job or income, seeds 000 五(四)).
    """
    from zoning import enroll as en
    from zoning.io import atomic_path

    store, who = guarded(data, user, "applicants.import")
    try:
        rep = en.import_applicants(source, year=year, store=store, actor=who.username)
    except ZoningError as exc:
        _fail(exc)
    rejected = rep.rejected.rename(columns={"row": "行号", "applicant_id": "报名号",
                                            "id_masked": "身份证号", "field": "字段",
                                            "reason": "reason", "reason_zh": "问题"})
    if report is not None:
        with atomic_path(report) as tmp:
            rejected.to_csv(tmp, index=False, encoding="utf-8-sig")
    if as_json:
        _print_json({**rep.summary(), "rejected": rep.rejected.to_dict("records")})
    else:
        typer.echo(f"导入 {rep.source}：接收 {len(rep.accepted)} 条，退回 {rep.n_rejected_rows} 行"
                   f"{'，已保存到 ' + str(data) if rep.saved else ''}。")
        if len(rejected):
            typer.echo("行号\t报名号\t身份证号\t字段\t问题")
            for r in rep.rejected.head(50).itertuples():
                typer.echo(f"{r.row}\t{r.applicant_id or ''}\t{r.id_masked}\t{r.field}\t"
                           f"{r.reason_zh}")
            if len(rejected) > 50:
                typer.echo(f"……共 {len(rejected)} 个问题" + (f"，全部见 {report}" if report else
                                                          "，用 --report 写出全部"))
    raise typer.Exit(0 if rep.n_rejected_rows == 0 else 1)


_HEADERS_ZH = {
    "applicant_id": "报名号", "id_masked": "身份证号", "name": "姓名", "level": "学段",
    "outcome": "结果", "route": "录取方式", "school_id": "学校代码", "school_name": "学校",
    "zone_id": "片区", "rule": "规则", "citation": "政策依据", "reason_zh": "说明",
    "distance_m": "直线距离(米)", "lottery_order": "摇号顺位", "lottery_hash": "摇号哈希",
    "tier": "统筹顺序", "home_zone": "居住片区", "zone_schools": "对口学校", "ownership": "办学性质",
    "code": "报到码", "issued_at": "发放时间", "text_zh": "通知书", "track": "类别",
    "eligible": "符合条件", "key": "摇号", "method": "方式", "rank": "顺位", "hash": "哈希",
    "status": "确认情况", "offer_round": "递补轮次", "confirmed_at": "确认时间",
}


def _write_csv(frame, path: Path) -> None:
    from zoning.io import atomic_path

    out = frame.reset_index() if frame.index.name else frame
    out = out.rename(columns=_HEADERS_ZH)
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8-sig")


def _read_confirmations(path: Path):
    import pandas as pd

    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig").rename(
        columns={"报名号": "applicant_id", "确认时间": "confirmed_at"})
    if not {"applicant_id", "confirmed_at"} <= set(df.columns):
        raise ZoningError(f"{path}: needs columns applicant_id, confirmed_at (报名号, 确认时间)")
    return pd.Series(pd.to_datetime(df["confirmed_at"], errors="coerce", format="mixed").to_numpy(),
                     index=df["applicant_id"].to_numpy())


@enroll_app.command("run")
def enroll_run(
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    year: Annotated[int, typer.Option(help="intake year")] = 2027,
    lottery_dir: Annotated[Path | None, typer.Option(
        help="folder of published draws (KEY.draw.json), checked before use")] = None,
    seed: Annotated[str | None, typer.Option(
        help="or: the seed announced at the draw, to draw here")] = None,
    confirmations: Annotated[Path | None, typer.Option(
        help="CSV applicant_id,confirmed_at (报名号,确认时间) of private admissions; anyone not "
             "listed did not confirm (without the file: all confirmed in time)")]
    = None,
    siblings: Annotated[bool, typer.Option("--siblings/--no-siblings")] = True,
    quota: Annotated[list[str] | None, typer.Option("--quota", help="own-area seats, S094=20")]
    = None,
    at: Annotated[str | None, typer.Option(help="when the run happens (default now; "
                                                "'replay' replays the season's dates)")] = None,
    officer: Annotated[str | None, typer.Option(help="officer overriding a date window")] = None,
    override_reason: Annotated[str | None, typer.Option(help="why, for the audit log")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for the result tables (CSV)")] = None,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Run the season: eligibility, private admissions, public admission and 统筹, notices.

    Results, notices with 报到码 and the audit entries are saved to the store together.
    """
    from zoning import enroll as en
    from zoning import lottery as lot

    when = None if at == "replay" else _when(at)
    store, who = guarded(data, user, "season.run")
    try:
        draws = {}
        if lottery_dir is not None:
            for f in sorted(Path(lottery_dir).glob(f"*-{year}-*.draw.json")):
                d = lot.read_draw(f)
                commit = f.with_name(f"{d.params.key}.commit.json")
                if commit.exists():
                    v = lot.verify_files(commit, f)
                    if not v.ok:
                        raise ZoningError(f"{f}: the published draw does not verify: "
                                          + "; ".join(v.problems))
                draws[d.params.key] = d
        conf = _read_confirmations(confirmations) if confirmations else None
        settings = en.EnrolSettings(siblings_together=siblings, own_area_quota=_quota(quota))
        res = en.run_season(store, year=year, settings=settings,
                            lottery_seed=seed, draws=draws, confirmations=conf, at=when,
                            override=_override(officer, override_reason, who),
                            actor=who.username)
    except ZoningError as exc:
        _fail(exc)
    written = []
    if out is not None:
        for name, frame in (("资格审核", res.decisions[["id_masked", "name", "level", "track",
                                                    "rule", "citation", "reason_zh", "zone_id"]]),
                            ("民办摇号与确认", res.lottery), ("录取结果", res.admissions),
                            ("统筹名单", res.tongchou), ("入学通知", res.notices)):
            path = out / f"{year}{name}.csv"
            _write_csv(frame, path)
            written.append(str(path))
    s = res.summary()
    if as_json:
        _print_json({**s, "lotteries": res.lotteries.to_dict("records"), "written": written,
                     "timings": res.timings})
        return
    typer.echo(f"{year}年招生：报名 {s['applicants']} 人；"
               + "，".join(f"{en.OUTCOME_ZH.get(k, k)} {v}" for k, v in s["outcomes"].items()))
    typer.echo("录取方式：" + "，".join(f"{en.ROUTE_ZH.get(k, k)} {v}"
                                   for k, v in s["routes"].items()))
    for r in res.lotteries.itertuples():
        how = "摇号" if r.method == "lottery" else "登记录取"
        typer.echo(f"  民办 {r.school_id} {r.level}：计划 {r.seats}，报名 {r.applicants}，{how}，"
                   f"确认 {r.confirmed}，放弃 {r.forfeited}，递补 {r.refilled}")
    typer.echo(f"统筹安排 {s['tongchou']} 人；发放入学通知书和报到码 {s['notices']} 份；已保存到 {data}。")
    for p in written:
        typer.echo(f"已写出: {p}")


@enroll_app.command("checkin")
def enroll_checkin(
    code: Annotated[str, typer.Argument(help="报到码 from the notice, e.g. ABCD-EFGH-JKMNP")],
    data: Annotated[Path, typer.Option(help="GeoPackage store")] = _DEFAULT_DATA,
    by: Annotated[str, typer.Option(help="the school's staff member who checks the pupil in "
                                         "(default: the signed-in user)")] = "",
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Check a pupil in with the 报到码 (scanned or typed; a typo is caught by its check character).

    Exit code 0 when checked in, 1 when the code was already used, 2 when it is malformed or
    unknown.
    """
    from zoning import enroll as en

    store, who = guarded(data, user, "checkin")
    try:
        r = en.checkin(store, code, by=by or who.username)
    except ZoningError as exc:
        zh = next((p.get("message_zh") for p in getattr(exc, "problems", [])
                   if isinstance(p, dict) and p.get("message_zh")), None)
        if zh:
            typer.echo(f"错误：{zh}", err=True)
        _fail(exc)
    if as_json:
        _print_json(r)
    elif r["already"]:
        typer.echo(f"报到码 {r['code']} 已于 {r['checked_in_at']} 由 {r['checked_in_by']} 办理报到，"
                   "请勿重复报到。")
    else:
        typer.echo(f"报到成功：报名号 {r['applicant_id']}，学校 {r['school_id']}，"
                   f"{en.ROUTE_ZH.get(r['route'], r['route'])}，时间 {r['checked_in_at']}。")
    raise typer.Exit(1 if r["already"] else 0)


@enroll_app.command("demo")
def enroll_demo(
    out: Annotated[Path, typer.Option(help="CSV of applications to write")] = Path(
        "applicants.csv"),
    data: Annotated[Path, typer.Option(help="the demo district's store")] = _DEFAULT_DATA,
    year: Annotated[int, typer.Option(help="intake year")] = 2027,
    n: Annotated[int | None, typer.Option(help="applicants (default ~97 % of the seats)")] = None,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same applicants")] = 0,
    confirmations: Annotated[Path | None, typer.Option(
        help="also write the private confirmations (CSV)")] = None,
) -> None:
    """Write a realistic synthetic season of applications for the demo district (deterministic)."""
    from zoning import enroll as en
    from zoning.store import open_store

    try:
        apps = en.demo_applicants(open_store(data).load(), year=year, n=n, seed=seed)
    except ZoningError as exc:
        _fail(exc)
    _write_plain(apps, out)
    typer.echo(f"已写出 {len(apps)} 条报名（演示数据）→ {out}")
    if confirmations is not None:
        conf = en.demo_confirmations(apps, year=year, seed=seed)
        frame = conf.rename("confirmed_at").rename_axis("applicant_id").reset_index()
        _write_plain(frame, confirmations)
        typer.echo(f"已写出 {len(frame)} 条民办录取确认时间 → {confirmations}")


def _write_plain(frame, path: Path) -> None:
    from zoning.io import atomic_path

    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")



if __name__ == "__main__":  # pragma: no cover
    app()
