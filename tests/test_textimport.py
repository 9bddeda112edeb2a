"""Published 划片 text → rules → zones; zone files → plans; plans → Shapefile (GBK)/GeoJSON/text."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from zoning import simulate as sm
from zoning.address import match_rules, parse_address
from zoning.assign import Locator, assign_parcels
from zoning.cli import app
from zoning.crs import from_working
from zoning.errors import ValidationError
from zoning.publish import zone_text_list
from zoning.store import GeoPackageStore
from zoning.textimport import (
    CLAIM_STATUSES,
    claim_addresses,
    import_plan,
    import_text,
    match_school_names,
    parse_text_list,
    read_text_list,
)

SAMPLES = Path("/work/shared/samples")
if not SAMPLES.exists():  # pragma: no cover - the repository's copy
    SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
runner = CliRunner()


def _addresses(texts: list[str]) -> pd.DataFrame:
    """A text-only address table (the importer parses each distinct head)."""
    return pd.DataFrame({"address": texts},
                        index=pd.Index([f"A{i}" for i in range(len(texts))], name="address_id"))


def _geo_schools(ds, level):
    """School ids of every address by the zone map (point in zone), '' when unzoned."""
    loc = Locator.from_zones(ds.zones, level=level)
    a = ds.addresses
    z = pd.Series(loc.locate(a.geometry.x.to_numpy(), a.geometry.y.to_numpy()), index=a.index)
    ids = z.map(ds.zones["school_ids"]).fillna("")
    return ids.map(lambda s: ";".join(sorted(filter(None, re.split(r"[;；,，、]", s)))))


# --- hand-written lists: each clause kind ------------------------------------------------------
HAND = """\
甲小学: 长安路（单号）、东风路（1-99号）、建设路（2、4、6号）、人民路（101号除外）、新南路（附号除外）
乙小学: 长安路（双号）、东风路（101号以上）、金开大道12号附1号、金开大道15号之一、人民路101号
丙小学: 龙溪街道、碧津社区、石坪村（1-3组）、柏树村
丁小学: 金星湖城（1-5栋）、碧津花园（3栋除外）、柳南一路至三路、万春镇花容路、税务局大院
"""

# address → the school its clause gives (None: no clause claims it)
HAND_EXPECT = {
    "长安路13号": "甲小学", "长安路14号": "乙小学", "长安路": None,
    "东风路35号": "甲小学", "东风路100号": None, "东风路101号": "乙小学", "东风路350号": "乙小学",
    "建设路4号": "甲小学", "建设路5号": None,
    "人民路7号": "甲小学", "人民路101号": "乙小学",
    "新南路8号": "甲小学", "新南路8号附2号": None,
    "金开大道12号附1号": "乙小学", "金开大道12号附2号": None, "金开大道15号之一": "乙小学",
    "金开大道15号附1号": "乙小学", "金开大道15号": None,
    "龙溪街道松石北路1号": "丙小学", "碧津社区88号": "丙小学", "石坪村2组5号": "丙小学",
    "石坪村4组5号": None, "柏树村7组3号": "丙小学", "石坪社区5号": None,
    "金星湖城3栋2单元1-1": "丁小学", "金星湖城6栋1单元1-1": None,
    "碧津花园1栋1单元2-2": "丁小学", "碧津花园3栋1单元2-2": None,
    "柳南二路8号": "丁小学", "柳南四路8号": None, "万春镇花容路3号": "丁小学",
    "税务局大院2栋": "丁小学",
}


def test_hand_list_every_clause_kind():
    t = parse_text_list(HAND)
    assert t.schools == ("甲小学", "乙小学", "丙小学", "丁小学")
    assert t.unparsed.empty and t.skipped.empty
    kinds = set(t.clauses["kind"])
    assert kinds == {"road", "address", "area", "group", "estate"}
    texts = list(HAND_EXPECT)
    claims = claim_addresses(t.rules, _addresses(texts))
    got = dict(zip(texts, claims["school_ids"], strict=True))
    want = {k: v for k, v in HAND_EXPECT.items()}
    assert got == want
    # every claim names its deciding clause; a gap names none
    assert claims.loc[claims["status"] == "gap", "school_ids"].isna().all()
    assert (claims.loc[claims["status"] == "claimed", "clauses"].str.len() > 0).all()
    assert set(claims["status"]) <= set(CLAIM_STATUSES)
    # a gap says where it is, as read from the text, and which clauses name that place
    gap = claims.loc[claims["status"] == "gap"].set_axis(
        [t for t, s in zip(texts, claims["status"], strict=True) if s == "gap"])
    assert gap.at["东风路100号", "place"] == "东风路" and gap.at["东风路100号", "road_no"] == 100
    assert gap.at["东风路100号", "near"] == "东风路（1-99号）（甲小学）；东风路（101号以上）（乙小学）"
    assert gap.at["石坪村4组5号", "place"] == "石坪村4组"


def test_claims_agree_with_the_one_rule_matcher():
    """The index only narrows the clauses tried: every answer is Rule.matches' answer."""
    t = parse_text_list(HAND)
    for text in HAND_EXPECT:
        naive = {r.school for r in match_rules(t.rules, parse_address(text))}
        claims = claim_addresses(t.rules, _addresses([text]))
        ours = claims["school_ids"].iat[0]
        assert naive == ({ours} if ours else set()), (text, naive, ours)


