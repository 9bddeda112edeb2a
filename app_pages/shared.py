"""What the dashboard's pages share: the district read once, cached engines, sign-in, widgets.

Thin by design: every number comes from :mod:`zoning`; this module only caches it per data file and
turns errors into messages a user can act on. ``ZONING_DATA`` names the GeoPackage (default
``data/demo.gpkg``).

Sign-in (:mod:`zoning.auth`): the parents' page needs none; the others need a signed-in user of the
right role. The session's bearer token lives in this browser tab's session state only, and is
checked on every run (expiry, sign-out, a disabled user). Every write of every page goes through
:func:`store`, the guarded store of the signed-in user: the role check, the audit log's actor and
the masking of applicants' data happen there, not in the pages.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from zoning.capacity import WARNING_COLOURS, WARNING_ZH  # noqa: F401 - for the pages
from zoning.errors import ZoningError

LEVELS = {"小学": "primary", "初中": "junior"}
LEVEL_ZH = {v: k for k, v in LEVELS.items()}
WARNING_SHORT = {"red": "红色", "yellow": "黄色", "green": "绿色", "none": "无需求"}
ASSETS = "/app/static/leaflet"  # the vendored Leaflet, served by Streamlit (maps work offline)


def data_path() -> str:
    """The district's store (``ZONING_DATA``).

    A GeoPackage path (default ``data/demo.gpkg``) or a ``postgresql://…?schema=…`` URL.
    """
    return os.environ.get("ZONING_DATA", "data/demo.gpkg")


def data_exists() -> bool:
    """Whether the store is there to read (a server's schema is checked when it is read)."""
    path = data_path()
    return "://" in path or Path(path).exists()


def data_version(path: str) -> str:
    """A key that changes when the district's layers change, not when a plan is saved.

    Saving a plan or an audit entry writes to the same store; reloading 200,000 addresses for
    that would make the planner wait, so the key is the layers' own version
    (:meth:`~zoning.store.GeoPackageStore.data_version`, either back end).
    """
    from zoning.store import open_store

    try:
        return open_store(path).data_version()
    except ZoningError:
        return ""


@st.cache_resource(show_spinner="正在读取片区数据…", max_entries=4)
def _load(path: str, version: str):
    from zoning.store import open_store
    from zoning.zones import validate

    ds = open_store(path).load()
    report = validate(ds.zones, schools=ds.schools, parcels=ds.parcels, district=ds.district)
    return ds, report


def dataset():
    """The district (and its validation report), or a clear message and stop."""
    path = data_path()
    if not data_exists():
        st.error(f"找不到数据文件 {path}。请先运行 `make run`（会自动生成演示区县），"
                 f"或 `zoning demo --out {path}`。")
        st.stop()
    try:
        return _load(path, data_version(path))
    except ZoningError as exc:
        st.error(f"数据无法读取：{exc}")
        st.stop()


def raw_store():
    """The district's store itself (sign-in only; pages write through :func:`store`)."""
    from zoning.store import open_store

    return open_store(data_path())


def store():
    """The district's store as the signed-in user may use it (:func:`zoning.auth.guard`)."""
    from zoning.auth import guard

    return guard(raw_store(), current_user())


_TOKEN = "auth_token"
_NOTICE = "auth_notice"


def current_user():
    """The signed-in :class:`zoning.auth.User`, or None (a parent); an ended session signs out."""
    from zoning.auth import session_user
    from zoning.errors import SignInError

    token = st.session_state.get(_TOKEN)
    if not token or not data_exists():
        return None
    try:
        return session_user(raw_store(), token)
    except SignInError as exc:
        st.session_state.pop(_TOKEN, None)
        st.session_state[_NOTICE] = exc.message_zh
    except ZoningError:
        st.session_state.pop(_TOKEN, None)
    return None


def _sign_in() -> None:
    """Form callback: check the password, keep the token in this tab's session state."""
    from zoning.auth import AuthSettings, sign_in
    from zoning.errors import SignInError

    name = (st.session_state.get("signin-user") or "").strip()
    password = st.session_state.get("signin-password") or ""
    if not name or not password:
        st.session_state[_NOTICE] = "请输入用户名和密码。"
        return
    try:
        session = sign_in(raw_store(), name, password, settings=AuthSettings.from_env())
    except SignInError as exc:
        st.session_state[_NOTICE] = exc.message_zh
    except ZoningError as exc:
        st.session_state[_NOTICE] = f"无法登录：{message_zh(exc)}"
    else:
        st.session_state[_TOKEN] = session.token
        st.session_state.pop(_NOTICE, None)


def _sign_out() -> None:
    from zoning.auth import sign_out

    token = st.session_state.pop(_TOKEN, None)
    if token:
        with contextlib.suppress(ZoningError):  # forgotten here either way
            sign_out(raw_store(), token)
    st.session_state[_NOTICE] = "已退出登录。"


def sign_in_box(user) -> None:
    """The sidebar's sign-in form for staff, or who is signed in and a sign-out button."""
    from zoning.auth import has_users

    box = st.sidebar.container(border=True)
    notice = st.session_state.pop(_NOTICE, None)
    if user is not None:
        box.markdown(f"**已登录**：{user.label_zh}")
        box.button("退出登录", key="signout", on_click=_sign_out)
        return
    if notice:
        box.warning(notice)
    with box.form("signin", clear_on_submit=True, border=False):
        st.markdown("**工作人员登录**")
        st.caption("家长查询对口学校无需登录。")
        st.text_input("用户名", key="signin-user")
        st.text_input("密码", type="password", key="signin-password")
        st.form_submit_button("登录", on_click=_sign_in, key="signin-go")
    try:
        empty = data_exists() and not has_users(raw_store())
    except ZoningError:
        empty = False
    if empty:
        box.caption("本数据尚无工作人员账号：请先在命令行运行 "
                    f"`zoning user add 用户名 --role admin --data {data_path()}`；演示数据的账号由 "
                    "`zoning demo` 生成，见数据文件旁的 *-users.txt。")


def require_page(action: str):
    """The signed-in user when they may see this page; otherwise a message, and stop."""
    from zoning.auth import ACTIONS, ROLE_ZH, can

    user = current_user()
    if can(user, action):
        return user
    roles = "、".join(ROLE_ZH[r] for r in ROLE_ZH if r in ACTIONS[action])  # in role order
    if user is None:
        st.info(f"此页面仅供工作人员使用：请在左侧以{roles}身份登录。")
        with contextlib.suppress(StreamlitAPIException):  # run outside the dashboard's menu
            st.page_link("app_pages/lookup.py", label="家长查询对口学校", icon=":material/search:")
    else:
        st.error(f"当前账号 {user.label_zh} 无权查看此页面（仅限{roles}）。")
    st.stop()


@st.cache_resource(show_spinner="正在建立地址索引…", max_entries=4)
def _resolver(path: str, version: str):
    from zoning.lookup import Resolver

    ds, _ = _load(path, version)
    return Resolver(ds)


def resolver():
    """The cached lookup engine (:class:`zoning.lookup.Resolver`) of the district."""
    dataset()  # messages for a missing or broken file
    path = data_path()
    return _resolver(path, data_version(path))


@st.cache_resource(show_spinner="正在计算各校需求…", max_entries=8)
def _simulator(path: str, version: str, level: str):
    from zoning.simulate import Simulator, current_plan

    ds, _ = _load(path, version)
    return Simulator(ds, level=level), current_plan(ds, level=level, note="现行片区")


def simulator(level: str):
    """``(Simulator, current plan)`` for ``level``, built once per data version."""
    dataset()
    path = data_path()
    return _simulator(path, data_version(path), level)


@st.cache_data(show_spinner="正在计算学位预警…", max_entries=16)
def _capacity(path: str, version: str, level: str, year: int):
    from zoning.capacity import capacity_for_year

    ds, _ = _load(path, version)
    applicants = None
    try:  # through the guard: masked unless an officer, and the read is audited
        applicants = store().read("applicants")
    except ZoningError:
        applicants = None
    return capacity_for_year(ds, level=level, year=year, applicants=applicants,
                             resolver=_resolver(path, version))


def capacity(level: str, year: int):
    """The 学位预警 table of ``level`` for the ``year`` intake."""
    dataset()
    path = data_path()
    return _capacity(path, data_version(path), level, year)


def intake_year() -> int:
    """The coming intake: the year after the last enrolment year on record."""
    ds, _ = dataset()
    enrolment = ds.tables.get("enrolment")
    if enrolment is None or enrolment.empty:
        from datetime import date

        return date.today().year
    return int(enrolment["year"].max()) + 1


def district_name() -> str:
    """The district's name, from its boundary layer (else the file name)."""
    ds, _ = dataset()
    if ds.district is not None and "name" in ds.district and len(ds.district):
        return str(ds.district["name"].iat[0])
    path = data_path()
    return path.rsplit("schema=", 1)[-1] if "://" in path else Path(path).stem


def level_radio(where=st.sidebar, key: str = "level") -> str:
    """The 学段 switch; returns ``"primary"`` or ``"junior"``."""
    zh = where.radio("学段", list(LEVELS), horizontal=True, key=key)
    return LEVELS[zh]


def fail(exc: Exception) -> None:
    """Show a ZoningError as a message (its Chinese part when it has one)."""
    st.error(message_zh(exc))


def message_zh(exc: Exception) -> str:
    """The Chinese wording of an error when it carries one, else its text."""
    zh = getattr(exc, "message_zh", None)
    problems = getattr(exc, "problems", None) or []
    if not zh and problems and isinstance(problems[0], dict):
        zh = problems[0].get("message_zh")
    return zh or str(exc)


def mask_name(name) -> str:
    """张小明 → 张**: names on screens are masked (seeds 000 五(四)); :func:`zoning.auth.mask_name`."""
    from zoning.auth import mask_name as mask

    return mask(name)
