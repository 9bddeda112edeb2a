"""The dashboard: AppTest per page for the page logic, and the whole of it in a real headless browser.

Staff pages need sign-in: the ``data`` fixture adds one user per role to its private store, and
``_app(page, role=...)`` signs in through the sidebar form as a user would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from zoning.lookup import lookup
from zoning.simulate import Simulator, current_plan

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard.py")


#: one user per role in every test store: (user name, role, password)
USERS = {role: (role, role, f"{role}-secret-pw") for role in ("admin", "planner", "approver",
                                                              "officer")}
PAGES = {"planner": "app_pages/planner.py", "warnings": "app_pages/warnings.py",
         "enrolment": "app_pages/enrolment.py", "users": "app_pages/users.py"}


def _add_users(path) -> None:
    from zoning.auth import add_user
    from zoning.store import open_store

    store = open_store(path)
    admin = None
    for name, role, password in USERS.values():
        u = add_user(store, name, role=role, password=password, by=admin)
        admin = admin or u


@pytest.fixture
def data(monkeypatch, small_demo_path, tmp_path):
    """A private copy of the small demo with one user per role (pages may write to it)."""
    path = tmp_path / "district.gpkg"
    shutil.copy(small_demo_path, path)
    _add_users(path)
    monkeypatch.setenv("ZONING_DATA", str(path))
    return path


def _sign_in(at: AppTest, role: str, password: str | None = None) -> AppTest:
    name, _, good = USERS[role]
    at.text_input(key="signin-user").input(name)
    at.text_input(key="signin-password").input(good if password is None else password)
    at.button(key="signin-go").click().run()
    assert not at.exception, at.exception
    return at


def _app(page: str | None = None, *, role: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    if role:
        _sign_in(at, role)
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _pages(at: AppTest) -> set[str]:
    """The staff pages the menu lists (every page is registered: hidden ones reach by URL)."""
    shown = set(at.session_state["menu_pages"])
    return {name for name, path in PAGES.items() if path in shown}


def _ask(at: AppTest, query: str) -> AppTest:
    at.text_input(key="lookup_query").input(query)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [s.value for s in at.success]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    return "\n".join(map(str, parts))


# ------------------------------------------------------------------------------ 入学查询
def test_lookup_known_address_returns_its_school(data, small_demo):
    address = small_demo.addresses["address"].iloc[137]
    expected = lookup(small_demo, address=address)
    at = _ask(_app(), address)
    text = _texts(at)
    for ans in expected.levels.values():
        for school in ans.schools:
            assert school.name in text
    assert "学位预警" in text
    assert any("查询位置" in s.value for s in at.success)


def test_lookup_by_unit_code(data, small_demo):
    code = small_demo.addresses["unit_code"].iloc[5]
    expected = lookup(small_demo, parcel=code)
    at = _ask(_app(), code)
    names = [s.name for a in expected.levels.values() for s in a.schools]
    assert names and all(n in _texts(at) for n in names)


def test_lookup_malformed_unit_code_is_a_message(data):
    at = _ask(_app(), "500112003002GB00006F0001000X")
    assert not at.exception
    assert any("第28位" in e.value for e in at.error)
    assert "对口小学" not in _texts(at)


def test_lookup_near_miss_offers_suggestions(data, small_demo):
    row = small_demo.addresses.iloc[40]
    road = row["road"]
    # one wrong character in the road name, and only the road and number typed
    broken = f"{road[0]}难{road[2:]}{row['road_no']}号"
    miss = lookup(small_demo, address=broken)
    assert not miss.found and miss.candidates is not None and len(miss.candidates)
    at = _ask(_app(), broken)
    assert at.error and "对口小学" not in _texts(at)
    suggested = [b for b in at.button if b.key and b.key.startswith("cand-")]
    assert suggested, "a near miss must offer the closest addresses"
    assert suggested[0].label == miss.candidates.drop_duplicates("address")["address"].iloc[0]
    suggested[0].click().run()
    assert not at.exception
    assert "对口小学" in _texts(at)
    assert at.text_input(key="lookup_query").value == suggested[0].label


def test_lookup_empty_query_asks_for_input(data):
    at = _app()
    at.button[0].click().run()
    assert any("请输入" in w.value for w in at.warning)


def test_missing_data_is_a_clear_message_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("ZONING_DATA", str(tmp_path / "missing.gpkg"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "找不到数据文件" in at.error[0].value
    assert "make run" in at.error[0].value


def test_unreadable_data_is_a_clear_message(monkeypatch, tmp_path):
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"not a geopackage at all")
    monkeypatch.setenv("ZONING_DATA", str(bad))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "数据无法读取" in at.error[0].value


# ------------------------------------------------------------------------------ 片区调整
def _movable_parcel(ds):
    """A parcel with households, and a neighbouring zone to move it to."""
    plan = current_plan(ds, level="primary")
    hh = ds.parcels["households"]
    for pid in hh[hh > 0].sort_values(ascending=False).index:
        zone = plan.assignment.get(pid)
        geom = ds.parcels.geometry.loc[pid]
        near = plan.zones.index[plan.zones.distance(geom) < 60]
        other = [z for z in near if z != zone]
        if zone is not None and other:
            return pid, zone, other[0], plan
    raise AssertionError("no movable parcel in the demo")


def _move(at: AppTest, pid: str, to_zone: str) -> AppTest:
    """Move one parcel by its code on the planners' page."""
    at.text_area(key="move-ids").input(pid)
    at.selectbox(key="move-to-ids").select(to_zone)
    return at.button(key="move-ids-go").click().run()


