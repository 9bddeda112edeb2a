"""Chinese addresses: normalise, parse, match to the district's address table; 划片 text rules.

Parents type their 户籍地址 and 居住地址 themselves when they maintain their child's record
(seeds 000 四(一); seeds 002 Q11), the way they remember them: with or without ``重庆市渝北区``, with
full-width digits, ``幢`` or ``号楼`` for ``栋``, ``二单元`` for ``2单元``, ``15楼3号`` or ``1503室``
for ``15-3``, ``2附1号`` for ``2号附1号``. This module turns such text into one canonical key
(:func:`normalize_address`), reads its parts (:func:`parse_address`), and finds it in the address
table (:class:`AddressIndex`): exactly when the key or the parts agree, fuzzily inside a small
block of candidates otherwise, and never silently: an answer that is not clearly better than the
next one is refused with its candidates and a reason a parent can act on.

Districts publish their 招生范围 in advance (seeds 000 五(一), 六(二)), as text:
``长安路（门牌号为单号）``, ``东大街（151号除外）``, ``和平社区（2-7组）``. :func:`parse_rules` and
:func:`parse_rule_list` read such lists into :class:`Rule` objects that can be checked against a
parsed address (:func:`match_rules`), a second source of truth next to the zone map.

The canonical form
------------------
``normalize_address`` applies, in order (and repeats until nothing changes, so that it is
idempotent):

1. NFKC (full-width → half-width), upper-case Latin letters; dashes and tildes → ``-``.
2. Parenthesised notes ``(庆丰花园内)``, ``【…】`` are removed (:func:`parse_address` keeps them
   in ``note``); spaces and punctuation noise (``·``, ``,``, ``、`` …) are removed.
3. Leading ``中国``, ``重庆``/``重庆市`` and a Chongqing 区县 name (``渝北区``, or ``渝北`` after
   ``重庆``) are dropped: the key is district-relative (:func:`parse_address` keeps them as parts).
4. Chinese numerals before 组/社/栋/幢/座/号楼/单元/期/楼/层 become Arabic (``三组`` → ``3组``,
   ``二期`` → ``2期``); ``第`` before them is dropped; ``3社`` (Chongqing's word for a 村民小组)
   → ``3组``.
5. Buildings: ``幢`` → ``栋``; after a digit or letter ``号楼``, ``号栋``, ``#``, ``座`` and the
   typos ``洞``/``动``/``冻`` → ``栋`` (``五洞桥路`` is left alone: a Chinese numeral before ``洞``
   is a name).
6. 附号: ``2附1号``, ``2-附1号``, ``2号附1``, ``2号之一`` → ``2号附1号`` (``附6-7号`` keeps its
   range).
7. Floor and room: ``15楼3号``, ``15层03室`` → ``15-3``; after ``单元`` or ``栋``, a number of
   three or four digits (``1503``, ``1503室``, ``1503号``) and any ``1503室`` is read as floor and
   room — **the last two digits are the room, the rest the floor** (``1503`` → ``15-3``,
   ``302`` → ``3-2``); ``15-03`` → ``15-3``; a room alone after ``单元``/``栋`` is ``3号``; a floor
   alone is ``15楼``.

The same function normalises names (roads, estates) when the index compares them, so a table
value and a typed one meet in the same form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from zoning.errors import ValidationError
from zoning.unitcode import COUNTIES, EDUCATION_DISTRICTS

__all__ = [
    "RULE_KINDS",
    "AddressIndex",
    "AddressMatch",
    "AddressParts",
    "Rule",
    "match_rules",
    "noisy_addresses",
    "normalize_address",
    "parse_address",
    "parse_rule_list",
    "parse_rules",
]

# ------------------------------------------------------------------------------------ numerals
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN = "零〇一二两三四五六七八九十百千"


def _cn_int(text: str) -> int | None:
    """``"二十三"`` → 23, ``"一五"`` → 15 (digit by digit), ``"12"`` → 12; ``None`` if not a number."""
    if len(text) > 12:  # counts nothing in an address (and int() refuses 4,300 digits)
        return None
    if text.isdecimal():  # not isdigit(): "²" is a digit int() cannot read
        return int(text)
    if text and all(c in _CN_DIGIT for c in text):
        return int("".join(str(_CN_DIGIT[c]) for c in text))
    total, num = 0, 0
    for c in text:
        if c in _CN_DIGIT:
            num = _CN_DIGIT[c]
        elif c in _CN_UNIT:
            total += (num or 1) * _CN_UNIT[c]
            num = 0
        else:
            return None
    return total + num if text else None


def _cn_str(n: int) -> str:
    """23 → ``"二十三"`` (for 1–99, the way road names are written)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


# ------------------------------------------------------------------------------------ normalise
def _district_names() -> tuple[list[str], list[str]]:
    full = {*COUNTIES.values(), *EDUCATION_DISTRICTS, "两江新区", "高新区", "经开区"}
    short = set()
    for name in full:
        for suffix in ("土家族苗族自治县", "苗族土家族自治县", "土家族自治县", "区", "县"):
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                short.add(name[: -len(suffix)])
                break
    by_len = lambda s: (-len(s), s)  # noqa: E731 - longest first so that alternation is greedy
    return sorted(full, key=by_len), sorted(short, key=by_len)


_DISTRICTS, _DISTRICTS_SHORT = _district_names()
# country, city, district at the start of a line; the short district name ("渝北") only after
# the city, and never when 区/县 follows (then the full name matches)
_ADMIN = re.compile(
    r"^(?P<country>中华人民共和国|中国)?"
    r"(?:(?P<city>重庆直辖市|重庆市|重庆)(?:市辖区|辖区)?"
    rf"(?P<dshort>{'|'.join(_DISTRICTS_SHORT)})?(?![区县]))?"
    rf"(?P<district>{'|'.join(_DISTRICTS)})?",
    re.M,
)
_NOTE = re.compile(r"[(\[【〔［]([^()\[\]【】〔〕［］\n]*)[)\]】〕］]")
_DASH = re.compile(r"[‐‑‒–—―−~〜]")
_PUNCT = re.compile(r"[ \t\r\f\v\u3000\u00a0\u200b·•・,，。.、;；:：'\"“”‘’「」『』《》<>!！?？_`|*]+")

_ROOM_WORD = r"(?:号房|号|室|房|户)"

#: Longest text read as one address or one 划片 clause. Real ones are under 100 characters; past
#: this it is a file pasted whole, and the regexes (quadratic on long digit runs) and int()
#: (which refuses 4,300 digits) are not asked to read it.
MAX_TEXT = 2_000


def _too_long(text: str, what: str) -> ValidationError:
    return ValidationError(
        f"{what} of {len(text):,} characters is too long (at most {MAX_TEXT:,}; "
        f"begins {text[:20]!r}): give one {what} at a time（{'地址' if what == 'address' else '条目'}"
        f"过长，超过{MAX_TEXT}字，请一次只输入一个）")


def _split_room(digits: str) -> str:
    """Three or four digits of a room number: the last two are the room, the rest the floor."""
    return f"{int(digits[:-2])}-{int(digits[-2:])}"


# "12号之一", "12号之3": a sub-number (附号) written with 之
_ZHI_RE = re.compile(r"(?<!\d)(\d+)号之([一二三四五六七八九十]{1,3}|\d+)号?")


def _zhi_repl(m: re.Match) -> str:
    n = _cn_int(m[2])
    return f"{m[1]}号附{n}号" if n else m[0]


def _sub_repl(m: re.Match) -> str:
    return f"{m[1]}号附{m[2]}-{m[3]}号" if m[3] else f"{m[1]}号附{m[2]}号"


_STEPS: list[tuple[re.Pattern, Any]] = [
    (_DASH, "-"),
    (_NOTE, ""),
    (_PUNCT, ""),
    (_ADMIN, ""),
    # Chinese numerals before the words that count things; "第三组" → "3组"
    (re.compile(rf"第?([{_CN}]+)(?=组|社(?!区)|栋|幢|座|号楼|单元|期|楼|层)"),
     lambda m: str(_cn_int(m[1])) if _cn_int(m[1]) is not None else m[0]),
    (re.compile(r"第(\d+)(?=组|栋|幢|号楼|单元|期|楼|层)"), r"\1"),
    (re.compile(r"(\d)社(?!区)"), r"\1组"),
    # buildings
    (re.compile(r"幢"), "栋"),
    (re.compile(r"([A-Z\d])(?:号楼|号栋|#楼|#|座|[洞动冻])"), r"\1栋"),
    # 附号; "12号之一" is the same sub-number written the older way
    (_ZHI_RE, _zhi_repl),
    (re.compile(r"(?<!\d)(\d+)号?-?附(\d+)(?:-(\d+))?号?"), _sub_repl),
    # floor and room. Patterns start with their marker (单元/栋/号) rather than a look-behind:
    # the regex engine then skips quickly to candidate positions (this runs over 200,000 lines).
    (re.compile(rf"(?<!\d)(\d+)[楼层]0*(\d+){_ROOM_WORD}?(?![\d\-]|单元|栋)"), r"\1-\2"),
    (re.compile(rf"(单元|栋)(\d{{3,4}}){_ROOM_WORD}?(?![\d\-])"),
     lambda m: m[1] + _split_room(m[2])),
    (re.compile(r"(?<![\d\-附])(\d{3,4})(?:室|号房|房|户)"), lambda m: _split_room(m[1])),
    (re.compile(rf"(单元|栋|号)(\d+-\d+){_ROOM_WORD}(?![\d\-])"), r"\1\2"),
    (re.compile(r"(单元|栋|号)(?=0|\d+-0)0*(\d+)-0*(\d+)(?![\d\-])"), r"\1\2-\3"),
    (re.compile(r"(单元|栋)0*(\d{1,2})(?:号房|室|房|户)(?![\d\-])"), r"\1\2号"),
    (re.compile(r"(\d)层(?![\d\-])"), r"\1楼"),
]


def _normalize_pass(s: str) -> str:
    # NFKC in every pass: removing a space or a note can put two combining marks side by side
    # out of their canonical order ("¨¸" → U+0308 U+0327), which NFKC would reorder
    t = unicodedata.normalize("NFKC", s).upper()
    for pattern, repl in _STEPS:
        t = pattern.sub(repl, t)
    return t


def _normalize_block(block: str) -> str:
    """Normalise every line of ``block`` (one address a line): one regex pass per step for all."""
    s = block
    for _ in range(4):  # repeat to a fixed point: normalize(normalize(s)) == normalize(s)
        t = _normalize_pass(s)
        if t == s:
            return s
        s = t
    # Rare lines need more passes (notes nested five deep, "重庆市" typed five times): finish
    # those alone rather than the whole block again (a pass removes one layer; lines stay lines)
    t = _normalize_pass(s)
    if t == s:
        return s
    before, lines = s.split("\n"), t.split("\n")
    for i in [k for k, (a, b) in enumerate(zip(before, lines, strict=True)) if a != b]:
        line = lines[i]
        for _ in range(len(line) + 1):  # a productive pass shortens the line
            t = _normalize_pass(line)
            if t == line:
                break
            line = t
        lines[i] = line
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


