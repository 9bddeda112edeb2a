"""Tests for zoning.unitcode: 不动产单元号 (GB/T 37346-2019)."""

from __future__ import annotations

import re
import string

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoning import unitcode
from zoning.errors import UnitCodeError, ZoningError
from zoning.unitcode import (
    COUNTIES,
    EDUCATION_DISTRICTS,
    UnitCode,
    county_name,
    format_code,
    is_valid,
    normalize,
    parse,
    parse_many,
)

GOOD = "500112001002GB00012F00010203"
CJK = re.compile(r"[\u4e00-\u9fff]")

# Character class of each 1-based position of a 28-character code.
DIGIT_POSITIONS = [*range(1, 13), *range(15, 20), *range(21, 29)]
LETTER_SETS = {13: "GJZ", 14: "ABSXCDEFLNHGWY", 20: "FLQW"}
ALNUM = string.digits + string.ascii_uppercase


def allowed_at(position: int) -> str:
    return LETTER_SETS.get(position, string.digits)


def replaced(code: str, position: int, ch: str) -> str:
    return code[: position - 1] + ch + code[position:]


def assert_error(code, position, *fragments, allow_parcel=False):
    with pytest.raises(UnitCodeError) as info:
        parse(code, allow_parcel=allow_parcel)
    err = info.value
    assert err.position == position, (str(err), err.position)
    for fragment in fragments:
        assert fragment in str(err) or fragment in err.message_zh, (fragment, str(err))
    assert CJK.search(err.message_zh), err.message_zh
    assert err.message_zh != str(err)
    return err


# --- hand examples ---------------------------------------------------------------------------


def test_parse_hand_example():
    u = parse(GOOD)
    assert (
        u.county,
        u.cadastral_zone,
        u.cadastral_subzone,
        u.parcel_type,
        u.parcel_seq,
        u.building_type,
        u.building_seq,
    ) == ("500112", "001", "002", "GB", "00012", "F", "00010203")
    assert u.code == str(u) == GOOD
    assert u.parcel_code == GOOD[:19] == "500112001002GB00012"
    assert u.county_name == "渝北区"
    assert not u.is_parcel_only
    assert u.ownership == "国有土地"
    assert u.use_right == "建设用地使用权宗地（地表）"
    assert u.building_kind == "房屋等建筑物、构筑物"
    text = u.explain()
    assert "渝北区" in text
    assert "第001地籍区" in text and "第002地籍子区" in text
    assert "第00012号" in text and "单元00010203" in text
    assert "国有" in text and "房屋" in text


def test_explain_variants():
    assert "无定着物" in parse("500112001002JC00012W00000000").explain()
    assert "宅基地" in parse("500112001002JC00012W00000000").explain()
    # Collective ownership parcel: no doubled "集体集体".
    assert "集体集体" not in parse("500112001002JA00001W00000000").explain()
    assert "集体土地所有权宗地" in parse("500112001002JA00001W00000000").explain()
    # Outside Chongqing: no name, the code instead.
    assert "区县代码110101" in parse("110101001002GB00012F00010203").explain()
    assert "宗地代码" in parse(GOOD[:19], allow_parcel=True).explain()


def test_unitcode_is_frozen_and_hashable():
    u = parse(GOOD)
    with pytest.raises(AttributeError):
        u.county = "500101"  # type: ignore[misc]
    assert {u, parse(GOOD)} == {u}


def test_error_class():
    with pytest.raises(ValueError):
        parse("nope")
    with pytest.raises(ZoningError):
        parse("nope")


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        GOOD,
        f"  {GOOD}\n",
        "500112 001002 GB00012 F00010203",
        "500112-001-002-GB-00012-F-0001-0203",
        "500112_001002_GB00012_F00010203",
        "500112–001002—GB00012－F00010203",
        "５００１１２００１００２ＧＢ０００１２Ｆ０００１０２０３",
        "５００１１２\u3000００１００２　ｇｂ００ ０１２ｆ０００１０２０３",
        "500112001002gb00012f00010203",
        "500112\u200b001002GB00012F00010203\ufeff",
    ],
)
def test_normalisation_variants_parse_to_same_code(typed):
    assert normalize(typed) == GOOD
    assert parse(typed).code == GOOD
    assert is_valid(typed)


def test_normalize_rejects_non_string():
    with pytest.raises(UnitCodeError):
        normalize(500112)  # type: ignore[arg-type]


@given(st.text())
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


# --- length errors -----------------------------------------------------------------------------


