"""The enrolment season: applicants, eligibility, private lottery, public admission, 统筹, notices.

This runs a district's season end to end, as seeds 000 (三、四) and 002 describe it:

1. **Applicants** (:func:`import_applicants`). Only what the rules need is collected (seeds 000
   五(四): 信息非必要不采集); a file with a column for guardians' occupation or income is refused
   whole. ID numbers are checked (GB 11643 check digit) and shown masked everywhere
   (``500112********123X``). Each row is accepted or rejected with its reasons; the accepted rows
   are written in one transaction with their audit entry.
2. **Eligibility** (:func:`eligibility`). Age (6 full years by 31 August), 三对口 for public
   primary schools with the grandparents' hukou exception, rural areas by hukou, 随迁子女 with a
   居住证 of at least half a year, disability (mild → regular school nearby, moderate/severe →
   special school or 送教上门), special groups placed by policy with their recorded reason, one
   application per child. Each decision names its rule, the seed it cites and a short Chinese
   explanation. Homes are resolved through their 不动产单元号 (or address text) with
   :class:`zoning.lookup.Resolver`.
3. **Private schools** (:mod:`zoning.lottery`). Applicants ≤ plan: all admitted by registration;
   otherwise a verifiable lottery. Admitted pupils confirm by 18:00 on June 20, else the seat goes to
   the next in order; everyone not admitted returns to the public process.
4. **Public admission and 统筹** (:func:`public_admission`). Priority placements (special groups,
   mild disability) and 三对口 applicants go to their zone's school up to its seats (planned
   starting-grade classes × cap, :mod:`zoning.capacity`); the rest, and 随迁子女, are placed by 统筹
   in the nearest school with free seats (or a purchased private seat), with who, where and why.
5. **Notices** (:func:`issue_notices`). Each admitted child gets a notice and a 报到码: 13
   characters from an alphabet without 0/1/I/L/O, 12 of them from :mod:`secrets` (~59 bits) and a
   check character that catches every single-character typo and every swap of neighbours.
6. **Timeline** (:class:`Timeline`). The season's windows as data (2024's dates from seeds 000 四);
   an action outside its window is refused unless an officer overrides it with a reason.
7. **Audit.** Every step (import, decisions, draws, confirmations, admission, notices, overrides,
   check-ins) is appended to the store's hash-chained audit log (:mod:`zoning.store`), with the
   SHA-256 of the step's result table.

:func:`run_season` runs 2–5 and, given a store, saves the results (``enrol_results``, ``notices``)
and the audit entries in one transaction.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from zoning import lottery as lot
from zoning.capacity import CapacitySettings, capacity_table
from zoning.errors import ValidationError
from zoning.io import refuse_personal_fields
from zoning.lottery import CST
from zoning.store import Dataset, GeoPackageStore, open_store
from zoning.unitcode import parse_many
from zoning.zones import school_level_serves, zone_schools

__all__ = [
    "APPLICANT_COLUMNS",
    "CODE_ALPHABET",
    "OUTCOME_ZH",
    "ROUTE_ZH",
    "RULES",
    "SPECIAL_GROUPS",
    "EnrolSettings",
    "ImportReport",
    "Override",
    "SeasonResult",
    "Timeline",
    "Window",
    "check_code",
    "check_id_number",
    "checkin",
    "demo_applicants",
    "demo_confirmations",
    "eligibility",
    "id_check_digit",
    "import_applicants",
    "issue_notices",
    "lottery_lists",
    "mask_id",
    "new_code",
    "public_admission",
    "read_applicants",
    "run_season",
    "save_season",
]

LEVELS = ("primary", "junior")
_LEVEL_ZH = {"primary": "小学", "junior": "初中"}

#: Columns of the store's ``applicants`` table that the rules use (zoning.store).
APPLICANT_COLUMNS = (
    "applicant_id", "year", "level", "id_number", "name", "birth_date", "application_type",
    "school_id", "category", "status", "created_at", "hukou_address", "hukou_unit_code",
    "hukou_holder", "hukou_since_birth", "hukou_date", "property_owner", "property_unit_code",
    "residence_address", "residence_unit_code", "residence_permit_start", "rural", "disability",
    "home_teaching", "special_group", "special_reason", "sibling_group", "applied_on",
    "override_by", "override_reason",
)

#: Special groups placed by policy (seeds 000 三(三)3) and their Chinese names.
SPECIAL_GROUPS = {
    "military": "现役军人",
    "martyr": "烈士",
    "police_hero": "公安英模",
    "disabled_soldier": "一至四级因公伤残军人",
    "disabled_police": "一至四级因公伤残公安民警",
    "firefighter": "国家综合性消防救援队伍人员",
    "tibet_aid": "援藏干部",
    "overseas_chinese": "华侨",
    "hk_macao": "港澳同胞",
    "taiwan": "台湾同胞",
    "foreign_expert": "在渝工作的外籍专家",
    "talent": "政府引进的高层次人才",
}

#: Every rule a decision can cite: rule → (seed citation, Chinese statement of the rule).
RULES = {
    "sandukou": ("seeds 000 三(一)", "公办小学新生入学实行“三对口”：学龄儿童与父母的户口、房屋产权证明和"
                 "实际居住地一致，在对口学校入学"),
    "grandparent_hukou": ("seeds 000 三(一)", "因父母无自购房，自出生日起户籍一直挂靠祖父母或外祖父母，"
                          "与家人在招生服务区常住的，视为符合“三对口”入学条件"),
    "rural_hukou": ("seeds 000 三(一)", "农村地区以学龄儿童户籍为主要依据，在对口学校就读"),
    "junior_nearby": ("seeds 000 三(一)", "公办义务教育学校实行免试就近入学"),
    "not_sandukou": ("seeds 000 三(一)", "不符合“三对口”，由区县教育部门统筹安排到有空余学位的学校"),
    "not_nearby": ("seeds 000 三(一)", "免试就近入学；户籍、房产均不在实际居住片区的，由区县教育部门"
                   "统筹安排"),
    "migrant_permit": ("seeds 000 三(三)1", "随迁子女以居住证为主要依据，在流入地居住半年以上的，由区县"
                       "教育部门统筹安排在公办学校或以政府购买民办学校学位方式入学"),
    "migrant_permit_short": ("seeds 000 三(三)1", "随迁子女须持在流入地居住半年以上的居住证"),
    "disability_mild": ("seeds 000 三(三)2", "轻度残疾儿童少年优先在普通学校随班就读，就近就便安排"),
    "special_school": ("seeds 000 三(三)2", "中、重度残疾儿童少年安排至特殊教育学校就读"),
    "home_teaching": ("seeds 000 三(三)2", "需要专人护理、不能到学校就读的安排送教上门"),
    "special_group": ("seeds 000 三(三)3", "特殊群体子女由居住地教育部门按政策规定安排入学"),
    "talent": ("seeds 000 三(三)3", "政府引进的高层次人才子女入学按《新重庆人才服务管理办法（试行）》执行"),
    "under_age": ("seeds 000 二(一)", "当年8月31日（含）前年满6周岁的儿童方可入学"),
    "one_application": ("seeds 000 四(二)", "公办、民办学校只能填报一所，不能兼报"),
    "private_application": ("seeds 000 三(二)", "民办义务教育学校实行报名申请入学"),
    "private_school_invalid": ("seeds 000 三(二)", "民办学校报名须填报本区招收该学段的民办学校"),
    "unresolved_home": ("seeds 002 Q23", "户籍、房产信息匹配失败的，审核人员根据上传的佐证材料进行审核"),
}

#: Routes of an admission → Chinese wording on notices and tables.
ROUTE_ZH = {
    "sandukou": "三对口入学", "grandparent_hukou": "三对口入学（祖父母户籍）",
    "rural_hukou": "按户籍对口入学", "junior_nearby": "就近入学", "special_group": "特殊群体子女按政策安排",
    "talent": "高层次人才子女按政策安排", "disability_mild": "随班就读（就近就便安排）",
    "private_lottery": "民办学校摇号录取", "private_registration": "民办学校登记录取",
    "tongchou": "统筹安排", "purchased_private": "政府购买民办学校学位", "home_teaching": "送教上门",
    "special_school": "特殊教育学校",
}

_TYPE_ZH = {"public": "公办", "private": "民办"}
#: Outcomes → Chinese, for tables.
OUTCOME_ZH = {"admitted": "已录取", "special_school": "安排特殊教育学校", "ineligible": "不符合条件",
               "manual_review": "人工审核", "unplaced": "暂未安排"}

_INACTIVE = ("withdrawn", "rejected", "cancelled", "duplicate")


def _rule(rule: str) -> tuple[str, str]:
    return RULES[rule]


# =============================================================================== ID numbers
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = "10X98765432"
#: Province-level codes of GB/T 2260 (the first two digits of an ID number).
_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43,
                        44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})


def mask_id(id_number) -> str:
    """An ID number as it may be shown or logged: ``500112********123X``.

    Six leading and four trailing characters stay; anything shorter than 10 characters is masked
    whole.

    Examples
    --------
    >>> mask_id("50011220200831123X")
    '500112********123X'
    >>> mask_id("12345")
    '*****'
    """
    if id_number is None or (isinstance(id_number, float) and np.isnan(id_number)):
        return ""
    s = str(id_number).strip()
    if len(s) < 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def id_check_digit(first17: str) -> str:
    """GB 11643 check character of the first 17 digits of an ID number.

    Examples
    --------
    >>> id_check_digit("11010519491231002")
    'X'
    """
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValidationError(f"id_check_digit: need 17 digits, got {len(first17)} characters")
    s = int(np.dot(np.frombuffer(first17.encode(), dtype=np.uint8) - 48, _ID_WEIGHTS))
    return _ID_CHECK[s % 11]


def _normalize_id(text) -> str:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).upper()


def _check_ids(values) -> pd.DataFrame:
    """Check many ID numbers at once (GB 11643), never raising.

    Returns ``id_number`` (normalised), ``valid``, ``error``, ``error_zh`` (masked numbers in
    both) and ``birth_date`` (from the ID).
    """
    ids = pd.Series([_normalize_id(v) for v in values], dtype=object)
    n = len(ids)
    err = np.full(n, None, dtype=object)
    err_zh = np.full(n, None, dtype=object)
    # ASCII digits only: \d also matches other scripts' digits (٣, ३), which NFKC leaves as they are
    shape = ids.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).to_numpy(bool)
    lens = ids.str.len().to_numpy()
    for i in np.flatnonzero(~shape):
        m = mask_id(ids.iat[i])
        if lens[i] != 18:
            err[i] = f"ID number {m or '(empty)'} has {lens[i]} characters, not 18"
            err_zh[i] = f"身份证号 {m or '（空）'} 为 {lens[i]} 位，应为 18 位"
        else:
            err[i] = f"ID number {m}: the first 17 characters must be digits and the last a digit or X"
            err_zh[i] = f"身份证号 {m}：前17位应为数字，最后一位为数字或X"
    birth = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    ok = np.flatnonzero(shape)
    if ok.size:
        arr = np.frombuffer("".join(ids.iloc[ok]).encode(), dtype=np.uint8).reshape(-1, 18) - 48
        total = arr[:, :17].astype(np.int64) @ _ID_WEIGHTS
        want = np.array(list(_ID_CHECK))[total % 11]
        got = ids.iloc[ok].str[17].to_numpy()
        prov = arr[:, 0] * 10 + arr[:, 1]
        today = pd.Timestamp.now(CST).tz_localize(None).normalize()
        text = ids.iloc[ok].str[6:14]
        # a year outside 1900..now is never a birth date (and would not fit a timestamp)
        plausible = text.str[:4].astype(int).between(1900, today.year).to_numpy()
        born = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        born[plausible] = pd.to_datetime(text[plausible], format="%Y%m%d", errors="coerce")
        bad_date = born.isna().to_numpy() | (born > today).to_numpy()
        bad_prov = ~np.isin(prov, list(_PROVINCES))
        bad_check = want != got
        for j, i in enumerate(ok):
            m = mask_id(ids.iat[i])
            if bad_prov[j]:
                err[i] = f"ID number {m}: {prov[j]:02d} is not a province code (GB/T 2260)"
                err_zh[i] = f"身份证号 {m}：前两位 {prov[j]:02d} 不是有效的省级行政区划代码"
            elif bad_date[j]:
                err[i] = f"ID number {m}: characters 7-14 are not a valid birth date"
                err_zh[i] = f"身份证号 {m}：第7至14位不是有效的出生日期"
            elif bad_check[j]:
                err[i] = (f"ID number {m}: the check digit does not match (GB 11643); a digit was "
                          "mistyped")
                err_zh[i] = f"身份证号 {m}：校验码不符，可能有数字输错，请核对"
        birth.iloc[ok] = born.to_numpy()
    valid = pd.isna(err)
    birth[~valid] = pd.NaT
    return pd.DataFrame({"id_number": ids.to_numpy(), "valid": valid, "error": err,
                         "error_zh": err_zh, "birth_date": birth.to_numpy()})


def check_id_number(id_number) -> tuple[str, _dt.date]:
    """Check a resident ID number (GB 11643-1999) and return it normalised with its birth date.

    Parameters
    ----------
    id_number : str
        18 characters; spaces, full-width digits and a lower-case ``x`` are forgiven.

    Returns
    -------
    (str, datetime.date)

    Raises
    ------
    ValidationError
        Wrong length or characters, unknown province, impossible birth date, wrong check digit.
        The message shows the number masked; ``problems[0]["message_zh"]`` says it in Chinese.

    Examples
    --------
    >>> check_id_number("11010519491231002x")
    ('11010519491231002X', datetime.date(1949, 12, 31))
    """
    r = _check_ids([id_number]).iloc[0]
    if not r["valid"]:
        raise ValidationError(f"{r['error']}; check it against the 户口簿 and type it again",
                              problems=[{"id": mask_id(r["id_number"]), "kind": "bad_id_number",
                                         "message_zh": r["error_zh"]}])
    return r["id_number"], r["birth_date"].date()


# =============================================================================== 报到码
#: 31 characters (a prime): digits and capitals without 0, 1, I, L and O, which are misread.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_BODY = 12
_CODE_VALUE = {c: i for i, c in enumerate(CODE_ALPHABET)}
_INV13 = pow(_CODE_BODY + 1, -1, len(CODE_ALPHABET))


def _code_check_char(body: str) -> str:
    # weights 1..12 and 13 are distinct and non-zero mod 31 (a prime): a single wrong character,
    # or two different neighbours swapped, always changes the weighted sum
    s = sum((i + 1) * _CODE_VALUE[c] for i, c in enumerate(body))
    return CODE_ALPHABET[(-s * _INV13) % len(CODE_ALPHABET)]


def new_code(rng=None) -> str:
    """A fresh 报到码: 12 random characters and a check character, shown as ``XXXX-XXXX-XXXXX``.

    Parameters
    ----------
    rng : random.Random, optional
        Source of randomness; default :mod:`secrets` (unguessable). Tests may pass a seeded
        ``random.Random`` for repeatable codes.
    """
    return _new_codes(1, rng)[0]


def _new_codes(k: int, rng=None) -> list[str]:
    """``k`` fresh codes (not yet checked for uniqueness)."""
    m = len(CODE_ALPHABET)
    if rng is None:
        # unbiased: keep random bytes below the largest multiple of 31, then take them mod 31
        need = k * _CODE_BODY
        vals = np.empty(0, np.uint8)
        while vals.size < need:
            raw = np.frombuffer(secrets.token_bytes(need + need // 8 + 16), dtype=np.uint8)
            vals = np.concatenate([vals, raw[raw < (256 // m) * m] % m])
        digits = vals[:need].reshape(k, _CODE_BODY)
    else:
        digits = np.array([[rng.randrange(m) for _ in range(_CODE_BODY)] for _ in range(k)],
                          dtype=np.uint8).reshape(k, _CODE_BODY)
    weights = np.arange(1, _CODE_BODY + 1)
    check = (-(digits.astype(np.int64) @ weights) * _INV13) % m
    alphabet = np.array(list(CODE_ALPHABET))
    chars = alphabet[np.column_stack([digits, check])]
    return [f"{''.join(c[:4])}-{''.join(c[4:8])}-{''.join(c[8:])}" for c in chars]


def check_code(code: str) -> str:
    """Check a typed or scanned 报到码 and return it in its shown form ``XXXX-XXXX-XXXXX``.

    Raises
    ------
    ValidationError
        Wrong length, a character outside the alphabet, or a check character that does not
        match (a typo). ``problems[0]["message_zh"]`` says it in Chinese.

    Examples
    --------
    >>> c = new_code()
    >>> check_code(c.lower().replace("-", " ")) == c
    True
    """
    text = re.sub(r"[\s\-–—_]+", "", unicodedata.normalize("NFKC", str(code))).upper()
    n = _CODE_BODY + 1

    def fail(en, zh, kind):
        raise ValidationError(f"报到码 {code!r}: {en}", problems=[{"kind": kind,
                                                                  "message_zh": zh}])

    if len(text) != n:
        fail(f"has {len(text)} characters, a code has {n} (dashes not counted)",
             f"报到码应为{n}位（不含“-”），收到{len(text)}位，请核对", "code_length")
    for i, ch in enumerate(text):
        if ch not in _CODE_VALUE:
            fail(f"character {i + 1} ({ch!r}) is not used in codes (no 0, 1, I, L, O)",
                 f"第{i + 1}位“{ch}”不是报到码使用的字符（报到码不含 0、1、I、L、O），请核对",
                 "code_char")
    if _code_check_char(text[:-1]) != text[-1]:
        fail("the check character does not match: a character was mistyped or two were swapped",
             "报到码校验位不符：可能有一位输错或相邻两位颠倒，请核对后重新输入", "code_check")
    return f"{text[:4]}-{text[4:8]}-{text[8:]}"


# =============================================================================== timeline
@dataclass(frozen=True)
class Window:
    """One step of the season and when it may happen (both ends included)."""

    action: str
    start: pd.Timestamp
    end: pd.Timestamp
    label_zh: str
    citation: str

    def contains(self, at) -> bool:
        """Whether ``at`` falls in the window."""
        t = _ts(at)
        return bool(self.start <= t <= self.end)

    @property
    def replay_at(self) -> pd.Timestamp:
        """A fixed time inside the window, for replaying a season (12 h before its end)."""
        return max(self.start, self.end - pd.Timedelta(hours=12))


@dataclass(frozen=True)
class Override:
    """An officer's permission to act outside a window, with the reason (recorded in the audit).

    Raises
    ------
    ValidationError
        If the officer or the reason is empty.
    """

    officer: str
    reason: str

    def __post_init__(self):
        if not str(self.officer).strip() or not str(self.reason).strip():
            raise ValidationError("an override needs the officer's name and a reason (e.g. "
                                  "Override('王老师', '家长外出务工错过报名，线下补登记'))")


def _ts(at) -> pd.Timestamp:
    t = pd.Timestamp(at)
    return t.tz_localize(CST) if t.tzinfo is None else t.tz_convert(CST)


def _day(year, month, day, end=False) -> pd.Timestamp:
    t = pd.Timestamp(year=year, month=month, day=day, tz=CST)
    return t + pd.Timedelta(days=1) - pd.Timedelta(seconds=1) if end else t


# seeds 000 四: (action, start month/day, end month/day[, end hour], label, citation)
_WINDOWS_2024 = (
    ("info", (5, 7), (5, 31), "子女信息维护", "seeds 000 四(一)"),
    ("register", (6, 3), (6, 29), "正式网上报名（公办）", "seeds 000 四(二)"),
    ("register_private", (6, 17), (6, 19), "民办学校报名", "seeds 000 四(二)"),
    ("lottery", (6, 20), (6, 20), "民办学校电脑随机摇号", "seeds 000 四(二)"),
    ("confirm_private", (6, 20), (6, 20, 18), "民办学校录取确认（18:00前）", "seeds 000 四(二)"),
    ("register_return", (6, 21), (6, 29), "未被民办学校录取学生回到公办报名", "seeds 000 四(二)"),
    ("review", (6, 3), (7, 10), "网上审核录取（10个工作日内，7月10日前完成）", "seeds 000 四(三)"),
    ("confirm", (6, 3), (7, 15), "结果查询确认（7月15日前）", "seeds 000 四(四)"),
    ("notices", (6, 20), (7, 20), "发放电子入学通知书和报到码（7月20日前）", "seeds 000 四(五)"),
)


@dataclass(frozen=True)
class Timeline:
    """The season's dates as data.

    :meth:`for_year` puts 2024's published dates (seeds 000 四) on the same days of another year; a
    district replaces them with its own announced dates by building ``Timeline(year, windows)``.

    Attributes
    ----------
    year : int
    windows : tuple of Window
    """

    year: int
    windows: tuple[Window, ...]

    @classmethod
    def for_year(cls, year: int) -> Timeline:
        """The seeds' 2024 dates (seeds 000 四) on the same days of ``year``."""
        out = []
        for action, start, end, label, cite in _WINDOWS_2024:
            s = _day(year, *start)
            if len(end) == 3:
                e = pd.Timestamp(year=year, month=end[0], day=end[1], hour=end[2], tz=CST)
            else:
                e = _day(year, *end, end=True)
            out.append(Window(action, s, e, label, cite))
        return cls(int(year), tuple(out))

    def window(self, action: str) -> Window:
        """The window of ``action``.

        Raises
        ------
        ValidationError
            For an unknown action.
        """
        for w in self.windows:
            if w.action == action:
                return w
        raise ValidationError(f"timeline {self.year}: no window for action {action!r}; known: "
                              f"{', '.join(w.action for w in self.windows)}")

    def check(self, action: str, at, *, override: Override | None = None,
              target: str = "") -> dict | None:
        """Refuse ``action`` at ``at`` outside its window, unless an officer overrides it.

        Returns
        -------
        dict or None
            An audit entry for the override (None when ``at`` is inside the window).

        Raises
        ------
        ValidationError
            Outside the window without an override; the message names the window and how to
            override.
        """
        w = self.window(action)
        t = _ts(at)
        if w.contains(t):
            return None
        if override is None:
            raise ValidationError(
                f"{action} at {t:%Y-%m-%d %H:%M} is outside its window {w.start:%Y-%m-%d %H:%M} "
                f"– {w.end:%Y-%m-%d %H:%M} ({w.label_zh}, {w.citation}); an officer may override "
                "with a reason (Override(officer, reason); CLI: --officer NAME --override-reason "
                "TEXT)", problems=[{"kind": "outside_window", "action": action,
                                    "message_zh": f"{w.label_zh}时间为{w.start:%m月%d日}至"
                                                  f"{w.end:%m月%d日 %H:%M}，当前时间不在此范围内；"
                                                  "如确需办理，须由工作人员登记原因后办理。"}])
        return {"actor": override.officer, "action": "override", "target": target or action,
                "detail": {"action": action, "at": t.isoformat(), "reason": override.reason,
                           "window": [w.start.isoformat(), w.end.isoformat()],
                           "citation": w.citation}}

    def review_due(self, applied_on) -> pd.Series:
        """Review deadline of applications: 10 working days after applying, and by the review end.

        Seeds 000 四(三): 10个工作日内…7月10日前完成入学审核验证. Working days are Monday to Friday
        (a district adds its holidays by building its own timeline).
        """
        days = pd.to_datetime(pd.Series(applied_on), errors="coerce")
        out = pd.Series(pd.NaT, index=days.index, dtype="datetime64[ns]")
        ok = days.notna()
        if ok.any():
            d = days[ok].dt.tz_localize(None).to_numpy().astype("datetime64[D]") \
                if days.dt.tz is not None else days[ok].to_numpy().astype("datetime64[D]")
            due = np.busday_offset(d, 10, roll="forward")
            end = np.datetime64(self.window("review").end.tz_localize(None).date())
            out[ok] = np.minimum(due, end).astype("datetime64[ns]")
        return out

    def to_frame(self) -> pd.DataFrame:
        """The windows as a table (for the dashboard and the CLI)."""
        return pd.DataFrame([{"action": w.action, "label_zh": w.label_zh,
                              "start": w.start, "end": w.end, "citation": w.citation}
                             for w in self.windows])


