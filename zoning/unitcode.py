"""不动产单元号 (real-estate unit code): parse, validate and explain.

The code is defined by GB/T 37346-2019《不动产单元设定与代码编制规则》(Rules for real-estate
unit setting and coding), section 8 and its code tables. A 不动产单元号 has 28 characters::

    500112 001 002 GB 00012 F 00010203
    |      |   |   |  |     | +-- 定着物单元顺序号, 8 digits (positions 21-28)
    |      |   |   |  |     +---- 定着物特征码, F/L/Q/W (position 20)
    |      |   |   |  +---------- 宗地顺序号, 5 digits (positions 15-19)
    |      |   |   +------------- 宗地特征码: ownership G/J/Z + use right (positions 13-14)
    |      |   +----------------- 地籍子区, 3 digits (positions 10-12)
    |      +--------------------- 地籍区, 3 digits (positions 7-9)
    +---------------------------- 县级行政区划代码 (GB/T 2260), 6 digits (positions 1-6)

The first 19 characters are the 宗地代码 (parcel code). A parcel with no fixture has 定着物特征码
``W`` and 定着物单元顺序号 ``00000000``; any other fixture type needs a non-zero number.

Parents type this code by hand from their 不动产权证书 when they register for school (seeds 002
Q15), so every error says, in English and in plain Chinese, which position is wrong, what was found
and what is allowed. Input is normalised first: full-width characters, spaces, dashes and
lower-case letters are all forgiven.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zoning.errors import UnitCodeError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COUNTIES",
    "EDUCATION_DISTRICTS",
    "UnitCode",
    "county_name",
    "format_code",
    "is_valid",
    "normalize",
    "parse",
    "parse_many",
]

#: Chongqing's 38 county-level divisions (GB/T 2260 codes): 26 districts and 12 counties.
COUNTIES: dict[str, str] = {
    "500101": "万州区",
    "500102": "涪陵区",
    "500103": "渝中区",
    "500104": "大渡口区",
    "500105": "江北区",
    "500106": "沙坪坝区",
    "500107": "九龙坡区",
    "500108": "南岸区",
    "500109": "北碚区",
    "500110": "綦江区",
    "500111": "大足区",
    "500112": "渝北区",
    "500113": "巴南区",
    "500114": "黔江区",
    "500115": "长寿区",
    "500116": "江津区",
    "500117": "合川区",
    "500118": "永川区",
    "500119": "南川区",
    "500120": "璧山区",
    "500151": "铜梁区",
    "500152": "潼南区",
    "500153": "荣昌区",
    "500154": "开州区",
    "500155": "梁平区",
    "500156": "武隆区",
    "500229": "城口县",
    "500230": "丰都县",
    "500231": "垫江县",
    "500233": "忠县",
    "500235": "云阳县",
    "500236": "奉节县",
    "500237": "巫山县",
    "500238": "巫溪县",
    "500240": "石柱土家族自治县",
    "500241": "秀山土家族苗族自治县",
    "500242": "酉阳土家族苗族自治县",
    "500243": "彭水苗族土家族自治县",
}

#: Education districts that run their own enrolment but are not administrative divisions, so they
#: have no GB/T 2260 code: Chongqing organises enrolment in 41 区县 = the 38 in :data:`COUNTIES`
#: plus these 3. They are for naming only: land in them is registered under the code of the
#: county-level division it lies in, so a 不动产单元号 never carries one of them.
EDUCATION_DISTRICTS: tuple[str, ...] = ("两江新区", "西部科学城重庆高新区", "万盛经开区")

# GB/T 2260 province-level prefixes (the first two digits of any county code).
_PROVINCES = frozenset(
    [f"1{d}" for d in "12345"]
    + [f"2{d}" for d in "123"]
    + [f"3{d}" for d in "1234567"]
    + [f"4{d}" for d in "123456"]
    + [f"5{d}" for d in "01234"]
    + [f"6{d}" for d in "12345"]
    + ["71", "81", "82"]
)
_PROVINCE_FIRST = frozenset(p[0] for p in _PROVINCES)
_PROVINCES_EN = "11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71, 81 or 82"

# GB/T 37346-2019 8.6 code tables. Labels are the standard's wording, shortened where it is long.
_OWNERSHIP = {  # letter: (label, prefix used in explain())
    "G": ("国有土地", "国有"),
    "J": ("集体土地", "集体"),
    "Z": ("土地所有权有争议", "所有权争议的"),
}
_USE_RIGHT = {
    "A": "集体土地所有权宗地",
    "B": "建设用地使用权宗地（地表）",
    "S": "建设用地使用权宗地（地上）",
    "X": "建设用地使用权宗地（地下）",
    "C": "宅基地使用权宗地",
    "D": "土地承包经营权宗地（耕地）",
    "E": "土地承包经营权宗地（林地）",
    "F": "土地承包经营权宗地（草地）",
    "L": "林地使用权宗地（承包经营以外的）",
    "N": "农用地使用权宗地（承包经营以外的、非林地）",
    "H": "海域使用权宗海",
    "G": "无居民海岛使用权",
    "W": "使用权未确定或有争议的土地",
    "Y": "其他土地使用权宗地",
}
_BUILDING = {  # letter: (label, short label used in explain())
    "F": ("房屋等建筑物、构筑物", "房屋"),
    "L": ("森林、林木", "林木"),
    "Q": ("其他类型定着物", "其他定着物"),
    "W": ("无定着物", "无定着物"),
}

_UNIT_LEN = 28
_PARCEL_LEN = 19
_NO_FIXTURE_SEQ = "00000000"
_DIGITS = "0123456789"
_OWNERSHIP_LETTERS = "GJZ"
_USE_RIGHT_LETTERS = "ABSXCDEFLNHGWY"
_BUILDING_LETTERS = "FLQW"


@dataclass(frozen=True, slots=True)
class _Part:
    """One field of the code: where it sits and how to describe it."""

    field: str
    start: int  # 0-based
    length: int
    name_zh: str
    name_en: str

    @property
    def where_en(self) -> str:
        a, b = self.start + 1, self.start + self.length
        return f"position {a}" if a == b else f"positions {a}–{b}"

    @property
    def where_zh(self) -> str:
        a, b = self.start + 1, self.start + self.length
        return f"第{a}位" if a == b else f"第{a}–{b}位"


_PARTS = (
    _Part("county", 0, 6, "区县代码", "county code"),
    _Part("cadastral_zone", 6, 3, "地籍区", "cadastral zone"),
    _Part("cadastral_subzone", 9, 3, "地籍子区", "cadastral subzone"),
    _Part("parcel_type", 12, 2, "宗地特征码", "parcel type"),
    _Part("parcel_seq", 14, 5, "宗地顺序号", "parcel number"),
    _Part("building_type", 19, 1, "定着物特征码", "fixture type"),
    _Part("building_seq", 20, 8, "定着物单元顺序号", "fixture unit number"),
)
_PART_AT = [p for p in _PARTS for _ in range(p.length)]

# What each position allows: (characters, English, Chinese, Chinese context in brackets).
_LETTER_RULES = {
    12: (
        _OWNERSHIP_LETTERS,
        "G, J or Z (land ownership: 国有 state, 集体 collective, 争议 disputed)",
        "字母G、J或Z",
        "土地所有权类型",
    ),
    13: (
        _USE_RIGHT_LETTERS,
        "one of the letters " + ", ".join(_USE_RIGHT_LETTERS) + " (use-right type)",
        "字母" + "、".join(_USE_RIGHT_LETTERS[:-1]) + "或" + _USE_RIGHT_LETTERS[-1],
        "宗地使用权类型",
    ),
    19: (
        _BUILDING_LETTERS,
        "F, L, Q or W (fixture: 房屋 building, 林木 trees, 其他 other, 无 none)",
        "字母F、L、Q或W",
        "定着物类型",
    ),
}

# Fast path: one regex per length. _first_problem() is the reference; tests check they agree.
_PROVINCE_RE = "(?:" + "|".join(sorted(_PROVINCES)) + ")"
_PARCEL_PATTERN = f"{_PROVINCE_RE}[0-9]{{10}}[{_OWNERSHIP_LETTERS}][{_USE_RIGHT_LETTERS}][0-9]{{5}}"
_PARCEL_RE = re.compile(_PARCEL_PATTERN)
_UNIT_RE = re.compile(_PARCEL_PATTERN + "(?:W0{8}|[FLQ](?!0{8})[0-9]{8})")

# Removed by normalize(): hyphens and dashes of every width, underscores, zero-width characters.
# Whitespace (incl. the full-width space U+3000) is removed separately with str.split().
_STRIP_CHARS = "-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\uff3f" + (
    "\u200b\u200c\u200d\u2060\ufeff"
)
_NORMALIZE_TABLE = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    _STRIP_CHARS,
)

# Look-alike letters typed where a digit belongs.
_LOOKALIKE = {"O": "0", "I": "1"}

_RETYPE_ZH = "请对照不动产权证书重新输入。"
_RETYPE_EN = "check it against the 不动产权证书 (property certificate) and enter it again"


def normalize(code: str) -> str:
    """Clean up a hand-typed 不动产单元号 without judging it.

    Strips it, converts full-width characters to half-width (Unicode NFKC), removes spaces of any
    width, hyphens, underscores, en and em dashes (and their full-width forms) and zero-width
    characters, and upper-cases ASCII letters.

    Parameters
    ----------
    code : str
        The code as typed or pasted.

    Returns
    -------
    str
        The cleaned code; it may still be invalid (see :func:`parse`).

    Raises
    ------
    UnitCodeError
        If `code` is not a string.

    Examples
    --------
    >>> normalize(" ５００１１２-００１００２ gb00012 f00010203 ")
    '500112001002GB00012F00010203'
    """
    if not isinstance(code, str):
        raise _type_error(code)
    text = unicodedata.normalize("NFKC", code)
    text = "".join(text.split()).translate(_NORMALIZE_TABLE)
    # Removing a separator can bring a base letter next to a combining mark: compose them again so
    # that normalize() is idempotent.
    return unicodedata.normalize("NFKC", text)


@dataclass(frozen=True, slots=True)
class UnitCode:
    """A valid 不动产单元号 (28 characters) or bare 宗地代码 (19 characters).

    Constructing one validates every field, so an instance is always valid. Use :func:`parse` for
    text typed by a person and :func:`format_code` to build a code from numbers.

    Attributes
    ----------
    county : str
        县级行政区划代码, 6 digits (GB/T 2260), e.g. ``"500112"`` for 渝北区.
    cadastral_zone : str
        地籍区, 3 digits.
    cadastral_subzone : str
        地籍子区, 3 digits.
    parcel_type : str
        宗地特征码, 2 letters: land ownership (G/J/Z) then use-right type.
    parcel_seq : str
        宗地顺序号, 5 digits.
    building_type : str
        定着物特征码 (F, L, Q or W), or ``""`` for a bare 宗地代码.
    building_seq : str
        定着物单元顺序号, 8 digits (``"00000000"`` exactly when `building_type` is W), or ``""``
        for a bare 宗地代码.

    Raises
    ------
    UnitCodeError
        If a field is not a string, has the wrong length or holds a character its position does
        not allow.

    Examples
    --------
    >>> u = UnitCode("500112", "001", "002", "GB", "00012", "F", "00010203")
    >>> str(u)
    '500112001002GB00012F00010203'
    >>> u.county_name, u.parcel_code
    ('渝北区', '500112001002GB00012')
    """

    county: str
    cadastral_zone: str
    cadastral_subzone: str
    parcel_type: str
    parcel_seq: str
    building_type: str = ""
    building_seq: str = ""

    def __post_init__(self) -> None:
        for part in _PARTS:
            value = getattr(self, part.field)
            bare_ok = part.start >= _PARCEL_LEN and value == ""
            if not isinstance(value, str) or (len(value) != part.length and not bare_ok):
                shown = repr(value) if isinstance(value, str) else type(value).__name__
                raise UnitCodeError(
                    f"UnitCode.{part.field} ({part.name_zh} {part.name_en}) must be a string of "
                    f"{part.length} characters; got {shown}",
                    message_zh=f"{part.name_zh}应为{part.length}位，实际是“{value}”。",
                )
        if (self.building_type == "") != (self.building_seq == ""):
            raise UnitCodeError(
                "UnitCode.building_type and UnitCode.building_seq go together: give both (a "
                "28-character 不动产单元号) or neither (a 19-character 宗地代码); got "
                f"building_type={self.building_type!r}, building_seq={self.building_seq!r}",
                message_zh="定着物特征码和定着物单元顺序号应同时填写或同时不填。",
            )
        code = self.code
        pattern = _PARCEL_RE if len(code) == _PARCEL_LEN else _UNIT_RE
        if pattern.fullmatch(code) is None:
            raise _first_problem(code)

    @property
    def parcel_code(self) -> str:
        """The 19-character 宗地代码 (positions 1–19)."""
        return (
            self.county
            + self.cadastral_zone
            + self.cadastral_subzone
            + self.parcel_type
            + self.parcel_seq
        )

    @property
    def code(self) -> str:
        """The whole code: 28 characters, or 19 for a bare 宗地代码."""
        return self.parcel_code + self.building_type + self.building_seq

    @property
    def is_parcel_only(self) -> bool:
        """Whether this is a bare 宗地代码, with no 定着物 part."""
        return self.building_type == ""

    @property
    def county_name(self) -> str | None:
        """The Chongqing county's Chinese name; None outside Chongqing."""
        return COUNTIES.get(self.county)

    @property
    def ownership(self) -> str:
        """Land ownership (土地所有权类型) in Chinese, e.g. ``"国有土地"``."""
        return _OWNERSHIP[self.parcel_type[0]][0]

    @property
    def use_right(self) -> str:
        """The parcel's use-right type in Chinese, e.g. ``"建设用地使用权宗地（地表）"``."""
        return _USE_RIGHT[self.parcel_type[1]]

    @property
    def building_kind(self) -> str | None:
        """The fixture type (定着物) in Chinese; None for a bare 宗地代码."""
        return _BUILDING[self.building_type][0] if self.building_type else None

    def __str__(self) -> str:
        return self.code

    def explain(self) -> str:
        """Explain the code in a short line of Chinese for a parent.

        Returns
        -------
        str
            E.g. ``"渝北区 第001地籍区 第002地籍子区 国有建设用地使用权宗地（地表） 第00012号
            房屋 单元00010203"``.

        Examples
        --------
        >>> parse("500112001002JC00012W00000000").explain()
        '渝北区 第001地籍区 第002地籍子区 集体宅基地使用权宗地 第00012号 无定着物'
        """
        county = self.county_name or f"区县代码{self.county}"
        prefix = _OWNERSHIP[self.parcel_type[0]][1]
        use = self.use_right
        if self.parcel_type[1] == "A":  # avoid "集体集体土地所有权宗地"
            use = "土地所有权宗地"
        words = [
            county,
            f"第{self.cadastral_zone}地籍区",
            f"第{self.cadastral_subzone}地籍子区",
            prefix + use,
            f"第{self.parcel_seq}号",
        ]
        if self.is_parcel_only:
            words.append("（宗地代码，不含定着物单元）")
        elif self.building_type == "W":
            words.append("无定着物")
        else:
            words += [_BUILDING[self.building_type][1], f"单元{self.building_seq}"]
        return " ".join(words)