def normalize_address(text: str) -> str:
    """Normalise a Chinese address to the canonical key the index matches on.

    The key is district-relative (no ``重庆市``/区县 prefix), has no spaces, punctuation or
    parenthesised notes, and writes buildings, units, floors, rooms and 附号 one way. The rules are
    listed in the module docstring. The function is idempotent (on keys within
    :data:`MAX_TEXT`: NFKC may widen a text, ``㉑`` → ``21``).

    Parameters
    ----------
    text : str
        An address as typed.

    Returns
    -------
    str
        The canonical key.

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValidationError
        If it is longer than :data:`MAX_TEXT` characters.

    Examples
    --------
    >>> normalize_address("重庆市渝北区龙溪街道金开大道１０８８号 金星湖城3幢二单元15楼3号")
    '龙溪街道金开大道1088号金星湖城3栋2单元15-3'
    >>> normalize_address("马王坪新村2附4号(庆丰花园内)")
    '马王坪新村2号附4号'
    >>> normalize_address("金港国际A座1503室")
    '金港国际A栋15-3'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize_address: expected a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise _too_long(text, "address")
    return _normalize_block(_one_line(text))


def _normalize_many(texts: Sequence[str]) -> list[str]:
    """:func:`normalize_address` of many strings at once (one regex pass per step over all)."""
    if len(texts) == 0:
        return []
    out = _normalize_block("\n".join(_one_line(t) for t in texts)).split("\n")
    if len(out) != len(texts):  # pragma: no cover - a step that joined or split lines
        return [normalize_address(t) for t in texts]
    return out


@lru_cache(maxsize=200_000)
def _name_key(name: str) -> str:
    """A name (road, estate, community) in the normalised form the index compares."""
    return _normalize_block(_one_line(name)) if name else ""


# ------------------------------------------------------------------------------------ parse
_ROAD_SUF = r"(?:大道|大街|支路|辅路|步行街|巷子|胡同|路|街|巷|弄|道|段)"
_ESTATE_SUF = (r"(?:小区|花园|苑|府|城|里|湾|郡|公馆|家园|新村|大厦|大院|院|期|园|庭|居|广场|公寓|"
               r"国际|中心|天街|楼|宿舍|山庄|别墅|华庭|名都|[A-Z\d]区)")
# a 镇/村 followed by a road suffix is part of a road name ("镇江路", "李村路")
_NOT_ROAD = r"(?![路街巷道]|大道|大街)"
_STREET_RE = re.compile(rf"^(.{{2,8}}?(?:街道|镇|乡)){_NOT_ROAD}")
_COMMUNITY_RE = re.compile(rf"^(.{{1,10}}?(?:社区|居委会|村委会|(?<!新)村)){_NOT_ROAD}(?!委)")
_ROAD_RE = re.compile(rf"^(?P<road>[^\d]*{_ROAD_SUF})(?P<post>.*)$")
_LANE_RE = re.compile(r"^(\d+弄)(.*)$")
_BARE_NO_RE = re.compile(r"^(\d+)(.*)$")
_LOCATIVE_RE = re.compile(
    r"(?:旁边?|附近|对面|斜对面|背后|后面|后侧|楼下|门口|隔壁|侧|一带|周边|方向|"
    r"[东南西北]{1,2}(?:侧|面|方)?\d*(?:米|公里|KM|M)?|(?<!\d)\d+(?:米|公里|KM|M))$")
_INSIDE_RE = re.compile(r"(?:内|里面|院内)$")
_INTERSECTION_RE = re.compile(
    r"^(?P<a>.+?)(?:与|和|同|跟)(?P<b>.+?)(?:交叉口|交汇处|交界处|交叉处|交口|十字路口|路口)"
    r"(?P<rest>.*)$")
# every number starts where a run of digits starts ((?<!\d)): the same matches (what follows a
# number is never a digit), without trying each digit of a long run as a start (quadratic)
_TOKENS = re.compile(
    r"(?P<dsub>(?<!\d)(?P<dsn>\d+)号附(?P<dss>\d+)(?:-(?P<dss2>\d+))?号)"
    r"|(?P<bldg>(?P<bl>(?:[A-Z]|(?<!\d))\d+[A-Z]?|[A-Z])栋)"
    r"|(?P<unit>(?<!\d)(?P<un>\d+)单元)"
    r"|(?P<fr>(?<!\d)(?P<fl>\d+)-(?P<rm>\d+)(?!\d))"
    r"|(?P<floor>(?<!\d)(?P<flo>\d+)楼)"
    r"|(?P<room>(?<!\d)(?P<rmo>\d+)室)"
    r"|(?P<grp>(?<!\d)(?P<gn>\d+)组)"
    r"|(?P<door>(?<!\d)(?P<dn>\d+)号(?![院线楼]))"
)


@dataclass(frozen=True, kw_only=True)
class AddressParts:
    """The parts of one address, as read by :func:`parse_address`.

    Attributes
    ----------
    raw : str
        The text as given.
    key : str
        Its normalised form (:func:`normalize_address`).
    province, city, district : str or None
        Administrative prefix, when written (``city="重庆市"``, ``district="渝北区"``).
    street : str or None
        街道, 镇 or 乡 (``"李家沱街道"``).
    community : str or None
        社区 or 村 (``"鱼凫社区"``, ``"柏树村"``); for ``德通桥5组`` the name before the 组.
    group : int or None
        村民小组 (``4组``, ``四社``).
    locality : str or None
        A place name written before the road or estate without 街道/镇 (``"李家沱"`` in
        ``李家沱马王坪正街``); found only when ``roads``/``estates`` are given to tell it apart.
    road : str or None
        The road, or the name that carries the door number (``"马王坪新村"`` in ``马王坪新村2号``).
    road_no, sub_no : int or None
        Door number and 附号 (``22号附29号`` → 22, 29; ``附6-7号`` → 6).
    estate : str or None
        小区/花园/苑/… or any name between the door number and the building.
    building : int, str or None
        栋 (``3``, or ``"A"``, ``"3A"``).
    unit, floor, room : int or None
        单元, floor and room (``15-3`` → 15, 3).
    house_no : int or None
        House number in a village (``柏树村4组15号`` → 15).
    intersection : tuple of str or None
        The two roads of ``A与B交叉口``.
    note : str or None
        Parenthesised text (``庆丰花园内``), several joined by ``;``.
    rest : str or None
        Text that names no part: a landmark or a direction (``庆丰物管旁``, ``东北100米``).
    """

    raw: str
    key: str = ""
    province: str | None = None
    city: str | None = None
    district: str | None = None
    street: str | None = None
    community: str | None = None
    group: int | None = None
    locality: str | None = None
    road: str | None = None
    road_no: int | None = None
    sub_no: int | None = None
    estate: str | None = None
    building: int | str | None = None
    unit: int | None = None
    floor: int | None = None
    room: int | None = None
    house_no: int | None = None
    intersection: tuple[str, str] | None = None
    note: str | None = None
    rest: str | None = None

    @property
    def has_dwelling(self) -> bool:
        """Whether the address names a dwelling below the door number (栋, 单元, floor or room)."""
        return any(v is not None for v in (self.building, self.unit, self.floor, self.room))


def _building(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _split_known(name: str, known: Collection[str] | None) -> tuple[str | None, str]:
    """Split ``name`` into (locality, known name) when it ends with a known name."""
    if not known or name in known:
        return None, name
    for i in range(1, len(name) - 1):
        if name[i:] in known:
            return name[:i], name[i:]
    return None, name


def _append(d: dict, key: str, text: str) -> None:
    d[key] = text if not d.get(key) else f"{d[key]};{text}"


def _tail_text(out: dict, text: str, *, estates) -> None:
    """Text after the door number: an estate, or (a landmark, a direction) the rest."""
    if _INSIDE_RE.search(text) and len(_INSIDE_RE.sub("", text)) >= 2:
        text = _INSIDE_RE.sub("", text)
    elif _LOCATIVE_RE.search(text):
        _append(out, "rest", text)
        return
    if out.get("estate") is None:
        loc, name = _split_known(text, estates)
        out["estate"] = name
        if loc and out.get("locality") is None:
            out["locality"] = loc
    else:
        _append(out, "rest", text)


def _head(out: dict, text: str, nxt: str | None, *, roads, estates) -> None:
    """Read the names before the first number: 街道/镇, 社区/村, road or estate."""
    s = text
    m = _STREET_RE.match(s)
    if m:
        out["street"] = m[1]
        s = s[m.end():]
    m = _COMMUNITY_RE.match(s)
    if m and not (estates and s in estates):
        out["community"] = m[1]
        s = s[m.end():]
    if not s:
        return
    if estates and s in estates:
        out["estate"] = s
        return
    m = _ROAD_RE.match(s)
    if m:
        road, post = m["road"], m["post"]
        lane = _LANE_RE.match(post)
        if lane:
            road, post = road + lane[1], lane[2]
        loc, road = _split_known(road, roads)
        out["road"] = road
        if loc:
            out["locality"] = loc
        bare = _BARE_NO_RE.match(post)
        if bare and nxt not in ("door", "dsub"):
            # "金开大道1088金星湖城" - a door number written without 号
            out["road_no"] = int(bare[1])
            post = bare[2]
        if post:
            _tail_text(out, post, estates=estates)
        return
    if nxt in ("door", "dsub"):
        loc, name = _split_known(s, roads)
        out["road"] = name  # a name that carries door numbers is read as the road
        if loc:
            out["locality"] = loc
    elif nxt == "grp" and out.get("community") is None:
        out["community"] = s
    elif _LOCATIVE_RE.search(s) and not _INSIDE_RE.search(s):
        _append(out, "rest", s)
    else:
        _tail_text(out, s, estates=estates)


def _parse_body(out: dict, body: str, *, roads, estates) -> None:
    m = _INTERSECTION_RE.match(body)
    if m:
        a: dict = {}
        b: dict = {}
        _parse_body(a, m["a"], roads=roads, estates=estates)
        _parse_body(b, m["b"], roads=roads, estates=estates)
        ra = a.get("road") or a.get("estate") or m["a"]
        rb = b.get("road") or b.get("estate") or m["b"]
        out["intersection"] = (ra, rb)
        for k in ("street", "community", "locality"):
            if a.get(k):
                out[k] = a[k]
        if m["rest"]:
            out["rest"] = m["rest"]
        return
    events: list[tuple[str, Any]] = []
    pos = 0
    for t in _TOKENS.finditer(body):
        if t.start() > pos:
            events.append(("text", body[pos:t.start()]))
        events.append((t.lastgroup, t))
        pos = t.end()
    if pos < len(body):
        events.append(("text", body[pos:]))
    for i, (kind, val) in enumerate(events):
        if kind == "text":
            if i == 0:
                nxt = events[1][0] if len(events) > 1 else None
                _head(out, val, nxt, roads=roads, estates=estates)
            elif not _dwelling_seen(out) and (i == len(events) - 1
                                              or events[i - 1][0] in ("door", "dsub")):
                _tail_text(out, val, estates=estates)
            else:
                _append(out, "rest", val)
            continue
        g = val.groupdict()
        if kind == "dsub":
            if out.get("road_no") is None:
                out["road_no"], out["sub_no"] = int(g["dsn"]), int(g["dss"])
            else:
                _append(out, "rest", val[0])
        elif kind == "door":
            n = int(g["dn"])
            if _dwelling_seen(out):
                if out.get("room") is None:
                    out["room"] = n
                else:
                    _append(out, "rest", val[0])
            elif out.get("road_no") is None and out.get("house_no") is None:
                village = out.get("group") is not None or (
                    out.get("community") is not None and out.get("road") is None
                    and out.get("estate") is None)
                out["house_no" if village else "road_no"] = n
            else:
                _append(out, "rest", val[0])
        elif kind == "bldg":
            _set(out, "building", _building(g["bl"]), val)
        elif kind == "unit":
            _set(out, "unit", int(g["un"]), val)
        elif kind == "fr":
            _set(out, "floor", int(g["fl"]), val)
            out["room"] = int(g["rm"]) if out.get("room") is None else out["room"]
        elif kind == "floor":
            _set(out, "floor", int(g["flo"]), val)
        elif kind == "room":
            _set(out, "room", int(g["rmo"]), val)
        elif kind == "grp":
            _set(out, "group", int(g["gn"]), val)


def _dwelling_seen(out: dict) -> bool:
    return any(out.get(k) is not None for k in ("building", "unit", "floor", "room"))


def _set(out: dict, key: str, value, m: re.Match) -> None:
    if out.get(key) is None:
        out[key] = value
    else:
        _append(out, "rest", m[0])


def _admin_parts(text: str) -> tuple[dict, list[str]]:
    """Administrative prefix and parenthesised notes of one address (before normalising)."""
    s = unicodedata.normalize("NFKC", _one_line(text)).upper()
    s = _DASH.sub("-", s)
    notes = [n.strip() for n in _NOTE.findall(s) if n.strip()]
    s = _PUNCT.sub("", _NOTE.sub("", s))
    out: dict = {}
    m = _ADMIN.match(s)
    if m:
        if m["city"]:
            out["city"] = "重庆市"
        if m["district"]:
            out["district"] = m["district"]
        elif m["dshort"]:
            full = next((d for d in _DISTRICTS if d.startswith(m["dshort"])), m["dshort"])
            out["district"] = full
    return out, notes


def parse_address(text: str, *, roads: Collection[str] | None = None,
                  estates: Collection[str] | None = None) -> AddressParts:
    """Read the parts of a Chinese address.

    The text is normalised first (:func:`normalize_address`); the administrative prefix and the
    parenthesised notes are kept as parts. Names are told apart by their last characters (路/街/
    巷/大道/段… is a road, 社区/村 a community, 街道/镇/乡 a street) and by position: a name before
    the door number is the road, a name between the door number and the building the estate, a
    trailing landmark or direction the ``rest``.

    Parameters
    ----------
    text : str
        An address as typed.
    roads, estates : collection of str, optional
        Known road and estate names (normalised, as :class:`AddressIndex` holds them). With them a
        place name written before the road (``李家沱马王坪正街``) is split off into ``locality``;
        without them it stays part of the road name.

    Returns
    -------
    AddressParts

    Raises
    ------
    ValidationError
        If it is longer than :data:`MAX_TEXT` characters.

    Examples
    --------
    >>> p = parse_address("重庆市李家沱街道马王坪新村2号附1号庆丰物管旁")
    >>> p.street, p.road, p.road_no, p.sub_no, p.rest
    ('李家沱街道', '马王坪新村', 2, 1, '庆丰物管旁')
    >>> p = parse_address("龙湖春森彼岸二期3幢2单元1503")
    >>> p.estate, p.building, p.unit, p.floor, p.room
    ('龙湖春森彼岸2期', 3, 2, 15, 3)
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_address: expected a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise _too_long(text, "address")
    admin, notes = _admin_parts(text)
    key = normalize_address(text)
    out: dict = {}
    _parse_body(out, key, roads=roads, estates=estates)
    return AddressParts(raw=text, key=key, note=";".join(notes) or None, **admin, **out)


