"""片区调整 (planners): draw on the map to move parcels or redraw a zone, see the impact at once.

seeds 000 五(一): zones stay stable, and a change is argued, evaluated, approved and published in
advance; this page is the evaluation. Every edit makes a new immutable plan version
(:mod:`zoning.simulate`); undo goes back to the parent, and nothing is written to the store until
the planner keeps a version. Planners save drafts; approvers evaluate, approve and publish stored
versions (审批 tab). Both sign in; the store checks each role (:mod:`zoning.auth`), and the audit
log records the signed-in user.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import threading
import time
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st
from folium.plugins import Draw
from streamlit_folium import st_folium

from app_pages.shared import (
    ASSETS,
    LEVEL_ZH,
    WARNING_SHORT,
    dataset,
    district_name,
    level_radio,
    message_zh,
    require_page,
    simulator,
    store,
)
from zoning import simulate as sim
from zoning.auth import can
from zoning.capacity import warning_map
from zoning.crs import to_web, to_working_gdf
from zoning.errors import InfeasibleError, ZoningError

#: Parcels are drawn once the map is zoomed in this far (a district has tens of thousands)
PARCEL_ZOOM = 15
MAX_PARCELS = 3000
DRAW_ASSETS = "/app/static/leaflet-draw"


# ------------------------------------------------------------------------------ plan versions
def _versions(level: str) -> dict:
    """Plan versions of this session for ``level``: ``{"plans", "head", "redo", "base"}``."""
    key = f"planner-{level}"
    if key not in st.session_state:
        _, base = simulator(level)
        st.session_state[key] = {"plans": {base.plan_id: base}, "head": base.plan_id,
                                 "redo": [], "base": base.plan_id}
    return st.session_state[key]


def _push(v: dict, plan) -> None:
    v["plans"][plan.plan_id] = plan
    v["head"] = plan.plan_id
    v["redo"] = []
    st.session_state["last_edit"] = (plan.parent_id, plan.plan_id)


def _edit(level: str, kind: str) -> None:
    """Button callback: apply an edit before the page runs again (one run per edit, not two)."""
    v = _versions(level)
    head = v["plans"][v["head"]]
    ds, _ = dataset()
    author = st.session_state.get("planner_name") or "planner"
    try:
        if kind == "draw":
            plan = sim.move_polygon(head, st.session_state["drawn"], st.session_state["move-to"],
                                    ds.parcels, author=author)
        elif kind == "ids":
            text = st.session_state.get("move-ids") or ""
            ids = [t for t in text.replace(",", " ").replace("，", " ").split() if t]
            if not ids:
                st.session_state["edit_error"] = "请输入宗地代码。"
                return
            unknown = [i for i in ids if i not in head.assignment.index]
            if unknown:
                st.session_state["edit_error"] = (f"宗地代码 {'、'.join(unknown[:5])} 不在本区的宗地中，"
                                                  "请对照宗地图或不动产权证书核对（19位宗地代码）。")
                return
            plan = sim.move_parcels(head, ids, st.session_state["move-to-ids"], ds.parcels,
                                    author=author)
        else:
            plan = sim.redraw_zone(head, st.session_state["redraw-zone"], st.session_state["drawn"],
                                   ds.parcels, author=author)
    except ZoningError as exc:
        locked = any(p.get("kind") == "locked_zone" for p in getattr(exc, "problems", None) or [])
        st.session_state["edit_error"] = (
            "圈选范围内没有本区的宗地：请在区界内、宗地所在处重新圈选。"
            if kind == "draw" and not locked else f"无法调整：{message_zh(exc)}")
        return
    _push(v, plan)


def _lock(level: str) -> None:
    """Multiselect callback: lock or unlock zones as a new plan version (undo unlocks)."""
    v = _versions(level)
    head = v["plans"][v["head"]]
    want = set(st.session_state.get(f"locked-{level}") or [])
    have = set(head.locked)
    plan = head
    author = st.session_state.get("planner_name") or "planner"
    if want - have:
        plan = sim.lock_zones(plan, sorted(want - have), author=author)
    if have - want:
        plan = sim.lock_zones(plan, sorted(have - want), locked=False, author=author)
    if plan is not head:
        _push(v, plan)


def _step(level: str, way: str) -> None:
    """Button callback: undo (back to the parent version) or redo."""
    v = _versions(level)
    if way == "undo":
        head = v["plans"][v["head"]]
        v["redo"].append(head.plan_id)
        v["head"] = head.parent_id
    elif v["redo"]:
        v["head"] = v["redo"].pop()
    st.session_state["last_edit"] = None


def _save(level: str, actor: str) -> None:
    """Keep the version shown in the store.

    The button's callback: a rerun asked for by the map at the same moment cannot swallow it.
    """
    v = _versions(level)
    head = v["plans"][v["head"]]
    kept = dataclasses.replace(head, note=st.session_state.get("plan-name") or head.note)
    try:
        sim.save_plan(store(), kept, actor=actor)
    except ZoningError as exc:
        st.session_state[f"saved-{level}"] = ("error", f"保存失败：{message_zh(exc)}")
    else:
        v["plans"][kept.plan_id] = kept
        st.session_state[f"saved-{level}"] = ("ok", f"已保存版本 {kept.plan_id}（草稿），记入审计日志。")


def _load_stored(level: str) -> None:
    """Button callback: continue editing from a stored version.

    A later save goes over it, and is refused if someone else saved over it first.
    """
    v = _versions(level)
    pick = st.session_state.get("stored-pick")
    if not pick:
        return
    ds, _ = dataset()
    try:
        plan = sim.load_plan(store(), pick, crs=ds.crs)
    except ZoningError as exc:
        st.session_state["edit_error"] = f"无法载入：{message_zh(exc)}"
        return
    v["plans"][plan.plan_id] = plan
    v["head"], v["redo"] = plan.plan_id, []
    st.session_state["last_edit"] = None


def _drawn_polygon(drawing: dict | None, crs):
    """The last drawn shape (GeoJSON, WGS-84) as a polygon in the working CRS, or None."""
    if not drawing or not drawing.get("geometry"):
        return None
    geom = shapely.geometry.shape(drawing["geometry"])
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return None
    web = gpd.GeoSeries([geom], crs="EPSG:4326")
    return to_working_gdf(web, layer="drawn polygon", crs=crs).iloc[0]


def _plan_label(plan, v: dict) -> str:
    tag = "现行片区" if plan.plan_id == v["base"] else (plan.note or "未命名")
    return f"{tag}（{plan.plan_id[:6]}，{plan.status}）"


# ------------------------------------------------------------------------------ the map
def _map(simr, plan, level: str, ds, *, moved: pd.Index):
    table = simr.capacity(plan)
    fmap = warning_map(table, ds.schools, plan.zones, level=level, assets=ASSETS)
    draw = Draw(export=False, position="topleft",
                draw_options={"polyline": False, "circle": False, "marker": False,
                              "circlemarker": False, "rectangle": {"showArea": False},
                              "polygon": {"allowIntersection": False, "showArea": False}},
                edit_options={"edit": False, "remove": True})
    draw.default_js = [("leaflet_draw_js", f"{DRAW_ASSETS}/leaflet.draw.js")]
    draw.default_css = [("leaflet_draw_css", f"{DRAW_ASSETS}/leaflet.draw.css")]
    draw.add_to(fmap)
    return fmap


def _parcel_group(ds, plan, view: dict | None, *, moved: pd.Index) -> folium.FeatureGroup:
    """Parcels in view once zoomed in (moved ones in orange), as a layer added without reload."""
    group = folium.FeatureGroup(name="宗地")
    if not view or (view.get("zoom") or 0) < PARCEL_ZOOM or not view.get("bounds"):
        return group
    b = view["bounds"]
    sw, ne = b["_southWest"], b["_northEast"]
    box = to_working_gdf(gpd.GeoSeries([shapely.box(sw["lng"], sw["lat"], ne["lng"], ne["lat"])],
                                       crs="EPSG:4326"), layer="map view", crs=ds.crs).iloc[0]
    parcels = ds.parcels
    hit = parcels.sindex.query(box, predicate="intersects")[:MAX_PARCELS]
    if not len(hit):
        return group
    sub = parcels.iloc[hit][["name", "households", "geometry"]].copy()
    sub["parcel_id"] = sub.index
    sub["zone"] = plan.assignment.reindex(sub.index).fillna("（无）").to_numpy()
    sub["moved"] = sub.index.isin(moved)
    web = to_web(sub)
    folium.GeoJson(
        web, style_function=lambda f: {
            "color": "#d35400" if f["properties"]["moved"] else "#333", "weight": 1,
            "fillColor": "#f39c12" if f["properties"]["moved"] else "#ffffff",
            "fillOpacity": 0.7 if f["properties"]["moved"] else 0.25},
        tooltip=folium.GeoJsonTooltip(["parcel_id", "name", "households", "zone"],
                                      aliases=["宗地", "名称", "户数", "片区"]),
    ).add_to(group)
    return group


# ------------------------------------------------------------------------------ impact
def _impact_panel(simr, before, after, base) -> None:
    impact = simr.impact(before, after)
    st.markdown("##### 本次调整的影响")
    st.info(impact.summary_zh())
    a, b, c, d = st.columns(4)
    a.metric("调整户数", f"{impact.households_moved:,}")
    b.metric("调整宗地", f"{len(impact.moved):,}")
    c.metric("新超学位学校", len(impact.over_cap["crossed"]))
    d.metric("不再连片的片区", int(impact.zones["non_contiguous"].sum()))
    if len(impact.schools):
        t = impact.schools.copy()
        view = pd.DataFrame({
            "学校": t["name"],
            "需求（前→后）": [f"{x:.1f} → {y:.1f}" for x, y in zip(t["demand_before"], t["demand_after"],
                                                                 strict=True)],
            "学位": t["seats_after"].astype(int),
            "比例（前→后）": [f"{x:.0%} → {y:.0%}" for x, y in zip(t["ratio_before"].fillna(0),
                                                               t["ratio_after"].fillna(0), strict=True)],
            "预警（前→后）": [f"{WARNING_SHORT.get(x, x)} → {WARNING_SHORT.get(y, y)}"
                            for x, y in zip(t["warning_before"], t["warning_after"], strict=True)],
        })
        st.dataframe(view, hide_index=True, width="stretch")
    if before.plan_id != base.plan_id:
        whole = sim.compare(simr, base, after).attrs["summary"]
        st.caption(f"与现行片区相比：{whole['parcels_differ']:,} 宗地、"
                   f"{whole['households_differ']:,} 户调整；"
                   f"超学位学校 {whole['over_seats_a']} → {whole['over_seats_b']} 所；平均直线距离 "
                   f"{whole['mean_distance_a']:.0f} → {whole['mean_distance_b']:.0f} 米。")
    with st.expander("逐年影响（在读学生不转学，多孩家庭可随兄姐就读）"):
        share = st.slider("随兄姐留在原校的比例（起始年）", 0.0, 1.0, 0.3, 0.05, key="sib-share")
        if st.button("计算逐年影响", key="transition-go"):
            with st.spinner("正在逐年预测…"):
                tr = simr.transition_schools(base, after, sibling_share=share).reset_index()
            st.dataframe(pd.DataFrame({
                "年份": tr["year"], "学校": tr["name"], "学位": tr["seats"],
                "原方案需求": tr["demand_before"].round(1), "新方案需求": tr["demand_after"].round(1),
                "预警（原→新）": [f"{WARNING_SHORT.get(x, x)} → {WARNING_SHORT.get(y, y)}"
                                for x, y in zip(tr["warning_before"], tr["warning_after"],
                                                strict=True)]}),
                hide_index=True, width="stretch")
            st.caption("随兄姐留在原校的比例逐年递减，到最后一年为 0，即调整完全生效。")


# ------------------------------------------------------------------------------ optimiser
class _OptimiserJob:
    """One optimiser run in a thread, kept in the session.

    The page is rerun while the solver works (the map sends its view back once drawn, the planner
    clicks a tab); a job held by one run of the script would be lost with it, so the job lives in
    ``st.session_state`` and every run finds it again.
    """

    def __init__(self, ds, level: str, time_limit: int, fixed, *, tradeoff: bool) -> None:
        from zoning.optimize import DEFAULT_WEIGHTS

        self.level, self.time_limit = level, time_limit
        self.weights = DEFAULT_WEIGHTS if tradeoff else DEFAULT_WEIGHTS[:1]
        self.result = self.error = None
        self.progress: tuple | None = None  # (plan, plans, best objective, best bound)
        self.start = time.monotonic()
        self.thread = threading.Thread(target=self._work, args=(ds, fixed), daemon=True,
                                       name=f"optimise-{level}")
        self.thread.start()

    def _work(self, ds, fixed) -> None:
        from zoning.optimize import optimize

        try:
            self.result = optimize(ds, level=self.level, time_limit=float(self.time_limit),
                                   fixed=fixed, distance_weights=self.weights,
                                   progress=self._report)
        except Exception as exc:  # shown to the planner, never a traceback
            self.error = exc

    def _report(self, plan: int, plans: int, best: float, bound: float) -> None:
        self.progress = (plan, plans, best, bound)  # one assignment: safe across threads

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    @property
    def spent(self) -> float:
        return time.monotonic() - self.start


@st.fragment(run_every=1.0)
def _optimiser_progress(key: str) -> None:
    """The running job's progress, redrawn each second; the whole page reruns once it ends."""
    job = st.session_state.get(key)
    if job is None or not job.running:
        st.rerun()  # finished meanwhile: the page shows the result
    plans = len(job.weights)  # each plan of the trade-off gets the time limit
    budget = plans * job.time_limit + 20  # building the model comes on top
    parts = [f"正在求解：已用 {job.spent:.0f} 秒（求解上限 {job.time_limit} 秒）" if plans == 1 else
             f"正在求解：已用 {job.spent:.0f} 秒（共 {plans} 个方案，每个方案上限 {job.time_limit} 秒）"]
    if job.progress is not None:
        plan, plans, best, bound = job.progress
        if plans > 1:
            parts.append(f"第 {plan + 1}/{plans} 个方案")
        if math.isfinite(best):
            parts.append(f"目前最好方案目标值 {best:,.0f}")
        if math.isfinite(best) and math.isfinite(bound):
            gap = (best - bound) / max(abs(best), 1.0)
            parts.append(f"下界 {bound:,.0f}（间隙 {gap:.1%}）")
    text = "；".join(parts)
    st.progress(min(job.spent / budget, 0.99), text=text)


