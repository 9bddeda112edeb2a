"""Bad input on purpose (issue 11): every parser of outside text or files, fuzzed.

The contract, for any input: a result, or :class:`zoning.errors.ZoningError` with a message --
never another exception, never a hang (``tests/fuzz/targets.py`` says it precisely, and holds the
targets and strategies). Each parser runs a fixed set of examples here (``derandomize``: the same
examples every run, no database); ``tests/fuzz/run_hypothesis.py`` and ``run_atheris.py`` explore
further, for minutes, and what they find goes to ``tests/corpus/<parser>/``, which
:func:`test_corpus_input_keeps_the_contract` replays for ever.
"""

from __future__ import annotations

import shutil
import string
import time

import pytest
from fuzz import targets as T
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoning import unitcode as uc
from zoning.address import MAX_TEXT, AddressIndex, parse_address, parse_rules
from zoning.enroll import import_applicants
from zoning.errors import UnitCodeError, ValidationError, ZoningError
from zoning.io import read_features, read_layer, read_table
from zoning.lottery import read_draw, verify_files
from zoning.textimport import read_text_list


def fuzz_settings(examples: int, *, deadline_ms: int):
    """Settings of one fuzz test: fixed examples, a deadline, no example database on disk."""
    return settings(max_examples=examples, deadline=deadline_ms, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def index(small_demo):
    return AddressIndex.from_frame(small_demo.addresses)


# ------------------------------------------------------------------------------------ text
@fuzz_settings(500, deadline_ms=5_000)
@given(T.unitcode_inputs())
def test_unitcode_keeps_the_contract(text):
    T.unitcode_target(text)


@fuzz_settings(400, deadline_ms=5_000)
@given(text=T.address_inputs(long_cases=False))
def test_address_keeps_the_contract(index, text):
    T.address_target(text, index)


@fuzz_settings(400, deadline_ms=5_000)
@given(T.rules_inputs(long_cases=False))
def test_rule_text_keeps_the_contract(text):
    T.rules_target(text)


@fuzz_settings(200, deadline_ms=5_000)
@given(T.text_list_inputs())
def test_text_list_keeps_the_contract(text):
    T.text_list_target(text)


@fuzz_settings(250, deadline_ms=5_000)
@given(T.enroll_text_inputs())
def test_id_numbers_and_checkin_codes_keep_the_contract(text):
    T.enroll_text_target(text)


# ------------------------------------------------------------------------------------ files
@fuzz_settings(200, deadline_ms=20_000)
@given(T.text_file_inputs())
def test_text_list_files_keep_the_contract(case):
    T.text_file_target(*case)


@fuzz_settings(200, deadline_ms=20_000)
@given(T.layer_inputs())
def test_layer_files_keep_the_contract(case):
    T.layer_files_target(*case)


@fuzz_settings(120, deadline_ms=20_000)
@given(case=T.applicant_inputs())
def test_applicant_files_keep_the_contract(small_demo, case):
    T.applicants_target(*case, small_demo.schools)


@fuzz_settings(200, deadline_ms=20_000)
@given(T.lottery_inputs())
def test_published_lottery_files_keep_the_contract(files):
    T.lottery_target(files)


@pytest.mark.slow
def test_zone_files_for_import_plan_keep_the_contract(small_demo):
    seeds = T.zone_files(small_demo)

    @fuzz_settings(40, deadline_ms=30_000)
    @given(T.plan_inputs(seeds))
    def run(files):
        T.plan_target(files, small_demo)

    run()


# ------------------------------------------------------------------------------------ API
# tests/test_api.py fuzzes every endpoint from the schema, but schemathesis writes random text:
# it never reaches the address matcher with a real road and a door number of 60 digits, which
# was a 500 (an int64 overflow, tests/corpus/address/road-number-beyond-int64.txt).
@pytest.fixture(scope="module")
def api(small_demo_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from zoning.api import create_app

    with TestClient(create_app(small_demo_path), raise_server_exceptions=False) as client:
        yield client


@st.composite
def typed_addresses(draw, addresses):
    """An address of the district, mutated; some with a door number far too long."""
    text = draw(st.sampled_from(addresses))
    if draw(st.booleans()):
        text = draw(T.mutated(text, max_ops=3))
    if draw(st.integers(0, 3)) == 0:
        text = text.split("号")[0].rstrip("0123456789") + "7" * draw(st.integers(19, 90)) + "号"
    return text[:120]  # the API's own limit (longer is a 422, tested in test_api.py)


def test_lookup_api_answers_every_typed_address(api, small_demo):
    addresses = small_demo.addresses["address"].iloc[::97].tolist()

    @fuzz_settings(80, deadline_ms=10_000)
    @given(typed_addresses(addresses))
    def run(text):
        r = api.get("/lookup", params={"address": text})
        assert r.status_code in (200, 422), (r.status_code, r.text[:200])
        body = r.json()
        assert body.get("reason_zh") or body.get("message_zh") or body.get("found")

    run()


# tests/test_api.py runs schemathesis on GET /lookup, /schools/{id}, /warnings and /health; every
# other operation of the schema (sign-in, plans and their steps, and whatever is added later) is
# fuzzed here from the same schema, without a token (so the checks see 401s and 422s, not 500s).
_COVERED_BY_TEST_API = {("GET", "/lookup"), ("GET", "/schools/{school_id}"), ("GET", "/warnings"),
                        ("GET", "/health")}


def test_every_other_api_operation_conforms_to_its_schema(small_demo_path):
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis import GenerationMode
    from schemathesis.checks import positive_data_acceptance

    from zoning.api import create_app

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(small_demo_path))
    ran = []
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in _COVERED_BY_TEST_API:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @fuzz_settings(25, deadline_ms=10_000)
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case):
                case.call_and_validate(excluded_checks=[positive_data_acceptance])

            run()
        ran.append(f"{op.method.upper()} {op.path}")
    assert ran, "no operation beyond those of test_api.py: nothing fuzzed here"