def test_27_characters():
    err = assert_error(GOOD[:-1], 28, "28", "27", "one character missing")
    assert "28位" in err.message_zh and "27位" in err.message_zh and "少了1位" in err.message_zh


def test_29_characters():
    err = assert_error(GOOD + "4", 29, "28", "29", "one character too many")
    assert "多了1位" in err.message_zh


def test_empty_and_very_short():
    assert_error("", 1, "empty")
    assert_error("   -- ", 1, "empty")
    assert_error("5001", 5, "24 characters missing")


def test_parcel_code_needs_allow_parcel():
    err = assert_error(GOOD[:19], 20, "19-character 宗地代码", "28-character 不动产单元号")
    # seeds 002 Q15: tell the parent where to find the 不动产单元号.
    assert "渝快办" in err.message_zh
    assert "我的—不动产—我的不动产—不动产单元号" in err.message_zh
    assert "渝快办" in str(err)
    assert not is_valid(GOOD[:19])


def test_parcel_code_with_allow_parcel():
    u = parse(GOOD[:19], allow_parcel=True)
    assert u.is_parcel_only
    assert u.code == u.parcel_code == GOOD[:19]
    assert u.building_type == u.building_seq == ""
    assert u.building_kind is None
    assert u.county_name == "渝北区"
    assert is_valid(GOOD[:19], allow_parcel=True)
    # A full code is still accepted with allow_parcel.
    assert parse(GOOD, allow_parcel=True).code == GOOD


def test_invalid_19_characters_is_a_length_error_unless_parcels_allowed():
    bad = "50011200100AGB00012"
    assert_error(bad, 20, "28", "19")
    assert_error(bad, 12, "地籍子区 cadastral subzone (positions 10–12)", allow_parcel=True)


def test_length_error_with_allow_parcel_names_both_lengths():
    err = assert_error(GOOD[:18], 19, "28", "19", "18", allow_parcel=True)
    assert "宗地代码" in err.message_zh


# --- character errors ----------------------------------------------------------------------------


def test_letter_in_county():
    err = assert_error(replaced(GOOD, 4, "A"), 4, "区县代码", "positions 1–6", "'A'")
    assert err.message_zh.startswith("第4位应为数字")


def test_letter_in_cadastral_subzone():
    err = assert_error(replaced(GOOD, 11, "X"), 11, "地籍子区", "(positions 10–12)", "'X'")
    assert "第11位应为数字（地籍子区，第10–12位），实际是“X”" in err.message_zh


def test_letter_in_cadastral_zone_and_sequences():
    assert_error(replaced(GOOD, 8, "B"), 8, "地籍区", "positions 7–9")
    assert_error(replaced(GOOD, 17, "Q"), 17, "宗地顺序号", "positions 15–19")
    assert_error(replaced(GOOD, 25, "Z"), 25, "定着物单元顺序号", "positions 21–28")


def test_letter_o_for_zero_gets_a_hint():
    err = assert_error(replaced(GOOD, 16, "O"), 16, "not the digit 0")
    assert "数字0" in err.message_zh


def test_wrong_ownership_letter():
    err = assert_error(replaced(GOOD, 13, "K"), 13, "G, J or Z", "'K'")
    assert err.message_zh == (
        "第13位应为字母G、J或Z（土地所有权类型），实际是“K”。请对照不动产权证书重新输入。"
    )
    err = assert_error(replaced(GOOD, 13, "1"), 13)
    assert "实际是“1”" in err.message_zh


def test_wrong_use_right_letter():
    # Z is an ownership letter, not a use-right letter.
    err = assert_error(replaced(GOOD, 14, "Z"), 14, "'Z'", "use-right")
    assert "宗地使用权类型" in err.message_zh
    assert_error(replaced(GOOD, 14, "5"), 14)


@pytest.mark.parametrize("letter", list("ABSXCDEFLNHGWY"))
def test_every_use_right_letter_is_accepted(letter):
    u = parse(replaced(GOOD, 14, letter))
    assert u.use_right
    assert u.explain()


@pytest.mark.parametrize("letter", list("GJZ"))
def test_every_ownership_letter_is_accepted(letter):
    assert parse(replaced(GOOD, 13, letter)).ownership


def test_wrong_fixture_letter():
    err = assert_error(replaced(GOOD, 20, "A"), 20, "F, L, Q or W")
    assert "定着物类型" in err.message_zh


def test_no_fixture_needs_zero_sequence():
    # 'W' with 00010203: the first non-zero digit is at position 24.
    err = assert_error(replaced(GOOD, 20, "W"), 24, "'W'", "00000000")
    assert "应全为0" in err.message_zh
    assert parse("500112001002GB00012W00000000").building_kind == "无定着物"


