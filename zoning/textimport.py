"""Bring a district in: its published 划片 text list → rules → zones; zone files → plans.

Most districts have no zone polygons. What they publish each spring (seeds 000 五(一): the 招生范围
is published in advance) is a text list per school — 街道/社区/村组, roads with 单号/双号 or number
ranges, named 小区, "…除外" exceptions — or, at best, a shapefile a GIS office drew years ago.
This module makes a planner's first day work from either:

1. **Text list → rules** (:func:`parse_text_list`, :func:`read_text_list`). Pasted text, a .txt
   (UTF-8 or GBK), a Word .docx (paragraphs and tables), an Excel sheet or a CSV of (school, text)
   is read into one block of clauses per school; the clauses are parsed by
   :func:`zoning.address.parse_rules` (the one 划片 parser of the package). Every clause is kept
   with its raw text; a clause that cannot be read is reported (school, line, text, why), and a
   line that is not a school's clauses (a title, a note) is reported as skipped — nothing is
   dropped silently. School names are mapped to the dataset's school ids
   (:func:`match_school_names`): by id, exact name, normalised name (``东大街一小`` =
   ``东大街第一小学``, the ``重庆市渝北区`` prefix and an alias in parentheses ignored), then
   fuzzily when one school is clearly best; the rest are reported with candidates.
2. **Rules → zones** (:func:`claim_addresses`, :func:`import_text`). Each address of the district
   gets the school whose clause matches it (:meth:`zoning.address.Rule.matches`, applied once per
   distinct address head — the parts a clause can look at — through an index from road, estate
   and area names to the clauses that name them). Two schools claiming one address is a
   *conflict*: the more specific clause wins (``东大街151号`` over ``东大街``, the order of
   :func:`zoning.address.match_rules`) and the conflict is still listed; clauses equally specific
   leave it unresolved. The same clause under several schools is 多校划片 (*shared*). An address
   no clause claims is a *gap*, listed with the clauses that name its road or area. Parcels take
   the majority school of their addresses (split parcels are reported); a parcel without a
   claimed address takes the zone of the nearest claimed parcel (reported). Zone polygons are
   the parcels' Voronoi cells (:func:`zoning.zones.voronoi_cells`, clipped to the district)
   dissolved per zone, with every parcel kept whole, so the zones tile the district with no gap
   and no overlap and :func:`zoning.zones.validate` passes.
3. **Plans from files** (:func:`import_plan`). A zone layer drawn elsewhere (Shapefile with GBK
   attributes, GeoJSON, GeoPackage; GCJ-02 or CGCS2000 — :func:`zoning.io.read_features` reads
   and converts them) becomes a :class:`zoning.simulate.Plan`: its school column is found (or
   named), its values mapped to schools with a report of what did not match, and parcels are
   assigned by largest overlap. :func:`zoning.simulate.export_plan` writes any plan back as a
   Shapefile (GBK, with its .cpg), GeoJSON, or the published text list.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process

# the address table in the matcher's working form, and its name keys: shared with the address
# index so that a clause and an address are compared exactly as a typed address is
from zoning.address import (
    AddressParts,
    Rule,
    _components,
    _name_key,
    _normalize_many,
    _stem,
    parse_address,
    parse_rules,
)
from zoning.errors import ValidationError
from zoning.settings import LEVELS
from zoning.unitcode import COUNTIES, EDUCATION_DISTRICTS
from zoning.zones import ValidationReport, school_level_serves, validate, voronoi_cells

__all__ = [
    "CLAIM_STATUSES",
    "PlanImport",
    "TextImport",
    "TextList",
    "claim_addresses",
    "import_plan",
    "import_text",
    "match_school_names",
    "parse_text_list",
    "read_text_list",
]

#: What :func:`claim_addresses` says of an address.
CLAIM_STATUSES = ("claimed", "shared", "resolved", "conflict", "unknown_school", "gap")

_STATUS_ZH = {"claimed": "已对应", "shared": "多校划片", "resolved": "冲突（按更具体条目归属）",
              "conflict": "冲突（未解决）", "unknown_school": "学校未对应", "gap": "未覆盖"}

# ------------------------------------------------------------------------------------ reading
_SCHOOL_END = re.compile(
    r"(?:学|校|校区|附小|附中|实小|[一二三四五六七八九十\d]+[小中])(?:[(（][^()（）]*[)）])?$")
# "招生范围：…", "划片范围为：…": the clauses of the school named above
_SCOPE_LABEL = re.compile(r"^(?:招生|划片|服务|施教|学区|对口)?(?:范围|片区|区域|施教区)(?:为|是|如下)?$")
_SCHOOL_LABEL = re.compile(r"^(?:学校|学校名称|校名|招生学校)$")
_NOTE_LABEL = re.compile(r"^(?:注|备注|说明|附注|特别说明|提示)\d*$")
_BULLET = re.compile(r"^(?:[-*•·－]\s*|\d{1,3}[.．、)）]\s*|[(（][一二三四五六七八九十\d]{1,3}[)）]\s*|"
                     r"[一二三四五六七八九十]{1,3}[、.．]\s*)")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_HEADER_SCHOOL = {"学校", "学校名称", "校名", "招生学校", "学校全称", "SCHOOL", "SCHOOL_NAME", "NAME"}
_HEADER_TEXT = {"招生范围", "划片范围", "服务范围", "范围", "划片", "招生片区", "服务片区", "片区范围",
                "施教区", "施教区范围", "对口范围", "TEXT", "CLAUSES", "RULES", "SCOPE"}

# why a clause is unreadable, for the planner (the parser's notes are English, for logs)
_WHY_ZH = (
    ("text after the parentheses", "括号后还有文字，无法确定其含义"),
    ("unbalanced parentheses", "括号不配对"),
    ("boundary description", "四至/方位描述（以东、以西、一侧等）无法按门牌判断，需在地图上划定"),
    ("qualifier not decidable", "括号内的限定无法按门牌地址判断（如“较近的组”）"),
    ("qualifier of an inline address", "门牌号后的限定无法识别"),
    ("door numbers not read", "门牌号写法无法识别"),
    ("numbers after the name", "名称后与括号内的门牌号无法合并"),
    ("组 together with", "组号与门牌号或其他名称混写"),
    ("door numbers for a name", "非道路名称后列出了门牌号"),
    ("栋 of a name", "楼栋只能跟在小区名称后，且不能与门牌号或组号混写"),
    ("not a road", "不是道路、街道/社区/村、组或小区名称"),
    ("clause too long", "条目过长（超过2000字），可能漏了分隔符“、”"),
)


def _why_zh(note: str | None) -> str:
    note = note or ""
    return next((zh for en, zh in _WHY_ZH if note.startswith(en)), "无法识别的条目")


@dataclass(frozen=True, eq=False)
class TextList:
    """A published 划片 list, read: the clauses of each school as rules.

    Attributes
    ----------
    rules : tuple of Rule
        Every rule, in the order of the text; ``rule.school`` is the name as written.
    clauses : pandas.DataFrame
        One row per rule: ``school``, ``line`` (line of the text, or row of the sheet),
        ``raw``, ``kind``, ``note``, ``reason_zh`` (for unparsed rules).
    skipped : pandas.DataFrame
        Lines that are not a school's clauses (titles, notes, prose, a table header):
        ``line``, ``text``, ``reason``, ``reason_zh``.
    schools : tuple of str
        School names in the order of the text (also those listed without clauses).
    source : str or None
        Where the text came from.
    """

    rules: tuple[Rule, ...]
    clauses: pd.DataFrame
    skipped: pd.DataFrame
    schools: tuple[str, ...]
    source: str | None = None

    @property
    def unparsed(self) -> pd.DataFrame:
        """The clauses that cannot be read: ``school``, ``line``, ``raw``, ``note``, ``reason_zh``."""
        c = self.clauses
        return c.loc[c["kind"] == "unparsed", ["school", "line", "raw", "note", "reason_zh"]]

    @property
    def n_clauses(self) -> int:
        """Clauses as published (a series ``柳南一路至七路`` is one clause, several rules)."""
        return int(self.clauses[["school", "line", "raw"]].drop_duplicates().shape[0])

    def __repr__(self) -> str:
        return (f"TextList({len(self.schools)} schools, {self.n_clauses} clauses, "
                f"{len(self.rules)} rules, {len(self.unparsed)} unparsed, "
                f"{len(self.skipped)} lines skipped)")


def _clean_line(line: str) -> str:
    """The line without its bullet or numbering; the text itself is kept as published."""
    s = line.replace("\u200b", "").replace("\ufeff", "").strip()
    return _BULLET.sub("", s).strip()


def _is_school_heading(s: str) -> bool:
    return (bool(_HAN.search(s)) and len(s) <= 40 and not re.search(r"[、,，;；:：]", s)
            and bool(_SCHOOL_END.search(s)))


def _line_records(lines: Iterable[tuple[int, str]]):
    """(line, school, clause text) records and skipped lines of a list's text lines."""
    records: list[tuple[int, str, str]] = []
    skipped: list[tuple[int, str, str, str]] = []
    school: str | None = None

    def skip(no, text, reason, zh):
        skipped.append((no, text, reason, zh))

    for no, line in lines:
        raw = line.strip()
        if not raw:
            continue
        if raw.startswith("#"):
            head = _clean_line(raw.lstrip("#"))
            if _is_school_heading(head):
                school = head
                records.append((no, school, ""))
            else:
                school = None
                skip(no, raw, "heading", "标题")
            continue
        if set(raw) <= set("-=_*~|+ \t"):
            school = None
            skip(no, raw, "rule line", "分隔线")
            continue
        s = _clean_line(raw)
        if "\t" in s:
            cells = [c.strip() for c in s.split("\t") if c.strip()]
            while cells and re.fullmatch(r"\d{1,4}[.、]?", cells[0]):
                cells = cells[1:]  # a 序号 column
            if len(cells) >= 2 and cells[0].upper() in _HEADER_SCHOOL | {"序号"}:
                skip(no, raw, "table header", "表头")
                continue
            if len(cells) >= 2 and _HAN.search(cells[0]) and len(cells[0]) <= 40:
                school = cells[0]
                records.append((no, school, "、".join(cells[1:])))
                continue
            s = "、".join(cells)
        m = re.search(r"[:：]", s)
        if m:
            head, rest = s[:m.start()].strip(), s[m.end():].strip()
            if _SCOPE_LABEL.match(head):
                if school is None:
                    skip(no, raw, "clauses before any school name", "此行之前没有学校名称，无法归属")
                else:
                    records.append((no, school, rest))
                continue
            if _SCHOOL_LABEL.match(head):
                school = rest or None
                if school:
                    records.append((no, school, ""))
                continue
            if _NOTE_LABEL.match(head):
                skip(no, raw, "a note, not clauses", "说明或备注，不是划片条目")
                continue
            if _HAN.search(head) and len(head) <= 40 and not re.search(r"[、,，;；]", head):
                if rest or _is_school_heading(head):
                    school = head
                    records.append((no, school, rest))
                else:
                    school = None
                    skip(no, raw, "a title ending with a colon", "标题")
                continue
            if not _HAN.search(head):
                skip(no, raw, "prose (no Chinese name before the colon)", "说明文字")
                continue
        if _is_school_heading(s):
            school = s
            records.append((no, school, ""))
        elif not _HAN.search(s):
            skip(no, raw, "prose (no Chinese text)", "说明文字")
        elif school is None:
            skip(no, raw, "clauses before any school name", "此行之前没有学校名称，无法归属")
        else:
            records.append((no, school, s))  # the list goes on on the next line
    return records, skipped