# =============================================================================== settings
@dataclass(frozen=True)
class EnrolSettings:
    """What a district may set for its season.

    Attributes
    ----------
    capacity : CapacitySettings
        Class caps (seats = planned starting-grade classes × cap).
    siblings_together : bool
        Multi-child families drawn together in private lotteries (seeds 000 五(一)).
    own_area_quota : dict of str to int
        Private school id → seats reserved for applicants from the school's own area (街道).
    refill_hours : float
        Hours each later offer of a forfeited private seat has to confirm.
    max_refill_rounds : int, optional
        At most this many rounds of later offers (None: until the waiting list is empty).
    permit_months : int
        A 随迁子女's 居住证 must be this old by the end of registration (seeds 000 三(三)1: 半年).
    purchase_private_seats : bool
        Place 随迁子女 the public schools cannot take in private seats bought by the government.
    max_tongchou_m : float, optional
        统筹 never places a child further than this from home (None: no limit).
    """

    capacity: CapacitySettings = field(default_factory=CapacitySettings)
    siblings_together: bool = True
    own_area_quota: dict = field(default_factory=dict)
    refill_hours: float = 24.0
    max_refill_rounds: int | None = None
    permit_months: int = 6
    purchase_private_seats: bool = True
    max_tongchou_m: float | None = None


# =============================================================================== reading
# Chinese headers of an applicant file → the store's columns
_ALIASES = {
    "报名号": "applicant_id", "年份": "year", "学段": "level", "身份证号": "id_number",
    "身份证号码": "id_number", "公民身份号码": "id_number", "姓名": "name", "学生姓名": "name",
    "出生日期": "birth_date", "报名类型": "application_type", "学校性质": "application_type",
    "报名学校": "school_id", "学校代码": "school_id", "生源类型": "category", "类别": "category",
    "户籍地址": "hukou_address", "户籍不动产单元号": "hukou_unit_code", "户籍挂靠": "hukou_holder",
    "户口挂靠": "hukou_holder", "出生起户籍未变": "hukou_since_birth", "户籍迁入日期": "hukou_date",
    "入户日期": "hukou_date", "房屋产权人": "property_owner", "产权人": "property_owner",
    "不动产单元号": "property_unit_code", "房产不动产单元号": "property_unit_code",
    "unit_code": "property_unit_code", "居住地址": "residence_address",
    "实际居住地址": "residence_address", "居住地不动产单元号": "residence_unit_code",
    "居住证起始日期": "residence_permit_start", "居住证签发日期": "residence_permit_start",
    "农村户籍": "rural", "残疾等级": "disability", "送教上门": "home_teaching",
    "特殊群体": "special_group", "特殊群体依据": "special_reason", "政策依据": "special_reason",
    "多子女家庭编号": "sibling_group", "报名日期": "applied_on", "线下登记经办人": "override_by",
    "线下登记原因": "override_reason", "状态": "status",
}
_VALUES = {
    "level": {"小学": "primary", "初中": "junior"},
    "application_type": {"公办": "public", "民办": "private"},
    "category": {"本地": "local", "户籍": "local", "本区户籍": "local", "随迁子女": "migrant",
                 "随迁": "migrant"},
    "hukou_holder": {"父母": "parent", "祖父母": "grandparent", "外祖父母": "grandparent",
                     "其他": "other"},
    "property_owner": {"父母": "parent", "祖父母": "grandparent", "外祖父母": "grandparent",
                       "无": "none", "无房": "none"},
    "disability": {"无": "none", "轻度": "mild", "中度": "moderate", "重度": "severe"},
}
_ALLOWED = {
    "level": LEVELS, "application_type": ("public", "private"), "category": ("local", "migrant"),
    "hukou_holder": ("parent", "grandparent", "other"),
    "property_owner": ("parent", "grandparent", "none"),
    "disability": ("none", "mild", "moderate", "severe"),
}
_DEFAULTS = {"level": "primary", "application_type": "public", "category": "local",
             "hukou_holder": "parent", "property_owner": "parent", "disability": "none",
             "status": "registered"}
_FLAGS = ("hukou_since_birth", "rural", "home_teaching")
_DATES = ("birth_date", "hukou_date", "residence_permit_start", "applied_on")
_OTHER_PROVINCE = re.compile(
    r"^(北京|天津|上海|河北|山西|内蒙古|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|"
    r"广东|广西|海南|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|台湾|香港|澳门)")


_EMPTY = frozenset({"", "nan", "None", "NaT", "<NA>", "NaN"})
_DATE_RANGE = (pd.Timestamp("1900-01-01"), pd.Timestamp("2199-12-31"))