def parse(code: str, *, allow_parcel: bool = False) -> UnitCode:
    """Parse and validate a 不动产单元号.

    Parameters
    ----------
    code : str
        The code as typed; it is passed through :func:`normalize` first.
    allow_parcel : bool, default False
        Also accept a bare 19-character 宗地代码 (parcel code), returned as a parcel-only
        :class:`UnitCode`.

    Returns
    -------
    UnitCode

    Raises
    ------
    UnitCodeError
        If the code is not a string, has the wrong length, holds a character its position does not
        allow, or has a 定着物单元顺序号 that does not fit its 定着物特征码. The error carries an
        English message, a Chinese ``message_zh`` for parents and the 1-based ``position`` of the
        first problem (for a wrong length: the first missing or extra position).

    Examples
    --------
    >>> u = parse("500112 001002 GB00012 F00010203")
    >>> u.county_name, u.building_seq
    ('渝北区', '00010203')
    >>> parse("500112001002GB00012", allow_parcel=True).is_parcel_only
    True
    """
    if not isinstance(code, str):
        raise _type_error(code)
    text = normalize(code)
    error = _check(text, allow_parcel)
    if error is not None:
        raise error
    return _from_valid(text)


def is_valid(code: object, *, allow_parcel: bool = False) -> bool:
    """Tell whether `code` parses; never raises.

    Parameters
    ----------
    code : object
        Anything; only strings can be valid.
    allow_parcel : bool, default False
        Also accept a bare 19-character 宗地代码.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_valid("500112001002GB00012F00010203"), is_valid("500112001002GB00012"), is_valid(None)
    (True, False, False)
    """
    if not isinstance(code, str):
        return False
    return _check(normalize(code), allow_parcel) is None


