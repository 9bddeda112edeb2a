"""The dashboard: AppTest for the page logic, and once in a real headless browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard.py")


def _run(monkeypatch, data_path):
    monkeypatch.setenv("ZONING_DATA", str(data_path))
    at = AppTest.from_file(APP, default_timeout=120)
    return at.run()


def test_page_shows_demo_counts(monkeypatch, small_demo_path, small_demo):
    at = _run(monkeypatch, small_demo_path)
    assert not at.exception, at.exception
    assert at.title[0].value == "义务教育招生服务片区"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["小学片区"] == str(int((small_demo.zones["level"] == "primary").sum()))
    assert metrics["宗地"] == f"{len(small_demo.parcels):,}"
    assert any("片区检查通过" in s.value for s in at.success)


def test_level_switch_to_junior(monkeypatch, small_demo_path, small_demo):
    at = _run(monkeypatch, small_demo_path)
    at.sidebar.radio[0].set_value("初中").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["初中片区"] == str(int((small_demo.zones["level"] == "junior").sum()))


def test_missing_data_is_a_clear_message_not_a_traceback(monkeypatch, tmp_path):
    at = _run(monkeypatch, tmp_path / "missing.gpkg")
    assert not at.exception
    assert "找不到数据文件" in at.error[0].value
    assert "make run" in at.error[0].value


def test_unreadable_data_is_a_clear_message(monkeypatch, tmp_path):
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"not a geopackage at all")
    at = _run(monkeypatch, bad)
    assert not at.exception
    assert "数据无法读取" in at.error[0].value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_real_browser_renders_map_offline(small_demo_path, tmp_path, chromium):
    """Start the dashboard, open it in headless Chromium, and check the map really draws."""
    playwright = pytest.importorskip("playwright.sync_api")
    port = _free_port()
    env = {**os.environ, "ZONING_DATA": str(small_demo_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with playwright.sync_playwright() as p:
            browser = chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_selector("text=义务教育招生服务片区", timeout=60_000)
            frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']")
            # Leaflet loaded (from the vendored copy: there is no network) and drew the zones on
            # its canvas overlay
            frame.locator(".leaflet-map-pane").wait_for(state="attached", timeout=60_000)
            frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
            box = frame.locator(".leaflet-overlay-pane canvas").first.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 300
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            browser.close()
        assert (tmp_path / "dashboard.png").stat().st_size > 20_000
    finally:
        server.terminate()
        server.wait(timeout=20)
