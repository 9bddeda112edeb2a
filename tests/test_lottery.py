"""The private-school lottery: commitment, draw, verification, confirmation deadline."""

from __future__ import annotations

import doctest
import hashlib
import hmac
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zoning.lottery as zlot
from zoning.errors import ValidationError
from zoning.lottery import (
    CST,
    LotteryParams,
    applicants_text,
    commit,
    draw,
    normalize_seed,
    rank_keys,
    settle,
    verify_files,
    write_commit,
    write_draw,
)

P = LotteryParams("S094", "primary", 2027, seats=3)
SEEDS = st.text(min_size=1, max_size=12).filter(lambda s: s.strip())


def apps(n, *, siblings=(), own=()):
    ids = [f"BM2027{i:06d}" for i in range(1, n + 1)]
    group = [""] * n
    for g, members in enumerate(siblings):
        for m in members:
            group[m] = f"F{g}"
    return pd.DataFrame({"applicant_id": ids, "sibling_group": group,
                         "own_area": [int(i in own) for i in range(n)]})


def test_doctests():
    assert doctest.testmod(zlot).failed == 0


def test_rank_key_is_plain_hmac_sha256_of_the_id():
    # a parent can check a receipt with any HMAC tool
    want = hmac.new(b"38 12 07", b"BM2027000001", hashlib.sha256).hexdigest()
    assert rank_keys(" 38  12 07 ", ["BM2027000001"]) == [want]
    d = draw(apps(5), P, "38 12 07", at="2027-06-20 10:00")
    row = d.order.set_index("applicant_id").loc["BM2027000001"]
    assert row["hash"] == want
    assert d.order["hash"].is_monotonic_increasing
    assert d.order["rank"].tolist() == [1, 2, 3, 4, 5]


def test_normalize_seed():
    assert normalize_seed("３８　12\t07\n") == "38 12 07"
    with pytest.raises(ValidationError, match="seed is empty"):
        normalize_seed("   ")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(20, 60), seats=st.integers(0, 70), seed=SEEDS, other=SEEDS)
def test_same_seed_same_order_other_seed_other_order(n, seats, seed, other):
    """Same seed and applicants → the same draw; another seed → another order.

    With n ≥ 20 applicants the chance that two seeds give the same order is 1/n! ≤ 1/20!
    (about 4e-19): "any change of seed reorders" holds with overwhelming probability.
    """
    a = apps(n)
    params = LotteryParams("S094", "primary", 2027, seats=seats)
    d1 = draw(a, params, seed, at="2027-06-20 10:00")
    d2 = draw(a.sample(frac=1, random_state=1), params, seed, at="2027-06-20 11:00")
    assert d1.order["applicant_id"].tolist() == d2.order["applicant_id"].tolist()
    assert d1.admitted == d2.admitted
    assert sorted(d1.order["applicant_id"]) == sorted(a["applicant_id"])
    assert len(d1.admitted) == min(seats, n)
    if normalize_seed(other) != normalize_seed(seed):
        d3 = draw(a, params, other, at="2027-06-20 10:00")
        assert d3.order["applicant_id"].tolist() != d1.order["applicant_id"].tolist()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(4, 40), seats=st.integers(0, 30), quota=st.integers(0, 30),
       seed=st.integers(0, 10**9), data=st.data())
