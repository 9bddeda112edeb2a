"""The fuzzing contract, one target per parser, seeds and hypothesis strategies.

The contract (issue 11): for any input, a parser returns a result or raises
:class:`zoning.errors.ZoningError` (a subclass) with a message that is not empty -- never a bare
KeyError, IndexError, UnicodeDecodeError, ValueError, TypeError or a pyogrio/pandas/openpyxl
exception, and never a hang (:func:`check` stops a case after :data:`HARD_LIMIT` seconds).

Targets take what the outside gives (text, or a file's bytes and suffix) and run every public
entry point that reads it. The same targets serve the suite (``tests/test_fuzz.py``), the
corpus replay and the longer runs (``run_hypothesis.py``, ``run_atheris.py``).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import re
import signal
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from hypothesis import strategies as st

from zoning.errors import UnitCodeError, ZoningError

#: A case that runs longer than this is a hang (seconds; the quadratic worst cases of the text
#: parsers at a few thousand characters take about a second on a loaded machine).
HARD_LIMIT = 30.0
#: Off under libFuzzer (run_atheris.py), whose own -timeout uses SIGALRM.
USE_ALARM = True

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SAMPLES = Path("/work/shared/samples")
if not SAMPLES.exists():  # pragma: no cover - the samples live next to the repository
    SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


class Hang(BaseException):
    """A parser ran longer than :data:`HARD_LIMIT` on one input.

    Not an Exception: a reader that maps any exception of a library to its own error must not
    turn a hang into "damaged file".
    """


@contextlib.contextmanager
def time_limit(seconds: float = HARD_LIMIT):
    """Fail a case that runs longer than ``seconds`` (main thread only; elsewhere no limit)."""
    def alarm(signum, frame):
        raise Hang(f"no answer after {seconds:g} s: a hang")

    if not USE_ALARM:
        yield
        return
    try:
        old = signal.signal(signal.SIGALRM, alarm)
    except ValueError:  # not the main thread (e.g. under a thread-based runner): no limit
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass(frozen=True)
class Outcome:
    """What one call gave: a result or the project's own error."""

    value: object = None
    error: ZoningError | None = None


def check(fn, *args, **kwargs) -> Outcome:
    """Call ``fn`` under the contract; anything but a result or a good ZoningError propagates."""
    with time_limit():
        try:
            return Outcome(value=fn(*args, **kwargs))
        except ZoningError as exc:
            assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
            if isinstance(exc, UnitCodeError):
                assert exc.message_zh.strip(), "UnitCodeError without a Chinese message"
            return Outcome(error=exc)


# =========================================================================== seeds
ADDRESS_SEEDS = [
    "重庆市李家沱街道马王坪新村2号附1号庆丰物管旁",
    "马王坪新村2号附4号(庆丰花园内)",
    "马王坪正街马王坪新村2号附6-7号",
    "李家沱马王坪正街22号庆丰花园",
    "马王坪正街与工矿路交叉口东北100米",
    "重庆市渝北区龙溪街道金开大道１０８８号 金星湖城3幢二单元15楼3号",
    "龙湖春森彼岸二期3幢2单元1503",
    "金港国际A座1503室",
    "柏树村4组15号",
    "渝北区双凤桥街道鱼凫社区三社12号",
    "重庆渝北新南支路36号湖霞园湾1栋2单元3-1",
    "12号之一",
]
RULE_SEEDS = [
    "万春东路、万春路、迎晖路（新东路）、东大街151号、柳城北街（999号除外）",
    "东大街（151号除外）、长安路（门牌号为单号）、滨江路北段（1000号除外）、合江村",
    "南熏大道一段（84号、188号、366号）、德通桥1-4组、柳南一路至七路、双河一至三巷",
    "江安路（除666号、739号外）、金开大道（2-36号双号、1-41号单号）、新南路（双号，120号以上）",
    "万春镇黄石社区（距离东一北校区较近的组）、X路以西、花土E区、安和苑3栋、和平社区（2-7组）",
    "云溪路（500号、515号、518号除外）、柳林路（99号、158号）、柳浪湾北一巷-北五巷",
]
TEXT_LIST_SEED = """\
# 2025年小学入学划片范围
一、东大街一小
招生范围：万春东路、长安路（单号）、东大街151号
二、东大街二小：东大街（151号除外）、长安路（门牌号为双号）
- 庆丰街小学: 河坝街、德通桥1-4组、柳平一街
序号\t学校\t招生范围
1\t江安路学校\t凤凰北大街、江安路（666号、739号）
注：以上为2025年划片范围
---
Source: 温江区教育局
"""


def sample_lines(name: str) -> list[str]:
    """Non-empty lines of a shared sample (none when the samples are not beside the repo)."""
    path = SAMPLES / name
    if not path.exists():
        return []
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def address_seeds() -> list[str]:
    return ADDRESS_SEEDS + [s for s in sample_lines("addresses_chongqing.txt")
                            if not s.startswith("#")]


def rule_seeds() -> list[str]:
    lines = [s.split(":", 1)[1] for s in sample_lines("zoning_text_wenjiang.md")
             if s.startswith("- ") and ":" in s]
    return RULE_SEEDS + lines


def text_list_seeds() -> list[str]:
    whole = "\n".join(sample_lines("zoning_text_wenjiang.md"))
    return [TEXT_LIST_SEED] + ([whole] if whole else [])


