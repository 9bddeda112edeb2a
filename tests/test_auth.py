"""Who may do what (issue 11): every role × every action through the library, the CLI and the API;
sign-in (argon2id, sessions that expire, disabled users, failures audited without the password);
applicants' data masked by role and every read audited; retention; the public rate limit."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
from types import SimpleNamespace

import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from typer.testing import CliRunner

from zoning import auth
from zoning import enroll as en
from zoning import simulate as sim
from zoning.api import RateLimiter, create_app
from zoning.cli import app as cli_app
from zoning.errors import PermissionDenied, SignInError, ValidationError
from zoning.retention import PERSONAL_FIELDS, RetentionSettings, apply_retention
from zoning.store import Dataset, GeoPackageStore

runner = CliRunner()
PW = "pw-0123456789"
STAFF = ("planner", "approver", "officer", "admin")
ROLES = (None, *STAFF)  # None: nobody signed in, a parent
USERS = {r: auth.User(r, auth.Role(r)) for r in STAFF}


def allowed(role, action) -> bool:
    return auth.Role(role or "parent") in auth.ACTIONS[action]


# ====================================================================================== fixtures
def _plan(store, ds, status: str, note: str) -> str:
    """A stored plan (an alternative beside the line of versions) at ``status``."""
    base = sim.current_plan(ds, level="primary")
    pid = base.assignment.dropna().index[7]
    other = next(z for z in base.zones.index if z != base.assignment[pid])
    plan = sim.move_parcels(base, [pid], other, ds.parcels, author="planner", note=note)
    sim.save_plan(store, plan, actor="planner", branch=True)
    for s in sim.STATUSES[1:sim.STATUSES.index(status) + 1]:
        plan = sim.set_status(plan, s, actor="approver")
        sim.save_plan(store, plan, actor="approver", branch=True)
    return plan.plan_id


@pytest.fixture(scope="module")
def template(small_demo_path, small_demo, tmp_path_factory):
    """The small demo with one user per role, sessions, seasons 2024/2025/2027 and stored plans."""
    folder = tmp_path_factory.mktemp("auth")
    path = folder / "template.gpkg"
    shutil.copy(small_demo_path, path)
    store = GeoPackageStore(path)
    admin = auth.add_user(store, "admin", role="admin", password=PW)
    for role in ("planner", "approver", "officer"):
        auth.add_user(store, role, role=role, password=PW, by=admin, display_name=f"{role}名")
    tokens = {r: auth.sign_in(store, r, PW).token for r in STAFF}
    ds = small_demo
    # a season long over (2024, with notices), a small one (2025), the coming one (2027)
    en.import_applicants(en.demo_applicants(ds, year=2024, seed=3), year=2024, store=store,
                         actor="officer")
    en.run_season(store, year=2024, lottery_seed="01 02 03 04 05")
    en.import_applicants(en.demo_applicants(ds, year=2025, n=300, seed=5), year=2025,
                         store=store, actor="officer")
    apps27 = en.demo_applicants(ds, year=2027, n=200, seed=4)
    en.import_applicants(apps27.iloc[:-3], year=2027, store=store, actor="officer")
    code = store.query("notices", {"year": 2024})["code"].iloc[0]
    # files the CLI imports
    births = folder / "births.csv"
    ds.tables["births"].to_csv(births, index=False)
    zones = folder / "zones.geojson"
    ds.zones.to_crs(4326).reset_index().to_file(zones)
    plan_shp = folder / "plan.shp"
    sim.export_plan(ds, sim.current_plan(ds, level="primary"), plan_shp)
    rest = folder / "rest.csv"
    apps27.iloc[-3:].to_csv(rest, index=False, encoding="utf-8-sig")
    return SimpleNamespace(
        path=path, ds=ds, tokens=tokens, code=code, births=births, zones=zones,
        plan_shp=plan_shp, rest=apps27.iloc[-3:], rest_csv=rest,
        draft=_plan(store, ds, "draft", "草稿"), evaluated=_plan(store, ds, "evaluated", "已评估"),
        approved=_plan(store, ds, "approved", "已批准"))


@pytest.fixture
def copy(template, tmp_path):
    """A private copy of the template store."""
    path = tmp_path / "district.gpkg"
    shutil.copy(template.path, path)
    return GeoPackageStore(path)


# ====================================================================================== library
def _head_child(g, ds):
    """A planner's edit: a draft child of the zones in force."""
    base = sim.current_plan(ds, level="primary")
    pid = base.assignment.dropna().index[3]
    other = next(z for z in base.zones.index if z != base.assignment[pid])
    return sim.move_parcels(base, [pid], other, ds.parcels, author="x", note="新草稿")