# ------------------------------------------------------------------------------------ index
_NUM_FIELDS = ("road_no", "sub_no", "building", "unit", "floor", "room", "group", "house_no")
_COMPLETE_FIELDS = ("road_no", "sub_no", "building", "unit", "floor", "room", "house_no")
_FIELD_ZH = {"road_no": "门牌号", "sub_no": "附号", "building": "楼栋", "unit": "单元",
             "floor": "楼层", "room": "房号", "group": "组", "house_no": "门牌号"}


@dataclass(frozen=True, eq=False)
class AddressMatch:
    """The answer of :meth:`AddressIndex.match`.

    Attributes
    ----------
    query : str
        The text as given.
    address_id : str or None
        The matched address; ``None`` unless ``method`` is ``"exact"`` or ``"fuzzy"``.
    parcel_id : str or None
        Its parcel (from the table's ``parcel_id`` column); for ``"partial"`` the one parcel all
        candidates lie on.
    score : float
        0–100: 100 for an exact match, the similarity of the best candidate otherwise.
    method : str
        ``"exact"`` (the normalised text or every part equals a table address), ``"fuzzy"`` (one
        candidate clearly best in its block), ``"partial"`` (the text names a door number or an
        estate but no dwelling, and every candidate lies on one parcel) or ``"none"``.
    candidates : pandas.DataFrame
        Columns ``address_id``, ``address``, ``score``, ``parcel_id``, best first.
    reason : str
        Why, in English (for logs).
    reason_zh : str
        Why, in Chinese, for a parent, with what to do.
    parts : AddressParts
        The parsed query.
    """

    query: str
    address_id: str | None
    parcel_id: str | None
    score: float
    method: str
    candidates: pd.DataFrame
    reason: str
    reason_zh: str
    parts: AddressParts

    @property
    def found(self) -> bool:
        """Whether the query resolved to an address or at least a parcel."""
        return self.method != "none"


class _Res(NamedTuple):
    pos: int | None
    parcel: str | None
    score: float
    method: str
    reason: str
    reason_zh: str
    cands: np.ndarray  # positions, best first
    cscores: np.ndarray


_TOO_LONG = (f"too long: an address has at most {MAX_TEXT:,} characters",
             f"地址过长（超过{MAX_TEXT}字），请只输入一个地址，如“金开大道1088号金星湖城3栋2单元15-3”。")


def _none(reason: str, reason_zh: str, cands=None, cscores=None, score: float = 0.0) -> _Res:
    c = np.asarray(cands if cands is not None else [], dtype=np.int64)
    s = np.asarray(cscores if cscores is not None else np.zeros(len(c)), dtype=float)
    return _Res(None, None, float(score), "none", reason, reason_zh, c, s)


def _where_zh(q: dict) -> str:
    if q.get("road"):
        s = q["road"] + (f"{q['road_no']}号" if q.get("road_no") is not None else "")
        return s + (f"附{q['sub_no']}号" if q.get("sub_no") is not None else "")
    if q.get("estate"):
        return q["estate"] + (f"{q['building']}栋" if q.get("building") is not None else "")
    return (q.get("community") or "") + (f"{q['group']}组" if q.get("group") is not None else "")


