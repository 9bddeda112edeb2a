"""Streamlit dashboard: pages for parents, planners, approvers, officials and the enrolment office.

Thin: every number comes from :mod:`zoning`; the pages only ask and show. They live in
``app_pages/``, not ``pages/``: Streamlit would also serve a ``pages/`` folder as pages of its own,
and a first visit straight to ``/planner`` would then run the page without this file. Run with
``make run`` or ``zoning dashboard``; ``ZONING_DATA`` names the district's GeoPackage.

The parents' page (入学查询) needs no sign-in. Every staff page is registered for everyone, so a
reload or a bookmark of ``/planner`` reaches it (a reload starts a new session, signed out); the
menu lists a page once a user of a role that may use it signs in (sidebar), and each page checks
the role itself (:func:`app_pages.shared.require_page`), asking a signed-out visitor to sign in.
Hiding a page is a courtesy, the check is in :mod:`zoning.auth`.
"""

from __future__ import annotations

import streamlit as st

from app_pages.shared import current_user, sign_in_box
from zoning.auth import can

st.set_page_config(page_title="招生服务片区", page_icon=":material/school:", layout="wide")

#: staff pages: (script, title, icon, action that lists it in the menu)
STAFF_PAGES = [
    ("app_pages/planner.py", "片区调整", ":material/map:", "plan.view"),
    ("app_pages/warnings.py", "学位预警", ":material/warning:", "capacity.view"),
    ("app_pages/enrolment.py", "招生录取", ":material/assignment:", "applicants.read"),
    ("app_pages/users.py", "用户管理", ":material/group:", "users.manage"),
]

user = current_user()
PAGES = [st.Page("app_pages/lookup.py", title="入学查询", icon=":material/search:", default=True)]
shown = []
for script, title, icon, action in STAFF_PAGES:
    visible = can(user, action)
    PAGES.append(st.Page(script, title=title, icon=icon,
                         visibility="visible" if visible else "hidden"))
    if visible:
        shown.append(script)
st.session_state["menu_pages"] = shown  # what the menu lists (read by the tests)
page = st.navigation(PAGES)
sign_in_box(user)
page.run()