def format_code(
    county: str | int,
    cadastral_zone: str | int,
    cadastral_subzone: str | int,
    parcel_type: str,
    parcel_seq: str | int,
    building_type: str = "",
    building_seq: str | int = "",
) -> str:
    """Build a code from its parts, zero-padding numbers; validates it.

    Parameters
    ----------
    county : str or int
        6-digit county code.
    cadastral_zone, cadastral_subzone : str or int
        地籍区 and 地籍子区 numbers (3 digits each).
    parcel_type : str
        宗地特征码, two letters, e.g. ``"GB"``.
    parcel_seq : str or int
        宗地顺序号 (5 digits).
    building_type : str, default ""
        定着物特征码; leave empty for a bare 宗地代码.
    building_seq : str or int, default ""
        定着物单元顺序号 (8 digits). May be left empty when `building_type` is ``"W"``: it is then
        ``"00000000"``.

    Returns
    -------
    str
        The 28-character 不动产单元号, or the 19-character 宗地代码 when `building_type` is empty.

    Raises
    ------
    UnitCodeError
        If a part is of the wrong type, too long, or invalid (see :class:`UnitCode`).

    Examples
    --------
    >>> format_code(500112, 1, 2, "GB", 12, "F", 10203)
    '500112001002GB00012F00010203'
    >>> format_code(500112, 1, 2, "GB", 12, "W")
    '500112001002GB00012W00000000'
    """
    if building_type == "W" and building_seq == "":
        building_seq = 0
    values = {
        "county": county,
        "cadastral_zone": cadastral_zone,
        "cadastral_subzone": cadastral_subzone,
        "parcel_type": parcel_type,
        "parcel_seq": parcel_seq,
        "building_type": building_type,
        "building_seq": building_seq,
    }
    fields = {}
    for part in _PARTS:
        value = values[part.field]
        if isinstance(value, int) and not isinstance(value, bool) and part.field != "parcel_type":
            if value < 0:
                raise UnitCodeError(
                    f"format_code: {part.field} must not be negative; got {value}",
                    message_zh=f"{part.name_zh}不能为负数，实际是{value}。",
                )
            value = str(value).zfill(part.length)
        elif not isinstance(value, str):
            raise UnitCodeError(
                f"format_code: {part.field} must be a str or int; got {type(value).__name__}",
                message_zh=f"{part.name_zh}应为文字或整数。",
            )
        fields[part.field] = value
    return UnitCode(**fields).code