def test_every_signed_in_api_operation_conforms_to_its_schema(small_demo_path, tmp_path):
    """The same operations with a planner's and an approver's token: past the 401, into the
    plan store (drafts saved, steps refused or taken), still no 500 and no answer off schema."""
    schemathesis = pytest.importorskip("schemathesis")
    from fastapi.testclient import TestClient
    from schemathesis import GenerationMode
    from schemathesis.checks import positive_data_acceptance

    from zoning.api import create_app
    from zoning.auth import add_user
    from zoning.store import open_store

    path = tmp_path / "district.gpkg"
    shutil.copy(small_demo_path, path)
    store = open_store(path)
    admin = add_user(store, "admin", role="admin", password="admin-secret-pw")
    for role in ("planner", "approver"):
        add_user(store, role, role=role, password=f"{role}-secret-pw", by=admin)
    app = create_app(path, rate_limit=0)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ran, codes = [], []
    with TestClient(app) as client:
        tokens = {role: client.post("/token", json={"username": role,
                                                     "password": f"{role}-secret-pw"})
                  .json()["access_token"] for role in ("planner", "approver")}
        # a real draft, so that half the cases naming a plan name one that exists
        ds = store.load()
        zoned = ds.zones[ds.zones["level"] == "primary"]
        draft = client.post("/plans", headers={"Authorization": f"Bearer {tokens['planner']}"},
                            json={"moves": [{"parcels": [ds.parcels.index[0]],
                                             "to_zone": zoned.index[1]}]})
        assert draft.status_code == 201, draft.text
        real_id = draft.json()["plan_id"]
        for result in schema.get_all_operations():
            op = result.ok()
            key = (op.method.upper(), op.path)
            if key in _COVERED_BY_TEST_API or op.path == "/token":
                continue  # sign-in is fuzzed above; DELETE /token would end these sessions
            for token in tokens.values():
                headers = {"Authorization": f"Bearer {token}"}

                @fuzz_settings(15, deadline_ms=20_000)
                @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE))
                def run(case):
                    # the schema's bearer scheme makes schemathesis write a token of its own
                    case.headers = {**(case.headers or {}), **headers}  # noqa: B023 - run() now
                    if "plan_id" in (case.path_parameters or {}) and len(codes) % 2:
                        case.path_parameters["plan_id"] = real_id
                    r = case.call_and_validate(excluded_checks=[positive_data_acceptance])
                    codes.append(r.status_code)

                run()
            ran.append(f"{op.method.upper()} {op.path}")
    assert any(r.startswith("POST /plans") for r in ran), ran
    assert 401 not in codes and len(codes) > 50  # every call got past the sign-in
    assert 200 in codes  # and some into the plan store


# ------------------------------------------------------------------------------------ corpus
CORPUS = [p for parser in ("unitcode", "address", "rules", "text_list", "enroll_text",
                           "text_file", "layer", "applicants", "lottery", "plan")
          for p in T.corpus_files(parser)]


def test_corpus_is_not_empty_and_every_folder_is_replayed():
    folders = {p.name for p in T.CORPUS.iterdir() if p.is_dir()}
    assert {p.parent.name for p in CORPUS} == folders
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_input_keeps_the_contract(path, index, small_demo):
    """Inputs that once broke a parser (the file names say how)."""
    T.replay(path, index=index, dataset=small_demo)


