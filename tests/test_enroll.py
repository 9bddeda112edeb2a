"""The enrolment season: applicants, eligibility, private admission, public admission and 统筹,
notices with 报到码, the timeline and the audit trail."""

from __future__ import annotations

import doctest
import json
import random
import shutil
import sqlite3
from contextlib import closing

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box
from typer.testing import CliRunner

import zoning.enroll as zen
from zoning.capacity import CapacitySettings
from zoning.cli import app, enroll_app, lottery_app
from zoning.enroll import (
    CODE_ALPHABET,
    RULES,
    EnrolSettings,
    Override,
    Timeline,
    check_code,
    check_id_number,
    checkin,
    eligibility,
    id_check_digit,
    import_applicants,
    mask_id,
    new_code,
    public_admission,
    run_season,
)
from zoning.errors import PersonalDataError, ValidationError
from zoning.lottery import CST
from zoning.store import Dataset, GeoPackageStore

YEAR = 2027
X0, Y0 = 400_000.0, 3_290_000.0
runner = CliRunner()
PASSWORD = "test-password-1"  # the CLI reads it from ZONING_PASSWORD


def _users(path, *users):
    """An admin and ``(name, role)`` users in the store at ``path`` (all with PASSWORD)."""
    from zoning.auth import add_user

    store = GeoPackageStore(path)
    admin = add_user(store, "root", role="admin", password=PASSWORD)
    for name, role in users:
        add_user(store, name, role=role, password=PASSWORD, by=admin)

# ------------------------------------------------------------------------------------ a tiny district
# Three primary zones side by side (Z3 rural), one junior zone over all, four public schools and
# a private primary school. Six parcels, two per zone. Caps are lowered to 3 (primary) and 5
# (junior) students a class, so a handful of children fill a school.
PARCELS = {"A": "500112001001GB00001", "B": "500112001001GB00002", "C": "500112001002GB00003",
           "D": "500112001002GB00004", "E": "500112002001JC00005", "F": "500112002001JC00006"}
ZONE_OF = {"A": "Z1", "B": "Z1", "C": "Z2", "D": "Z2", "E": "Z3", "F": "Z3"}
ADDRESS = {"A": "重庆市渝北区龙溪街道金开大道1号金科花园1栋1单元2-1",
           "C": "重庆市渝北区龙溪街道新南路8号龙湖苑2栋1单元3-2"}
SETTINGS = EnrolSettings(capacity=CapacitySettings(primary_cap=3, junior_cap=5))