def _text_list(records, skipped, *, source: str | None) -> TextList:
    rules: list[Rule] = []
    rows = []
    schools: dict[str, None] = {}
    for no, school, text in records:
        schools.setdefault(school)
        for r in parse_rules(text, school=school):
            rules.append(r)
            rows.append((school, no, r.raw, r.kind, r.note,
                         _why_zh(r.note) if r.kind == "unparsed" else None))
    clauses = pd.DataFrame(rows, columns=["school", "line", "raw", "kind", "note", "reason_zh"],
                           dtype=object).astype({"line": int})
    skipped_df = pd.DataFrame(skipped, columns=["line", "text", "reason", "reason_zh"],
                              dtype=object).astype({"line": int})
    return TextList(tuple(rules), clauses, skipped_df, tuple(schools), source)


def parse_text_list(text: str, *, source: str | None = None) -> TextList:
    r"""Read a published 划片 list from text.

    Accepted layouts (mixed freely): ``学校: 条目、条目…`` lines (colon half- or full-width,
    bullets and numbering ``-``, ``1.``, ``一、``, ``（一）`` ignored); a school name on its own
    line (ending with 小学/中学/学校/校区/分校/附小/一小… , or a Markdown heading) followed by
    its clauses on the next lines, optionally labelled ``招生范围：``; tab-separated rows
    ``学校<TAB>条目…`` (a Word or Excel table pasted as text; a 序号 column and the header row
    are recognised). A line that is none of these is reported in ``skipped`` with the reason.

    Parameters
    ----------
    text : str
        The list as pasted.
    source : str, optional
        Where it came from (kept for the report).

    Returns
    -------
    TextList

    Examples
    --------
    >>> t = parse_text_list("一、东大街一小\n招生范围：万春东路、长安路（单号）\n注：以上为2025年")
    >>> t.schools, [r.raw for r in t.rules], t.skipped["reason_zh"].tolist()
    (('东大街一小',), ['万春东路', '长安路（单号）'], ['说明或备注，不是划片条目'])
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_text_list: expected a str, got {type(text).__name__}")
    records, skipped = _line_records(enumerate(text.splitlines(), 1))
    return _text_list(records, skipped, source=source)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_lines(path: Path) -> list[str]:
    """Paragraphs of a .docx as lines; a table row as its cells joined by tabs."""
    try:
        with zipfile.ZipFile(path) as z:
            root = ET.fromstring(z.read("word/document.xml"))
    except Exception as exc:  # any: a damaged zip raises zlib.error, EOFError, OSError…
        raise ValidationError(f"{path}: is not a readable Word .docx file ({type(exc).__name__}: "
                              f"{exc}); save it again from Word as .docx, or as plain text (.txt)"
                              ) from exc

    def para(p) -> str:
        out = []
        for el in p.iter():
            if el.tag == _W + "t" and el.text:
                out.append(el.text)
            elif el.tag == _W + "tab":
                out.append("\t")
            elif el.tag in (_W + "br", _W + "cr"):
                out.append("\n")
        return "".join(out)

    lines: list[str] = []
    body = root.find(_W + "body")
    for el in list(body) if body is not None else []:
        if el.tag == _W + "p":
            lines += para(el).split("\n")
        elif el.tag == _W + "tbl":
            for tr in el.iter(_W + "tr"):
                cells = ["、".join(t for t in (para(p).strip() for p in tc.iter(_W + "p")) if t)
                         for tc in tr.iter(_W + "tc")]
                lines.append("\t".join(cells))
    return lines


def _decode(data: bytes, path: Path) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValidationError(f"{path}: is neither UTF-8 nor GBK text; save it as UTF-8 text")


def _header_of(cell) -> str:
    return unicodedata.normalize("NFKC", str(cell)).strip().upper().replace(" ", "")


def _table_records(df: pd.DataFrame, path: Path, *, school_column=None, text_column=None):
    """Records of a sheet or CSV with a school column and a clauses column."""
    df = df.astype(object).where(df.notna(), None)
    cells = df.map(lambda v: "" if v is None else str(v).strip())  # kept as published
    head_row = None
    for i in range(min(len(cells), 10)):
        row = {_header_of(v) for v in cells.iloc[i]}
        if row & _HEADER_SCHOOL and row & _HEADER_TEXT:
            head_row = i
            break
    headers = [_header_of(v) for v in cells.iloc[head_row]] if head_row is not None else []

    def pick(given, names, what):
        if given is not None:
            key = _header_of(given)
            if key in headers:
                return headers.index(key)
            if isinstance(given, int) and 0 <= given < cells.shape[1]:
                return given
            raise ValidationError(f"{path}: no column {given!r} (columns: {', '.join(headers)}); "
                                  f"name the {what} column")
        return next((j for j, h in enumerate(headers) if h in names), None)

    sc = pick(school_column, _HEADER_SCHOOL, "school")
    tc = pick(text_column, _HEADER_TEXT, "clauses")
    body = cells.iloc[head_row + 1:] if head_row is not None else cells
    if sc is None or tc is None:
        filled = body.replace("", np.nan)
        school_like = filled.apply(lambda col: col.dropna().map(_is_school_heading).mean()
                                   if col.notna().any() else 0.0)
        length = filled.apply(lambda col: col.dropna().str.len().mean() if col.notna().any()
                              else 0.0).fillna(0.0)
        if sc is None:
            sc = int(np.argmax(school_like.to_numpy())) if school_like.max() >= 0.5 else None
        if tc is None and sc is not None:
            length.iloc[sc] = -1
            tc = int(np.argmax(length.to_numpy())) if length.max() > 0 else None
    if sc is None or tc is None:
        raise ValidationError(
            f"{path}: cannot tell which column holds the school and which the clauses (columns: "
            f"{', '.join(headers) or cells.shape[1]}); name them 学校 and 招生范围, or pass "
            "school_column= and text_column=")
    records, skipped = [], []
    first = (head_row + 2) if head_row is not None else 1
    for k in range(head_row or 0):
        line = "\t".join(v for v in cells.iloc[k] if v)
        if line:
            skipped.append((k + 1, line, "title above the table header", "表头之上的标题"))
    school = None
    for i, (s, t) in enumerate(zip(body.iloc[:, sc], body.iloc[:, tc], strict=True)):
        no = first + i
        if s:
            school = s  # an empty school cell continues the one above (merged cells)
        if not t:
            if s:
                records.append((no, s, ""))
            continue
        if school is None:
            skipped.append((no, t, "clauses before any school name", "此行之前没有学校名称，无法归属"))
            continue
        records.append((no, school, t))
    return records, skipped


def read_text_list(path: str | os.PathLike, *, sheet: str | int | None = None,
                   school_column: str | int | None = None,
                   text_column: str | int | None = None) -> TextList:
    """Read a published 划片 list from a file.

    Parameters
    ----------
    path : path-like
        ``.txt``/``.md`` (UTF-8 or GBK), ``.docx`` (paragraphs; a table row as its cells),
        ``.xlsx``/``.xlsm`` or ``.csv`` with a school column and a clauses column (found by their
        headers ``学校``/``学校名称`` and ``招生范围``/``划片范围``…, else by their content; an empty
        school cell continues the school above, as merged cells export). Several rows of one
        school are joined.
    sheet : str or int, optional
        Excel sheet (default: the first).
    school_column, text_column : str or int, optional
        Header or position of the two columns of a sheet or CSV, when they cannot be found.

    Returns
    -------
    TextList

    Raises
    ------
    ValidationError
        A missing or unreadable file, an old binary ``.doc``/``.xls``, or a table whose columns
        cannot be told apart.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise ValidationError(f"{path}: is a folder, not a file; give the list's file")
    suffix = path.suffix.lower()
    if suffix in (".doc", ".wps"):
        raise ValidationError(f"{path}: the old binary Word format cannot be read; open it in Word "
                              "or WPS and save it as .docx or as plain text (.txt)")
    if suffix == ".docx":
        records, skipped = _line_records(enumerate(_docx_lines(path), 1))
    elif suffix in (".xlsx", ".xlsm", ".xls", ".csv"):
        try:
            if suffix == ".csv":
                text = _decode(path.read_bytes(), path)
                import io as _io

                df = pd.read_csv(_io.StringIO(text), header=None, dtype=str,
                                 skip_blank_lines=True)
            else:
                df = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, header=None,
                                   dtype=str)
        except ImportError as exc:
            raise ValidationError(f"{path}: the old .xls format needs the xlrd package; save the "
                                  "sheet as .xlsx or .csv") from exc
        except ValidationError:
            raise
        except Exception as exc:  # any: a damaged .xlsx raises zlib.error, KeyError…
            raise ValidationError(f"{path}: cannot be read as a table ({type(exc).__name__}: "
                                  f"{exc}); export it again as .xlsx or UTF-8 .csv") from exc
        records, skipped = _table_records(df, path, school_column=school_column,
                                          text_column=text_column)
    else:
        text = _decode(path.read_bytes(), path)
        records, skipped = _line_records(enumerate(text.splitlines(), 1))
    return _text_list(records, skipped, source=str(path))