def county_name(code6: str | int) -> str | None:
    """Chinese name of a Chongqing county-level division.

    Parameters
    ----------
    code6 : str or int
        6-digit GB/T 2260 county code, e.g. ``"500112"``.

    Returns
    -------
    str or None
        The name, or None for a well-formed code outside :data:`COUNTIES` (another province, or a
        Chongqing code no longer in use).

    Raises
    ------
    UnitCodeError
        If `code6` is not 6 digits or does not start with a province prefix of GB/T 2260
        (e.g. ``"000000"``, ``"990000"``).

    Examples
    --------
    >>> county_name("500112"), county_name("110101")
    ('渝北区', None)
    """
    if isinstance(code6, int) and not isinstance(code6, bool):
        code6 = str(code6).zfill(6)
    if not isinstance(code6, str):
        raise _type_error(code6, "county code", "区县代码")
    text = normalize(code6)
    if len(text) != 6:
        raise UnitCodeError(
            f"county code {_shown(text)}: must be 6 digits (GB/T 2260), found {len(text)} "
            "characters",
            message_zh=f"区县代码应为6位数字，实际是{len(text)}位。",
            position=min(len(text), 6) + 1,
        )
    error = _first_problem(text, stop=6)
    if error is not None:
        raise error
    return COUNTIES.get(text)