def tiny() -> Dataset:
    crs = "EPSG:4545"
    schools = gpd.GeoDataFrame(
        {"name": ["龙溪小学", "新南小学", "玉峰山小学", "龙溪中学", "金科外国语小学"],
         "level": ["primary", "primary", "primary", "junior", "primary"],
         "ownership": ["public", "public", "public", "public", "private"],
         "street": ["龙溪街道", "龙溪街道", "玉峰山镇", "龙溪街道", "龙溪街道"],
         "planned_primary_classes": [1, 1, 1, 0, 1], "planned_junior_classes": [0, 0, 0, 1, 0]},
        geometry=[Point(X0 + 500, Y0 + 500), Point(X0 + 1500, Y0 + 500),
                  Point(X0 + 2500, Y0 + 500), Point(X0 + 1000, Y0 + 900),
                  Point(X0 + 800, Y0 + 200)],
        index=pd.Index(["S1", "S2", "S3", "S4", "P1"], name="school_id"), crs=crs)
    zones = gpd.GeoDataFrame(
        {"level": ["primary"] * 3 + ["junior"], "school_ids": ["S1", "S2", "S3", "S4"],
         "kind": ["urban", "urban", "rural", "urban"],
         "name": ["龙溪小学片区", "新南小学片区", "玉峰山小学片区", "龙溪中学片区"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
                  box(X0 + 2000, Y0, X0 + 3000, Y0 + 1000), box(X0, Y0, X0 + 3000, Y0 + 1000)],
        index=pd.Index(["Z1", "Z2", "Z3", "J1"], name="zone_id"), crs=crs)
    cells = [(100, 100), (600, 600), (1100, 100), (1600, 600), (2100, 100), (2600, 600)]
    parcels = gpd.GeoDataFrame(
        {"households": [100] * 6, "street": ["龙溪街道"] * 4 + ["玉峰山镇"] * 2},
        geometry=[box(X0 + x, Y0 + y, X0 + x + 300, Y0 + y + 300) for x, y in cells],
        index=pd.Index(list(PARCELS.values()), name="parcel_id"), crs=crs)
    addresses = gpd.GeoDataFrame(
        {"address": list(ADDRESS.values()), "parcel_id": [PARCELS["A"], PARCELS["C"]]},
        geometry=[Point(X0 + 250, Y0 + 250), Point(X0 + 1250, Y0 + 250)],
        index=pd.Index(["A1", "A2"], name="address_id"), crs=crs)
    district = gpd.GeoDataFrame({"name": ["渝北区"]}, geometry=[box(X0, Y0, X0 + 3000, Y0 + 1000)],
                                index=pd.Index(["500112"], name="district_id"), crs=crs)
    return Dataset(schools=schools, zones=zones, parcels=parcels, addresses=addresses,
                   district=district)


@pytest.fixture(scope="module")
def ds():
    return tiny()


def unit(p):
    return None if p is None else f"{PARCELS[p]}F00010001"


_SEQ = iter(range(1, 10**6))


def ident(born="2020-03-01", county="500112", seq=None):
    first = f"{county}{born.replace('-', '')}{(seq or next(_SEQ)) % 1000:03d}"
    return first + id_check_digit(first)


def person(aid, *, born="2020-03-01", level="primary", hukou="A", prop="A", res="A", **kw):
    row = {"applicant_id": aid, "year": YEAR, "level": level, "id_number": ident(born),
           "name": "王小明", "birth_date": born, "application_type": "public",
           "hukou_unit_code": unit(hukou), "property_unit_code": unit(prop),
           "residence_unit_code": unit(res), "applied_on": f"{YEAR}-06-05"}
    row.update(kw)
    return row


def frame(*rows):
    return pd.DataFrame(list(rows))


def decide(ds, *rows):
    return eligibility(ds, frame(*rows), year=YEAR, settings=SETTINGS)


def test_doctests():
    assert doctest.testmod(zen).failed == 0


# ------------------------------------------------------------------------------------ ID numbers
def test_id_check_digit_and_mask():
    assert id_check_digit("11010519491231002") == "X"
    assert check_id_number(" 11010519491231002x ") == ("11010519491231002X",
                                                        pd.Timestamp("1949-12-31").date())
    assert mask_id("50011220200831123X") == "500112********123X"


@pytest.mark.parametrize("bad, words", [
    ("50011220200301012", "17 characters"),
    ("5001122020030101X3", "first 17 characters"),
    ("99011220200301012" + "5", "province"),
    ("500112202002300120", "birth date"),
])
def test_malformed_id_number_is_refused_and_masked(bad, words):
    with pytest.raises(ValidationError) as err:
        check_id_number(bad)
    msg = str(err.value)
    assert words in msg and bad not in msg
    if len(bad) >= 10:
        assert mask_id(bad) in msg and mask_id(bad) in err.value.problems[0]["message_zh"]


@settings(max_examples=200, deadline=None)
@given(county=st.sampled_from(["500112", "510304", "110105"]),
       born=st.dates(min_value=pd.Timestamp("1990-01-01").date(),
                     max_value=pd.Timestamp("2024-12-31").date()),
       seq=st.integers(0, 999), pos=st.integers(0, 17), delta=st.integers(1, 9))
def test_any_single_digit_typo_breaks_the_check_digit(county, born, seq, pos, delta):
    good = ident(born.isoformat(), county, seq)
    assert check_id_number(good)[1] == born
    chars = list(good)
    if chars[pos] == "X":
        chars[pos] = str(delta)
    else:
        chars[pos] = str((int(chars[pos]) + delta) % 10)
    typo = "".join(chars)
    with pytest.raises(ValidationError) as err:
        check_id_number(typo)
    assert typo not in str(err.value)  # never shown whole


# ------------------------------------------------------------------------------------ 报到码
@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), pos=st.integers(0, 12), shift=st.integers(1, 30),
       swap=st.integers(0, 11))
def test_code_check_character_catches_a_typo_or_a_swap(seed, pos, shift, swap):
    code = new_code(random.Random(seed))
    plain = code.replace("-", "")
    assert len(plain) == 13 and set(plain) <= set(CODE_ALPHABET)
    assert check_code(plain.lower()) == code
    typo = list(plain)
    typo[pos] = CODE_ALPHABET[(CODE_ALPHABET.index(typo[pos]) + shift) % len(CODE_ALPHABET)]
    with pytest.raises(ValidationError) as err:
        check_code("".join(typo))
    assert "校验位不符" in err.value.problems[0]["message_zh"]
    swapped = list(plain)
    swapped[swap], swapped[swap + 1] = swapped[swap + 1], swapped[swap]
    if swapped != list(plain):
        with pytest.raises(ValidationError):
            check_code("".join(swapped))


def test_code_format_errors_in_chinese():
    with pytest.raises(ValidationError) as err:
        check_code("ABCD-EFGH")
    assert "13位" in err.value.problems[0]["message_zh"]
    with pytest.raises(ValidationError) as err:
        check_code("0BCD-EFGH-JKMNP")
    assert "不含 0、1、I、L、O" in err.value.problems[0]["message_zh"]


def test_codes_are_unguessable_and_unique():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    # characters are spread over the alphabet: a draw from secrets, not a counter
    chars = pd.Series(list("".join(c.replace("-", "")[:-1] for c in codes)))
    assert chars.nunique() == len(CODE_ALPHABET)
    assert chars.value_counts().max() < 2 * chars.value_counts().min()


# ------------------------------------------------------------------------------------ eligibility
def test_age_edge_31_august_and_1_september(ds):
    d = decide(ds, person("A1", born="2021-08-31"), person("A2", born="2021-09-01"),
               person("A3", born="2015-06-01"))
    assert d.at["A1", "eligible"] and d.at["A1", "rule"] == "sandukou"
    assert d.at["A2", "rule"] == "under_age" and not d.at["A2", "eligible"]
    assert d.at["A2", "citation"] == "seeds 000 二(一)"
    assert "2021年08月31日" in d.at["A2", "reason_zh"]
    assert d.at["A3", "eligible"]  # older children (缓学) may start later


@settings(max_examples=25, deadline=None)
@given(born=st.dates(min_value=pd.Timestamp("2020-06-01").date(),
                     max_value=pd.Timestamp("2022-06-01").date()))
