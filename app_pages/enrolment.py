"""招生录取 (enrolment office): dates, applications, the season's run, lotteries, check-in.

The run goes from eligibility to notices; the private-school lotteries are re-checked from their
published files; schools check pupils in by 报到码.

Everything is :mod:`zoning.enroll` and :mod:`zoning.lottery`; ID numbers and names are masked on
screen (seeds 000 五(四)) unless the officer asks to see them in full (that read is audited), and
every step goes to the store's hash-chained audit log under the signed-in officer's name. Only the
enrolment officer's role sees this page (:mod:`zoning.auth`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.shared import (
    dataset,
    district_name,
    intake_year,
    mask_name,
    message_zh,
    require_page,
    resolver,
    store,
)
from zoning import enroll
from zoning import lottery as lot
from zoning.errors import ZoningError

ROUTE_ZH = enroll.ROUTE_ZH
OUTCOME_ZH = enroll.OUTCOME_ZH
LEVEL_ZH = {"primary": "小学", "junior": "初中"}


def _masked_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Applications as every screen shows them by default: ID numbers and names masked."""
    from zoning.auth import mask_records

    return mask_records("applicants", frame)


def _masked(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "name" in out:
        out["name"] = out["name"].map(mask_name)
    return out.drop(columns=[c for c in ("id_number", "x", "y") if c in out])


def _timeline(year: int) -> None:
    tl = enroll.Timeline.for_year(year).to_frame()
    now = pd.Timestamp.now(tz=enroll.CST)
    start, end = pd.to_datetime(tl["start"]), pd.to_datetime(tl["end"])
    tl["状态"] = ["进行中" if s <= now <= e else ("已结束" if now > e else "未开始")
                for s, e in zip(start, end, strict=True)]
    tl["start"] = start.dt.strftime("%m月%d日 %H:%M")
    tl["end"] = end.dt.strftime("%m月%d日 %H:%M")
    st.dataframe(tl.drop(columns="action").rename(columns={
        "label_zh": "事项", "start": "开始", "end": "截止", "citation": "依据"}),
                 hide_index=True, width="stretch")


def _verify_lotteries(ds, result) -> pd.DataFrame:
    """Publish each draw's files to a folder and re-run them from the files (as anyone could)."""
    lists = enroll.lottery_lists(ds, result.decisions, year=result.year)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, d in result.draws.items():
            params, applicants = lists[key]
            _, cpath, _ = lot.write_commit(tmp, applicants, params)
            lot.write_draw(tmp, d)
            v = lot.verify_files(cpath)
            rows.append({"摇号": key, "报名人数": v.n_applicants, "摇中人数": v.n_admitted,
                         "种子": v.seed, "复核": "一致" if v.ok else "不一致",
                         "说明": "；".join(v.problems_zh)})
    return pd.DataFrame(rows)


def _applicants(s, year: int, *, refresh: bool = False) -> pd.DataFrame:
    """The season's applications, read once per session (each read is audited by the guard)."""
    key = f"apps-{year}"
    if refresh or key not in st.session_state:
        try:
            st.session_state[key] = s.query("applicants", {"year": year})
        except ZoningError as exc:
            st.error(message_zh(exc))
            return pd.DataFrame()
    return st.session_state[key]


st.title("招生录取")
user = require_page("applicants.read")
ds, _ = dataset()
year = st.sidebar.selectbox("招生年份", [intake_year(), intake_year() - 1])
officer = user.username
st.caption(f"{district_name()} · {year}年秋季入学 · 经办人：{user.label_zh} · "
           "身份证号和姓名默认脱敏显示")
s = store()

tab_dates, tab_apps, tab_run, tab_lottery, tab_checkin = st.tabs(
    ["招生日程", "报名", "审核与录取", "民办摇号", "报到"])

with tab_dates:
    st.caption("依据《重庆市教育委员会关于做好2024年义务教育招生入学工作的通知》四：信息采集、网上报名、民办报名与摇号、审核、确认、发放入学通知书。")
    _timeline(year)

with tab_apps:
    apps = _applicants(s, year)
    a, b, c = st.columns(3)
    a.metric("报名人数", f"{len(apps):,}")
    if len(apps):
        b.metric("公办", f"{int((apps['application_type'] == 'public').sum()):,}")
        c.metric("民办", f"{int((apps['application_type'] == 'private').sum()):,}")
    upload = st.file_uploader("导入报名表（CSV 或 Excel，中文表头均可）", type=["csv", "xlsx", "xls"])
    if upload is not None and st.button("导入", key="import-go"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / upload.name
            path.write_bytes(upload.getvalue())
            try:
                report = enroll.import_applicants(path, year=year, store=s, actor=officer)
            except ZoningError as exc:
                st.error(message_zh(exc))
            else:
                _applicants(s, year, refresh=True)
                st.success(f"已导入 {len(report.accepted):,} 条，退回 {report.n_rejected_rows:,} 行。")
                if len(report.rejected):
                    st.dataframe(report.rejected[["row", "applicant_id", "id_masked", "field",
                                                  "reason_zh"]].rename(columns={
                        "row": "行", "applicant_id": "报名号", "id_masked": "身份证号",
                        "field": "字段", "reason_zh": "退回原因"}), hide_index=True, width="stretch")
    if not len(apps) and st.button("载入演示报名数据", key="demo-apps",
                                   help="为演示区县生成一届完整的报名数据（合成，不含真实个人信息）"):
        with st.spinner("正在生成并导入…"):
            report = enroll.import_applicants(enroll.demo_applicants(ds, year=year), year=year,
                                              store=s, actor=officer)
        _applicants(s, year, refresh=True)
        st.success(f"已导入 {len(report.accepted):,} 条演示报名。")
        st.rerun()
    if len(apps):
        full = st.toggle("显示完整身份证号和姓名（仅招生工作人员；本次查看记入审计日志）",
                         key="apps-full")
        shown = apps if full else _masked_ids(apps)
        if full and not st.session_state.get(f"apps-full-logged-{year}"):
            s.audit(officer, "applicants_unmasked", f"applicants {year}",
                    {"rows": len(apps), "screen": "招生录取/报名"})
            st.session_state[f"apps-full-logged-{year}"] = True
        st.dataframe(shown[["applicant_id", "id_number", "name", "level", "application_type",
                            "school_id", "category", "status"]].rename(columns={
            "applicant_id": "报名号", "id_number": "身份证号", "name": "姓名", "level": "学段",
            "application_type": "类型", "school_id": "报名学校", "category": "类别",
            "status": "状态"}), hide_index=True, width="stretch", height=280)

with tab_run:
    st.caption("资格审核（三对口等，逐条注明依据）→ 民办摇号与确认 → 公办录取 → 统筹安排 → "
               "入学通知书和报到码。")
    seed = st.text_input("摇号种子（摇号现场公开产生的数字）", key="season-seed",
                         placeholder="例如：05 18 22 31 44")
    replay = st.checkbox("按招生日程回放（不在招生期内时使用）", value=True, key="replay")
    reason = st.text_input("超出日程办理的原因（如线下补录，需经办人）", key="override-reason")
    if st.button("运行招生", type="primary", key="season-run"):
        if not seed.strip():
            st.warning("请先输入摇号现场公布的种子。")
        else:
            override = (enroll.Override(officer, reason) if reason.strip() else None)
            try:
                with st.spinner("正在审核、摇号、录取…"):
                    result = enroll.run_season(
                        s, year=year, lottery_seed=seed, actor=officer,
                        at=None if replay else pd.Timestamp.now(tz=enroll.CST),
                        override=override, resolver=resolver())
            except ZoningError as exc:
                st.error(message_zh(exc))
            else:
                st.session_state[f"season-{year}"] = result
                st.success("已完成并保存，全部步骤已记入审计日志。")
    result = st.session_state.get(f"season-{year}")
    stored = s.query("enrol_results", {"year": year})
    if result is not None:
        sm = result.summary()
        m = st.columns(4)
        m[0].metric("报名", f"{sm['applicants']:,}")
        m[1].metric("录取", f"{sm['outcomes'].get('admitted', 0):,}")
        m[2].metric("统筹安排", f"{sm['tongchou']:,}")
        m[3].metric("不符合条件", f"{sm['outcomes'].get('ineligible', 0):,}")
        adm = _masked(result.admissions).reset_index()
        adm["level"] = adm["level"].map(LEVEL_ZH)
        adm["outcome"] = adm["outcome"].map(OUTCOME_ZH).fillna(adm["outcome"])
        adm["route"] = adm["route"].map(ROUTE_ZH).fillna(adm["route"])
        st.markdown("##### 录取结果")
        st.dataframe(adm[["applicant_id", "id_masked", "name", "level", "outcome", "route",
                          "school_name", "reason_zh", "citation"]].rename(columns={
            "applicant_id": "报名号", "id_masked": "身份证号", "name": "姓名", "level": "学段",
            "outcome": "结果", "route": "途径", "school_name": "学校", "reason_zh": "理由",
            "citation": "依据"}), hide_index=True, width="stretch")
        st.markdown("##### 统筹安排")
        tc = _masked(result.tongchou)
        st.dataframe(tc[["applicant_id", "id_masked", "name", "school_name", "distance_m",
                         "reason_zh"]].rename(columns={
            "applicant_id": "报名号", "id_masked": "身份证号", "name": "姓名",
            "school_name": "安排学校", "distance_m": "距离（米）", "reason_zh": "理由"}),
                     hide_index=True, width="stretch")
    elif len(stored):
        st.info(f"本届已有保存的录取结果 {len(stored):,} 条（在本页重新运行可查看明细）。")

with tab_lottery:
    result = st.session_state.get(f"season-{year}")
    if result is None:
        st.info("运行招生后，这里列出各民办学校的摇号，并可按公布的文件复核。")
    else:
        lots = result.lotteries.copy()
        lots["method"] = lots["method"].map({"lottery": "电脑随机摇号",
                                             "registration": "报名即录取"}).fillna(lots["method"])
        st.dataframe(lots[["key", "method", "seats", "applicants", "admitted_by_draw", "confirmed",
                           "forfeited", "refilled", "applicants_sha256"]].rename(columns={
            "key": "学校-年份-学段", "method": "方式", "seats": "计划", "applicants": "报名",
            "admitted_by_draw": "摇中", "confirmed": "确认", "forfeited": "逾期放弃",
            "refilled": "递补", "applicants_sha256": "名单哈希（摇号前公布）"}),
            hide_index=True, width="stretch")
        st.caption("摇号前公布名单和参数的哈希；摇号时公布种子；顺序为 HMAC-SHA256(种子, 报名号) 的排序。"
                   "任何人可用公布的文件复核（zoning lottery verify）。")
        if st.button("按公布文件复核全部摇号", key="lottery-verify"):
            st.dataframe(_verify_lotteries(ds, result), hide_index=True, width="stretch")

with tab_checkin:
    st.caption("学校扫描或输入入学通知书上的报到码；输错一位会被校验位发现。")
    code = st.text_input("报到码", key="checkin-code", placeholder="XXXX-XXXX-XXXXX")
    staff = st.text_input("学校经办人", key="checkin-by")
    if st.button("报到", key="checkin-go"):
        if not code.strip() or not staff.strip():
            st.warning("请输入报到码和学校经办人。")
        else:
            try:
                done = enroll.checkin(s, code, by=staff)
            except ZoningError as exc:
                st.error(message_zh(exc))
            else:
                school = ds.schools["name"].get(done["school_id"], done["school_id"])
                if done["already"]:
                    st.warning(f"该报到码已于 {done['checked_in_at']} 报到"
                               f"（{done['checked_in_by']}），未重复登记。")
                else:
                    st.success(f"报到成功：{done['applicant_id']}，{school}"
                               f"（{ROUTE_ZH.get(done['route'], done['route'])}）。")