def _step(g, t, plan_id, status):
    plan = sim.load_plan(GeoPackageStore(g.path), plan_id, crs=t.ds.crs)
    sim.save_plan(g, sim.set_status(plan, status, actor="x"), actor="x", branch=True)


def _full_read(g):
    got = g.query("applicants", {"year": 2027})
    if got["id_number"].str.contains(r"\*").any():
        raise PermissionDenied("masked", action="applicants.read")
    return got


#: one real operation per action, through the guarded store
LIBRARY = {
    "lookup": lambda g, t: (auth.require(g.user, "lookup"), g.read("schools")),
    "capacity.view": lambda g, t: auth.require(g.user, "capacity.view"),
    "plan.view": lambda g, t: g.plan_record(t.draft),
    "plan.edit": lambda g, t: sim.save_plan(g, _head_child(g, t.ds), actor="x"),
    "plan.evaluate": lambda g, t: _step(g, t, t.draft, "evaluated"),
    "plan.approve": lambda g, t: _step(g, t, t.evaluated, "approved"),
    "plan.publish": lambda g, t: _step(g, t, t.approved, "published"),
    "layers.import": lambda g, t: g.save(Dataset(None, None, None, None,
                                                 tables={"births": t.ds.tables["births"]})),
    "zones.import": lambda g, t: g.save(Dataset(None, t.ds.zones, None, None)),
    "applicants.read": lambda g, t: _full_read(g),
    "applicants.read_masked": lambda g, t: g.query("applicants", {"year": 2027}),
    "applicants.import": lambda g, t: en.import_applicants(t.rest, year=2027, store=g,
                                                           actor="x"),
    "season.run": lambda g, t: en.run_season(g, year=2025, lottery_seed="1 2 3 4 5"),
    "lottery.run": lambda g, t: g.write_rows({}, audit=[{
        "actor": "x", "action": "lottery_commit", "target": "S001-2025-primary",
        "detail": {"applicants_sha256": "0" * 64}}]),
    "checkin": lambda g, t: en.checkin(g, t.code, by="陈老师"),
    "override": lambda g, t: g.audit("x", "override", "BM2024000001",
                                     {"reason": "家长外出务工错过报名，线下补登记"}),
    "audit.read": lambda g, t: g.audit_log(),
    "audit.write": lambda g, t: g.audit("x", "note", "dataset", "交接备注"),
    "users.manage": lambda g, t: auth.add_user(g, "newcomer", role="planner",
                                               password="newcomer-password"),
    "retention.apply": lambda g, t: apply_retention(g, at="2025-06-01"),
    "store.manage": lambda g, t: g.migrate(),
}


def test_every_action_has_a_library_case():
    assert set(LIBRARY) == set(auth.ACTIONS) == set(auth.ACTION_ZH)