def test_age_rule_is_6_full_years_by_31_august(born):
    d = decide(tiny(), person("A1", born=born.isoformat()))
    assert d.at["A1", "eligible"] == (born <= pd.Timestamp("2021-08-31").date())


@pytest.mark.parametrize("kw, track, rule, zone", [
    ({}, "zone", "sandukou", "Z1"),
    ({"res": "B", "prop": "B", "hukou": "B"}, "zone", "sandukou", "Z1"),
    ({"prop": "C"}, "tongchou", "not_sandukou", "Z1"),
    ({"hukou": "C"}, "tongchou", "not_sandukou", "Z1"),
    ({"property_owner": "grandparent"}, "tongchou", "not_sandukou", "Z1"),
    # seeds 000 三(一): grandparents' hukou since birth, parents own no home, living in the zone
    ({"hukou_holder": "grandparent", "hukou_since_birth": 1, "property_owner": "none",
      "prop": None}, "zone", "grandparent_hukou", "Z1"),
    ({"hukou_holder": "grandparent", "hukou_since_birth": 1, "property_owner": "grandparent"},
     "zone", "grandparent_hukou", "Z1"),
    ({"hukou_holder": "grandparent", "hukou_since_birth": 0, "property_owner": "none",
      "prop": None}, "tongchou", "not_sandukou", "Z1"),
    ({"hukou_holder": "grandparent", "hukou_since_birth": 1, "property_owner": "parent"},
     "tongchou", "not_sandukou", "Z1"),
    ({"hukou_holder": "grandparent", "hukou_since_birth": 1, "property_owner": "none",
      "prop": None, "hukou": "C"}, "tongchou", "not_sandukou", "Z1"),
    # rural areas: hukou decides, wherever the family lives
    ({"rural": 1, "hukou": "E", "prop": None, "res": "A"}, "zone", "rural_hukou", "Z3"),
    ({"disability": "mild", "prop": "C"}, "policy", "disability_mild", "Z1"),
    ({"disability": "moderate"}, "special_school", "special_school", None),
    ({"disability": "severe", "home_teaching": 1}, "home_teaching", "home_teaching", "Z1"),
    ({"special_group": "military", "special_reason": "部队证明 2027-001", "prop": None,
      "hukou": None}, "policy", "special_group", "Z1"),
    ({"special_group": "talent", "special_reason": "人才服务证 A-9"}, "policy", "talent", "Z1"),
    ({"hukou": None, "prop": None, "res": None}, "manual_review", "unresolved_home", None),
])
def test_rules(ds, kw, track, rule, zone):
    d = decide(ds, person("A1", **kw))
    r = d.loc["A1"]
    assert (r["track"], r["rule"]) == (track, rule)
    if zone is not None:
        assert r["zone_id"] == zone
    assert r["citation"] == RULES[rule][0] and r["citation"].startswith("seeds 00")
    assert r["reason_zh"] and not r["reason_zh"].isascii()


def test_migrant_permit_half_a_year_by_end_of_registration(ds):
    mig = {"category": "migrant", "hukou": None, "prop": None, "property_owner": "none",
           "hukou_address": "四川省广安市岳池县九龙镇3组5号"}
    d = decide(ds, person("A1", residence_permit_start="2026-12-29", **mig),
               person("A2", residence_permit_start="2026-12-30", **mig),
               person("A3", **mig))
    assert d.at["A1", "rule"] == "migrant_permit" and d.at["A1", "track"] == "tongchou"
    assert d.at["A1", "citation"] == "seeds 000 三(三)1"
    assert d.at["A2", "rule"] == "migrant_permit_short" and not d.at["A2", "eligible"]
    assert "不满半年" in d.at["A2", "reason_zh"]
    assert d.at["A3", "rule"] == "migrant_permit_short"


def test_address_text_resolves_like_the_unit_code(ds):
    d = decide(ds, person("A1", res=None, residence_address=ADDRESS["A"], hukou=None,
                          hukou_address=ADDRESS["A"]))
    assert d.at["A1", "rule"] == "sandukou" and d.at["A1", "residence_zone"] == "Z1"


def test_junior_nearby_and_not(ds):
    d = decide(ds, person("J1", level="junior", born="2014-05-01"),
               person("J2", level="junior", born="2014-05-01", hukou=None, prop=None,
                      property_owner="none"))
    assert d.at["J1", "rule"] == "junior_nearby" and d.at["J1", "zone_id"] == "J1"
    assert d.at["J2", "rule"] == "not_nearby" and d.at["J2", "track"] == "tongchou"


def test_one_application_public_or_private_never_both(ds):
    kid = ident("2020-05-05")
    d = decide(ds, person("A1", id_number=kid, applied_on=f"{YEAR}-06-04"),
               person("A2", id_number=kid, application_type="private", school_id="P1",
                      applied_on=f"{YEAR}-06-18"))
    assert d.at["A1", "eligible"]
    assert d.at["A2", "rule"] == "one_application" and not d.at["A2", "eligible"]
    assert d.at["A2", "citation"] == "seeds 000 四(二)" and "A1" in d.at["A2", "reason_zh"]


def test_decisions_never_show_a_whole_id_number(ds):
    rows = [person(f"A{i}") for i in range(5)]
    d = decide(ds, *rows)
    text = d.to_csv()
    assert all(r["id_number"] not in text for r in rows)
    assert d["id_masked"].str.fullmatch(r"\d{6}\*{8}[\dX]{4}").all()