def _optimiser_outcome(ds, job: _OptimiserJob) -> None:
    exc = job.error
    if isinstance(exc, InfeasibleError):
        short = "、".join(f"{ds.schools['name'].get(s, s)}（缺{n}个班）"
                         for s, n in (exc.shortfall or {}).items())
        st.error(f"现有学位无法容纳全部需求，需要增加班数：{short}")
    elif isinstance(exc, ZoningError):
        st.error(f"无法优化：{exc}")
    elif exc is not None:
        st.error(f"优化出错：{type(exc).__name__}: {exc}")


def _start_optimiser(ds, level: str, fixed) -> None:
    """Start a job (the button's callback).

    A callback runs before the page does, so a rerun that the map asks for at the same moment
    cannot swallow the click, as it can a click read inside the page.
    """
    st.session_state[f"opt-{level}"] = _OptimiserJob(
        ds, level, st.session_state["opt-limit"], fixed,
        tradeoff=st.session_state.get("opt-tradeoff", False))


def _optimiser_panel(ds, level: str, simr, v: dict) -> None:
    base, head = v["plans"][v["base"]], v["plans"][v["head"]]
    key = f"opt-{level}"
    job = st.session_state.get(key)
    running = job is not None and job.running
    st.slider("每个方案的求解时间上限（秒）", 10, 120, 60, step=10, disabled=running,
              key="opt-limit")
    st.checkbox("同时给出更看重就近入学的权衡方案（共 3 个方案，用时约 3 倍）", key="opt-tradeoff",
                disabled=running)
    st.caption("在每所学校起始年级需求不超过学位（班数 × 45/50）、片区连片的前提下，"
               "调整的户数最少，其次上学距离最短。")
    fixed = base.assignment.index[base.assignment.isin(head.locked).to_numpy()]
    st.button("开始优化", type="primary", key="opt-run", disabled=running,
              on_click=_start_optimiser, args=(ds, level, fixed))
    if running:
        st.caption("求解在后台进行，可以继续查看本页；完成后结果显示在这里。")
        _optimiser_progress(key)
        return
    if job is None:
        return
    if job.result is None:
        _optimiser_outcome(ds, job)
        return
    first = job.result
    s = first.summary()
    st.success(f"优化完成（{s['status']}，MIP 间隙 {s['mip_gap']:.2%}，用时 {s['seconds']:.0f} 秒）："
               f"调整 {s['moved_households']:,} 户；超学位学校 {len(s['over_cap_before'])} → "
               f"{len(s['over_cap_after'])} 所；最高比例 {s['worst_ratio']:.0%}。")
    plans = first.plans or (first,)
    if len(plans) == 1:
        _adopt_button(ds, level, key, first)
        return
    pupils = max(float(first.zones["demand_after"].sum()), 1e-9)
    st.caption("调整户数与上学距离的权衡：距离权重（户/生·公里）越大，越看重就近入学；"
               "距离为新生到片区学校的平均直线距离。")
    st.dataframe(pd.DataFrame({
        "方案": [f"方案{i + 1}" for i in range(len(plans))],
        "权重": [p.distance_weight for p in plans],
        "调整户数": [p.moved_households for p in plans],
        "距离（米）": [round(p.distance / pupils * 1000) for p in plans],
        "最高比例": [f"{p.worst_ratio:.0%}" for p in plans],
        "间隙": [f"{p.mip_gap:.1%}" for p in plans]}), hide_index=True, width="stretch")
    pick = st.radio("采用哪个方案", range(len(plans)), horizontal=True, key="opt-pick",
                    format_func=lambda i: f"方案{i + 1}（{plans[i].moved_households:,} 户）")
    _adopt_button(ds, level, key, plans[pick])