# ------------------------------------------------------------------------------------ schools
def _prefixes() -> re.Pattern:
    names = sorted({*COUNTIES.values(), *EDUCATION_DISTRICTS, "两江新区", "高新区", "经开区"},
                   key=lambda s: (-len(s), s))
    return re.compile(rf"^(?:中国)?(?:重庆市|重庆)?(?:{'|'.join(map(re.escape, names))})?")


_ADMIN_PREFIX = _prefixes()
_ABBREV = (
    (re.compile(r"第?([一二三四五六七八九十]+)小$"), r"第\1小学"),
    (re.compile(r"第?([一二三四五六七八九十]+)中$"), r"第\1中学"),
    (re.compile(r"实小$"), "实验小学"),
    (re.compile(r"附小$"), "附属小学"),
    (re.compile(r"附中$"), "附属中学"),
    (re.compile(r"(小学|中学)校$"), r"\1"),
)
_PAREN = re.compile(r"[(（]([^()（）]*)[)）]")
_NUMERALS = re.compile(r"[一二三四五六七八九十百零〇两\d]+")


def _local_prefixes(names: pd.Series) -> tuple[str, ...]:
    """Place prefixes most of a district's school names share (``温江区``, ``XX县``)."""
    heads = names.str.extract(r"^(.{2,6}?[市区县])(?=.{3,})")[0].dropna()
    counts = heads.value_counts()
    return tuple(k for k, v in counts.items() if v >= 2 and v >= 0.3 * len(names))


def _school_keys(name: str, local: tuple[str, ...] = ()) -> list[str]:
    """Normalised forms of a school name: whole, without the part in parentheses, that part."""
    s = unicodedata.normalize("NFKC", str(name)).upper()
    s = re.sub(r"[\s·・.,，、\"'“”]+", "", s)
    inner = [m for m in _PAREN.findall(s) if len(m) >= 3]
    outer = _PAREN.sub("", s)
    out = []
    for v in (outer, *inner, s):
        v = _ADMIN_PREFIX.sub("", v) or v
        for pre in local:
            if v.startswith(pre) and len(v) > len(pre) + 2:
                v = v[len(pre):]
        for pat, repl in _ABBREV:
            v = pat.sub(repl, v)
        if v and v not in out:
            out.append(v)
    return out


def match_school_names(names: Iterable[str], schools: pd.DataFrame, *, level: str | None = None,
                       school_map: Mapping[str, str] | None = None, threshold: float = 85.0,
                       margin: float = 5.0) -> pd.DataFrame:
    """Map the school names of a published list to school ids.

    In order: ``school_map`` (the planner's own answer), the name is a school id, the exact
    name, the normalised name (``重庆市``/区县 prefix dropped; ``一小`` = ``第一小学``, ``实小`` =
    ``实验小学``; an alias in parentheses, ``温江区实验学校（中医大附小）``, counts as a name; a
    place prefix most of the district's school names share, ``温江区``, is dropped too), and
    last a fuzzy match (rapidfuzz ratio of the normalised names) accepted only with
    ``score >= threshold``, a lead of ``margin`` over the next school and the same numerals
    (``第一小学`` never becomes ``第二小学``). Only public schools
    that serve ``level`` are candidates (private schools have no service zone, seeds 000 三(一));
    a name that is exactly such a school but of another level or private is refused with the
    reason.

    Parameters
    ----------
    names : iterable of str
        Names as written in the list.
    schools : pandas.DataFrame
        Indexed by ``school_id``, with ``name``; ``level`` and ``ownership`` when present.
    level : {"primary", "junior"}, optional
        The level of the list.
    school_map : mapping of str to str, optional
        Name as written → school id, checked first.
    threshold, margin : float
        Acceptance rule of the fuzzy step.

    Returns
    -------
    pandas.DataFrame
        Indexed by the name as written: ``school_id`` (None when not matched), ``school_name``,
        ``method`` (``map``, ``id``, ``exact``, ``normalised``, ``fuzzy``, ``none``), ``score``,
        ``candidates`` (the nearest schools, for a name not matched), ``reason_zh``.

    Raises
    ------
    ValidationError
        When ``school_map`` names a school id that does not exist.
    """
    school_map = dict(school_map or {})
    bad = {k: v for k, v in school_map.items() if v not in schools.index}
    if bad:
        shown = ", ".join(f"{k!r} → {v!r}" for k, v in list(bad.items())[:5])
        raise ValidationError(f"school_map: {shown} name school ids not in the schools layer; "
                              "use ids such as " + ", ".join(map(str, schools.index[:3])))
    sname = schools["name"].astype(str)
    local = _local_prefixes(sname)
    own = schools["ownership"].astype(str) if "ownership" in schools else pd.Series(
        "public", index=schools.index)
    slevel = schools["level"].astype(str) if "level" in schools else None
    ok = own.eq("public")
    if level is not None and slevel is not None:
        ok &= slevel.map(lambda lv: level in school_level_serves(lv))
    keys: dict[str, set] = {}
    for sid, nm in sname[ok].items():
        for k in _school_keys(nm, local):
            keys.setdefault(k, set()).add(sid)
    choices = {sid: _school_keys(nm, local)[0] for sid, nm in sname[ok].items()}
    by_name = {}
    for sid, nm in sname.items():
        by_name.setdefault(nm, []).append(sid)

    def why_not(sid) -> str:
        if own[sid] != "public":
            return f"“{sname[sid]}”是民办学校，没有招生服务片区（seeds 000 三(一)）"
        lv = {"primary": "小学", "junior": "初中", "nine_year": "九年一贯制"}.get(
            slevel[sid], slevel[sid]) if slevel is not None else "?"
        return f"“{sname[sid]}”是{lv}学校，与所导入的学段不符"

    rows = []
    for name in dict.fromkeys(names):
        row = {"school_id": None, "school_name": None, "method": "none", "score": 0.0,
               "candidates": "", "reason_zh": ""}
        exact = by_name.get(name, [])
        if name in school_map:
            sid = school_map[name]
            row.update(school_id=sid, method="map", score=100.0, reason_zh="按指定对应")
        elif name in schools.index or len(exact) == 1:
            sid = name if name in schools.index else exact[0]
            if ok[sid]:
                row.update(school_id=sid, method="id" if name in schools.index else "exact",
                           score=100.0)
            else:
                row.update(reason_zh=why_not(sid))
        else:
            hits = set().union(*(keys.get(k, set()) for k in _school_keys(name, local)))
            if len(hits) == 1:
                row.update(school_id=hits.pop(), method="normalised", score=100.0)
            elif len(hits) > 1:
                row.update(candidates="、".join(sname[sorted(hits)]),
                           reason_zh="有多所学校同名或简称相同，请用 --map 指定")
            elif choices:
                q = _school_keys(name, local)[0]
                best = process.extract(q, choices, scorer=fuzz.ratio, limit=3)
                score, second = best[0][1], best[1][1] if len(best) > 1 else 0.0
                # 第一小学 and 第二小学 are two schools, however alike the names look
                same_numbers = _NUMERALS.findall(q) == _NUMERALS.findall(choices[best[0][2]])
                if score >= threshold and score - second >= margin and same_numbers:
                    row.update(school_id=best[0][2], method="fuzzy", score=round(score, 1),
                               reason_zh=f"名称相近（相似度{score:.0f}），请核对")
                else:
                    row.update(score=round(score, 1),
                               candidates="、".join(f"{sname[b[2]]}（{b[1]:.0f}）" for b in best),
                               reason_zh="未找到该学校，请核对名称或用 --map 指定")
                    other = [s for s in schools.index[~ok] if name in _school_keys(sname[s], local)
                             or _school_keys(name, local)[0] in _school_keys(sname[s], local)]
                    if other:
                        row["reason_zh"] = why_not(other[0])
            else:
                row.update(reason_zh=f"数据中没有可划片的{level or ''}公办学校")
        if row["school_id"] is not None:
            row["school_name"] = sname[row["school_id"]]
        rows.append((name, row))
    cols = ["school_id", "school_name", "method", "score", "candidates", "reason_zh"]
    index = pd.Index([n for n, _ in rows], name="name", dtype=object)
    out = pd.DataFrame({c: pd.Series([r[c] for _, r in rows], index=index,
                                     dtype=float if c == "score" else object) for c in cols})
    dup = out["school_id"].dropna()
    dup = dup[dup.duplicated(keep=False)]
    for name, sid in dup.items():
        others = "、".join(n for n in dup.index[dup == sid] if n != name)
        out.at[name, "reason_zh"] = (out.at[name, "reason_zh"] + "；" if out.at[name, "reason_zh"]
                                     else "") + f"与“{others}”对应同一所学校"
    return out