def test_planner_moving_a_parcel_fills_the_impact_table(data, small_demo):
    pid, _, to_zone, plan = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py", role="planner")
    assert "这是现行片区" in _texts(at)
    _move(at, pid, to_zone)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["调整宗地"] == "1"
    assert metrics["调整户数"] == f"{int(small_demo.parcels.at[pid, 'households']):,}"
    # the impact table names the schools whose demand changed, as the simulator says
    sim = Simulator(small_demo, level="primary")
    from zoning.simulate import move_parcels

    after = move_parcels(plan, [pid], to_zone, small_demo.parcels)
    touched = sim.impact(plan, after).schools["name"].tolist()
    table = at.dataframe[0].value
    assert sorted(table["学校"]) == sorted(touched)
    # undo brings the current plan back
    at.button(key="undo").click().run()
    assert "这是现行片区" in _texts(at)


def test_planner_unknown_parcel_is_a_message(data):
    at = _app("app_pages/planner.py", role="planner")
    at.text_area(key="move-ids").input("500112999999GB99999")
    at.button(key="move-ids-go").click().run()
    assert not at.exception
    assert any("500112999999GB99999" in e.value for e in at.error)


def test_planner_keeps_a_version_in_the_store(data, small_demo):
    from zoning.simulate import list_plans
    from zoning.store import GeoPackageStore

    pid, _, to_zone, _ = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py", role="planner")
    _move(at, pid, to_zone)
    at.text_input(key="plan-name").input("试调方案一")
    at.button(key="plan-save").click().run()
    assert not at.exception
    stored = list_plans(GeoPackageStore(data))
    assert "试调方案一" in stored["note"].tolist()
    log = GeoPackageStore(data).audit_log()
    assert (log["actor"] == "planner").any()


def test_two_planners_continue_the_same_version_second_save_is_refused(data, small_demo):
    from zoning.simulate import list_plans
    from zoning.store import GeoPackageStore

    pid, _, to_zone, _ = _movable_parcel(small_demo)
    first = _app("app_pages/planner.py", role="planner")
    _move(first, pid, to_zone)
    first.text_input(key="plan-name").input("共同底稿")
    first.button(key="plan-save").click().run()
    stored = list_plans(GeoPackageStore(data))
    base_id = stored.loc[stored["note"] == "共同底稿", "plan_id"].iat[0]
    sessions = []
    for name in ("甲稿", "乙稿"):
        at = _app("app_pages/planner.py", role="planner")
        at.selectbox(key="stored-pick").set_value(base_id).run()
        at.button(key="stored-load").click().run()
        other = small_demo.parcels.index[small_demo.parcels.index != pid][len(sessions) * 7]
        _move(at, other, to_zone)
        at.text_input(key="plan-name").input(name)
        sessions.append(at)
    for at in sessions:
        at.button(key="plan-save").click().run()
        assert not at.exception
    assert any("已保存版本" in m.value for m in sessions[0].success)
    refused = "\n".join(e.value for e in sessions[1].error)
    assert "保存失败" in refused and "本次未保存" in refused
    notes = list_plans(GeoPackageStore(data))["note"].tolist()
    assert "甲稿" in notes and "乙稿" not in notes