def _adopt_button(ds, level: str, key: str, res) -> None:
    st.button("采用为新版本", key="opt-adopt", on_click=_adopt, args=(ds, level, key, res))


def _adopt(ds, level: str, key: str, res) -> None:
    """Button callback: the optimiser's plan becomes the next version (its zones drawn first)."""
    from zoning.optimize import plan_zones

    v = _versions(level)
    with st.spinner("正在生成片区边界…"):
        zones = plan_zones(ds.zones, ds.parcels, res.assignment, level=level,
                           current=v["plans"][v["base"]].assignment)
        plan = sim.adopt(v["plans"][v["head"]], res.assignment, zones,
                         author=st.session_state["planner_name"],
                         note=f"优化方案（{res.moved_households}户）")
    _push(v, plan)
    del st.session_state[key]  # adopted: the version list holds it now


# ------------------------------------------------------------------------------ text list
def _text_panel(ds, level: str) -> None:
    """Paste a published 划片 list: zones from its clauses, with what could not be read."""
    from zoning.textimport import import_text

    st.caption("粘贴区县公布的划片范围（每校一段：学校名称：街道/社区、路名单双号、小区……），"
               "按条款匹配全区地址，生成铺满全区的片区，作为一个方案版本。")
    text = st.text_area("划片范围文字", key=f"text-list-{level}", height=160)
    if st.button("导入", key="text-import") and text.strip():
        try:
            with st.spinner("正在解析条款并匹配地址…"):
                st.session_state[f"text-result-{level}"] = import_text(ds, text, level=level)
        except ZoningError as exc:
            st.error(f"无法导入：{message_zh(exc)}")
    res = st.session_state.get(f"text-result-{level}")
    if res is None:
        return
    s = res.summary
    a, b, c, d = st.columns(4)
    a.metric("条款", f"{s['clauses']:,}", help=f"无法识别 {s['clauses_unparsed']} 条")
    b.metric("匹配地址", f"{s['addresses_placed']:,} / {s['addresses']:,}")
    c.metric("冲突", f"{s['conflicts']:,}")
    d.metric("遗漏", f"{s['gaps']:,}")
    if s["schools_unmatched"]:
        st.warning(f"文字中的学校未能对应：{'、'.join(s['schools_unmatched'])}")
    if len(res.text.unparsed):
        st.dataframe(res.text.unparsed[["school", "raw", "reason_zh"]].rename(columns={
            "school": "学校", "raw": "条款原文", "reason_zh": "无法识别的原因"}),
            hide_index=True, width="stretch")
    (st.success if res.validation.ok else st.error)(
        f"生成片区 {len(res.zones)} 个：" + ("铺满全区、无重叠。" if res.validation.ok
                                          else "校验发现问题，请用 zoning validate 查看。"))
    st.button("作为方案版本加入", key="text-adopt", on_click=_adopt_text, args=(level, res))