def parse_many(codes: Iterable[object], *, allow_parcel: bool = False) -> pd.DataFrame:
    """Validate many codes at once, without raising.

    Parameters
    ----------
    codes : iterable
        Codes as typed (anything that is not a string is reported invalid). A pandas Series keeps
        its index.
    allow_parcel : bool, default False
        Also accept bare 19-character 宗地代码.

    Returns
    -------
    pandas.DataFrame
        One row per input, in input order, with columns ``code`` (normalised; None for a
        non-string), ``valid`` (bool), ``error`` (English message or None), ``error_zh``
        (Chinese message or None), ``parcel_code`` and ``county`` (None when invalid).

    Examples
    --------
    >>> parse_many(["500112001002GB00012F00010203", "5001"])["valid"].tolist()
    [True, False]
    """
    import pandas as pd

    index = codes.index if isinstance(codes, pd.Series) else None
    out_code: list[str | None] = []
    valid: list[bool] = []
    error_en: list[str | None] = []
    error_zh: list[str | None] = []
    parcel: list[str | None] = []
    county: list[str | None] = []
    for raw in codes:
        if isinstance(raw, str):
            if _UNIT_RE.fullmatch(raw):  # most codes in a table are clean already
                text, error = raw, None
            else:
                text = normalize(raw)
                error = _check(text, allow_parcel)
        else:
            text, error = None, _type_error(raw)
        out_code.append(text)
        if error is None:
            valid.append(True)
            error_en.append(None)
            error_zh.append(None)
            parcel.append(text[:_PARCEL_LEN])
            county.append(text[:6])
        else:
            valid.append(False)
            error_en.append(str(error))
            error_zh.append(error.message_zh)
            parcel.append(None)
            county.append(None)
    columns = {
        "code": out_code,
        "valid": valid,
        "error": error_en,
        "error_zh": error_zh,
        "parcel_code": parcel,
        "county": county,
    }
    frame = pd.DataFrame(columns, index=index, dtype=object)
    frame["valid"] = frame["valid"].astype(bool)
    return frame


