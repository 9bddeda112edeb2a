"""入学查询: a parent types an address or a 不动产单元号, or clicks the map, and sees the 对口 schools.

Nothing typed here is stored or logged (seeds 000 五(四)): the query lives in this browser session
only.
"""

from __future__ import annotations

import re

import streamlit as st
from streamlit_folium import st_folium

from app_pages.shared import (
    ASSETS,
    LEVEL_ZH,
    WARNING_COLOURS,
    dataset,
    district_name,
    fail,
    resolver,
)
from zoning.errors import ZoningError
from zoning.maps import lookup_map, zones_map

#: ASCII letters and digits only, 12 or more: a 不动产单元号 or 宗地代码 rather than an address
_CODE = re.compile(r"^[0-9A-Za-z]{12,}$")
_WHAT_IF_WRONG = """
1. 核对输入：地址请写到门牌号、小区和楼栋（例如“金桂南路30号石龙园城1栋”），
   不动产单元号以不动产权证书为准（28位）。
2. 在地图上点选房屋所在位置，看结果是否一致。
3. 仍有疑问，请联系区县教委招生咨询电话核实。招生以区县教育部门公布的招生服务片区为准，本查询仅供参考。
"""


def _ask(query: str):
    """Look a query up; ``None`` and a message for bad input (never a traceback)."""
    text = query.strip()
    compact = re.sub(r"[\s-]", "", text)
    try:
        if _CODE.match(compact):
            return resolver().lookup(parcel=compact.upper())
        return resolver().lookup(address=text)
    except ZoningError as exc:
        fail(exc)
        return None


def _pick(address: str) -> None:
    """A suggested address was chosen: look it up as if typed."""
    st.session_state["lookup_query"] = address
    st.session_state["lookup_point"] = None


def _show_level(level: str, ans) -> None:
    st.markdown(f"#### 对口{LEVEL_ZH.get(level, level)}")
    if not ans.schools:
        st.warning(ans.explanation_zh)
        return
    for s in ans.schools:
        colour = WARNING_COLOURS.get(s.warning or "none", "#999")
        dist = "—" if s.distance_m is None else f"{s.distance_m / 1000:.1f} 公里"
        st.markdown(f"**{s.name}**　直线距离 {dist}")
        if s.warning_zh:
            st.markdown(f"<span style='background:{colour};color:white;padding:2px 8px;"
                        f"border-radius:4px'>学位预警：{s.warning_zh}</span>",
                        unsafe_allow_html=True)
    st.caption(ans.explanation_zh)


st.title("入学查询")
ds, _ = dataset()
st.caption(f"{district_name()} · 输入住址或不动产单元号，或在地图上点选房屋位置，查询对口的小学和初中。"
           "查询内容不会被保存。")

if "lookup_query" not in st.session_state:
    st.session_state["lookup_query"] = ""
with st.form("lookup-form", border=False):
    query = st.text_input("住址或不动产单元号", key="lookup_query",
                          placeholder="例如：金桂南路30号石龙园城1栋，或 500112003002GB00006F00010004")
    asked = st.form_submit_button("查询", type="primary")

result = None
if asked and query.strip():
    st.session_state["lookup_point"] = None
    result = _ask(query)
elif asked:
    st.warning("请输入住址或不动产单元号。")
elif st.session_state.get("lookup_point"):
    lon, lat = st.session_state["lookup_point"]
    result = resolver().lookup(lonlat=(lon, lat), coords="wgs84")
elif query.strip():
    result = _ask(query)

if result is not None and not result.found:
    st.error(result.reason_zh)
    if result.candidates is not None and len(result.candidates):
        st.markdown("您要找的是不是：")
        for row in result.candidates.drop_duplicates("address").head(5).itertuples():
            st.button(row.address, key=f"cand-{row.address_id}", on_click=_pick,
                      args=(row.address,))
    with st.expander("找不到或结果不对怎么办？", expanded=True):
        st.markdown(_WHAT_IF_WRONG)

if result is not None and result.found:
    where = result.matched_address or result.query
    st.success(f"查询位置：{where}" + ("（地图点选）" if result.kind == "point" else ""))
    cols = st.columns(len(result.levels) or 1)
    for col, (level, ans) in zip(cols, result.levels.items(), strict=False):
        with col:
            _show_level(level, ans)
    fmap = lookup_map(result, ds, assets=ASSETS)
    key = "lookup-answer-map"
else:
    fmap = zones_map(ds.zones, ds.schools, level="primary", district=ds.district, assets=ASSETS)
    key = "lookup-overview-map"
    st.info("也可以直接在地图上点选房屋所在位置。")

clicked = st_folium(fmap, height=460, use_container_width=True, returned_objects=["last_clicked"],
                    key=key)
point = (clicked or {}).get("last_clicked")
if point and (point["lng"], point["lat"]) != st.session_state.get("lookup_seen_click"):
    st.session_state["lookup_seen_click"] = (point["lng"], point["lat"])
    st.session_state["lookup_point"] = (point["lng"], point["lat"])
    st.rerun()

if result is not None and result.found:
    with st.expander("结果看起来不对怎么办？"):
        st.markdown(_WHAT_IF_WRONG)