def test_siblings_together_and_quota_never_exceed_the_plan(n, seats, quota, seed, data):
    quota = min(quota, seats)
    pairs = data.draw(st.lists(st.integers(0, n - 2), max_size=n // 3, unique=True))
    used, siblings = set(), []
    for p in pairs:
        if p not in used and p + 1 not in used:
            siblings.append((p, p + 1))
            used |= {p, p + 1}
    own = data.draw(st.sets(st.integers(0, n - 1)))
    a = apps(n, siblings=siblings, own=own)
    params = LotteryParams("S094", "primary", 2027, seats=seats, siblings_together=True,
                           own_area_quota=quota)
    d = draw(a, params, str(seed), at="2027-06-20 10:00")
    o = d.order.set_index("applicant_id")
    assert o["admitted"].sum() <= seats
    for x, y in siblings:
        ix, iy = a["applicant_id"][x], a["applicant_id"][y]
        assert o.at[ix, "admitted"] == o.at[iy, "admitted"]  # a family together or not at all
        assert o.at[ix, "rank"] == o.at[iy, "rank"] and o.at[ix, "hash"] == o.at[iy, "hash"]
    # quota seats only for units with an own-area member (siblings share a home)
    unit_own = d.order.groupby("unit")["own_area"].max()
    q = o[o["stage"] == "quota"]
    assert q["unit"].map(unit_own).eq(1).all() and len(q) <= quota
    # nobody passed over while a unit that fits was still waiting: admission follows the order
    units = d.order.drop_duplicates("unit")
    size = d.order.groupby("unit").size()
    left = seats - int(o["admitted"].sum())
    waiting = units[~units["admitted"]]
    assert all(size[u] > left for u in waiting["unit"])


def test_own_area_quota_goes_first_to_own_area_in_order():
    a = apps(10, own={1, 3, 5, 7, 9})
    params = LotteryParams("S094", "primary", 2027, seats=4, own_area_quota=2)
    d = draw(a, params, "2027", at="2027-06-20 10:00")
    o = d.order
    own_first_two = o[o["own_area"] == 1]["applicant_id"].tolist()[:2]
    assert o.set_index("applicant_id").loc[own_first_two, "stage"].eq("quota").all()
    assert (o["stage"] == "quota").sum() == 2 and o["admitted"].sum() == 4


def test_exactly_as_many_applicants_as_seats_all_admitted():
    a = apps(3)
    d = draw(a, P, "1", at="2027-06-20 10:00")
    assert sorted(d.admitted) == sorted(a["applicant_id"]) and d.waitlist == []


def test_params_are_checked():
    with pytest.raises(ValidationError, match="exceeds seats"):
        LotteryParams("S1", "primary", 2027, seats=2, own_area_quota=3)
    with pytest.raises(ValidationError, match="level='senior'"):
        LotteryParams("S1", "senior", 2027, seats=2)
    with pytest.raises(ValidationError, match="appear more than once"):
        applicants_text(pd.DataFrame({"applicant_id": ["A1", "A1"]}))


def test_draw_refuses_a_list_other_than_the_committed_one():
    a = apps(6)
    c = commit(a, P, at="2027-06-19 17:00")
    draw(a, P, "1", commitment=c)
    with pytest.raises(ValidationError, match="differs from the one committed"):
        draw(a.iloc[:5], P, "1", commitment=c)
    with pytest.raises(ValidationError, match="parameters differ"):
        draw(a, LotteryParams("S094", "primary", 2027, seats=4), "1", commitment=c)


@pytest.fixture
def published(tmp_path):
    a = apps(30, siblings=[(2, 3)], own={1, 2, 3})
    params = LotteryParams("S094", "primary", 2027, seats=10, siblings_together=True,
                           own_area_quota=3)
    apath, cpath, c = write_commit(tmp_path, a, params, at="2027-06-19 17:00")
    c2, lst, c_sha = zlot.read_commit(cpath)
    d = draw(lst, c2.params, "07 21 33 48 52", commitment=c2, at="2027-06-20 10:00",
             commit_sha256=c_sha)
    dpath, rpath = write_draw(tmp_path, d)
    return apath, cpath, dpath, rpath


def test_verify_published_files_match(published):
    apath, cpath, dpath, rpath = published
    v = verify_files(cpath)
    assert v.ok and v.to_dict()["result"] == "match" and v.n_admitted == 10
    receipts = pd.read_csv(rpath, encoding="utf-8-sig")
    assert list(receipts.columns) == ["报名号", "摇号顺位", "抽签单元", "校验哈希", "摇号结果"]
    assert (receipts["摇号结果"] == "录取").sum() == 10
    # the commit file holds both hashes and nothing personal
    body = json.loads(cpath.read_text())
    assert body["applicants_sha256"] == hashlib.sha256(apath.read_bytes()).hexdigest()
    assert "name" not in apath.read_text() and "id_number" not in apath.read_text()


@pytest.mark.parametrize("tamper", ["applicant_removed", "applicant_added", "admitted_flipped",
                                    "seed_changed", "order_swapped", "seats_changed",
                                    "commit_replaced"])
def test_verify_rejects_a_tampered_file(published, tamper):
    apath, cpath, dpath, _ = published
    if tamper in ("applicant_removed", "applicant_added"):
        lines = apath.read_text().splitlines()
        lines = lines[:-1] if tamper == "applicant_removed" else [*lines, "BM2027999999,,0"]
        apath.write_text("\n".join(lines) + "\n")
    elif tamper == "commit_replaced":
        body = json.loads(cpath.read_text())
        body["committed_at"] = "2027-06-19T17:30:00+08:00"
        cpath.write_text(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    else:
        body = json.loads(dpath.read_text())
        if tamper == "admitted_flipped":
            last_in = max(i for i, r in enumerate(body["order"]) if r["admitted"])
            body["order"][last_in]["admitted"] = False
            body["order"][last_in + 1]["admitted"] = True
        elif tamper == "seed_changed":
            body["seed"] = "07 21 33 48 53"
        elif tamper == "order_swapped":
            body["order"][0], body["order"][5] = body["order"][5], body["order"][0]
        elif tamper == "seats_changed":
            body["params"]["seats"] = 11
        dpath.write_text(json.dumps(body, ensure_ascii=False))
    v = verify_files(cpath)
    assert not v.ok and v.to_dict()["result"] == "mismatch"
    assert v.problems and v.problems_zh


def test_verify_names_missing_files(tmp_path):
    with pytest.raises(ValidationError, match="no such commit file"):
        verify_files(tmp_path / "none.commit.json")


# ------------------------------------------------------------------------------------ confirm
def _t(s):
    return pd.Timestamp(s, tz=CST)


DEADLINE = _t("2027-06-20 18:00")


def test_missed_deadline_forfeits_and_the_next_in_order_gets_the_seat():
    a = apps(6)
    d = draw(a, P, "seed", at="2027-06-20 10:00")
    first3, rest = d.admitted, d.waitlist
    conf = {first3[0]: _t("2027-06-20 17:59"), first3[1]: _t("2027-06-20 18:00"),
            first3[2]: _t("2027-06-20 18:01"),  # one minute late: forfeited
            rest[0]: _t("2027-06-21 09:00"), rest[1]: _t("2027-06-21 09:00")}
    res = settle(d, conf, seats=3, deadline=DEADLINE).set_index("applicant_id")
    assert res.loc[first3[:2], "status"].eq("confirmed").all()
    assert res.at[first3[2], "status"] == "forfeited"
    # the seat goes to the next in the draw order, who has until 18:00 the next day
    assert res.at[rest[0], "offer_round"] == 1 and res.at[rest[0], "status"] == "confirmed"
    assert res.at[rest[0], "offer_deadline"] == _t("2027-06-21 18:00")
    assert res.loc[rest[1:], "status"].eq("not_admitted").all()
    assert (res["status"] == "confirmed").sum() == 3


def test_refill_offers_continue_down_the_list():
    a = apps(6)
    d = draw(a, P, "seed", at="2027-06-20 10:00")
    order = d.order["applicant_id"].tolist()
    conf = {order[0]: _t("2027-06-20 12:00"), order[5]: _t("2027-06-22 12:00")}
    res = settle(d, conf, seats=3, deadline=DEADLINE).set_index("applicant_id")
    assert res.loc[order, "offer_round"].tolist() == [0, 0, 0, 1, 1, 2]
    assert res.loc[order, "status"].tolist() == ["confirmed", "forfeited", "forfeited",
                                                 "forfeited", "forfeited", "confirmed"]
    capped = settle(d, conf, seats=3, deadline=DEADLINE, max_rounds=1).set_index("applicant_id")
    assert capped.at[order[5], "status"] == "not_admitted"


def test_nobody_confirming_forfeits_every_offer():
    d = draw(apps(4), P, "s", at="2027-06-20 10:00")
    res = settle(d, None, seats=3, deadline=DEADLINE)
    assert not (res["status"] == "confirmed").any()
    assert set(res["offer_round"]) == {0, 1}
    assert np.all(res["status"].isin(["forfeited"]))