def test_conflict_more_specific_wins_and_equal_is_unresolved():
    t = parse_text_list("甲小学: 东大街、西大街\n乙小学: 东大街151号、西大街\n丙小学: 南街（单号）、北街\n"
                        "丁小学: 南街（1-99号）、北街")
    claims = claim_addresses(t.rules, _addresses(
        ["东大街151号", "东大街150号", "西大街3号", "南街3号", "南街4号", "北街1号"]))
    assert claims["status"].tolist() == ["resolved", "claimed", "shared", "resolved", "claimed",
                                         "shared"]
    assert claims["school_ids"].tolist() == ["乙小学", "甲小学", "乙小学;甲小学", "丁小学",
                                             "丁小学", "丁小学;丙小学"]
    assert claims["clauses"].iat[0] == "东大街151号"
    assert "甲小学：东大街" in claims["claimants"].iat[0]
    # two different clauses of equal specificity: nobody gets the address
    t2 = parse_text_list("甲小学: 东大街\n乙小学: 东大街（1-999号除外）、老街\n丙小学: 老街")
    c2 = claim_addresses(t2.rules, _addresses(["东大街1200号", "老街1号", "东大街5号"]))
    assert c2["status"].tolist() == ["resolved", "shared", "claimed"]
    t3 = parse_text_list("甲小学: 东大街（单号）\n乙小学: 东大街（1-999号单号除外）、东大街（101号以上）")
    c3 = claim_addresses(t3.rules, _addresses(["东大街1201号"]))
    assert c3["status"].iat[0] == "resolved" and c3["school_ids"].iat[0] == "乙小学"
    t4 = parse_text_list("甲小学: 东大街（1-99号）\n乙小学: 东大街（50-150号）")
    c4 = claim_addresses(t4.rules, _addresses(["东大街60号", "东大街10号"]))
    assert c4["status"].tolist() == ["conflict", "claimed"]
    assert c4["school_ids"].iat[0] is None
    assert c4["claimants"].iat[0] == "甲小学：东大街（1-99号）；乙小学：东大街（50-150号）"


def test_unknown_school_name_keeps_its_claims_out():
    t = parse_text_list("甲小学: 东大街\n某校: 西大街")
    c = claim_addresses(t.rules, _addresses(["东大街1号", "西大街1号", "南大街1号"]),
                        school_ids={"甲小学": "S1", "某校": None})
    assert c["status"].tolist() == ["claimed", "unknown_school", "gap"]
    assert c["school_ids"].tolist() == ["S1", None, None]


# --- reading lists in the layouts districts publish --------------------------------------------
def test_layouts_headings_labels_tables_and_notes():
    text = ("2025年小学招生范围如下：\n"
            "一、渝北区五一路学校\n招生范围：龙溪街道、金开大道（1-99号单号）\n"
            "（二）花园湾学校\n划片范围：石坪村（1-3组）、\n碧津花园（1-5栋）\n"
            "注：以上范围以区教委公布为准。\n"
            "序号\t学校名称\t招生范围\n1\t金港桥学校\t龙华一路、龙华二路\n"
            "- 长寿苑小学：长寿路\n"
            "Source: somewhere\n"
            "---\n"
            "东风路（单号）\n")
    t = parse_text_list(text)
    assert t.schools == ("渝北区五一路学校", "花园湾学校", "金港桥学校", "长寿苑小学")
    by = t.clauses.groupby("school")["raw"].apply(list).to_dict()
    assert by["花园湾学校"] == ["石坪村（1-3组）", "碧津花园（1-5栋）"]
    assert by["金港桥学校"] == ["龙华一路", "龙华二路"]
    reasons = dict(zip(t.skipped["line"], t.skipped["reason_zh"], strict=True))
    assert reasons == {1: "标题", 7: "说明或备注，不是划片条目", 8: "表头", 11: "说明文字",
                       12: "分隔线", 13: "此行之前没有学校名称，无法归属"}
    assert t.clauses["line"].tolist() == [3, 3, 5, 6, 9, 9, 10]