# ------------------------------------------------------------------------------------ admission
def test_zone_school_up_to_its_seats_then_tongchou_to_the_nearest(ds):
    rows = [person(f"A{i}", hukou_date=f"201{i}-01-01") for i in range(5)]
    rows.append(person("G1", special_group="martyr", special_reason="烈士证明 001"))
    d = decide(ds, *rows)
    adm, tc = public_admission(ds, d, year=YEAR, settings=SETTINGS)
    at_s1 = adm.index[adm["school_id"] == "S1"].tolist()
    # 3 seats: the special group first (tier 0), then the earliest hukou registrations
    assert sorted(at_s1) == ["A0", "A1", "G1"]
    assert adm.loc[["A2", "A3", "A4"], "school_id"].eq("S2").all()  # S2 is nearer than S3
    assert set(tc["applicant_id"]) == {"A2", "A3", "A4"}
    assert tc["reason_zh"].str.contains("学位已满").all()
    assert tc["school_name"].eq("新南小学").all() and (tc["distance_m"] > 0).all()
    assert adm.loc["A0", "route"] == "sandukou" and adm.loc["A2", "route"] == "tongchou"
    assert adm.loc["G1", "route"] == "special_group"


def test_migrants_placed_by_tongchou_then_in_purchased_private_seats(ds):
    mig = {"category": "migrant", "hukou": None, "prop": None, "property_owner": "none",
           "residence_permit_start": "2024-01-01"}
    rows = [person(f"L{i}", hukou="E", prop="E", res="E") for i in range(3)]  # fill S3
    rows += [person(f"L{i}", res="C", prop="C", hukou="C") for i in range(3, 6)]  # fill S2
    rows += [person(f"L{i}") for i in range(6, 9)]  # fill S1
    rows += [person(f"M{i}", **mig) for i in range(4)]
    d = decide(ds, *rows)
    adm, tc = public_admission(ds, d, year=YEAR, settings=SETTINGS)
    m = adm.loc[[f"M{i}" for i in range(4)]]
    assert m["route"].value_counts().to_dict() == {"purchased_private": 3}
    assert m["school_id"].value_counts().to_dict() == {"P1": 3}
    assert m["outcome"].value_counts().to_dict() == {"admitted": 3, "unplaced": 1}
    assert "学位已满" in m.loc[m["outcome"] == "unplaced", "reason_zh"].iloc[0]
    # never above the plan
    seats = {"S1": 3, "S2": 3, "S3": 3, "P1": 3}
    counts = adm[adm["outcome"] == "admitted"]["school_id"].value_counts()
    assert all(counts[s] <= n for s, n in seats.items())
    no_purchase = public_admission(ds, d, year=YEAR,
                                   settings=EnrolSettings(capacity=SETTINGS.capacity,
                                                          purchase_private_seats=False))[0]
    assert no_purchase.loc[m.index, "outcome"].eq("unplaced").all()


def _private_rows(n, **kw):
    return [person(f"P{i:02d}", application_type="private", school_id="P1",
                   applied_on=f"{YEAR}-06-18", **kw) for i in range(n)]


def test_private_up_to_plan_admitted_by_registration(ds):
    res = run_season(ds, frame(*_private_rows(3)), year=YEAR, settings=SETTINGS)
    lot = res.lotteries.iloc[0]
    assert (lot["method"], lot["applicants"], lot["seats"], lot["confirmed"]) == \
        ("registration", 3, 3, 3)
    assert res.admissions["route"].eq("private_registration").all()


def test_private_over_plan_needs_a_lottery(ds):
    with pytest.raises(ValidationError, match="lottery must be drawn"):
        run_season(ds, frame(*_private_rows(5)), year=YEAR, settings=SETTINGS)


def test_private_lottery_losers_and_forfeits_return_to_public(ds):
    rows = _private_rows(6)
    first = run_season(ds, frame(*rows), year=YEAR, settings=SETTINGS, lottery_seed="38 12 07")
    order = first.draws["P1-2027-primary"].order["applicant_id"].tolist()
    # the second admitted misses 18:00 on June 20; the first on the waiting list confirms
    conf = {order[0]: pd.Timestamp("2027-06-20 12:00", tz=CST),
            order[1]: pd.Timestamp("2027-06-20 18:05", tz=CST),
            order[2]: pd.Timestamp("2027-06-20 17:00", tz=CST),
            order[3]: pd.Timestamp("2027-06-21 10:00", tz=CST)}
    res = run_season(ds, frame(*rows), year=YEAR, settings=SETTINGS, lottery_seed="38 12 07",
                     confirmations=conf, rng=random.Random(1))
    lot = res.lottery.set_index("applicant_id")
    assert lot.loc[order, "status"].tolist() == ["confirmed", "forfeited", "confirmed",
                                                  "confirmed", "not_admitted", "not_admitted"]
    assert lot.at[order[3], "offer_round"] == 1
    adm = res.admissions
    assert adm.loc[[order[0], order[2], order[3]], "route"].eq("private_lottery").all()
    assert "递补" in adm.at[order[3], "reason_zh"]
    assert "视为自动放弃" in adm.at[order[1], "reason_zh"]
    assert "摇号未中" in adm.at[order[4], "reason_zh"]
    # back in the public process: 三对口 at S1
    assert adm.loc[[order[1], order[4], order[5]], "school_id"].eq("S1").all()
    assert adm.at[order[1], "rule"] == "sandukou"
    assert res.lotteries.iloc[0]["refilled"] == 1
    assert set(res.lottery["hash"].str.len()) == {64}