def _value(v) -> str | None:
    """A cell as stripped text, None when empty or missing."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    text = str(v).strip()
    return None if text in _EMPTY else text


def _text(s: pd.Series) -> pd.Series:
    return pd.Series([_value(v) for v in s], index=s.index, dtype=object)


def _blank(s: pd.Series) -> pd.Series:
    return _text(s).isna()


def _flag(s: pd.Series) -> pd.Series:
    return pd.Series([lot._truthy(v) for v in s], index=s.index, dtype=np.int64)


def read_applicants(path: str | os.PathLike) -> pd.DataFrame:
    """Read an applicant file (CSV or Excel) as text, with Chinese headers mapped.

    Raises
    ------
    ValidationError
        Missing or unreadable file.
    PersonalDataError
        A column holds guardians' occupation or income (seeds 000 五(四)): the whole file is
        refused, nothing is read into the store.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file; check the path")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(path, dtype=str)
        else:
            try:
                df = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
            except UnicodeDecodeError:
                df = pd.read_csv(path, dtype=str, encoding="gb18030", keep_default_na=False)
    except ImportError as exc:
        raise ValidationError(f"{path}: the old .xls format needs the xlrd package; save the "
                              "sheet as .xlsx or UTF-8 CSV") from exc
    except Exception as exc:  # any: a damaged .xlsx raises zlib.error, KeyError…
        raise ValidationError(f"{path}: cannot be read as CSV or Excel ({type(exc).__name__}: "
                              f"{exc}); export it again as UTF-8 CSV or .xlsx") from exc
    return _standardise(df, source=path.name)


def _standardise(df: pd.DataFrame, *, source: str) -> pd.DataFrame:
    cols = {}
    for c in df.columns:
        name = str(c).strip()
        name = _ALIASES.get(name, name.lower() if name.isascii() else name)
        cols[c] = _ALIASES.get(name, name)
    # seeds 000 五(四): checked on the headers as written (camelCase words are still seen)
    refuse_personal_fields(df, layer=f"applicants ({source})")
    seen: dict[str, list] = {}
    for c, n in cols.items():
        seen.setdefault(n, []).append(str(c))
    clash = {k: v for k, v in seen.items() if len(v) > 1}
    if clash:
        what = "; ".join(f"{' and '.join(map(repr, v))} all mean {k!r}" for k, v in clash.items())
        raise ValidationError(f"applicants ({source}): columns {what}; keep one of them")
    return df.rename(columns=cols)


def _normalise(applicants: pd.DataFrame, *, year: int | None = None) -> pd.DataFrame:
    """Applicants with every rule column present, values in canonical form, dates parsed."""
    a = applicants.copy()
    if "applicant_id" not in a.columns and a.index.name == "applicant_id":
        a = a.reset_index()
    for col in APPLICANT_COLUMNS:
        if col not in a.columns:
            a[col] = None
    for col, default in _DEFAULTS.items():
        names = _VALUES.get(col, {})
        a[col] = pd.Series([default if x is None else names.get(x, x.lower() if x.isascii()
                                                                 else x)
                            for x in _text(a[col])], index=a.index, dtype=object)
    for col in _FLAGS:
        a[col] = _flag(_text(a[col]))
    for col in _DATES:
        a[col] = _dates(_text(a[col]))
    for col in ("applicant_id", "id_number", "name", "school_id", "hukou_address",
                "hukou_unit_code", "property_unit_code", "residence_address",
                "residence_unit_code", "special_group", "special_reason", "sibling_group",
                "override_by", "override_reason"):
        a[col] = _text(a[col])
    by_zh = {zh: k for k, zh in SPECIAL_GROUPS.items()}
    a["special_group"] = pd.Series([v if v is None else by_zh.get(v, v)
                                    for v in a["special_group"]], index=a.index, dtype=object)
    if year is not None:
        y = pd.to_numeric(a["year"], errors="coerce")
        # "inf", "1e30", "2027.5" are no year (import_applicants reports them)
        y = y.where(y.between(1900, 2199) & (y == np.floor(y)))
        a["year"] = y.fillna(year).astype(np.int64)
    return a


def _dates(text: pd.Series) -> pd.Series:
    """Dates as typed → naive timestamps on the CST clock; NaT where there is no date.

    "-1" parses as the year -1 and "9999-12-31" is a date too, but no date of a child or a
    season lies outside 1900–2199: those are NaT as well (import_applicants reports them).
    """
    try:
        d = pd.to_datetime(text, errors="coerce", format="mixed")
    except ValueError:  # times with and without a zone in one column: one by one
        d = pd.Series([_one_date(v) for v in text], index=text.index, dtype="datetime64[ns]")
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_convert(CST).dt.tz_localize(None)
    return d.where(d.between(*_DATE_RANGE))


def _one_date(v) -> pd.Timestamp:
    t = pd.NaT if v is None else pd.to_datetime(v, errors="coerce")
    if t is pd.NaT:
        return t
    if t.tzinfo is not None:
        t = t.tz_convert(CST).tz_localize(None)
    return t if _DATE_RANGE[0] <= t <= _DATE_RANGE[1] else pd.NaT