def test_pages_on_a_postgis_store(monkeypatch, small_demo_path, pg_store, small_demo):
    """The same pages on the district copied into PostGIS: lookup, a saved version, warnings."""
    from zoning.simulate import list_plans
    from zoning.store import copy_store

    store = pg_store()
    copy_store(small_demo_path, store)
    url = store._conninfo + f"&schema={store.schema}"
    _add_users(url)
    monkeypatch.setenv("ZONING_DATA", url)
    address = small_demo.addresses["address"].iloc[137]
    text = _texts(_ask(_app(), address))
    for ans in lookup(small_demo, address=address).levels.values():
        assert all(school.name in text for school in ans.schools)
    pid, _, to_zone, _ = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py", role="planner")
    _move(at, pid, to_zone)
    at.text_input(key="plan-name").input("库中方案")
    at.button(key="plan-save").click().run()
    assert not at.exception and "库中方案" in list_plans(store)["note"].tolist()
    assert (store.audit_log()["actor"] == "planner").any()
    at = _app("app_pages/warnings.py", role="approver")
    assert not at.exception and len(at.dataframe)


# ------------------------------------------------------------------------------ 学位预警
def test_warnings_page_counts_match_capacity(data, small_demo):
    from zoning.capacity import capacity_for_year

    at = _app("app_pages/warnings.py", role="planner")
    year = int(small_demo.tables["enrolment"]["year"].max()) + 1
    table = capacity_for_year(small_demo, level="primary", year=year)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["学校"] == str(len(table))
    assert metrics["红色预警"] == str(int((table["warning"] == "red").sum()))
    shown = at.dataframe[0].value
    assert len(shown) == int(table["warning"].isin(["red", "yellow", "green"]).sum())


def test_warnings_filter_by_level(data):
    at = _app("app_pages/warnings.py", role="planner")
    at.multiselect[0].set_value(["red"]).run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert set(shown["预警"]) <= {"红色（学位不足）"}


def test_warnings_junior(data, small_demo):
    at = _app("app_pages/warnings.py", role="planner")
    at.sidebar.radio[0].set_value("初中").run()
    assert not at.exception
    assert any("七年级" in c.value for c in at.caption)


# ------------------------------------------------------------------------------ 招生录取
def test_enrolment_season_lottery_and_checkin(data):
    from zoning.store import GeoPackageStore

    at = _app("app_pages/enrolment.py", role="officer")
    at.button(key="demo-apps").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    stored = GeoPackageStore(data).query("applicants", {"year": 2027})
    assert metrics["报名人数"] == f"{len(stored):,}" and len(stored) > 1000
    # the season needs the seed announced at the draw
    at.button(key="season-run").click().run()
    assert any("种子" in w.value for w in at.warning)
    at.text_input(key="season-seed").input("05 18 22 31 44")
    at.button(key="season-run").click().run()
    assert not at.exception, at.exception
    results = GeoPackageStore(data).query("enrol_results", {"year": 2027})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["录取"] == f"{int((results['outcome'] == 'admitted').sum()):,}"
    # no full ID number or full name on the page (applications, admissions, 统筹 list)
    tables = [d.value for d in at.dataframe if "身份证号" in d.value.columns]
    assert len(tables) >= 2
    for shown in tables:
        assert shown["身份证号"].str.contains(r"\*{8}").all()
        assert shown["姓名"].str.len().gt(1).all()
        assert shown["姓名"].str[1:].str.fullmatch(r"\*+").all()
    # the officer may show them in full: that is written to the audit log
    at.toggle(key="apps-full").set_value(True).run()
    full = next(d.value for d in at.dataframe if "身份证号" in d.value.columns)
    assert not full["身份证号"].str.contains(r"\*").any()
    unmasked = GeoPackageStore(data).audit_log()
    unmasked = unmasked[unmasked["action"] == "applicants_unmasked"]
    assert unmasked["actor"].tolist() == ["officer"] and "2027" in unmasked["target"].iat[0]
    # every lottery re-checked from its published files matches
    at.button(key="lottery-verify").click().run()
    check = at.dataframe[-1].value
    assert len(check) and (check["复核"] == "一致").all()
    # check-in by 报到码; a mistyped code is caught by its check character
    code = GeoPackageStore(data).query("notices", {"year": 2027})["code"].iloc[0]
    at.text_input(key="checkin-code").input(code)
    at.text_input(key="checkin-by").input("陈老师")
    at.button(key="checkin-go").click().run()
    assert any("报到成功" in x.value for x in at.success)
    at.button(key="checkin-go").click().run()
    assert any("未重复登记" in w.value for w in at.warning)
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    at.text_input(key="checkin-code").input(typo)
    at.button(key="checkin-go").click().run()
    assert any("校验位" in e.value for e in at.error)
    log = GeoPackageStore(data).audit_log()
    # the signed-in officer is the actor of every step; the school's staff name is kept
    mine = log[log["action"].isin(["enrol_import", "enrol_eligibility", "notices", "checkin"])]
    assert len(mine) >= 4 and (mine["actor"] == "officer").all()
    assert mine.loc[mine["action"] == "checkin", "detail"].str.contains("陈老师").all()
    # the officer's reads of the applications are in the log too (how many, which season)
    reads = log[log["action"] == "applicants_read"]
    assert len(reads) and (reads["actor"] == "officer").all()
    assert reads["target"].str.contains("2027").all()