@pytest.mark.parametrize("kind", list("FLQ"))
def test_fixture_needs_nonzero_sequence(kind):
    err = assert_error(f"500112001002GB00012{kind}00000000", 21, "00000000")
    assert "不能全为0" in err.message_zh
    assert parse(f"500112001002GB00012{kind}00000001").building_type == kind


def test_first_problem_is_reported():
    # Two problems: the earlier position wins.
    code = replaced(replaced(GOOD, 20, "A"), 8, "B")
    assert_error(code, 8)


def test_non_printable_character_is_shown_by_code_point():
    err = assert_error(replaced(GOOD, 10, "\x07"), 10, "U+0007")
    assert "U+0007" in err.message_zh


def test_non_string_input():
    for value in (None, 500112001002, 1.5, b"500112001002GB00012F00010203", ["x"]):
        with pytest.raises(UnitCodeError) as info:
            parse(value)  # type: ignore[arg-type]
        assert info.value.position is None
        assert CJK.search(info.value.message_zh)


# --- county codes ---------------------------------------------------------------------------------


def test_counties_table():
    assert len(COUNTIES) == 38
    assert len(set(COUNTIES.values())) == 38
    assert all(re.fullmatch(r"50\d{4}", k) for k in COUNTIES)
    assert sum(v.endswith("区") for v in COUNTIES.values()) == 26
    assert sum(v.endswith("县") for v in COUNTIES.values()) == 12
    assert COUNTIES["500101"] == "万州区"
    assert COUNTIES["500156"] == "武隆区"
    assert COUNTIES["500243"] == "彭水苗族土家族自治县"
    # 38 + 3 education districts = the 41 区县 of Chongqing's enrolment.
    assert len(EDUCATION_DISTRICTS) == 3
    assert not set(EDUCATION_DISTRICTS) & set(COUNTIES.values())


def test_county_name():
    assert county_name("500112") == "渝北区"
    assert county_name(500112) == "渝北区"
    assert county_name("500233") == "忠县"
    assert county_name("110101") is None  # Beijing: valid, no name
    assert county_name("820000") is None
    assert county_name("500199") is None  # Chongqing prefix, not a current county


@pytest.mark.parametrize(("code6", "position"), [("000000", 1), ("990000", 1), ("590000", 2)])
def test_county_name_rejects_impossible_province(code6, position):
    with pytest.raises(UnitCodeError) as info:
        county_name(code6)
    assert info.value.position == position
    assert "province prefix" in str(info.value)
    assert "区县代码" in info.value.message_zh


@pytest.mark.parametrize("bad", ["50011", "5001120", "50011A", None])
def test_county_name_rejects_malformed(bad):
    with pytest.raises(UnitCodeError):
        county_name(bad)  # type: ignore[arg-type]


def test_other_province_code_parses_without_name():
    u = parse("440305001002GB00012F00010203")
    assert u.county == "440305"
    assert u.county_name is None


@pytest.mark.parametrize(("county", "position"), [("000000", 1), ("990000", 1), ("160000", 2)])
def test_bad_province_prefix_in_code(county, position):
    err = assert_error(county + GOOD[6:], position, "province prefix", "Chongqing is 50")
    assert "重庆为50" in err.message_zh


# --- UnitCode and format_code ---------------------------------------------------------------------


def test_unitcode_validates_fields():
    fields = dict(
        county="500112",
        cadastral_zone="001",
        cadastral_subzone="002",
        parcel_type="GB",
        parcel_seq="00012",
        building_type="F",
        building_seq="00010203",
    )
    assert UnitCode(**fields).code == GOOD
    for name, bad in [
        ("county", "50011"),
        ("county", 500112),
        ("cadastral_zone", "01"),
        ("parcel_type", "gb"),
        ("parcel_type", "GK"),
        ("parcel_seq", "0001A"),
        ("building_seq", "0001020"),
        ("building_seq", "00000000"),
    ]:
        with pytest.raises(UnitCodeError):
            UnitCode(**{**fields, name: bad})
    with pytest.raises(UnitCodeError):
        UnitCode(**{**fields, "building_type": ""})  # seq without type
    with pytest.raises(UnitCodeError):
        UnitCode(**{**fields, "building_seq": ""})  # type without seq
    assert UnitCode(**{**fields, "building_type": "", "building_seq": ""}).is_parcel_only