# =============================================================================== import
@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_applicants` accepted and rejected.

    Attributes
    ----------
    source : str
    accepted : pandas.DataFrame
        The accepted applications, ID numbers masked (``id_masked``).
    rejected : pandas.DataFrame
        One row per problem: ``row`` (file row, header = 1), ``applicant_id``, ``id_masked``,
        ``field``, ``reason`` and ``reason_zh``. A row with several problems has several rows.
    saved : bool
        The accepted rows were written to a store.
    """

    source: str
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    saved: bool

    @property
    def n_rejected_rows(self) -> int:
        """Number of input rows rejected."""
        return int(self.rejected["row"].nunique()) if len(self.rejected) else 0

    def summary(self) -> dict:
        """Counts for people and machines."""
        return {"source": self.source, "accepted": len(self.accepted),
                "rejected_rows": self.n_rejected_rows, "problems": len(self.rejected),
                "saved": self.saved}


def import_applicants(source, *, year: int, store: GeoPackageStore | None = None,
                      schools: pd.DataFrame | None = None, actor: str = "",
                      timeline: Timeline | None = None, at=None) -> ImportReport:
    """Check applications row by row; save the accepted ones to a store in one transaction.

    A row is rejected (with every reason) for: a malformed ID number (shown masked), a birth date
    that contradicts the ID, an unknown level, type, category, hukou holder, property owner or
    disability; a private application without a private school of its level; a public
    application naming a private school; a 随迁子女 without a 居住证 date; a special group without
    its recorded reason (seeds 000 三(三)3); a 不动产单元号 that is not one; no home at all; a second
    application of the same child this year, in the file or already stored (seeds 000 四(二):
    公办、民办学校只能填报一所，不能兼报); an ``applied_on`` outside its registration window
    without an officer's ``override_by`` and ``override_reason`` (seeds 000 四: offline
    registration for late families).

    Parameters
    ----------
    source : path-like or pandas.DataFrame
        CSV/Excel file (Chinese headers accepted) or a frame.
    year : int
        The intake year.
    store : GeoPackageStore, optional
        Where to save (and where stored applications and schools are read from).
    schools : pandas.DataFrame, optional
        The schools layer (default: the store's).
    actor : str
        Who imports (audit log).
    timeline : Timeline, optional
        Registration windows (default :meth:`Timeline.for_year`).
    at : datetime, optional
        When (audit), default now.

    Returns
    -------
    ImportReport

    Raises
    ------
    PersonalDataError
        The file has a column for guardians' occupation or income: nothing is imported.
    ValidationError
        Unreadable file, a required column missing, or the store refused the write (nothing
        saved).
    """
    if isinstance(source, pd.DataFrame):
        name = "frame"
        raw = _standardise(source, source=name)
    else:
        name = Path(source).name
        raw = read_applicants(source)
    missing = [c for c in ("id_number", "name") if c not in raw.columns]
    if missing:
        raise ValidationError(f"applicants ({name}): missing column(s) {', '.join(missing)} "
                              "(身份证号, 姓名); found " + ", ".join(map(str, raw.columns)))
    unknown = [c for c in raw.columns if c not in APPLICANT_COLUMNS]
    if unknown:
        raise ValidationError(
            f"applicants ({name}): column(s) {', '.join(map(repr, unknown))} are not collected "
            "(seeds 000 五(四): 信息非必要不采集); delete them, or rename them to one of "
            + ", ".join(APPLICANT_COLUMNS))
    timeline = timeline or Timeline.for_year(year)
    if schools is None and store is not None:
        schools = store.read("schools")
    a = _normalise(raw.reset_index(drop=True), year=year)
    row_no = np.arange(len(a)) + 2  # header is row 1
    problems: list[tuple[int, str, str, str]] = []

    def bad(mask, field_, en, zh):
        for i in np.flatnonzero(np.asarray(mask, bool)):
            e = en(i) if callable(en) else en
            z = zh(i) if callable(zh) else zh
            problems.append((int(i), field_, e, z))

    for col in _DATES:  # a date that was given but cannot be read is not a missing date
        given_text = (_text(raw[col].reset_index(drop=True)) if col in raw.columns
                      else pd.Series(None, index=a.index, dtype=object))
        bad(given_text.notna() & a[col].isna(), col,
            lambda i, c=col, t=given_text: f"{c}={t.iat[i]!r} is not a date (1900-2199); "
                                           "write it as YYYY-MM-DD, e.g. 2020-08-31",
            lambda i, t=given_text: f"“{t.iat[i]}”不是有效日期，请按“年-月-日”填写（如2020-08-31）")
    ids = _check_ids(a["id_number"])
    a["id_number"] = ids["id_number"].to_numpy()
    for i in np.flatnonzero(~ids["valid"].to_numpy()):
        problems.append((int(i), "id_number", ids.at[i, "error"], ids.at[i, "error_zh"]))
    given = a["birth_date"]
    born = pd.to_datetime(ids["birth_date"])
    bad(given.notna() & born.notna() & (given != born), "birth_date",
        "birth_date differs from the date in the ID number",
        "出生日期与身份证号中的出生日期不一致")
    a["birth_date"] = given.where(given.notna(), born)
    bad(a["birth_date"].isna() & ids["valid"], "birth_date", "no birth date", "缺少出生日期")
    bad(a["name"].isna(), "name", "no name", "缺少姓名")
    for col, allowed in _ALLOWED.items():
        bad(~a[col].isin(allowed), col,
            lambda i, c=col, al=allowed: f"{c}={a.at[i, c]!r}: use one of {', '.join(al)}",
            lambda i, c=col: f"“{a.at[i, c]}”不是有效取值")
    # the year as written: "abc" or "inf" is not this year either (a missing one is)
    y_text = (_text(raw["year"].reset_index(drop=True)) if "year" in raw.columns
              else pd.Series(None, index=a.index, dtype=object))
    y = pd.to_numeric(y_text, errors="coerce")
    bad(y_text.notna() & (y != year), "year",
        lambda i: f"year {y_text.iat[i]!r} is not the intake year {year}", f"报名年份应为{year}年")
    private = (a["application_type"] == "private").to_numpy()
    sch = schools if schools is not None else pd.DataFrame(columns=["level", "ownership"])
    own = a["school_id"].map(sch["ownership"]) if "ownership" in sch else pd.Series(None, a.index)
    serves = [bool(s) and lv in school_level_serves(sch["level"].get(s, ""))
              for s, lv in zip(a["school_id"].fillna(""), a["level"], strict=True)]
    if schools is not None:
        bad(private & ~((own == "private").to_numpy() & np.array(serves, bool)), "school_id",
            lambda i: f"private application names {a.at[i, 'school_id']!r}, not a private "
                      f"{a.at[i, 'level']} school of this district",
            "民办学校报名须填报本区招收该学段的民办学校")
        bad(~private & a["school_id"].notna().to_numpy() & (own == "private").to_numpy(),
            "school_id", "a public application names a private school",
            "公办报名不能填报民办学校（公办、民办只能填报一所）")
    bad(private & a["school_id"].isna().to_numpy(), "school_id",
        "a private application names no school", "民办学校报名须填写报名学校")
    migrant = (a["category"] == "migrant").to_numpy()
    bad(migrant & a["residence_permit_start"].isna().to_numpy(), "residence_permit_start",
        "a 随迁子女 application needs the 居住证 start date",
        "随迁子女须填写居住证起始日期（以居住证为主要依据）")
    sg = a["special_group"]
    bad(sg.notna() & ~sg.isin(list(SPECIAL_GROUPS)), "special_group",
        lambda i: f"special_group {sg.iat[i]!r}: use one of {', '.join(SPECIAL_GROUPS)}",
        "特殊群体类别不在政策列出的范围内")
    bad(sg.notna() & a["special_reason"].isna(), "special_reason",
        "a special group needs its recorded reason (document, decision number)",
        "特殊群体子女须登记政策依据（证明材料或文件编号）")
    for col in ("hukou_unit_code", "property_unit_code", "residence_unit_code"):
        has = a[col].notna()
        if has.any():
            parsed = parse_many(a.loc[has, col], allow_parcel=True)
            badc = pd.Series(False, index=a.index)
            badc[has] = ~parsed["valid"].to_numpy()
            err = pd.Series(None, index=a.index, dtype=object)
            err_zh = pd.Series(None, index=a.index, dtype=object)
            err[has], err_zh[has] = parsed["error"].to_numpy(), parsed["error_zh"].to_numpy()
            bad(badc, col, lambda i, e=err: e.iat[i], lambda i, e=err_zh: e.iat[i])
    bad(a["residence_unit_code"].isna() & a["residence_address"].isna()
        & a["property_unit_code"].isna(), "residence_address",
        "no home: give the residence address or its 不动产单元号",
        "缺少实际居住地址（或其不动产单元号）")
    # applied on: inside its registration window, or an officer's offline registration
    overrides = []
    applied = a["applied_on"]
    pub, priv_w = timeline.window("register"), timeline.window("register_private")
    start = np.where(private, priv_w.start.tz_localize(None), pub.start.tz_localize(None))
    end = np.where(private, priv_w.end.tz_localize(None), pub.end.tz_localize(None))
    outside = applied.notna().to_numpy() & ((applied.to_numpy() < start.astype("datetime64[ns]"))
                                           | (applied.to_numpy() > end.astype("datetime64[ns]")))
    excused = a["override_by"].notna().to_numpy() & a["override_reason"].notna().to_numpy()
    bad(outside & ~excused, "applied_on",
        lambda i: f"applied on {applied.iat[i]:%Y-%m-%d}, outside the "
                  f"{'private' if private[i] else 'public'} registration window; an officer "
                  "registering a late family offline fills override_by and override_reason",
        lambda i: f"报名日期{applied.iat[i]:%m月%d日}不在报名时间内；错过报名的家庭须由工作人员线下"
                  "登记并填写经办人和原因")
    # one application per child and year, public or private (seeds 000 四(二))
    existing = (store.query("applicants", {"year": year}) if store is not None
                else pd.DataFrame(columns=["applicant_id", "id_number", "application_type",
                                           "status"]))
    existing = existing[~existing["status"].isin(_INACTIVE)] if len(existing) else existing
    stored = dict(zip(existing["id_number"], zip(existing["applicant_id"],
                                                 existing["application_type"], strict=True),
                      strict=True))
    in_store = a["id_number"].map(lambda v: v in stored).to_numpy(bool)
    bad(in_store, "id_number",
        lambda i: f"{mask_id(a.at[i, 'id_number'])} already has a "
                  f"{stored[a.at[i, 'id_number']][1]} application this year "
                  f"({stored[a.at[i, 'id_number']][0]}); public or private, never both (seeds 000 "
                  "四(二)): withdraw that one first",
        lambda i: f"该儿童已有{_TYPE_ZH.get(stored[a.at[i, 'id_number']][1], '')}报名"
                  f"（{stored[a.at[i, 'id_number']][0]}）；公办、民办学校只能填报一所，不能兼报")
    dup = a["id_number"].duplicated(keep="first").to_numpy() & ids["valid"].to_numpy()
    bad(dup, "id_number",
        lambda i: f"{mask_id(a.at[i, 'id_number'])} appears again (file row "
                  f"{int(row_no[a.index[a['id_number'] == a.at[i, 'id_number']][0]])}); "
                  "one application per child (seeds 000 四(二))",
        "同一儿童在文件中重复报名；公办、民办学校只能填报一所，不能兼报")
    # applicant ids: given ones must be new and unique; missing ones are issued
    aid = a["applicant_id"]
    taken = set(existing["applicant_id"]) if len(existing) else set()
    if store is not None:
        taken |= set(store.query("applicants")["applicant_id"])
    bad(aid.notna() & aid.isin(taken), "applicant_id",
        lambda i: f"applicant_id {aid.iat[i]} is already stored", "报名号已存在")
    bad(aid.notna() & aid.duplicated(keep="first"), "applicant_id",
        lambda i: f"applicant_id {aid.iat[i]} appears twice in the file", "报名号在文件中重复")
    rejected = pd.DataFrame(problems, columns=["pos", "field", "reason", "reason_zh"])
    rejected.insert(0, "row", row_no[rejected["pos"].to_numpy()] if len(rejected) else [])
    rejected.insert(1, "applicant_id", aid.reindex(rejected["pos"]).to_numpy())
    rejected.insert(2, "id_masked", [mask_id(v) for v in a["id_number"].reindex(rejected["pos"])])
    rejected = rejected.drop(columns="pos").sort_values(["row", "field"], kind="stable",
                                                        ignore_index=True)
    ok = np.ones(len(a), bool)
    ok[[p[0] for p in problems]] = False
    acc = a[ok].copy()
    issue = acc["applicant_id"].isna()
    if issue.any():
        # issue 报名号 BM + year + a running number, skipping any already used
        used = taken | set(aid.dropna())
        want, new, k = int(issue.sum()), [], len(taken) + int(aid.notna().sum())
        while len(new) < want:
            k += 1
            cand = f"BM{year}{k:06d}"
            if cand not in used:
                new.append(cand)
        acc.loc[issue, "applicant_id"] = new
    stamp = lot._stamp(at)
    acc["created_at"] = stamp
    acc["year"] = year
    saved = False
    if store is not None and len(acc):
        rows = acc[list(APPLICANT_COLUMNS)].copy()
        for col in _DATES:
            rows[col] = rows[col].dt.strftime("%Y-%m-%d").where(rows[col].notna(), None)
        audit = [{"actor": actor or "unknown", "action": "enrol_import", "target": f"applicants {year}",
                  "detail": {"source": name, "accepted": len(acc), "rejected_rows":
                             int(len(a) - ok.sum()), "sha256": _digest(
                                 rows.drop(columns=["id_number", "name"]))}}]
        for _, r in acc[acc["override_by"].notna()].iterrows():
            overrides.append({"actor": r["override_by"], "action": "override",
                              "target": r["applicant_id"],
                              "detail": {"action": "register", "applied_on": str(r["applied_on"])[:10],
                                         "reason": r["override_reason"],
                                         "citation": "seeds 000 四（线下报名入学登记）"}})
        store.write_rows({"applicants": rows}, audit=audit + overrides)
        saved = True
    accepted = acc[["applicant_id", "name", "level", "application_type", "school_id",
                    "category"]].copy()
    accepted.insert(1, "id_masked", [mask_id(v) for v in acc["id_number"]])
    return ImportReport(name, accepted.reset_index(drop=True), rejected, saved)


def _digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's CSV text: what the audit log records of a step's result."""
    return hashlib.sha256(frame.to_csv(index=True).encode("utf-8")).hexdigest()


# =============================================================================== homes
class _Homes:
    """Resolve 不动产单元号 / address text to zones per level and a point, with the Resolver."""

    def __init__(self, dataset: Dataset, resolver=None):
        from zoning.lookup import Resolver

        self.dataset = dataset
        self.resolver = resolver or Resolver(dataset)
        self._points: pd.DataFrame | None = None
        self._exact: dict | None = None

    def points(self) -> pd.DataFrame:
        if self._points is None:
            p = shapely.point_on_surface(self.dataset.parcels.geometry.values)
            self._points = pd.DataFrame({"x": shapely.get_x(p), "y": shapely.get_y(p)},
                                        index=self.dataset.parcels.index)
        return self._points

    def exact(self) -> dict:
        if self._exact is None:
            a = self.dataset.addresses
            if "parcel_id" in a.columns:
                a = a[a["parcel_id"].notna()].drop_duplicates("address", keep=False)
                self._exact = dict(zip(a["address"].astype(str).str.strip(),
                                       a["parcel_id"].astype(str), strict=True))
            else:
                self._exact = {}
        return self._exact

    def resolve(self, codes: pd.Series, texts: pd.Series) -> pd.DataFrame:
        idx = codes.index
        out = pd.DataFrame({"parcel_id": pd.Series(None, index=idx, dtype=object),
                            "x": np.nan, "y": np.nan}, index=idx)
        for lv in self.resolver.locators:
            out[f"{lv}_zone_id"] = pd.Series(None, index=idx, dtype=object)
        has = codes.notna()
        if has.any():
            got = self.resolver.assign_frame(pd.DataFrame({"unit_code": codes[has]}))
            self._take(out, got)
        todo = out["parcel_id"].isna() & texts.notna()
        todo &= ~texts.fillna("").str.match(_OTHER_PROVINCE)
        if todo.any():
            # an address written exactly as in the district's address table needs no matching:
            # its parcel decides (the fuzzy index is built only for the rest)
            exact = texts[todo].str.strip().map(self.exact())
            hit = exact.dropna()
            if len(hit):
                got = self.resolver.assign_frame(pd.DataFrame({"unit_code": hit}))
                self._take(out, got)
                todo &= out["parcel_id"].isna()
        if todo.any():
            got = self.resolver.assign_frame(pd.DataFrame({"address": texts[todo]}))
            self._take(out, got)
            pts = got.index[(got["method"] == "address_point").to_numpy()]
            if len(pts):
                m = self.resolver.addresses.match_many(texts[pts].tolist())
                a = self.dataset.addresses.geometry.reindex(m["address_id"].to_numpy())
                out.loc[pts, "x"] = a.x.to_numpy()
                out.loc[pts, "y"] = a.y.to_numpy()
        hit = out["parcel_id"].notna()
        if hit.any():
            xy = self.points().reindex(out.loc[hit, "parcel_id"].to_numpy())
            out.loc[hit, "x"] = xy["x"].to_numpy()
            out.loc[hit, "y"] = xy["y"].to_numpy()
        return out

    def _take(self, out, got):
        placed = got["reason"].isna()
        got = got[placed]
        out.loc[got.index, "parcel_id"] = got["parcel_id"]
        for lv in self.resolver.locators:
            out.loc[got.index, f"{lv}_zone_id"] = got[f"{lv}_zone_id"]


# =============================================================================== eligibility
def _cutoff(year: int) -> pd.Timestamp:
    # seeds 000 二(一): 8月31日（含）前年满6周岁
    return pd.Timestamp(year=year - 6, month=8, day=31)


def eligibility(dataset: Dataset, applicants: pd.DataFrame, *, year: int,
                settings: EnrolSettings | None = None, resolver=None,
                timeline: Timeline | None = None) -> pd.DataFrame:
    """Decide each applicant's track, with the rule, the seed it cites and why.

    Parameters
    ----------
    dataset : Dataset
        The district (schools, zones, parcels, addresses).
    applicants : pandas.DataFrame
        The store's ``applicants`` rows of ``year`` (or :func:`demo_applicants`).
    year : int
    settings : EnrolSettings, optional
    resolver : zoning.lookup.Resolver, optional
        Reused when given.
    timeline : Timeline, optional
        For the 居住证 reference date (end of registration) and review deadlines.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``applicant_id``: ``id_masked``, ``name``, ``level``, ``application_type``,
        ``school_applied``, ``category``, ``eligible``, ``track`` (``private``, ``zone``,
        ``policy``, ``tongchou``, ``special_school``, ``home_teaching``, ``manual_review``,
        ``ineligible``), ``rule``, ``citation``, ``reason_zh``, ``zone_id`` (the zone the rule
        places the child in), ``hukou_zone``, ``property_zone``, ``residence_zone``, ``x``,
        ``y`` (home), ``parcel_id`` (home), ``tier`` (priority in admission), ``order_date``,
        ``sibling_group``, ``applied_on``, ``review_due``; and ``public_*`` (track, rule,
        citation, reason_zh, zone_id, tier) — what applies to a private applicant who returns to
        the public process.
    """
    settings = settings or EnrolSettings()
    timeline = timeline or Timeline.for_year(year)
    a = _normalise(applicants, year=year)
    a = a[(a["year"] == year).to_numpy() & ~a["status"].isin(_INACTIVE).to_numpy()]
    a = a.drop_duplicates("applicant_id").set_index("applicant_id")
    n = len(a)
    homes = _Homes(dataset, resolver)
    hk = homes.resolve(a["hukou_unit_code"], a["hukou_address"])
    pr = homes.resolve(a["property_unit_code"], pd.Series(None, index=a.index, dtype=object))
    rs = homes.resolve(a["residence_unit_code"], a["residence_address"])
    level = a["level"].to_numpy(dtype=object)

    def zone(frame):
        out = np.full(n, None, dtype=object)
        for lv in LEVELS:
            col = f"{lv}_zone_id"
            if col in frame:
                m = level == lv
                out[m] = frame[col].to_numpy(dtype=object)[m]
        return out

    hz, pz, rz = zone(hk), zone(pr), zone(rs)
    # the home: actual residence, else the property, else the hukou
    x = rs["x"].to_numpy().copy()
    y = rs["y"].to_numpy().copy()
    home_parcel = rs["parcel_id"].to_numpy(dtype=object).copy()
    for alt in (pr, hk):
        miss = np.isnan(x)
        x[miss], y[miss] = alt["x"].to_numpy()[miss], alt["y"].to_numpy()[miss]
        home_parcel[miss] = alt["parcel_id"].to_numpy(dtype=object)[miss]
    home_zone = np.where(pd.isna(rz), pz, rz)

    zones = dataset.zones
    zname = (zones["name"] if "name" in zones else pd.Series(zones.index, index=zones.index)
             ).astype(str).to_dict()
    schools = dataset.schools
    sname = schools["name"].astype(str).to_dict()
    links = zone_schools(zones)
    zone_school_names = links.assign(n=links["school_id"].map(sname)).groupby("zone_id")["n"] \
        .agg(lambda s: "、".join(map(str, s))).to_dict()

    def zn(z):
        return f"{zname.get(z, z)}" if z is not None else "（未能确定）"

    born = a["birth_date"]
    primary = level == "primary"
    under_age = primary & (born > _cutoff(year)).to_numpy()
    unknown_age = primary & born.isna().to_numpy()
    dis = a["disability"].to_numpy(dtype=object)
    heavy = np.isin(dis, ["moderate", "severe"])
    home_teach = heavy & (a["home_teaching"].to_numpy() == 1)
    sg = a["special_group"].to_numpy(dtype=object)
    special = pd.notna(sg) & a["special_reason"].notna().to_numpy()
    migrant = (a["category"] == "migrant").to_numpy()
    ref = timeline.window("register").end.tz_localize(None).normalize()
    permit_needed = ref - pd.DateOffset(months=settings.permit_months)
    permit = a["residence_permit_start"]
    permit_ok = (permit.notna() & (permit <= permit_needed)).to_numpy()
    rural = a["rural"].to_numpy() == 1
    holder = a["hukou_holder"].to_numpy(dtype=object)
    owner = a["property_owner"].to_numpy(dtype=object)
    since_birth = a["hukou_since_birth"].to_numpy() == 1

    def same(u, v):
        return pd.notna(u) & pd.notna(v) & (u == v)

    sandukou = primary & ~rural & (holder == "parent") & (owner == "parent") & same(hz, pz) \
        & same(pz, rz)
    # seeds 000 三(一): 因父母无自购房，自出生日起户籍一直挂靠祖父母或外祖父母，在招生服务区常住
    grand = primary & ~rural & (holder == "grandparent") & since_birth & (owner != "parent") \
        & same(hz, rz)
    rural_ok = rural & pd.notna(hz)
    junior_ok = (level == "junior") & ~rural & pd.notna(rz) & (same(hz, rz) | same(pz, rz))
    unresolved = pd.isna(home_zone) & np.isnan(x)

    # the public decision, in order of precedence
    conds = [unknown_age | under_age & ~heavy, home_teach, heavy, special, dis == "mild",
             migrant & permit_ok, migrant, rural_ok, sandukou, grand, junior_ok, unresolved]
    tracks = ["ineligible", "home_teaching", "special_school", "policy", "policy", "tongchou",
              "ineligible", "zone", "zone", "zone", "zone", "manual_review"]
    rules = ["under_age", "home_teaching", "special_school", "special_group", "disability_mild",
             "migrant_permit", "migrant_permit_short", "rural_hukou", "sandukou",
             "grandparent_hukou", "junior_nearby", "unresolved_home"]
    track = np.select(conds, tracks, default="tongchou").astype(object)
    rule = np.select(conds, rules, default="not_sandukou").astype(object)
    rule[(rule == "not_sandukou") & (level == "junior")] = "not_nearby"
    talent = (rule == "special_group") & (sg == "talent")
    rule[talent] = "talent"
    target = np.full(n, None, dtype=object)
    m = track == "zone"
    target[m] = np.where(rule[m] == "rural_hukou", hz[m], rz[m])
    m = np.isin(track, ["policy", "home_teaching", "tongchou"])
    target[m] = home_zone[m]
    tier = np.select([track == "policy", track == "zone", (track == "tongchou") & ~migrant,
                      track == "tongchou"], [0, 1, 2, 3], default=9)
    # who goes first within a tier when seats run short: the earlier hukou registration (or, for
    # 随迁子女, the earlier 居住证); ties are broken by a published random order (public_admission)
    order_date = np.where(migrant, permit.to_numpy(), a["hukou_date"].to_numpy())

    cut = _cutoff(year)
    reasons = []
    for i in range(n):
        r = rule[i]
        hzi, pzi, rzi = hz[i], pz[i], rz[i]
        if r == "under_age":
            text = (f"出生日期{born.iat[i]:%Y年%m月%d日}，{year}年8月31日（含）前未满6周岁（应在"
                    f"{cut:%Y年%m月%d日}及以前出生），本年度不能入学。" if pd.notna(born.iat[i])
                    else "缺少出生日期，无法确认是否年满6周岁，请补充。")
        elif r == "home_teaching":
            text = "经评估需要专人护理、不能到校就读，安排送教上门，学籍落在居住地对口学校。"
        elif r == "special_school":
            text = (f"{'中度' if dis[i] == 'moderate' else '重度'}残疾，安排至特殊教育学校就读"
                    "（入学年龄可适度放宽）。")
        elif r in ("special_group", "talent"):
            text = (f"{SPECIAL_GROUPS.get(sg[i], sg[i])}子女（依据：{a['special_reason'].iat[i]}），"
                    f"由居住地教育部门按政策安排在居住地{zn(home_zone[i])}的学校入学。")
        elif r == "disability_mild":
            text = f"轻度残疾，优先在普通学校随班就读，就近就便安排在居住地{zn(home_zone[i])}的学校。"
        elif r == "migrant_permit":
            text = (f"随迁子女，居住证自{permit.iat[i]:%Y年%m月%d日}起，在流入地居住已满半年，"
                    "由区县教育部门统筹安排在距实际居住地较近的公办学校或政府购买的民办学校学位。")
        elif r == "migrant_permit_short":
            text = (f"随迁子女，居住证自{permit.iat[i]:%Y年%m月%d日}起，至报名截止（{ref:%m月%d日}）"
                    "在流入地居住不满半年，暂不符合随迁子女入学条件；请补充居住证明材料，由区县教育部门审核。"
                    if pd.notna(permit.iat[i]) else
                    "随迁子女未登记居住证，暂不符合随迁子女入学条件；请办理居住证或补充材料后由区县教育部门审核。")
        elif r == "rural_hukou":
            text = f"农村地区以户籍为主要依据：户籍在{zn(hzi)}，对口{zone_school_names.get(hzi, '')}。"
        elif r == "sandukou":
            text = (f"户籍、房屋产权和实际居住地均在{zn(rzi)}，符合“三对口”，对口"
                    f"{zone_school_names.get(rzi, '')}。")
        elif r == "grandparent_hukou":
            text = (f"父母无自购房，自出生起户籍挂靠祖父母（外祖父母），与家人在{zn(rzi)}常住，视为符合"
                    f"“三对口”，对口{zone_school_names.get(rzi, '')}。")
        elif r == "junior_nearby":
            text = f"实际居住在{zn(rzi)}，免试就近入学，对口{zone_school_names.get(rzi, '')}。"
        elif r == "unresolved_home":
            text = ("户籍、房产和居住地址均未能与本区数据匹配，请上传户口簿、房屋产权证明等佐证材料，"
                    "由审核人员人工审核。")
        else:  # not_sandukou
            parts = []
            if level[i] == "primary" and holder[i] == "grandparent" and not since_birth[i]:
                parts.append("户籍挂靠祖父母但并非自出生起")
            if level[i] == "primary" and owner[i] != "parent" and holder[i] != "grandparent":
                parts.append("父母无本片区房屋产权")
            if not same(hzi, rzi):
                parts.append(f"户籍{'不在本区' if hzi is None else '在' + zn(hzi)}")
            if level[i] == "primary" and owner[i] == "parent" and not same(pzi, rzi):
                parts.append(f"房产{'未能匹配' if pzi is None else '在' + zn(pzi)}")
            parts.append(f"实际居住在{zn(rzi if rzi is not None else home_zone[i])}")
            text = ("，".join(parts) + ("，不符合“三对口”" if r == "not_sandukou" else
                                        "，户籍和房产均不在实际居住片区")
                    + "，由区县教育部门统筹安排到距居住地最近且有空余学位的学校。")
        reasons.append(text)
    public = pd.DataFrame({"public_track": track, "public_rule": rule,
                           "public_reason_zh": reasons, "public_zone_id": target,
                           "public_tier": tier}, index=a.index)
    public["public_citation"] = public["public_rule"].map(lambda r: RULES[r][0])

    out = pd.DataFrame({
        "id_masked": [mask_id(v) for v in a["id_number"]], "name": a["name"].to_numpy(),
        "level": level, "application_type": a["application_type"].to_numpy(),
        "school_applied": a["school_id"].to_numpy(), "category": a["category"].to_numpy(),
    }, index=a.index)
    out = out.join(public)
    # private applications: age (primary) and a private school of the level; the rest is the draw
    priv = (a["application_type"] == "private").to_numpy()
    sch_own = a["school_id"].map(schools["ownership"]) if "ownership" in schools else None
    sch_ok = np.array([bool(s) and lv in school_level_serves(schools["level"].get(s, ""))
                       for s, lv in zip(a["school_id"].fillna(""), level, strict=True)], bool)
    if sch_own is not None:
        sch_ok &= (sch_own == "private").to_numpy()
    p_bad_age = priv & (under_age | unknown_age)
    p_bad_school = priv & ~sch_ok & ~p_bad_age
    p_ok = priv & ~p_bad_age & ~p_bad_school
    out["track"] = np.where(p_ok, "private", np.where(priv, "ineligible", track))
    out["rule"] = np.where(p_ok, "private_application",
                           np.where(p_bad_school, "private_school_invalid",
                                    np.where(p_bad_age, "under_age", rule)))
    reason = np.array(reasons, dtype=object)
    reason[p_ok] = [f"报名民办学校{sname.get(s, s)}，报名人数不超过招生计划的直接登记录取，超过的电脑随机摇号"
                    "；未被录取的回到公办录取体系。" for s in a["school_id"][p_ok]]
    reason[p_bad_school] = [f"报名学校{s}不是本区招收{_LEVEL_ZH[lv]}新生的民办学校，请重新填报。"
                            for s, lv in zip(a["school_id"][p_bad_school], level[p_bad_school],
                                             strict=True)]
    out["reason_zh"] = reason
    out["citation"] = out["rule"].map(lambda r: RULES[r][0])
    out["zone_id"] = np.where(priv, None, target)
    out["tier"] = np.where(priv, 9, tier)
    # one application per child and year (seeds 000 四(二)): keep the first, refuse the others
    order = a.assign(_pos=np.arange(n)).sort_values(["applied_on", "_pos"], kind="stable",
                                                     na_position="last")
    dup_ids = order.index[order["id_number"].duplicated(keep="first").to_numpy()
                          & order["id_number"].notna().to_numpy()]
    if len(dup_ids):
        first = order.drop_duplicates("id_number").reset_index().set_index("id_number")[
            "applicant_id"]
        out.loc[dup_ids, ["track", "public_track"]] = "ineligible"
        out.loc[dup_ids, ["rule", "public_rule"]] = "one_application"
        out.loc[dup_ids, ["citation", "public_citation"]] = RULES["one_application"][0]
        txt = [f"已有报名（{first[a.at[i, 'id_number']]}），公办、民办学校只能填报一所，不能兼报，"
               "本次报名无效。" for i in dup_ids]
        out.loc[dup_ids, "reason_zh"] = txt
        out.loc[dup_ids, "public_reason_zh"] = txt
    out["eligible"] = ~out["track"].isin(["ineligible"])
    out["hukou_zone"], out["property_zone"], out["residence_zone"] = hz, pz, rz
    out["x"], out["y"], out["parcel_id"] = x, y, home_parcel
    out["order_date"] = pd.to_datetime(order_date)
    out["sibling_group"] = a["sibling_group"].to_numpy()
    out["applied_on"] = a["applied_on"].to_numpy()
    out["review_due"] = timeline.review_due(a["applied_on"]).to_numpy()
    out.index.name = "applicant_id"
    return out


# =============================================================================== private stage
def _seats(dataset: Dataset, level: str, settings: EnrolSettings) -> pd.Series:
    t = capacity_table(dataset, level=level, demand=pd.Series(dtype=float),
                       settings=settings.capacity)
    return t["seats"].astype(np.int64)


def lottery_lists(dataset: Dataset, decisions: pd.DataFrame, *, year: int,
                  settings: EnrolSettings | None = None
                  ) -> dict[str, tuple[lot.LotteryParams, pd.DataFrame]]:
    """Each private school's (and level's) parameters and applicant list, ready to commit or draw.

    ``own_area`` is 1 for an applicant living in the school's 街道 (the school's ``street``; the
    home parcel's ``street``), for a district that sets an own-area quota.

    Returns
    -------
    dict
        ``"SCHOOL-YEAR-LEVEL"`` → (:class:`zoning.lottery.LotteryParams`, applicant list with
        ``applicant_id``, ``sibling_group``, ``own_area``), for every school with applicants.
    """
    settings = settings or EnrolSettings()
    d = decisions[decisions["track"] == "private"]
    schools = dataset.schools
    pstreet = dataset.parcels.get("street")
    out = {}
    for (sid, lv), grp in d.groupby(["school_applied", "level"], sort=True):
        seats = int(_seats(dataset, lv, settings).get(sid, 0))
        own = np.zeros(len(grp), np.int64)
        if pstreet is not None and "street" in schools:
            home = grp["parcel_id"].map(pstreet)
            own = (home == schools.at[sid, "street"]).to_numpy().astype(np.int64)
        quota = min(int(settings.own_area_quota.get(sid, 0)), seats)
        params = lot.LotteryParams(str(sid), str(lv), int(year), seats,
                                   siblings_together=bool(settings.siblings_together),
                                   own_area_quota=quota)
        lst = pd.DataFrame({"applicant_id": grp.index.astype(str),
                            "sibling_group": grp["sibling_group"].fillna("").astype(str),
                            "own_area": own})
        out[params.key] = (params, lot.applicant_list(lst))
    return out


def _private_stage(dataset, decisions, *, year, settings, timeline, seed, draws, confirmations,
                   at, override, audit, actor):
    lists = lottery_lists(dataset, decisions, year=year, settings=settings)
    rows, summary, done = [], [], {}
    deadline = timeline.window("confirm_private").end
    for key, (params, lst) in lists.items():
        n = len(lst)
        if n <= params.seats:
            # seeds 000 三(二): 报名人数小于或等于招生计划的，采取登记注册方式直接录取
            order = lst.assign(rank=np.arange(1, n + 1), unit=lst["applicant_id"], hash="",
                               admitted=True, stage="registration")
            method = "registration"
            d = None
            audit.append({"actor": actor, "action": "private_registration", "target": key,
                          "detail": {"applicants": n, "seats": params.seats,
                                     "applicants_sha256": lot._sha256(lot.applicants_text(lst)),
                                     "citation": "seeds 000 三(二)"}})
        else:
            method = "lottery"
            if draws and key in draws:
                d = draws[key]
                want = lot._sha256(lot.applicants_text(lst))
                if d.applicants_sha256 != want or d.params != params:
                    raise ValidationError(
                        f"lottery {key}: the published draw was made for another applicant list "
                        "or other parameters than this season's (applications or plans changed "
                        "since the commitment); commit and draw again, or restore the data")
            elif seed is not None:
                s = seed.get(key) if isinstance(seed, Mapping) else seed
                if s is None:
                    raise ValidationError(f"lottery {key}: no seed given for this school")
                t = timeline.window("lottery").replay_at if at is None else _ts(at)
                ov = timeline.check("lottery", t, override=override, target=key)
                if ov:
                    audit.append(ov)
                c = lot.commit(lst, params, at=t - pd.Timedelta(hours=1))
                d = lot.draw(lst, params, s, commitment=c, at=t)
                audit.append({"actor": actor, "action": "lottery_commit", "target": key,
                              "detail": {"applicants_sha256": c.applicants_sha256,
                                         "params_sha256": c.params_sha256, "applicants": n,
                                         "seats": params.seats}})
            else:
                raise ValidationError(
                    f"lottery {key}: {n} applicants for {params.seats} seats: a lottery must be "
                    "drawn first (seeds 000 三(二)): `zoning lottery commit` then `zoning lottery "
                    "draw`, and pass the draws (or a seed)")
            order = d.order
            audit.append({"actor": actor, "action": "lottery_draw", "target": key,
                          "detail": {"seed": d.seed, "applicants_sha256": d.applicants_sha256,
                                     "params_sha256": d.params_sha256,
                                     "admitted": int(d.order["admitted"].sum()),
                                     "order_sha256": _digest(d.order), "citation":
                                     "seeds 000 三(二)"}})
            done[key] = d
        conf = confirmations
        if conf is None:
            conf = dict.fromkeys(order["applicant_id"], deadline)  # everyone confirmed
        res = lot.settle(order, conf, seats=params.seats, deadline=deadline,
                         refill_hours=settings.refill_hours, max_rounds=settings.max_refill_rounds)
        res = res.merge(order[["applicant_id", "hash", "own_area", "stage"]], on="applicant_id")
        res.insert(0, "key", key)
        res.insert(1, "school_id", params.school_id)
        res.insert(2, "level", params.level)
        res["method"] = method
        rows.append(res)
        st = res["status"].value_counts()
        summary.append({"key": key, "school_id": params.school_id, "level": params.level,
                        "method": method, "seats": params.seats, "applicants": n,
                        "admitted_by_draw": int(res["admitted"].sum()),
                        "confirmed": int(st.get("confirmed", 0)),
                        "forfeited": int(st.get("forfeited", 0)),
                        "refilled": int(((res["offer_round"] > 0)
                                         & (res["status"] == "confirmed")).sum()),
                        "seed": None if d is None else d.seed,
                        "applicants_sha256": lot._sha256(lot.applicants_text(lst)),
                        "params_sha256": params.sha256})
        audit.append({"actor": actor, "action": "private_confirmation", "target": key,
                      "detail": {"deadline": deadline.isoformat(),
                                 "confirmed": int(st.get("confirmed", 0)),
                                 "forfeited": int(st.get("forfeited", 0)),
                                 "refill_offers": int((res["offer_round"] > 0).sum()),
                                 "citation": "seeds 000 四(二); seeds 002 Q21"}})
    cols = ["key", "school_id", "level", "applicant_id", "rank", "hash", "own_area", "stage",
            "method", "admitted", "offer_round", "offer_deadline", "confirmed_at", "status"]
    frame = (pd.concat(rows, ignore_index=True)[cols] if rows
             else pd.DataFrame(columns=cols))
    return frame, pd.DataFrame(summary), done


