"""Streamlit dashboard: the demo district's zones on a map (the four full pages come later).

Thin: every number comes from :mod:`zoning`. Run with ``make run`` or ``zoning dashboard``.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from zoning.errors import ZoningError

DATA = Path(os.environ.get("ZONING_DATA", "data/demo.gpkg"))
LEVELS = {"小学": "primary", "初中": "junior"}

st.set_page_config(page_title="招生服务片区", page_icon="🏫", layout="wide")


@st.cache_resource(show_spinner="正在读取片区数据…")
def load(path: str, mtime: float):
    """Read the store once per file version (``mtime`` keys the cache)."""
    from zoning.store import GeoPackageStore
    from zoning.zones import validate

    ds = GeoPackageStore(path).load()
    report = validate(ds.zones, schools=ds.schools, parcels=ds.parcels, district=ds.district)
    return ds, report


st.title("义务教育招生服务片区")
if not DATA.exists():
    st.error(f"找不到数据文件 {DATA}。请先运行 `make run`（会自动生成演示区县），"
             f"或 `zoning demo --out {DATA}`。")
    st.stop()
try:
    ds, report = load(str(DATA), DATA.stat().st_mtime)
except ZoningError as exc:
    st.error(f"数据无法读取：{exc}")
    st.stop()

district = ds.district["name"].iat[0] if ds.district is not None else DATA.stem
st.caption(f"{district} · 数据文件 {DATA} · 坐标系 {ds.crs}")

level_zh = st.sidebar.radio("学段", list(LEVELS), horizontal=True)
level = LEVELS[level_zh]
basemap = st.sidebar.selectbox("底图", ["none", "osm", "amap"],
                               format_func={"none": "无底图（离线）", "osm": "OpenStreetMap",
                                            "amap": "高德地图"}.get)

serving = ("primary", "nine_year") if level == "primary" else ("junior", "nine_year")
public = ds.schools[(ds.schools["ownership"] == "public") & ds.schools["level"].isin(serving)]
c1, c2, c3, c4 = st.columns(4)
c1.metric(f"{level_zh}片区", int((ds.zones["level"] == level).sum()))
c2.metric(f"公办{level_zh}（含九年一贯制）", len(public))
c3.metric("宗地", f"{len(ds.parcels):,}")
c4.metric("户数", f"{int(ds.parcels['households'].sum()):,}")

if report.ok:
    st.success(f"片区检查通过（警告 {len(report.warnings)} 项）。")
else:
    st.error(f"片区检查发现 {len(report.errors)} 项错误，请用 `zoning validate {DATA}` 查看。")

from streamlit_folium import st_folium  # noqa: E402 - only needed once data is there

from zoning.maps import zones_map  # noqa: E402

fmap = zones_map(ds.zones, ds.schools, level=level, district=ds.district, basemap=basemap,
                 assets="/app/static/leaflet")
st_folium(fmap, height=620, use_container_width=True, returned_objects=[], key=f"map-{level}")

with st.expander(f"{level_zh}学校列表"):
    table = public[["name", "level", "street", "address"]].rename(
        columns={"name": "学校", "level": "类型", "street": "街道/镇", "address": "地址"})
    table["类型"] = table["类型"].map({"primary": "小学", "junior": "初中", "nine_year": "九年一贯制"})
    st.dataframe(table, use_container_width=True)