def test_format_code():
    assert format_code(500112, 1, 2, "GB", 12, "F", 10203) == GOOD
    assert format_code("500112", "001", "002", "GB", "00012", "F", "00010203") == GOOD
    assert format_code(500112, 1, 2, "GB", 12) == GOOD[:19]
    assert format_code(500112, 1, 2, "GB", 12, "W") == "500112001002GB00012W00000000"
    assert format_code(500112, 1, 2, "GB", 12, "W", 0) == "500112001002GB00012W00000000"
    for args in [
        (500112, 1000, 2, "GB", 12, "F", 1),  # 地籍区 too big
        (500112, -1, 2, "GB", 12, "F", 1),
        (500112, 1, 2, "GB", 12, "F", 0),  # F with zero sequence
        (990000, 1, 2, "GB", 12, "F", 1),
        (500112, 1, 2, "GB", 1.5, "F", 1),
        (500112, True, 2, "GB", 12, "F", 1),
    ]:
        with pytest.raises(UnitCodeError):
            format_code(*args)


# --- hypothesis -----------------------------------------------------------------------------------

PROVINCES = sorted(unitcode._PROVINCES)


@st.composite
def unit_fields(draw, parcel_only=False):
    county = draw(
        st.one_of(
            st.sampled_from(sorted(COUNTIES)),
            st.builds(
                lambda p, n: p + f"{n:04d}",
                st.sampled_from(PROVINCES),
                st.integers(0, 9999),
            ),
        )
    )
    fields = dict(
        county=county,
        cadastral_zone=f"{draw(st.integers(0, 999)):03d}",
        cadastral_subzone=f"{draw(st.integers(0, 999)):03d}",
        parcel_type=draw(st.sampled_from("GJZ")) + draw(st.sampled_from("ABSXCDEFLNHGWY")),
        parcel_seq=f"{draw(st.integers(0, 99999)):05d}",
        building_type="",
        building_seq="",
    )
    if not parcel_only:
        kind = draw(st.sampled_from("FLQW"))
        seq = 0 if kind == "W" else draw(st.integers(1, 99_999_999))
        fields.update(building_type=kind, building_seq=f"{seq:08d}")
    return fields


def join(fields):
    return "".join(fields[k] for k in unitcode.UnitCode.__dataclass_fields__)


valid_codes = unit_fields().map(join)


@given(unit_fields())
def test_round_trip(fields):
    code = join(fields)
    u = parse(code)
    assert u.code == code
    assert len(code) == 28
    assert format_code(**fields) == code
    assert parse(u.code) == u
    assert UnitCode(**fields) == u
    assert u.parcel_code == code[:19]
    assert is_valid(code)


@given(unit_fields(parcel_only=True))
def test_round_trip_parcel(fields):
    code = join(fields)
    assert parse(code, allow_parcel=True).code == code
    assert format_code(**fields) == code
    assert not is_valid(code)


@given(unit_fields(), st.sampled_from(["lower", "spaced", "fullwidth", "dashed"]))
def test_round_trip_through_sloppy_typing(fields, style):
    code = join(fields)
    typed = {
        "lower": code.lower(),
        "spaced": " ".join([code[:6], code[6:12], code[12:19], code[19:]]),
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in code),
        "dashed": "-".join(code[i : i + 4] for i in range(0, 28, 4)),
    }[style]
    assert parse(typed).code == code


@given(valid_codes, st.integers(1, 28), st.sampled_from(ALNUM))
def test_single_substitution(code, position, ch):
    original = code[position - 1]
    if ch == original:
        return
    corrupted = replaced(code, position, ch)
    if ch not in allowed_at(position):
        # A character outside its position's class is always rejected, at that position.
        with pytest.raises(UnitCodeError) as info:
            parse(corrupted)
        assert info.value.position == position
        assert not is_valid(corrupted)
    else:
        try:
            u = parse(corrupted)
        except UnitCodeError as err:
            # Allowed class but still wrong: province prefix or the 定着物 pair.
            assert err.position in (1, 2) or err.position >= 20
        else:
            assert u.code == corrupted != code


@given(valid_codes, st.integers(0, 27))
def test_single_deletion_is_rejected(code, index):
    corrupted = code[:index] + code[index + 1 :]
    with pytest.raises(UnitCodeError) as info:
        parse(corrupted)
    assert info.value.position == 28
    assert not is_valid(corrupted, allow_parcel=True)


@given(valid_codes, st.integers(0, 28), st.sampled_from(ALNUM))
def test_single_insertion_is_rejected(code, index, ch):
    assert not is_valid(code[:index] + ch + code[index:], allow_parcel=True)