class AddressIndex:
    """The district's address table, ready to match typed addresses.

    Build it with :meth:`from_frame`. Matching goes, in order:

    1. **exact** — the normalised text equals one table address, or every part (road, number,
       附号, estate, 栋, 单元, floor, room; or 村, 组, number) does;
    2. **blocking** — candidates are the table addresses on the same road and number, in the same
       estate and building, or in the same 村 and 组 (road and estate names resolved exactly, by a
       place-name prefix, or fuzzily with rapidfuzz); a candidate whose number, 附号, 栋, 单元,
       floor or room differs from one the text gives is dropped: numbers are never guessed;
    3. **fuzzy** — the rest are scored with rapidfuzz (``fuzz.ratio``) on the names the text
       gives (road and estate, or the 村 when there is neither), weighted by length; a name
       below 50 contradicts the candidate and drops it; when the same name exists in several
       街道/镇, the one the text names is preferred. The best is accepted only with
       ``score >= threshold`` and a lead of ``margin`` over the next complete candidate (one
       with no part the text leaves out), so a one-character typo in a four-character name
       alone (75) is refused, while the same typo next to a correct road name is accepted;
    4. **partial** — a text that stops above the dwelling (``金开大道1088号``, ``金港国际``)
       resolves to the parcel when every candidate lies on one parcel;
    5. otherwise **none**, with the candidates and a reason (``ambiguous``, unknown road, no such
       number…).

    Parameters
    ----------
    addresses : pandas.DataFrame
        See :meth:`from_frame`.
    threshold, margin : float
        Acceptance rule of the fuzzy step.
    """

    def __init__(self, addresses: pd.DataFrame, *, threshold: float = 85.0,
                 margin: float = 5.0):
        if "address" not in addresses.columns:
            raise ValidationError(
                "addresses: no 'address' column (found: "
                f"{', '.join(map(str, addresses.columns[:12]))}); give the address text in a "
                "column named 'address'")
        if not addresses.index.is_unique:
            dup = addresses.index[addresses.index.duplicated()][:5].tolist()
            raise ValidationError(f"addresses: the index (address_id) has duplicates {dup}; "
                                  "every address needs its own id")
        self.threshold = float(threshold)
        self.margin = float(margin)
        c = _components(addresses)
        self._ids = addresses.index.to_numpy(dtype=object)
        self._text = c["address"]
        self._parcel = c["parcel_id"]
        self._road = c["road"]
        self._estate = c["estate"]
        self._community = c["community"]
        codes, names = pd.factorize(c["street"])
        self._street = np.array([_stem(x) or "" for x in names], dtype=object)[codes]
        self._bldg = c["building"]
        self._num = {f: c[f] for f in _NUM_FIELDS if f != "building"}
        codes, uniques = pd.factorize(self._bldg, sort=False)
        self._bldg_code = {str(u): i for i, u in enumerate(uniques) if u != ""}
        self._num["building"] = np.where(self._bldg == "", -1, codes).astype(np.int64)

        keys = _normalize_many(list(self._text))
        self._text_pos: dict[str, int] = {}
        self._dups: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            j = self._text_pos.setdefault(k, i)
            if j != i:
                self._dups.setdefault(k, [j]).append(i)
        self._part_pos: dict[tuple, int] = {}
        ptab = zip(*(c[f].tolist() for f in ("road", "road_no", "sub_no", "estate", "building",
                                             "unit", "floor", "room", "community", "group",
                                             "house_no")), strict=True)
        for i, row in enumerate(ptab):
            k = self._part_key(row)
            if self._part_pos.setdefault(k, i) != i:
                self._part_pos[k] = -1  # two addresses with the same parts: not exact
        has_road = self._road != ""
        self._by_road_no = _groups(c, ["road", "road_no"], has_road & (c["road_no"] >= 0))
        self._by_road = _groups(c, ["road"], has_road)
        self._by_estate = _groups(c, ["estate"], self._estate != "")
        self._by_village = _groups(c, ["community", "group"], c["group"] >= 0)
        self._by_community = _groups(c, ["community"], self._community != "")
        self._roads = sorted(k[0] for k in self._by_road)
        self._estates = sorted(k[0] for k in self._by_estate)
        self._communities = sorted(k[0] for k in self._by_community)
        self._road_set = frozenset(self._roads)
        self._estate_set = frozenset(self._estates)
        self._community_set = frozenset(self._communities)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_frame(cls, addresses: pd.DataFrame, *, threshold: float = 85.0,
                   margin: float = 5.0) -> AddressIndex:
        """Build the index from an address table.

        Parameters
        ----------
        addresses : pandas.DataFrame
            Index: ``address_id`` (unique). Column ``address`` (the text). Optional component
            columns, used as given when present: ``road``, ``road_no``, ``sub_no``, ``estate``,
            ``building``, ``unit``, ``floor``, ``room``, ``community``, ``group`` (or
            ``group_no``), ``village_no`` (house number in a village), ``parcel_id``. Numbers of 0
            and empty strings mean "none" (as in the demo). Rows without a road or estate in the
            columns (villages), and every row when the columns are missing, are read from the
            text with :func:`parse_address` (slower: about 20 µs a row).
        threshold : float
            Lowest fuzzy score (0–100) accepted.
        margin : float
            Lead over the second candidate needed to accept a fuzzy match.

        Returns
        -------
        AddressIndex

        Raises
        ------
        ValidationError
            If ``address`` is missing or the index has duplicates.
        """
        return cls(addresses, threshold=threshold, margin=margin)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return (f"AddressIndex({len(self)} addresses, {len(self._roads)} roads, "
                f"{len(self._estates)} estates, threshold={self.threshold}, "
                f"margin={self.margin})")

    @property
    def roads(self) -> list[str]:
        """Road names in the table (normalised)."""
        return list(self._roads)

    @property
    def estates(self) -> list[str]:
        """Estate names in the table (normalised)."""
        return list(self._estates)

    # ---------------------------------------------------------------- matching
    def parse(self, text: str) -> AddressParts:
        """:func:`parse_address` with this table's road and estate names as the vocabulary."""
        return parse_address(text, roads=self._road_set, estates=self._estate_set)

    def match(self, text: str, *, top: int = 5) -> AddressMatch:
        """Match one address.

        Parameters
        ----------
        text : str
            The address as typed.
        top : int
            How many candidates to return.

        Returns
        -------
        AddressMatch

        Examples
        --------
        >>> t = pd.DataFrame({"address": ["金开大道1088号金星湖城1栋2单元3-1",
        ...                               "金开大道1088号金星湖城1栋2单元3-2"],
        ...                   "parcel_id": ["P1", "P1"]},
        ...                  index=pd.Index(["A1", "A2"], name="address_id"))
        >>> idx = AddressIndex.from_frame(t)
        >>> idx.match("重庆渝北金开大道１０８８号金星湖城1幢二单元302室").address_id
        'A2'
        >>> m = idx.match("金开大道1088号")
        >>> m.method, m.parcel_id
        ('partial', 'P1')
        """
        text = "" if text is None else str(text)
        if len(text) > MAX_TEXT:
            parts, res = AddressParts(raw=text), _none(*_TOO_LONG)
        else:
            parts = self.parse(text)
            res = self._resolve(parts)
        order = res.cands[:top]
        cands = pd.DataFrame({
            "address_id": pd.Series(self._ids[order], dtype=object),
            "address": pd.Series(self._text[order], dtype=object),
            "score": np.round(res.cscores[:top], 1),
            "parcel_id": pd.Series(self._parcel[order], dtype=object),
        })
        return AddressMatch(
            query=text, address_id=None if res.pos is None else str(self._ids[res.pos]),
            parcel_id=res.parcel, score=round(res.score, 1), method=res.method,
            candidates=cands, reason=res.reason, reason_zh=res.reason_zh, parts=parts)

    def match_many(self, texts: Iterable[str], *, progress: bool = False) -> pd.DataFrame:
        """Match a batch of addresses.

        Exact matches on the normalised text are found for the whole batch at once; only the
        rest are parsed and matched one by one.

        Parameters
        ----------
        texts : iterable of str or pandas.Series
            The addresses. A Series keeps its index.
        progress : bool
            Show a progress bar over the addresses that need parsing.

        Returns
        -------
        pandas.DataFrame
            One row per input, in input order (the Series' index, else 0..n-1), columns
            ``address_id``, ``parcel_id``, ``score``, ``method``, ``reason``.
        """
        from tqdm.auto import tqdm

        s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
        s = s.astype(object).where(s.notna(), "")
        s = s.map(str)
        uniq = pd.unique(s.to_numpy())
        long_ = np.array([len(t) > MAX_TEXT for t in uniq], dtype=bool)
        keys = _normalize_many([t for t in uniq[~long_]])
        if long_.any():  # answered "too long" below, not normalised
            keys = iter(keys)
            keys = ["\n" if lg else next(keys) for lg in long_]
        n = len(uniq)
        pos = np.full(n, -1, dtype=np.int64)
        score = np.zeros(n)
        method = np.full(n, "none", dtype=object)
        reason = np.full(n, "", dtype=object)
        parcel = np.full(n, None, dtype=object)
        todo = []
        for i, k in enumerate(keys):
            j = self._text_pos.get(k)
            if j is not None and k not in self._dups:
                pos[i], score[i], method[i] = j, 100.0, "exact"
                reason[i] = "normalised text equals the table's"
                parcel[i] = self._parcel[j]
            else:
                todo.append(i)
        for i in tqdm(todo, disable=not progress, desc="address match", unit="addr"):
            r = _none(*_TOO_LONG) if long_[i] else self._resolve(self.parse(uniq[i]))
            pos[i] = -1 if r.pos is None else r.pos
            score[i], method[i], reason[i], parcel[i] = r.score, r.method, r.reason, r.parcel
        ids = np.where(pos >= 0, self._ids[np.maximum(pos, 0)], None)
        at = pd.Index(uniq).get_indexer(s.to_numpy())
        def col(values):  # object Series: ids stay None when missing (pandas 3 infers str)
            return pd.Series(values, index=s.index, dtype=object)

        return pd.DataFrame({
            "address_id": col(ids[at]), "parcel_id": col(parcel[at]),
            "score": pd.Series(np.round(score[at], 1), index=s.index),
            "method": col(method[at]), "reason": col(reason[at]),
        })

    # ---------------------------------------------------------------- internals
    @staticmethod
    def _part_key(row) -> tuple:
        """Every part that identifies an address (the 社区 of a street address does not)."""
        road, road_no, sub_no, estate, bldg, unit, floor, room, comm, group, house = row
        if road or estate:
            return ("u", road, road_no, sub_no, estate, bldg, unit, floor, room, group, house)
        return ("v", comm, group, house, road_no, sub_no, bldg, unit, floor, room)

    def _query(self, p: AddressParts) -> dict:
        q = {f: getattr(p, f) for f in _NUM_FIELDS}
        q["building"] = None if p.building is None else str(p.building)
        q["road"] = _name_key(p.road) if p.road else None
        q["estate"] = _name_key(p.estate) if p.estate else None
        q["community"] = _name_key(p.community) if p.community else None
        # a place name written before the road ("古路正街") often is the street without 镇
        q["street"] = (_stem(_name_key(p.street)) if p.street
                       else _name_key(p.locality) if p.locality else None)
        return q

    def _num_query(self, q: dict) -> dict:
        """Query numbers in the table's coding (building as its code; -1 = not given)."""
        out = {}
        for f in _NUM_FIELDS:
            v = q.get(f)
            if v is None:
                continue
            out[f] = self._bldg_code.get(v, -2) if f == "building" else int(v)
        return out

    def _resolve(self, p: AddressParts) -> _Res:
        key = p.key
        j = self._text_pos.get(key)
        if j is not None and key not in self._dups:
            return _Res(j, self._parcel[j], 100.0, "exact", "normalised text equals the table's",
                        "地址完全匹配", np.array([j]), np.array([100.0]))
        if p.rest and _TOKENS.search(p.rest):
            return _none(f"the text gives a part twice or out of place: {p.rest!r}",
                         f"地址中有重复或位置不对的门牌/楼栋/房号信息（“{p.rest}”），请核对后重新输入")
        q = self._query(p)
        if key in self._dups:
            rows = np.array(self._dups[key])
            parcels = set(self._parcel[rows].tolist())
            if len(parcels) == 1 and None not in parcels:
                pid = next(iter(parcels))
                return _Res(None, pid, 100.0, "partial",
                            f"the table has {rows.size} identical addresses, all on parcel {pid}",
                            f"地址库中有{rows.size}条相同地址，均在宗地{pid}，已定位到该宗地", rows,
                            np.full(rows.size, 100.0))
            return _none(f"ambiguous: the table has {rows.size} identical addresses on "
                         f"different parcels", f"地址库中有{rows.size}条相同地址分属不同宗地，"
                         "无法确定是哪一处，请联系区县教育部门核实", rows, np.full(rows.size, 100.0),
                         100.0)
        k = self._part_key((q["road"] or "", _n(q["road_no"]), _n(q["sub_no"]),
                            q["estate"] or "", q["building"] or "", _n(q["unit"]),
                            _n(q["floor"]), _n(q["room"]), q["community"] or "",
                            _n(q["group"]), _n(q["house_no"])))
        j = self._part_pos.get(k)
        if j is not None and j >= 0:
            return _Res(j, self._parcel[j], 100.0, "exact",
                        "every part equals the table's (the text differs only in wording)",
                        "地址匹配（写法不同，各部分一致）", np.array([j]), np.array([100.0]))
        if p.intersection is not None:
            a, b = p.intersection
            return _none(f"an intersection ({a} / {b}) is not an address",
                         f"“{a}与{b}交叉口”是路口而非门牌地址，请输入门牌号或小区楼栋")
        if not (q["road"] or q["estate"] or q["community"]):
            what = p.rest or p.key or p.raw
            return _none(f"no road, estate or village in {p.raw!r}",
                         f"地址无法识别（“{what}”）：请输入路名和门牌号，或小区名和楼栋号，"
                         "或村名和组号")
        blocks, problem = self._blocks(q)
        if blocks.size == 0:
            return problem
        return self._score(q, blocks)

    # -- blocking
    def _names(self, name: str | None, known: frozenset, names: list[str]) -> list[str]:
        """Table names a typed name may mean: itself, the known name it ends with, near ones."""
        if not name:
            return []
        if name in known:
            return [name]
        _, tail = _split_known(name, known)
        if tail in known:
            return [tail]
        hits = process.extract(name, names, scorer=fuzz.ratio, score_cutoff=75, limit=3)
        if not hits:
            hits = [h for h in process.extract(name, names, scorer=fuzz.partial_ratio,
                                               score_cutoff=90, limit=3)
                    if len(h[0]) >= 3 and (h[0] in name or name in h[0])]
        return [h[0] for h in hits]

    def _blocks(self, q: dict) -> tuple[np.ndarray, _Res | None]:
        parts: list[np.ndarray] = []
        problems: list[_Res] = []
        if q["road"]:
            roads = self._names(q["road"], self._road_set, self._roads)
            if not roads and not q["estate"]:
                # "马王坪新村2号": a numbered name may be the estate in the table
                est = self._names(q["road"], self._estate_set, self._estates)
                for e in est:
                    parts.append(self._by_estate[(e,)])
                if not est:
                    near = self._near_roads(q["road"], q["road_no"])
                    hint = f"（是否为：{'、'.join(near)}？）" if near else ""
                    problems.append(_none(f"road {q['road']!r} is not in the index",
                                          f"未找到该地址：路名“{q['road']}”不在本区地址库中{hint}",
                                          list(near.values()), np.zeros(len(near))))
            for r in roads:
                if q["road_no"] is not None:
                    b = self._by_road_no.get((r, q["road_no"]))
                    if b is not None:
                        parts.append(b)
                    else:
                        problems.append(self._no_number(r, q["road_no"]))
                else:
                    parts.append(self._by_road[(r,)])
        if q["estate"] and not (parts and q["road_no"] is not None):
            # with a road and number found, the estate name only checks the candidates
            est = self._names(q["estate"], self._estate_set, self._estates)
            for e in est:
                b = self._by_estate[(e,)]
                if q["building"] is not None:
                    code = self._bldg_code.get(q["building"], -2)
                    b = b[self._num["building"][b] == code]
                parts.append(b)
            if not est and not q["road"]:
                problems.append(_none(f"estate {q['estate']!r} is not in the index",
                                      f"未找到该地址：小区“{q['estate']}”不在本区地址库中"))
        if q["community"] and not q["road"] and not q["estate"]:
            comms = self._names(q["community"], self._community_set, self._communities)
            for c in comms:
                if q["group"] is not None:
                    b = self._by_village.get((c, q["group"]))
                    if b is not None:
                        parts.append(b)
                    else:
                        problems.append(_none(
                            f"{c} has no group {q['group']}",
                            f"未找到该地址：{c}没有{q['group']}组"))
                else:
                    parts.append(self._by_community[(c,)])
            if not comms:
                problems.append(_none(f"community/village {q['community']!r} is not in the index",
                                      f"未找到该地址：“{q['community']}”不在本区地址库中"))
        blocks = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        if blocks.size:
            return blocks, None
        return blocks, problems[0] if problems else _none(
            "no candidate block", "未找到该地址，请核对路名、门牌号或小区名")

    def _near_roads(self, name: str, no: int | None, limit: int = 3) -> dict[str, int]:
        """Roads a mistyped road name may mean, each with one address on it to suggest.

        Looser than :meth:`_names` (which decides an answer): these are only offered to the user
        ("did you mean"), so a one-character slip in a three-character name is enough.
        """
        hits = process.extract(name, self._roads, scorer=fuzz.ratio, score_cutoff=60, limit=limit)
        out = {}
        for road, _, _ in hits:
            rows = self._by_road[(road,)]
            at = self._by_road_no.get((road, no)) if no is not None else None
            out[road] = int(at[0] if at is not None and len(at) else rows[0])
        return out

    def _no_number(self, road: str, no: int) -> _Res:
        rows = self._by_road[(road,)]
        nums = np.unique(self._num["road_no"][rows])
        nums = nums[nums >= 0]
        # min(): a typed number may exceed int64 (60 digits fit in an API query)
        near = nums[np.argsort(np.abs(nums - min(no, 2**62)), kind="stable")[:5]]
        first = [int(rows[np.argmax(self._num["road_no"][rows] == v)]) for v in near]
        return _none(f"road {road!r} has no number {no} (nearest: {near.tolist()})",
                     f"未找到该地址：“{road}”没有{no}号，请核对门牌号", first,
                     np.zeros(len(first)))

    # -- scoring
    def _score(self, q: dict, rows: np.ndarray) -> _Res:
        nq = self._num_query(q)
        ok = np.ones(rows.size, bool)
        first_fail = None
        for f, v in nq.items():
            col = self._num[f][rows]
            hit = col == v
            if first_fail is None and not (ok & hit).any():
                first_fail = f
            ok &= hit
        if not ok.any():
            return self._no_agreement(q, rows, first_fail)
        rows = rows[ok]
        if q["street"]:
            # the same road or village name in two 街道/镇 ("正街" in every town): the street
            # the text names decides, when it tells them apart
            same = self._street[rows] == q["street"]
            if same.any():
                rows = rows[same]
        sim, low = self._similarity(q, rows)
        if low.all():
            return self._no_agreement(q, rows, None)
        rows, sim = rows[~low], sim[~low]
        order = np.argsort(-sim, kind="stable")
        rows, sim = rows[order], sim[order]
        # complete: the row has no part the text leaves out (an estate's door number is not
        # needed when the text names the estate)
        complete = np.ones(rows.size, bool)
        for f in _COMPLETE_FIELDS:
            if q.get(f) is None:
                lacks = self._num[f][rows] < 0
                if f == "road_no" and q["estate"]:
                    lacks |= self._estate[rows] != ""
                complete &= lacks
        return self._decide(q, rows, sim, complete)

    def _no_agreement(self, q: dict, rows: np.ndarray, field: str | None) -> _Res:
        where = _where_zh(q)
        if field:
            v = q[field]
            zh = {"building": f"{v}栋", "unit": f"{v}单元", "floor": f"{v}楼",
                  "room": f"{v}号房", "sub_no": f"附{v}号", "road_no": f"{v}号",
                  "group": f"{v}组", "house_no": f"{v}号"}[field]
            reason = f"no candidate has {field}={v} (block of {rows.size})"
            reason_zh = f"未找到该地址：{where}下没有{zh}，请核对"
        else:
            reason = f"the names contradict every candidate (block of {rows.size})"
            reason_zh = f"未找到该地址：{where}与所填小区名或路名不一致，请核对"
        cands = rows[:5]
        return _none(reason, reason_zh, cands, np.zeros(len(cands)))

    def _similarity(self, q: dict, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Name similarity (0-100) of the query and each row, and which rows contradict it.

        Numbers are not scored: they were required to be equal. Each name the query gives
        (road, estate; the 村/社区 when there is neither) is compared with rapidfuzz's ratio and
        weighted by its length; a road may also match the row's estate (``马王坪新村2号``). A
        name below 50 contradicts the row.
        """
        total = np.zeros(rows.size)
        weight = 0.0
        low = np.zeros(rows.size, bool)
        fields = [f for f in ("road", "estate") if q[f]] or (["community"] if q["community"]
                                                              else [])
        for f in fields:
            qv = q[f]
            arr = {"road": self._road, "estate": self._estate,
                   "community": self._community}[f]
            s = process.cdist([qv], list(arr[rows]), scorer=fuzz.ratio)[0].astype(float)
            if f == "road":
                alt = process.cdist([qv], list(self._estate[rows]), scorer=fuzz.ratio)[0]
                s = np.maximum(s, alt)
            low |= s < 50
            total += len(qv) * s
            weight += len(qv)
        return (total / weight if weight else np.full(rows.size, 100.0)), low

    def _decide(self, q: dict, rows: np.ndarray, sim: np.ndarray, complete: np.ndarray) -> _Res:
        best_c = np.flatnonzero(complete)
        if best_c.size:
            b = best_c[0]
            others = np.delete(sim[complete], 0)
            second = float(others[0]) if others.size else 0.0
            if sim[b] >= self.threshold and sim[b] - second >= self.margin:
                r = int(rows[b])
                return _Res(r, self._parcel[r], float(sim[b]), "fuzzy",
                            f"best candidate {sim[b]:.0f} vs next {second:.0f} "
                            f"among {rows.size} in its block",
                            f"找到最接近的地址：{self._text[r]}（相似度{sim[b]:.0f}），请核对",
                            rows, sim)
        if sim[0] < self.threshold:
            return _none(f"best candidate scores {sim[0]:.0f} < {self.threshold:.0f}",
                         f"未找到足够相近的地址（最接近：{self._text[rows[0]]}），请核对路名、"
                         "小区名后重新输入", rows, sim, float(sim[0]))
        parcels = set(self._parcel[rows].tolist())
        if len(parcels) == 1 and None not in parcels:
            pid = next(iter(parcels))
            missing = [_FIELD_ZH[f] for f in ("building", "unit", "room")
                       if q.get(f) is None and (self._num[f][rows] >= 0).any()]
            ask = "/".join(missing) or "门牌号"
            return _Res(None, pid, float(sim[0]), "partial",
                        f"all {rows.size} candidates lie on parcel {pid}; the text names no "
                        f"single address",
                        f"地址只到门牌号或小区，已定位到宗地{pid}；如需具体到户请补充{ask}",
                        rows, sim)
        tied = complete & (sim >= sim[0] - self.margin)
        if tied.sum() >= 2:
            # several addresses agree on every part the text gives, and have no more parts
            streets = set(self._street[rows[tied]].tolist()) - {""}
            if len(streets) > 1 and not q.get("street"):
                return _none(f"ambiguous: {int(tied.sum())} candidates in {len(streets)} "
                             "streets/towns", "找到多个相近地址（在不同街道/镇），请补充街道或镇名",
                             rows, sim, float(sim[0]))
            if (sim[tied] == 100).all():
                return _none(f"ambiguous: the table has {int(tied.sum())} identical addresses "
                             "on different parcels", f"地址库中有{int(tied.sum())}条相同地址分属"
                             "不同宗地，无法确定是哪一处，请联系区县教育部门核实", rows, sim, 100.0)
            names = "、".join(dict.fromkeys(
                (self._estate[r] or self._road[r] or self._community[r]) for r in rows[tied]))
            return _none(f"ambiguous: {int(tied.sum())} candidates named alike",
                         f"找到多个相近地址（{names}），请写出小区名或路名的全称", rows, sim,
                         float(sim[0]))
        ask = "/".join(dict.fromkeys(
            _FIELD_ZH[f] for f in ("road_no", "building", "unit", "room")
            if q.get(f) is None and (self._num[f][rows] >= 0).any())) or "楼栋/单元/房号"
        return _none(f"ambiguous: {rows.size} candidates, best {sim[0]:.0f}",
                     f"找到多个相近地址，请补充{ask}", rows, sim, float(sim[0]))


def _n(v) -> int:
    return -1 if v is None else int(v)


def _groups(cols: dict[str, np.ndarray], names: list[str], mask: np.ndarray
            ) -> dict[tuple, np.ndarray]:
    """Row positions by the values of ``names`` (rows where ``mask``), keys as tuples."""
    pos = np.flatnonzero(mask)
    if pos.size == 0:
        return {}
    codes, uniques = [], []
    for name in names:
        c, u = pd.factorize(cols[name][pos])
        codes.append(c)
        uniques.append(u)
    key = np.zeros(pos.size, dtype=np.int64)
    for c, u in zip(codes, uniques, strict=True):
        key = key * (len(u) + 1) + c
    order = np.argsort(key, kind="stable")
    k_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
    ends = np.r_[starts[1:], k_sorted.size]
    out = {}
    for s0, e0 in zip(starts, ends, strict=True):
        first = order[s0]
        k = tuple(u[c[first]].item() if hasattr(u[c[first]], "item") else u[c[first]]
                  for c, u in zip(codes, uniques, strict=True))
        out[k] = pos[order[s0:e0]]
    return out


def _strings(values) -> np.ndarray:
    """Object array of str, "" for missing (and never pandas' Arrow-backed strings)."""
    arr = pd.Series(values, dtype=object).to_numpy(dtype=object, na_value="")
    return np.array(["" if v is None or v != v else str(v) for v in arr], dtype=object)


def _components(a: pd.DataFrame) -> dict[str, np.ndarray]:
    """The table in the index's working form: normalised names, numbers with -1 for none."""
    n = len(a)
    cols: dict[str, np.ndarray] = {"address": _strings(a["address"])}
    cols["parcel_id"] = (np.array([None if v == "" else v for v in _strings(a["parcel_id"])],
                                  dtype=object)
                         if "parcel_id" in a.columns else np.full(n, None, dtype=object))

    def text_col(name):
        if name not in a.columns:
            return np.full(n, "", dtype=object)
        codes, names = pd.factorize(_strings(a[name]))
        keys = np.array(_normalize_many([str(x) for x in names]), dtype=object)
        return keys[codes] if len(keys) else np.full(n, "", dtype=object)

    def num_col(*names):
        for name in names:
            if name in a.columns:
                v = pd.to_numeric(a[name], errors="coerce").fillna(0).to_numpy()
                return np.where(v > 0, v, -1).astype(np.int64)
        return np.full(n, -1, dtype=np.int64)

    have = {"road", "road_no", "estate"} <= set(a.columns)
    for f in ("road", "estate", "community", "street"):
        cols[f] = text_col(f)
    for f, names in (("road_no", ("road_no",)), ("sub_no", ("sub_no",)), ("unit", ("unit",)),
                     ("floor", ("floor",)), ("room", ("room",)), ("group", ("group", "group_no")),
                     ("house_no", ("house_no", "village_no"))):
        cols[f] = num_col(*names)
    if "building" in a.columns:
        b = np.array([x.upper() for x in _strings(a["building"])], dtype=object)
        cols["building"] = np.where(np.isin(b, ["0", "NAN", "NONE"]), "", b)
    else:
        cols["building"] = np.full(n, "", dtype=object)
    # rows the columns do not describe (villages: no group column; or no columns at all) are
    # read from the text
    need = (cols["road"] == "") & (cols["estate"] == "") if have else np.ones(n, bool)
    rows = np.flatnonzero(need)
    if rows.size:
        parsed = [parse_address(x) for x in cols["address"][rows]]
        for f in ("road", "estate", "community", "street"):
            new = np.array([_name_key(getattr(p, f) or "") for p in parsed], dtype=object)
            if f in ("community", "street"):
                new = np.where(new == "", cols[f][rows], new)
            cols[f][rows] = new
        for f in ("road_no", "sub_no", "unit", "floor", "room", "group", "house_no"):
            cols[f][rows] = [_n(getattr(p, f)) for p in parsed]
        cols["building"][rows] = ["" if p.building is None else str(p.building) for p in parsed]
    return cols


# ------------------------------------------------------------------------------------ noise
_FULL = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEF-()"})
_TYPO_POOL = (
    "的一是在有和人这中大为上个国以要时来用们生到作地于出就分对成会可主发年同工也能下"
    "过子说产种面而方后多定行学所民得经之进等部度家电力里如水化高自理起小物现实加量都"
    "体制机当使点从业本去把性好应开它合还因由其些然前外天政"
)


def noisy_addresses(addresses: pd.DataFrame, *, n: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Typed-by-a-parent variants of table addresses, to measure a matcher.

    Each variant takes one table address and applies one to four of: full-width digits; dropping
    ``重庆市`` or ``重庆市渝北区`` (or writing ``重庆渝北``); dropping the 街道; ``幢``/``座``/``号楼``/
    ``洞`` for ``栋``; ``二单元``; ``15楼3号``/``15层3号``/``1503室``/``15-03`` for ``15-3``;
    ``2附1号``/``2-附1号``/``2号附1`` for ``2号附1号``; ``三组``/``3社`` for ``3组``; spaces;
    one wrong character in the estate name; no estate name at all.

    Parameters
    ----------
    addresses : pandas.DataFrame
        The table (index ``address_id``, column ``address``; ``street`` and ``estate`` columns
        let the street and estate transforms find their text).
    n : int
        Number of variants (drawn without replacement when the table is large enough).
    seed : int
        Seed of the generator.

    Returns
    -------
    pandas.DataFrame
        Columns ``text``, ``address_id`` (the truth), ``noise`` (the transforms applied).
    """
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(addresses), size=n, replace=n > len(addresses))
    texts, truth, kinds = [], [], []
    street = addresses["street"] if "street" in addresses.columns else None
    estate = addresses["estate"] if "estate" in addresses.columns else None
    for i in pick:
        s = str(addresses["address"].iat[i])
        applied = []
        st = str(street.iat[i]) if street is not None else ""
        es = str(estate.iat[i]) if estate is not None else ""
        ops = rng.permutation(["prefix", "street", "building", "unit", "room", "sub", "group",
                               "estate", "width", "space"])
        k = int(rng.integers(1, 5))
        for op in ops:
            if len(applied) >= k:
                break
            t = _noise(op, s, st, es, rng)
            if t is not None and t != s:
                s = t
                applied.append(op)
        texts.append(s)
        truth.append(addresses.index[i])
        kinds.append(",".join(applied))
    return pd.DataFrame({"text": texts, "address_id": truth, "noise": kinds})


def _noise(op: str, s: str, street: str, estate: str, rng) -> str | None:
    r = rng.random()
    if op == "prefix" and s.startswith("重庆市"):
        rest = s[3:]
        if r < 0.4:
            return rest
        d = next((d for d in _DISTRICTS if rest.startswith(d)), "")
        if r < 0.8:
            return rest[len(d):]
        return "重庆" + d[:-1] + rest[len(d):] if d else None
    if op == "street" and street and street in s:
        return s.replace(street, "", 1)
    if op == "building" and "栋" in s:
        return s.replace("栋", ["幢", "座", "号楼", "洞", "#"][int(r * 5)], 1)
    if op == "unit":
        m = re.search(r"(\d)单元", s)
        if m:
            return s[:m.start()] + _cn_str(int(m[1])) + s[m.start() + 1:]
    if op == "room":
        m = re.search(r"单元(\d+)-(\d+)$", s)
        if m:
            f, rm = m[1], m[2]
            new = [f"{f}楼{rm}号", f"{f}层{rm}号", f"{f}{int(rm):02d}室", f"{f}-{int(rm):02d}",
                   f"{f}{int(rm):02d}"][int(r * 5)]
            return s[:m.start(1)] + new
    if op == "sub":
        m = re.search(r"(\d+)号附(\d+)号", s)
        if m:
            new = [f"{m[1]}附{m[2]}号", f"{m[1]}-附{m[2]}号", f"{m[1]}号附{m[2]}"][int(r * 3)]
            return s[:m.start()] + new + s[m.end():]
    if op == "group":
        m = re.search(r"(\d+)组", s)
        if m:
            new = _cn_str(int(m[1])) + "组" if r < 0.5 else m[1] + "社"
            return s[:m.start()] + new + s[m.end():]
    if op == "estate" and estate and estate in s and len(estate) >= 4:
        if r < 0.5:
            return s.replace(estate, "", 1)
        j = int(rng.integers(0, len(estate) - 1))  # keep the suffix (苑, 花园…) as typed
        typo = estate[:j] + _TYPO_POOL[int(rng.integers(len(_TYPO_POOL)))] + estate[j + 1:]
        return s.replace(estate, typo, 1)
    if op == "width":
        return s.translate(_FULL)
    if op == "space":
        cut = sorted(rng.choice(np.arange(1, len(s)), size=min(3, len(s) - 1), replace=False))
        return "".join(s[a:b] + " " for a, b in zip([0, *cut], [*cut, len(s)], strict=True))[:-1]
    return None


# ------------------------------------------------------------------------------------ rules
RULE_KINDS = ("road", "address", "area", "group", "estate", "unparsed")
_RULE_SPLIT = re.compile(r"[、，,；;\n]")
_RULE_ROAD_SUF = (r"(?:大道|大街|支路|辅路|步行街|巷子|胡同|横街|正街|新街|路|街|巷|弄|段)")
_RULE_ROAD_RE = re.compile(rf"^.+{_RULE_ROAD_SUF}$")
_RULE_AREA_RE = re.compile(r"^.+(?:社区|村|居委会|村委会)$")
_RULE_STREET_AREA_RE = re.compile(r"^.+(?:街道|镇|乡)$")
_RULE_ESTATE_RE = re.compile(rf"^.+{_ESTATE_SUF}$")
_RULE_TOWN_RE = re.compile(rf"^(.{{1,6}}?(?:镇|街道|乡)){_NOT_ROAD}(?=.)")
_RULE_NUMBER_RE = re.compile(
    rf"^(?P<road>.+{_RULE_ROAD_SUF})(?P<no>\d+)号(?:附(?P<sub>\d+)(?:号?(?:-|至|到)(?P<sub2>\d+))?号)?$")
# a road followed by door numbers and/or a side: "新南路1-99号", "新南路单号1-99号", "新南路双号"
_RULE_SPEC_RE = re.compile(rf"^(?P<road>.+{_RULE_ROAD_SUF})(?P<spec>(?:门牌|[单双奇偶]|\d).*)$")
_SIDE = r"(单号|单数|奇数|双号|双数|偶数)"
# a side written before or after the numbers: "单号1-99号", "门牌号为单号", "1-99号的单号"
_SIDE_LEAD_RE = re.compile(rf"^(?:门牌号?(?:为|是)?)?{_SIDE}(?:门牌号?)?(?:一侧)?")
_SIDE_TAIL_RE = re.compile(rf"(?:的)?(?:门牌号?(?:为|是)?)?{_SIDE}(?:门牌号?)?(?:一侧)?$")
# door numbers: "1-99号", "1号至99号", "35号", "120号以上" (lo..∞), "99号以下" (1..hi); 以上 and
# 以下 include the number itself (民法典 第一千二百五十九条)
_DOOR_RE = re.compile(r"(?:(?P<lo>\d+)号?(?:-|至|到)(?P<hi>\d+)|(?P<n>\d+))"
                      r"(?P<hao>号?)(?P<open>以上|起|以下)?")
_EXCEPT_RE = re.compile(
    r"^(?:除(?P<a>.+?)(?:以)?外|(?:不含|不包括|不包含)(?P<b>.+)|(?P<c>.+?)除外)$")
_SUB_ALL_RE = re.compile(r"(?:所有|全部)?附号(?:门牌)?")
_RULE_GROUPS_RE = re.compile(rf"^(?P<area>.+?)(?P<lo>\d+|[{_CN}]+)(?:(?:-|至|到)"
                             rf"(?P<hi>\d+|[{_CN}]+))?(?:组|社)$")
_RULE_SERIES_RE = re.compile(
    rf"^(?P<stem>.+?)(?P<dir>[东南西北]?)(?P<a>\d+|[{_CN}]+)(?P<s1>支路|路|街|巷)?"
    rf"(?:至|到|-)(?P=dir)?(?P<b>\d+|[{_CN}]+)(?P<s2>支路|路|街|巷)$")
_BOUNDARY_RE = re.compile(r"以东|以西|以南|以北|一侧|沿线|之间|围合|范围内|东侧|西侧|南侧|北侧|两侧")
_WHOLE_RE = re.compile(r"(?:全域|全部|辖区|范围|全境)$")
_PARITY = {"odd": re.compile(r"单号|单数|奇数"), "even": re.compile(r"双号|双数|偶数")}
_NUM = rf"(?:\d+|[{_CN}]+)"
_PRIORITY = {"address": 0, "group": 2, "road": 3, "estate": 4, "area": 5, "unparsed": 9}


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One clause of a published 划片 list, or one part of it.

    A clause that selects several sets of door numbers gives one rule per set, all with the same
    ``raw``: ``金开大道（2-36号双号、1-41号单号）`` gives a rule for the even numbers 2–36 and one
    for the odd numbers 1–41. Within one rule the side and the numbers both apply (``parity``
    *and* (``numbers`` or ``ranges``)), then the exceptions.

    Attributes
    ----------
    kind : str
        ``"road"`` (a whole road, or its 单号/双号 side, listed numbers or ranges, with
        exceptions), ``"address"`` (a number written inline: ``东大街151号``, ``金开大道12号附1号``,
        ``金开大道12号之一``), ``"area"`` (a 社区 or 村, or a whole 街道/镇), ``"group"`` (村民小组
        of an area: ``德通桥1-4组``), ``"estate"`` (a named estate, whole or some of its 楼栋:
        ``金星湖城1-5栋``, ``碧津花园（3栋除外）``) or ``"unparsed"`` (a clause whose
        membership cannot be decided from an address: a boundary description ``X路以西``, "the
        groups nearer the school"); an unparsed rule never matches, and keeps in ``note`` why.
    raw : str
        The clause as published.
    school : str or None
        The school the clause belongs to.
    road : str or None
        The road (Chinese numerals kept as written: ``柳南一路``).
    parity : str or None
        ``"odd"`` (单号) or ``"even"`` (双号).
    numbers : tuple of int
        Listed door numbers (``南熏大道一段（84号、188号、366号）``).
    sub_no : int or None
        The 附号 of an inline address (``金开大道12号附1号``).
    sub_ranges : tuple of (int, int)
        附号 ranges of an inline address (``新南路5号附1-9号``), inclusive.
    ranges : tuple of (int, int or None)
        Door-number ranges, inclusive (``新南路1-99号``, ``1号至99号``); an upper end ``None``
        is open (``120号以上`` → ``(120, None)``; ``99号以下`` → ``(1, 99)``).
    except_numbers : tuple of int
        Numbers excluded (``柳城北街（999号除外）``, ``江安路（除666号、739号外）``).
    except_ranges : tuple of (int, int or None)
        Ranges excluded (``东风路（1-99号除外）``).
    except_sub : bool
        附号 excluded (``新南路（1-99号单号，附号除外）``): ``新南路3号附1号`` is not under it.
    area : str or None
        社区/村, 街道/镇 or estate name.
    groups : tuple of int
        村民小组 numbers.
    buildings : tuple of str
        The estate's 楼栋 the clause selects (``金星湖城1-5栋`` → ``("1", …, "5")``); empty: all.
    except_buildings : tuple of str
        楼栋 excluded (``碧津花园（3栋除外）``).
    street : str or None
        A 镇/街道 written before the name (``万春镇花容路``).
    note : str or None
        Qualifier text that was not read (the reason for ``"unparsed"``).
    """

    kind: str
    raw: str
    school: str | None = None
    road: str | None = None
    parity: str | None = None
    numbers: tuple[int, ...] = ()
    sub_no: int | None = None
    sub_ranges: tuple[tuple[int, int], ...] = ()
    ranges: tuple[tuple[int, int | None], ...] = ()
    except_numbers: tuple[int, ...] = ()
    except_ranges: tuple[tuple[int, int | None], ...] = ()
    except_sub: bool = False
    area: str | None = None
    groups: tuple[int, ...] = ()
    buildings: tuple[str, ...] = ()
    except_buildings: tuple[str, ...] = ()
    street: str | None = None
    note: str | None = None

    @property
    def specificity(self) -> tuple[int, int]:
        """Sort key of :func:`match_rules`: smaller is more specific (covers fewer addresses).

        Inline addresses, then roads restricted by numbers or ranges, by side, by exceptions,
        then whole roads, groups, estates (some 楼栋 before whole estates) and areas.
        """
        if self.kind == "road":
            sub = (0 if (self.numbers or self.ranges) else 1 if self.parity
                   else 2 if (self.except_numbers or self.except_ranges or self.except_sub)
                   else 3)
            return (1, sub)
        if self.kind == "estate":
            return (_PRIORITY["estate"], 0 if self.buildings else 1)
        return (_PRIORITY[self.kind], 0)

    def matches(self, parts: AddressParts) -> bool:
        """Whether an address (parsed) falls under this clause; exceptions respected.

        Road names are compared in normalised form; a rule name with a place prefix
        (``柳城永宁路``) matches an address that writes the place as its 街道/镇 or locality
        (``柳城街道永宁路``). 社区/村 names match when one ends with the other (the list may add
        a place prefix: ``柳城鱼凫社区`` ↔ ``鱼凫社区``), but a 村 never matches a 社区 of the same
        name (``石坪村`` ↔ ``石坪社区``: two places). A clause restricted to numbers, a side
        or ranges, or carrying exceptions, does not match an address without a door number; a
        附号 belongs to its main number (``东大街151号附3号`` is under ``东大街151号``).
        """
        if self.kind in ("road", "address"):
            if not self._road_ok(parts):
                return False
            n = parts.road_no
            if n is not None and (n in self.except_numbers
                                  or _in_ranges(n, self.except_ranges)):
                return False
            if self.except_sub and parts.sub_no is not None:
                return False
            if self.sub_no is not None and parts.sub_no != self.sub_no:
                return False
            if self.sub_ranges and (parts.sub_no is None
                                    or not _in_ranges(parts.sub_no, self.sub_ranges)):
                return False
            if n is None:
                # without a number the side, the list or the exceptions cannot be checked
                return self.kind == "road" and not (self.parity or self.numbers or self.ranges
                                                    or self.except_numbers or self.except_ranges
                                                    or self.except_sub)
            if not (self.parity or self.numbers or self.ranges):
                return self.kind == "road"
            if self.parity == "odd" and n % 2 == 0 or self.parity == "even" and n % 2 == 1:
                return False
            if self.numbers or self.ranges:
                return n in self.numbers or _in_ranges(n, self.ranges)
            return True
        if self.kind == "area":
            if _RULE_STREET_AREA_RE.match(self.area or ""):
                return bool(parts.street) and _stem(_name_key(parts.street)) == _stem(
                    _name_key(self.area))
            return self._street_ok(parts) and _area_ok(self.area, parts.community)
        if self.kind == "group":
            return (parts.group in self.groups and self._street_ok(parts)
                    and _area_ok(self.area, parts.community))
        if self.kind == "estate":
            a = _name_key(self.area or "")
            names = [_name_key(x) for x in (parts.estate, parts.road) if x]
            if not (a and any(x == a or x.startswith(a) for x in names)):
                return False
            if self.buildings or self.except_buildings:
                # like door numbers: without a 栋 the selection cannot be checked
                b = None if parts.building is None else str(parts.building).upper()
                return b is not None and (not self.buildings or b in self.buildings) and (
                    b not in self.except_buildings)
            return True
        return False

    def _street_ok(self, parts: AddressParts) -> bool:
        return not (self.street and parts.street and _stem(self.street) != _stem(parts.street))

    def _road_ok(self, parts: AddressParts) -> bool:
        if not self.road or not parts.road or not self._street_ok(parts):
            return False
        rule = _name_key(self.road)
        road = _name_key(parts.road)
        if road == rule:
            return True
        prefixes = [parts.locality, parts.street, _stem(parts.street), parts.community,
                    _stem(parts.community)]
        return any(p and _name_key(p) + road == rule for p in prefixes)


def _in_ranges(n: int, ranges: Iterable[tuple[int, int | None]]) -> bool:
    """Whether ``n`` is in one of the inclusive ranges (an upper end ``None`` is open)."""
    return any(lo <= n and (hi is None or n <= hi) for lo, hi in ranges)


def _stem(name: str | None) -> str | None:
    if not name:
        return name
    return re.sub(r"(?:街道|镇|乡|社区|居委会|村委会|村)$", "", name) or name


_AREA_TYPE = re.compile(r"(?P<village>(?<!新)村(?:委会)?)$|(?P<urban>社区|居委会)$")


def _area_type(name: str) -> str | None:
    m = _AREA_TYPE.search(name)
    return None if m is None else m.lastgroup


def _area_ok(area: str | None, community: str | None) -> bool:
    if not area or not community:
        return False
    ta, tc = _area_type(_name_key(area)), _area_type(_name_key(community))
    if ta and tc and ta != tc:
        return False  # 石坪村 (a village) is not 石坪社区 (an urban community)
    a, c = _stem(_name_key(area)), _stem(_name_key(community))
    if a == c:
        return True
    short, long_ = sorted((a, c), key=len)
    return len(short) >= 2 and long_.endswith(short)


def _split_clauses(text: str) -> list[str]:
    """Split on 、，,；; at the top level only: ``X路（84号、188号）`` stays one clause."""
    out, buf, depth = [], [], 0
    for ch in text:
        if ch in "(（[【":
            depth += 1
        elif ch in ")）]】":
            depth = max(0, depth - 1)
        if depth == 0 and _RULE_SPLIT.match(ch):
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return [c.strip() for c in out if c.strip()]


class _Sel(NamedTuple):
    """One set of door numbers a clause selects: a side and/or listed numbers and ranges."""

    parity: str | None = None
    numbers: tuple[int, ...] = ()
    ranges: tuple[tuple[int, int | None], ...] = ()

    @property
    def listed(self) -> bool:
        return bool(self.numbers or self.ranges)


def _side(word: str) -> str:
    return next(k for k, p in _PARITY.items() if p.fullmatch(word))


def _door(text: str, *, bare: bool = False) -> _Sel | None:
    """Door numbers without a side (``1-99号``, ``35号``, ``120号以上``); ``None`` if not that.

    ``bare`` also accepts numbers without 号 (in ``1-99单号`` the 号 went to the side).
    """
    m = _DOOR_RE.fullmatch(text)
    if not m or not (m["hao"] or m["open"] or bare) or (m["open"] and m["lo"]):
        return None
    if m["lo"]:
        lo, hi = sorted((int(m["lo"]), int(m["hi"])))
        return _Sel(ranges=((lo, hi),))
    n = int(m["n"])
    if m["open"] == "以下":
        return _Sel(ranges=((1, n),)) if n >= 1 else None
    return _Sel(ranges=((n, None),)) if m["open"] else _Sel(numbers=(n,))


def _possible(sel: _Sel) -> bool:
    """Whether a side and numbers together select anything (``36号单号`` does not)."""
    if sel.parity is None:
        return True
    r = 1 if sel.parity == "odd" else 0
    return (all(n % 2 == r for n in sel.numbers)
            and all(hi is None or hi > lo or lo % 2 == r for lo, hi in sel.ranges))


def _sel_item(piece: str) -> _Sel | None:
    """One selecting item: a side, door numbers, or both (``单号1-99号``, ``1-99号单号``)."""
    parity = None
    m = _SIDE_LEAD_RE.match(piece)
    if m:
        parity, piece = _side(m[1]), piece[m.end():]
    m = _SIDE_TAIL_RE.search(piece)
    if m:
        if parity:
            return None  # two sides in one item
        parity, piece = _side(m[1]), piece[:m.start()]
    if not piece:
        return _Sel(parity) if parity else None
    door = _door(piece, bare=parity is not None)
    if door is None:
        return None
    sel = door._replace(parity=parity)
    return sel if _possible(sel) else None


def _intersect(a: _Sel, b: _Sel) -> _Sel | None:
    """Both restrictions at once (``新南路1号至99号（单号）``); ``None`` if not one simple set."""
    if a.parity and b.parity and a.parity != b.parity or a.listed and b.listed:
        return None
    sel = _Sel(a.parity or b.parity, a.numbers + b.numbers, a.ranges + b.ranges)
    return sel if _possible(sel) else None


def _exceptable(piece: str) -> bool:
    """Whether a list item can be an exception: door numbers without a side, 附号, or 楼栋."""
    return (bool(_SUB_ALL_RE.fullmatch(piece)) or _door(piece) is not None
            or _buildings(piece) is not None)


_BLDG = rf"(?:[A-Z]|\d+|[{_CN}]+)"
_BLDG_RE = re.compile(rf"第?(?P<lo>{_BLDG})栋?(?:(?:-|至|到)第?(?P<hi>{_BLDG}))?栋")
# an estate's 楼栋 written after its name: "金星湖城1-5栋", "碧津花园A栋"
_RULE_BLDG_RE = re.compile(rf"^(?P<estate>.+?)(?P<b>{_BLDG_RE.pattern})$")


def _buildings(piece: str) -> tuple[str, ...] | None:
    """``3栋`` → ``("3",)``, ``1-5栋`` → 1…5, ``A至C栋`` → A, B, C; ``None`` if not 楼栋."""
    m = _BLDG_RE.fullmatch(piece.upper())
    if not m:
        return None

    def value(v: str) -> str | None:
        if v.isascii() and v.isalpha():
            return v
        n = _cn_int(v)
        return None if n is None or n <= 0 else str(n)

    lo = value(m["lo"])
    hi = value(m["hi"]) if m["hi"] else lo
    if lo is None or hi is None:
        return None
    if lo.isdigit() and hi.isdigit() and int(lo) <= int(hi) <= int(lo) + 200:
        return tuple(str(i) for i in range(int(lo), int(hi) + 1))
    if lo.isalpha() and hi.isalpha() and lo <= hi:
        return tuple(chr(c) for c in range(ord(lo), ord(hi) + 1))
    return None


def _pieces(qual: str) -> list[str]:
    """List items, the unit written once carried to all: ``1、3组`` → ``1组``, ``3组``."""
    # 和/及 join items only between numbers: "和平路" is a name
    pieces = [p for p in re.split(rf"[、,，;；]|(?<=[\d号组社栋])[和及](?=[\d{_CN}])", qual) if p]
    if pieces and re.search(r"(?:号|组|社|栋)$", pieces[-1]):
        unit = pieces[-1][-1]
        item = rf"(?:{_NUM}|[A-Za-z])" if unit == "栋" else _NUM
        pieces = [p + unit if re.fullmatch(rf"{item}(?:(?:-|至|到){item})?", p) else p
                  for p in pieces]
    return pieces


def _series(name: str) -> list[str] | None:
    """``柳南一路至七路`` → 柳南一路…柳南七路; ``双河一至三巷``; ``柳浪湾北一巷-北五巷``."""
    m = _RULE_SERIES_RE.match(name)
    if not m or (m["s1"] and m["s1"] != m["s2"]):
        return None
    a, b = _cn_int(m["a"]), _cn_int(m["b"])
    if a is None or b is None or not 0 < a < b <= 50:
        return None
    arabic = m["a"].isdigit()
    return [f"{m['stem']}{m['dir']}{i if arabic else _cn_str(i)}{m['s2']}"
            for i in range(a, b + 1)]


class _Qualifier(NamedTuple):
    selections: tuple[_Sel, ...] = ()
    excepts: tuple[int, ...] = ()
    except_ranges: tuple[tuple[int, int | None], ...] = ()
    except_sub: bool = False
    groups: tuple[int, ...] = ()
    aliases: tuple[str, ...] = ()
    vague: str | None = None
    buildings: tuple[str, ...] = ()
    except_buildings: tuple[str, ...] = ()

    @property
    def excepting(self) -> bool:
        return bool(self.excepts or self.except_ranges or self.except_sub)


def _overlapping(numbers: Sequence[int], ranges: Sequence[tuple[int, int | None]]) -> bool:
    spans = sorted((lo, float("inf") if hi is None else hi) for lo, hi in ranges)
    return (any(_in_ranges(n, ranges) for n in numbers)
            or any(b[0] <= a[1] for a, b in zip(spans, spans[1:], strict=False)))


def _qualifier(name: str, qual: str) -> _Qualifier:
    """Read the text in parentheses after a name.

    Sub-clauses are separated by ``,;``, list items by ``、``. An item selects door numbers (a
    side, numbers or ranges, or a side of numbers; several items are a union), or is an
    exception (``101号除外``, ``除666号、739号外``, ``不含…``, ``附号除外``, ``3栋除外``), 组
    numbers, 楼栋 of an estate (``1-5栋``, ``1、3栋``), or another name of the road. A lone side
    beside side-less ranges restricts them (``双号，120号以上``: the even numbers from 120).
    Anything else, and any combination that reads two ways, is returned in ``vague``, so that
    the clause is unparsed rather than read wider than written.
    """
    qual = re.sub(r"及(?=以[上下])", "", qual)
    sels: list[_Sel] = []
    excepts: list[int] = []
    except_ranges: list[tuple[int, int | None]] = []
    except_sub = False
    groups: list[int] = []
    aliases: list[str] = []
    vague: list[str] = []
    buildings: list[str] = []
    except_buildings: list[str] = []
    for clause in filter(None, re.split(r"[,;]", qual)):
        pieces = _pieces(clause)
        if "除" in clause or re.match(r"不含|不包括|不包含", clause):
            m = _EXCEPT_RE.fullmatch(clause)
            if not m:
                vague.append(clause)
                continue
            pieces = _pieces(m["a"] or m["b"] or m["c"])
            k = 0
            if m["c"]:
                # "X、Y除外": 除外 reaches back over the side-less numbers before it (云溪路（500号、
                # 515号、518号除外）: all three); an item with a side stays selected
                # (新南路（1-99号单号、附号除外）: the odd numbers 1-99 without their 附号)
                k = len(pieces)
                while k and _exceptable(pieces[k - 1]):
                    k -= 1
            if k == len(pieces) or not all(_exceptable(p) for p in pieces[k:]):
                vague.append(clause)  # "单号除外": an exception we do not read
                continue
            for p in pieces[k:]:
                d = _door(p)
                b = _buildings(p)
                if b is not None:
                    except_buildings += b
                elif d is None:
                    except_sub = True
                else:
                    excepts += d.numbers
                    except_ranges += d.ranges
            pieces = pieces[:k]
        for piece in pieces:
            sel = _sel_item(piece)
            g = re.fullmatch(rf"({_NUM})(?:(?:-|至|到)({_NUM}))?(?:组|社)", piece)
            b = _buildings(piece)
            if sel:
                sels.append(sel)
            elif b is not None:
                buildings += b
            elif g:
                lo = _cn_int(g[1])
                hi = _cn_int(g[2]) if g[2] else lo
                if lo is None or hi is None or lo > hi:
                    vague.append(piece)
                else:
                    groups += range(lo, hi + 1)
            elif re.fullmatch(r"(?:[东南西北中]?[一二三四五六七八九十]*(?:段|路|街))+", piece):
                # "战备渠（北路南路）", "南浦路西段（东段）": the same road's other parts
                stem = re.sub(r"[东南西北中一二三四五六七八九十]+段$", "", name)
                aliases += [stem + seg for seg in
                            re.findall(r"[东南西北中]?[一二三四五六七八九十]*(?:段|路|街)", piece)]
            elif _RULE_ROAD_RE.match(piece) and len(piece) >= 3 and _RULE_ROAD_RE.match(name):
                aliases.append(piece)  # "迎晖路（新东路）": another name of the road
            else:
                vague.append(piece)
    if _overlapping(excepts, except_ranges):
        vague.append(f"{qual} (exceptions overlap: is one of them the selection?)")
    bare = [s for s in sels if s.parity and not s.listed]
    plain = [s for s in sels if not s.parity]
    if bare and plain:
        sided = [s for s in sels if s.parity and s.listed]
        both = [_intersect(bare[0], s) for s in plain]
        if len(bare) == 1 and not sided and not any(s.numbers for s in plain) and all(both):
            sels = [s for s in both if s]  # "双号，120号以上", "单号，1-99号"
        else:
            vague.append(f"{qual} (a side beside listed numbers: both, or that side of them?)")
    merged: dict[str | None, _Sel] = {}
    for s in sels:  # one selection per side; a whole side covers its listed parts
        cur = merged.get(s.parity)
        merged[s.parity] = (s if cur is None else _Sel(s.parity) if not (cur.listed and s.listed)
                            else cur._replace(numbers=cur.numbers + s.numbers,
                                              ranges=cur.ranges + s.ranges))
    return _Qualifier(tuple(merged.values()), tuple(excepts), tuple(except_ranges), except_sub,
                      tuple(groups), tuple(aliases), "、".join(vague) if vague else None,
                      tuple(dict.fromkeys(buildings)), tuple(dict.fromkeys(except_buildings)))


def _parse_clause(raw: str, school: str | None) -> list[Rule]:
    c = unicodedata.normalize("NFKC", raw).strip()
    c = _DASH.sub("-", re.sub(r"\s+", "", c))
    # one way to write a sub-number (附号) and a building (栋)
    c = _ZHI_RE.sub(_zhi_repl, c)
    c = re.sub(r"(?<=[\dA-Za-z])号楼|幢", "栋", c)
    base: dict[str, Any] = {"raw": raw, "school": school}
    m = re.match(r"^(?P<name>[^()]*)\((?P<q>[^()]*)\)(?P<tail>[^()]*)$", c)
    name, qual = (m["name"], m["q"]) if m else (c, "")
    if m and m["tail"]:
        return [Rule(kind="unparsed", note=f"text after the parentheses: {m['tail']}", **base)]
    if "(" in name or ")" in name:
        return [Rule(kind="unparsed", note="unbalanced parentheses", **base)]
    name = _ADMIN.sub("", name)
    name = _WHOLE_RE.sub("", name) or name
    t = _RULE_TOWN_RE.match(name)
    if t:
        base["street"], name = t[1], name[t.end():]
    name = re.sub(r"(?:楼盘|片区)$", "", name) or name
    if _BOUNDARY_RE.search(name):
        area = re.match(r"^(.+?(?:社区|村))(.+)$", name)
        return [Rule(kind="unparsed", area=area[1] if area else None,
                     note=f"boundary description, needs a map: {area[2] if area else name}",
                     **base)]
    q = _qualifier(name, qual) if qual else _Qualifier()
    if q.vague is not None:
        area = name if (_RULE_AREA_RE.match(name) or not _RULE_ROAD_RE.match(name)) else None
        return [Rule(kind="unparsed", road=None if area else name, area=area,
                     note=f"qualifier not decidable from an address: {q.vague}", **base)]
    excepts = {"except_numbers": q.excepts, "except_ranges": q.except_ranges,
               "except_sub": q.except_sub}
    mb = _RULE_BLDG_RE.match(name)
    inline = _buildings(mb["b"]) if mb else None
    if inline is not None or q.buildings or q.except_buildings:
        estate = mb["estate"] if inline is not None else name
        if (q.selections or q.excepting or q.groups or q.aliases or inline and q.buildings
                or len(estate) < 2 or any(p.match(estate) for p in (
                    _RULE_ROAD_RE, _RULE_AREA_RE, _RULE_STREET_AREA_RE))):
            return [Rule(kind="unparsed", area=estate,
                         note=f"栋 of a name that is not an estate, or together with door "
                              f"numbers or 组: {name}({qual})", **base)]
        return [Rule(kind="estate", area=estate, buildings=inline or q.buildings,
                     except_buildings=q.except_buildings, **base)]

    def roads_rule(roads: Iterable[str], sels: Sequence[_Sel]) -> list[Rule]:
        return [Rule(kind="road", road=r, parity=s.parity, numbers=s.numbers, ranges=s.ranges,
                     **excepts, **base) for r in roads for s in sels]

    mnum = _RULE_NUMBER_RE.match(name)
    if mnum:
        extra = tuple(n for s in q.selections for n in s.numbers)
        if (q.groups or q.aliases or q.excepts or q.except_ranges
                or any(s.parity or s.ranges for s in q.selections)
                or mnum["sub"] and (extra or q.except_sub)):
            return [Rule(kind="unparsed", road=mnum["road"],
                         note=f"qualifier of an inline address not read: {qual}", **base)]
        sub = {}
        if mnum["sub2"]:
            sub["sub_ranges"] = (tuple(sorted((int(mnum["sub"]), int(mnum["sub2"])))),)
        elif mnum["sub"]:
            sub["sub_no"] = int(mnum["sub"])
        return [Rule(kind="address", road=mnum["road"], numbers=(int(mnum["no"]), *extra),
                     except_sub=q.except_sub, **sub, **base)]
    mspec = _RULE_SPEC_RE.match(name)
    if mspec:
        own = _sel_item(mspec["spec"])
        if own is None and re.search(r"号$|[单双]号|[单双奇偶]数|以[上下]", mspec["spec"]):
            # "新南路1-5号附1-9号", "新南路36号单号": numbers we do not read, or that contradict
            return [Rule(kind="unparsed", road=mspec["road"],
                         note=f"door numbers not read: {mspec['spec']}", **base)]
        if own is not None:
            sels = [_intersect(own, s) for s in q.selections] or [own]
            if q.groups or q.aliases or not all(sels):
                return [Rule(kind="unparsed", road=mspec["road"],
                             note=f"numbers after the name and in the parentheses do not "
                                  f"combine: {mspec['spec']} ({qual})", **base)]
            return roads_rule([mspec["road"]], [s for s in sels if s])
    mgrp = _RULE_GROUPS_RE.match(name)
    if mgrp and not _RULE_ROAD_RE.match(name) and not qual:
        lo = _cn_int(mgrp["lo"])
        hi = _cn_int(mgrp["hi"]) if mgrp["hi"] else lo
        if lo is not None and hi is not None and lo <= hi:
            return [Rule(kind="group", area=mgrp["area"], groups=tuple(range(lo, hi + 1)),
                         **base)]
    if q.groups:
        if q.selections or q.excepting or q.aliases:
            return [Rule(kind="unparsed", area=name,
                         note=f"组 together with door numbers or names: {qual}", **base)]
        return [Rule(kind="group", area=name, groups=q.groups, **base)]
    sels = q.selections or (_Sel(),)
    series = _series(name)
    if series:
        return roads_rule(series, sels)
    roads = ([name] if _RULE_ROAD_RE.match(name) else []) + list(q.aliases)
    if roads:
        return roads_rule(dict.fromkeys(roads), sels)
    if q.selections or q.excepting or qual and mgrp:
        # "鱼凫社区（单号）": door numbers of something that is not a road
        return [Rule(kind="unparsed", area=name,
                     note=f"door numbers for a name that is not a road: {qual}", **base)]
    if _RULE_AREA_RE.match(name):
        return [Rule(kind="area", area=name, **base)]
    if _RULE_STREET_AREA_RE.match(name) and not base.get("street"):
        return [Rule(kind="area", area=name, **base)]
    if _RULE_ESTATE_RE.match(name):
        return [Rule(kind="estate", area=name, **base)]
    return [Rule(kind="unparsed", note="not a road, 街道/社区/村, 组 or estate name", **base)]


def parse_rules(text: str, *, school: str | None = None) -> list[Rule]:
    """Parse one school's published 划片 clause list.

    Clauses are split on ``、，,；;`` outside parentheses; every clause gives at least one
    :class:`Rule` (a series such as ``柳南一路至七路`` gives one per road, an alias
    ``迎晖路（新东路）`` one per name, door numbers on both sides
    ``（单号1-99号、双号2-120号）`` one per side), and a clause that cannot be read gives
    ``Rule(kind="unparsed")`` — nothing is dropped. A clause is read exactly or not at all: if
    one part of the text in parentheses is not understood, or reads two ways
    (``（单号、84号）``: the odd side and 84, or only 84?), the whole clause is unparsed and
    never matches, rather than a rule wider than the text.

    Door numbers and sides: ``1-99号``, ``1号至99号``, ``单号1-99号`` / ``1-99号单号`` (after the
    name or in parentheses), ``门牌号为单号``, ``120号以上`` / ``120号及以上`` / ``120号起``
    (open above), ``99号以下`` (1–99; 以上/以下 include the number), a lone side beside ranges
    (``双号，120号以上``: the even numbers from 120). Exceptions: ``101号除外``,
    ``除666号、739号外``, ``不含…``, ``附号除外``; in ``X、Y除外`` the 除外 covers the side-less
    numbers before it (``500号、515号、518号除外``), not an item with a side
    (``1-99号单号、附号除外``: the odd numbers 1–99, without 附号).

    Parameters
    ----------
    text : str
        The clauses, e.g. ``"万春东路、长安路（门牌号为单号）、东大街151号"``.
    school : str, optional
        The school they belong to.

    Returns
    -------
    list of Rule

    Examples
    --------
    >>> [(r.kind, r.road, r.parity) for r in parse_rules("长安路（门牌号为单号）、万春东路")]
    [('road', '长安路', 'odd'), ('road', '万春东路', None)]
    >>> r = parse_rules("江安路（除666号、739号外）")[0]
    >>> r.except_numbers
    (666, 739)
    >>> [r.road for r in parse_rules("双河一至三巷")]
    ['双河一巷', '双河二巷', '双河三巷']
    >>> [(r.parity, r.ranges) for r in parse_rules("金开大道（2-36号双号、1-41号单号）")]
    [('even', ((2, 36),)), ('odd', ((1, 41),))]
    >>> [(r.parity, r.ranges) for r in parse_rules("新南路（双号，120号以上）")]
    [('even', ((120, None),))]
    >>> parse_rules("东大街（单号除外）")[0].kind
    'unparsed'
    """
    rules: list[Rule] = []
    for clause in _split_clauses(text):
        if len(clause) > MAX_TEXT:
            rules.append(Rule(kind="unparsed", raw=clause, school=school,
                              note=f"clause too long: {len(clause):,} characters, at most "
                                   f"{MAX_TEXT:,} (a separator 、 missing?)"))
        else:
            rules += _parse_clause(clause, school)
    return rules


def parse_rule_list(text: str) -> list[Rule]:
    """Parse a whole published list, one school a line: ``学校: clause、clause…``.

    Lines may start with a bullet (``-``, ``*``, ``1.``); the colon may be full-width. Lines
    whose part before the colon has no Chinese character (prose, ``Source: …``), headings
    (``#``) and rules (``---``) are skipped.

    Parameters
    ----------
    text : str
        The list.

    Returns
    -------
    list of Rule
        In the order of the text, each with its ``school``.
    """
    rules: list[Rule] = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or set(s) <= set("-=_* "):
            continue
        s = re.sub(r"^(?:[-*•]\s*|\d+[.、)）]\s*)", "", s)
        m = re.search(r"[:：]", s)
        if not m:
            continue
        school, clauses = s[:m.start()], s[m.end():]
        school = school.strip()
        if not re.search(r"[\u4e00-\u9fff]", school) or len(school) > 40:
            continue
        rules += parse_rules(clauses, school=school)
    return rules


def match_rules(rules: Iterable[Rule], parts: AddressParts) -> list[Rule]:
    """Every rule an address falls under, most specific first.

    Exceptions are part of each rule (``东大街（151号除外）`` does not match 东大街151号), so an
    address on a road split between schools matches only its own side. Order: inline addresses,
    then roads restricted by numbers/ranges, by side, by exceptions, then whole roads, groups,
    estates (some 楼栋 before whole estates) and areas (:attr:`Rule.specificity`). When two
    schools still match, the list was ambiguous; the caller decides.

    Parameters
    ----------
    rules : iterable of Rule
    parts : AddressParts
        A parsed address (:func:`parse_address`).

    Returns
    -------
    list of Rule
    """
    hits = [r for r in rules if r.matches(parts)]
    return sorted(hits, key=lambda r: r.specificity)
