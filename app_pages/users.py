"""用户管理 (admins): users and their roles, and the retention of applicants' personal data.

Everything is :mod:`zoning.auth` and :mod:`zoning.retention` through the signed-in admin's guarded
store: the role check and the audit entries happen there. Passwords are typed here and never
shown again; the store keeps only their argon2id hashes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.shared import message_zh, require_page, store
from zoning import auth
from zoning.errors import ZoningError
from zoning.retention import RetentionSettings, apply_retention, retention_status

ROLES = [auth.Role.PLANNER, auth.Role.APPROVER, auth.Role.OFFICER, auth.Role.ADMIN]

st.title("用户管理")
user = require_page("users.manage")
s = store()
done = st.session_state.pop("users_done", None)
if done:
    st.success(done)

users = auth.list_users(s)
st.dataframe(pd.DataFrame({
    "用户名": users["username"], "显示名": users["display_name"],
    "角色": [auth.ROLE_ZH.get(auth.Role(r), r) for r in users["role"]],
    "状态": ["有效" if int(a) else "已停用" for a in users["active"]],
    "创建时间": users["created_at"]}), hide_index=True, width="stretch")

add, off = st.columns(2)
with add, st.form("user-add", clear_on_submit=True):
    st.markdown("##### 添加用户")
    name = st.text_input("用户名", key="new-user")
    display = st.text_input("显示名（如 张工）", key="new-display")
    role = st.selectbox("角色", ROLES, format_func=lambda r: auth.ROLE_ZH[r], key="new-role")
    pw1 = st.text_input("初始密码（至少 10 个字符）", type="password", key="new-pw1")
    pw2 = st.text_input("再次输入密码", type="password", key="new-pw2")
    if st.form_submit_button("添加", key="user-add-go"):
        if pw1 != pw2:
            st.error("两次输入的密码不一致。")
        else:
            try:
                new = auth.add_user(s, name, role=role, password=pw1, display_name=display)
            except ZoningError as exc:
                st.error(message_zh(exc))
            else:
                st.session_state["users_done"] = f"已添加用户 {new.label_zh}。"
                st.rerun()

with off:
    st.markdown("##### 停用用户")
    active = users[(users["active"] == 1) & (users["username"] != user.username)]
    pick = st.selectbox("用户", list(active["username"]), key="disable-pick",
                        placeholder="没有可停用的用户")
    if st.button("停用", key="user-disable-go", disabled=pick is None):
        try:
            auth.disable_user(s, pick)
        except ZoningError as exc:
            st.error(message_zh(exc))
        else:
            st.session_state["users_done"] = f"已停用用户 {pick}，其登录均已失效。"
            st.rerun()

st.markdown("##### 个人信息保留期限")
st.caption("《重庆市教育委员会关于做好2024年义务教育招生入学工作的通知》五(四)：信息非必要不采集。"
           "一届招生结束并超过保留期限后，删除报名者的姓名、身份证号、出生日期、住址和不动产单元号等；"
           "人数统计、录取结果和审计日志保留。")
keep = st.number_input("招生季结束（9月30日）后保留天数", min_value=0, value=92, step=1,
                       key="keep-days")
settings = RetentionSettings(keep_days=int(keep))
try:
    status = retention_status(s, settings=settings)
except ZoningError as exc:
    st.error(message_zh(exc))
    st.stop()
if status.empty:
    st.info("没有报名数据。")
else:
    st.dataframe(pd.DataFrame({
        "招生年份": status.index, "报名人数": status["applicants"],
        "含个人信息": status["personal"],
        "到期日": [f"{t:%Y-%m-%d}" for t in status["erase_after"]],
        "状态": ["已删除" if not p else ("已到期" if d else "保留中")
               for p, d in zip(status["personal"], status["due"], strict=True)]}),
        hide_index=True, width="stretch")
    due = int(status["due"].sum())
    if st.button(f"删除到期的个人信息（{due} 届）", key="retention-go", disabled=not due):
        try:
            out = apply_retention(s, settings=settings)
        except ZoningError as exc:
            st.error(message_zh(exc))
        else:
            st.session_state["users_done"] = (f"已删除 {int(out['erased'].sum()):,} 名报名者的个人信息，"
                                              "已记入审计日志。")
            st.rerun()