@pytest.mark.parametrize("action", list(auth.ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_role_action_library(template, copy, role, action):
    g = auth.guard(copy, USERS.get(role))
    if allowed(role, action):
        LIBRARY[action](g, template)
        return
    before = len(copy.audit_log())
    with pytest.raises(PermissionDenied) as err:
        LIBRARY[action](g, template)
    if action != "applicants.read":  # (that one is "refused" when the rows come back masked)
        # the message names the role and the action, in Chinese
        assert err.value.action and auth.ACTION_ZH[err.value.action] in str(err.value)
        assert auth.ROLE_ZH[auth.Role(role or "parent")][:2] in str(err.value)
    # nothing was written but, at most, the record of a masked read of applicants
    log = copy.audit_log().iloc[before:]
    assert set(log["action"]) <= {"applicants_read"}


def test_plan_status_cannot_be_skipped_through_the_guard(template, copy):
    g = auth.guard(copy, USERS["approver"])
    plan = sim.load_plan(copy, template.draft, crs=template.ds.crs)
    # a new plan enters as a draft: an approver cannot store one straight as approved
    fresh = _head_child(g, template.ds)
    for s in ("evaluated", "approved"):
        fresh = sim.set_status(fresh, s, actor="approver")
    with pytest.raises(ValidationError, match="draft first"):
        sim.save_plan(g, fresh, actor="approver")
    with pytest.raises(ValidationError):
        sim.save_plan(g, sim.set_status(sim.set_status(plan, "evaluated", actor="a"),
                                        "approved", actor="a"), actor="a", branch=True)


def test_guard_stamps_the_signed_in_user_as_actor(copy):
    g = auth.guard(copy, USERS["officer"])
    g.audit("someone else", "note", "dataset", {"text": "x"})
    last = copy.audit_log().iloc[-1]
    assert last["actor"] == "officer" and json.loads(last["detail"])["as"] == "someone else"


def test_unknown_store_methods_are_not_passed_through(copy):
    g = auth.guard(copy, USERS["admin"])
    with pytest.raises(AttributeError, match="permission guard"):
        g.restore  # noqa: B018 - a writing method the guard does not know
    assert g.path == copy.path and g.load is not None


def test_require_rejects_unknown_actions():
    with pytest.raises(ValidationError, match="unknown action"):
        auth.require(USERS["admin"], "plan.delete")


# ====================================================================================== CLI
def _cli_case(t, tmp_path, store):
    p = str(store.path)
    return {
        "layers.import": ["import", "births", str(t.births), "--store", p],
        "zones.import": ["import", "zones", str(t.zones), "--store", p],
        "plan.edit": ["import-plan", "--data", p, "--file", str(t.plan_shp), "--save"],
        "plan.view": ["export-plan", "--data", p, "--plan", t.draft, "--out",
                      str(tmp_path / "p.geojson")],
        "applicants.import": ["enroll", "import", str(t.rest_csv), "--data", p, "--year", "2027"],
        "season.run": ["enroll", "run", "--data", p, "--year", "2025", "--at", "replay",
                       "--seed", "1 2 3 4 5"],
        "lottery.run": ["lottery", "commit", "--data", p, "--year", "2025", "--out",
                        str(tmp_path / "lot"), "--at", "2025-06-19T17:00"],
        "checkin": ["enroll", "checkin", t.code, "--data", p, "--by", "陈老师"],
        "audit.read": ["audit", p, "--json"],
        "users.manage": ["user", "list", "--data", p, "--json"],
        "retention.apply": ["retention", "--data", p, "--apply", "--at", "2025-06-01"],
    }


CLI_ACTIONS = ["layers.import", "zones.import", "plan.edit", "plan.view", "applicants.import",
               "season.run", "lottery.run", "checkin", "audit.read", "users.manage",
               "retention.apply"]


@pytest.mark.parametrize("action", CLI_ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_role_action_cli(template, copy, tmp_path, monkeypatch, role, action):
    monkeypatch.delenv("ZONING_PASSWORD", raising=False)
    if role:
        monkeypatch.setenv("ZONING_TOKEN", template.tokens[role])
    else:
        monkeypatch.delenv("ZONING_TOKEN", raising=False)
    r = runner.invoke(cli_app, _cli_case(template, tmp_path, copy)[action])
    if allowed(role, action):
        assert r.exit_code == 0, r.output
    else:
        assert r.exit_code == 3, r.output
        assert ("需要登录" in r.output) if role is None else (
            auth.ROLE_ZH[auth.Role(role)] in r.output and action in r.output)


def test_cli_password_sign_in_and_the_prompt(template, copy, monkeypatch):
    monkeypatch.delenv("ZONING_TOKEN", raising=False)
    monkeypatch.delenv("ZONING_PASSWORD", raising=False)
    args = ["audit", str(copy.path), "--json", "--user", "approver"]
    ok = runner.invoke(cli_app, args, input=f"{PW}\n")  # the hidden prompt
    assert ok.exit_code == 0 and PW not in ok.output
    bad = runner.invoke(cli_app, args, env={"ZONING_PASSWORD": "wrong-password"})
    assert bad.exit_code == 3 and "用户名或密码错误" in bad.output
    assert "wrong-password" not in copy.audit_log().to_csv()


def test_cli_user_commands(tmp_path, small_demo_path, monkeypatch):
    data = tmp_path / "s.gpkg"
    shutil.copy(small_demo_path, data)
    monkeypatch.delenv("ZONING_TOKEN", raising=False)
    add = ["user", "add", "--data", str(data)]
    # the first user must be an admin, and is added without signing in
    r = runner.invoke(cli_app, [*add, "li", "--role", "planner"],
                      env={"ZONING_NEW_PASSWORD": PW})
    assert r.exit_code == 2 and "系统管理员" in r.output
    r = runner.invoke(cli_app, [*add, "root", "--role", "admin"], input=f"{PW}\n{PW}\n")
    assert r.exit_code == 0, r.output
    # after that only an admin adds users
    r = runner.invoke(cli_app, [*add, "li", "--role", "planner"],
                      env={"ZONING_NEW_PASSWORD": PW})
    assert r.exit_code == 3 and "需要登录" in r.output
    env = {"ZONING_PASSWORD": PW, "ZONING_NEW_PASSWORD": "li-password-1"}
    r = runner.invoke(cli_app, [*add, "li", "--role", "planner", "--display-name", "李工",
                                "--user", "root"], env=env)
    assert r.exit_code == 0 and "李工" in r.output
    r = runner.invoke(cli_app, [*add, "wang", "--role", "officer", "--user", "li"],
                      env={"ZONING_PASSWORD": "li-password-1", "ZONING_NEW_PASSWORD": PW})
    assert r.exit_code == 3 and "规划人员" in r.output
    short = runner.invoke(cli_app, [*add, "zhao", "--role", "officer", "--user", "root"],
                          env={"ZONING_PASSWORD": PW, "ZONING_NEW_PASSWORD": "short"})
    assert short.exit_code == 2 and "太短" in short.output
    listed = runner.invoke(cli_app, ["user", "list", "--data", str(data), "--json", "--user",
                                     "root"], env={"ZONING_PASSWORD": PW})
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert {r["username"]: r["role"] for r in rows} == {"root": "admin", "li": "planner"}
    assert "pw_hash" not in listed.stdout and "argon2" not in listed.stdout
    # login prints a token once; it signs later commands in; disabling the user ends it
    login = runner.invoke(cli_app, ["user", "login", "li", "--data", str(data), "--json"],
                          env={"ZONING_PASSWORD": "li-password-1"})
    token = json.loads(login.stdout)["token"]
    store = GeoPackageStore(data)
    assert auth.session_user(store, token).username == "li"
    raw = store.query("sessions")  # only the token's SHA-256 is kept
    assert token not in raw.to_csv()
    assert hashlib.sha256(token.encode()).hexdigest() in set(raw["token_hash"])
    r = runner.invoke(cli_app, ["user", "disable", "li", "--data", str(data), "--user", "root"],
                      env={"ZONING_PASSWORD": PW})
    assert r.exit_code == 0
    with pytest.raises(SignInError):
        auth.session_user(store, token)
    again = runner.invoke(cli_app, ["user", "login", "li", "--data", str(data)],
                          env={"ZONING_PASSWORD": "li-password-1"})
    assert again.exit_code == 3
    last_admin = runner.invoke(cli_app, ["user", "disable", "root", "--data", str(data),
                                         "--user", "root"], env={"ZONING_PASSWORD": PW})
    assert last_admin.exit_code == 2 and "最后一个" in last_admin.output


def test_demo_users_file(tmp_path):
    out = tmp_path / "demo.gpkg"
    r = runner.invoke(cli_app, ["demo", "--out", str(out), "--parcels", "300", "--addresses",
                                "1500"])
    assert r.exit_code == 0, r.output
    path = tmp_path / "demo-users.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in path.read_text("utf-8").splitlines()
            if not line.startswith("#")]
    assert sorted(role for _, role, _ in rows) == ["admin", "approver", "officer", "planner"]
    store = GeoPackageStore(out)
    for name, role, password in rows:
        assert password in r.output and len(password) >= 16
        assert auth.authenticate(store, name, password).role == auth.Role(role)
    # random, never fixed: a second demo gets other passwords
    runner.invoke(cli_app, ["demo", "--out", str(tmp_path / "b.gpkg"), "--parcels", "300",
                            "--addresses", "1500"])
    other = (tmp_path / "b-users.txt").read_text("utf-8")
    assert not any(p in other for _, _, p in rows)


# ====================================================================================== API
@pytest.fixture(scope="module")
def api(template, tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "district.gpkg"
    shutil.copy(template.path, path)
    with TestClient(create_app(path)) as c:
        yield SimpleNamespace(client=c, store=GeoPackageStore(path), t=template)


def _bearer(api, role):
    return {"Authorization": f"Bearer {api.t.tokens[role]}"} if role else {}


def _head(store):
    plans = store.read("plans")
    plans = plans[(plans["level"] == "primary") & (plans["branch"] == 0)]
    return None if plans.empty else str(plans["plan_id"].iloc[-1])


def _moves(api):
    head = _head(api.store)
    plan = (sim.load_plan(api.store, head, crs=api.t.ds.crs) if head
            else sim.current_plan(api.t.ds, level="primary"))
    pid = plan.assignment.dropna().index[11]
    to = next(z for z in plan.zones.index if z != plan.assignment[pid])
    return {"level": "primary", "parent_id": head, "note": "接口试调",
            "moves": [{"parcels": [pid], "to_zone": to}]}


def _api_call(api, action, role):
    c, t = api.client, api.t
    h = _bearer(api, role)
    if action == "lookup":
        code = t.ds.addresses["unit_code"].iloc[3]
        return c.get("/lookup", params={"parcel": code}, headers=h), 200
    if action == "capacity.view":  # the published 学位预警 is public in the API
        return c.get("/warnings", headers=h), 200
    if action == "plan.view":
        return c.get(f"/plans/{t.draft}", headers=h), 200
    if action == "plan.edit":
        return c.post("/plans", json=_moves(api), headers=h), 201
    status = {"plan.evaluate": "draft", "plan.approve": "evaluated",
              "plan.publish": "approved"}[action]
    plan_id = _plan(api.store, t.ds, status, f"{action} {role}")
    return c.post(f"/plans/{plan_id}/{action.split('.')[1]}", headers=h), 200


API_ACTIONS = ["lookup", "capacity.view", "plan.view", "plan.edit", "plan.evaluate",
               "plan.approve", "plan.publish"]


@pytest.mark.parametrize("action", API_ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_role_action_api(api, role, action):
    r, ok = _api_call(api, action, role)
    public = action in ("lookup", "capacity.view")
    if public or allowed(role, action):
        assert r.status_code == ok, r.text
    elif role is None:
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["message_zh"]
    else:
        assert r.status_code == 403
        assert auth.ROLE_ZH[auth.Role(role)] in r.json()["message_zh"]


def test_api_plan_lifecycle_with_impact_and_conflicts(api):
    c = api.client
    r = c.post("/plans", json=_moves(api), headers=_bearer(api, "planner"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "draft" and body["author"] == "planner"
    assert body["impact"]["parcels_moved"] == 1 and body["impact"]["summary_zh"]
    pid, ap = body["plan_id"], _bearer(api, "approver")
    skipped = c.post(f"/plans/{pid}/approve", headers=ap)
    assert skipped.status_code == 409 and "依次" in skipped.json()["message_zh"]
    ev = c.post(f"/plans/{pid}/evaluate", headers=ap)
    assert ev.status_code == 200 and ev.json()["impact"]["households_moved"] >= 0
    assert c.post(f"/plans/{pid}/evaluate", headers=ap).status_code == 409
    assert c.post(f"/plans/{pid}/approve", headers=ap).json()["status"] == "approved"
    assert c.post(f"/plans/{pid}/publish", headers=ap).json()["status"] == "published"
    # two planners saving over the same stored version: the second gets a conflict
    over = {**_moves(api), "parent_id": pid}
    first = c.post("/plans", json=over, headers=_bearer(api, "planner"))
    assert first.status_code == 201 and first.json()["parent_id"] == pid, first.text
    second = c.post("/plans", json=over, headers=_bearer(api, "planner"))
    assert second.status_code == 409 and first.json()["plan_id"] in second.json()["message_zh"]
    assert c.get("/plans/nope", headers=ap).status_code == 404
    bad = {**_moves(api), "moves": [{"parcels": ["500112999999GB99999"], "to_zone": "P-001"}]}
    r = c.post("/plans", json=bad, headers=_bearer(api, "planner"))
    assert r.status_code == 422 and r.json()["message_zh"]
    log = api.store.audit_log()
    steps = log[(log["action"] == "plan_status") & (log["target"] == pid)]
    assert steps["actor"].tolist() == ["approver"] * 3


def test_api_token_sign_in_out_and_no_secrets_in_logs(api, caplog):
    c = api.client
    with caplog.at_level(logging.DEBUG):
        r = c.post("/token", json={"username": "officer", "password": PW})
        form = c.post("/token", data={"username": "planner", "password": PW})
        wrong = c.post("/token", json={"username": "officer", "password": "guess-1234567"})
        garbage = c.post("/token", content=b"\xff\xfe", headers={"content-type": "text/plain"})
    assert r.status_code == 200 and form.status_code == 200
    token = r.json()["access_token"]
    assert r.json()["role"] == "officer" and r.headers["cache-control"] == "no-store"
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert "用户名或密码错误" in wrong.json()["message_zh"] and garbage.status_code == 422
    text = "\n".join(rec.getMessage() for rec in caplog.records
                     if not rec.name.startswith(("httpx", "httpcore")))
    for secret in (PW, "guess-1234567", token, form.json()["access_token"]):
        assert secret not in text
    h = {"Authorization": f"Bearer {token}"}
    assert c.delete("/token", headers=h).status_code == 204
    after = c.get(f"/plans/{api.t.draft}", headers=h)
    assert after.status_code == 401 and after.json()["error"] == "revoked"
    assert c.get("/plans/x", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    failed = api.store.audit_log()
    failed = failed[failed["action"] == "sign_in_failed"]
    assert "officer" in set(failed["target"]) and "guess-1234567" not in failed.to_csv()


@pytest.fixture(scope="module")
def api_schema(api):
    return schemathesis.openapi.from_asgi("/openapi.json", api.client.app)


@pytest.mark.parametrize("path, method, role, examples", [
    ("/token", "POST", None, 15),
    ("/token", "DELETE", None, 20),
    ("/plans", "POST", "planner", 40),
    ("/plans", "POST", None, 20),
    ("/plans/{plan_id}", "GET", "approver", 30),
    ("/plans/{plan_id}/evaluate", "POST", "approver", 30),
    ("/plans/{plan_id}/publish", "POST", "officer", 20),
])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_write_endpoints_conform_to_their_schema(api, api_schema, path, method, role, examples,
                                                 mode):
    operation = api_schema[path][method]
    headers = _bearer(api, role)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        if headers:
            case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    run()


# ====================================================================================== sign-in
def test_hashes_are_salted_argon2id(copy):
    admin = USERS["admin"]
    auth.add_user(copy, "twin1", role="planner", password="same-password-1", by=admin)
    auth.add_user(copy, "twin2", role="planner", password="same-password-1", by=admin)
    rows = copy.query("users").set_index("username")
    a, b = rows.at["twin1", "pw_hash"], rows.at["twin2", "pw_hash"]
    assert a.startswith("$argon2id$") and b.startswith("$argon2id$") and a != b
    assert "same-password-1" not in copy.audit_log().to_csv()
    assert "pw_hash" not in copy.read("users").columns  # screens never get the hashes
    g = auth.guard(copy, admin)
    assert "pw_hash" not in g.query("users").columns
    assert "token_hash" not in g.read("sessions").columns


def test_wrong_password_disabled_user_and_expired_session(copy):
    with pytest.raises(SignInError, match="用户名或密码错误"):
        auth.sign_in(copy, "planner", "not-the-password")
    with pytest.raises(SignInError, match="用户名或密码错误"):
        auth.sign_in(copy, "nobody", PW)
    s = auth.sign_in(copy, "planner", PW, at="2027-03-01T08:00:00Z")
    assert "token" not in repr(s) and s.token not in repr(s)
    assert auth.session_user(copy, s.token, at="2027-03-01T15:59:00Z").username == "planner"
    with pytest.raises(SignInError, match="过期") as err:
        auth.session_user(copy, s.token, at="2027-03-01T16:00:01Z")  # 8 h later
    assert err.value.reason == "expired"
    auth.disable_user(copy, "planner", by=USERS["admin"])
    with pytest.raises(SignInError, match="停用|退出"):
        auth.session_user(copy, s.token, at="2027-03-01T09:00:00Z")
    with pytest.raises(SignInError, match="用户名或密码错误"):  # same message: no tell
        auth.sign_in(copy, "planner", PW)
    log = copy.audit_log()
    failed = log[log["action"] == "sign_in_failed"].tail(3)
    reasons = [json.loads(d)["reason"] for d in failed["detail"]]
    assert reasons == ["wrong_password", "unknown_user", "disabled"]
    assert failed["target"].tolist() == ["planner", "nobody", "planner"]
    assert "not-the-password" not in log.to_csv()


def test_unknown_user_costs_a_hash_too(copy, monkeypatch):
    calls = []
    ph = auth._ph(auth.DEFAULT_SETTINGS)
    real = type(ph).verify
    monkeypatch.setattr(type(ph), "verify", lambda self, h, p: calls.append(h) or real(self, h, p))
    with pytest.raises(SignInError):
        auth.authenticate(copy, "no-such-user", PW)
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def test_password_rules_and_change(copy):
    admin = USERS["admin"]
    with pytest.raises(ValidationError, match="太短"):
        auth.add_user(copy, "x1", role="planner", password="short", by=admin)
    with pytest.raises(ValidationError, match="用户名相同"):
        auth.add_user(copy, "longusername", role="planner", password="longusername", by=admin)
    with pytest.raises(ValidationError, match="角色"):
        auth.add_user(copy, "x2", role="mayor", password="long-enough-1", by=admin)
    with pytest.raises(ValidationError, match="用户名"):
        auth.add_user(copy, "has space", role="planner", password="long-enough-1", by=admin)
    with pytest.raises(ValidationError, match="已存在"):
        auth.add_user(copy, "planner", role="planner", password="long-enough-1", by=admin)
    s = auth.sign_in(copy, "officer", PW)
    auth.set_password(copy, "officer", "a-new-password", by=USERS["officer"])
    with pytest.raises(SignInError):
        auth.session_user(copy, s.token)  # a changed password ends the sessions
    assert auth.sign_in(copy, "officer", "a-new-password").user.username == "officer"
    with pytest.raises(PermissionDenied):
        auth.set_password(copy, "approver", "hijacked-password", by=USERS["officer"])


def test_doctests():
    import doctest

    failed, tried = doctest.testmod(auth)
    assert tried and not failed


def test_session_hours_setting(monkeypatch):
    monkeypatch.setenv("ZONING_SESSION_HOURS", "2")
    assert auth.AuthSettings.from_env().session_hours == 2
    monkeypatch.setenv("ZONING_SESSION_HOURS", "forever")
    with pytest.raises(ValidationError, match="ZONING_SESSION_HOURS"):
        auth.AuthSettings.from_env()


# ====================================================================================== applicants
def test_officer_reads_in_full_and_the_read_is_audited(copy):
    g = auth.guard(copy, USERS["officer"])
    rows = g.query("applicants", {"year": 2027})
    n = len(copy.query("applicants", {"year": 2027}))
    assert len(rows) == n > 150 and not rows["id_number"].str.contains(r"\*").any()
    last = copy.audit_log().iloc[-1]
    assert (last["actor"], last["action"], last["target"]) == ("officer", "applicants_read",
                                                               "applicants 2027")
    detail = json.loads(last["detail"])
    assert detail == {"table": "applicants", "rows": n, "seasons": [2027], "masked": False,
                      "by": ["year"]}
    # the log says who, which season and how many: never a name or an ID number
    assert not any(v in last["detail"] for v in rows["id_number"].head(50))


@pytest.mark.parametrize("role", ["planner", "approver"])
def test_other_staff_read_masked_and_audited(copy, role):
    full = copy.query("applicants", {"year": 2024})
    rows = auth.guard(copy, USERS[role]).query("applicants", {"year": 2024})
    assert len(rows) == len(full)
    assert rows["id_number"].str.fullmatch(r"\d{6}\*{8}[\dX]{4}").all()
    assert (rows["name"].str[1:].str.fullmatch(r"\*+")).all()
    assert (rows["name"].str[0] == full["name"].str[0]).all()
    notices = auth.guard(copy, USERS[role]).query("notices", {"year": 2024})
    assert (notices["text_zh"] == "").all() and notices["code"].str.startswith("*").all()
    last = copy.audit_log().iloc[-1]
    assert last["actor"] == role and json.loads(last["detail"])["masked"] is True


@pytest.mark.parametrize("role", [None, "admin"])
def test_parents_and_admins_cannot_read_applicants(copy, role):
    g = auth.guard(copy, USERS.get(role))
    for table in ("applicants", "notices", "enrol_results"):
        with pytest.raises(PermissionDenied):
            g.query(table)
        with pytest.raises(PermissionDenied):
            g.read(table)


def test_no_full_id_number_in_cli_output_or_exports_for_others(template, copy, tmp_path,
                                                               monkeypatch):
    full = copy.query("applicants", {"year": 2027})
    monkeypatch.setenv("ZONING_TOKEN", template.tokens["approver"])
    r = runner.invoke(cli_app, ["audit", str(copy.path), "--json"])
    assert r.exit_code == 0
    assert not any(i in r.output for i in full["id_number"])
    assert not any(n in r.output for n in full["name"] if len(n) > 1)


# ====================================================================================== retention
def test_retention_erases_exactly_the_old_seasons_personal_fields(copy):
    before = {y: copy.query("applicants", {"year": y}) for y in (2024, 2025, 2027)}
    results = copy.query("enrol_results")
    notices = copy.query("notices")
    g = auth.guard(copy, USERS["admin"])
    with pytest.raises(ValidationError, match="2027"):
        apply_retention(g, at="2025-06-01", years=[2027])
    done = apply_retention(g, at="2025-06-01")
    assert done["year"].tolist() == [2024] and done["erased"].iat[0] == len(before[2024])
    after = copy.query("applicants", {"year": 2024}).set_index("applicant_id")
    old = before[2024].set_index("applicant_id").loc[after.index]
    kept = [c for c in old.columns if c not in PERSONAL_FIELDS and c != "created_at"]
    pd.testing.assert_frame_equal(after[kept], old[kept], check_dtype=False)
    assert (after["name"] == "").all() and (after["birth_date"] == "").all()
    assert (after["id_number"] == "erased:" + after.index).all()
    for col in set(PERSONAL_FIELDS) - {"id_number", "name", "birth_date"}:
        assert after[col].isna().all(), col
    # the anonymous counts stay, as do the decisions, the 报到码 and the check-ins
    cols = ["level", "application_type", "category", "school_id", "status"]
    assert (after.groupby(cols, dropna=False).size().to_dict()
            == old.groupby(cols, dropna=False).size().to_dict())
    pd.testing.assert_frame_equal(copy.query("enrol_results"), results)
    n_after = copy.query("notices")
    assert (n_after.loc[n_after["year"] == 2024, "text_zh"] == "").all()
    assert n_after["code"].tolist() == notices["code"].tolist()
    # other seasons are untouched
    for y in (2025, 2027):
        pd.testing.assert_frame_equal(copy.query("applicants", {"year": y}), before[y])
    # audited, and a second run erases nothing
    log = copy.audit_log()
    entry = log[log["action"] == "retention"].iloc[-1]
    assert entry["actor"] == "admin" and json.loads(entry["detail"])["erased"] == len(old)
    assert copy.verify_audit().ok
    assert apply_retention(g, at="2025-06-01").empty


def test_retention_setting_decides_what_is_due(copy):
    from zoning.retention import retention_status

    s = retention_status(copy, settings=RetentionSettings(keep_days=0), at="2025-10-01")
    assert s["due"].to_dict() == {2024: True, 2025: True, 2027: False}
    s = retention_status(copy, settings=RetentionSettings(keep_days=400), at="2025-10-01")
    assert s["due"].to_dict() == {2024: False, 2025: False, 2027: False}
    with pytest.raises(ValidationError):
        RetentionSettings(season_end=(2, 30))


# ====================================================================================== rate limit
def test_rate_limiter_buckets_recover_with_time():
    now = [0.0]
    rl = RateLimiter(2.0, 3, clock=lambda: now[0])
    assert [rl.check("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.check("a")
    assert wait == pytest.approx(0.5)
    assert rl.check("b") == 0.0  # per client
    now[0] += 0.5
    assert rl.check("a") == 0.0 and rl.check("a") > 0
    now[0] += 10
    assert [rl.check("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # never more than the burst
    assert rl.check("a") > 0
    small = RateLimiter(1.0, 1, max_clients=10, clock=lambda: now[0])
    for i in range(50):
        small.check(f"c{i}")
    assert len(small._buckets) <= 10


def test_public_endpoints_answer_429_then_recover(small_demo_path):
    import time

    with TestClient(create_app(small_demo_path, rate_limit=1, rate_burst=3)) as c:
        codes = [c.get("/health").status_code for _ in range(3)]
        r = c.get("/lookup", params={"address": "金开大道1号"})
        assert codes == [200, 200, 200] and r.status_code == 429
        body = r.json()
        assert body["error"] == "rate_limited" and "秒后再试" in body["message_zh"]
        assert int(r.headers["retry-after"]) >= 1
        time.sleep(1.1)
        assert c.get("/lookup", params={"address": "金开大道1号"}).status_code == 200
    # off by default (the benchmark's setting, and create_app's)
    with TestClient(create_app(small_demo_path)) as c:
        assert {c.get("/health").status_code for _ in range(30)} == {200}


def test_serve_has_a_rate_limit_option():
    r = runner.invoke(cli_app, ["serve", "--help"])
    assert "--rate-limit" in r.output


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch):
    """A developer's own ZONING_TOKEN or ZONING_PASSWORD must not sign these tests in."""
    for var in ("ZONING_TOKEN", "ZONING_PASSWORD", "ZONING_NEW_PASSWORD"):
        if var in os.environ:
            monkeypatch.delenv(var)