# --- private helpers ---------------------------------------------------------------------------


def _from_valid(text: str) -> UnitCode:
    """Build a UnitCode from a normalised string already checked by :func:`_check`."""
    return UnitCode(**{p.field: text[p.start : p.start + p.length] for p in _PARTS})


def _check(text: str, allow_parcel: bool) -> UnitCodeError | None:
    """Return the first problem of a normalised code, or None if it is valid."""
    n = len(text)
    if n == _UNIT_LEN:
        return None if _UNIT_RE.fullmatch(text) else _first_problem(text)
    if n == _PARCEL_LEN:
        if _PARCEL_RE.fullmatch(text):
            return None if allow_parcel else _parcel_given_error(text)
        if allow_parcel:
            return _first_problem(text)
    return _length_error(text, allow_parcel)


def _first_problem(text: str, stop: int | None = None) -> UnitCodeError | None:
    """Find the first invalid position of a 28- or 19-character code (or its first `stop`).

    This is the reference definition of validity; the regexes are a fast path for it.
    """
    n = len(text) if stop is None else stop
    for i in range(n):
        ch = text[i]
        rule = _LETTER_RULES.get(i)
        if rule is not None:
            allowed, allowed_en, allowed_zh, context_zh = rule
            if ch not in allowed:
                return _char_error(text, i, ch, allowed_en, allowed_zh, context_zh)
            continue
        if ch not in _DIGITS:
            part = _PART_AT[i]
            context_zh = f"{part.name_zh}，{part.where_zh}"
            return _char_error(text, i, ch, "a digit 0–9", "数字", context_zh)
        if i == 0 and ch not in _PROVINCE_FIRST:
            return _province_error(text, 1)
        if i == 1 and text[:2] not in _PROVINCES:
            return _province_error(text, 2)
    if n == _UNIT_LEN:
        return _fixture_error(text)
    return None