def allowed_at(i: int) -> str:
    """Characters GB/T 37346-2019 allows at 0-based position ``i`` of a 不动产单元号."""
    from zoning import unitcode as uc

    rule = uc._LETTER_RULES.get(i)
    return rule[0] if rule else "0123456789"


VALID_CODES = ["500112001002GB00012F00010203", "500112001002JC00012W00000000",
               "110101000000ZY99999Q99999999", "500243999999GA00001L00000001"]
VALID_PARCELS = ["500112001002GB00012", "500112001002JC00012"]


# =========================================================================== mutation
# Characters a careless or hostile input brings: full-width forms, separators of every kind,
# look-alikes, Chinese numerals and address words, control characters, other scripts.
NASTY = (
    "0123456789０１２３４５６７８９٣۴߃०१๓〇一二三四五六七八九十百千两零"
    "ABCDEFGHJKLMNOPQRSTUVWXYZabcxyzＡＢＧｆｗOoIl"
    " \t\n\r\x0b\x0c\u3000\u00a0\u200b\u200c\u200d\u2060\ufeff\u2028\u2029\x00\x01\x1b\x7f\x85"
    "-_‐‑‒–—―−﹘﹣－＿~〜/\\|#＃*,，、;；:：.。·()（）[]【】〔〕［］<>《》'\"“”‘’"
    "号栋幢座单元楼层室房户附之组社村区街道路巷弄大道段期苑城重庆市渝北区除外单双以上以下至含不"
    "\u0301\u0308\u20dd\ufe0f\U0001f600\U0001d7d8\u2460\u2474\u00b2\u00bd\u2153\uff61\ud7a3"
    "αβЖжабاللهעבר\u202e\u202d"
)


@st.composite
def mutated(draw, seed: str | st.SearchStrategy, *, alphabet: str = NASTY, max_ops: int = 6):
    """``seed`` changed by a few edits: replace, insert, delete, duplicate, swap, cut."""
    s = draw(seed) if isinstance(seed, st.SearchStrategy) else seed
    chars = st.sampled_from(alphabet)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "dup", "swap", "cut", "case"]))
        n = len(s)
        i = draw(st.integers(0, max(n - 1, 0)))
        if op == "replace" and n:
            s = s[:i] + draw(chars) + s[i + 1:]
        elif op == "insert":
            s = s[:i] + draw(st.text(chars, min_size=1, max_size=4)) + s[i:]
        elif op == "delete" and n:
            s = s[:i] + s[i + draw(st.integers(1, 4)):]
        elif op == "dup" and n:
            j = draw(st.integers(i, n))
            s = s[:j] + s[i:j] * draw(st.integers(1, 3)) + s[j:]
        elif op == "swap" and n > 1:
            j = draw(st.integers(0, n - 1))
            t = list(s)
            t[i], t[j] = t[j], t[i]
            s = "".join(t)
        elif op == "cut" and n:
            s = s[:i] if draw(st.booleans()) else s[i:]
        elif op == "case":
            s = s.lower() if draw(st.booleans()) else s.upper()
    return s