# ------------------------------------------------------------------------------------ claims
_HEAD_FIELDS = ("street", "community", "road", "road_no", "sub_no", "estate", "group", "building")


def _address_heads(addresses: pd.DataFrame, *, buildings: bool, roads, estates):
    """The distinct address heads (what a clause can look at) and each address's head.

    With the component columns (``road``, ``road_no``, ``estate`` …, as the demo and most
    registries have them) the heads are read from the columns; otherwise from the text,
    normalised and cut after the 栋 (or before it when no clause names 楼栋), each distinct
    head parsed once with the clauses' road and estate names as the vocabulary.
    """
    if {"road", "road_no", "estate"} <= set(addresses.columns):
        c = _components(addresses)
        cols = {f: c[f] for f in _HEAD_FIELDS}
        if not buildings:
            cols["building"] = np.full(len(addresses), "", dtype=object)
        frame = pd.DataFrame(cols)
        codes = frame.groupby(list(_HEAD_FIELDS), sort=False, dropna=False).ngroup().to_numpy()
        first = pd.Series(np.arange(len(frame))).groupby(codes).first().to_numpy()
        u = frame.iloc[first]

        def opt(v):
            return v if v != "" else None

        def num(v):
            return int(v) if v >= 0 else None

        heads = [AddressParts(raw="", street=opt(st), community=opt(cm), road=opt(rd),
                              road_no=num(no), sub_no=num(sb), estate=opt(es), group=num(gp),
                              building=opt(bd))
                 for st, cm, rd, no, sb, es, gp, bd in zip(
                     *(u[f].tolist() for f in _HEAD_FIELDS), strict=True)]
        return codes, heads
    text = pd.Series(addresses["address"].astype(object).where(addresses["address"].notna(), "")
                     .map(str).to_numpy(), dtype=object)
    # the 单元 and what follows never matter: cut it before normalising, so that only the
    # distinct rest (one per building, door or house) goes through the regex steps
    pre = text.str.replace(r"(?:\d+|[一二三四五六七八九十两]+)单元.*$", "", regex=True)
    pcodes, puniq = pd.factorize(pre)
    keys = pd.Series(_normalize_many([str(t) for t in puniq]), dtype=object)
    cut = r"(?<=栋).*$" if buildings else r"[A-Z\d]+栋.*$"
    hcodes, uniq = pd.factorize(keys.str.replace(cut, "", regex=True))
    heads = [parse_address(h, roads=roads, estates=estates) for h in uniq]
    return hcodes[pcodes], heads


class _RuleIndex:
    """Clauses by the names an address must carry for them to match.

    A superset: whether a clause matches is for :meth:`Rule.matches` to say.
    """

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.road: dict[str, list[int]] = {}
        self.estate: dict[str, list[int]] = {}
        self.area: dict[str, list[int]] = {}
        self.area_suffix: dict[str, list[int]] = {}
        for i, r in enumerate(rules):
            if r.kind in ("road", "address") and r.road:
                self.road.setdefault(_name_key(r.road), []).append(i)
            elif r.kind == "estate" and r.area:
                self.estate.setdefault(_name_key(r.area), []).append(i)
            elif r.kind in ("area", "group") and r.area:
                a = _stem(_name_key(r.area)) or ""
                self.area.setdefault(a, []).append(i)
                for k in range(len(a) - 1):  # every suffix of two characters or more
                    self.area_suffix.setdefault(a[k:], []).append(i)

    def candidates(self, p: AddressParts) -> list[int]:
        out: set[int] = set()
        if p.road:
            rk = _name_key(p.road)
            out.update(self.road.get(rk, ()))
            for pre in (p.locality, p.street, _stem(p.street), p.community, _stem(p.community)):
                if pre:
                    out.update(self.road.get(_name_key(pre) + rk, ()))
        for x in (p.estate, p.road):
            if x:
                xk = _name_key(x)
                for k in range(1, len(xk) + 1):
                    out.update(self.estate.get(xk[:k], ()))
        for name in (p.community, p.street):
            if name:
                c = _stem(_name_key(name)) or ""
                out.update(self.area.get(c, ()))
                if len(c) >= 2:
                    out.update(self.area_suffix.get(c, ()))
                    for k in range(1, len(c) - 1):
                        out.update(self.area.get(c[k:], ()))
        return sorted(out)


def _raw_key(raw: str) -> str:
    s = unicodedata.normalize("NFKC", raw)
    return re.sub(r"\s+", "", s)


def claim_addresses(rules: Iterable[Rule], addresses: pd.DataFrame, *,
                    school_ids: Mapping[str, str | None] | None = None,
                    progress: bool = False) -> pd.DataFrame:
    """Which school's clause claims each address.

    Each distinct address head (the parts a clause can look at: 街道, 社区/村, 组, road, door
    number, 附号, estate and — when a clause names 楼栋 — the 栋) is matched once, against the
    clauses that name its road, estate or area (an index, so the cost grows with the
    addresses, not with addresses × clauses); :meth:`zoning.address.Rule.matches` decides.

    When clauses of several schools match: the most specific decides (:attr:`Rule.specificity`,
    the order of :func:`zoning.address.match_rules`: ``东大街151号`` over ``东大街（单号）`` over
    ``东大街``) and the address is ``resolved``; the same clause under several schools is
    多校划片 (``shared``); otherwise it is a ``conflict`` and gets no school.

    Parameters
    ----------
    rules : iterable of Rule
        With ``rule.school`` set (a name or id).
    addresses : pandas.DataFrame
        Indexed by ``address_id``, with ``address`` and optionally the component columns.
    school_ids : mapping of str to str or None, optional
        School as written in the rules → school id (None: not matched). Default: the names are
        the ids.
    progress : bool
        Show a progress bar over the distinct heads.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``address_id``: ``status`` (one of :data:`CLAIM_STATUSES`), ``school_ids``
        (``;``-joined ids of the school(s) the address goes to, None when it has none),
        ``schools`` (their names as written), ``clauses`` (the deciding clauses),
        ``claimants`` (every school whose clause matches, with its clauses: for conflicts),
        ``near`` (for gaps: clauses naming the address's road, estate or area that do not
        match it), ``place`` (the road, else estate, else 村/社区 and 组, else 街道, as read)
        and ``road_no`` (door number as read; for grouping gaps).
    """
    from tqdm.auto import tqdm

    rules = [r for r in rules if r.kind != "unparsed"]
    ids = dict(school_ids) if school_ids is not None else {r.school: r.school for r in rules}
    buildings = any(r.buildings or r.except_buildings for r in rules)
    roads = frozenset(_name_key(r.road) for r in rules if r.road)
    estates = frozenset(_name_key(r.area) for r in rules if r.kind == "estate" and r.area)
    codes, heads = _address_heads(addresses, buildings=buildings, roads=roads, estates=estates)
    index = _RuleIndex(rules)
    raw_key = [_raw_key(r.raw) for r in rules]
    spec = [r.specificity for r in rules]

    def key(school):  # schools compare by id; a name without an id stays itself
        sid = ids.get(school)
        return sid if sid is not None else f"?{school}"

    n = len(heads)
    status = np.full(n, "gap", dtype=object)
    sids = np.full(n, None, dtype=object)
    names = np.full(n, None, dtype=object)
    decide = np.full(n, None, dtype=object)
    claimants = np.full(n, None, dtype=object)
    near = np.full(n, None, dtype=object)
    place = np.array([p.road or p.estate or (
        (p.community or "") + (f"{p.group}组" if p.group is not None else "")) or p.street
        for p in heads], dtype=object)
    road_no = np.array([np.nan if p.road_no is None else p.road_no for p in heads], dtype=float)
    memo: dict[tuple, tuple] = {}
    near_memo: dict[tuple, list[int]] = {}  # the clauses to try depend on the names only
    for h in tqdm(range(n), disable=not progress, desc="clauses", unit="head"):
        p = heads[h]
        names_key = (p.road, p.estate, p.community, p.street, p.locality)
        cands = near_memo.get(names_key)
        if cands is None:
            cands = near_memo[names_key] = index.candidates(p)
        hits = [i for i in cands if rules[i].matches(p)]
        if not hits:
            if cands:
                near[h] = "；".join(dict.fromkeys(f"{rules[i].raw}（{rules[i].school}）"
                                                   for i in cands))
            continue
        t = tuple(hits)
        if t not in memo:
            memo[t] = _decide(t, rules, spec, raw_key, key)
        status[h], sids[h], names[h], decide[h], claimants[h] = memo[t]
    # object columns: None stays None (pandas 3 would infer str and turn it into NaN)
    cols = {"status": status, "school_ids": sids, "schools": names, "clauses": decide,
            "claimants": claimants, "near": near, "place": place}
    out = pd.DataFrame({k: pd.Series(v[codes], index=addresses.index, dtype=object)
                        for k, v in cols.items()})
    out["road_no"] = road_no[codes]
    return out