# ------------------------------------------------------------------------------ sign-in and roles
@pytest.mark.parametrize("role, pages", [
    (None, set()),
    ("planner", {"planner", "warnings"}),
    ("approver", {"planner", "warnings"}),
    ("officer", {"warnings", "enrolment"}),
    ("admin", {"users"}),
])
def test_each_role_sees_its_pages(data, role, pages):
    at = _app(role=role)
    assert _pages(at) == pages
    if role:
        assert any(f"（{role}，" in m.value for m in at.markdown)


def test_wrong_password_is_refused_and_audited_without_it(data):
    from zoning.store import GeoPackageStore

    at = _app()
    _sign_in(at, "planner", password="not-the-password")
    assert any("用户名或密码错误" in w.value for w in at.warning)
    assert _pages(at) == set()
    log = GeoPackageStore(data).audit_log()
    failed = log[log["action"] == "sign_in_failed"]
    assert failed["target"].tolist()[-1:] == ["planner"]
    assert "not-the-password" not in log.to_csv()


def test_sign_out_and_expired_session(data):
    from zoning.store import GeoPackageStore

    at = _app(role="planner")
    assert "planner" in _pages(at)
    at.button(key="signout").click().run()
    assert any("已退出登录" in w.value for w in at.warning)
    assert _pages(at) == set()
    _sign_in(at, "planner")
    assert "planner" in _pages(at)
    # the session runs out: the next run signs the user out and says why
    GeoPackageStore(data).update_rows("sessions", {"username": "planner"},
                                      {"expires_at": "2000-01-01T00:00:00+00:00"})
    at.run()
    assert any("登录已过期" in w.value for w in at.warning)
    assert _pages(at) == set()