def test_siblings_drawn_together_in_the_season(ds):
    rows = _private_rows(6)
    rows[0]["sibling_group"] = rows[1]["sibling_group"] = "F1"
    res = run_season(ds, frame(*rows), year=YEAR, settings=SETTINGS, lottery_seed="7")
    lot = res.lottery.set_index("applicant_id")
    assert lot.at["P00", "status"] == lot.at["P01", "status"]
    assert lot.at["P00", "hash"] == lot.at["P01", "hash"]


# ------------------------------------------------------------------------------------ timeline
def test_timeline_2024_dates_and_windows():
    t = Timeline.for_year(2024)
    w = t.to_frame().set_index("action")
    assert w.at["register", "start"] == pd.Timestamp("2024-06-03", tz=CST)
    assert w.at["register_private", "end"] == pd.Timestamp("2024-06-19 23:59:59", tz=CST)
    assert w.at["confirm_private", "end"] == pd.Timestamp("2024-06-20 18:00", tz=CST)
    assert w.at["review", "end"].date() == pd.Timestamp("2024-07-10").date()
    assert w.at["notices", "end"].date() == pd.Timestamp("2024-07-20").date()
    assert t.check("lottery", "2024-06-20 09:30") is None
    with pytest.raises(ValidationError, match=r"outside its window.*seeds 000 四\(二\)"):
        t.check("lottery", "2024-06-21 09:30")
    entry = t.check("lottery", "2024-06-21 09:30", override=Override("王科长", "系统故障顺延一天"))
    assert entry["action"] == "override" and entry["actor"] == "王科长"
    assert entry["detail"]["reason"] == "系统故障顺延一天"
    with pytest.raises(ValidationError, match="reason"):
        Override("王科长", " ")
    # 10 working days after applying, and never after July 10
    due = t.review_due(pd.Series(["2024-06-03", "2024-07-05"]))
    assert due.tolist() == [pd.Timestamp("2024-06-17"), pd.Timestamp("2024-07-10")]


def test_season_outside_its_window_needs_an_officer(ds):
    rows = frame(person("A1"))
    with pytest.raises(ValidationError, match="review at 2027-07-25"):
        run_season(ds, rows, year=YEAR, settings=SETTINGS, at="2027-07-25 10:00")
    res = run_season(ds, rows, year=YEAR, settings=SETTINGS, at="2027-07-25 10:00",
                     override=Override("李科长", "暴雨停电，审核顺延"))
    over = [e for e in res.audit if e["action"] == "override"]
    assert len(over) == 2 and over[0]["detail"]["reason"] == "暴雨停电，审核顺延"


# ------------------------------------------------------------------------------------ import
@pytest.fixture
def store(empty_store, ds):
    """The tiny district in a store of each back end (GeoPackage, PostGIS)."""
    empty_store.save(ds, actor="setup")
    return empty_store


def _csv(tmp_path, rows, name="apps.csv", **rename):
    df = frame(*rows).drop(columns=["applicant_id"]).rename(columns=rename)
    path = tmp_path / name
    df.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_import_refuses_guardians_job_or_income(store, tmp_path):
    before = store.query("applicants")
    for col in ("家长职业", "father_income", "guardianJob"):
        path = _csv(tmp_path, [person("A1")], name=f"{col}.csv")
        df = pd.read_csv(path, encoding="utf-8-sig").assign(**{col: "x"})
        df.to_csv(path, index=False, encoding="utf-8-sig")
        with pytest.raises(PersonalDataError, match=r"五\(四\)"):
            import_applicants(path, year=YEAR, store=store, actor="张老师")
    assert store.query("applicants").equals(before)


def test_import_row_by_row(store, tmp_path):
    kid = ident("2020-07-07")
    good = ident("2020-01-02")  # once: two calls may give two ids with different check digits
    bad_id = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [
        person("x1"),                                              # row 2: fine
        person("x2", id_number=bad_id),                            # row 3: check digit
        person("x3", id_number=kid, born="2020-07-07"),            # row 4: fine
        person("x4", id_number=kid, born="2020-07-07",             # row 5: second application
               application_type="private", school_id="P1", applied_on=f"{YEAR}-06-18"),
        person("x5", application_type="private", school_id="S1",   # row 6: not a private school
               applied_on=f"{YEAR}-06-18"),
        person("x6", category="migrant"),                          # row 7: no 居住证 date
        person("x7", special_group="military"),                    # row 8: no recorded reason
        person("x8", applied_on=f"{YEAR}-07-02"),                  # row 9: late, no officer
        person("x9", applied_on=f"{YEAR}-07-02", override_by="王老师",
               override_reason="外出务工错过报名，线下补登记"),       # row 10: late, offline: fine
        person("x10", property_unit_code="500112001001GB0000"),    # row 11: bad 不动产单元号
    ]
    path = _csv(tmp_path, rows, 身份证号="id_number")
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str).rename(
        columns={"id_number": "身份证号", "name": "姓名", "level": "学段"})
    df["学段"] = "小学"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    rep = import_applicants(path, year=YEAR, store=store, actor="张老师")
    bad = rep.rejected.groupby("row")["field"].agg(set).to_dict()
    assert bad == {3: {"id_number"}, 5: {"id_number"}, 6: {"school_id"},
                   7: {"residence_permit_start"}, 8: {"special_reason"}, 9: {"applied_on"},
                   11: {"property_unit_code"}}
    assert len(rep.accepted) == 3 and rep.saved
    text = rep.rejected.to_csv() + rep.accepted.to_csv()
    assert bad_id not in text and kid not in text and mask_id(bad_id) in text
    assert rep.rejected["reason_zh"].str.len().gt(0).all()
    stored = store.query("applicants", {"year": YEAR})
    assert len(stored) == 3 and stored["level"].eq("primary").all()
    assert stored["applicant_id"].str.fullmatch(r"BM2027\d{6}").all()
    log = store.audit_log()
    assert log["action"].tolist()[-2:] == ["enrol_import", "override"]
    assert kid not in log.to_csv() and store.verify_audit().ok
    # a second application of a stored child is refused, public or private
    again = import_applicants(frame({**person("y1", id_number=kid, born="2020-07-07",
                                              application_type="private", school_id="P1",
                                              applied_on=f"{YEAR}-06-18")})
                              .drop(columns="applicant_id"), year=YEAR, store=store)
    assert len(again.accepted) == 0 and "never both" in again.rejected["reason"].iloc[0]


