"""Streamlit dashboard: four pages for parents, planners, officials and the enrolment office.

Thin: every number comes from :mod:`zoning`; the pages only ask and show. They live in
``app_pages/``, not ``pages/``: Streamlit would also serve a ``pages/`` folder as pages of its own,
and a first visit straight to ``/planner`` would then run the page without this file. Run with
``make run`` or ``zoning dashboard``; ``ZONING_DATA`` names the district's GeoPackage.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="招生服务片区", page_icon=":material/school:", layout="wide")

PAGES = [
    st.Page("app_pages/lookup.py", title="入学查询", icon=":material/search:", default=True),
    st.Page("app_pages/planner.py", title="片区调整", icon=":material/map:"),
    st.Page("app_pages/warnings.py", title="学位预警", icon=":material/warning:"),
    st.Page("app_pages/enrolment.py", title="招生录取", icon=":material/assignment:"),
]
st.navigation(PAGES).run()
