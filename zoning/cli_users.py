"""``zoning user …`` and ``zoning retention``, and how every writing command signs its user in.

A command that writes to a store takes ``--user NAME`` (the password from a hidden prompt, or
``ZONING_PASSWORD`` for scripts) or the token of ``zoning user login`` in ``ZONING_TOKEN``, and
then works on :func:`zoning.auth.guard` ``(store, user)``: the role check, the audit log's actor
and the masking of applicants' data all happen there (:mod:`zoning.auth`). Passwords and tokens
are never echoed or logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from zoning.errors import SignInError, ZoningError

__all__ = ["PASSWORD_ENV", "TOKEN_ENV", "UserOption", "guarded", "retention", "signed_in",
           "user_app"]

PASSWORD_ENV = "ZONING_PASSWORD"
TOKEN_ENV = "ZONING_TOKEN"

#: The ``--user`` option of writing commands (``--actor`` is its older name).
UserOption = Annotated[str | None, typer.Option(
    "--user", "--actor",
    help="sign in as this user (password from a hidden prompt or ZONING_PASSWORD; or leave it "
         "out and set ZONING_TOKEN from `zoning user login`); the audit log records this user")]

_DEFAULT_DATA = Path("data/demo.gpkg")
_SIGN_IN_HELP = ("此命令需要登录：请加 --user 用户名（密码在提示时输入，或由环境变量 ZONING_PASSWORD 给出），"
                 "或先运行 zoning user login 用户名 并把输出的凭证设为环境变量 ZONING_TOKEN。")


def _fail(exc: ZoningError):
    from zoning.cli import _fail as fail

    fail(exc)


def _password(prompt: str) -> str:
    text = os.environ.get(PASSWORD_ENV)
    if text is not None:
        return text
    return typer.prompt(prompt, hide_input=True)


def signed_in(store, user: str | None):
    """The signed-in user of a command: ``--user`` and its password, else ``ZONING_TOKEN``.

    Exits with code 3 and a Chinese message when nobody can be signed in.
    """
    from zoning import auth

    try:
        if user:
            return auth.authenticate(store, user, _password(f"用户 {user} 的密码"))
        token = os.environ.get(TOKEN_ENV)
        if token:
            return auth.session_user(store, token)
    except ZoningError as exc:
        _fail(exc)
    _fail(SignInError(_SIGN_IN_HELP, reason="sign_in_required"))


def guarded(path, user: str | None, action: str | None = None):
    """``(guarded store, user)`` for a writing command on the store at ``path``.

    With ``action``, the user's role is checked at once (before any work); the guarded store
    checks every write again.
    """
    from zoning import auth
    from zoning.store import open_store

    try:
        store = open_store(path)
        who = signed_in(store, user)
        if action:
            auth.require(who, action)
    except ZoningError as exc:
        _fail(exc)
    return auth.guard(store, who), who


# ------------------------------------------------------------------------------------ user
user_app = typer.Typer(
    help="用户与登录：添加、列出、停用用户，重设密码，登录取得凭证 (users and sign-in).",
    no_args_is_help=True)

_ROLES_HELP = "planner (规划人员), approver (审批人员), officer (招生工作人员) or admin (系统管理员)"


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="user name (letters, digits, Chinese, . _ @ -)")],
    role: Annotated[str, typer.Option(help=_ROLES_HELP)],
    display_name: Annotated[str, typer.Option(help="name shown on screens, e.g. 张工")] = "",
    data: Annotated[Path, typer.Option("--data", "--store", help="GeoPackage store")]
    = _DEFAULT_DATA,
    user: Annotated[str | None, typer.Option(
        "--user", help="the admin adding the user (not needed for a store's first user)")]
    = None,
) -> None:
    """Add a user. The new password is read from a hidden prompt (twice) or ZONING_NEW_PASSWORD.

    A store's first user is added without signing in and must be an admin; after that, an admin
    signs in with --user (or ZONING_TOKEN).
    """
    from zoning import auth
    from zoning.store import open_store

    try:
        store = open_store(data)
        first = not auth.has_users(store)
    except ZoningError as exc:
        _fail(exc)
    by = None if first else signed_in(store, user)
    password = os.environ.get("ZONING_NEW_PASSWORD")
    if password is None:
        password = typer.prompt(f"新用户 {name} 的密码", hide_input=True,
                                confirmation_prompt=True)
    try:
        new = auth.add_user(store, name, role=role, password=password,
                            display_name=display_name, by=by)
    except ZoningError as exc:
        _fail(exc)
    typer.echo(f"已添加用户 {new.label_zh}。")


@user_app.command("list")
def user_list(
    data: Annotated[Path, typer.Option("--data", "--store", help="GeoPackage store")]
    = _DEFAULT_DATA,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List users: name, role, active (never a password hash). Admins only."""
    from zoning import auth
    from zoning.cli import _print_json

    store, who = guarded(data, user)
    try:
        users = auth.list_users(store)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json(users.to_dict("records"))
        return
    typer.echo("用户名\t显示名\t角色\t状态\t创建时间")
    for r in users.itertuples():
        role = auth.ROLE_ZH.get(auth.Role(r.role), r.role)
        typer.echo(f"{r.username}\t{r.display_name or ''}\t{role}\t"
                   f"{'有效' if int(r.active) else '已停用'}\t{r.created_at}")


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="the user to disable")],
    data: Annotated[Path, typer.Option("--data", "--store", help="GeoPackage store")]
    = _DEFAULT_DATA,
    user: UserOption = None,
) -> None:
    """Disable a user and end their sessions (their audit trail stays). Admins only."""
    from zoning import auth

    store, _ = guarded(data, user)
    try:
        auth.disable_user(store, name)
    except ZoningError as exc:
        _fail(exc)
    typer.echo(f"已停用用户 {name}，其登录凭证均已失效。")


