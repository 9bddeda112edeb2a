"""学位预警 (officials): every school's warning level, filters, map, forecast with interval, 大班额.

seeds 000 五(一): 招生预警 is published so that parents can set their expectations; the notice
exported here is that publication.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from app_pages.shared import (
    ASSETS,
    LEVEL_ZH,
    WARNING_SHORT,
    capacity,
    data_path,
    data_version,
    dataset,
    district_name,
    intake_year,
    level_radio,
    require_page,
)
from zoning import capacity as cap
from zoning.errors import ZoningError


@st.cache_data(show_spinner="正在预测未来几年的需求…", max_entries=8)
def _forecast(path: str, version: str, level: str, years: int) -> pd.DataFrame:
    from app_pages.shared import _load
    from zoning.forecast import forecast

    ds, _ = _load(path, version)
    return forecast(ds, level=level, years=years)


st.title("学位预警")
require_page("capacity.view")
ds, _ = dataset()
level = level_radio()
first = intake_year()
year = st.sidebar.selectbox("招生年份", list(range(first, first + 6)),
                            format_func=lambda y: f"{y}年秋季")
try:
    table = capacity(level, year)
except ZoningError as exc:
    st.error(f"无法计算学位预警：{exc}")
    st.stop()

source_zh = {"applicants": "已报名人数", "enrolment": "实际入学人数",
             "forecast": "预测需求（含80%区间）"}.get(table.attrs.get("source"), "需求")
grade = "一年级" if level == "primary" else "七年级"
st.caption(f"{district_name()} · {year}年{LEVEL_ZH[level]}{grade} · 需求来源：{source_zh} · "
           f"学位 = 计划班数 × 每班上限（小学45人、初中50人，市教委2024年招生入学通知 五(二)）")

summary = cap.district_summary(table)
c = st.columns(5)
c[0].metric("学校", summary["schools"])
c[1].metric("红色预警", summary["red"])
c[2].metric("黄色预警", summary["yellow"])
c[3].metric("学位", f"{summary['seats']:,}")
c[4].metric("缺少学位", f"{summary['shortfall_seats']:,.0f}",
            help=f"需增加 {summary['shortfall_classes']} 个班")
if summary["problems"]:
    st.warning(f"{len(summary['problems'])} 所学校有需求但未安排计划班数："
               f"{'、'.join(table.loc[summary['problems'], 'name'])}。请补充计划后再发布。")

# ---------------------------------------------------------------- filters
streets = ds.schools["street"].reindex(table.index).fillna("")
f1, f2, f3 = st.columns([2, 3, 2])
levels = f1.multiselect("预警等级", ["red", "yellow", "green", "none"], default=["red", "yellow", "green"],
                        format_func=WARNING_SHORT.get)
chosen = f2.multiselect("街道/镇", sorted(s for s in streets.unique() if s), placeholder="全部")
owner = f3.selectbox("办学性质", ["全部", "公办", "民办"])
keep = table["warning"].isin(levels)
if chosen:
    keep &= streets.isin(chosen)
if owner != "全部":
    keep &= table["ownership"].eq("public" if owner == "公办" else "private")
shown = table[keep].sort_values("ratio", ascending=False)

tab_table, tab_map, tab_chart, tab_large, tab_notice = st.tabs(
    ["预警列表", "预警地图", "需求预测", "大班额", "发布预警"])

with tab_table:
    view = cap.public_table(shown)
    view.insert(2, "街道/镇", streets.reindex(shown.index).to_numpy())
    st.dataframe(
        view, hide_index=True, width="stretch",
        column_config={"比例": st.column_config.ProgressColumn("比例", format="%.2f", min_value=0,
                                                              max_value=1.5),
                       "需求": st.column_config.NumberColumn(format="%.1f")})
    st.caption(f"共 {len(shown)} 所（筛选自 {len(table)} 所）。比例 = 需求 ÷ 学位："
               "≥100% 红色，90%–100% 黄色，<90% 绿色。")

with tab_map:
    fmap = cap.warning_map(table, ds.schools, ds.zones, level=level, assets=ASSETS)
    st_folium(fmap, height=560, use_container_width=True, returned_objects=[],
              key=f"warnmap-{level}-{year}")

with tab_chart:
    path = data_path()
    fc = _forecast(path, data_version(path), level, 6)
    names = ds.schools["name"]
    ranked = shown.index.tolist() or table.index.tolist()
    pick = st.multiselect("学校", ranked, default=ranked[:3], format_func=lambda s: names.get(s, s),
                          max_selections=8)
    data = fc[fc["school_id"].isin(pick)].assign(学校=lambda d: d["school_id"].map(names))
    if data.empty:
        st.info("请选择学校。所选学校没有预测（无片区或无入学记录）时不显示。")
    else:
        base = alt.Chart(data).encode(x=alt.X("year:O", title="年份"), color=alt.Color("学校:N"))
        band = base.mark_area(opacity=0.18).encode(y=alt.Y("lo:Q", title="一年级/七年级需求（人）"),
                                                   y2="hi:Q")
        line = base.mark_line(point=True).encode(
            y="demand:Q", tooltip=["学校", "year", alt.Tooltip("demand:Q", format=".0f"),
                                   alt.Tooltip("lo:Q", format=".0f"), alt.Tooltip("hi:Q", format=".0f"),
                                   alt.Tooltip("seats:Q"), alt.Tooltip("p_red:Q", format=".0%")])
        seats = base.mark_line(strokeDash=[6, 4]).encode(y="seats:Q")
        st.altair_chart(band + line + seats, width="stretch")
        st.caption("实线：预测需求；阴影：80% 区间；虚线：计划学位。预测依据：6（初中12）年前出生人口 × "
                   "各校入学比例 + 新建住宅。")

with tab_large:
    classes = ds.tables.get("classes")
    if classes is None or classes.empty:
        st.info("数据中没有班级表，无法检查大班额。")
    else:
        large = cap.large_classes(classes, ds.schools)
        counts = large["flag"].value_counts()
        a, b, d = st.columns(3)
        a.metric("超大班额（≥66人）", int(counts.get("very_large", 0)))
        b.metric("大班额（56–65人）", int(counts.get("large", 0)))
        d.metric("起始年级超上限", int(counts.get("over_cap", 0)))
        st.dataframe(large.drop(columns="flag").rename(columns={
            "school_id": "学校代码", "name": "学校", "grade": "年级", "class_no": "班号",
            "students": "学生数", "flag_zh": "问题"}), hide_index=True, width="stretch")

with tab_notice:
    try:
        notice = cap.public_notice(table, district=district_name(), year=year, level=level)
    except ZoningError as exc:
        st.error(str(exc))
    else:
        st.markdown(notice)
        st.download_button("下载预警公告（Markdown）", notice.encode("utf-8"),
                           file_name=f"学位预警_{LEVEL_ZH[level]}_{year}.md", mime="text/markdown")
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = Path(tmp) / "warnings.xlsx"
        large = cap.large_classes(ds.tables["classes"], ds.schools) if "classes" in ds.tables else None
        cap.to_excel({f"{LEVEL_ZH[level]}{year}": table}, xlsx, large=large)
        st.download_button("下载预警表（Excel）", xlsx.read_bytes(),
                           file_name=f"学位预警_{LEVEL_ZH[level]}_{year}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