@pytest.mark.parametrize("page", ["enrolment", "planner", "warnings", "users"])
def test_a_staff_page_refuses_by_itself(data, page):
    # run without the dashboard's navigation (as a stale link would): the page checks the role
    at = AppTest.from_file(str(ROOT / PAGES[page]), default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("仅供工作人员" in i.value for i in at.info)
    assert not at.dataframe and not at.metric


@pytest.mark.parametrize("page", ["enrolment", "planner", "warnings", "users"])
def test_a_staff_page_reached_signed_out_asks_to_sign_in(data, page):
    # a reload or bookmark of /planner is a new, signed-out session: the dashboard still knows
    # the page (no "Page not found"), the page asks for a sign-in, and after it the page opens
    role = {"enrolment": "officer", "users": "admin"}.get(page, "planner")
    at = _app(PAGES[page])
    assert any("仅供工作人员" in i.value for i in at.info)
    assert _pages(at) == set()
    _sign_in(at, role)
    assert not any("仅供工作人员" in i.value for i in at.info)
    assert page in _pages(at)


def test_approver_evaluates_approves_and_publishes_a_draft(data, small_demo):
    from zoning.simulate import list_plans
    from zoning.store import GeoPackageStore

    pid, _, to_zone, _ = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py", role="planner")
    _move(at, pid, to_zone)
    at.text_input(key="plan-name").input("待审方案")
    at.button(key="plan-save").click().run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if (b.key or "").startswith("plan-") and b.key != "plan-save"]
    # the approver cannot save drafts, but moves the stored one along, step by step
    at = _app("app_pages/planner.py", role="approver")
    _move(at, pid, to_zone)
    assert at.button(key="plan-save").disabled
    assert any("与现行片区相比" in i.value for i in at.info)
    for step, status in (("evaluate", "evaluated"), ("approve", "approved"),
                         ("publish", "published")):
        at.button(key=f"plan-{step}").click().run()
        assert not at.exception, at.exception
        stored = list_plans(GeoPackageStore(data)).set_index("note")
        assert stored.at["待审方案", "status"] == status
    assert any("已发布" in x.value for x in at.success)
    log = GeoPackageStore(data).audit_log()
    steps = log[log["action"] == "plan_status"]
    assert steps["actor"].tolist() == ["approver"] * 3
    assert log.loc[log["action"] == "plan_save", "actor"].tolist() == ["planner"]


def test_admin_adds_and_disables_users_and_applies_retention(data, small_demo):
    from zoning.enroll import demo_applicants, import_applicants
    from zoning.store import GeoPackageStore

    at = _app("app_pages/users.py", role="admin")
    at.text_input(key="new-user").input("zhao")
    at.text_input(key="new-display").input("赵老师")
    at.selectbox(key="new-role").select("officer")
    at.text_input(key="new-pw1").input("zhao-long-password")
    at.text_input(key="new-pw2").input("zhao-long-password")
    at.button(key="user-add-go").click().run()
    assert not at.exception, at.exception
    assert any("已添加用户" in x.value for x in at.success)
    at.selectbox(key="disable-pick").select("planner")
    at.button(key="user-disable-go").click().run()
    users = GeoPackageStore(data).read("users").set_index("username")
    assert users.at["zhao", "role"] == "officer" and users.at["planner", "active"] == 0
    assert "pw_hash" not in users.columns
    # a season long over still holds names and ID numbers: the admin erases them here
    apps = demo_applicants(small_demo, year=2024, seed=1)
    import_applicants(apps, year=2024, store=GeoPackageStore(data), actor="officer")
    at.run()
    at.button(key="retention-go").click().run()
    assert not at.exception, at.exception
    assert any("已删除" in x.value for x in at.success)
    stored = GeoPackageStore(data).query("applicants", {"year": 2024})
    assert len(stored) == len(apps) and (stored["name"] == "").all()
    assert stored["id_number"].str.startswith("erased:").all()
    assert at.button(key="retention-go").disabled