near_valid = st.one_of(
    # Valid codes with a few characters replaced by anything, including non-ASCII digits.
    st.tuples(
        valid_codes,
        st.lists(
            st.tuples(st.integers(0, 27), st.sampled_from(ALNUM + "٣①a ")),
            max_size=3,
        ),
    ).map(lambda t: _apply(*t)),
    st.text(alphabet=ALNUM, min_size=28, max_size=28),
)


def _apply(code, edits):
    for i, ch in edits:
        code = code[:i] + ch + code[i + 1 :]
    return code


@settings(max_examples=300)
@given(near_valid)
def test_fast_path_agrees_with_reference(code):
    # The regex fast path and the position-by-position check define the same set.
    regex_ok = unitcode._UNIT_RE.fullmatch(code) is not None
    reference_ok = unitcode._first_problem(code) is None
    assert regex_ok == reference_ok
    parcel = code[:19]
    assert (unitcode._PARCEL_RE.fullmatch(parcel) is not None) == (
        unitcode._first_problem(parcel) is None
    )


@given(st.text())
def test_is_valid_never_raises_on_text(text):
    assert is_valid(text) in (True, False)
    assert is_valid(text, allow_parcel=True) in (True, False)


@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.integers())))
def test_is_valid_non_string_is_false(value):
    assert is_valid(value) is False


@given(st.text(max_size=40))
def test_parse_raises_only_unitcode_error(text):
    try:
        parse(text, allow_parcel=True)
    except UnitCodeError as err:
        assert err.message_zh
        assert err.position is None or 1 <= err.position <= 29


# --- parse_many -----------------------------------------------------------------------------------


def test_parse_many_mixed():
    codes = [
        GOOD,
        " 500112-001002-gb00012-f00010203 ",
        "bad",
        None,
        GOOD[:19],
        replaced(GOOD, 13, "K"),
        "110101001002JC00001W00000000",
    ]
    df = parse_many(codes)
    assert list(df.columns) == ["code", "valid", "error", "error_zh", "parcel_code", "county"]
    assert df.index.tolist() == list(range(len(codes)))
    assert df["valid"].dtype == bool
    assert df["valid"].tolist() == [True, True, False, False, False, False, True]
    assert df.loc[1, "code"] == GOOD
    assert df.loc[2, "code"] == "BAD"
    assert df.loc[3, "code"] is None
    assert df.loc[0, "parcel_code"] == GOOD[:19]
    assert df.loc[0, "county"] == "500112"
    assert df.loc[6, "county"] == "110101"
    assert df.loc[0, "error"] is None and df.loc[0, "error_zh"] is None
    assert df.loc[5, "parcel_code"] is None and df.loc[5, "county"] is None
    assert "position 13" in df.loc[5, "error"]
    assert df.loc[5, "error_zh"].startswith("第13位")
    assert "渝快办" in df.loc[4, "error_zh"]
    for i in (2, 3, 4, 5):
        assert CJK.search(df.loc[i, "error_zh"])


def test_parse_many_allow_parcel_and_series_index():
    s = pd.Series([GOOD[:19], GOOD, "x"], index=["a", "b", "c"])
    df = parse_many(s, allow_parcel=True)
    assert df.index.tolist() == ["a", "b", "c"]
    assert df["valid"].tolist() == [True, True, False]
    assert df.loc["a", "parcel_code"] == GOOD[:19]


def test_parse_many_empty_and_generator():
    df = parse_many([])
    assert len(df) == 0 and df["valid"].dtype == bool
    df = parse_many(c for c in [GOOD, "nope"])
    assert df["valid"].tolist() == [True, False]


@settings(max_examples=50)
@given(st.lists(st.one_of(valid_codes, st.text(max_size=30)), max_size=20))
def test_parse_many_agrees_with_is_valid(codes):
    df = parse_many(codes)
    assert df["valid"].tolist() == [is_valid(c) for c in codes]
    for c, (_, row) in zip(codes, df.iterrows(), strict=True):
        if row["valid"]:
            assert row["code"] == parse(c).code
            assert row["parcel_code"] == parse(c).parcel_code
        else:
            assert row["error"] and row["error_zh"]


def test_parse_many_many_codes():
    codes = [format_code(500112, i % 50, i % 7, "GB", i, "F", i + 1) for i in range(20_000)]
    df = parse_many(codes + ["bad"])
    assert df["valid"].sum() == 20_000
    assert not df["valid"].iloc[-1]