@user_app.command("passwd")
def user_passwd(
    name: Annotated[str, typer.Argument(help="whose password (one's own, or any for an admin)")],
    data: Annotated[Path, typer.Option("--data", "--store", help="GeoPackage store")]
    = _DEFAULT_DATA,
    user: UserOption = None,
) -> None:
    """Set a password (new one from a hidden prompt or ZONING_NEW_PASSWORD); ends the sessions."""
    from zoning import auth

    store, _ = guarded(data, user or (name if not os.environ.get(TOKEN_ENV) else None))
    password = os.environ.get("ZONING_NEW_PASSWORD")
    if password is None:
        password = typer.prompt(f"用户 {name} 的新密码", hide_input=True,
                                confirmation_prompt=True)
    try:
        auth.set_password(store, name, password)
    except ZoningError as exc:
        _fail(exc)
    typer.echo(f"已重设用户 {name} 的密码，原有登录凭证均已失效。")


@user_app.command("login")
def user_login(
    name: Annotated[str, typer.Argument(help="user name")],
    data: Annotated[Path, typer.Option("--data", "--store", help="GeoPackage store")]
    = _DEFAULT_DATA,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Sign in and print a bearer token (for ZONING_TOKEN and the HTTP API); it expires."""
    from zoning import auth
    from zoning.cli import _print_json
    from zoning.store import open_store

    try:
        store = open_store(data)
        settings = auth.AuthSettings.from_env()
        session = auth.sign_in(store, name, _password(f"用户 {name} 的密码"), settings=settings)
    except ZoningError as exc:
        _fail(exc)
    if as_json:
        _print_json({"token": session.token, "username": session.user.username,
                     "role": session.user.role.value,
                     "expires_at": session.expires_at.isoformat(timespec="seconds")})
        return
    typer.echo(f"已登录：{session.user.label_zh}，有效期至 "
               f"{session.expires_at.astimezone():%Y-%m-%d %H:%M}。", err=True)
    typer.echo("请将下面的凭证设为环境变量 ZONING_TOKEN（或在 HTTP 接口中作为 Bearer 凭证）；"
               "它只显示这一次：", err=True)
    typer.echo(session.token)


@user_app.command("logout")
def user_logout(
    data: Annotated[Path, typer.Option("--data", "--store", help="GeoPackage store")]
    = _DEFAULT_DATA,
) -> None:
    """End the session of ZONING_TOKEN."""
    from zoning import auth
    from zoning.store import open_store

    token = os.environ.get(TOKEN_ENV)
    if not token:
        _fail(SignInError("没有要退出的登录：环境变量 ZONING_TOKEN 未设置。", reason="no_session"))
    try:
        ended = auth.sign_out(open_store(data), token)
    except ZoningError as exc:
        _fail(exc)
    typer.echo("已退出登录，凭证已失效。" if ended else "该凭证已失效或不存在，无需退出。")


# ------------------------------------------------------------------------------------ retention
def retention(
    data: Annotated[Path, typer.Option("--data", "--store", help="GeoPackage store")]
    = _DEFAULT_DATA,
    apply: Annotated[bool, typer.Option("--apply", help="erase what is due (default: only "
                                        "show it)")] = False,
    keep_days: Annotated[int, typer.Option(help="days personal data is kept after a season "
                                           "ends", min=0)] = 92,
    season_end: Annotated[str, typer.Option(help="when a season ends, MM-DD (after 报到)")]
    = "09-30",
    at: Annotated[str | None, typer.Option(help="as if now were this date (default: now)")]
    = None,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Erase seasons' personal data once kept long enough (seeds 000 五(四)). Admins only.

    Without --apply, shows per season how many applicants still hold names, ID numbers and
    addresses and from when they are due. With --apply, erases the due seasons (one
    transaction each, audited); the counts, decisions and the audit log stay.
    """
    from zoning.cli import _print_json
    from zoning.retention import RetentionSettings, apply_retention, retention_status

    try:
        month, _, day = season_end.partition("-")
        settings = RetentionSettings(season_end=(int(month), int(day)), keep_days=keep_days)
    except (ValueError, ZoningError):
        _fail(ZoningError(f"--season-end {season_end!r}: write MM-DD, e.g. 09-30"))
    store, _ = guarded(data, user, "retention.apply")
    try:
        status = retention_status(store, settings=settings, at=at)
        done = apply_retention(store, settings=settings, at=at) if apply else None
    except (ZoningError, ValueError) as exc:
        _fail(exc if isinstance(exc, ZoningError) else ZoningError(f"--at {at!r}: {exc}"))
    if as_json:
        _print_json({"seasons": status.reset_index().to_dict("records"),
                     "erased": [] if done is None else done.to_dict("records")})
        return
    if status.empty:
        typer.echo("没有报名数据。")
    for year, r in status.iterrows():
        if not r["personal"]:
            state = "个人信息已删除"
        elif r["due"]:
            state = "已到期" + ("，已删除" if done is not None and year in set(done["year"])
                             else "，可用 --apply 删除")
        else:
            state = f"保留至 {r['erase_after']:%Y-%m-%d}"
        typer.echo(f"{year}年：报名 {r['applicants']} 人，含个人信息 {r['personal']} 人；{state}")
    if done is not None and len(done):
        typer.echo(f"已删除 {int(done['erased'].sum())} 名报名者的姓名、身份证号、出生日期和住址等个人信息"
                   "（计数、录取结果和审计日志保留），已记入审计日志。")


# ------------------------------------------------------------------------------------ demo users
#: The demo's users: one per role (user name, role, display name).
DEMO_USERS = (
    ("admin", "admin", "系统管理员"),
    ("planner", "planner", "张工（基教科规划）"),
    ("approver", "approver", "李科长（审批）"),
    ("officer", "officer", "王老师（招生办）"),
)


def demo_users_path(store_path) -> Path:
    """Where ``zoning demo`` writes the demo users' passwords: ``<store>-users.txt`` beside it."""
    p = Path(store_path)
    return p.with_name(f"{p.stem}-users.txt")


def create_demo_users(store_path) -> tuple[Path, list[tuple[str, str, str]]]:
    """One user per role with a random password, written once to a file readable by the owner.

    Returns
    -------
    path : pathlib.Path
        The file (mode 600): user name, role, password per line.
    users : list of (user name, role, password)
    """
    import secrets

    from zoning import auth
    from zoning.store import open_store

    store = open_store(store_path)
    made, admin = [], None
    for name, role, display in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        u = auth.add_user(store, name, role=role, password=password, display_name=display,
                          by=admin)
        admin = admin or u
        made.append((name, role, password))
    path = demo_users_path(store_path)
    lines = ["# 演示区县的用户（每个角色一个，密码随机生成；仅本机演示用，请勿提交或外传）",
             "# user\trole\tpassword", *("\t".join(m) for m in made)]
    # owner-only from the first byte (not io.atomic_path: it gives the umask's mode)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path, made
