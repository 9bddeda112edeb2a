"""The dashboard: AppTest per page for the page logic, and the whole of it in a real headless browser."""

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


@pytest.fixture
def data(monkeypatch, small_demo_path, tmp_path):
    """A private copy of the small demo (the planner page may write plan versions to it)."""
    path = tmp_path / "district.gpkg"
    shutil.copy(small_demo_path, path)
    monkeypatch.setenv("ZONING_DATA", str(path))
    return path


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


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
    at = _app("app_pages/planner.py")
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
    at = _app("app_pages/planner.py")
    at.text_area(key="move-ids").input("500112999999GB99999")
    at.button(key="move-ids-go").click().run()
    assert not at.exception
    assert any("500112999999GB99999" in e.value for e in at.error)


def test_planner_keeps_a_version_in_the_store(data, small_demo):
    from zoning.simulate import list_plans
    from zoning.store import GeoPackageStore

    pid, _, to_zone, _ = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py")
    _move(at, pid, to_zone)
    at.text_input(key="plan-name").input("试调方案一")
    at.button(key="plan-save").click().run()
    assert not at.exception
    stored = list_plans(GeoPackageStore(data))
    assert "试调方案一" in stored["note"].tolist()
    log = GeoPackageStore(data).audit_log()
    assert (log["actor"] == "planner").any()


# ------------------------------------------------------------------------------ 学位预警
def test_warnings_page_counts_match_capacity(data, small_demo):
    from zoning.capacity import capacity_for_year

    at = _app("app_pages/warnings.py")
    year = int(small_demo.tables["enrolment"]["year"].max()) + 1
    table = capacity_for_year(small_demo, level="primary", year=year)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["学校"] == str(len(table))
    assert metrics["红色预警"] == str(int((table["warning"] == "red").sum()))
    shown = at.dataframe[0].value
    assert len(shown) == int(table["warning"].isin(["red", "yellow", "green"]).sum())


def test_warnings_filter_by_level(data):
    at = _app("app_pages/warnings.py")
    at.multiselect[0].set_value(["red"]).run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert set(shown["预警"]) <= {"红色（学位不足）"}


def test_warnings_junior(data, small_demo):
    at = _app("app_pages/warnings.py")
    at.sidebar.radio[0].set_value("初中").run()
    assert not at.exception
    assert any("七年级" in c.value for c in at.caption)


# ------------------------------------------------------------------------------ 招生录取
def test_enrolment_season_lottery_and_checkin(data):
    from zoning.store import GeoPackageStore

    at = _app("app_pages/enrolment.py")
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
    # no full ID number or full name on the page
    shown = next(d.value for d in at.dataframe if "身份证号" in d.value.columns)
    assert shown["身份证号"].str.contains(r"\*{8}").all()
    assert shown["姓名"].str.len().gt(1).all() and shown["姓名"].str[1:].str.fullmatch(r"\*+").all()
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
    assert (log["actor"] == "招生办").any() and (log["actor"] == "陈老师").any()


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


@pytest.mark.slow
def test_real_browser_lookup_edit_and_every_page(server, small_demo, tmp_path, chromium):
    """Drive the dashboard in headless Chromium: a lookup, an edit, and a screenshot per page."""
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("ZONING_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    address = small_demo.addresses["address"].iloc[137]
    expected = lookup(small_demo, address=address)
    pid, _, to_zone, _ = _movable_parcel(small_demo)
    with sync_playwright() as p:
        browser = chromium(p)
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

        # 片区调整: the draw toolbar is there (vendored Leaflet.draw); move a parcel by its code
        page.goto(server + "/planner")
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

        # 学位预警
        page.goto(server + "/warnings")
        page.wait_for_selector("text=红色预警", timeout=90_000)
        assert page.get_by_text("预警列表").count() > 0
        page.get_by_role("tab", name="预警地图").click()
        _map_drawn(_frame(page))
        page.screenshot(path=str(shots / "3_warnings.png"), full_page=True)

        # 招生录取: the season's dates and the tabs
        page.goto(server + "/enrolment")
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
        browser.close()
    for name in ("1_lookup", "2_planner", "3_warnings", "4_lookup_phone", "5_enrolment"):
        assert (shots / f"{name}.png").stat().st_size > 20_000


def test_planner_lock_refuses_then_undo_unlocks(data, small_demo):
    pid, frm, to_zone, _ = _movable_parcel(small_demo)
    at = _app("app_pages/planner.py")
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
    at = _app("app_pages/planner.py")
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
    at = _app("app_pages/planner.py")
    _move(at, pid, to_zone)
    at.button(key="transition-go").click().run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "年份" in d.value.columns)
    assert table["年份"].nunique() == 7 and len(table) >= 7