def test_import_excel_with_chinese_headers_and_values(tmp_path, ds):
    rows = frame(person("A1"), person("A2", category="migrant", residence_permit_start="2025-01-01",
                                      hukou=None, prop=None, property_owner="none"))
    rows = rows.drop(columns="applicant_id").rename(columns={
        "id_number": "身份证号", "name": "姓名", "level": "学段", "category": "生源类型",
        "residence_permit_start": "居住证起始日期", "property_owner": "房屋产权人"})
    rows["学段"] = "小学"
    rows["生源类型"] = ["本地", "随迁子女"]
    rows["房屋产权人"] = ["父母", "无"]
    path = tmp_path / "报名.xlsx"
    rows.to_excel(path, index=False)
    rep = import_applicants(path, year=YEAR, schools=ds.schools)
    assert len(rep.accepted) == 2 and rep.rejected.empty and not rep.saved
    assert rep.accepted["category"].tolist() == ["local", "migrant"]
    assert rep.accepted["level"].eq("primary").all()


def test_import_with_unknown_column_is_refused(tmp_path):
    path = _csv(tmp_path, [person("A1")])
    df = pd.read_csv(path, encoding="utf-8-sig").assign(blood_type="A")
    df.to_csv(path, index=False, encoding="utf-8-sig")
    with pytest.raises(ValidationError, match=r"信息非必要不采集"):
        import_applicants(path, year=YEAR)


# ------------------------------------------------------------------------------------ store, notices
def test_season_saved_notices_checkin_and_audit(store, ds):
    rows = [person(f"A{i}") for i in range(4)] + _private_rows(2)
    imp = import_applicants(frame(*rows).drop(columns="applicant_id"), year=YEAR, store=store,
                            actor="张老师")
    assert len(imp.accepted) == 6
    res = run_season(store, year=YEAR, settings=SETTINGS, actor="李科长", rng=random.Random(3))
    notices = store.query("notices", {"year": YEAR})
    results = store.query("enrol_results", {"year": YEAR})
    assert len(notices) == len(res.notices) == (res.admissions["outcome"] == "admitted").sum()
    assert len(results) == 6 and results["citation"].str.startswith("seeds").all()
    assert notices["code"].is_unique and all(check_code(c) == c for c in notices["code"])
    log = store.audit_log()
    assert {"enrol_eligibility", "private_registration", "private_confirmation",
            "public_admission", "tongchou", "notices"} <= set(log["action"])
    assert not any(r["id_number"] in log.to_csv() for r in rows)
    # check in: typed in lower case with spaces; a typo is caught before any lookup
    code = notices["code"].iloc[0]
    got = checkin(store, code.lower().replace("-", " "), by="陈老师")
    assert not got["already"] and got["applicant_id"] == notices["applicant_id"].iloc[0]
    again = checkin(store, code, by="陈老师")
    assert again["already"] and again["checked_in_by"] == "陈老师"
    typo = code[:-1] + CODE_ALPHABET[(CODE_ALPHABET.index(code[-1]) + 1) % 31]
    with pytest.raises(ValidationError) as err:
        checkin(store, typo, by="陈老师")
    assert "校验位不符" in err.value.problems[0]["message_zh"]
    assert store.audit_log()["action"].tolist().count("checkin") == 1
    assert store.verify_audit().ok
    # a season with check-ins is not re-run (codes would change)
    with pytest.raises(ValidationError, match="already checked in"):
        run_season(store, year=YEAR, settings=SETTINGS)


