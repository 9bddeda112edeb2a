"""What the dashboard's pages share: the district read once, cached engines, small widgets.

Thin by design: every number comes from :mod:`zoning`; this module only caches it per data file and
turns errors into messages a user can act on. ``ZONING_DATA`` names the GeoPackage (default
``data/demo.gpkg``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import streamlit as st

from zoning.capacity import WARNING_COLOURS, WARNING_ZH  # noqa: F401 - for the pages
from zoning.errors import ZoningError

LEVELS = {"小学": "primary", "初中": "junior"}
LEVEL_ZH = {v: k for k, v in LEVELS.items()}
WARNING_SHORT = {"red": "红色", "yellow": "黄色", "green": "绿色", "none": "无需求"}
ASSETS = "/app/static/leaflet"  # the vendored Leaflet, served by Streamlit (maps work offline)


def data_path() -> Path:
    """The district's GeoPackage (``ZONING_DATA``, default ``data/demo.gpkg``)."""
    return Path(os.environ.get("ZONING_DATA", "data/demo.gpkg"))


def data_version(path: Path) -> str:
    """A key that changes when the district's layers change, not when a plan is saved.

    Saving a plan or an audit entry writes the same file; reloading 200,000 addresses for that
    would make the planner wait, so the key is the layers' own ``last_change`` in the GeoPackage.
    """
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT max(last_change) FROM gpkg_contents "
                              "WHERE data_type = 'features'").fetchone()
        finally:
            con.close()
        return f"{path.stat().st_size}:{row[0]}"
    except (sqlite3.Error, OSError):
        return str(path.stat().st_mtime)


@st.cache_resource(show_spinner="正在读取片区数据…", max_entries=4)
def _load(path: str, version: str):
    from zoning.store import GeoPackageStore
    from zoning.zones import validate

    ds = GeoPackageStore(path).load()
    report = validate(ds.zones, schools=ds.schools, parcels=ds.parcels, district=ds.district)
    return ds, report


def dataset():
    """The district (and its validation report), or a clear message and stop."""
    path = data_path()
    if not path.exists():
        st.error(f"找不到数据文件 {path}。请先运行 `make run`（会自动生成演示区县），"
                 f"或 `zoning demo --out {path}`。")
        st.stop()
    try:
        return _load(str(path), data_version(path))
    except ZoningError as exc:
        st.error(f"数据无法读取：{exc}")
        st.stop()


def store():
    """The district's store (for plan versions, applicants and the audit log)."""
    from zoning.store import GeoPackageStore

    return GeoPackageStore(data_path())


@st.cache_resource(show_spinner="正在建立地址索引…", max_entries=4)
def _resolver(path: str, version: str):
    from zoning.lookup import Resolver

    ds, _ = _load(path, version)
    return Resolver(ds)


def resolver():
    """The cached lookup engine (:class:`zoning.lookup.Resolver`) of the district."""
    dataset()  # messages for a missing or broken file
    path = data_path()
    return _resolver(str(path), data_version(path))


@st.cache_resource(show_spinner="正在计算各校需求…", max_entries=8)
def _simulator(path: str, version: str, level: str):
    from zoning.simulate import Simulator, current_plan

    ds, _ = _load(path, version)
    return Simulator(ds, level=level), current_plan(ds, level=level, note="现行片区")


def simulator(level: str):
    """``(Simulator, current plan)`` for ``level``, built once per data version."""
    dataset()
    path = data_path()
    return _simulator(str(path), data_version(path), level)


@st.cache_data(show_spinner="正在计算学位预警…", max_entries=16)
def _capacity(path: str, version: str, level: str, year: int):
    from zoning.capacity import capacity_for_year

    ds, _ = _load(path, version)
    applicants = None
    try:
        applicants = store().read("applicants")
    except ZoningError:
        applicants = None
    return capacity_for_year(ds, level=level, year=year, applicants=applicants,
                             resolver=_resolver(path, version))


def capacity(level: str, year: int):
    """The 学位预警 table of ``level`` for the ``year`` intake."""
    dataset()
    path = data_path()
    return _capacity(str(path), data_version(path), level, year)


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
    return data_path().stem


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
    """张小明 → 张**: names on screens are masked (seeds 000 五(四))."""
    text = "" if name is None or name != name else str(name)
    return text[:1] + "*" * max(len(text) - 1, 1) if text else ""