def _decide(hits: tuple[int, ...], rules, spec, raw_key, key):
    """(status, school ids, school names, deciding clauses, claimants) of one set of hits."""
    by_school: dict[str, list[int]] = {}
    for i in hits:
        by_school.setdefault(key(rules[i].school), []).append(i)
    top = min(spec[i] for i in hits)
    top_schools = {k: [i for i in v if spec[i] == top] for k, v in by_school.items()}
    top_schools = {k: v for k, v in top_schools.items() if v}
    if len(top_schools) == 1:
        win = list(top_schools)
        status = "claimed" if len(by_school) == 1 else "resolved"
    else:
        texts = {k: frozenset(raw_key[i] for i in v) for k, v in top_schools.items()}
        if len(set(texts.values())) == 1:
            win = sorted(top_schools)
            status = "shared" if len(by_school) == len(top_schools) else "resolved"
        else:
            win, status = [], "conflict"
    claim = None
    if len(by_school) > 1:
        claim = "；".join(f"{rules[v[0]].school}：" + "、".join(dict.fromkeys(rules[i].raw
                                                                           for i in v))
                         for v in by_school.values())
    if not win:
        return status, None, None, None, claim
    if any(k.startswith("?") for k in win):
        status = "unknown_school"
    deciding = [i for k in win for i in top_schools[k]]
    names = "、".join(dict.fromkeys(rules[i].school for i in deciding))
    clauses = "、".join(dict.fromkeys(rules[i].raw for i in deciding))
    ok = [k for k in win if not k.startswith("?")]
    return status, ";".join(sorted(ok)) if status != "unknown_school" else None, names, \
        clauses, claim


# ------------------------------------------------------------------------------------ zones
def _polygonal(g):
    """The polygonal part of ``g`` (make_valid can leave lines and points beside polygons)."""
    if g is None or g.is_empty:
        return shapely.MultiPolygon()
    g = shapely.make_valid(g)
    if shapely.get_type_id(g) in (3, 6):
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.MultiPolygon()


def _zone_polygons(geoms: np.ndarray, labels: np.ndarray, region) -> dict:
    """Zone outlines from parcel labels: parcels whole, the ground between by Voronoi cells.

    A zone is the union of its parcels' Voronoi cells (:func:`zoning.zones.voronoi_cells`,
    clipped to ``region``), less the other zones' parcels reaching into them, plus its own
    parcels. A point in a parcel belongs to that parcel's zone only; a point in no parcel to the
    zone of its cell: the zones tile the region, and no parcel is split. A piece of a zone cut
    off from all its parcels (a cell corner behind a neighbour's parcel) goes to the neighbour
    it shares most boundary with.
    """
    region = _polygonal(region)
    shapely.prepare(region)
    geoms = np.array([_polygonal(g) for g in geoms], dtype=object)
    inside = shapely.contains(region, geoms)
    own = geoms.copy()
    own[~inside] = shapely.intersection(geoms[~inside], region)
    pts = shapely.point_on_surface(geoms)
    cells = voronoi_cells(pts, region)
    tree = shapely.STRtree(own)
    px, py = shapely.get_x(pts), shapely.get_y(pts)
    out = {}
    for z in pd.unique(labels):
        mine = labels == z
        cell = shapely.union_all(cells[mine])
        hit = tree.query(cell, predicate="intersects")
        foreign = hit[labels[hit] != z]
        g = shapely.difference(cell, shapely.union_all(own[foreign])) if foreign.size else cell
        out[z] = _polygonal(shapely.union(g, shapely.union_all(own[mine])))
    # pieces cut off from every parcel of their zone
    orphans = []
    for z, g in out.items():
        parts = shapely.get_parts(g)
        if len(parts) < 2:
            continue
        mine = np.flatnonzero(labels == z)
        keep = np.array([shapely.contains_xy(p, px[mine], py[mine]).any() for p in parts])
        if keep.all() or not keep.any():
            continue
        orphans += [(z, p) for p in parts[~keep]]
        out[z] = shapely.union_all(parts[keep])
    if orphans:
        zs = list(out)
        ztree = shapely.STRtree(np.array([out[z] for z in zs], dtype=object))
        for z, piece in orphans:
            edge = shapely.boundary(piece)
            best, length = z, 0.0
            for j in ztree.query(shapely.buffer(piece, 0.01), predicate="intersects"):
                if zs[j] == z:
                    continue
                shared = shapely.length(shapely.intersection(edge, shapely.buffer(out[zs[j]],
                                                                                   0.01)))
                if shared > length:
                    best, length = zs[j], shared
            out[best] = _polygonal(shapely.union(out[best], piece))
    return out


def _level_prefix(zones: pd.DataFrame, level: str) -> tuple[str, int]:
    """The id prefix the district uses for ``level`` zones and the largest number in use."""
    ids = zones.index[zones["level"] == level].astype(str) if "level" in zones else []
    found = pd.Series(list(ids), dtype=object).str.extract(r"^(.*?)(\d+)$")
    if len(ids) and found[0].notna().any():
        prefix = found[0].dropna().mode().iat[0]
        top = int(pd.to_numeric(found[1], errors="coerce").max())
        return prefix, top
    return ("P-" if level == "primary" else "J-"), 0


def _zone_ids(sets: Iterable[str], existing: pd.DataFrame, level: str) -> dict[str, str]:
    """A zone id per school set: the district's id for the same schools, else a new one."""
    old = existing[existing["level"] == level] if "level" in existing else existing.iloc[:0]
    norm = old["school_ids"].astype(str).str.replace(r"[；,，、\s]+", ";", regex=True).map(
        lambda s: ";".join(sorted(filter(None, s.split(";")))))
    by_set: dict[str, list] = {}
    for zid, s in norm.items():
        by_set.setdefault(s, []).append(zid)
    prefix, top = _level_prefix(existing, level)
    width = max(3, len(str(top)))
    taken = set(map(str, existing.index))
    out = {}
    for s in sets:
        hit = by_set.get(s, [])
        if len(hit) == 1 and hit[0] not in out.values():
            out[s] = str(hit[0])
            continue
        top += 1
        while f"{prefix}{top:0{width}d}" in taken:
            top += 1
        out[s] = f"{prefix}{top:0{width}d}"
        taken.add(out[s])
    return out


def _zone_names(sets: Iterable[str], schools: pd.DataFrame) -> list[str]:
    names = schools["name"].astype(str)
    return [names.get(s.split(";")[0], s) + ("等校" if ";" in s else "") + "片区" for s in sets]


def _region(dataset, level: str):
    if dataset.district is not None and len(dataset.district):
        return shapely.union_all(dataset.district.geometry.to_crs(dataset.crs).values)
    lz = dataset.zones[dataset.zones["level"] == level]
    if len(lz):
        return shapely.union_all(lz.geometry.values)
    return shapely.buffer(shapely.convex_hull(shapely.union_all(dataset.parcels.geometry.values)),
                          100.0)