# =============================================================================== public stage
def _place(priority: np.ndarray, prefs: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Each applicant, in priority order, takes the first school of their list with a free seat.

    ``prefs`` is ``(n, k)`` school indices (nearest first) padded with -1; ``priority`` lower is
    better. Returns the school index, or -1 for none. A plain loop on purpose: it stops at the
    first school with a seat, and places 50,000 applicants over ~100 schools in about 0.2 s,
    5–8 times faster than the vectorised deferred acceptance it was measured against (which
    gives the same assignment).
    """
    cap = np.asarray(capacity, np.int64).tolist()
    got = np.full(len(priority), -1, np.int64)
    for i in np.argsort(priority, kind="stable").tolist():
        for s in prefs[i].tolist():
            if s < 0:
                break
            if cap[s] > 0:
                cap[s] -= 1
                got[i] = s
                break
    return got


def _priority(decisions: pd.DataFrame, tiers: np.ndarray, seed: str) -> np.ndarray:
    """Rank applicants: tier, then the earlier order date, then a published random order."""
    keys = lot.rank_keys(seed, decisions.index.astype(str))
    frame = pd.DataFrame({"tier": tiers, "date": pd.to_datetime(decisions["order_date"]).to_numpy(),
                          "key": keys})
    order = frame.sort_values(["tier", "date", "key"], na_position="last", kind="stable").index
    prio = np.empty(len(frame), np.int64)
    prio[order.to_numpy()] = np.arange(len(frame))
    return prio


def public_admission(dataset: Dataset, decisions: pd.DataFrame, *, year: int,
                     settings: EnrolSettings | None = None, private: pd.DataFrame | None = None,
                     order_seed: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Admit to public schools, then place the rest by 统筹; a who/where/why list.

    1. Priority placements (special groups, mild disability: tier 0) and 三对口 applicants
       (incl. grandparents' hukou and rural by hukou: tier 1) go to their zone's school(s), up to
       its seats (planned starting-grade classes × cap). In a 多校划片 zone the nearest school with
       a seat.
    2. Everyone left — those the zone school could not take, those not 三对口 (tier 2), 随迁子女
       with a 居住证 of half a year (tier 3), private applicants not admitted (seeds 000 三(二)) —
       is placed by 统筹 in the nearest public school with a free seat (seeds 000 三(三)1), in
       priority order: tier, earlier hukou (居住证) date, then a published random order (HMAC
       of ``order_seed``).
    3. 随迁子女 still without a seat get a private seat bought by the government, where private
       schools have seats left after their own admissions (``purchase_private_seats``).

    Parameters
    ----------
    dataset : Dataset
    decisions : pandas.DataFrame
        From :func:`eligibility`.
    year : int
    settings : EnrolSettings, optional
    private : pandas.DataFrame, optional
        The private stage's per-applicant result (``status`` confirmed / forfeited /
        not_admitted): confirmed seats count against the private schools; the others return to
        the public process.
    order_seed : str, optional
        Seed of the published random order that breaks ties (default ``"YEAR"``).

    Returns
    -------
    admissions : pandas.DataFrame
        Indexed by ``applicant_id``: ``id_masked``, ``name``, ``level``, ``outcome``
        (``admitted``, ``special_school``, ``ineligible``, ``manual_review``, ``unplaced``),
        ``route``, ``school_id``, ``school_name``, ``zone_id``, ``rule``, ``citation``,
        ``reason_zh``, ``distance_m``, ``lottery_order``, ``lottery_hash``.
    tongchou : pandas.DataFrame
        The 统筹 list: who was placed where and why (``applicant_id``, ``id_masked``, ``name``,
        ``level``, ``tier``, ``rule``, ``home_zone``, ``zone_schools``, ``school_id``,
        ``school_name``, ``ownership``, ``route``, ``distance_m``, ``reason_zh``).
    """
    settings = settings or EnrolSettings()
    seed = order_seed or str(year)
    schools = dataset.schools
    sname = schools["name"].astype(str).to_dict()
    d = decisions
    n = len(d)
    priv = (private if private is not None and len(private)
            else pd.DataFrame(columns=["applicant_id", "status", "school_id", "level", "rank",
                                       "hash", "method", "offer_round"])).set_index("applicant_id")
    pstatus = priv["status"].reindex(d.index).to_numpy(dtype=object)
    confirmed = pstatus == "confirmed"
    back = pd.notna(pstatus) & ~confirmed
    # private applicants not admitted return to the public process with their public decision
    # (seeds 000 三(二): 未被民办学校录取的学生，应进入所在区县公办学校录取体系)
    track = np.where(back, d["public_track"], d["track"]).astype(object)
    rule = np.where(back, d["public_rule"], d["rule"]).astype(object)
    cite = np.where(back, d["public_citation"], d["citation"]).astype(object)
    zone = np.where(back, d["public_zone_id"], d["zone_id"]).astype(object)
    tier = np.where(back, d["public_tier"], d["tier"]).astype(np.int64)
    reason = d["reason_zh"].to_numpy(dtype=object).copy()
    psch = priv["school_id"].reindex(d.index).to_numpy(dtype=object)
    pub_reason = d["public_reason_zh"].to_numpy(dtype=object)
    for i in np.flatnonzero(back):
        why = "摇号未中" if pstatus[i] == "not_admitted" else "未在规定时间内确认，视为自动放弃"
        reason[i] = (f"未被民办学校{sname.get(psch[i], psch[i])}录取（{why}），回到公办录取体系"
                     f"（seeds 000 三(二)）：{pub_reason[i]}")

    outcome = np.full(n, None, dtype=object)
    route = np.full(n, None, dtype=object)
    school = np.full(n, None, dtype=object)
    dist_m = np.full(n, np.nan)
    extra = np.full(n, "", dtype=object)  # appended to the reason: where and why

    # private admissions, confirmed in time
    pm = priv["method"].reindex(d.index).to_numpy(dtype=object)
    prank = priv["rank"].reindex(d.index).to_numpy()
    pround = priv["offer_round"].reindex(d.index).to_numpy()
    outcome[confirmed] = "admitted"
    route[confirmed] = np.where(pm[confirmed] == "lottery", "private_lottery",
                                "private_registration")
    school[confirmed] = psch[confirmed]
    for i in np.flatnonzero(confirmed):
        how = f"摇号录取（顺位{int(prank[i])}）" if pm[i] == "lottery" else "登记注册直接录取"
        later = "（递补）" if pround[i] and pround[i] > 0 else ""
        extra[i] = f"民办学校{sname.get(psch[i], psch[i])}{how}{later}，并已按时确认（seeds 000 四(二)）。"
    outcome[np.isin(track, ["ineligible", "manual_review"]) & ~confirmed] = \
        track[np.isin(track, ["ineligible", "manual_review"]) & ~confirmed]

    hx_all = d["x"].to_numpy(float)
    hy_all = d["y"].to_numpy(float)
    # special school (seeds 000 三(三)2): the nearest one, if the district has any in its layer
    m = (track == "special_school") & ~confirmed
    outcome[m] = "special_school"
    route[m] = "special_school"
    special_sites = schools[schools["level"].astype(str) == "special"]
    if m.any() and len(special_sites):
        sx, sy = special_sites.geometry.x.to_numpy(), special_sites.geometry.y.to_numpy()
        rows = np.flatnonzero(m & np.isfinite(hx_all))
        dd = np.hypot(hx_all[rows, None] - sx, hy_all[rows, None] - sy)
        best = np.argmin(dd, axis=1)
        school[rows] = special_sites.index.to_numpy()[best]
        dist_m[rows] = dd[np.arange(rows.size), best]
        outcome[rows] = "admitted"
    links = zone_schools(dataset.zones)
    tc_parts = []
    level = d["level"].to_numpy(dtype=object)

    for lv in LEVELS:
        at_level = (level == lv) & ~confirmed
        if not at_level.any():
            continue
        seats = _seats(dataset, lv, settings)
        serving = schools.loc[seats.index]
        pub = list(serving.index[(serving["ownership"].astype(str) != "private").to_numpy()])
        prv = list(serving.index[(serving["ownership"].astype(str) == "private").to_numpy()])
        sch_ids = np.array(pub + prv, dtype=object)
        pos = {s: i for i, s in enumerate(sch_ids)}
        taken = pd.Series(school[confirmed & (level == lv)]).value_counts()
        cap = (seats.reindex(sch_ids).fillna(0) - taken.reindex(sch_ids).fillna(0)).clip(lower=0)
        cap = cap.to_numpy(np.int64)
        lz = links[(links["level"] == lv) & links["school_id"].isin(pub)]
        zs = lz.groupby("zone_id")["school_id"].agg(list).to_dict()
        zone_names = {z: "、".join(sname.get(s, s) for s in v) for z, v in zs.items()}

        # home teaching: 学籍 at the home zone's school, no classroom seat (seeds 000 三(三)2)
        m = at_level & (track == "home_teaching")
        for i in np.flatnonzero(m):
            s = zs.get(zone[i], [None])[0]
            school[i], route[i] = s, "home_teaching"
            outcome[i] = "admitted" if s is not None else "unplaced"
            extra[i] = f"学籍在{sname.get(s, s)}，由学校送教上门。" if s else "请区县教育部门指定学籍学校。"

        rows = np.flatnonzero(at_level & np.isin(track, ["zone", "policy", "tongchou"]))
        if not rows.size:
            continue
        sub = d.iloc[rows]
        prio = _priority(sub, tier[rows], seed)
        sx = schools.loc[sch_ids].geometry.x.to_numpy()
        sy = schools.loc[sch_ids].geometry.y.to_numpy()
        hx, hy = hx_all[rows], hy_all[rows]
        has_home = np.isfinite(hx)
        dist = np.hypot(hx[:, None] - sx[None, :], hy[:, None] - sy[None, :])
        dist[~has_home] = np.inf
        k = rows.size

        # 1. tiers 0 and 1 to their zone's public school(s), the nearest with a seat first
        zt = track[rows]
        zid = zone[rows]
        first_stage = np.flatnonzero(np.isin(zt, ["zone", "policy"]) & pd.notna(zid))
        kz = max((len(v) for v in zs.values()), default=1)
        prefs = np.full((k, kz), -1, np.int64)
        for j in first_stage:
            lst = [pos[s] for s in zs.get(zid[j], ())]
            if len(lst) > 1 and has_home[j]:
                lst.sort(key=lambda c, j=j: dist[j, c])
            prefs[j, :len(lst)] = lst
        got1 = _place(prio, prefs, cap)
        cap = cap - np.bincount(got1[got1 >= 0], minlength=len(sch_ids))
        in_zone = got1 >= 0

        # 2. 统筹: everyone else with a known home, nearest public school with a free seat
        limit = settings.max_tongchou_m

        def nearest(sel, lo, hi, dist=dist, limit=limit, cap=cap):
            dd = dist[np.ix_(sel, np.arange(lo, hi))]
            dd = np.where(cap[lo:hi][None, :] > 0, dd, np.inf)
            if limit is not None:
                dd = np.where(dd <= limit, dd, np.inf)
            o = np.argsort(dd, axis=1, kind="stable")
            return np.where(np.isfinite(np.take_along_axis(dd, o, axis=1)), o + lo, -1)

        got2 = np.full(k, -1, np.int64)
        rest = np.flatnonzero(~in_zone & has_home)
        if rest.size and pub:
            prefs2 = np.full((k, len(pub)), -1, np.int64)
            prefs2[rest] = nearest(rest, 0, len(pub))
            got2 = _place(prio, prefs2, cap)
            cap = cap - np.bincount(got2[got2 >= 0], minlength=len(sch_ids))

        # 3. private seats bought by the government for 随迁子女 (seeds 000 三(三)1)
        got3 = np.full(k, -1, np.int64)
        left = np.flatnonzero(~in_zone & (got2 < 0) & has_home & (rule[rows] == "migrant_permit"))
        if settings.purchase_private_seats and left.size and prv:
            prefs3 = np.full((k, len(prv)), -1, np.int64)
            prefs3[left] = nearest(left, len(pub), len(sch_ids))
            got3 = _place(prio, prefs3, cap)

        final = np.where(in_zone, got1, np.where(got2 >= 0, got2, got3))
        placed = final >= 0
        fs = np.where(placed, sch_ids[np.clip(final, 0, None)], None)
        fd = np.where(placed, dist[np.arange(k), np.clip(final, 0, None)], np.nan)
        school[rows] = fs
        dist_m[rows] = np.where(np.isfinite(fd), fd, np.nan)
        outcome[rows] = np.where(placed, "admitted", "unplaced")
        r_route = np.where(in_zone, rule[rows], np.where(
            got2 >= 0, "tongchou", np.where(got3 >= 0, "purchased_private", None)))
        route[rows] = r_route
        names = np.array([sname.get(s, s) if s is not None else "" for s in fs], dtype=object)
        znames = np.array([zone_names.get(z, "") for z in zid], dtype=object)
        km = np.round(fd / 1000, 1)
        why = np.full(k, "", dtype=object)
        for j in range(k):
            if in_zone[j]:
                why[j] = f"录取到{names[j]}。"
            elif not has_home[j]:
                why[j] = "未能确定居住地，无法统筹，请人工审核。"
            elif not placed[j]:
                why[j] = (f"全区{_LEVEL_ZH[lv]}学位已满{'或超出统筹距离' if limit else ''}，暂未安排，"
                          "请区县教育部门增加计划班数后统筹。")
            elif got3[j] >= 0:
                why[j] = (f"公办学校学位已满，以政府购买民办学校学位方式安排到{names[j]}（直线约"
                          f"{km[j]}公里，seeds 000 三(三)1）。")
            elif zt[j] in ("zone", "policy"):
                why[j] = (f"对口学校{znames[j] or '（无）'}学位已满，统筹安排到距居住地最近且有空余学位的"
                          f"{names[j]}（直线约{km[j]}公里）。")
            else:
                why[j] = f"统筹安排到距居住地最近且有空余学位的{names[j]}（直线约{km[j]}公里）。"
        extra[rows] = why
        tc = np.flatnonzero(~in_zone & placed)
        if tc.size:
            home_zone = d["residence_zone"].to_numpy(dtype=object)[rows[tc]]
            home_zone = np.where(pd.isna(home_zone), zid[tc], home_zone)
            tc_parts.append(pd.DataFrame({
                "applicant_id": d.index[rows[tc]], "id_masked": sub["id_masked"].to_numpy()[tc],
                "name": sub["name"].to_numpy()[tc], "level": lv, "tier": tier[rows[tc]],
                "rule": rule[rows[tc]], "home_zone": home_zone, "zone_schools": znames[tc],
                "school_id": fs[tc], "school_name": names[tc],
                "ownership": schools["ownership"].reindex(fs[tc]).astype(str).to_numpy(),
                "route": r_route[tc], "distance_m": np.round(fd[tc], 1), "reason_zh": why[tc]}))
    outcome[pd.isna(outcome)] = "unplaced"
    full = np.array([f"{r} {e}" if e else r for r, e in zip(reason, extra, strict=True)],
                    dtype=object)
    full[confirmed] = extra[confirmed]
    rule[confirmed] = "private_application"
    cite[confirmed] = RULES["private_application"][0]
    out = pd.DataFrame({
        "id_masked": d["id_masked"].to_numpy(), "name": d["name"].to_numpy(), "level": level,
        "outcome": outcome, "route": route, "school_id": school,
        "school_name": [sname.get(s) if s is not None else None for s in school],
        "zone_id": zone, "rule": rule, "citation": cite, "reason_zh": full,
        "distance_m": dist_m, "lottery_order": prank, "lottery_hash":
        priv["hash"].reindex(d.index).to_numpy(dtype=object)}, index=d.index)
    cols = ["applicant_id", "id_masked", "name", "level", "tier", "rule", "home_zone",
            "zone_schools", "school_id", "school_name", "ownership", "route", "distance_m",
            "reason_zh"]
    tongchou = (pd.concat(tc_parts, ignore_index=True) if tc_parts
                else pd.DataFrame(columns=cols))
    return out, tongchou[cols]


# =============================================================================== notices
def issue_notices(admissions: pd.DataFrame, *, year: int, at=None, rng=None,
                  district: str = "本区") -> pd.DataFrame:
    """An electronic admission notice and a unique 报到码 for each admitted child.

    Seeds 000 四(五): 发放电子入学通知书，生成入学“报到码”. Codes come from :func:`new_code`
    (unguessable, with a check character) and are unique within the season.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``applicant_id``, ``id_masked``, ``name``, ``level``, ``school_id``,
        ``school_name``, ``route``, ``issued_at``, ``text_zh``.
    """
    adm = admissions[(admissions["outcome"] == "admitted") & admissions["school_id"].notna()]
    issued = lot._stamp(at)
    codes = list(dict.fromkeys(_new_codes(len(adm), rng)))
    while len(codes) < len(adm):  # a repeat among 31^12 codes: draw again until unique
        codes = list(dict.fromkeys(codes + _new_codes(len(adm) - len(codes), rng)))
    text = [
        f"{name}同学（身份证号 {m}）：经审核，你已被{school}录取（{ROUTE_ZH.get(route, route)}），"
        f"入读{year}年秋季{_LEVEL_ZH.get(lv, '')}{'一' if lv == 'primary' else '七'}年级。"
        f"报到码：{c}。请按学校通知办理入学手续，报到时出示本通知书或报到码。{district}教育行政部门"
        for name, m, school, route, lv, c in zip(adm["name"], adm["id_masked"], adm["school_name"],
                                                  adm["route"], adm["level"], codes, strict=True)]
    return pd.DataFrame({"code": codes, "applicant_id": adm.index.to_numpy(),
                         "id_masked": adm["id_masked"].to_numpy(), "name": adm["name"].to_numpy(),
                         "level": adm["level"].to_numpy(), "school_id": adm["school_id"].to_numpy(),
                         "school_name": adm["school_name"].to_numpy(),
                         "route": adm["route"].to_numpy(), "issued_at": issued, "text_zh": text})


# =============================================================================== season
@dataclass(frozen=True)
class SeasonResult:
    """A whole season's results (no full ID numbers anywhere).

    Attributes
    ----------
    year : int
    decisions : pandas.DataFrame
        :func:`eligibility`.
    lottery : pandas.DataFrame
        Per private applicant: school, method, rank, hash, offer round, confirmation, status.
    lotteries : pandas.DataFrame
        Per private school and level: seats, applicants, method, admitted, confirmed, forfeited,
        refilled, seed, commitment hashes.
    draws : dict of str to zoning.lottery.Draw
    admissions : pandas.DataFrame
        :func:`public_admission` (final outcome of every applicant).
    tongchou : pandas.DataFrame
        The 统筹 list.
    notices : pandas.DataFrame
        :func:`issue_notices`.
    audit : list of dict
        The audit entries of the run (written to the store's log by :func:`save_season`).
    timings : dict of str to float
        Seconds per step.
    """

    year: int
    decisions: pd.DataFrame
    lottery: pd.DataFrame
    lotteries: pd.DataFrame
    draws: dict
    admissions: pd.DataFrame
    tongchou: pd.DataFrame
    notices: pd.DataFrame
    audit: list
    timings: dict

    def summary(self) -> dict:
        """Counts for the CLI, the dashboard and the audit log."""
        a = self.admissions
        return {
            "year": self.year, "applicants": len(self.decisions),
            "rules": {k: int(v) for k, v in self.decisions["rule"].value_counts().items()},
            "outcomes": {k: int(v) for k, v in a["outcome"].value_counts().items()},
            "routes": {k: int(v) for k, v in a["route"].value_counts().items()},
            "private_schools": len(self.lotteries),
            "lotteries": int((self.lotteries["method"] == "lottery").sum())
            if len(self.lotteries) else 0,
            "forfeited": int(self.lotteries["forfeited"].sum()) if len(self.lotteries) else 0,
            "tongchou": len(self.tongchou), "notices": len(self.notices),
        }

    def results_table(self) -> pd.DataFrame:
        """Rows for the store's ``enrol_results`` table."""
        a = self.admissions
        return pd.DataFrame({
            "applicant_id": a.index.to_numpy(), "year": self.year, "level": a["level"].to_numpy(),
            "outcome": a["outcome"].to_numpy(), "route": a["route"].to_numpy(),
            "school_id": a["school_id"].to_numpy(), "zone_id": a["zone_id"].to_numpy(),
            "rule": a["rule"].to_numpy(), "citation": a["citation"].to_numpy(),
            "reason_zh": a["reason_zh"].to_numpy(),
            "lottery_order": pd.to_numeric(a["lottery_order"], errors="coerce").astype("Int64"),
            "lottery_hash": a["lottery_hash"].to_numpy(),
            "distance_m": a["distance_m"].astype(float).round(1).to_numpy(),
            "decided_at": self.notices["issued_at"].iloc[0] if len(self.notices)
            else lot._stamp(None)})


def run_season(source, applicants: pd.DataFrame | None = None, *, year: int,
               settings: EnrolSettings | None = None, lottery_seed: str | Mapping | None = None,
               draws: Mapping | None = None, confirmations=None, at=None,
               override: Override | None = None, actor: str = "system", save: bool = True,
               rng=None, resolver=None, timeline: Timeline | None = None,
               order_seed: str | None = None) -> SeasonResult:
    """Run a season from eligibility to notices.

    Parameters
    ----------
    source : GeoPackageStore, Dataset or path
        The district. With a store, applicants default to the store's for ``year`` and the
        results and audit entries are saved to it (``save=True``) in one transaction.
    applicants : pandas.DataFrame, optional
        The applications (default: the store's).
    year : int
    settings : EnrolSettings, optional
    lottery_seed : str or mapping, optional
        The seed announced at the draw (one for all schools, or per ``SCHOOL-YEAR-LEVEL``), to
        draw oversubscribed private schools in this run (committing first).
    draws : mapping, optional
        Published draws (``zoning.lottery.read_draw``) by ``SCHOOL-YEAR-LEVEL``; each must be for
        exactly this season's applicant list and parameters.
    confirmations : mapping or pandas.Series, optional
        ``applicant_id → time`` private admissions were confirmed (None: all confirmed in time).
    at : datetime, optional
        When the run happens: review and notices are checked against their windows. None replays
        the season: each step at a fixed time inside its window.
    override : Override, optional
        An officer's permission for a step outside its window (recorded).
    actor : str
        Who runs the season (audit).
    save : bool
        Save to the store when ``source`` is one.
    rng : random.Random, optional
        For repeatable 报到码 in tests (default :mod:`secrets`).
    resolver : zoning.lookup.Resolver, optional
    timeline : Timeline, optional
    order_seed : str, optional
        Seed of the random order that breaks ties in admission (default: the lottery seed when
        it is one string, else ``"YEAR"``).

    Returns
    -------
    SeasonResult

    Raises
    ------
    ValidationError
        A step outside its window without an override, an oversubscribed private school without
        a draw, a draw for another applicant list, re-running a season that already has
        check-ins.
    """
    settings = settings or EnrolSettings()
    timeline = timeline or Timeline.for_year(year)
    store = None
    if isinstance(source, str | os.PathLike):
        source = open_store(source)
    # a store of any back end, or a zoning.auth guard over one (the CLI and dashboard's)
    if not isinstance(source, Dataset) and hasattr(source, "query"):
        store = source
        dataset = store.load()
        if applicants is None:
            applicants = store.query("applicants", {"year": year})
    else:
        dataset = source
    if applicants is None:
        raise ValidationError("run_season: no applicants: pass applicants= or a store holding them")
    if store is not None and save:
        _refuse_rerun(store, year)
    timings = {}
    audit: list[dict] = []
    review_at = timeline.window("review").replay_at if at is None else _ts(at)
    notice_at = timeline.window("notices").replay_at if at is None else _ts(at)
    for action, t in (("review", review_at), ("notices", notice_at)):
        ov = timeline.check(action, t, override=override, target=f"season {year}")
        if ov:
            audit.append(ov)
    t0 = time.perf_counter()
    decisions = eligibility(dataset, applicants, year=year, settings=settings,
                            timeline=timeline, resolver=resolver)
    timings["eligibility"] = time.perf_counter() - t0
    audit.append({"actor": actor, "action": "enrol_eligibility", "target": f"season {year}",
                  "detail": {"applicants": len(decisions),
                             "rules": {k: int(v) for k, v in decisions["rule"].value_counts()
                                       .items()},
                             "sha256": _digest(decisions.drop(columns=["name"])),
                             "mode": "replay" if at is None else "live"}})
    t0 = time.perf_counter()
    private, lotteries, done = _private_stage(
        dataset, decisions, year=year, settings=settings, timeline=timeline, seed=lottery_seed,
        draws=draws, confirmations=confirmations, at=at, override=override, audit=audit,
        actor=actor)
    timings["private"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if order_seed is None:
        order_seed = lottery_seed if isinstance(lottery_seed, str) else str(year)
    admissions, tongchou = public_admission(dataset, decisions, year=year, settings=settings,
                                            private=private, order_seed=order_seed)
    timings["public"] = time.perf_counter() - t0
    audit.append({"actor": actor, "action": "public_admission", "target": f"season {year}",
                  "detail": {"outcomes": {k: int(v) for k, v in admissions["outcome"]
                                          .value_counts().items()},
                             "routes": {k: int(v) for k, v in admissions["route"].value_counts()
                                        .items()},
                             "order_seed": order_seed,
                             "sha256": _digest(admissions.drop(columns=["name"]))}})
    audit.append({"actor": actor, "action": "tongchou", "target": f"season {year}",
                  "detail": {"placed": len(tongchou), "sha256": _digest(tongchou.drop(
                      columns=["name"])), "citation": "seeds 000 三(三)1"}})
    t0 = time.perf_counter()
    district = (str(dataset.district["name"].iloc[0]) if dataset.district is not None
                and "name" in dataset.district and len(dataset.district) else "本区")
    notices = issue_notices(admissions, year=year, at=notice_at, rng=rng, district=district)
    timings["notices"] = time.perf_counter() - t0
    audit.append({"actor": actor, "action": "notices", "target": f"season {year}",
                  "detail": {"notices": len(notices), "issued_at": notice_at.isoformat(),
                             "sha256": _digest(notices.drop(columns=["name", "text_zh"])),
                             "citation": "seeds 000 四(五)"}})
    lottery = private.copy()
    result = SeasonResult(year, decisions, lottery, lotteries, done, admissions, tongchou,
                          notices, audit, timings)
    if store is not None and save:
        t0 = time.perf_counter()
        save_season(store, result)
        timings["save"] = time.perf_counter() - t0
    return result


def save_season(store: GeoPackageStore, result: SeasonResult) -> None:
    """Write a season's results, notices and audit entries to the store in one transaction.

    The season's earlier rows are replaced.

    Raises
    ------
    ValidationError
        If a notice of that season was already used to check in (re-running would reissue the
        codes): the store is left as it was.
    """
    _refuse_rerun(store, result.year)
    notices = result.notices.assign(year=result.year)[
        ["code", "applicant_id", "year", "level", "school_id", "route", "issued_at", "text_zh"]]
    store.write_rows({"enrol_results": result.results_table(), "notices": notices},
                     replace={"enrol_results": {"year": result.year},
                              "notices": {"year": result.year}},
                     audit=result.audit)


def _refuse_rerun(store: GeoPackageStore, year: int) -> None:
    done = store.query("notices", {"year": year})
    used = done[done["checked_in_at"].notna()] if len(done) else done
    if len(used):
        raise ValidationError(
            f"season {year}: {len(used)} pupil(s) already checked in with their 报到码 "
            f"(e.g. {used['applicant_id'].iloc[0]}); re-running the season would reissue every "
            "code. Correct single cases by hand, or clear the check-ins first")


def checkin(store: GeoPackageStore, code: str, *, by: str, at=None) -> dict:
    """Check a pupil in with the 报到码 from the notice (scanned or typed).

    Parameters
    ----------
    store : GeoPackageStore
    code : str
        As typed: dashes, spaces and lower case are forgiven; a typo is caught by the check
        character before anything is looked up.
    by : str
        Who checks in (the school's staff), for the audit log.
    at : datetime, optional
        When (default now).

    Returns
    -------
    dict
        ``code``, ``applicant_id``, ``school_id``, ``level``, ``route``, ``checked_in_at``,
        ``checked_in_by`` and ``already`` (True when the code had been used before: nothing
        changed).

    Raises
    ------
    ValidationError
        A malformed code (``problems[0]["message_zh"]`` in Chinese), or no notice with it.
    """
    shown = check_code(code)
    rows = store.query("notices", {"code": shown})
    if rows.empty:
        raise ValidationError(f"报到码 {shown}: no admission notice has this code; check the "
                              "notice, or ask the district office",
                              problems=[{"kind": "code_unknown",
                                         "message_zh": "未找到该报到码对应的入学通知书，请核对或联系"
                                                       "区县教育部门。"}])
    r = rows.iloc[0]
    stamp = lot._stamp(at)
    changed = store.update_rows(
        "notices", {"code": shown}, {"checked_in_at": stamp, "checked_in_by": str(by)},
        only_if_null="checked_in_at",
        audit=[{"actor": str(by), "action": "checkin", "target": r["applicant_id"],
                "detail": {"school_id": r["school_id"], "year": int(r["year"]),
                           "code_tail": shown[-4:]}}])
    if not changed:
        r = store.query("notices", {"code": shown}).iloc[0]
    return {"code": shown, "applicant_id": r["applicant_id"], "school_id": r["school_id"],
            "level": r["level"], "route": r["route"],
            "checked_in_at": stamp if changed else r["checked_in_at"],
            "checked_in_by": str(by) if changed else r["checked_in_by"],
            "already": not changed}


# =============================================================================== demo data
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董"
                 "袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹"
                 "熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万覃武钱严")
_GIVEN = list("子梓涵浩宇轩欣怡雨晨思博文俊杰佳琪一诺睿泽铭瑶嘉依若沐辰奕阳语桐可馨"
              "昊然悦熙晗雅芯安瑞景航皓泓锦程心妍诗书宁墨星明彤紫萱美琳家豪")
_OTHER_COUNTIES = ["510304", "511602", "511621", "511303", "510722", "511025", "513701", "522121",
                   "430523", "420528", "511923", "510812"]
_OTHER_PLACES = ["四川省广安市岳池县九龙镇", "四川省南充市仪陇县新政镇", "四川省达州市渠县渠江镇",
                 "贵州省遵义市播州区南白街道", "湖南省邵阳市邵阳县塘渡口镇", "四川省遂宁市射洪市太和镇",
                 "湖北省恩施州建始县业州镇", "四川省巴中市通江县诺江镇"]


#: Private applications per seat, school by school (cycling): some above the plan, some below.
_PRIVATE_DEMAND = (2.2, 1.6, 0.8, 1.3, 0.6, 1.0)


def _id_numbers(rng, county, born) -> np.ndarray:
    seq = rng.integers(0, 1000, len(born))
    first = [f"{c}{b:%Y%m%d}{s:03d}" for c, b, s in zip(county, born, seq, strict=True)]
    arr = np.frombuffer("".join(first).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    check = np.array(list(_ID_CHECK))[(arr.astype(np.int64) @ _ID_WEIGHTS) % 11]
    return np.array([f + c for f, c in zip(first, check, strict=True)], dtype=object)


def demo_applicants(dataset: Dataset, *, year: int = 2027, n: int | None = None, seed: int = 0,
                    private_demand: float = 1.0) -> pd.DataFrame:
    """A realistic season of applicants for the demo district, the same for the same seed.

    The mix: local 三对口 families (hukou, property and home in one zone), grandparents' hukou
    since birth (and a few not since birth), families whose property or hukou is elsewhere,
    rural children registered in villages, 随迁子女 with a 居住证 (some younger than half a
    year), private applicants above some schools' plans (one school below its plan), twins
    (siblings), a few children too young (some born on 31 August and on 1 September), mild,
    moderate and severe disabilities (some 送教上门), special groups with their recorded reason,
    and a few late families registered offline by an officer. About one in six homes is given as
    address text only.

    Parameters
    ----------
    dataset : Dataset
        The demo district (:func:`zoning.demo.build_demo`).
    year : int
        Intake year.
    n : int, optional
        Applicants (before twins are added); default about 97 % of the district's starting-grade
        seats, primary and junior in proportion to their seats.
    seed : int
    private_demand : float
        Scales the private applications: each private school gets its plan times a fixed factor
        (2.2, 1.6, 0.8, 1.3, 0.6, 1.0, cycling) times this.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`APPLICANT_COLUMNS`, ready for :func:`import_applicants` or
        :func:`run_season`.
    """
    rng = np.random.default_rng(seed)
    settings = EnrolSettings()
    seats = {lv: _seats(dataset, lv, settings) for lv in LEVELS}
    total = {lv: int(s.sum()) for lv, s in seats.items()}
    if n is None:
        n = int(round(0.97 * sum(total.values())))
    n = int(n)
    n_primary = int(round(n * total["primary"] / max(sum(total.values()), 1)))
    level = np.array(["primary"] * n_primary + ["junior"] * (n - n_primary), dtype=object)
    level = level[rng.permutation(n)]
    primary = level == "primary"

    addr = dataset.addresses
    dwell = ((addr["building"] > 0) | (addr["village_no"] > 0)).to_numpy() \
        if {"building", "village_no"} <= set(addr.columns) else np.ones(len(addr), bool)
    homes = addr[dwell]
    village = (homes["village_no"] > 0).to_numpy() if "village_no" in homes else \
        np.zeros(len(homes), bool)
    h = rng.integers(0, len(homes), n)
    code = homes["unit_code"].to_numpy(dtype=object)[h]
    text = homes["address"].to_numpy(dtype=object)[h]
    rural = village[h]

    # birthdays: primary born 1 Sep (year-7) .. 31 Aug (year-6), junior six years earlier
    start = np.where(primary, np.datetime64(f"{year - 7}-09-01"), np.datetime64(f"{year - 13}-09-01"))
    born = start + rng.integers(0, 365, n).astype("timedelta64[D]")
    young = primary & (rng.random(n) < 0.01)
    born[young] = np.datetime64(f"{year - 6}-09-01") + rng.integers(0, 120, young.sum()).astype(
        "timedelta64[D]")
    edge = np.flatnonzero(primary)[:6]
    born[edge[:3]] = np.datetime64(f"{year - 6}-08-31")
    born[edge[3:]] = np.datetime64(f"{year - 6}-09-01")
    born_ts = pd.to_datetime(born)

    r = rng.random(n)
    kind = np.select([r < 0.15, r < 0.20, r < 0.29], ["migrant", "grandparent", "elsewhere"],
                     default="local").astype(object)
    kind[rural & (kind != "migrant")] = "rural"
    migrant = kind == "migrant"
    county = np.where(migrant, np.array(_OTHER_COUNTIES, dtype=object)[
        rng.integers(0, len(_OTHER_COUNTIES), n)], "500112")
    ids = _id_numbers(rng, county, born_ts)
    while len(set(ids)) < n:  # a rare clash of random sequence numbers: draw those again
        dup = pd.Series(ids).duplicated().to_numpy()
        ids[dup] = _id_numbers(rng, county[dup], born_ts[dup])
    names = np.array([_SURNAMES[i] + _GIVEN[j] + (_GIVEN[k] if t else "") for i, j, k, t in zip(
        rng.integers(0, len(_SURNAMES), n), rng.integers(0, len(_GIVEN), n),
        rng.integers(0, len(_GIVEN), n), rng.random(n) < 0.7, strict=True)], dtype=object)

    hukou_code = code.copy()
    prop_code = code.copy()
    holder = np.full(n, "parent", dtype=object)
    owner = np.full(n, "parent", dtype=object)
    since = np.zeros(n, np.int64)
    hukou_text = text.copy()
    m = kind == "grandparent"
    holder[m] = "grandparent"
    since[m] = (rng.random(m.sum()) < 0.9).astype(np.int64)
    owner[m] = np.where(rng.random(m.sum()) < 0.7, "none", "grandparent")
    prop_code[m & (owner == "none")] = None
    m = kind == "elsewhere"
    other = rng.integers(0, len(homes), n)
    moved = m & (rng.random(n) < 0.6)
    prop_code[moved] = homes["unit_code"].to_numpy(dtype=object)[other[moved]]  # property elsewhere
    hukou_code[moved] = prop_code[moved]
    hukou_text[moved] = homes["address"].to_numpy(dtype=object)[other[moved]]
    renting = m & ~moved
    owner[renting] = "none"
    prop_code[renting] = None
    hukou_code[renting] = homes["unit_code"].to_numpy(dtype=object)[other[renting]]
    hukou_text[renting] = homes["address"].to_numpy(dtype=object)[other[renting]]
    hukou_code[migrant] = None
    prop_code[migrant] = None
    owner[migrant] = "none"
    hukou_text[migrant] = [f"{_OTHER_PLACES[i]}{j}组{k}号" for i, j, k in zip(
        rng.integers(0, len(_OTHER_PLACES), migrant.sum()), rng.integers(1, 9, migrant.sum()),
        rng.integers(1, 80, migrant.sum()), strict=True)]
    res_code = code.copy()
    text_only = ~migrant & (rng.random(n) < 0.16)
    res_code[text_only] = None
    hukou_code[text_only & (hukou_code != None)] = None  # noqa: E711 - elementwise on objects

    permit = np.full(n, None, dtype=object)
    months = np.where(rng.random(n) < 0.12, rng.integers(1, 6, n), rng.integers(7, 84, n))
    ref = pd.Timestamp(year=year, month=6, day=29)
    permit[migrant] = [(ref - pd.DateOffset(months=int(mo))
                        - pd.Timedelta(days=int(dd))).strftime("%Y-%m-%d")
                       for mo, dd in zip(months[migrant], rng.integers(0, 25, migrant.sum()),
                                         strict=True)]
    hukou_date = np.where(rng.random(n) < 0.6, born_ts.strftime("%Y-%m-%d"),
                          (born_ts - pd.to_timedelta(rng.integers(30, 3650, n), "D"))
                          .strftime("%Y-%m-%d")).astype(object)
    hukou_date[migrant] = None

    # private applications: popular schools well above their plans, others at or below them
    app_type = np.full(n, "public", dtype=object)
    school = np.full(n, None, dtype=object)
    sch = dataset.schools
    scale = private_demand * n / max(0.97 * sum(total.values()), 1.0)
    k = 0
    for lv in LEVELS:
        priv = [s for s in sch.index[(sch["ownership"] == "private").to_numpy()]
                if lv in school_level_serves(sch.at[s, "level"]) and seats[lv].get(s, 0) > 0]
        free = rng.permutation(np.flatnonzero((level == lv) & (app_type == "public")))
        for s in priv:
            want = int(round(_PRIVATE_DEMAND[k % len(_PRIVATE_DEMAND)] * scale * seats[lv][s]))
            k += 1
            take, free = free[:want], free[want:]
            app_type[take] = "private"
            school[take] = s

    dis = np.select([r2 < 0.015 for r2 in [rng.random(n)]], ["mild"], default="none").astype(object)
    r3 = rng.random(n)
    dis[r3 < 0.005] = "moderate"
    dis[r3 < 0.0018] = "severe"
    home_teaching = ((dis == "severe") & (rng.random(n) < 0.4)).astype(np.int64)
    special = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    sp = np.flatnonzero((rng.random(n) < 0.006) & (app_type == "public") & ~migrant)
    groups = list(SPECIAL_GROUPS)
    for i in sp:
        g = groups[rng.integers(len(groups))]
        special[i] = g
        reason[i] = f"{SPECIAL_GROUPS[g]}子女，证明材料编号 {year}-{rng.integers(1000, 9999)}"

    applied = np.where(app_type == "private",
                       np.datetime64(f"{year}-06-17") + rng.integers(0, 3, n).astype("timedelta64[D]"),
                       np.datetime64(f"{year}-06-03") + rng.integers(0, 27, n).astype("timedelta64[D]"))
    late = np.flatnonzero((app_type == "public") & (rng.random(n) < 0.002))
    applied[late] = np.datetime64(f"{year}-07-02")
    override_by = np.full(n, None, dtype=object)
    override_reason = np.full(n, None, dtype=object)
    override_by[late] = "王老师"
    override_reason[late] = "家长外出务工错过网上报名，线下补登记（seeds 000 四）"

    frame = pd.DataFrame({
        "year": year, "level": level, "id_number": ids, "name": names,
        "birth_date": born_ts.strftime("%Y-%m-%d"), "application_type": app_type,
        "school_id": school, "category": np.where(migrant, "migrant", "local"),
        "status": "registered", "hukou_address": hukou_text, "hukou_unit_code": hukou_code,
        "hukou_holder": holder, "hukou_since_birth": since, "hukou_date": hukou_date,
        "property_owner": owner, "property_unit_code": prop_code, "residence_address": text,
        "residence_unit_code": res_code, "residence_permit_start": permit,
        "rural": (rural & ~migrant).astype(np.int64), "disability": dis,
        "home_teaching": home_teaching, "special_group": special, "special_reason": reason,
        "sibling_group": None, "applied_on": pd.to_datetime(applied).strftime("%Y-%m-%d"),
        "override_by": override_by, "override_reason": override_reason,
    })
    # twins: a second child of the same family, same home and the same application
    tw = np.flatnonzero((rng.random(n) < 0.012) & ~young)
    twins = frame.iloc[tw].copy()
    twins["name"] = [nm[0] + _GIVEN[k] + _GIVEN[j] for nm, k, j in zip(
        twins["name"], rng.integers(0, len(_GIVEN), tw.size), rng.integers(0, len(_GIVEN), tw.size),
        strict=True)]
    twins["id_number"] = _id_numbers(rng, county[tw], born_ts[tw])
    used = set(frame["id_number"])
    clash = twins["id_number"].isin(used).to_numpy() | twins["id_number"].duplicated().to_numpy()
    twins = twins[~clash]
    fam = [f"F{year}{i + 1:05d}" for i in range(len(twins))]
    frame.loc[twins.index, "sibling_group"] = fam
    twins["sibling_group"] = fam
    frame = pd.concat([frame, twins], ignore_index=True)
    frame = frame.sort_values(["applied_on", "id_number"], kind="stable", ignore_index=True)
    frame.insert(0, "applicant_id", [f"BM{year}{i + 1:06d}" for i in range(len(frame))])
    frame["created_at"] = frame["applied_on"]
    return frame[list(APPLICANT_COLUMNS)]


def demo_confirmations(applicants: pd.DataFrame, *, year: int = 2027, seed: int = 0) -> pd.Series:
    """When each private applicant confirmed their place, for the demo (NaT: never).

    Most confirm on June 20 before 18:00; about 5 % confirm too late and 8 % never do, so seats
    are forfeited and offered on (seeds 000 四(二)).
    """
    rng = np.random.default_rng(seed)
    p = applicants[applicants["application_type"] == "private"]
    k = len(p)
    base = pd.Timestamp(year=year, month=6, day=20, hour=9, tz=CST)
    minutes = rng.integers(0, 8 * 60 + 59, k)  # 09:00 .. 17:59
    times = base + pd.to_timedelta(minutes, "min")
    r = rng.random(k)
    late = r < 0.05
    times = times.where(~late, base + pd.Timedelta(hours=9, minutes=30)
                        + pd.to_timedelta(rng.integers(0, 180, k), "min"))
    out = pd.Series(times, index=p["applicant_id"].to_numpy(), name="confirmed_at")
    out[(r >= 0.05) & (r < 0.13)] = pd.NaT
    return out