def _adopt_text(level: str, res) -> None:
    """Button callback: the zones read from a pasted 划片 list become the next version."""
    v = _versions(level)
    _push(v, sim.adopt(v["plans"][v["base"]], res.assignment, res.zones,
                       author=st.session_state.get("planner_name") or "planner",
                       note="由划片文字导入"))


# ------------------------------------------------------------------------------ approval
_STATUS_ZH = {"draft": "草稿", "evaluated": "已评估", "approved": "已批准", "published": "已发布"}
_STEP = {"evaluated": ("evaluate", "评估"), "approved": ("approve", "批准"),
         "published": ("publish", "发布")}


def _approval_panel(ds, level: str, simr, base, user) -> None:
    """Stored versions of the level; an approver moves one to its next status (seeds 000 五(一))."""
    s = store()
    try:
        plans = sim.list_plans(s)
    except ZoningError as exc:
        st.error(message_zh(exc))
        return
    plans = plans[plans["level"] == level].iloc[::-1]
    if plans.empty:
        st.info("本学段还没有保存的方案版本：规划人员在“版本”中保存草稿后，审批人员在此评估、批准和发布。")
        return
    st.dataframe(pd.DataFrame({"方案": plans["plan_id"], "名称": plans["note"],
                               "作者": plans["author"],
                               "状态": plans["status"].map(_STATUS_ZH).fillna(plans["status"]),
                               "保存时间": plans["created_at"]}),
                 hide_index=True, width="stretch", height=180)
    by_id = plans.set_index("plan_id")
    pick = st.selectbox("方案", list(by_id.index), key="approve-pick",
                        format_func=lambda p: f"{by_id.at[p, 'note'] or '未命名'}（{p[:6]}，"
                                              f"{_STATUS_ZH.get(by_id.at[p, 'status'], '')}）")
    status = str(by_id.at[pick, "status"])
    at = sim.STATUSES.index(status) if status in sim.STATUSES else len(sim.STATUSES)
    nxt = sim.STATUSES[at + 1] if at + 1 < len(sim.STATUSES) else None
    if nxt is None:
        st.success("该方案已发布。")
        return
    step, step_zh = _STEP[nxt]
    if not can(user, f"plan.{step}"):
        st.caption(f"该方案当前为{_STATUS_ZH.get(status, status)}；评估、批准和发布由审批人员办理"
                   "（《重庆市教育委员会关于做好2024年义务教育招生入学工作的通知》五(一)）。")
        return
    plan = sim.load_plan(s, pick, crs=ds.crs)
    if nxt == "evaluated":
        st.info("与现行片区相比：" + simr.impact(base, plan).summary_zh())
    if st.button(f"{step_zh}此方案", type="primary", key=f"plan-{step}"):
        try:
            sim.save_plan(s, sim.set_status(plan, nxt, actor=user.username), actor=user.username)
        except ZoningError as exc:
            st.error(f"{step_zh}失败：{message_zh(exc)}")
        else:
            st.session_state["approval_done"] = f"已{step_zh}方案 {pick}，记入审计日志。"
            st.rerun()
    done = st.session_state.pop("approval_done", None)
    if done:
        st.success(done)