def _address_parcels(addresses: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> np.ndarray:
    """Parcel of each address: its ``parcel_id`` when known, else the parcel its point is in."""
    pid = (addresses["parcel_id"].astype(object).where(addresses["parcel_id"].notna(), None)
           .to_numpy() if "parcel_id" in addresses else np.full(len(addresses), None, object))
    pid = np.array([None if v is None or v == "" else str(v) for v in pid], dtype=object)
    unknown = np.flatnonzero(pd.isna(pid) | ~pd.Index(pid).isin(parcels.index))
    if unknown.size and isinstance(addresses, gpd.GeoDataFrame):
        pts = addresses.geometry.values[unknown]
        ai, pj = shapely.STRtree(parcels.geometry.values).query(pts, predicate="within")
        found = np.full(unknown.size, None, dtype=object)
        found[ai] = parcels.index.to_numpy()[pj]
        pid[unknown] = found
    return pid


# ------------------------------------------------------------------------------------ result
@dataclass(frozen=True, eq=False)
class TextImport:
    """What :func:`import_text` made of a published list.

    Attributes
    ----------
    level : str
    text : TextList
        The list as read (``text.rules``, ``text.unparsed``, ``text.skipped``).
    schools : pandas.DataFrame
        Name as written → school id (:func:`match_school_names`).
    claims : pandas.DataFrame
        Per address (:func:`claim_addresses`) plus ``address`` and ``parcel_id``.
    conflicts : pandas.DataFrame
        Addresses claimed by several schools (``resolved`` and ``conflict``), with the clauses.
    gaps : pandas.DataFrame
        Addresses no clause claims, with the clauses that name their road or area.
    parcels : pandas.DataFrame
        Per parcel: ``zone_id``, ``school_ids``, ``source`` (``text``: majority of its claimed
        addresses; ``nearest``: no claimed address, zone of the nearest claimed parcel),
        ``addresses`` (claimed ones), ``share`` (of the majority), ``split`` and ``votes``.
    zones : geopandas.GeoDataFrame
        The level's new zones (``level``, ``school_ids``, ``name``), tiling the district.
    validation : ValidationReport
        :func:`zoning.zones.validate` of the new zones.
    summary : dict
        Counts for the report (JSON-ready).
    """

    level: str
    text: TextList
    schools: pd.DataFrame
    claims: pd.DataFrame
    conflicts: pd.DataFrame
    gaps: pd.DataFrame
    parcels: pd.DataFrame
    zones: gpd.GeoDataFrame
    validation: ValidationReport
    summary: dict

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule of the list."""
        return self.text.rules

    @property
    def assignment(self) -> pd.Series:
        """Zone of every parcel (index ``parcel_id``)."""
        return self.parcels["zone_id"].rename("zone_id")

    def __repr__(self) -> str:
        s = self.summary
        return (f"TextImport({self.level}: {s['clauses']} clauses, {s['addresses_placed']}/"
                f"{s['addresses']} addresses placed, {s['conflicts']} conflicts, {s['gaps']} gaps, "
                f"{len(self.zones)} zones, valid={self.validation.ok})")

    def plan(self, *, author: str = "system", note: str | None = None):
        """The imported zones as a :class:`zoning.simulate.Plan` (a new root plan)."""
        from zoning.simulate import Plan, _new_id

        return Plan(plan_id=_new_id(), level=self.level, assignment=self.assignment.copy(),
                    zones=self.zones.copy(), author=author,
                    note=note or f"由划片文字导入（{Path(self.text.source or '粘贴文字').name}）")

    def dataset(self, dataset):
        """``dataset`` with this level's zones replaced by the imported ones."""
        from zoning.simulate import plan_dataset

        return plan_dataset(dataset, self.plan())

    def conflict_groups(self) -> pd.DataFrame:
        """Conflicts grouped by the clauses involved, most addresses first.

        Columns ``claimants``, ``status``, ``school_ids`` (where resolved), ``addresses``,
        ``example`` (one address).
        """
        c = self.conflicts
        if c.empty:
            return pd.DataFrame(columns=["claimants", "status", "school_ids", "addresses",
                                         "example"])
        g = c.groupby(["claimants", "status"], dropna=False, sort=False).agg(
            school_ids=("school_ids", "first"), addresses=("address", "size"),
            example=("address", "first")).reset_index()
        return g.sort_values("addresses", ascending=False, kind="stable").reset_index(drop=True)

    def gap_groups(self) -> pd.DataFrame:
        """Gaps grouped by road (or estate, or 村/社区), most addresses first.

        Columns ``where``, ``addresses``, ``numbers`` (door numbers not covered), ``near``
        (clauses naming the place), ``example``.
        """
        g = self.gaps
        if g.empty:
            return pd.DataFrame(columns=["where", "addresses", "numbers", "near", "example"])
        frame = g.assign(where=g["where"].fillna("（无法识别的地址）"))
        out = frame.groupby("where", sort=False).agg(
            addresses=("address", "size"), near=("near", "first"), example=("address", "first"),
            lo=("road_no", "min"), hi=("road_no", "max")).reset_index()
        out["numbers"] = [f"{int(a)}-{int(b)}号" if a == a and a > 0 else ""
                          for a, b in zip(out.pop("lo"), out.pop("hi"), strict=True)]
        return out.sort_values("addresses", ascending=False, kind="stable").reset_index(drop=True)

    def save(self, store, dataset, *, actor: str) -> None:
        """Replace this level's zones in ``store``, atomically, with an audit entry.

        Raises
        ------
        ValidationError
            If the imported zones do not validate (the store is left as it was).
        """
        import json

        from zoning.store import Dataset

        self.validation.raise_if_errors()
        zones = self.dataset(dataset).zones
        s = self.summary
        note = json.dumps({"import_text": self.level, "source": self.text.source,
                           "zones": len(self.zones), "clauses": s["clauses"],
                           "unparsed": s["clauses_unparsed"], "conflicts": s["conflicts"],
                           "gaps": s["gaps"]}, ensure_ascii=False)
        # only the zones layer is written: the other layers and tables of the store are kept
        store.save(Dataset(schools=None, zones=zones, parcels=None, addresses=None),
                   actor=actor, note=note)


def _as_text_list(source) -> TextList:
    if isinstance(source, TextList):
        return source
    if isinstance(source, os.PathLike):
        return read_text_list(source)
    if isinstance(source, str):
        if "\n" not in source and len(source) < 1024 and Path(source).suffix and Path(
                source).exists():
            return read_text_list(source)
        return parse_text_list(source)
    raise TypeError(f"import_text: give a TextList, a path or the text, not {type(source).__name__}")


def import_text(dataset, source, *, level: str = "primary",
                school_map: Mapping[str, str] | None = None, threshold: float = 85.0,
                progress: bool = False) -> TextImport:
    """Zones of a district from its published 划片 text list.

    Parameters
    ----------
    dataset : zoning.store.Dataset
        The district: schools, parcels, addresses (with ``parcel_id`` or points), district
        boundary (else the extent of the level's zones).
    source : TextList, path-like or str
        The list: already read, a file (:func:`read_text_list`), or the text itself
        (:func:`parse_text_list`; a one-line string naming an existing file is read as a file).
    level : {"primary", "junior"}
        The level the list is for.
    school_map : mapping of str to str, optional
        School name as written → school id, for names :func:`match_school_names` cannot match.
    threshold : float
        Lowest fuzzy score accepted for a school name.
    progress : bool
        Show a progress bar.

    Returns
    -------
    TextImport

    Raises
    ------
    ValidationError
        Unknown level; no clause of the list claims any address (nothing to draw zones from).

    Examples
    --------
    >>> from zoning.publish import zone_text_list  # doctest: +SKIP
    >>> res = import_text(ds, zone_text_list(ds, level="primary"))  # doctest: +SKIP
    >>> res.validation.ok, res.summary["gaps"]  # doctest: +SKIP
    (True, 0)
    """
    if level not in LEVELS:
        raise ValidationError(f"level={level!r}: use one of {', '.join(LEVELS)}")
    t0 = time.perf_counter()
    text = _as_text_list(source)
    names = match_school_names(text.schools, dataset.schools, level=level,
                               school_map=school_map, threshold=threshold)
    t1 = time.perf_counter()
    claims = claim_addresses(text.rules, dataset.addresses,
                             school_ids=names["school_id"].to_dict(), progress=progress)
    t2 = time.perf_counter()
    a = dataset.addresses
    parcels = dataset.parcels
    pid = _address_parcels(a, parcels)
    claims.insert(0, "address", a["address"].astype(str).to_numpy())
    claims.insert(1, "parcel_id", pid)
    conflicts = claims[claims["status"].isin(["resolved", "conflict"])].drop(
        columns=["near", "road_no"])
    gap = claims["status"].eq("gap")
    gaps = claims.loc[gap, ["address", "parcel_id", "near", "place", "road_no"]].rename(
        columns={"place": "where"})

    # parcels: the majority of their placed addresses
    placed = claims["school_ids"].notna().to_numpy() & pd.notna(pid)
    votes = pd.DataFrame({"parcel_id": pid[placed], "sids": claims["school_ids"].to_numpy()[
        placed]})
    counts = votes.value_counts().rename("n").reset_index()
    if counts.empty:
        raise ValidationError(
            f"import_text: no clause of the list claims any address of the district ({len(a)} "
            f"addresses, {len(text.rules)} rules, {int(names['school_id'].notna().sum())} of "
            f"{len(names)} school names matched); check that the list is for this district and "
            f"level ({level}), and map the school names with school_map")
    counts = counts.sort_values(["parcel_id", "n", "sids"], ascending=[True, False, True],
                                kind="stable")
    total = counts.groupby("parcel_id")["n"].transform("sum")
    counts["share"] = counts["n"] / total
    win = counts.drop_duplicates("parcel_id").set_index("parcel_id")
    nsets = counts.groupby("parcel_id").size()
    multi = counts[counts["parcel_id"].isin(nsets.index[nsets > 1])]
    detail = (multi["sids"].astype(str) + " " + multi["n"].astype(str)).groupby(
        multi["parcel_id"]).agg("、".join)
    sets = win["sids"].astype(object).reindex(parcels.index)
    source_col = np.where(sets.notna(), "text", "nearest").astype(object)
    geoms = parcels.geometry.values
    known = sets.notna().to_numpy()
    if (~known).any():
        (qi, ti) = shapely.STRtree(geoms[known]).query_nearest(geoms[~known], all_matches=False)
        fill = np.full((~known).sum(), None, dtype=object)
        fill[qi] = sets.to_numpy()[known][ti]
        sets.iloc[np.flatnonzero(~known)] = fill
    zone_of_set = _zone_ids(pd.unique(sets.dropna()), dataset.zones, level)
    zone = sets.map(zone_of_set)
    parcel_frame = pd.DataFrame({
        "zone_id": zone.astype(object), "school_ids": sets.astype(object), "source": source_col,
        "addresses": win["n"].reindex(parcels.index).fillna(0).astype(int),
        "share": win["share"].reindex(parcels.index).fillna(0.0),
        "split": pd.Series(parcels.index.isin(nsets.index[nsets > 1]), index=parcels.index),
        "votes": detail.reindex(parcels.index).astype(object),
    }, index=parcels.index)
    t3 = time.perf_counter()

    labels = zone.to_numpy(dtype=object)
    ok = pd.notna(labels)
    geom_of = _zone_polygons(geoms[ok], labels[ok], _region(dataset, level))
    order = [z for z in sorted(geom_of)]
    set_of_zone = {z: s for s, z in zone_of_set.items()}
    old = dataset.zones
    zones = gpd.GeoDataFrame({
        "level": level, "school_ids": [set_of_zone[z] for z in order],
        "kind": [old.at[z, "kind"] if "kind" in old and z in old.index else None for z in order],
        "name": _zone_names([set_of_zone[z] for z in order], dataset.schools),
    }, geometry=[geom_of[z] for z in order], crs=dataset.crs,
        index=pd.Index(order, name="zone_id"))
    if zones["kind"].isna().all():
        zones = zones.drop(columns="kind")
    t4 = time.perf_counter()
    report = validate(zones, schools=dataset.schools, parcels=parcels, district=dataset.district)
    t5 = time.perf_counter()

    status = claims["status"].value_counts()
    per_school = claims["school_ids"].dropna().str.split(";").explode().value_counts()
    summary = {
        "level": level, "source": text.source,
        "schools_in_text": len(names),
        "schools_matched": int(names["school_id"].notna().sum()),
        "schools_unmatched": names.index[names["school_id"].isna()].tolist(),
        "schools_fuzzy": names.index[names["method"] == "fuzzy"].tolist(),
        "clauses": text.n_clauses, "rules": len(text.rules),
        "clauses_unparsed": int(text.unparsed[["school", "line", "raw"]].drop_duplicates()
                                .shape[0]),
        "lines_skipped": len(text.skipped),
        "addresses": len(a),
        "addresses_placed": int(claims["school_ids"].notna().sum()),
        "addresses_without_parcel": int(pd.isna(pid).sum()),
        **{f"addresses_{k}": int(status.get(k, 0)) for k in CLAIM_STATUSES},
        "conflicts": int(status.get("resolved", 0) + status.get("conflict", 0)),
        "conflicts_unresolved": int(status.get("conflict", 0)),
        "gaps": int(status.get("gap", 0)),
        "per_school": {str(k): int(v) for k, v in per_school.items()},
        "schools_without_addresses": sorted(set(names["school_id"].dropna()) - set(per_school
                                                                                   .index)),
        "parcels": len(parcels), "parcels_from_text": int((source_col == "text").sum()),
        "parcels_nearest": int((source_col == "nearest").sum()),
        "parcels_nearest_with_households": int(
            pd.to_numeric(parcels.loc[source_col == "nearest", "households"], errors="coerce")
            .fillna(0).gt(0).sum()) if "households" in parcels else None,
        "parcels_split": int(parcel_frame["split"].sum()),
        "zones": len(zones), "valid": bool(report.ok), "validation_errors": len(report.errors),
        "validation_warnings": len(report.warnings),
        "seconds": {"read_and_names": round(t1 - t0, 3), "claims": round(t2 - t1, 3),
                    "parcels": round(t3 - t2, 3), "zones": round(t4 - t3, 3),
                    "validate": round(t5 - t4, 3)},
    }
    return TextImport(level, text, names, claims, conflicts, gaps, parcel_frame, zones, report,
                      summary)


# ------------------------------------------------------------------------------------ plans
_LEVEL_WORDS = {"primary": {"PRIMARY", "小学", "小", "1"}, "junior": {"JUNIOR", "初中", "中学",
                                                                      "初", "2"}}
_SCHOOL_COLS = ("SCHOOL_IDS", "SCHOOL_ID", "对口学校", "学校", "学校名称", "学校代码", "SCHOOL",
                "SCHOOLS", "SCHOOL_NAME", "校名", "招生学校")
_ZONE_COLS = ("ZONE_ID", "片区编号", "片区代码", "ZONE", "ZONE_CODE", "编号")
_NAME_COLS = ("NAME", "片区名称", "名称", "ZONE_NAME")
_LEVEL_COLS = ("LEVEL", "学段")
_SPLIT = re.compile(r"[;；,，、/|]+")


@dataclass(frozen=True, eq=False)
class PlanImport:
    """What :func:`import_plan` made of a zone file.

    Attributes
    ----------
    plan : zoning.simulate.Plan
        The zones as a plan (parcels by largest overlap).
    features : pandas.DataFrame
        One row per feature of the file (of the level): ``value`` (the school column as
        written), ``school_ids`` (matched), ``unmatched`` (values that matched no school),
        ``zone_id``.
    values : pandas.DataFrame
        Each distinct school value → school id (:func:`match_school_names`, or the id itself).
    unmatched : pandas.DataFrame
        The values that matched no school, with the features they come from and the reason.
    schools_without_zone : pandas.DataFrame
        Public schools of the level that no zone of the file names.
    validation : ValidationReport
        :func:`zoning.zones.validate` of the imported zones.
    summary : dict
    """

    plan: object
    features: pd.DataFrame
    values: pd.DataFrame
    unmatched: pd.DataFrame
    schools_without_zone: pd.DataFrame
    validation: ValidationReport
    summary: dict


def _pick_column(frame: pd.DataFrame, wanted: Iterable[str]) -> str | None:
    cols = {_header_of(c): c for c in frame.columns if c != frame.geometry.name}
    return next((cols[w] for w in wanted if w in cols), None)


def _split_values(v) -> list[str]:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    s = str(int(v)) if isinstance(v, float) and v == int(v) else str(v)
    return [p.strip() for p in _SPLIT.split(unicodedata.normalize("NFKC", s)) if p.strip()]


def _match_values(values: list[str], schools, level, school_map, threshold) -> pd.DataFrame:
    ids = [v for v in values if v in schools.index and v not in (school_map or {})]
    rest = [v for v in values if v not in ids]
    names = match_school_names(rest, schools, level=level, school_map=school_map,
                               threshold=threshold) if rest else None
    rows = {v: {"school_id": v, "school_name": schools.at[v, "name"], "method": "id",
                "score": 100.0, "candidates": "", "reason_zh": ""} for v in ids}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[
        "school_id", "school_name", "method", "score", "candidates", "reason_zh"])
    frame.index.name = "name"
    if names is not None:
        frame = pd.concat([frame, names]) if len(frame) else names
    # an id of a school that may not have a zone of this level
    for v in ids:
        sch = schools.loc[v]
        if ("ownership" in schools and sch["ownership"] != "public") or (
                "level" in schools and level not in school_level_serves(sch["level"])):
            frame.loc[v, ["school_id", "school_name", "method"]] = [None, None, "none"]
            frame.loc[v, "reason_zh"] = "该学校为民办学校或学段不符，不能对口本学段片区"
    return frame