def mutate_bytes(data: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply byte edits ``(op, position, length, new)`` to ``data`` (positions wrap)."""
    b = bytearray(data)
    for op, pos, length, new in ops:
        n = len(b)
        i = pos % (n + 1)
        if op == "flip" and n:
            b[i % n] ^= (new[0] if new else 0xFF) or 0x01
        elif op == "replace":
            b[i:i + len(new)] = new
        elif op == "insert":
            b[i:i] = new
        elif op == "delete":
            del b[i:i + length]
        elif op == "truncate":
            del b[i:]
        elif op == "dup":
            b[i:i] = b[i:i + length]
    return bytes(b)


#: Byte sequences that break parsers: 0xFF, NUL, a cut UTF-8/GBK character, big numbers, quotes.
NASTY_BYTES = [b"\xff", b"\x00", b"\xe4\xb8", b"\xb0", b"\x81\x30", b"\n", b"\r\n", b",", b'"',
               b"NaN", b"inf", b"-1e400", b"1e999", b"99999999999999999999", b"{", b"]", b"null",
               b"\xef\xbb\xbf", "重庆".encode("gbk"), "重庆".encode(), b"PK\x03\x04", b";"]


byte_ops = st.lists(st.tuples(
    st.sampled_from(["flip", "replace", "insert", "delete", "truncate", "dup"]),
    st.integers(0, 2**20), st.integers(1, 64),
    st.one_of(st.sampled_from(NASTY_BYTES), st.binary(min_size=1, max_size=16))),
    min_size=1, max_size=4)


# =========================================================================== text targets
def unitcode_target(text: str) -> None:
    """Every entry point of :mod:`zoning.unitcode` on one typed code."""
    from zoning import unitcode as uc

    norm = check(uc.normalize, text).value
    assert uc.normalize(norm) == norm, "normalize() is not idempotent"
    for allow in (False, True):
        got = check(uc.parse, text, allow_parcel=allow)
        valid = uc.is_valid(text, allow_parcel=allow)
        assert valid == (got.error is None), "is_valid() disagrees with parse()"
        table = check(uc.parse_many, [text], allow_parcel=allow).value
        assert bool(table["valid"].iloc[0]) == valid, "parse_many() disagrees with parse()"
        if got.error is not None:
            pos = got.error.position
            assert pos is None or 1 <= pos <= len(norm) + 1, f"position {pos} outside the code"
            assert table["error_zh"].iloc[0], "parse_many() without a Chinese message"
        else:
            u = got.value
            assert u.code == norm and uc.parse(u.code, allow_parcel=allow) == u
            assert u.explain().strip()
    check(uc.county_name, text)


def address_target(text: str, index=None) -> None:
    """Normalise, parse, match one typed address; match the 划片 rules against it."""
    from zoning import address as ad

    key = check(ad.normalize_address, text).value
    if key is not None and len(key) <= ad.MAX_TEXT:  # NFKC may widen a text past the limit
        assert ad.normalize_address(key) == key, "normalize_address() is not idempotent"
    parts = check(ad.parse_address, text).value
    if parts is not None:
        check(ad.match_rules, ad.parse_rules(RULE_SEEDS[0]), parts)
    if index is not None:
        m = check(index.match, text).value
        if m is not None:
            assert m.method in ("exact", "fuzzy", "partial", "none")
            assert m.reason_zh.strip() and m.reason.strip()
            assert (m.address_id is None) == (m.method in ("partial", "none"))


def rules_target(text: str) -> None:
    """The 划片 clause parser: one school's clauses and a whole list."""
    from zoning import address as ad

    for rules in (check(ad.parse_rules, text, school="某小学").value,
                  check(ad.parse_rule_list, text).value):
        for r in rules or []:
            assert r.kind in ad.RULE_KINDS, f"unknown rule kind {r.kind!r}"
            assert r.kind != "unparsed" or r.note, "an unparsed clause without the reason"
    parts = ad.parse_address("东大街151号")
    check(ad.match_rules, check(ad.parse_rules, text).value or [], parts)


def text_list_target(text: str) -> None:
    """A pasted 划片 list."""
    from zoning.textimport import parse_text_list

    t = check(parse_text_list, text).value
    if t is not None:
        n = max(len(text.splitlines()), 1)
        assert t.clauses["line"].between(1, n).all() and t.skipped["line"].between(1, n).all()
        u = t.unparsed
        assert u["reason_zh"].map(lambda s: bool(s and s.strip())).all()
        # nothing dropped silently: a line gives clauses, is reported skipped, names a school,
        # or has no Chinese text after its label ("招生范围：" and nothing more)
        seen = set(t.clauses["line"]) | set(t.skipped["line"])
        for no, line in enumerate(text.splitlines(), 1):
            bare = line.replace("\u200b", "").replace("\ufeff", "")
            if no in seen or any(s in bare for s in t.schools):
                continue
            rest = re.split(r"[:：]", bare)[-1]
            assert not re.search(r"[\u4e00-\u9fff]", rest), f"line {no} dropped: {line!r}"
        repr(t)


# =========================================================================== file targets
def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def text_file_target(data: bytes, suffix: str) -> None:
    """A 划片 list as a file: .txt/.md, .docx, .xlsx, .csv."""
    from zoning.textimport import read_text_list

    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        check(read_text_list, _write(Path(d), f"list{suffix}", data))


def layer_files_target(files: dict[str, bytes], kind: str) -> None:
    """A spatial layer (one file, or a shapefile's parts keyed by suffix) and a table."""
    from zoning.io import LAYERS, read_features, read_layer, read_table

    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        main = None
        for suffix, data in files.items():
            p = _write(Path(d), f"layer{suffix}", data)
            if suffix in (".shp", ".geojson", ".json", ".gpkg", ".csv", ".xlsx", ".txt"):
                main = main or p
        if main is None:
            return
        if kind in LAYERS:
            check(read_layer, main, kind)
            check(read_features, main)
            if main.suffix == ".csv":
                check(read_layer, main, kind, input_crs="EPSG:4545")
        else:
            check(read_table, main, kind)


def applicants_target(data: bytes, suffix: str, schools: pd.DataFrame | None = None) -> None:
    """An applicant file for ``zoning enroll import``."""
    from zoning.enroll import import_applicants

    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        rep = check(import_applicants, _write(Path(d), f"applicants{suffix}", data), year=2027,
                    schools=schools).value
        if rep is not None:
            r = rep.rejected
            assert r["reason"].map(bool).all() and r["reason_zh"].map(bool).all()
            assert (r["row"] >= 2).all() if len(r) else True
            shown = rep.accepted["id_masked"].astype(str)
            assert not shown.str.fullmatch(r"[0-9]{17}[0-9X]").any(), "an ID number unmasked"


def lottery_target(files: dict[str, bytes]) -> None:
    """``zoning lottery verify``: a commit file, the applicant list and the draw file.

    ``files`` maps "commit", "applicants", "draw" to bytes; the list and the draw are named after
    the key the commit file says (as the commands write them), or ``X`` when it says none.
    """
    from zoning.lottery import read_commit, read_draw, verify_files

    key = "X"
    with contextlib.suppress(Exception):
        body = json.loads(files["commit"].decode("utf-8"))
        p = body["params"]
        key = f"{p['school_id']}-{p['year']}-{p['level']}"
    if "/" in key or "\x00" in key or key in (".", "..") or len(key.encode()) > 200:
        key = "X"
    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        folder = Path(d)
        c = _write(folder, "case.commit.json", files["commit"])
        if files.get("applicants") is not None:
            _write(folder, f"{key}.applicants.csv", files["applicants"])
        dr = None
        if files.get("draw") is not None:
            dr = _write(folder, f"{key}.draw.json", files["draw"])
        check(read_commit, c)
        if dr is not None:
            check(read_draw, dr)
        v = check(verify_files, c, dr).value
        if v is not None:
            assert v.ok == (not v.problems) and len(v.problems) == len(v.problems_zh)


def plan_target(files: dict[str, bytes], dataset) -> None:
    """``zoning import-plan``: a zone layer drawn elsewhere, as a plan of ``dataset``."""
    from zoning.textimport import import_plan

    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        main = None
        for suffix, data in files.items():
            p = _write(Path(d), f"zones{suffix}", data)
            main = main or (p if suffix in (".shp", ".geojson", ".gpkg") else None)
        if main is not None:
            check(import_plan, dataset, main)


def zone_files(dataset) -> dict[str, dict[str, bytes]]:
    """The dataset's primary zones as GeoJSON (WGS-84) and a GBK shapefile (CGCS2000)."""
    z = dataset.zones
    z = z[z["level"] == "primary"].reset_index()[["zone_id", "school_ids", "geometry"]]
    out = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-seed-") as d:
        folder = Path(d)
        z.to_crs("EPSG:4326").to_file(folder / "z.geojson", driver="GeoJSON")
        out["geojson"] = {".geojson": (folder / "z.geojson").read_bytes()}
        z.to_crs("EPSG:4545").to_file(folder / "z.shp", encoding="GBK")
        out["shp"] = {p.suffix: p.read_bytes() for p in folder.glob("z.*")
                      if p.suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg")}
    return out


GEOMETRIES = [
    {"type": "Point", "coordinates": [106.6, 29.7]},
    {"type": "Polygon", "coordinates": []},
    {"type": "Polygon", "coordinates": [[[106.6, 29.7], [106.7, 29.8], [106.7, 29.7],
                                         [106.6, 29.8], [106.6, 29.7]]]},  # a bow tie
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
    {"type": "LineString", "coordinates": [[106.6, 29.7], [106.7, 29.8]]},
    {"type": "Polygon", "coordinates": [[[1e308, 1e308], [-1e308, 1], [0, -1e308],
                                         [1e308, 1e308]]]},
    {"type": "GeometryCollection", "geometries": []},
    None,
]


@st.composite
def plan_inputs(draw, seeds: dict[str, dict[str, bytes]]) -> dict[str, bytes]:
    name = draw(st.sampled_from(sorted(seeds)))
    files = dict(seeds[name])
    how = draw(st.sampled_from(["geometry", "json", "bytes"]))
    if name == "geojson" and how == "geometry":
        body = json.loads(files[".geojson"])
        for _ in range(draw(st.integers(1, 3))):
            f = draw(st.sampled_from(body["features"]))
            f["geometry"] = draw(st.sampled_from(GEOMETRIES))
        files[".geojson"] = json.dumps(body).encode()
    elif name == "geojson" and how == "json":
        files[".geojson"] = draw(json_mutated(files[".geojson"]))
    else:
        part = draw(st.sampled_from(sorted(files)))
        files[part] = mutate_bytes(files[part], draw(byte_ops))
    return files


def enroll_text_target(text: str) -> None:
    """ID numbers and 报到码 as typed by an officer."""
    from zoning.enroll import check_code, check_id_number

    check(check_id_number, text)
    check(check_code, text)


# =========================================================================== seed files
def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def docx_bytes(paragraphs: list[str], rows: list[list[str]] = ()) -> bytes:
    """A minimal Word .docx: paragraphs, then a table."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    body = "".join(f"<w:p><w:r><w:t>{esc(p)}</w:t></w:r></w:p>" for p in paragraphs)
    if rows:
        body += "<w:tbl>" + "".join(
            "<w:tr>" + "".join(f"<w:tc><w:p><w:r><w:t>{esc(c)}</w:t></w:r></w:p></w:tc>"
                               for c in r) + "</w:tr>" for r in rows) + "</w:tbl>"
    doc = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{w}"><w:body>{body}' \
          "</w:body></w:document>"
    ctypes = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
              'content-types"><Override PartName="/word/document.xml" ContentType="application/'
              'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    return _zip({"[Content_Types].xml": ctypes.encode(), "word/document.xml": doc.encode()})


def xlsx_bytes(frame: pd.DataFrame, *, header: bool = True) -> bytes:
    buf = io.BytesIO()
    frame.to_excel(buf, index=False, header=header)
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def text_list_files() -> dict[str, bytes]:
    """Valid 划片 list files, one per format, to mutate."""
    text = TEXT_LIST_SEED
    table = pd.DataFrame({"学校": ["东大街一小", "", "庆丰街小学"],
                          "招生范围": ["万春东路、长安路（单号）", "东大街151号", "河坝街、德通桥1-4组"]})
    return {
        ".txt": text.encode("utf-8"),
        ".md": text.encode("gb18030"),
        ".docx": docx_bytes(["2025年划片范围", "东大街一小", "招生范围：万春东路、长安路（单号）"],
                            [["学校", "招生范围"], ["庆丰街小学", "河坝街、德通桥1-4组"]]),
        ".xlsx": xlsx_bytes(table),
        ".csv": table.to_csv(index=False).encode("gbk"),
    }


@functools.lru_cache(maxsize=1)
def layer_files() -> dict[str, dict[str, bytes]]:
    """Valid school layers in every format ``zoning.io`` reads (name → {suffix: bytes})."""
    import geopandas as gpd
    from shapely.geometry import Point

    lon = [106.63, 106.64, 106.65]
    lat = [29.72, 29.71, 29.70]
    frame = pd.DataFrame({"school_id": ["S001", "S002", "S003"],
                          "name": ["龙溪小学", "金开小学", "东大街一小"],
                          "level": ["primary", "junior", "primary"],
                          "ownership": ["public", "public", "private"]})
    gdf = gpd.GeoDataFrame(frame, geometry=[Point(x, y) for x, y in zip(lon, lat, strict=True)],
                           crs="EPSG:4326")
    out: dict[str, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-seed-") as d:
        folder = Path(d)
        gdf.to_file(folder / "s.geojson", driver="GeoJSON")
        out["geojson"] = {".geojson": (folder / "s.geojson").read_bytes()}
        gdf.to_file(folder / "s.gpkg", layer="schools", driver="GPKG")
        out["gpkg"] = {".gpkg": (folder / "s.gpkg").read_bytes()}
        gdf.to_crs("EPSG:4545").to_file(folder / "s.shp", encoding="GBK")
        out["shp"] = {p.suffix: p.read_bytes() for p in folder.glob("s.*")
                      if p.suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg")}
        out["shp_no_cpg"] = {k: v for k, v in out["shp"].items() if k != ".cpg"}
    out["csv_lonlat"] = {".csv": frame.assign(lon=lon, lat=lat).to_csv(index=False).encode()}
    xy = gdf.to_crs("EPSG:4545").geometry
    out["csv_xy"] = {".csv": frame.assign(x=xy.x, y=xy.y).to_csv(index=False).encode("gbk")}
    out["csv_wkt"] = {".csv": frame.assign(wkt=gdf.geometry.to_wkt()).to_csv(index=False).encode()}
    out["xlsx"] = {".xlsx": xlsx_bytes(frame.assign(经度=lon, 纬度=lat))}
    return out


@functools.lru_cache(maxsize=1)
def table_files() -> dict[str, bytes]:
    """A valid classes table (CSV and Excel)."""
    t = pd.DataFrame({"school_id": ["S001", "S001", "S002"], "grade": [1, 1, 7],
                      "class_no": [1, 2, 1], "students": [45, 44, 50]})
    return {".csv": t.to_csv(index=False).encode(), ".xlsx": xlsx_bytes(t)}


def _id(first17: str) -> str:
    from zoning.enroll import id_check_digit

    return first17 + id_check_digit(first17)


def applicant_frame() -> pd.DataFrame:
    """Three applicants as a school office exports them (Chinese headers)."""
    return pd.DataFrame({
        "报名号": ["BM2027000001", "BM2027000002", ""],
        "身份证号": [_id("50011220200831123"), _id("50011220200101001"), _id("11010519491231002")],
        "姓名": ["张三", "李四", "王五"],
        "出生日期": ["2020-08-31", "2020/01/01", ""],
        "学段": ["小学", "小学", "初中"],
        "报名类型": ["公办", "民办", "公办"],
        "报名学校": ["", "S003", ""],
        "生源类型": ["本地", "本地", "随迁子女"],
        "居住地址": ["渝北区金开大道1088号金星湖城3栋2单元15-3", "", "龙溪街道新南支路36号"],
        "不动产单元号": ["500112001002GB00012F00010203", "500112001002GB00012F00010204", ""],
        "居住证起始日期": ["", "", "2026-01-01"],
        "报名日期": ["2027-06-05", "2027-06-18", "2027-07-30"],
    })


@functools.lru_cache(maxsize=1)
def applicant_files() -> dict[str, bytes]:
    f = applicant_frame()
    return {".csv": f.to_csv(index=False).encode("utf-8-sig"), ".gbk.csv": f.to_csv(
        index=False).encode("gb18030"), ".xlsx": xlsx_bytes(f)}


@functools.lru_cache(maxsize=1)
def lottery_files() -> dict[str, bytes]:
    """A published commit, applicant list and draw of a small lottery."""
    from zoning.lottery import LotteryParams, draw, write_commit, write_draw

    apps = pd.DataFrame({"applicant_id": [f"BM2027{i:06d}" for i in range(1, 7)],
                         "sibling_group": ["", "F1", "F1", "", "", ""],
                         "own_area": [1, 0, 0, 1, 0, 0]})
    params = LotteryParams("S094", "primary", 2027, seats=3, siblings_together=True,
                           own_area_quota=1)
    with tempfile.TemporaryDirectory(prefix="fuzz-seed-") as d:
        apath, cpath, c = write_commit(d, apps, params, at="2027-06-19 09:00")
        import hashlib

        sha = hashlib.sha256(cpath.read_bytes()).hexdigest()
        dpath, _ = write_draw(d, draw(apps, params, "05 18 22 31 44", commitment=c,
                                      at="2027-06-20 10:00", commit_sha256=sha))
        return {"commit": cpath.read_bytes(), "applicants": apath.read_bytes(),
                "draw": dpath.read_bytes()}


# =========================================================================== structured
#: Cell values that trip table readers: blanks, NaN/inf spelled every way, huge and negative
#: numbers, dates out of range, Excel serials, full-width digits, formulas, quotes, newlines.
NASTY_CELLS = ["", " ", "nan", "NaN", "None", "NULL", "inf", "-inf", "Infinity", "1e400", "-1e400",
               "0", "-1", "1.5", "99999999999999999999", "1e18", "０１２", "2027-06-05",
               "2027/6/5", "2027-13-45", "0000-00-00", "9999-12-31", "1677-09-21", "45000",
               "2027年6月5日", "2027-06-05T10:00+08:00", "2027-06-05T02:00Z", "=1+1", "'", '"',
               "a\nb", "重庆", "是", "否", "true", "POINT (1 2)",
               "POINT (nan nan)", "POLYGON EMPTY", "POINT (1e400 1)", "LINESTRING (0 0)",
               "500112001002GB00012F00010203", "50011220200831123X", "٥0011220200831123X",
               "5001122020083112３X", "\x00", "\ufeff", "\u200b", "𝟘"]


@st.composite
def table_frames(draw, columns: list[str], *, max_rows: int = 6) -> pd.DataFrame:
    """A small table: a random subset of ``columns`` (plus junk headers), nasty cells."""
    cols = draw(st.lists(st.one_of(st.sampled_from(columns),
                                   st.text(max_size=6), st.sampled_from(["", "Unnamed: 0"])),
                         min_size=0, max_size=len(columns) + 2))
    n = draw(st.integers(0, max_rows))
    cell = st.one_of(st.sampled_from(NASTY_CELLS), st.text(max_size=12),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr))
    data = [[draw(cell) for _ in cols] for _ in range(n)]
    return pd.DataFrame(data, columns=pd.Index(cols, dtype=object), dtype=object)


def frame_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """A frame as a file of format ``fmt`` (``utf8``, ``gbk``, ``utf16``, ``xlsx``)."""
    if fmt == "xlsx":
        try:
            return xlsx_bytes(frame)
        except Exception:  # openpyxl refuses some cells (control characters): write a CSV then
            fmt = "utf8"
    text = frame.to_csv(index=False)
    enc = {"utf8": "utf-8", "gbk": "gb18030", "utf16": "utf-16", "latin1": "latin-1"}[fmt]
    return text.encode(enc, errors="replace")


# =========================================================================== corpus
def corpus_files(parser: str) -> list[Path]:
    folder = CORPUS / parser
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def save_bundle(path: Path, files: dict[str, bytes], **meta) -> None:
    """Keep a multi-file input (a shapefile's parts, a lottery's files) as one JSON file."""
    body = {"meta": meta, "files": {k: base64.b64encode(v).decode() for k, v in files.items()}}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load_bundle(path: Path) -> tuple[dict[str, bytes], dict]:
    body = json.loads(path.read_text(encoding="utf-8"))
    return {k: base64.b64decode(v) for k, v in body["files"].items()}, body.get("meta", {})


def replay(path: Path, *, index=None, dataset=None) -> None:
    """Run one corpus file through its parser (the folder names the parser).

    ``index`` (an AddressIndex) and ``dataset`` are the district the address and the applicant
    and plan inputs are checked against.
    """
    schools = None if dataset is None else dataset.schools
    parser = path.parent.name
    data = path.read_bytes()
    if parser in ("unitcode", "address", "rules", "text_list", "enroll_text"):
        text = data.decode("utf-8")
        {"unitcode": unitcode_target, "rules": rules_target, "text_list": text_list_target,
         "enroll_text": enroll_text_target,
         "address": lambda s: address_target(s, index)}[parser](text)
    elif parser == "text_file":
        text_file_target(data, path.suffix)
    elif parser == "applicants":
        applicants_target(data, path.suffix, schools)
    elif parser == "layer":
        files, meta = load_bundle(path)
        layer_files_target(files, meta["kind"])
    elif parser == "lottery":
        files, _ = load_bundle(path)
        lottery_target(files)
    elif parser == "plan":
        files, _ = load_bundle(path)
        plan_target(files, dataset)
    else:  # pragma: no cover - a folder nobody replays would rot
        raise AssertionError(f"corpus folder {parser!r} has no parser; add it to replay()")


def unique_name(folder: Path, stem: str, suffix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    k = 1
    while (folder / f"{stem}-{k:03d}{suffix}").exists():
        k += 1
    return folder / f"{stem}-{k:03d}{suffix}"



# =========================================================================== strategies
def sloppy(code: str, style: str) -> str:
    """A valid code typed the way parents type it."""
    return {"lower": code.lower(), "spaced": " ".join([code[:6], code[6:12], code[12:19],
                                                        code[19:]]),
            "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in code),
            "dashed": "-".join(code[i:i + 4] for i in range(0, len(code), 4)),
            "padded": f" \u3000{code}\t\n"}[style]


def unitcode_inputs() -> st.SearchStrategy[str]:
    codes = st.sampled_from(VALID_CODES + VALID_PARCELS)
    return st.one_of(
        st.text(max_size=40),
        st.text(st.sampled_from(NASTY), max_size=40),
        mutated(codes),
        st.builds(sloppy, codes, st.sampled_from(["lower", "spaced", "fullwidth", "dashed",
                                                   "padded"])).flatmap(
            lambda s: st.one_of(st.just(s), mutated(s, max_ops=2))),
    )


def address_inputs(*, long_cases: bool = True) -> st.SearchStrategy[str]:
    """Typed addresses; ``long_cases=False`` leaves out the slow runs just under the limit."""
    seeds = st.sampled_from(address_seeds())
    tails = ["号", "号附1号", "栋2单元", "-1", "组", "室", "之一", ""]
    return rare(long_runs(seeds, tails, near_limit=long_cases),
                st.one_of(st.text(max_size=80), st.text(st.sampled_from(NASTY), max_size=80),
                          mutated(seeds), st.builds(lambda s, k: s * k, seeds, st.integers(2, 40))))


def long_runs(seeds, tails, *, near_limit: bool = True) -> st.SearchStrategy[str]:
    """A seed, then a run of digits or Chinese numerals around the length limit or past Python's
    4,300-digit int() limit, and a tail that makes it a number. Just under the limit the
    address regexes take up to a second (quadratic in a digit run): ``near_limit=False`` leaves
    those out."""
    lengths = [1_990, 2_001, 4_301, 9_000] if near_limit else [2_001, 4_301, 9_000]
    return st.builds(lambda a, c, n, b: a + c * n + b, seeds,
                     st.sampled_from(["9", "0", "一", "十", "９", "٩"]),
                     st.sampled_from(lengths), st.sampled_from(tails))


def rare(slow: st.SearchStrategy, usual: st.SearchStrategy, one_in: int = 25):
    """``slow`` about once in ``one_in`` examples, else ``usual`` (slow cases stay few)."""
    return st.integers(1, one_in).flatmap(lambda k: slow if k == 1 else usual)


def rules_inputs(*, long_cases: bool = True) -> st.SearchStrategy[str]:
    """划片 clauses; ``long_cases=False`` leaves out the slow runs just under the limit."""
    seeds = st.sampled_from(rule_seeds())
    clause = mutated(seeds, max_ops=8)
    names = st.sampled_from(["东大街（", "德通桥", "金星湖城", "长安路（单号", "江安路（除"])
    tails = ["号除外）", "号）", "-1号）", "号以上）", "组）", "栋", "路"]
    return rare(long_runs(names, tails, near_limit=long_cases),
                st.one_of(
                    st.text(max_size=80),
                    st.text(st.sampled_from(NASTY), max_size=80),
                    clause,
                    st.lists(clause, min_size=2, max_size=4).map("、".join),
                    st.builds(lambda s: "- 某小学: " + s, clause)))


def text_list_inputs() -> st.SearchStrategy[str]:
    line = st.one_of(st.sampled_from(TEXT_LIST_SEED.splitlines()), mutated(
        st.sampled_from(TEXT_LIST_SEED.splitlines() + rule_seeds())), st.text(max_size=30))
    return st.one_of(
        st.text(max_size=200),
        mutated(st.sampled_from(text_list_seeds()), max_ops=10),
        st.lists(line, max_size=12).map("\n".join),
    )


SUFFIXES = [".txt", ".md", ".docx", ".xlsx", ".csv", ".xls", ".doc", ".TXT", ""]


@st.composite
def text_file_inputs(draw) -> tuple[bytes, str]:
    seeds = text_list_files()
    how = draw(st.sampled_from(["mutate", "encoding", "random", "sheet"]))
    if how == "mutate":
        suffix = draw(st.sampled_from(sorted(seeds)))
        return mutate_bytes(seeds[suffix], draw(byte_ops)), suffix
    if how == "encoding":
        text = draw(text_list_inputs())
        enc = draw(st.sampled_from(["utf-8", "gb18030", "utf-16", "utf-32", "big5", "shift_jis",
                                    "latin-1", "cp1252", "utf-7"]))
        return text.encode(enc, errors="replace"), draw(st.sampled_from([".txt", ".csv", ".md"]))
    if how == "sheet":
        frame = draw(table_frames(["学校", "学校名称", "招生范围", "划片范围", "序号", "备注"]))
        fmt = draw(st.sampled_from(["xlsx", "utf8", "gbk", "utf16"]))
        return frame_bytes(frame, fmt), ".xlsx" if fmt == "xlsx" else ".csv"
    return draw(st.binary(max_size=300)), draw(st.sampled_from(SUFFIXES))


LAYER_COLUMNS = ["school_id", "name", "level", "ownership", "lon", "lat", "x", "y", "wkt",
                 "geometry", "经度", "纬度", "学校代码", "学校名称", "学段", "办学性质", "LON"]
TABLE_COLUMNS = ["school_id", "grade", "class_no", "students", "年级", "学生数", "班级"]


@st.composite
def layer_inputs(draw) -> tuple[dict[str, bytes], str]:
    how = draw(st.sampled_from(["mutate", "mutate", "drop", "table", "classes", "random"]))
    if how in ("mutate", "drop"):
        seeds = layer_files()
        files = dict(seeds[draw(st.sampled_from(sorted(seeds)))])
        part = draw(st.sampled_from(sorted(files)))
        if how == "drop" and len(files) > 1:
            del files[part]
        else:
            files[part] = mutate_bytes(files[part], draw(byte_ops))
        return files, draw(st.sampled_from(["schools", "schools", "zones", "parcels"]))
    if how == "table":
        frame = draw(table_frames(LAYER_COLUMNS))
        fmt = draw(st.sampled_from(["utf8", "gbk", "utf16", "xlsx"]))
        return {".xlsx" if fmt == "xlsx" else ".csv": frame_bytes(frame, fmt)}, "schools"
    if how == "classes":
        seeds = table_files()
        suffix = draw(st.sampled_from(sorted(seeds)))
        data = (mutate_bytes(seeds[suffix], draw(byte_ops)) if draw(st.booleans())
                else frame_bytes(draw(table_frames(TABLE_COLUMNS)),
                                 "xlsx" if suffix == ".xlsx" else "utf8"))
        return {suffix: data}, "classes"
    suffix = draw(st.sampled_from([".geojson", ".gpkg", ".shp", ".csv", ".xlsx"]))
    files = {suffix: draw(st.binary(max_size=400))}
    if suffix == ".shp":
        files.update({".shx": draw(st.binary(max_size=120)), ".dbf": draw(st.binary(max_size=120))})
    return files, "schools"


APPLICANT_HEADERS = list(applicant_frame().columns) + [
    "applicant_id", "id_number", "name", "birth_date", "level", "application_type", "school_id",
    "category", "hukou_holder", "property_owner", "disability", "hukou_since_birth", "rural",
    "special_group", "special_reason", "override_by", "override_reason", "applied_on", "year",
    "residence_permit_start", "hukou_unit_code", "residence_unit_code", "status"]


@st.composite
def applicant_inputs(draw) -> tuple[bytes, str]:
    how = draw(st.sampled_from(["mutate", "table", "table", "cells"]))
    if how == "mutate":
        seeds = applicant_files()
        name = draw(st.sampled_from(sorted(seeds)))
        return mutate_bytes(seeds[name], draw(byte_ops)), Path(name).suffix
    if how == "cells":  # the seed's headers, nasty values in a few cells
        f = applicant_frame()
        for _ in range(draw(st.integers(1, 6))):
            col = draw(st.sampled_from(list(f.columns)))
            row = draw(st.integers(0, len(f) - 1))
            f.loc[row, col] = draw(st.one_of(st.sampled_from(NASTY_CELLS), st.text(max_size=20)))
        fmt = draw(st.sampled_from(["utf8", "gbk", "xlsx"]))
        return frame_bytes(f, fmt), ".xlsx" if fmt == "xlsx" else ".csv"
    frame = draw(table_frames(APPLICANT_HEADERS))
    for col, seed_col in (("id_number", "身份证号"), ("name", "姓名")):  # or nothing is checked
        if draw(st.integers(0, 4)) and col not in frame.columns and seed_col not in frame.columns:
            frame[col] = applicant_frame()[seed_col].reindex(range(len(frame))).to_numpy()
    fmt = draw(st.sampled_from(["utf8", "gbk", "utf16", "latin1", "xlsx"]))
    return frame_bytes(frame, fmt), ".xlsx" if fmt == "xlsx" else ".csv"


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(),
              st.text(max_size=12), st.sampled_from(["", "S094", "primary", "../x", "a/b",
                                                     "2027-06-20T10:00:00+08:00", "nan"])),
    lambda kids: st.one_of(st.lists(kids, max_size=3),
                           st.dictionaries(st.text(max_size=6), kids, max_size=3)),
    max_leaves=8)


@st.composite
def json_mutated(draw, data: bytes) -> bytes:
    """A JSON file with one value replaced by another of any type, or deleted."""
    body = json.loads(data)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None
        node = body
        while isinstance(node, dict | list) and node and draw(st.integers(0, 2)):
            parent = node
            key = (draw(st.sampled_from(sorted(node))) if isinstance(node, dict)
                   else draw(st.integers(0, len(node) - 1)))
            node = node[key]
        if parent is None:
            body = draw(json_values)
        elif isinstance(parent, dict) and draw(st.integers(0, 3)) == 0:
            del parent[key]
        else:
            parent[key] = draw(json_values)
    return json.dumps(body, ensure_ascii=False, allow_nan=True).encode()


@st.composite
def lottery_inputs(draw) -> dict[str, bytes]:
    files = dict(lottery_files())
    for _ in range(draw(st.integers(1, 2))):
        part = draw(st.sampled_from(["commit", "applicants", "draw"]))
        how = draw(st.sampled_from(["json", "json", "bytes", "drop", "lines"]))
        if how == "drop" and part != "commit":
            files[part] = None
        elif how == "json" and part != "applicants" and files[part] is not None:
            with contextlib.suppress(ValueError):
                files[part] = draw(json_mutated(files[part]))
        elif how == "lines" and files["applicants"] is not None:
            lines = files["applicants"].decode("utf-8", "replace").split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = draw(st.one_of(st.sampled_from(NASTY_CELLS), st.text(max_size=30)))
            files["applicants"] = "\n".join(lines).encode("utf-8", "surrogatepass")
        elif files[part] is not None:
            files[part] = mutate_bytes(files[part], draw(byte_ops))
    return files


def enroll_text_inputs() -> st.SearchStrategy[str]:
    ids = st.sampled_from(["50011220200831123X", "11010519491231002x", "ABCD-EFGH-JKMNP",
                           "2345-6789-ABCDE"])
    return st.one_of(st.text(max_size=30), mutated(ids, max_ops=3),
                     st.text(st.sampled_from("0123456789X٠١٢٣٤٥٦٧٨٩０１２３xX -"), max_size=24))
