"""``zoning store …``: move a district's store between back ends, back it up, restore it.

``zoning store copy SRC DST`` copies everything — layers, tables, plan versions, applicants, users
and the hash-chained audit log — from one store into an empty one: a GeoPackage into PostGIS
(``postgresql://host/db?schema=yubei``), a PostGIS schema into a ``.gpkg`` backup, or a backup into
a new schema. The copy is one transaction (PostGIS) or one atomic file write (GeoPackage): a failure
leaves the target as it was. An admin of the source store signs in (``store.manage``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from zoning.cli_users import UserOption
from zoning.errors import ZoningError

__all__ = ["store_app"]

store_app = typer.Typer(help="数据库维护：在 GeoPackage 与 PostGIS 之间复制、备份、恢复 (store maintenance).",
                        no_args_is_help=True)


@store_app.command("copy")
def store_copy(
    source: Annotated[str, typer.Argument(help="store to copy: a .gpkg file or postgresql:// URL")],
    target: Annotated[str, typer.Argument(help="empty store to copy into (.gpkg or postgresql://"
                                               "…?schema=name)")],
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print what was copied as JSON")] = False,
) -> None:
    """Copy a whole store into an empty one (GeoPackage ⇄ PostGIS, backup, restore)."""
    from zoning import auth
    from zoning.cli import _fail
    from zoning.cli_users import signed_in
    from zoning.store import open_store

    try:
        src, dst = open_store(source), open_store(target)
        if auth.has_users(src):
            admin = signed_in(src, user)
            auth.require(admin, "store.manage")
            who = admin.username
        else:
            who = user or "system"
        dump = src.dump()
        dst.restore(dump, actor=who)
        check = dst.verify_audit()
    except ZoningError as exc:
        _fail(exc)
    counts = {n: len(f) for n, f in {**dump["layers"], **dump["own"]}.items() if len(f)}
    if as_json:
        typer.echo(json.dumps({"source": repr(src), "target": repr(dst), "rows": counts,
                               "audit_ok": check.ok, "audit_head": check.head},
                              ensure_ascii=False))
        return
    typer.echo(f"已复制 {repr(src)} → {repr(dst)}")
    for name, n in counts.items():
        typer.echo(f"  {name}: {n:,} 行")
    typer.echo(f"审计日志哈希链{'完整' if check.ok else '异常：' + check.problem_zh}"
               f"（{check.entries} 条，末条哈希 {check.head}）")


@store_app.command("migrate")
def store_migrate(
    store: Annotated[str, typer.Argument(help="store to bring to the current schema")],
    user: UserOption = None,
) -> None:
    """Add the columns and tables a newer version of zoning needs to an older store."""
    from zoning import auth
    from zoning.cli import _fail
    from zoning.cli_users import signed_in
    from zoning.store import open_store

    try:
        s = open_store(store)
        if auth.has_users(s):
            auth.require(signed_in(s, user), "store.manage")
        s.migrate()
    except ZoningError as exc:
        _fail(exc)
    typer.echo(f"已更新 {repr(s)} 的表结构")
