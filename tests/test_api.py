"""The HTTP lookup service on the small demo district: contract, errors, logs, fuzzing."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from typer.testing import CliRunner

from zoning.api import LookupOut, QueryFreeAccessLog, create_app
from zoning.cli import app as cli_app
from zoning.crs import from_working
from zoning.errors import UnitCodeError, ValidationError
from zoning.lookup import lookup
from zoning.unitcode import parse as parse_unitcode


@pytest.fixture(scope="module")
def client(small_demo_path):
    with TestClient(create_app(small_demo_path)) as c:
        yield c


@pytest.fixture(scope="module")
def dwelling(small_demo):
    a = small_demo.addresses
    return a[a["building"] > 0].iloc[len(a) // 4]


def _schools(level_answer) -> list[str]:
    return [s["school_id"] for s in level_answer["schools"]]


# ------------------------------------------------------------------------------------ health
def test_health_reports_the_data(client, small_demo):
    r = client.get("/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok" and h["data"] == "small.gpkg"
    assert h["parcels"] == len(small_demo.parcels)
    assert h["addresses"] == len(small_demo.addresses)
    assert h["district"] == "渝北区" and h["intake_year"] == 2027
    assert h["cache"]["max_size"] > 0


def test_missing_store_is_refused_at_once(tmp_path):
    with pytest.raises(ValidationError, match="nothing.gpkg: no such store"):
        create_app(tmp_path / "nothing.gpkg")


def test_service_over_a_postgis_store(small_demo_path, pg_store, small_demo, dwelling):
    from fastapi.testclient import TestClient

    from zoning.store import copy_store

    store = pg_store()
    with pytest.raises(ValidationError, match="no store in this schema"):
        create_app(store._conninfo + f"&schema={store.schema}")
    copy_store(small_demo_path, store)
    with TestClient(create_app(store._conninfo + f"&schema={store.schema}")) as pg:
        assert pg.get("/health").json()["data"] == store.schema
        got = pg.get("/lookup", params={"address": dwelling["address"]}).json()
    with TestClient(create_app(small_demo_path)) as gp:
        want = gp.get("/lookup", params={"address": dwelling["address"]}).json()
    assert got == want and got["found"]


# ------------------------------------------------------------------------------------ lookup
def test_lookup_by_address_gives_the_library_answer(client, small_demo, dwelling):
    r = client.get("/lookup", params={"address": dwelling["address"]})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    LookupOut.model_validate(body)
    ref = lookup(small_demo, address=dwelling["address"])
    assert body["found"] and body["kind"] == "address"
    assert body["address_id"] == ref.address_id == dwelling.name
    assert body["parcel_id"] == dwelling["parcel_id"]
    for level, ans in ref.levels.items():
        got = body["levels"][level]
        assert got["zone_id"] == ans.zone_id
        assert _schools(got) == [s.school_id for s in ans.schools]
        assert got["explanation_zh"] == ans.explanation_zh
    # the body is LookupResult.to_dict(), as JSON, plus lon/lat
    expected = json.loads(json.dumps(ref.to_dict(), ensure_ascii=False, default=float))
    assert {k: v for k, v in body.items() if k not in ("lon", "lat")} == expected
    # lon/lat of the answer are the working-CRS point back in WGS-84
    lon, lat = from_working(body["x"], body["y"], target="wgs84")
    assert body["lon"] == pytest.approx(float(lon), abs=1e-6)
    assert body["lat"] == pytest.approx(float(lat), abs=1e-6)


def test_lookup_by_unit_code(client, small_demo, dwelling):
    r = client.get("/lookup", params={"parcel": dwelling["unit_code"]})
    assert r.status_code == 200
    body = r.json()
    ref = lookup(small_demo, parcel=dwelling["unit_code"])
    assert body["found"] and body["kind"] == "parcel"
    assert body["parcel_id"] == dwelling["parcel_id"]
    assert {lv: a["zone_id"] for lv, a in body["levels"].items()} == \
        {lv: a.zone_id for lv, a in ref.levels.items()}


@pytest.mark.parametrize("coords", ["wgs84", "gcj02", "bd09", "cgcs2000"])
def test_lookup_by_point_in_every_datum(client, small_demo, dwelling, coords):
    p = small_demo.addresses.geometry.loc[dwelling.name]
    lon, lat = (float(v) for v in from_working(p.x, p.y, target=coords))
    r = client.get("/lookup", params={"lon": lon, "lat": lat, "coords": coords})
    assert r.status_code == 200
    body = r.json()
    ref = lookup(small_demo, lonlat=(lon, lat), coords=coords)
    assert body["found"] and body["kind"] == "point"
    assert body["levels"]["primary"]["zone_id"] == ref.levels["primary"].zone_id
    assert body["x"] == pytest.approx(p.x, abs=0.5) and body["y"] == pytest.approx(p.y, abs=0.5)


def test_unknown_address_is_an_answer_with_candidates(client, small_demo, dwelling):
    # a real road with a house number that does not exist: found=false, near candidates
    r = client.get("/lookup", params={"address": f"{dwelling['road']}9999号"})
    assert r.status_code == 200
    body = r.json()
    LookupOut.model_validate(body)
    assert body["found"] is False and body["levels"] == {}
    assert body["reason_zh"]
    assert body["candidates"] and all(c["address"] for c in body["candidates"])
    ref = lookup(small_demo, address=f"{dwelling['road']}9999号")
    assert body["candidates"] == ref.candidates.to_dict("records")


def test_parcel_of_another_district_is_an_answer(client):
    r = client.get("/lookup", params={"parcel": "500103001002GB00012F00010203"})
    assert r.status_code == 200
    body = r.json()
    assert body["found"] is False and "渝中区" in body["reason_zh"]


def test_point_outside_every_zone_is_an_answer(client):
    r = client.get("/lookup", params={"lon": 116.39, "lat": 39.91})  # Beijing
    assert r.status_code == 200
    body = r.json()
    assert body["found"] is False and "不在本区" in body["reason_zh"]


def test_malformed_unit_code_is_422_with_its_chinese_message(client, dwelling):
    bad = dwelling["unit_code"][:27]
    with pytest.raises(UnitCodeError) as err:
        parse_unitcode(bad, allow_parcel=True)
    r = client.get("/lookup", params={"parcel": bad})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_unit_code"
    assert body["message_zh"] == err.value.message_zh
    assert body["position"] == err.value.position


@pytest.mark.parametrize("params", [
    {},
    {"address": "金开大道1号", "parcel": "500112001002GB00012"},
    {"address": "金开大道1号", "lon": 106.6, "lat": 29.7},
    {"lon": 106.6},
    {"lat": 29.7},
    {"address": "   "},
])
def test_not_exactly_one_query_is_422(client, params):
    r = client.get("/lookup", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_query"
    assert body["message"] and body["message_zh"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"])


@pytest.mark.parametrize("params, field", [
    ({"lon": 200, "lat": 29.7}, "lon"),
    ({"lon": 106.6, "lat": -91}, "lat"),
    ({"lon": "abc", "lat": 29.7}, "lon"),
    ({"lon": "nan", "lat": 29.7}, "lon"),
    ({"lon": 106.6, "lat": 29.7, "coords": "mars"}, "coords"),
    ({"address": "路" * 121}, "address"),
])
def test_bad_parameters_are_422_naming_the_field(client, params, field):
    r = client.get("/lookup", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_query"
    assert [d["loc"][-1] for d in body["detail"]] == [field]
    assert "请求参数有误" in body["message_zh"]


def test_repeated_lookups_come_from_the_cache(small_demo_path, dwelling):
    with TestClient(create_app(small_demo_path, cache_size=8)) as c:
        first = c.get("/lookup", params={"address": dwelling["address"]}).content
        again = c.get("/lookup", params={"address": dwelling["address"]}).content
        cache = c.get("/health").json()["cache"]
    assert first == again
    assert cache == {"size": 1, "max_size": 8, "hits": 1, "misses": 1}


# ------------------------------------------------------------------------------------ schools
def test_school(client, small_demo):
    sid = small_demo.schools.index[0]
    r = client.get(f"/schools/{sid}")
    assert r.status_code == 200
    s = r.json()
    assert s["school_id"] == sid and s["name"] == small_demo.schools.at[sid, "name"]
    assert s["zones"] and all(z["zone_id"] in small_demo.zones.index for z in s["zones"])
    assert 105 < s["lon"] < 108 and 29 < s["lat"] < 31
    assert s["warnings"] and s["warnings"][0]["year"] == 2027


def test_unknown_school_is_404(client):
    r = client.get("/schools/S999")
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "unknown_school" and "S999" in body["message_zh"]


# ------------------------------------------------------------------------------------ warnings
@pytest.mark.parametrize("level", ["primary", "junior"])
def test_warnings_agree_with_lookup_answers(client, small_demo, dwelling, level):
    r = client.get("/warnings", params={"level": level})
    assert r.status_code == 200
    w = r.json()
    assert w["level"] == level and w["year"] == 2027 and w["source"] == "forecast"
    by_id = {s["school_id"]: s for s in w["schools"]}
    assert w["summary"]["schools"] == len(by_id)
    assert sum(w["summary"][k] for k in ("green", "yellow", "red", "none")) == len(by_id)
    ans = client.get("/lookup", params={"parcel": dwelling["unit_code"]}).json()["levels"][level]
    for s in ans["schools"]:
        assert by_id[s["school_id"]]["warning"] == s["warning"]
        assert by_id[s["school_id"]]["warning_zh"] == s["warning_zh"]


def test_warnings_of_a_past_year_use_the_observed_intake(client):
    r = client.get("/warnings", params={"level": "primary", "year": 2026})
    assert r.status_code == 200
    assert r.json()["source"] == "enrolment"


@pytest.mark.parametrize("params, error", [
    ({"year": 1950}, "no_warnings"),       # before the enrolment history
    ({"year": 2060}, "no_warnings"),       # beyond the forecast's reach
    ({"level": "senior"}, "invalid_query"),
    ({"year": "next"}, "invalid_query"),
])
def test_warnings_errors_are_422(client, params, error):
    r = client.get("/warnings", params=params)
    assert r.status_code == 422
    assert r.json()["error"] == error and r.json()["message_zh"]


# ------------------------------------------------------------------------------------ schema
def test_openapi_lists_every_endpoint_with_its_model(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/lookup", "/schools/{school_id}", "/warnings", "/health"} <= set(paths)
    ref = paths["/lookup"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref["$ref"].endswith("/LookupOut")
    assert paths["/lookup"]["get"]["responses"]["422"]["content"]["application/json"][
        "schema"]["$ref"].endswith("/ErrorOut")
    assert "404" in paths["/schools/{school_id}"]["get"]["responses"]
    params = {p["name"] for p in paths["/lookup"]["get"]["parameters"]}
    assert params == {"address", "parcel", "lon", "lat", "coords"}
    assert {"LookupOut", "SchoolDetailOut", "WarningsOut", "HealthOut", "ErrorOut"} <= set(
        spec["components"]["schemas"])


# ------------------------------------------------------------------------------------ privacy
def test_no_query_text_reaches_the_logs(small_demo_path, dwelling, caplog):
    secret_address = dwelling["address"]
    with caplog.at_level(logging.DEBUG), TestClient(create_app(small_demo_path)) as c:
        c.get("/lookup", params={"address": secret_address})
        c.get("/lookup", params={"parcel": dwelling["unit_code"]})
        c.get("/lookup", params={"parcel": dwelling["unit_code"][:20]})  # a 422
        c.get("/lookup", params={"lon": 106.612345, "lat": 29.712345})
        c.get("/lookup", params={"address": "不存在的路88号"})
    # the test client's own request log (httpx) is the caller's side, not the service's
    text = "\n".join(r.getMessage() for r in caplog.records
                     if not r.name.startswith(("httpx", "httpcore")))
    assert "loaded small.gpkg" in text  # the start-up line is there: logging was captured
    for needle in (secret_address, quote(secret_address), dwelling["road"], dwelling["unit_code"],
                   dwelling["unit_code"][:20], "106.612345", "29.712345", "不存在的路"):
        assert needle not in text


def test_unexpected_error_is_500_and_logged_without_the_query(small_demo_path, dwelling, caplog):
    with TestClient(create_app(small_demo_path), raise_server_exceptions=False) as c:
        svc = c.app.state.service

        def broken(kind, text, coords):
            raise RuntimeError(f"cannot answer {text}")

        real, svc.lookup_bytes = svc.lookup_bytes, broken
        try:
            with caplog.at_level(logging.DEBUG):
                r = c.get("/lookup", params={"address": dwelling["address"]})
        finally:
            svc.lookup_bytes = real
    assert r.status_code == 500 and r.json()["error"] == "internal"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in text and "/lookup" in text
    assert dwelling["address"] not in text


def test_access_log_filter_drops_query_and_client():
    from uvicorn.logging import AccessFormatter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', ("10.1.2.3:5555", "GET",
                               "/lookup?address=%E9%87%91%E5%BC%80%E5%A4%A7%E9%81%93", "1.1", 200),
                               None)
    assert QueryFreeAccessLog().filter(record)
    line = AccessFormatter(use_colors=False).format(record)
    assert "/lookup" in line and "?" not in line and "address" not in line
    assert "10.1.2.3" not in line


# ------------------------------------------------------------------------------------ CLI
def test_serve_refuses_a_missing_store(tmp_path):
    result = CliRunner().invoke(cli_app, ["serve", "--data", str(tmp_path / "none.gpkg")])
    assert result.exit_code == 2
    assert "none.gpkg: no such store" in result.output


# ------------------------------------------------------------------------------------ fuzzing
@pytest.fixture(scope="module")
def api_schema(small_demo_path):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(small_demo_path))


# Every built-in check but positive_data_acceptance: the schema cannot say "exactly one of address,
# parcel or lon+lat", so a schema-valid request with none (or two) of them is rightly a 422.
# Driven through hypothesis directly: schemathesis' pytest integration (from_fixture) does not run
# under pytest 9.
@pytest.mark.parametrize("path, mode", [
    ("/lookup", GenerationMode.POSITIVE),
    ("/lookup", GenerationMode.NEGATIVE),
    ("/schools/{school_id}", GenerationMode.POSITIVE),
    ("/schools/{school_id}", GenerationMode.NEGATIVE),
    ("/warnings", GenerationMode.POSITIVE),
    ("/warnings", GenerationMode.NEGATIVE),
    ("/health", GenerationMode.POSITIVE),
])
def test_api_conforms_to_its_own_schema(api_schema, path, mode):
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    run()