def _split_parcels(zone_geoms: np.ndarray, parcels: gpd.GeoDataFrame) -> int:
    """Parcels whose largest overlap with one zone is below 95 % of their area."""
    from zoning.zones import intersection_areas

    pairs = intersection_areas(parcels.geometry, gpd.GeoSeries(zone_geoms, crs=parcels.crs))
    best = pairs.groupby("left")["area"].max()
    share = best / shapely.area(parcels.geometry.values[best.index.to_numpy()])
    return int((share < 0.95).sum())


def _datum_hint(path, read: dict, use: gpd.GeoDataFrame, zones, parcels) -> str | None:
    """A hint when the layer fits the parcels far better read as GCJ-02 or BD-09.

    A layer digitised on Amap, Tencent or Baidu says EPSG:4326 but lies 300-700 m off: its
    zones then cut through many parcels. The same features read in those datums are compared.
    """
    import pyogrio

    try:
        info = pyogrio.read_info(path, layer=read["layer"])
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return None
    crs = info.get("crs")
    if not crs or not _is_geographic(crs):
        return None
    now = _split_parcels(zones.geometry.values, parcels)
    if now < 0.01 * len(parcels):
        return None
    for datum, zh in (("gcj02", "高德、腾讯地图（GCJ-02）"), ("bd09", "百度地图（BD-09）")):
        alt = _read_quiet(path, datum, read)
        if alt is None:
            continue
        geoms = alt.geometry.reindex(use.index)
        shifted = np.array([_polygonal(shapely.union_all(geoms[use["_zone"] == z].values))
                            for z in zones.index], dtype=object)
        if _split_parcels(shifted, parcels) < 0.5 * now:
            return (f"{now} 宗地跨越片区边界；按{zh}坐标读取则大为减少：该图层可能是在{zh}上绘制的，"
                    f"请加 --coords {datum}（source=\"{datum}\"）重新导入")
    return None


def _is_geographic(crs) -> bool:
    """Whether ``crs`` (anything pyproj reads) is a longitude/latitude CRS."""
    import pyproj

    try:
        return bool(pyproj.CRS.from_user_input(crs).is_geographic)
    except pyproj.exceptions.CRSError:
        return False