def test_tampered_audit_log_is_detected_by_the_cli(tmp_path, ds):
    store = GeoPackageStore(tmp_path / "tiny.gpkg")  # tampered with through SQLite
    store.save(ds, actor="setup")
    imp = import_applicants(frame(person("A1"), person("A2")).drop(columns="applicant_id"),
                            year=YEAR, store=store, actor="张老师")
    assert imp.saved
    run_season(store, year=YEAR, settings=SETTINGS, actor="李科长")
    ok = runner.invoke(app, ["audit", "verify", str(store.path), "--json"])
    assert ok.exit_code == 0, ok.output
    n = json.loads(ok.stdout)["entries"]
    with closing(sqlite3.connect(store.path)) as con, con:
        original = con.execute("SELECT detail FROM audit_log WHERE entry_id = 3").fetchone()[0]
        con.execute("UPDATE audit_log SET detail = ? WHERE entry_id = 3",
                    (original.replace("2", "3") + " ",))
    edited = runner.invoke(app, ["audit", "verify", str(store.path), "--json"])
    assert edited.exit_code == 1 and json.loads(edited.stdout)["broken_entry"] == 3
    text = runner.invoke(app, ["audit", "verify", str(store.path)])
    assert "第 3 条已被改动" in text.output
    with closing(sqlite3.connect(store.path)) as con, con:
        con.execute("UPDATE audit_log SET detail = ? WHERE entry_id = 3", (original,))
        con.execute("DELETE FROM audit_log WHERE entry_id = ?", (n - 1,))
    deleted = runner.invoke(app, ["audit", "verify", str(store.path), "--json"])
    out = json.loads(deleted.stdout)
    assert deleted.exit_code == 1 and out["broken_entry"] == n and "deleted" in out["problem"]
    # the plain listing still works as before, for a user who may read the log
    assert runner.invoke(app, ["audit", str(store.path), "--json"]).exit_code == 3
    _users(store.path)  # one more entry: the admin's
    listing = runner.invoke(app, ["audit", str(store.path), "--json", "--user", "root"],
                            env={"ZONING_PASSWORD": PASSWORD})
    assert listing.exit_code == 0 and len(json.loads(listing.stdout)) == n


# ------------------------------------------------------------------------------------ demo district
@pytest.fixture(scope="module")
def season(small_demo):
    apps = zen.demo_applicants(small_demo, year=YEAR, seed=5)
    conf = zen.demo_confirmations(apps, year=YEAR, seed=5)
    return apps, run_season(small_demo, apps, year=YEAR, lottery_seed="12 34 56 78 90",
                            confirmations=conf)


def test_demo_applicants_are_deterministic_and_mixed(small_demo, season):
    apps, _ = season
    again = zen.demo_applicants(small_demo, year=YEAR, seed=5)
    pd.testing.assert_frame_equal(apps, again)
    assert not apps.equals(zen.demo_applicants(small_demo, year=YEAR, seed=6))
    assert apps["applicant_id"].is_unique and apps["id_number"].is_unique
    assert all(check_id_number(i) for i in apps["id_number"].head(200))
    assert apps["sibling_group"].notna().sum() >= 2
    assert set(apps["disability"]) == {"none", "mild", "moderate", "severe"}
    assert apps["special_reason"].notna().sum() >= 1
    assert (apps["birth_date"] == f"{YEAR - 6}-08-31").any()
    assert (apps["birth_date"] == f"{YEAR - 6}-09-01").any()


def test_demo_season_follows_every_rule(small_demo, season):
    apps, res = season
    d, adm = res.decisions, res.admissions
    rules = set(d["rule"])
    assert {"sandukou", "grandparent_hukou", "rural_hukou", "junior_nearby", "not_sandukou",
            "migrant_permit", "migrant_permit_short", "under_age", "private_application",
            "disability_mild", "special_school", "special_group"} <= rules
    assert d["citation"].isin({c for c, _ in RULES.values()}).all()
    assert len(d) == len(adm) == len(apps)
    # private lotteries: some schools above their plan, at least one below
    methods = set(res.lotteries["method"])
    assert methods == {"lottery", "registration"}
    assert (res.lotteries["confirmed"] <= res.lotteries["seats"]).all()
    assert res.lotteries["forfeited"].sum() > 0 and res.lotteries["refilled"].sum() > 0
    # every admitted child has a school, and no school is above its plan
    admitted = adm[adm["outcome"] == "admitted"]
    assert admitted["school_id"].notna().all()
    in_class = admitted[admitted["route"] != "home_teaching"]
    for level in ("primary", "junior"):
        seats = zen._seats(small_demo, level, EnrolSettings())
        got = in_class[in_class["level"] == level]["school_id"].value_counts()
        assert (got <= seats.reindex(got.index)).all()
    # 三对口 children are at a school of their own zone
    from zoning.zones import zone_schools

    links = zone_schools(small_demo.zones)
    own = set(zip(links["zone_id"], links["school_id"], strict=True))
    z = admitted[admitted["route"] == "sandukou"]
    assert all((zid, sid) in own for zid, sid in zip(z["zone_id"], z["school_id"], strict=True))
    # the 统筹 list says who, where and why
    assert len(res.tongchou) > 0
    assert res.tongchou["reason_zh"].str.contains("统筹安排|政府购买").all()
    # notices: one per admitted child, unique valid codes, no whole ID numbers anywhere
    assert len(res.notices) == len(admitted) and res.notices["code"].is_unique
    assert all(check_code(c) == c for c in res.notices["code"].head(500))
    shown = res.notices.to_csv() + adm.to_csv() + res.tongchou.to_csv()
    assert not any(i in shown for i in apps["id_number"].head(300))
    s = res.summary()
    assert s["notices"] == len(res.notices) and s["applicants"] == len(apps)