def _docx(path: Path, paragraphs: list[str], table: list[list[str]]) -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    p = "".join(f"<w:p><w:r><w:t>{t}</w:t></w:r></w:p>" for t in paragraphs)
    rows = "".join("<w:tr>" + "".join(f"<w:tc><w:p><w:r><w:t>{c}</w:t></w:r></w:p></w:tc>"
                                      for c in row) + "</w:tr>" for row in table)
    doc = f'<?xml version="1.0"?><w:document {w}><w:body>{p}<w:tbl>{rows}</w:tbl></w:body></w:document>'
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", doc)


def test_read_txt_gbk_docx_xlsx_csv(tmp_path):
    gbk = tmp_path / "list.txt"
    gbk.write_bytes("甲小学：长安路（单号）、东风路\n乙小学：长安路（双号）\n".encode("gbk"))
    t = read_text_list(gbk)
    assert t.schools == ("甲小学", "乙小学") and len(t.rules) == 3

    docx = tmp_path / "list.docx"
    _docx(docx, ["2025年划片范围", "甲小学", "招生范围：长安路（单号）"],
          [["学校", "招生范围"], ["乙小学", "长安路（双号）"], ["丙小学", "石坪村（1-3组）"]])
    t = read_text_list(docx)
    assert t.schools == ("甲小学", "乙小学", "丙小学")
    assert [r.raw for r in t.rules] == ["长安路（单号）", "长安路（双号）", "石坪村（1-3组）"]
    assert t.skipped["reason_zh"].tolist() == ["此行之前没有学校名称，无法归属", "表头"]

    frame = pd.DataFrame({"序号": [1, 2, None], "学校名称": ["甲小学", "乙小学", None],
                          "招生范围": ["长安路（单号）", "长安路（双号）", "东风路"]})
    xlsx = tmp_path / "list.xlsx"
    frame.to_excel(xlsx, index=False)
    t = read_text_list(xlsx)
    # an empty school cell continues the school above (merged cells)
    assert [(r.school, r.raw) for r in t.rules] == [("甲小学", "长安路（单号）"),
                                                    ("乙小学", "长安路（双号）"),
                                                    ("乙小学", "东风路")]
    assert t.clauses["line"].tolist() == [2, 3, 4]
    csv = tmp_path / "list.csv"
    frame.drop(columns="序号").rename(columns={"学校名称": "school", "招生范围": "text"}).to_csv(
        csv, index=False, encoding="gbk")
    assert [r.raw for r in read_text_list(csv).rules] == [r.raw for r in t.rules]
    headerless = tmp_path / "bare.csv"
    headerless.write_text("甲小学,长安路（单号）、东风路\n乙小学,长安路（双号）\n", encoding="utf-8")
    assert read_text_list(headerless).schools == ("甲小学", "乙小学")
    with pytest.raises(ValidationError, match=r"\.docx"):
        (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
        read_text_list(tmp_path / "old.doc")
    with pytest.raises(ValidationError, match="no such file"):
        read_text_list(tmp_path / "missing.txt")


# --- the shared 温江 sample ---------------------------------------------------------------------
def test_wenjiang_every_clause_parsed_or_reported():
    path = SAMPLES / "zoning_text_wenjiang.md"
    text = path.read_text(encoding="utf-8")
    t = read_text_list(path)
    lines = [ln for ln in text.splitlines() if ln.startswith("- ") and ":" in ln]
    assert len(t.schools) == len(lines) == 15
    published = []
    for ln in lines:
        school, body = ln[2:].split(":", 1)
        published += [(school.strip(), c) for c in re.split(r"、(?![^（]*）)", body.strip())]
    kept = set(zip(t.clauses["school"], t.clauses["raw"], strict=True))
    assert set(published) == kept and t.n_clauses == len(published) == 242
    # the unreadable ones are reported, each with a reason a planner can act on
    un = t.unparsed
    assert set(un["raw"]) == {"万春镇黄石社区（距离东一北校区较近的组）", "红旗村（距离东一北校区较近的组）",
                              "万春镇南岳社区成温邛高速北一侧",
                              "和盛镇友庆（和盛金盘路距离东一北校区较近的组）"}
    assert un["reason_zh"].str.len().gt(4).all() and (un["school"] == "东一北校区").all()
    # every line of the file is a school's clauses or a reported skip
    nonblank = [i for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    assert sorted(set(t.clauses["line"]) | set(t.skipped["line"])) == nonblank
    names = match_school_names(t.schools, pd.DataFrame(
        {"name": ["温江区实验学校", "温江区东大街第一小学"], "level": "primary",
         "ownership": "public"}, index=pd.Index(["W1", "W2"], name="school_id")),
        level="primary")
    assert names.loc["温江区实验学校（中医大附小）", "school_id"] == "W1"
    assert names.loc["东大街一小", "school_id"] == "W2"
    assert names.loc["东大街二小", "school_id"] is None


# --- school names --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def schools():
    return pd.DataFrame({
        "name": ["渝北区东大街第一小学", "渝北区东大街第二小学", "渝北区实验小学", "渝北区花园苑小学",
                 "渝北区花园湾小学", "渝北区东大街中学", "渝北区英才学校（民办）", "渝北区金港学校"],
        "level": ["primary", "primary", "primary", "primary", "primary", "junior", "primary",
                  "nine_year"],
        "ownership": ["public"] * 6 + ["private", "public"]},
        index=pd.Index([f"S{i}" for i in range(1, 9)], name="school_id"))


def test_school_names(schools):
    got = match_school_names(
        ["渝北区东大街第一小学", "S2", "东大街一小", "重庆市渝北区实验小学", "渝北实小", "花园苑小学",
         "花园园小学", "东大街中学", "渝北区英才学校（民办）", "火星小学", "金港学校"],
        schools, level="primary")
    assert got["school_id"].tolist() == ["S1", "S2", "S1", "S3", None, "S4", None, None, None,
                                         None, "S8"]
    assert got["method"].tolist()[:4] == ["exact", "id", "normalised", "normalised"]
    assert "学段不符" in got.at["东大街中学", "reason_zh"]
    assert "民办" in got.at["渝北区英才学校（民办）", "reason_zh"]
    assert "花园苑小学" in got.at["花园园小学", "candidates"]  # 花园苑 or 花园湾: refused
    assert got.at["火星小学", "candidates"]
    fuzzy = match_school_names(["渝北区东大街第一小校"], schools, level="primary")
    assert fuzzy["method"].iat[0] == "fuzzy" and fuzzy["school_id"].iat[0] == "S1"
    mapped = match_school_names(["火星小学"], schools, school_map={"火星小学": "S3"})
    assert mapped["school_id"].iat[0] == "S3" and mapped["method"].iat[0] == "map"
    with pytest.raises(ValidationError, match="S99"):
        match_school_names(["火星小学"], schools, school_map={"火星小学": "S99"})
    both = match_school_names(["东大街一小", "东大街第一小学"], schools, level="primary")
    assert "同一所学校" in both.at["东大街一小", "reason_zh"]


# --- the small demo: round trip, conflict, gap ---------------------------------------------------
@pytest.fixture(scope="module", params=["primary", "junior"])
def round_trip(request, small_demo):
    level = request.param
    text = zone_text_list(small_demo, level=level)
    return level, text, import_text(small_demo, text, level=level)


def test_round_trip_same_school_for_every_demo_address(small_demo, round_trip):
    """Publish the zones as text, import the text: every address keeps its school(s).

    The demo's zones are unions of whole parcels and every address has a road and number or a
    村 and 组, so the text form expresses every address: there is no exception to explain.
    """
    level, text, res = round_trip
    geo = _geo_schools(small_demo, level)
    ours = res.claims["school_ids"].fillna("")
    assert (geo != "").all()
    assert (ours == geo).all(), pd.concat([geo, ours], axis=1)[ours != geo].head()
    s = res.summary
    assert s["gaps"] == s["conflicts"] == s["clauses_unparsed"] == 0
    assert s["schools_unmatched"] == [] and s["addresses_placed"] == len(small_demo.addresses)
    # 多校划片: the same clauses under two schools make one shared zone
    assert s["addresses_shared"] > 0
    # and the derived zones put every address in a zone of the same school(s)
    new = res.dataset(small_demo)
    assert (_geo_schools(new, level) == geo).all()


def test_round_trip_zones_tile_and_validate(small_demo, round_trip):
    level, _, res = round_trip
    assert res.validation.ok, res.validation.errors
    assert res.validation.problems.empty or set(res.validation.problems["kind"]) <= {
        "school_outside_zone"}
    z = res.zones
    assert (z["level"] == level).all() and z.index.is_unique
    area = shapely.area(shapely.union_all(small_demo.district.geometry.values))
    assert z.area.sum() == pytest.approx(area, rel=1e-6)
    # a parcel lies wholly in its zone: the assignment is the largest-overlap assignment
    by_overlap = assign_parcels(small_demo.parcels, z, level=level)["zone_id"]
    assert (by_overlap == res.assignment.reindex(by_overlap.index)).all()
    old = small_demo.zones[small_demo.zones["level"] == level]
    # the district's zone ids are kept for the same schools
    assert set(z.index) == set(old.index)
    assert (z["school_ids"] == old["school_ids"].reindex(z.index)).all()
    plan = res.plan(author="张工")
    assert plan.level == level and plan.assignment.notna().all()
    assert sm.Simulator(small_demo, level=level).capacity(plan)["demand"].sum() > 0


def test_round_trip_through_the_file_formats(small_demo, tmp_path):
    """Export the plan as text, import the file again: the same assignment for every address.

    Parcels with addresses keep their zone. A parcel without any address (a plot being built, a
    school's own ground) is not in the text at all: it takes the zone of its nearest parcel that
    is, which may differ from the map's; such parcels are reported as ``source == "nearest"``.
    """
    plan = sm.current_plan(small_demo, level="primary")
    path = sm.export_plan(small_demo, plan, tmp_path / "plan.txt")
    res = import_text(small_demo, path, level="primary")
    assert (res.claims["school_ids"] == _geo_schools(small_demo, "primary")).all()
    got = res.assignment.reindex(plan.assignment.index)
    by_text = (res.parcels["source"] == "text").reindex(got.index).to_numpy()
    assert (got[by_text] == plan.assignment[by_text]).all()
    no_address = ~plan.assignment.index.isin(small_demo.addresses["parcel_id"])
    assert (~by_text == no_address).all()
    assert res.summary["parcels_nearest"] == int(no_address.sum())


def test_a_conflict_is_listed_with_its_clauses(small_demo):
    text = zone_text_list(small_demo, level="primary")
    lines = text.splitlines()
    first_school, first = lines[0].split(": ", 1)
    road = first.split("、")[0].split("（")[0]
    other = lines[5].split(": ", 1)[0]
    whole = f"{other}: {road}"
    res = import_text(small_demo, text + "\n" + whole, level="primary")
    c = res.conflicts
    on_road = small_demo.addresses["road"] == road
    assert len(c) == int(on_road.sum()) > 0
    assert set(c.index) == set(small_demo.addresses.index[on_road])
    if "（" in first.split("、")[0]:  # the road was split: its numbered clause is more specific
        assert (c["status"] == "resolved").all()
    else:  # the whole road under two schools, in different clauses... the same text: shared
        assert (res.claims.loc[c.index, "status"].isin(["resolved", "conflict"])).all()
    assert c["claimants"].str.contains(other).all()
    assert c["claimants"].str.contains(first_school).any()
    # each conflict names the address's own school (by the map) among the claimants
    geo = _geo_schools(small_demo, "primary")
    names = small_demo.schools["name"]
    for aid, row in c.iterrows():
        assert any(names[s] in row["claimants"] for s in geo[aid].split(";"))
    g = res.conflict_groups()
    assert g["addresses"].sum() == len(c) and g["example"].notna().all()


def test_equal_clauses_of_two_schools_are_an_unresolved_conflict(small_demo):
    text = zone_text_list(small_demo, level="primary")
    a = small_demo.addresses
    road = a.loc[a["road"] != "", "road"].value_counts().index[0]
    zid = Locator.from_zones(small_demo.zones, level="primary").locate(
        a.geometry.x.to_numpy(), a.geometry.y.to_numpy())
    on = (a["road"] == road).to_numpy()
    names = small_demo.schools["name"]
    mine = {names[s] for z in set(zid[on]) for s in small_demo.zones.at[z, "school_ids"].split(";")}
    other = next(n for n in names[small_demo.schools["level"] == "primary"] if n not in mine)
    text = re.sub(rf"(?m)^{re.escape(other)}: ", f"{other}: {road}（门牌号为单号）、", text)
    res = import_text(small_demo, text, level="primary")
    odd = on & (pd.to_numeric(a["road_no"]) % 2 == 1).to_numpy()
    st = res.claims.loc[odd, "status"]
    assert set(st) <= {"resolved", "conflict"} and len(st)
    # where the published clause is a 单号 range too, neither is more specific: unresolved
    unresolved = res.claims.loc[odd & (res.claims["status"] == "conflict").to_numpy()]
    assert unresolved["school_ids"].isna().all()
    assert res.summary["conflicts"] == len(st)
    assert res.validation.ok


def test_a_gap_is_listed_and_the_zones_still_tile(small_demo):
    text = zone_text_list(small_demo, level="primary")
    lines = text.splitlines()
    dropped = lines.pop(3)
    school = dropped.split(": ", 1)[0]
    res = import_text(small_demo, "\n".join(lines), level="primary")
    sid = small_demo.schools.index[small_demo.schools["name"] == school][0]
    geo = _geo_schools(small_demo, "primary")
    lost = geo == sid
    assert res.summary["gaps"] == int(lost.sum()) > 0
    assert set(res.gaps.index) == set(geo.index[lost])
    assert (res.claims.loc[lost, "status"] == "gap").all()
    # the rest keep their school
    assert (res.claims.loc[~lost, "school_ids"] == geo[~lost]).all()
    gg = res.gap_groups()
    assert gg["addresses"].sum() == int(lost.sum())
    assert gg["where"].notna().all()
    # no zone for the school; its parcels go to their nearest claimed neighbours (reported)
    assert sid not in set(";".join(res.zones["school_ids"]).split(";"))
    gone = res.parcels.loc[res.parcels.index.isin(res.gaps["parcel_id"])]
    assert (gone["source"] == "nearest").all()
    assert res.validation.ok, res.validation.errors


def test_text_only_address_table_gives_the_same_claims(small_demo):
    text = parse_text_list(zone_text_list(small_demo, level="primary"))
    names = match_school_names(text.schools, small_demo.schools, level="primary")
    ids = names["school_id"].to_dict()
    with_cols = claim_addresses(text.rules, small_demo.addresses, school_ids=ids)
    bare = small_demo.addresses[["address"]]
    text_only = claim_addresses(text.rules, bare, school_ids=ids)
    assert (with_cols["school_ids"] == text_only["school_ids"]).all()


def test_indexed_claims_equal_naive_matching_on_a_sample(small_demo):
    """Every address of a sample against every rule with match_rules, one by one."""
    text = zone_text_list(small_demo, level="primary")
    a = small_demo.addresses
    est = a.loc[a["estate"] != ""].drop_duplicates("estate").iloc[:40]
    extra = "某某学校: " + "、".join([*est["estate"], *(f"{e}（1-2栋）" for e in est["estate"][:10]),
                                    est["street"].iat[0], *est["road"][:5]])
    t = parse_text_list(text + "\n" + extra)
    sample = a.iloc[np.random.default_rng(1).choice(len(a), 500, replace=False)]
    sample = pd.concat([sample, a.loc[a["estate"].isin(est["estate"])].iloc[:100]])
    sample = sample[~sample.index.duplicated()]
    bare = sample[["address"]]
    claims = claim_addresses(t.rules, bare)
    roads = frozenset(r.road for r in t.rules if r.road)
    estates = frozenset(r.area for r in t.rules if r.kind == "estate")
    for aid, text_ in bare["address"].items():
        naive = {r.school for r in match_rules(t.rules, parse_address(text_, roads=roads,
                                                                        estates=estates))}
        row = claims.loc[aid]
        if row["claimants"] is not None:
            ours = {c.split("：", 1)[0] for c in row["claimants"].split("；")}
        elif row["schools"] is not None:
            ours = set(row["schools"].split("、"))
        else:
            ours = set()
        assert ours == naive, (text_, ours, naive)


def test_save_replaces_the_level_atomically_with_an_audit_entry(small_demo_path, tmp_path):
    path = tmp_path / "store.gpkg"
    shutil.copy(small_demo_path, path)
    store = GeoPackageStore(path)
    ds = store.load()
    lines = zone_text_list(ds, level="primary").splitlines()
    res = import_text(ds, "\n".join(lines[:-1]), level="primary")
    res.save(store, ds, actor="张工")
    back = store.load()
    assert set(back.zones.index[back.zones["level"] == "primary"]) == set(res.zones.index)
    junior = ds.zones[ds.zones["level"] == "junior"]
    assert back.zones.loc[junior.index, "school_ids"].equals(junior["school_ids"])
    assert len(back.addresses) == len(ds.addresses)
    log = store.audit_log()
    assert log["actor"].iat[-1] == "张工"
    assert json.loads(log["detail"].iat[-1])["import_text"] == "primary"
    assert store.verify_audit().ok


def test_import_text_refuses_what_it_cannot_use(small_demo):
    with pytest.raises(ValidationError, match="level"):
        import_text(small_demo, "甲小学: 长安路", level="high")
    with pytest.raises(ValidationError, match="no clause of the list claims any address"):
        import_text(small_demo, "甲小学: 火星路、水星村")


# --- plans from files ----------------------------------------------------------------------------
def test_gbk_shapefile_plan_round_trip(small_demo, tmp_path):
    plan = sm.current_plan(small_demo, level="primary")
    shp = sm.export_plan(small_demo, plan, tmp_path / "片区.shp")
    assert (tmp_path / "片区.cpg").read_text() == "GBK"
    dbf = (tmp_path / "片区.dbf").read_bytes()
    name = plan.zones["name"].iat[0]
    assert name.encode("gbk") in dbf and name.encode("utf-8") not in dbf
    res = import_plan(small_demo, shp, level="primary")
    assert res.summary["school_column"] == "school_ids" and res.summary["zone_column"] == "zone_id"
    assert res.unmatched.empty and res.validation.ok
    got = res.plan.assignment.reindex(plan.assignment.index)
    assert (got == plan.assignment).all()
    assert set(res.plan.zones.index) == set(plan.zones.index)
    assert (res.plan.zones["name"] == plan.zones["name"].reindex(res.plan.zones.index)).all()
    gj = sm.export_plan(small_demo, res.plan, tmp_path / "plan.geojson")
    again = import_plan(small_demo, gj, level="primary")
    assert (again.plan.assignment.reindex(got.index) == got).all()


def test_gis_office_shapefile_gcj02_names_and_what_did_not_match(small_demo, tmp_path):
    """A layer drawn on Amap (GCJ-02 lon/lat), GBK without .cpg, school names not ids."""
    zones = small_demo.zones[small_demo.zones["level"] == "junior"]
    names = small_demo.schools["name"]

    def to_gcj(g):
        return shapely.transform(g, lambda xy: np.column_stack(
            from_working(xy[:, 0], xy[:, 1], target="gcj02")))

    value = ["、".join(names[s].removeprefix("渝北区") for s in ids.split(";"))
             for ids in zones["school_ids"]]
    value[0] = "火星中学"
    private = small_demo.schools[small_demo.schools["ownership"] != "public"]
    office = gpd.GeoDataFrame({
        "片区名称": [f"第{i + 1}片区" for i in range(len(zones))], "学校名称": value,
        "学段": "初中"}, geometry=[to_gcj(g) for g in zones.geometry.values], crs="EPSG:4326")
    if len(private):
        office.loc[len(office)] = {"片区名称": "民办", "学校名称": private["name"].iat[0],
                                   "学段": "初中", "geometry": office.geometry.iat[1]}
    office.loc[len(office)] = {"片区名称": "小学片区", "学校名称": "不相干", "学段": "小学",
                               "geometry": office.geometry.iat[2]}
    path = tmp_path / "office.shp"
    office.to_file(path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    # read as the file says (WGS-84), the zones sit ~500 m off: the report says which datum fits
    wrong = import_plan(small_demo, path, level="junior")
    assert "gcj02" in wrong.summary["hint_zh"] and not wrong.validation.ok
    res = import_plan(small_demo, path, level="junior", source="gcj02")
    s = res.summary
    assert s["hint_zh"] is None
    assert s["school_column"] == "学校名称" and s["features_other_level"] == 1
    assert "火星中学" in res.unmatched.index
    assert res.features["zone_id"].isna().sum() == s["features_dropped"] >= 1
    # the matched zones keep the district's ids and put parcels where the original does
    cur = sm.current_plan(small_demo, level="junior").assignment
    got = res.plan.assignment
    lost_zone = zones.index[0]
    keep = (cur != lost_zone).to_numpy()
    same = (got.reindex(cur.index)[keep] == cur[keep]).mean()
    assert same > 0.99
    assert got.reindex(cur.index)[~keep].isna().all()  # the unmatched zone's parcels: unzoned
    assert s["parcels_unzoned"] == int((~keep).sum())
    assert not res.validation.ok and "unzoned_parcel" in s["problems"]
    mapped = import_plan(small_demo, path, level="junior", source="gcj02",
                         school_map={"火星中学": zones["school_ids"].iat[0].split(";")[0]})
    assert mapped.unmatched.index.tolist() == [n for n in res.unmatched.index if n != "火星中学"]
    with pytest.raises(ValidationError, match="no column"):
        import_plan(small_demo, path, level="junior", school_column="学校")


# --- the command line ----------------------------------------------------------------------------
def _users(path, *users):
    from zoning.auth import add_user

    admin = add_user(GeoPackageStore(path), "root", role="admin", password="pw-0123456789")
    for name, role in users:
        add_user(GeoPackageStore(path), name, role=role, password="pw-0123456789", by=admin)


def test_cli_import_text(small_demo_path, tmp_path, monkeypatch):
    store = tmp_path / "store.gpkg"
    shutil.copy(small_demo_path, store)
    # replacing the zones in force is the approver's (seeds 000 五(一))
    _users(store, ("张工", "approver"))
    monkeypatch.setenv("ZONING_PASSWORD", "pw-0123456789")
    text = tmp_path / "list.txt"
    ok = runner.invoke(app, ["publish", "--data", str(store), "--out", str(text)])
    assert ok.exit_code == 0, ok.output
    res = runner.invoke(app, ["import-text", "--data", str(store), "--text", str(text), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["summary"]["gaps"] == 0 and out["summary"]["valid"]
    assert set(out) >= {"summary", "schools", "unparsed", "conflicts", "gaps", "validation"}
    body = text.read_text(encoding="utf-8").splitlines()
    text.write_text("\n".join(body[1:]) + "\n火星小学: 某某路以西、长安路\n", encoding="utf-8")
    bad = runner.invoke(app, ["import-text", "--data", str(store), "--text", str(text),
                              "--out", str(tmp_path / "z.shp"), "--save", "--actor", "张工"])
    assert bad.exit_code == 1, bad.output
    for words in ("无法识别的条目", "未能对应的学校名称", "未覆盖的地址", "火星小学", "校验通过",
                  "已保存到"):
        assert words in bad.output
    assert (tmp_path / "z.cpg").read_text() == "GBK"
    assert runner.invoke(app, ["validate", str(store)]).exit_code == 0
    assert GeoPackageStore(store).audit_log()["actor"].iat[-1] == "张工"
    missing = runner.invoke(app, ["import-text", "--data", str(store), "--text",
                                  str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    bad_map = runner.invoke(app, ["import-text", "--data", str(store), "--text", str(text),
                                  "--map", "火星小学"])
    assert bad_map.exit_code == 2


def test_cli_import_and_export_plan(small_demo_path, tmp_path, monkeypatch):
    store = tmp_path / "store.gpkg"
    shutil.copy(small_demo_path, store)
    _users(store, ("李工", "planner"))
    monkeypatch.setenv("ZONING_PASSWORD", "pw-0123456789")
    shp, txt = tmp_path / "plan.shp", tmp_path / "plan.txt"
    res = runner.invoke(app, ["export-plan", "--data", str(store), "--out", str(shp),
                              "--out", str(txt)])
    assert res.exit_code == 0, res.output
    assert shp.with_suffix(".cpg").read_text() == "GBK" and "：" not in txt.read_text("utf-8")[:0]
    res = runner.invoke(app, ["import-plan", "--data", str(store), "--file", str(shp), "--save",
                              "--actor", "李工", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["summary"]["valid"] and out["saved"]
    plans = sm.list_plans(GeoPackageStore(store))
    assert out["plan_id"] in set(plans["plan_id"])
    again = runner.invoke(app, ["export-plan", "--data", str(store), "--plan", out["plan_id"],
                                "--out", str(tmp_path / "again.geojson"), "--user", "李工"])
    assert again.exit_code == 0, again.output
    people = runner.invoke(app, ["import-plan", "--data", str(store), "--file", str(shp)])
    assert people.exit_code == 0 and "学校列: school_ids" in people.output


def test_doctests():
    import doctest

    import zoning.textimport

    failed, tried = doctest.testmod(zoning.textimport)
    assert tried and not failed