# ------------------------------------------------------------------------------------ properties
# one character of every class a parent's keyboard or a pasted text brings
CLASSES = {
    "digit": "7", "letter": "Q", "lower": "g", "fullwidth digit": "８", "fullwidth letter": "Ｇ",
    "space": " ", "ideographic space": "\u3000", "dash": "－", "zero width": "\u200b",
    "chinese": "号", "chinese numeral": "三", "arabic-indic digit": "٣", "control": "\x07",
    "emoji": "\U0001f600", "combining": "\u0301", "ligature": "㍱", "look-alike O": "O",
}


@pytest.mark.parametrize("code", T.VALID_CODES)
def test_one_character_changed_anywhere_is_caught_or_explained(code):
    """Every position × every character class: an error at the changed position, a length
    error when the character is one normalisation removes or widens, or another valid code
    whose explanation differs."""
    original = uc.parse(code).explain()
    for i in range(len(code)):
        for kind, ch in CLASSES.items():
            typed = code[:i] + ch + code[i + 1:]
            norm = uc.normalize(typed)
            where = f"{kind} {ch!r} at position {i + 1}"
            try:
                u = uc.parse(typed)
            except UnitCodeError as err:
                assert err.message_zh and str(err), where
                if len(norm) != 28:
                    assert err.position == min(len(norm), 28) + 1, where
                    continue
                j = next(k for k in range(28) if norm[k] != code[k])
                allowed = T.allowed_at(j)
                if norm[j] in allowed:  # a valid character, but the province or 定着物 pair
                    assert err.position in (1, 2) or err.position >= 20, where
                else:
                    assert err.position == j + 1, (where, err.position)
            else:
                assert u.code == norm, where
                assert u.code == code or u.explain() != original, where


def test_the_slowest_accepted_text_still_answers(index):
    """Digit runs make the address regexes quadratic: at the length limit it is still quick,
    and past it the text is refused at once."""
    start = time.perf_counter()
    T.address_target("金开大道" + "9" * (MAX_TEXT - 5) + "号", index)
    T.rules_target("东大街（1-" + "9" * (MAX_TEXT - 8) + "号）")
    assert time.perf_counter() - start < 20
    long = "9" * 5_000 + "号"
    with pytest.raises(ValidationError, match="too long"):
        parse_address(long)
    assert index.match(long).method == "none" and "过长" in index.match(long).reason_zh
    assert parse_rules(long)[0].kind == "unparsed"


def test_alphabet_helper_matches_the_standard():
    # the property above leans on this table; GB/T 37346-2019 letters at 13, 14 and 20
    assert T.allowed_at(12) == "GJZ" and T.allowed_at(19) == "FLQW"
    assert T.allowed_at(0) == string.digits
    assert set(T.allowed_at(13)) == set("ABSXCDEFLNHGWY")


READERS = {
    "list.txt": lambda p: read_text_list(p),
    "list.docx": lambda p: read_text_list(p),
    "schools.geojson": lambda p: read_layer(p, "schools"),
    "zones.shp": lambda p: read_features(p),
    "classes.csv": lambda p: read_table(p, "classes"),
    "applicants.xlsx": lambda p: import_applicants(p, year=2027),
    "S1-2027-primary.commit.json": lambda p: verify_files(p),
    "S1-2027-primary.draw.json": lambda p: read_draw(p),
}


@pytest.mark.parametrize("name", READERS)
def test_a_folder_where_a_file_belongs_is_refused(tmp_path, name):
    """A folder named like the file (an unzipped export, a mistyped path) is an error that
    names it, not an IsADirectoryError."""
    (tmp_path / name).mkdir()
    with pytest.raises(ZoningError) as info:
        READERS[name](tmp_path / name)
    assert name in str(info.value)


def test_hang_is_reported_not_swallowed():
    # the hard limit must stop a hang even inside a reader that maps any Exception to its own
    with pytest.raises(T.Hang):  # noqa: SIM117 - the limit is what is tested
        with T.time_limit(0.2):
            try:
                while True:
                    pass
            except Exception:  # a reader's broad except must not catch it
                pytest.fail("Hang was caught as an Exception")


@given(st.sampled_from(T.VALID_CODES), st.sampled_from(["lower", "spaced", "fullwidth", "dashed",
                                                        "padded"]))
@fuzz_settings(50, deadline_ms=5_000)
def test_valid_codes_round_trip_however_typed(code, style):
    assert uc.parse(T.sloppy(code, style)).code == code