def _kind(text: str) -> str:
    if len(text) == 6:
        return "county code"
    return "宗地代码" if len(text) == _PARCEL_LEN else "不动产单元号"


def _shown(text: str, limit: int = 40) -> str:
    """Quote (and shorten) user text for a message."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _char_shown(ch: str) -> str:
    return ch if ch.isprintable() else f"U+{ord(ch):04X}"


def _char_error(
    text: str, i: int, ch: str, allowed_en: str, allowed_zh: str, context_zh: str
) -> UnitCodeError:
    part = _PART_AT[i]
    hint_en = hint_zh = ""
    if allowed_zh == "数字" and ch in _LOOKALIKE:
        hint_en = f" (the letter {ch}, not the digit {_LOOKALIKE[ch]}?)"
        hint_zh = f"（是字母{ch}，应为数字{_LOOKALIKE[ch]}吗？）"
    found = _char_shown(ch)
    return UnitCodeError(
        f"invalid {_kind(text)} {_shown(text)}: position {i + 1}, in the {part.name_zh} "
        f"{part.name_en} ({part.where_en}), must be {allowed_en}; found {found!r}{hint_en}; "
        f"{_RETYPE_EN}",
        message_zh=f"第{i + 1}位应为{allowed_zh}（{context_zh}），实际是“{found}”{hint_zh}。"
        + _RETYPE_ZH,
        position=i + 1,
    )


def _province_error(text: str, position: int) -> UnitCodeError:
    found = text[:2]
    return UnitCodeError(
        f"invalid {_kind(text)} {_shown(text)}: positions 1–6 are the county code (区县代码, "
        f"GB/T 2260) and must start with a province prefix ({_PROVINCES_EN}; Chongqing is 50); "
        f"found {found!r}; {_RETYPE_EN}",
        message_zh=f"第1–6位是区县代码，应以省份代码开头（重庆为50，如渝北区500112），"
        f"实际开头是“{found}”。" + _RETYPE_ZH,
        position=position,
    )


def _fixture_error(text: str) -> UnitCodeError | None:
    """Check the 定着物 pair: W needs 00000000, any other type a non-zero number."""
    kind, seq = text[19], text[20:]
    if kind == "W" and seq != _NO_FIXTURE_SEQ:
        position = 21 + next(k for k, c in enumerate(seq) if c != "0")
        return UnitCodeError(
            f"invalid 不动产单元号 {_shown(text)}: 定着物特征码 'W' (no fixture) at position 20 "
            f"requires 定着物单元顺序号 '00000000' at positions 21–28; found {seq!r}; "
            f"{_RETYPE_EN}",
            message_zh=f"第20位是“W”（无定着物）时，第21–28位应全为0，实际是“{seq}”。" + _RETYPE_ZH,
            position=position,
        )
    if kind != "W" and seq == _NO_FIXTURE_SEQ:
        label = _BUILDING[kind][0]
        return UnitCodeError(
            f"invalid 不动产单元号 {_shown(text)}: 定着物特征码 {kind!r} ({label}) at position 20 "
            "needs a 定着物单元顺序号 other than '00000000' at positions 21–28 (all zeros goes "
            f"only with 'W', no fixture); {_RETYPE_EN}",
            message_zh=f"第20位是“{kind}”（{label}）时，第21–28位不能全为0"
            "（全为0只用于W，即无定着物）。" + _RETYPE_ZH,
            position=21,
        )
    return None


def _count_en(n: int) -> str:
    return "one character" if n == 1 else f"{n} characters"


def _length_error(text: str, allow_parcel: bool) -> UnitCodeError:
    n = len(text)
    # Compare with the nearer allowed length (ties go to the full code).
    target = _UNIT_LEN
    if allow_parcel and abs(n - _PARCEL_LEN) < abs(n - _UNIT_LEN):
        target = _PARCEL_LEN
    if allow_parcel:
        expected_en = "28 characters (不动产单元号) or 19 (宗地代码)"
        expected_zh = "应为28位的不动产单元号或19位的宗地代码"
    else:
        expected_en = "28 characters"
        expected_zh = "不动产单元号应为28位"
    if n == 0:
        return UnitCodeError(
            f"empty 不动产单元号: expected {expected_en}; enter the code printed on the "
            "不动产权证书 (property certificate)",
            message_zh=f"没有输入代码。{expected_zh}，请对照不动产权证书输入。",
            position=1,
        )
    if n < target:
        diff_en, diff_zh = f"{_count_en(target - n)} missing", f"少了{target - n}位"
        position = n + 1
    else:
        diff_en, diff_zh = f"{_count_en(n - target)} too many", f"多了{n - target}位"
        position = target + 1
    return UnitCodeError(
        f"invalid 不动产单元号 {_shown(text)}: expected {expected_en}, found {n} ({diff_en}); "
        f"{_RETYPE_EN}",
        message_zh=f"{expected_zh}，实际是{n}位（{diff_zh}）。" + _RETYPE_ZH,
        position=position,
    )


def _parcel_given_error(text: str) -> UnitCodeError:
    # seeds 002 Q15: where a parent finds the 不动产单元号 when the certificate does not show it.
    return UnitCodeError(
        f"{_shown(text)} is a 19-character 宗地代码 (parcel code), but the 28-character "
        "不动产单元号 (real-estate unit code) is needed; it is printed on the 不动产权证书, or "
        "can be looked up in the 渝快办 app: 我的 → 不动产 → 我的不动产 → 不动产单元号",
        message_zh="您输入的是19位的宗地代码，这里需要28位的不动产单元号。已取得不动产权证书的，"
        "可在“渝快办”APP—我的—不动产—我的不动产—不动产单元号中查询。",
        position=_PARCEL_LEN + 1,
    )


def _type_error(
    value: object, what_en: str = "不动产单元号", what_zh: str = "不动产单元号"
) -> UnitCodeError:
    kind = type(value).__name__
    return UnitCodeError(
        f"a {what_en} must be text (str); got {kind}",
        message_zh=f"{what_zh}应为文字，实际是{kind}类型的值。",
    )