# ------------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize("group, command", [
    (lottery_app, c.name) for c in lottery_app.registered_commands] + [
    (enroll_app, c.name) for c in enroll_app.registered_commands])
def test_subcommands_have_help(group, command):
    name = "lottery" if group is lottery_app else "enroll"
    result = runner.invoke(app, [name, command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_cli_season_end_to_end(small_demo_path, tmp_path, monkeypatch):
    data = tmp_path / "s.gpkg"
    shutil.copy(small_demo_path, data)
    _users(data, ("张老师", "officer"), ("李科长", "officer"), ("planner", "planner"))
    monkeypatch.setenv("ZONING_PASSWORD", PASSWORD)
    apps, conf = tmp_path / "apps.csv", tmp_path / "conf.csv"
    r = runner.invoke(app, ["enroll", "demo", "--data", str(data), "--out", str(apps), "--seed",
                            "2", "--confirmations", str(conf)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["enroll", "import", str(apps), "--data", str(data), "--actor", "张老师",
                            "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rejected_rows"] == 0
    lot = tmp_path / "lot"
    r = runner.invoke(app, ["lottery", "commit", "--data", str(data), "--out", str(lot),
                            "--at", "2027-06-19T17:00", "--json", "--user", "planner"])
    assert r.exit_code == 3 and "招生工作人员" in r.output  # a planner may not
    r = runner.invoke(app, ["lottery", "commit", "--data", str(data), "--out", str(lot),
                            "--at", "2027-06-19T17:00", "--json", "--user", "张老师"])
    assert r.exit_code == 0, r.output
    drawn = [x for x in json.loads(r.stdout) if x["method"] == "lottery"]
    assert drawn
    for x in drawn:
        r = runner.invoke(app, ["lottery", "draw", x["commit_file"], "--seed", "05 18 22 31 44",
                                "--at", "2027-06-20T10:00", "--data", str(data),
                                "--user", "张老师"])
        assert r.exit_code == 0, r.output
        assert "录取" in r.stdout
    late = runner.invoke(app, ["lottery", "draw", drawn[0]["commit_file"], "--seed", "1",
                               "--at", "2027-06-22T10:00"])
    assert late.exit_code == 2 and "outside its window" in late.output
    first = drawn[0]["commit_file"]
    v = runner.invoke(app, ["lottery", "verify", first])
    assert v.exit_code == 0 and "一致" in v.stdout
    # a tampered list: one applicant removed after the commitment
    alist = lot / f"{drawn[0]['key']}.applicants.csv"
    keep = alist.read_text()
    alist.write_text("\n".join(keep.splitlines()[:-1]) + "\n")
    bad = runner.invoke(app, ["lottery", "verify", first, "--json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["result"] == "mismatch"
    alist.write_text(keep)
    out = tmp_path / "out"
    r = runner.invoke(app, ["enroll", "run", "--data", str(data), "--lottery-dir", str(lot),
                            "--confirmations", str(conf), "--at", "2027-07-08T10:00", "--out",
                            str(out), "--actor", "李科长"])
    assert r.exit_code == 0, r.output
    assert "发放入学通知书和报到码" in r.stdout
    notices = pd.read_csv(out / "2027入学通知.csv", encoding="utf-8-sig")
    code = notices["报到码"].iloc[0]
    ok = runner.invoke(app, ["enroll", "checkin", code, "--data", str(data), "--by", "陈老师",
                             "--user", "张老师"])
    assert ok.exit_code == 0 and "报到成功" in ok.stdout
    assert runner.invoke(app, ["enroll", "checkin", code, "--data", str(data), "--user",
                               "张老师"]).exit_code == 1
    typo = code[:-1] + CODE_ALPHABET[(CODE_ALPHABET.index(code[-1]) + 1) % 31]
    t = runner.invoke(app, ["enroll", "checkin", typo, "--data", str(data), "--user", "张老师"])
    assert t.exit_code == 2 and "校验位不符" in t.output
    v = runner.invoke(app, ["audit", "verify", str(data)])
    assert v.exit_code == 0 and "审计日志完整" in v.stdout
    # the store refuses a second run of a season with check-ins
    again = runner.invoke(app, ["enroll", "run", "--data", str(data), "--lottery-dir", str(lot),
                                "--at", "replay", "--user", "李科长"])
    assert again.exit_code == 2 and "already checked in" in again.output


def test_cli_import_refuses_forbidden_column(small_demo_path, tmp_path):
    data = tmp_path / "s.gpkg"
    shutil.copy(small_demo_path, data)
    _users(data, ("张老师", "officer"))
    path = tmp_path / "a.csv"
    frame(person("A1")).assign(家长工作单位="某公司").drop(columns="applicant_id").to_csv(
        path, index=False, encoding="utf-8-sig")
    r = runner.invoke(app, ["enroll", "import", str(path), "--data", str(data), "--user", "张老师"],
                      env={"ZONING_PASSWORD": PASSWORD})
    assert r.exit_code == 2 and "五(四)" in r.output
    assert GeoPackageStore(data).query("applicants").empty


def test_numbers_of_the_tiny_district_are_hand_checkable(ds):
    # seats = planned classes × cap: 1 × 3 at each primary school
    seats = zen._seats(ds, "primary", SETTINGS)
    assert seats.to_dict() == {"S1": 3, "S2": 3, "S3": 3, "P1": 3}
    assert np.isclose(ds.zones.area.sum(), 6e6)