# ------------------------------------------------------------------------------ page
st.title("片区调整")
user = require_page("plan.view")
ds, _ = dataset()
level = level_radio()
# the signed-in user is the author of versions and the actor in the audit log
st.session_state["planner_name"] = user.username
simr, _ = simulator(level)
v = _versions(level)
base, head = v["plans"][v["base"]], v["plans"][v["head"]]
st.caption(f"{district_name()} · {LEVEL_ZH[level]}片区 · 当前版本：{_plan_label(head, v)} · "
           f"在地图左侧用多边形/矩形工具圈选宗地；放大到 {PARCEL_ZOOM} 级显示宗地")

moved = sim.diff(base, head).index if head.plan_id != base.plan_id else pd.Index([])
left, right = st.columns([3, 2])
# the impact shows below the map but is sent first: the planner sees it while the map redraws
with st.container():
    last = st.session_state.get("last_edit")
    if last and last[0] in v["plans"] and last[1] == v["head"]:
        _impact_panel(simr, v["plans"][last[0]], v["plans"][last[1]], base)
    elif head.plan_id != base.plan_id:
        _impact_panel(simr, base, head, base)
    else:
        st.info("这是现行片区。圈选宗地并移入其他片区后，这里会显示调整的影响。")
with left:
    fmap = _map(simr, head, level, ds, moved=moved)
    view = st.session_state.get(f"view-{level}")
    # A new version's map opens where the planner was looking. It is told that view once, when
    # it is made: a centre handed back on every run moves the map by a fraction of a pixel, the
    # map sends its new bounds, and the page reruns for ever (a button clicked meanwhile is lost).
    map_key = f"planmap-{level}-{head.plan_id}"
    if st.session_state.get(f"map-opened-{level}", (None,))[0] != map_key:
        st.session_state[f"map-opened-{level}"] = (map_key, view or {})
    opened = st.session_state[f"map-opened-{level}"][1]
    out = st_folium(fmap, height=600, use_container_width=True,
                    returned_objects=["last_active_drawing", "zoom", "bounds"],
                    feature_group_to_add=_parcel_group(ds, head, view, moved=moved),
                    key=map_key, center=opened.get("center"), zoom=opened.get("zoom"))
    out = out or {}
    if out.get("bounds") and out.get("zoom"):
        b = out["bounds"]
        centre = ((b["_southWest"]["lat"] + b["_northEast"]["lat"]) / 2,
                  (b["_southWest"]["lng"] + b["_northEast"]["lng"]) / 2)
        new_view = {"zoom": out["zoom"], "bounds": b, "center": centre}
        if new_view != view:
            st.session_state[f"view-{level}"] = new_view
            if (out["zoom"] >= PARCEL_ZOOM) or (view and view.get("zoom", 0) >= PARCEL_ZOOM):
                st.rerun()

