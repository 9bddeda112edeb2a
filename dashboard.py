"""Streamlit dashboard: pages for parents, planners, approvers, officials and the enrolment office.

Thin: every number comes from :mod:`zoning`; the pages only ask and show. They live in
``app_pages/``, not ``pages/``: Streamlit would also serve a ``pages/`` folder as pages of its own,
and a first visit straight to ``/planner`` would then run the page without this file. Run with
``make run`` or ``zoning dashboard``; ``ZONING_DATA`` names the district's GeoPackage.

The parents' page (入学查询) needs no sign-in. The others are listed once a user of a role that
may use them signs in (sidebar), and each page checks the role again itself
(:func:`app_pages.shared.require_page`): hiding a page is a courtesy, the check is in
:mod:`zoning.auth`.
"""

from __future__ import annotations

import streamlit as st

from app_pages.shared import current_user, sign_in_box
from zoning.auth import can

st.set_page_config(page_title="招生服务片区", page_icon=":material/school:", layout="wide")

user = current_user()
PAGES = [st.Page("app_pages/lookup.py", title="入学查询", icon=":material/search:", default=True)]
if can(user, "plan.view"):
    PAGES.append(st.Page("app_pages/planner.py", title="片区调整", icon=":material/map:"))
if can(user, "capacity.view"):
    PAGES.append(st.Page("app_pages/warnings.py", title="学位预警", icon=":material/warning:"))
if can(user, "applicants.read"):
    PAGES.append(st.Page("app_pages/enrolment.py", title="招生录取",
                         icon=":material/assignment:"))
if can(user, "users.manage"):
    PAGES.append(st.Page("app_pages/users.py", title="用户管理", icon=":material/group:"))
page = st.navigation(PAGES)
sign_in_box(user)
page.run()
