"""Who may do what: roles, the one permission check, local users and sessions, a guarded store.

Five roles (issue 11; seeds 000 五(一) for who approves a zone change):

=========  ============================================================================
parent     anonymous: looks up the 对口 school of a home (no sign-in, nothing stored)
planner    makes and edits draft plans, imports data layers
approver   evaluates, approves and publishes plans (a zone change is argued, evaluated,
           approved and published in advance, seeds 000 五(一)); puts zones in force
officer    the enrolment office: applicants, lotteries, admission, check-in, overrides
           with a reason; the only role that sees applicants' ID numbers and names
admin      users, data retention, store maintenance
=========  ============================================================================

:data:`ACTIONS` maps every action to the roles allowed to do it, and :func:`require` is the one
check the command line, the HTTP API and the dashboard all go through. They do so by working on
:func:`guard` ``(store, user)``: a view of any store (GeoPackage, or another back end offering the
same methods) whose writes check the action first and stamp the signed-in user into the audit log,
and whose reads of applicant records are masked or refused by role and are themselves written to
the audit log (who read which season's records, how many). Library functions called with a bare
store stay available to trusted in-process Python code and the tests.

Sign-in is local: users live in the store's own ``users`` table with salted argon2id hashes
(argon2-cffi); :func:`sign_in` returns a bearer token once and stores only its SHA-256 in
``sessions``, with an expiry (:class:`AuthSettings`). Failed sign-ins are audited with the user
name only; an unknown user name costs the same hash as a known one, so timing does not tell which
names exist. The first user of a store, and only the first, is added without signing in, and must
be an admin (``zoning user add NAME --role admin``).

This module uses only the store's public methods (``query``, ``write_rows``, ``update_rows``,
``audit``, ``read``, ``save_plan_record``, ``plan_record`` …): no SQL here.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from zoning.errors import PermissionDenied, SignInError, ValidationError

__all__ = [
    "ACTIONS",
    "ACTION_ZH",
    "ROLE_ZH",
    "AuthSettings",
    "GuardedStore",
    "Role",
    "Session",
    "User",
    "add_user",
    "authenticate",
    "can",
    "disable_user",
    "guard",
    "has_users",
    "list_users",
    "mask_name",
    "require",
    "session_user",
    "set_password",
    "sign_in",
    "sign_out",
]


class Role(StrEnum):
    """The five roles of issue 11."""

    PARENT = "parent"
    PLANNER = "planner"
    APPROVER = "approver"
    OFFICER = "officer"
    ADMIN = "admin"


ROLE_ZH = {
    Role.PARENT: "家长（未登录）",
    Role.PLANNER: "规划人员",
    Role.APPROVER: "审批人员",
    Role.OFFICER: "招生工作人员",
    Role.ADMIN: "系统管理员",
}

_STAFF = frozenset({Role.PLANNER, Role.APPROVER, Role.OFFICER, Role.ADMIN})

#: action → roles allowed. The one table of who may do what; :func:`require` checks it.
ACTIONS: dict[str, frozenset[Role]] = {
    # public: the 对口 school of a home, and the published 学位预警 (seeds 000 五(一) 招生预警)
    "lookup": frozenset(Role),
    # the officials' 学位预警 page (forecasts, the Excel table, the notice to publish)
    "capacity.view": frozenset({Role.PLANNER, Role.APPROVER, Role.OFFICER}),
    "plan.view": frozenset({Role.PLANNER, Role.APPROVER}),
    "plan.edit": frozenset({Role.PLANNER}),  # save a draft version
    # seeds 000 五(一): a zone change is evaluated, approved and published in advance
    "plan.evaluate": frozenset({Role.APPROVER}),
    "plan.approve": frozenset({Role.APPROVER}),
    "plan.publish": frozenset({Role.APPROVER}),
    "layers.import": frozenset({Role.PLANNER}),  # schools, parcels, addresses, births …
    # replacing the zones in force is publishing a zone change: the approver's
    "zones.import": frozenset({Role.APPROVER}),
    "applicants.read": frozenset({Role.OFFICER}),  # ID numbers and names in full
    "applicants.read_masked": frozenset({Role.PLANNER, Role.APPROVER, Role.OFFICER}),
    "applicants.import": frozenset({Role.OFFICER}),
    "season.run": frozenset({Role.OFFICER}),
    "lottery.run": frozenset({Role.OFFICER}),
    "checkin": frozenset({Role.OFFICER}),
    "override": frozenset({Role.OFFICER}),  # an action outside its window, with a reason
    "audit.read": frozenset({Role.APPROVER, Role.OFFICER, Role.ADMIN}),
    "audit.write": _STAFF,  # a note in the log, under one's own name
    "users.manage": frozenset({Role.ADMIN}),
    "retention.apply": frozenset({Role.ADMIN}),  # seeds 000 五(四)
    "store.manage": frozenset({Role.ADMIN}),
}

ACTION_ZH = {
    "lookup": "查询对口学校",
    "capacity.view": "查看学位预警",
    "plan.view": "查看片区方案",
    "plan.edit": "保存片区方案草稿",
    "plan.evaluate": "评估片区方案",
    "plan.approve": "批准片区方案",
    "plan.publish": "发布片区方案",
    "layers.import": "导入基础数据图层",
    "zones.import": "替换现行片区",
    "applicants.read": "查看报名信息（含完整身份证号和姓名）",
    "applicants.read_masked": "查看报名信息（脱敏）",
    "applicants.import": "导入报名信息",
    "season.run": "运行招生录取",
    "lottery.run": "组织民办学校摇号",
    "checkin": "办理报到",
    "override": "超出日程办理（须登记原因）",
    "audit.read": "查看审计日志",
    "audit.write": "写入审计记录",
    "users.manage": "管理用户",
    "retention.apply": "删除到期的个人信息",
    "store.manage": "维护数据库",
}

# Plan statuses (zoning.simulate.STATUSES) → the action that moves a plan there.
_PLAN_STATUS_ACTION = {"draft": "plan.edit", "evaluated": "plan.evaluate",
                       "approved": "plan.approve", "published": "plan.publish"}
# Audit-entry actions that are acts of their own (not covered by a table write).
_AUDIT_ACTION = {"override": "override", "lottery_commit": "lottery.run",
                 "lottery_draw": "lottery.run"}
# Tables holding applicants' records: reads are role-checked and masked by role; reads of the
# tables with names and ID numbers are audited (enrol_results holds neither: decisions by 报名号).
_PERSONAL = ("applicants", "notices", "enrol_results")
_AUDITED = ("applicants", "notices")
_SECRETS = {"users": ("pw_hash",), "sessions": ("token_hash",)}

_USERNAME = re.compile(r"[\w.@-]{1,64}")
_MAX_PASSWORD = 1024


# ====================================================================================== users
@dataclass(frozen=True)
class User:
    """A signed-in user.

    Attributes
    ----------
    username : str
    role : Role
    display_name : str
    """

    username: str
    role: Role
    display_name: str = ""

    @property
    def label_zh(self) -> str:
        """``显示名（用户名，角色）`` for screens."""
        name = self.display_name or self.username
        return f"{name}（{self.username}，{ROLE_ZH[self.role]}）"


@dataclass(frozen=True)
class Session:
    """A session opened by :func:`sign_in`.

    Attributes
    ----------
    token : str
        The bearer token: shown once, stored only as its SHA-256.
    user : User
    expires_at : datetime.datetime
        UTC.
    """

    token: str
    user: User
    expires_at: _dt.datetime

    def __repr__(self) -> str:  # never print the token
        return f"Session(user={self.user.username!r}, expires_at={self.expires_at.isoformat()})"


@dataclass(frozen=True)
class AuthSettings:
    """Sign-in settings a district may tune.

    Attributes
    ----------
    session_hours : float
        A session expires this long after sign-in (a working day).
    min_password_length : int
        Shorter passwords are refused.
    time_cost, memory_cost, parallelism : int
        argon2id parameters (memory in KiB); argon2-cffi's defaults (RFC 9106's low-memory
        profile: ~0.1 s and 64 MiB per hash). Hashes made with other parameters still verify
        and are re-hashed with these at the next sign-in.
    """

    session_hours: float = 8.0
    min_password_length: int = 10
    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4

    @classmethod
    def from_env(cls) -> AuthSettings:
        """Defaults, with ``ZONING_SESSION_HOURS`` when it is set.

        Raises
        ------
        ValidationError
            If ``ZONING_SESSION_HOURS`` is not a positive number.
        """
        text = os.environ.get("ZONING_SESSION_HOURS")
        if not text:
            return cls()
        try:
            hours = float(text)
        except ValueError:
            hours = -1.0
        if not 0 < hours <= 24 * 30:
            raise ValidationError(f"ZONING_SESSION_HOURS={text!r}: give the hours a session "
                                  "lasts, a number between 0 and 720 (e.g. 8)")
        return cls(session_hours=hours)


DEFAULT_SETTINGS = AuthSettings()


@functools.lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int, parallelism: int):
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _ph(settings: AuthSettings):
    return _hasher(settings.time_cost, settings.memory_cost, settings.parallelism)


@functools.lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """A hash of a random password: verified against for unknown users (same cost, no tell)."""
    return _hasher(time_cost, memory_cost, parallelism).hash(secrets.token_urlsafe(16))


def _now(now=None) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(_dt.UTC)
    t = pd.Timestamp(now)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.to_pydatetime()


def _stamp(t: _dt.datetime) -> str:
    return t.astimezone(_dt.UTC).isoformat(timespec="seconds")


def _token_hash(token: str) -> str:
    return hashlib.sha256(str(token).encode("utf-8")).hexdigest()


def _raw(store):
    """The store under a guard (auth's own functions check with :func:`require` themselves)."""
    return store._inner if isinstance(store, GuardedStore) else store


def _guard_user(store) -> User | None:
    return store.user if isinstance(store, GuardedStore) else None


def _role(value) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise ValidationError(
            f"role {value!r}: use one of {', '.join(r.value for r in Role if r != Role.PARENT)} "
            f"（角色 {value!r} 无效，可选：规划人员 planner、审批人员 approver、招生工作人员 officer、"
            "系统管理员 admin）") from None


def _check_username(username) -> str:
    name = str(username or "").strip()
    if not _USERNAME.fullmatch(name):
        raise ValidationError(
            f"user name {username!r}: use 1–64 letters, digits, Chinese characters or . _ @ - "
            f"(no spaces)（用户名 {username!r} 无效：请使用 1–64 个字母、数字、汉字或 . _ @ -，"
            "不含空格）")
    return name


def _check_password(password, username: str, settings: AuthSettings) -> str:
    text = "" if password is None else str(password)
    if len(text) < settings.min_password_length:
        raise ValidationError(
            f"user {username}: the password is too short ({len(text)} characters); use at least "
            f"{settings.min_password_length}（用户 {username} 的密码太短：至少 "
            f"{settings.min_password_length} 个字符）")
    if len(text) > _MAX_PASSWORD:
        raise ValidationError(f"user {username}: the password is longer than {_MAX_PASSWORD} "
                              f"characters（用户 {username} 的密码过长）")
    if text.strip().lower() == username.lower():
        raise ValidationError(f"user {username}: the password may not be the user name（用户 "
                              f"{username} 的密码不能与用户名相同）")
    return text


def _user_rows(store, username: str | None = None) -> pd.DataFrame:
    return _raw(store).query("users", {"username": username} if username else None)


def has_users(store) -> bool:
    """Whether the store has any user yet (none: the first admin may be added without sign-in)."""
    return bool(len(_user_rows(store)))


def add_user(store, username: str, *, role: str | Role, password: str, display_name: str = "",
             by: User | None = None, settings: AuthSettings = DEFAULT_SETTINGS,
             at=None) -> User:
    """Add a user with a salted argon2id hash of the password.

    The first user of a store is added without signing in and must be an admin; after that only
    an admin may add users.

    Parameters
    ----------
    store : store or GuardedStore
    username : str
        1–64 letters, digits, Chinese characters or ``. _ @ -``.
    role : Role or str
        ``planner``, ``approver``, ``officer`` or ``admin`` (``parent`` needs no account).
    password : str
        At least ``settings.min_password_length`` characters, not the user name.
    display_name : str
        A name for screens (``张工``).
    by : User, optional
        The admin adding the user (default: the guard's user).

    Returns
    -------
    User

    Raises
    ------
    PermissionDenied
        ``by`` is not an admin (or nobody signed in and the store already has users).
    ValidationError
        Bad user name, role or password; a user of that name exists; the first user not an admin.
    """
    raw = _raw(store)
    by = by if by is not None else _guard_user(store)
    name = _check_username(username)
    r = _role(role)
    if r == Role.PARENT:
        raise ValidationError(f"user {name}: parents look schools up without an account; give a "
                              "staff role（家长查询无需账号，请选择工作人员角色）")
    first = not has_users(raw)
    if first:
        if r != Role.ADMIN:
            raise ValidationError(
                f"user {name}: the store has no users yet, so the first one must be an admin "
                f"(zoning user add NAME --role admin)（数据库中还没有用户：第一个用户必须是系统管理员，"
                "请先运行 zoning user add 用户名 --role admin）")
    else:
        require(by, "users.manage")
    if len(_user_rows(raw, name)):
        raise ValidationError(f"user {name} already exists; choose another name, or reset the "
                              f"password with `zoning user passwd {name}`（用户 {name} 已存在）")
    text = _check_password(password, name, settings)
    t = _now(at)
    row = pd.DataFrame([{"username": name, "display_name": str(display_name or "").strip(),
                         "role": r.value, "pw_hash": _ph(settings).hash(text), "active": 1,
                         "created_at": _stamp(t), "disabled_at": None}])
    actor = name if first else by.username
    raw.write_rows({"users": row}, audit=[{
        "actor": actor, "action": "user_add", "target": name,
        "detail": {"role": r.value, "display_name": row["display_name"].iat[0],
                   "bootstrap": first}}])
    return User(name, r, row["display_name"].iat[0])


def list_users(store, *, by: User | None = None) -> pd.DataFrame:
    """Every user: name, display name, role, active, created and disabled — never a hash.

    Raises
    ------
    PermissionDenied
        ``by`` (default: the guard's user) is not an admin.
    """
    require(by if by is not None else _guard_user(store), "users.manage")
    users = _user_rows(store)
    return users.drop(columns=["pw_hash"], errors="ignore").reset_index(drop=True)


def disable_user(store, username: str, *, by: User | None = None, at=None) -> None:
    """Disable a user and revoke their sessions (the row and its audit trail stay).

    Raises
    ------
    PermissionDenied
        ``by`` is not an admin.
    ValidationError
        No such user, or the last active admin (nobody could manage users any more).
    """
    by = by if by is not None else _guard_user(store)
    require(by, "users.manage")
    raw = _raw(store)
    name = _check_username(username)
    rows = _user_rows(raw, name)
    if not len(rows):
        raise ValidationError(f"no user {name}; list them with `zoning user list`（没有用户 {name}）")
    admins = _user_rows(raw)
    admins = admins[(admins["role"] == Role.ADMIN.value) & (admins["active"] == 1)]
    if list(admins["username"]) == [name]:
        raise ValidationError(f"user {name} is the last active admin; add another admin first"
                              f"（{name} 是最后一个有效的系统管理员，请先添加另一位管理员）")
    stamp = _stamp(_now(at))
    raw.update_rows("users", {"username": name}, {"active": 0, "disabled_at": stamp},
                    audit=[{"actor": by.username, "action": "user_disable", "target": name,
                            "detail": {"role": str(rows["role"].iat[0])}}])
    raw.update_rows("sessions", {"username": name}, {"revoked_at": stamp},
                    only_if_null="revoked_at")


def set_password(store, username: str, password: str, *, by: User | None = None,
                 settings: AuthSettings = DEFAULT_SETTINGS, at=None) -> None:
    """Set a user's password (the user's own, or any by an admin); revokes their sessions.

    Raises
    ------
    PermissionDenied
        ``by`` is neither the user nor an admin.
    ValidationError
        No such user, or a password that is too short.
    """
    by = by if by is not None else _guard_user(store)
    name = _check_username(username)
    if by is None or by.username != name:
        require(by, "users.manage")
    raw = _raw(store)
    if not len(_user_rows(raw, name)):
        raise ValidationError(f"no user {name}; list them with `zoning user list`（没有用户 {name}）")
    text = _check_password(password, name, settings)
    stamp = _stamp(_now(at))
    raw.update_rows("users", {"username": name}, {"pw_hash": _ph(settings).hash(text)},
                    audit=[{"actor": by.username, "action": "user_password", "target": name,
                            "detail": {"by_admin": by.username != name}}])
    raw.update_rows("sessions", {"username": name}, {"revoked_at": stamp},
                    only_if_null="revoked_at")


_BAD_CREDENTIALS = "用户名或密码错误，请重试；忘记密码请联系系统管理员重置。"


def authenticate(store, username: str, password: str, *,
                 settings: AuthSettings = DEFAULT_SETTINGS) -> User:
    """Check a user name and password (no session); failures are audited without the password.

    Returns
    -------
    User

    Raises
    ------
    SignInError
        Unknown user, wrong password or disabled user — one message for all three, and the same
        argon2 cost for an unknown user as for a known one.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    raw = _raw(store)
    name = str(username or "").strip()
    rows = _user_rows(raw, name) if _USERNAME.fullmatch(name) else pd.DataFrame()
    ph = _ph(settings)
    text = "" if password is None else str(password)[:_MAX_PASSWORD]
    if not len(rows):
        with contextlib.suppress(VerificationError):
            ph.verify(_dummy_hash(settings.time_cost, settings.memory_cost,
                                  settings.parallelism), text)
        _fail(raw, name, "unknown_user")
    row = rows.iloc[0]
    try:
        ph.verify(str(row["pw_hash"]), text)
    except (VerificationError, InvalidHashError):
        _fail(raw, name, "wrong_password")
    if not int(row["active"]):
        _fail(raw, name, "disabled")
    if ph.check_needs_rehash(str(row["pw_hash"])):
        raw.update_rows("users", {"username": name}, {"pw_hash": ph.hash(text)})
    return User(name, _role(row["role"]), str(row["display_name"] or ""))


def _fail(raw, name: str, reason: str):
    # the user name as typed (cut short), never the password
    shown = name[:64] or "(empty)"
    raw.audit(shown, "sign_in_failed", shown, {"reason": reason})
    raise SignInError(_BAD_CREDENTIALS, reason="bad_credentials")


def sign_in(store, username: str, password: str, *, settings: AuthSettings = DEFAULT_SETTINGS,
            at=None) -> Session:
    """Check the password and open a session; the token is returned once, stored as its SHA-256.

    Parameters
    ----------
    store : store or GuardedStore
    username, password : str
    settings : AuthSettings
        ``session_hours`` sets the expiry.
    at : datetime, optional
        When (default now; tests pass a time).

    Returns
    -------
    Session

    Raises
    ------
    SignInError
        As :func:`authenticate`.
    """
    user = authenticate(store, username, password, settings=settings)
    token = secrets.token_urlsafe(32)
    t = _now(at)
    expires = t + _dt.timedelta(hours=settings.session_hours)
    _raw(store).write_rows(
        {"sessions": pd.DataFrame([{"token_hash": _token_hash(token), "username": user.username,
                                    "created_at": _stamp(t), "expires_at": _stamp(expires),
                                    "revoked_at": None}])},
        audit=[{"actor": user.username, "action": "sign_in", "target": user.username,
                "detail": {"role": user.role.value, "expires_at": _stamp(expires)}}])
    return Session(token, user, expires)


def session_user(store, token: str | None, *, at=None) -> User:
    """The user of a bearer token.

    Raises
    ------
    SignInError
        No token, an unknown token, an expired or revoked session, a disabled user: each with
        its own Chinese message saying to sign in (again).
    """
    if not token or not str(token).strip():
        raise SignInError("请先登录。", reason="sign_in_required")
    raw = _raw(store)
    rows = raw.query("sessions", {"token_hash": _token_hash(str(token).strip())})
    if not len(rows):
        raise SignInError("登录凭证无效，请重新登录。", reason="no_session")
    s = rows.iloc[0]
    if isinstance(s["revoked_at"], str) and s["revoked_at"]:
        raise SignInError("您已退出登录（或账号已被停用、密码已重置），请重新登录。", reason="revoked")
    if _now(at) >= _dt.datetime.fromisoformat(str(s["expires_at"])):
        raise SignInError("登录已过期，请重新登录。", reason="expired")
    users = _user_rows(raw, str(s["username"]))
    if not len(users) or not int(users["active"].iat[0]):
        raise SignInError(f"账号 {s['username']} 已被停用，请联系系统管理员。", reason="disabled")
    u = users.iloc[0]
    return User(str(u["username"]), _role(u["role"]), str(u["display_name"] or ""))


def sign_out(store, token: str, *, at=None) -> bool:
    """Revoke a session; True when it was open."""
    if not token:
        return False
    raw = _raw(store)
    h = _token_hash(str(token).strip())
    rows = raw.query("sessions", {"token_hash": h})
    if not len(rows):
        return False
    name = str(rows["username"].iat[0])
    return bool(raw.update_rows("sessions", {"token_hash": h}, {"revoked_at": _stamp(_now(at))},
                                only_if_null="revoked_at",
                                audit=[{"actor": name, "action": "sign_out", "target": name}]))


# ====================================================================================== the check
def _user_role(user: User | None) -> Role:
    return Role.PARENT if user is None else Role(user.role)


def can(user: User | None, action: str) -> bool:
    """Whether ``user`` (None: nobody signed in, a parent) may do ``action``.

    Raises
    ------
    ValidationError
        For an action that is not in :data:`ACTIONS` (a typo must not pass silently).
    """
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return _user_role(user) in ACTIONS[action]


def require(user: User | None, action: str) -> User | None:
    """The one permission check: return ``user`` when allowed, else raise.

    Parameters
    ----------
    user : User or None
        None is nobody signed in (a parent).
    action : str
        A key of :data:`ACTIONS`.

    Returns
    -------
    User or None

    Raises
    ------
    PermissionDenied
        The role may not do the action; the Chinese message names the user, the role, the
        action and the roles that may.
    ValidationError
        Unknown action.

    Examples
    --------
    >>> require(User("li", Role.APPROVER), "plan.approve").username
    'li'
    >>> require(None, "plan.edit")
    Traceback (most recent call last):
    ...
    zoning.errors.PermissionDenied: 未登录（家长）不能保存片区方案草稿（plan.edit）：请以规划人员身份登录。
    """
    if can(user, action):
        return user
    allowed = "、".join(ROLE_ZH[r] for r in Role if r in ACTIONS[action])
    what = f"{ACTION_ZH.get(action, action)}（{action}）"
    role = _user_role(user)
    if user is None:
        msg = f"未登录（家长）不能{what}：请以{allowed}身份登录。"
    else:
        msg = (f"用户 {user.username}（{ROLE_ZH[role]}）无权{what}：此操作仅限{allowed}；如确需办理，"
               "请由系统管理员分配相应角色，或换用有权限的账号登录。")
    raise PermissionDenied(msg, action=action, role=role.value,
                           username=None if user is None else user.username)


# ====================================================================================== masking
def mask_name(name) -> str:
    """A name as it may be shown to anyone but the enrolment officer: ``张小明`` → ``张**``.

    Examples
    --------
    >>> mask_name("张小明")
    '张**'
    >>> mask_name("")
    ''
    """
    text = "" if name is None or name != name else str(name)
    return text[:1] + "*" * max(len(text) - 1, 1) if text else ""


def _mask_code(code) -> str:
    text = "" if code is None or code != code else str(code)
    return "*" * max(len(text) - 4, 0) + text[-4:]


def mask_records(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Applicant records as roles other than the enrolment officer see them (seeds 000 五(四)).

    ``applicants``: ID number masked (``500112********123X``), name masked (``张**``).
    ``notices``: the notice text (which names the child) blanked, the 报到码 masked to its last
    four characters (it is a credential for check-in). ``enrol_results`` hold neither.
    """
    from zoning.enroll import mask_id

    out = frame.copy()
    if name == "applicants":
        if "id_number" in out:
            out["id_number"] = [mask_id(v) for v in out["id_number"]]
        if "name" in out:
            out["name"] = [mask_name(v) for v in out["name"]]
    elif name == "notices":
        if "text_zh" in out:
            out["text_zh"] = ""
        if "code" in out:
            out["code"] = [_mask_code(v) for v in out["code"]]
    return out


# ====================================================================================== the guard
class GuardedStore:
    """A store seen by one user: every write checks its action, applicant reads are masked/audited.

    Wraps any store offering the store methods (``read``, ``load``, ``query``, ``write_rows``,
    ``update_rows``, ``audit``, ``save``, ``import_layer``, ``save_plan_record``, ``plan_record``,
    ``audit_log`` …). Audit entries written through it carry the signed-in user's name as the
    actor (a different name given by the caller — the school's staff at a check-in, the officer
    typed on a form — is kept in the entry's detail as ``as``).

    Parameters
    ----------
    store : store
    user : User or None
        None: nobody signed in (a parent): public reads only.

    Examples
    --------
    >>> g = guard(GeoPackageStore("data/demo.gpkg"), User("li", Role.APPROVER))  # doctest: +SKIP
    >>> zoning.simulate.save_plan(g, plan, actor="li")  # doctest: +SKIP
    """

    # read-only methods that need no check (public layers, the store's health, its meta facts)
    _PASS = frozenset({"layers", "load", "get_meta", "verify_audit"})

    def __init__(self, store, user: User | None):
        if isinstance(store, GuardedStore):
            store = store._inner
        self._inner = store
        self.user = user

    def __repr__(self) -> str:
        who = "anonymous" if self.user is None else self.user.username
        return f"GuardedStore({self._inner!r}, user={who!r})"

    def __getattr__(self, name: str):
        inner = self.__dict__.get("_inner")
        if inner is None:
            raise AttributeError(name)
        if name in self._PASS:
            return getattr(inner, name)
        value = getattr(inner, name)  # AttributeError as the store's own
        if callable(value):
            raise AttributeError(
                f"{type(inner).__name__}.{name} is not available through the permission guard "
                "(zoning.auth.GuardedStore); add it there with the action it needs")
        return value  # plain attributes: path, url

    # ------------------------------------------------------------------ helpers
    def _entries(self, audit) -> list[dict]:
        """Audit entries with the signed-in user as the actor (the given name kept as ``as``)."""
        out = []
        me = self.user.username if self.user is not None else "anonymous"
        for e in audit or ():
            e = dict(e)
            given = str(e.get("actor") or "")
            detail = e.get("detail", "")
            if given and given != me:
                if isinstance(detail, dict):
                    detail = {**detail, "as": given}
                else:
                    detail = {"note": detail, "as": given} if detail else {"as": given}
            e["actor"], e["detail"] = me, detail
            out.append(e)
        return out

    def _check_entries(self, entries) -> None:
        for e in entries:
            action = _AUDIT_ACTION.get(str(e.get("action", "")))
            if action:
                require(self.user, action)

    def _check_table_write(self, table: str, frame: pd.DataFrame | None = None) -> None:
        if table == "applicants":
            require(self.user, "applicants.import")
        elif table in ("enrol_results", "notices"):
            require(self.user, "season.run")
        elif table in ("users", "sessions"):
            require(self.user, "users.manage")
        elif table == "plans":
            statuses = (set(frame["status"].astype(str)) if frame is not None
                        and "status" in frame else {"draft"})
            for s in statuses:
                require(self.user, _PLAN_STATUS_ACTION.get(s, "plan.publish"))
        else:  # audit_log, meta, and tables added later: maintenance only
            require(self.user, "store.manage")

    # ------------------------------------------------------------------ writes
    def save(self, dataset, *, actor: str | None = None, note: str = "", **kwargs) -> None:
        """:meth:`GeoPackageStore.save` after the check: zones need ``zones.import``."""
        from zoning.io import LAYERS

        present = [n for n in LAYERS if getattr(dataset, n, None) is not None]
        if "zones" in present:
            require(self.user, "zones.import")
        if [n for n in present if n != "zones"] or getattr(dataset, "tables", None):
            require(self.user, "layers.import")
        self._inner.save(dataset, actor=self._actor(), note=self._note(note, actor), **kwargs)

    def import_layer(self, kind: str, path, *, actor: str | None = None, **read_kwargs):
        """:meth:`GeoPackageStore.import_layer` after the check (zones: ``zones.import``)."""
        require(self.user, "zones.import" if kind == "zones" else "layers.import")
        return self._inner.import_layer(kind, path, actor=self._actor(), **read_kwargs)

    def write_rows(self, rows: dict, *, replace: dict | None = None, audit=(), **kwargs) -> None:
        """:meth:`GeoPackageStore.write_rows` after checking each table and audit entry."""
        entries = self._entries(audit)
        for name, frame in rows.items():
            self._check_table_write(name, frame)
        for name in replace or {}:
            self._check_table_write(name)
        self._check_entries(entries)
        if not rows and not replace:
            if not entries:
                return
            for e in entries:
                if str(e.get("action", "")) not in _AUDIT_ACTION:
                    require(self.user, "audit.write")
        self._inner.write_rows(rows, replace=replace, audit=entries, **kwargs)

    def update_rows(self, name: str, where: dict, values: dict, *, audit=(), **kwargs) -> int:
        """:meth:`GeoPackageStore.update_rows` after the check (check-in: ``checkin``)."""
        if name == "notices" and set(values) <= {"checked_in_at", "checked_in_by"}:
            require(self.user, "checkin")
        else:
            self._check_table_write(name)
        entries = self._entries(audit)
        self._check_entries(entries)
        return self._inner.update_rows(name, where, values, audit=entries, **kwargs)

    def audit(self, actor: str, action: str, target: str, detail: str | dict = "") -> None:
        """Append an audit entry under the signed-in user's name."""
        require(self.user, _AUDIT_ACTION.get(str(action), "audit.write"))
        e = self._entries([{"actor": actor, "action": action, "target": target,
                            "detail": detail}])[0]
        self._inner.audit(e["actor"], e["action"], e["target"], e["detail"])

    def save_plan_record(self, rec: dict, *, actor: str | None = None, **kwargs) -> None:
        """Store a plan version or move its status; the status decides the action.

        ``draft`` needs ``plan.edit`` (planner); ``evaluated``, ``approved``, ``published`` need
        ``plan.evaluate``, ``plan.approve``, ``plan.publish`` (approver, seeds 000 五(一)). A new
        plan enters the store as a draft: it cannot skip the steps.
        """
        status = str(rec.get("status", "draft"))
        require(self.user, _PLAN_STATUS_ACTION.get(status, "plan.publish"))
        if status != "draft":
            try:
                self._inner.plan_record(rec["plan_id"])
            except ValidationError:
                raise ValidationError(
                    f"plan {rec['plan_id']} is not stored yet: save it as a draft first, then "
                    f"evaluate, approve and publish it（方案 {rec['plan_id']} 尚未保存：须先由规划人员"
                    "保存为草稿，再经评估、批准、发布，seeds 000 五(一)）") from None
        self._inner.save_plan_record(rec, actor=self._actor(), **kwargs)

    def migrate(self) -> None:
        """:meth:`GeoPackageStore.migrate` (admin)."""
        require(self.user, "store.manage")
        self._inner.migrate()

    def set_meta(self, key: str, value: str) -> None:
        """:meth:`GeoPackageStore.set_meta` (admin)."""
        require(self.user, "store.manage")
        self._inner.set_meta(key, value)

    def _actor(self) -> str:
        return self.user.username if self.user is not None else "anonymous"

    def _note(self, note, actor) -> str:
        if actor and actor != self._actor():
            return json.dumps({"note": note, "as": actor}, ensure_ascii=False)
        return note

    # ------------------------------------------------------------------ reads
    def read(self, name: str):
        """A layer or table; own tables by role (applicant records masked or refused, audited)."""
        from zoning.io import LAYERS, TABLES

        if name in LAYERS or name in TABLES:
            return self._inner.read(name)
        return self._own(name, lambda: self._inner.read(name), where=None)

    def query(self, name: str, where: dict | None = None) -> pd.DataFrame:
        """Rows of an own table, by role as :meth:`read`."""
        return self._own(name, lambda: self._inner.query(name, where), where=where)

    def audit_log(self) -> pd.DataFrame:
        """The audit log (``audit.read``)."""
        require(self.user, "audit.read")
        return self._inner.audit_log()

    def plan_record(self, plan_id: str) -> dict:
        """One stored plan (``plan.view``)."""
        require(self.user, "plan.view")
        return self._inner.plan_record(plan_id)

    def _own(self, name: str, fetch, *, where) -> pd.DataFrame:
        if name in _PERSONAL:
            full = can(self.user, "applicants.read")
            if not full:
                require(self.user, "applicants.read_masked")
            frame = fetch()
            if len(frame) and name in _AUDITED:
                self._audit_read(name, frame, where=where, masked=not full)
            return frame if full else mask_records(name, frame)
        if name == "audit_log":
            require(self.user, "audit.read")
        elif name == "plans":
            require(self.user, "plan.view")
        elif name in _SECRETS:
            require(self.user, "users.manage")
        else:
            require(self.user, "store.manage")
        return fetch().drop(columns=list(_SECRETS.get(name, ())), errors="ignore")

    def _audit_read(self, name: str, frame: pd.DataFrame, *, where, masked: bool) -> None:
        """Who read which season's applicant records, and how many (never their content)."""
        years = (sorted({int(y) for y in pd.to_numeric(frame["year"], errors="coerce").dropna()})
                 if "year" in frame else [])
        target = f"{name} {','.join(map(str, years)) or 'all'}"
        self._inner.audit(self._actor(), "applicants_read", target,
                          {"table": name, "rows": len(frame), "seasons": years,
                           "masked": masked, "by": sorted(map(str, where or {}))})


def guard(store, user: User | None) -> GuardedStore:
    """``store`` as ``user`` may use it: the view every presentation layer writes through.

    Parameters
    ----------
    store : store
        A :class:`~zoning.store.GeoPackageStore` or any back end with the same methods.
    user : User or None
        The signed-in user (None: nobody, a parent).

    Returns
    -------
    GuardedStore
    """
    return GuardedStore(store, user)