zone_names = head.zones["name"] if "name" in head.zones else pd.Series(head.zones.index,
                                                                       index=head.zones.index)
zone_ids = list(head.zones.index)

with right:
    st.session_state[f"locked-{level}"] = list(head.locked)
    st.multiselect("锁定片区（不能从中调出宗地）", zone_ids, key=f"locked-{level}",
                   format_func=lambda z: f"{zone_names[z]}（{z}）", on_change=_lock,
                   args=(level,), placeholder="未锁定")
    tab_draw, tab_ids, tab_redraw, tab_versions, tab_opt, tab_text, tab_approve = st.tabs(
        ["圈选移入", "按宗地号", "调整边界", "版本", "优化", "划片文字", "审批"])
    try:
        st.session_state["drawn"] = _drawn_polygon(out.get("last_active_drawing"), ds.crs)
    except ZoningError as exc:
        st.session_state["drawn"] = None
        st.error(f"圈选的图形无法使用：{exc}")
    polygon = st.session_state["drawn"]
    problem = st.session_state.pop("edit_error", None)
    if problem:
        st.error(problem)
    with tab_draw:
        st.caption("先在地图上画一个多边形或矩形，再选择要移入的片区。")
        st.selectbox("移入片区", zone_ids, format_func=lambda z: f"{zone_names[z]}（{z}）",
                     key="move-to")
        if polygon is None:
            st.info("地图上还没有圈选范围。")
        else:
            st.button("把圈选的宗地移入该片区", type="primary", key="move-draw", on_click=_edit,
                      args=(level, "draw"))
    with tab_ids:
        st.text_area("宗地代码（每行一个，或用逗号、空格分隔）", key="move-ids")
        st.selectbox("移入片区", zone_ids, format_func=lambda z: f"{zone_names[z]}（{z}）",
                     key="move-to-ids")
        st.button("移入", key="move-ids-go", on_click=_edit, args=(level, "ids"))
    with tab_redraw:
        st.caption("在地图上画出片区的新边界，宗地按与新边界的最大重叠重新归属。")
        st.selectbox("片区", zone_ids, format_func=lambda z: f"{zone_names[z]}（{z}）",
                     key="redraw-zone")
        if polygon is not None:
            st.button("用圈选范围作为新边界", key="redraw-go", on_click=_edit,
                      args=(level, "redraw"))
    with tab_versions:
        u, r = st.columns(2)
        u.button("↶ 撤销", disabled=head.parent_id not in v["plans"], key="undo",
                 on_click=_step, args=(level, "undo"))
        r.button("↷ 重做", disabled=not v["redo"], key="redo", on_click=_step,
                 args=(level, "redo"))
        st.text_input("版本名称", value=head.note if head.plan_id != v["base"] else "",
                      key="plan-name")
        may_save = can(user, "plan.edit")
        if not may_save:
            st.caption("保存方案草稿由规划人员办理；审批人员可在此试调、比较，在“审批”中评估、批准和发布。")
        st.button("保存此版本", disabled=head.plan_id == v["base"] or not may_save,
                  key="plan-save", on_click=_save, args=(level, user.username))
        said = st.session_state.pop(f"saved-{level}", None)
        if said is not None:
            (st.success if said[0] == "ok" else st.error)(said[1])
        try:
            stored = sim.list_plans(store())
        except ZoningError:
            stored = pd.DataFrame(columns=["plan_id", "level", "note", "author", "status"])
        stored = stored[stored["level"] == level].iloc[::-1]
        if len(stored):
            names = stored.set_index("plan_id")
            st.selectbox("已保存的版本", list(names.index), key="stored-pick",
                         format_func=lambda p: f"{names.at[p, 'note'] or '未命名'}（{p[:6]}，"
                                               f"{names.at[p, 'author']}，"
                                               f"{_STATUS_ZH.get(names.at[p, 'status'], '')}）")
            st.button("载入，在此基础上继续调整", key="stored-load", on_click=_load_stored,
                      args=(level,))
        plans = list(v["plans"].values())
        labels = {p.plan_id: _plan_label(p, v) for p in plans}
        pa = st.selectbox("方案 A", list(labels), format_func=labels.get, key="cmp-a")
        pb = st.selectbox("方案 B", list(labels), index=len(labels) - 1, format_func=labels.get,
                          key="cmp-b")
        if pa != pb:
            table = sim.compare(simr, v["plans"][pa], v["plans"][pb])
            sm = table.attrs["summary"]
            st.caption(f"相差 {sm['parcels_differ']:,} 宗地、{sm['households_differ']:,} 户；超学位学校 "
                       f"{sm['over_seats_a']} vs {sm['over_seats_b']}；红色预警 {sm['red_a']} vs "
                       f"{sm['red_b']}；平均距离 {sm['mean_distance_a']:.0f} vs "
                       f"{sm['mean_distance_b']:.0f} 米")
            changed = table[table["demand_change"].abs() > 1e-9]
            st.dataframe(pd.DataFrame({
                "学校": changed["name"], "需求A": changed["demand_a"].round(1),
                "需求B": changed["demand_b"].round(1), "学位": changed["seats_b"],
                "预警A": changed["warning_a"].map(WARNING_SHORT),
                "预警B": changed["warning_b"].map(WARNING_SHORT)}),
                hide_index=True, width="stretch")
        files = st.session_state.setdefault("exports", {})
        if head.plan_id not in files and st.button("准备导出文件", key="export-prepare"):
            with tempfile.TemporaryDirectory() as tmp, st.spinner("正在生成导出文件…"):
                gj = sim.export_plan(ds, head, Path(tmp) / "plan.geojson")
                txt = sim.export_plan(ds, head, Path(tmp) / "plan.txt", text=True)
                files[head.plan_id] = (gj.read_bytes(), txt.read_bytes())
        if head.plan_id in files:
            gj, txt = files[head.plan_id]
            st.download_button("导出片区（GeoJSON）", gj, key="dl-geojson",
                               file_name=f"片区方案_{head.plan_id}.geojson",
                               mime="application/geo+json")
            st.download_button("导出划片文字（公布用）", txt, key="dl-text",
                               file_name=f"划片范围_{head.plan_id}.txt", mime="text/plain")
    with tab_opt:
        _optimiser_panel(ds, level, simr, v)
    with tab_text:
        _text_panel(ds, level)
    with tab_approve:
        _approval_panel(ds, level, simr, base, user)