def _read_quiet(path, datum: str, read: dict):
    from zoning.errors import ZoningError
    from zoning.io import read_features

    try:
        return read_features(path, source=datum, **read)
    except ZoningError:
        return None


def import_plan(dataset, path: str | os.PathLike, *, level: str = "primary",
                school_column: str | None = None, zone_column: str | None = None,
                school_map: Mapping[str, str] | None = None, layer: str | None = None,
                source: str | None = None, encoding: str | None = None,
                input_crs: str | None = None, threshold: float = 85.0,
                author: str = "system") -> PlanImport:
    """An existing zone layer (Shapefile, GeoJSON, GeoPackage) as a plan of ``dataset``.

    The file is read through :func:`zoning.io.read_features` (GBK shapefiles detected, GCJ-02
    with ``source="gcj02"``, CGCS2000/WGS-84/projected CRSs converted to the working CRS).
    A level column (``level``/``学段``), when there is one, selects the features of ``level``.
    The school column is ``school_column``, else the column whose values best match the
    district's schools (by id, or by name through :func:`match_school_names`); a value may
    list several schools (``;``, ``、``: 多校划片). Features are grouped into zones by
    ``zone_column`` (else ``zone_id``/``片区编号``… when unique per school set, else by school
    set), keeping the district's zone id for the same schools. Parcels are assigned by largest
    overlap (:func:`zoning.assign.assign_parcels`).

    Parameters
    ----------
    dataset : zoning.store.Dataset
    path : path-like
        The zone file.
    level : {"primary", "junior"}
    school_column, zone_column : str, optional
        Column names as in the file.
    school_map : mapping of str to str, optional
        Value as written → school id, for values that match no school by themselves.
    layer : str, optional
        GeoPackage layer (default: ``zones`` when there is one).
    source : {"gcj02", "bd09"}, optional
        The file's lon/lat are in that web-map datum.
    encoding : str, optional
        Attribute encoding (shapefiles without .cpg are detected).
    input_crs : str, optional
        CRS of a file that carries none.
    threshold : float
        Lowest fuzzy score for a school name.
    author : str
        Author of the plan.

    Returns
    -------
    PlanImport

    Raises
    ------
    ValidationError
        Unreadable file, an unknown column, no column that names schools, no feature of the
        level, or no feature whose schools are known.
    """
    from zoning.assign import assign_parcels
    from zoning.io import read_features
    from zoning.simulate import Plan, _new_id

    if level not in LEVELS:
        raise ValidationError(f"level={level!r}: use one of {', '.join(LEVELS)}")
    path = Path(path)
    if layer is None and path.suffix.lower() == ".gpkg" and path.exists():
        import pyogrio

        try:
            names = [str(r[0]) for r in pyogrio.list_layers(path)]
        except pyogrio.errors.DataSourceError:
            names = []
        layer = "zones" if "zones" in names else None
    crs = dataset.crs.to_string() if dataset.crs is not None else "EPSG:4545"
    read = {"layer": layer, "encoding": encoding, "input_crs": input_crs, "crs": crs}
    gdf = read_features(path, source=source, **read)
    n_read = len(gdf)
    for given, what in ((school_column, "school_column"), (zone_column, "zone_column")):
        if given is not None and given not in gdf.columns:
            raise ValidationError(f"{path.name}: no column {given!r} for {what} (columns: "
                                  f"{', '.join(map(str, gdf.columns))}); give one of those")
    level_col = _pick_column(gdf, _LEVEL_COLS)
    other_level = 0
    if level_col is not None:
        lv = gdf[level_col].astype(str).str.strip().str.upper()
        mine = lv.isin(_LEVEL_WORDS[level])
        known = mine | lv.isin(set().union(*_LEVEL_WORDS.values()))
        other_level = int((known & ~mine).sum())
        gdf = gdf[mine | ~known]
        if gdf.empty:
            raise ValidationError(f"{path.name}: no feature of level {level} (column "
                                  f"{level_col!r} has {', '.join(map(str, lv.unique()[:6]))})")
    # the school column: given, or the one whose values best match the schools
    tried = {}
    if school_column is not None:
        candidates = [school_column]
    else:
        named = [c for c in (_pick_column(gdf, [w]) for w in _SCHOOL_COLS) if c is not None]
        text_cols = [c for c in gdf.columns if c != gdf.geometry.name and c not in named
                     and (gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c]))]
        candidates = list(dict.fromkeys(named + text_cols))
    for col in candidates:
        vals = [_split_values(v) for v in gdf[col]]
        uniq = list(dict.fromkeys(x for vs in vals for x in vs))
        if not uniq:
            continue
        m = _match_values(uniq, dataset.schools, level, school_map, threshold)
        ok = m["school_id"].notna()
        share = float(np.mean([bool(vs) and all(ok.get(x, False) for x in vs) for vs in vals]))
        tried[col] = (share, m, vals)
    if not tried or max(s for s, _, _ in tried.values()) == 0:
        raise ValidationError(
            f"{path.name}: no column names the schools of the district (columns: "
            f"{', '.join(map(str, gdf.columns.drop(gdf.geometry.name)))}); pass school_column= "
            "naming the column with school ids or names, and school_map= for names that differ")
    col = school_column or max(tried, key=lambda c: tried[c][0])
    share, values, vals = tried[col]
    ok = values["school_id"].dropna()
    sids = [";".join(sorted({ok[x] for x in vs if x in ok.index})) or None for vs in vals]
    bad = [[x for x in vs if x not in ok.index] for vs in vals]
    features = pd.DataFrame({"value": gdf[col].astype(object).to_numpy(), "school_ids": sids,
                             "unmatched": ["、".join(b) or None for b in bad]},
                            index=gdf.index)
    unmatched = values[values["school_id"].isna()].copy()
    unmatched["features"] = [int(sum(v in vs for vs in vals)) for v in unmatched.index]
    keep = features["school_ids"].notna().to_numpy()
    if not keep.any():
        raise ValidationError(f"{path.name}: no feature's schools in column {col!r} are known "
                              "in the district; pass school_map= or another school_column=")
    # zones: by the zone column when it is consistent, else by school set
    zcol = zone_column or _pick_column(gdf, _ZONE_COLS)
    use = gdf[keep].copy()
    use["_sids"] = features.loc[keep, "school_ids"].to_numpy()
    if zcol is not None and zcol != col:
        use["_zone"] = use[zcol].map(lambda v: _split_values(v)[0] if _split_values(v) else None)
        per = use.groupby("_zone")["_sids"].nunique()
        if use["_zone"].isna().any() or (per > 1).any():
            zcol = None
    if zcol is None or zcol == col:
        ids = _zone_ids(pd.unique(use["_sids"]), dataset.zones, level)
        use["_zone"] = use["_sids"].map(ids)
        zcol = None
    features["zone_id"] = None
    features.loc[keep, "zone_id"] = use["_zone"].to_numpy()
    name_col = _pick_column(gdf, _NAME_COLS)
    rows = []
    for z, g in use.groupby("_zone", sort=True):
        geom = _polygonal(shapely.union_all(g.geometry.values))
        name = (str(g[name_col].iloc[0]) if name_col is not None and name_col != col
                and pd.notna(g[name_col].iloc[0]) else None)
        rows.append((str(z), g["_sids"].iloc[0], name, geom))
    sets = [r[1] for r in rows]
    zones = gpd.GeoDataFrame({
        "level": level, "school_ids": sets,
        "name": [r[2] or n for r, n in zip(rows, _zone_names(sets, dataset.schools),
                                           strict=True)],
    }, geometry=[r[3] for r in rows], crs=dataset.crs,
        index=pd.Index([r[0] for r in rows], name="zone_id"))
    assignment = assign_parcels(dataset.parcels, zones, level=level)["zone_id"]
    report = validate(zones, schools=dataset.schools, parcels=dataset.parcels,
                      district=dataset.district)
    sch = dataset.schools
    eligible = sch[(sch["ownership"] == "public") if "ownership" in sch else slice(None)]
    if "level" in eligible:
        eligible = eligible[eligible["level"].map(lambda lv: level in school_level_serves(lv))]
    named_ids = set(";".join(sets).split(";"))
    without = eligible.loc[~eligible.index.isin(named_ids), ["name"]]
    plan = Plan(plan_id=_new_id(), level=level, assignment=assignment, zones=zones,
                author=author, note=f"导入自 {path.name}（学校列 {col}）")
    kinds = report.problems["kind"].value_counts()
    hint = _datum_hint(path, read, use, zones, dataset.parcels) if source is None else None
    summary = {
        "file": str(path), "level": level, "features_read": n_read,
        "features_other_level": other_level, "features": len(features),
        "school_column": str(col), "zone_column": None if zcol is None else str(zcol),
        "columns_tried": {str(c): round(s, 3) for c, (s, _, _) in tried.items()},
        "values": len(values), "values_matched": int(values["school_id"].notna().sum()),
        "values_unmatched": unmatched.index.tolist(),
        "features_dropped": int((~keep).sum()), "zones": len(zones),
        "schools_without_zone": without.index.tolist(),
        "parcels": len(assignment), "parcels_unzoned": int(assignment.isna().sum()),
        "valid": bool(report.ok), "validation_errors": len(report.errors),
        "problems": {str(k): int(v) for k, v in kinds.items()},
        "hint_zh": hint,
    }
    return PlanImport(plan, features, values, unmatched, without, report, summary)