# ------------------------------------------------------------------------------ real browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(data):
    port = _free_port()
    env = {**os.environ, "ZONING_DATA": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _frame(page):
    """The map on the page (a replaced map may linger hidden for a moment)."""
    return page.locator("iframe[title='streamlit_folium.st_folium']:visible").last.content_frame


def _map_drawn(frame) -> None:
    """Leaflet (the vendored copy: there is no network) loaded and drew on its canvas."""
    frame.locator(".leaflet-map-pane").wait_for(state="attached", timeout=60_000)
    frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
    box = frame.locator(".leaflet-overlay-pane canvas").first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 200


def _browser_sign_in(page, role: str) -> None:
    name, _, password = USERS[role]
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("text=已登录", timeout=60_000)


def _browser_tour(browser, server: str, shots: Path, small_demo) -> None:
    address = small_demo.addresses["address"].iloc[137]
    expected = lookup(small_demo, address=address)
    pid, _, to_zone, _ = _movable_parcel(small_demo)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # 入学查询
    page.goto(server)
    page.get_by_label("住址或不动产单元号").fill(address)
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("text=对口小学", timeout=90_000)
    for ans in expected.levels.values():
        for school in ans.schools:
            assert page.get_by_text(school.name, exact=False).count() > 0
    _map_drawn(_frame(page))
    page.screenshot(path=str(shots / "1_lookup.png"), full_page=True)
    # no staff page without signing in
    assert page.get_by_role("link", name="片区调整").count() == 0

    # 片区调整: sign in as the planner in the sidebar; the page appears in the navigation
    _browser_sign_in(page, "planner")
    page.get_by_role("link", name="片区调整").click()
    frame = _frame(page)
    _map_drawn(frame)
    frame.locator(".leaflet-draw-draw-polygon").wait_for(timeout=30_000)
    page.get_by_role("tab", name="按宗地号").click()
    page.get_by_label("宗地代码（每行一个，或用逗号、空格分隔）").fill(pid)
    page.get_by_label("宗地代码（每行一个，或用逗号、空格分隔）").press("Control+Enter")
    combo = page.get_by_label("移入片区").nth(1)
    combo.click()
    page.keyboard.type(to_zone)  # the list is long: type to filter it
    page.get_by_role("option", name=f"（{to_zone}）", exact=False).first.click()
    page.get_by_role("button", name="移入", exact=True).click()
    page.wait_for_selector("text=本次调整的影响", timeout=90_000)
    page.wait_for_selector("text=调整户数", timeout=30_000)
    page.wait_for_selector("text=不再连片的片区", timeout=30_000)
    page.screenshot(path=str(shots / "2_planner.png"), full_page=True)
    # the optimiser: the map sends its view back while it solves; the result still comes
    page.get_by_role("tab", name="优化").click()
    page.get_by_role("button", name="开始优化").click()
    page.wait_for_selector("text=优化完成", timeout=120_000)
    page.get_by_role("button", name="采用为新版本").wait_for(timeout=10_000)
    page.screenshot(path=str(shots / "7_optimiser.png"), full_page=True)

    # 学位预警 (same session: a new page load would be a new, signed-out session)
    page.get_by_role("link", name="学位预警").click()
    page.wait_for_selector("text=红色预警", timeout=90_000)
    assert page.get_by_text("预警列表").count() > 0
    page.get_by_role("tab", name="预警地图").click()
    _map_drawn(_frame(page))
    page.screenshot(path=str(shots / "3_warnings.png"), full_page=True)

    # 招生录取: the planner does not see it; the officer signs in and does
    assert page.get_by_role("link", name="招生录取").count() == 0
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_selector("text=已退出登录", timeout=60_000)
    _browser_sign_in(page, "officer")
    page.get_by_role("link", name="招生录取").click()
    page.wait_for_selector("text=招生日程", timeout=90_000)
    page.wait_for_selector("text=信息采集", timeout=30_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # the table's canvas paints after it is attached
    page.screenshot(path=str(shots / "5_enrolment.png"), full_page=True)

    # the parents' page on a phone-width screen
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(server)
    phone.get_by_label("住址或不动产单元号").fill("500112003002GB00006F0001000X")
    phone.get_by_role("button", name="查询").click()
    phone.wait_for_selector("text=第28位", timeout=90_000)
    phone.screenshot(path=str(shots / "4_lookup_phone.png"), full_page=True)

    # a reload or a bookmark of a staff page: a new session, signed out; the page asks to
    # sign in (not Streamlit's "Page not found"), and signing in there opens it
    again = browser.new_page(viewport={"width": 1400, "height": 1000})
    again.goto(server + "/planner")
    again.wait_for_selector("text=此页面仅供工作人员使用", timeout=90_000)
    assert again.get_by_text("Page not found").count() == 0
    again.screenshot(path=str(shots / "6_planner_reloaded.png"), full_page=True)
    _browser_sign_in(again, "planner")
    _map_drawn(_frame(again))
    assert again.url.rstrip("/").endswith("/planner")


@pytest.mark.slow
def test_real_browser_lookup_edit_and_every_page(server, small_demo, tmp_path, chromium):
    """Drive the dashboard in headless Chromium: a lookup, an edit, and a screenshot per page."""
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("ZONING_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = chromium(p)
        try:
            _browser_tour(browser, server, shots, small_demo)
        except Exception as exc:  # what each page showed, in the CI log and as screenshots
            pages = [pg for context in browser.contexts for pg in context.pages]
            for i, pg in enumerate(pages):
                pg.screenshot(path=str(shots / f"failed_{i}.png"), full_page=True)
                exc.add_note(f"page {i} ({pg.url}) shows:\n{pg.inner_text('body')[:3000]}")
            raise
        finally:
            browser.close()
    for name in ("1_lookup", "2_planner", "3_warnings", "4_lookup_phone", "5_enrolment",
                 "6_planner_reloaded", "7_optimiser"):
        assert (shots / f"{name}.png").stat().st_size > 20_000


def test_planner_lock_refuses_then_undo_unlocks(data, small_demo):
    pid, frm, to_zone, _ = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py", role="planner")
    at.multiselect(key="locked-primary").set_value([frm]).run()
    assert not at.exception, at.exception
    _move(at, pid, to_zone)
    assert any("已锁定" in e.value for e in at.error)
    # nothing moved: the version shown is the lock itself
    assert {m.label: m.value for m in at.metric}["调整宗地"] == "0"
    at.button(key="undo").click().run()  # undo the lock
    assert at.multiselect(key="locked-primary").value == []
    at.button(key="move-ids-go").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["调整宗地"] == "1"


def test_planner_pasted_text_list_becomes_a_version(data, small_demo):
    from zoning.publish import zone_text_list

    text = zone_text_list(small_demo, level="primary")
    at = _app("app_pages/planner.py", role="planner")
    at.text_area(key="text-list-primary").input(text)
    at.button(key="text-import").click().run()
    assert not at.exception, at.exception
    assert any("铺满全区" in x.value for x in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["冲突"] == "0"
    at.button(key="text-adopt").click().run()
    assert not at.exception, at.exception
    assert "由划片文字导入" in " ".join(c.value for c in at.caption)
    # the published text reproduces today's zones for every address; only parcels with no
    # address (placed by their nearest neighbour) may move
    from zoning.textimport import import_text

    res = import_text(small_demo, text, level="primary")
    base = current_plan(small_demo, level="primary")
    moved = res.assignment.index[(res.assignment != base.assignment.reindex(
        res.assignment.index)).to_numpy()]
    assert (res.parcels.loc[moved, "source"] == "nearest").all()
    sim = Simulator(small_demo, level="primary")
    expected = int(sim.households[sim.pos[moved].to_numpy()].sum())
    assert {m.label: m.value for m in at.metric}["调整户数"] == f"{expected:,}"


def test_planner_year_by_year_transition(data, small_demo):
    pid, _, to_zone, _ = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py", role="planner")
    _move(at, pid, to_zone)
    at.button(key="transition-go").click().run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "年份" in d.value.columns)
    assert table["年份"].nunique() == 7 and len(table) >= 7


def test_planner_optimiser_runs_in_the_background_then_adopts(data, small_demo):
    """The solve outlives reruns of the page (the map sends its view back meanwhile), its result
    shows once it ends, and adopting it makes a version whose moves are the optimiser's."""
    at = _app("app_pages/planner.py", role="planner")
    at.slider(key="opt-limit").set_value(10).run()
    at.checkbox(key="opt-tradeoff").check().run()
    at.button(key="opt-run").click().run()
    assert not at.exception, at.exception
    job = at.session_state["opt-primary"]
    assert at.button(key="opt-run").disabled  # one run at a time
    while job.running:  # reruns meanwhile (a map move, a tab) find the same job
        time.sleep(0.5)
        at.run()
        assert at.session_state["opt-primary"] is job
    at.run()
    assert not at.exception, at.exception
    done = [x.value for x in at.success if "优化完成" in x.value]
    assert done, _texts(at)
    res = job.result
    assert f"调整 {res.moved_households:,} 户" in done[0]
    assert res.over_cap == [] and res.method == "mip"
    assert len(res.plans) == 3 and job.progress is not None and job.progress[1] == 3
    # the trade-off: one row per plan; the planner adopts the one that weighs distance most
    table = next(d.value for d in at.dataframe if "调整户数" in d.value.columns)
    assert table["调整户数"].tolist() == [p.moved_households for p in res.plans]
    at.radio(key="opt-pick").set_value(len(res.plans) - 1).run()
    at.button(key="opt-adopt").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["调整户数"] == f"{res.plans[-1].moved_households:,}"
    assert "opt-primary" not in at.session_state
