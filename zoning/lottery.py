"""A private-school lottery (电脑随机摇号) that anyone can check.

Seeds 000 三(二): 民办义务教育学校报名人数小于或等于招生计划的，采取登记注册方式直接录取；报名人数超过
招生计划的，由区县教育部门统一组织电脑随机摇号，全程接受监督. The draw here is built so that the
supervision does not need to trust the computer:

1. **Commit** (before the draw). The list of applicants (their 报名号, sibling group and own-area
   flag; no names or ID numbers) is written in a canonical form, sorted by 报名号, and published
   together with the draw parameters (school, level, year, seats, options). The commitment is the
   SHA-256 of each: after publication neither can change unseen.
2. **Seed** (at the draw). A value nobody knew at the commitment, announced in public at the draw,
   e.g. digits read out from a physical draw or the numbers of a public lottery. It is normalised
   (NFKC, outer spaces removed, inner runs of spaces made one).
3. **Order.** Each applicant's key is ``HMAC-SHA256(key=seed, message=applicant_id)`` in hex; the
   order is the ascending order of the keys. With *siblings drawn together* a family is one unit
   whose key is ``HMAC-SHA256(seed, "sibling:" + group)``: one ticket per family, and the family is
   admitted together or not at all. With an *own-area quota* the first ``quota`` seats go, in
   order, to applicants from the school's own area, and the rest of the seats to everyone left, in
   the same order. A unit that no longer fits the seats left is passed over (the next one that fits
   is admitted), so the plan is never exceeded (seeds 000 三(二): 不得超计划招生).
4. **Verify.** :func:`verify_files` (``zoning lottery verify``) re-reads the published files,
   re-checks both hashes and re-runs the draw from the announced seed: *match* or *mismatch*.
   Each applicant's receipt (rank and key) can be checked by hand with any HMAC tool.

After the draw, admitted pupils confirm by 18:00 on June 20 (seeds 000 四(二)); an unconfirmed seat
is forfeited and offered to the next applicants in the draw order (:func:`settle`). Everyone not
admitted returns to the public process (seeds 000 三(二), 四(二)).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zoning.errors import ValidationError
from zoning.io import atomic_path

__all__ = [
    "ALGORITHM",
    "CST",
    "FORMAT",
    "Commitment",
    "Draw",
    "LotteryParams",
    "Verification",
    "applicant_list",
    "applicants_text",
    "commit",
    "draw",
    "normalize_seed",
    "rank_keys",
    "read_commit",
    "read_draw",
    "settle",
    "verify_files",
    "write_commit",
    "write_draw",
]

#: Name and version of the ranking rule, part of the committed parameters.
ALGORITHM = "HMAC-SHA256(seed, applicant_id), ascending; zoning-lottery-1"
#: Format tag of the published files.
FORMAT = "zoning-lottery/1"
#: China Standard Time (no daylight saving): every time in the season is on this clock.
CST = _dt.timezone(_dt.timedelta(hours=8), "CST")

_LIST_HEADER = "applicant_id,sibling_group,own_area"
_ID_RE = re.compile(r"^[0-9A-Za-z_.\-]+$")
_LEVELS = ("primary", "junior")


def _sha256(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _stamp(at) -> str:
    """ISO time on the CST clock (naive times are taken as CST)."""
    t = pd.Timestamp(at if at is not None else _dt.datetime.now(CST))
    t = t.tz_localize(CST) if t.tzinfo is None else t.tz_convert(CST)
    return t.isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class LotteryParams:
    """What is drawn: one school's intake of one level in one year.

    Attributes
    ----------
    school_id : str
    level : {"primary", "junior"}
    year : int
    seats : int
        The approved plan (starting-grade classes × cap); never exceeded.
    siblings_together : bool
        Multi-child families are one unit (seeds 000 五(一): 为多子女家庭提供入学便利).
    own_area_quota : int
        Seats first offered to applicants from the school's own area, where the district sets a
        quota (0: none). At most ``seats``.
    algorithm : str
        The ranking rule (:data:`ALGORITHM`); committed with the rest.

    Raises
    ------
    ValidationError
        Negative seats, a quota above the seats, an unknown level, an empty school id.
    """

    school_id: str
    level: str
    year: int
    seats: int
    siblings_together: bool = False
    own_area_quota: int = 0
    algorithm: str = ALGORITHM

    def __post_init__(self):
        problems = []
        if not str(self.school_id).strip():
            problems.append("school_id is empty")
        elif len(str(self.school_id)) > 64 or re.search(r"[/\\\x00-\x1f]", str(self.school_id)):
            # the id names the published files (KEY.commit.json)
            problems.append(f"school_id={str(self.school_id)[:70]!r} cannot name a file: use the "
                            "school's id, at most 64 characters, without '/', '\\' or control "
                            "characters")
        if self.level not in _LEVELS:
            problems.append(f"level={self.level!r}: use 'primary' or 'junior'")
        for name in ("year", "seats", "own_area_quota"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                problems.append(f"{name}={v!r} must be a whole number ≥ 0")
            elif name == "year" and v > 9999:
                problems.append(f"year={v!r} is not a year")
        if not isinstance(self.siblings_together, bool | np.bool_):
            problems.append(f"siblings_together={self.siblings_together!r} must be true or false")
        if not problems and self.own_area_quota > self.seats:
            problems.append(f"own_area_quota={self.own_area_quota} exceeds seats={self.seats}; "
                            "a quota is part of the plan, not on top of it")
        if self.algorithm != ALGORITHM:
            problems.append(f"algorithm {self.algorithm!r} is not supported (this version draws "
                            f"with {ALGORITHM!r})")
        if problems:
            raise ValidationError(f"lottery {self.school_id}-{self.year}-{self.level}: "
                                  + "; ".join(problems), problems=problems)

    @property
    def key(self) -> str:
        """File stem and identifier: ``SCHOOL-YEAR-LEVEL``."""
        return f"{self.school_id}-{self.year}-{self.level}"

    def to_dict(self) -> dict:
        """Plain values (ints, bools, strs) for JSON."""
        d = asdict(self)
        for k in ("year", "seats", "own_area_quota"):
            d[k] = int(d[k])
        d["siblings_together"] = bool(d["siblings_together"])
        d["school_id"] = str(d["school_id"])
        return d

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of the parameters (the parameter commitment)."""
        return _sha256(_canonical_json(self.to_dict()))


def applicant_list(applicants: pd.DataFrame) -> pd.DataFrame:
    """The applicant list in its canonical form: what is committed and drawn.

    Parameters
    ----------
    applicants : pandas.DataFrame
        ``applicant_id`` (column or index), optionally ``sibling_group`` and ``own_area``.

    Returns
    -------
    pandas.DataFrame
        Columns ``applicant_id`` (str), ``sibling_group`` (str, "" for none), ``own_area`` (0/1),
        sorted by ``applicant_id``, with a fresh index.

    Raises
    ------
    ValidationError
        Missing, repeated or oddly written 报名号 (only letters, digits, ``_.-``: the list is
        published as CSV and the id is hashed as written).
    """
    frame = applicants
    if "applicant_id" not in frame.columns:
        if frame.index.name == "applicant_id":
            frame = frame.reset_index()
        else:
            raise ValidationError("lottery applicants: no applicant_id column (报名号); the list "
                                  f"has {', '.join(map(str, frame.columns))}")
    ids = frame["applicant_id"].astype(str).str.strip()
    bad = ids[~ids.map(lambda s: bool(_ID_RE.match(s)))]
    if len(bad):
        raise ValidationError(f"lottery applicants: 报名号 {', '.join(map(repr, bad[:5]))} "
                              "contain characters other than letters, digits, '_', '.', '-'; "
                              "use the ids the registration system issued")
    dup = sorted(set(ids[ids.duplicated()]))
    if dup:
        raise ValidationError(f"lottery applicants: 报名号 {', '.join(dup[:10])} appear more than "
                              "once; each applicant is drawn once")
    group = (frame["sibling_group"] if "sibling_group" in frame else pd.Series("", index=frame.index))
    group = group.astype(object).where(group.notna(), "").astype(str).str.strip()
    group = group.replace({"nan": "", "None": ""})
    if group.str.contains(",").any():
        raise ValidationError("lottery applicants: a sibling_group contains ','; use letters and "
                              "digits")
    own = frame["own_area"] if "own_area" in frame else pd.Series(0, index=frame.index)
    own = pd.Series([_truthy(v) for v in own], index=frame.index, dtype=np.int64)
    out = pd.DataFrame({"applicant_id": ids.to_numpy(), "sibling_group": group.to_numpy(),
                        "own_area": own.to_numpy()})
    return out.sort_values("applicant_id", kind="stable", ignore_index=True)


def _truthy(v) -> bool:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return False
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "是", "t")
    return bool(v)


def applicants_text(applicants: pd.DataFrame) -> str:
    """The canonical CSV text of the applicant list (UTF-8, LF line ends, sorted by id)."""
    lst = applicant_list(applicants)
    lines = [_LIST_HEADER]
    lines += [f"{a},{g},{int(o)}" for a, g, o in zip(lst["applicant_id"], lst["sibling_group"],
                                                      lst["own_area"], strict=True)]
    return "\n".join(lines) + "\n"


def _parse_list_text(text: str, *, source: str) -> pd.DataFrame:
    lines = text.split("\n")
    if not lines or lines[0].lstrip("\ufeff").strip() != _LIST_HEADER:
        raise ValidationError(f"{source}: not a lottery applicant list (first line should be "
                              f"{_LIST_HEADER!r})")
    rows = [ln.split(",") for ln in lines[1:] if ln.strip()]
    if any(len(r) != 3 for r in rows):
        raise ValidationError(f"{source}: every line needs applicant_id,sibling_group,own_area")
    return pd.DataFrame(rows, columns=["applicant_id", "sibling_group", "own_area"])


def normalize_seed(seed: str) -> str:
    """The announced seed as hashed: NFKC, outer spaces removed, inner runs of spaces made one.

    Raises
    ------
    ValidationError
        For an empty seed.

    Examples
    --------
    >>> normalize_seed("  ３８ 12　07  ")
    '38 12 07'
    """
    text = " ".join(unicodedata.normalize("NFKC", str(seed)).split())
    if not text:
        raise ValidationError("seed is empty: announce the seed at the draw (e.g. the digits read "
                              "out in public) and pass it exactly as announced")
    return text


def rank_keys(seed: str, ids) -> list[str]:
    """``HMAC-SHA256(key=seed, message=id)`` in hex for each id (the seed normalised first).

    Examples
    --------
    >>> rank_keys("1234", ["A1"])[0][:16]
    '52500ba9708e28a0'
    """
    key = normalize_seed(seed).encode("utf-8")
    return [hmac.new(key, str(i).encode("utf-8"), hashlib.sha256).hexdigest() for i in ids]


# ------------------------------------------------------------------------------------ commit

def _body(text: str, kind: str) -> dict:
    """A published file's JSON body, checked to be a ``kind`` file of this format."""
    body = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError(f"the JSON is a {type(body).__name__}, not an object")
    if body.get("format") != FORMAT or body.get("kind") != kind:
        raise ValueError(f"format {body.get('format')!r}, kind {body.get('kind')!r}")
    return body


def _time(value) -> str:
    """A published time, checked: ISO text with its UTC offset, as :func:`_stamp` writes it."""
    t = pd.Timestamp(value) if isinstance(value, str) else None
    if t is None or t is pd.NaT or t.tzinfo is None:
        raise ValueError(f"time {value!r} is not an ISO time with its offset (+08:00)")
    return value


def _read_text(path: Path, kind: str) -> str:
    """A published file's text; it is UTF-8 as the commands write it."""
    try:
        return path.read_bytes().decode("utf-8")
    except (UnicodeDecodeError, OSError) as exc:  # OSError: a folder of that name, no access
        raise ValidationError(f"{path}: cannot be read as UTF-8 text ({type(exc).__name__}: "
                              f"{exc}); use the file `zoning lottery {kind}` wrote, unchanged"
                              ) from exc


@contextmanager
def _reading(source: str, kind: str):
    """Turn a malformed published file into a ValidationError that says which command writes it."""
    try:
        yield
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise ValidationError(f"{source}: not a lottery {kind} file of format {FORMAT} ({exc}); "
                              f"use the file `zoning lottery {kind}` wrote") from exc

@dataclass(frozen=True)
class Commitment:
    """The published commitment: hashes of the applicant list and of the parameters.

    Attributes
    ----------
    params : LotteryParams
    applicants_sha256 : str
        SHA-256 of :func:`applicants_text`.
    params_sha256 : str
        SHA-256 of the canonical JSON of ``params``.
    n_applicants : int
    committed_at : str
        ISO time (CST).
    """

    params: LotteryParams
    applicants_sha256: str
    params_sha256: str
    n_applicants: int
    committed_at: str

    def to_json(self) -> str:
        """The commit file's text (what is published before the draw)."""
        body = {"format": FORMAT, "kind": "commit", "key": self.params.key,
                "params": self.params.to_dict(), "params_sha256": self.params_sha256,
                "applicants_file": f"{self.params.key}.applicants.csv",
                "applicants_sha256": self.applicants_sha256,
                "n_applicants": int(self.n_applicants), "committed_at": self.committed_at}
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "commit") -> Commitment:
        """Read a commit file's text.

        Raises
        ------
        ValidationError
            If it is not a commit file of this format.
        """
        with _reading(source, "commit"):
            body = _body(text, "commit")
            return cls(LotteryParams(**body["params"]), body["applicants_sha256"],
                       body["params_sha256"], int(body["n_applicants"]),
                       _time(body["committed_at"]))


def commit(applicants: pd.DataFrame, params: LotteryParams, *, at=None) -> Commitment:
    """Commit to an applicant list and draw parameters before the draw.

    Parameters
    ----------
    applicants : pandas.DataFrame
        See :func:`applicant_list`.
    params : LotteryParams
    at : datetime, optional
        When (default now), on the CST clock.

    Returns
    -------
    Commitment
    """
    text = applicants_text(applicants)
    return Commitment(params, _sha256(text), params.sha256, text.count("\n") - 1, _stamp(at))


# ------------------------------------------------------------------------------------ draw
@dataclass(frozen=True)
class Draw:
    """The result of a draw.

    Attributes
    ----------
    params : LotteryParams
    seed : str
        The announced seed, normalised.
    applicants_sha256, params_sha256 : str
        The commitment the draw was made against.
    drawn_at : str
        ISO time (CST).
    order : pandas.DataFrame
        One row per applicant in draw order: ``rank`` (1-based rank of the applicant's unit),
        ``applicant_id``, ``unit`` (the applicant, or ``sibling:GROUP``), ``hash`` (the unit's
        HMAC key), ``own_area``, ``admitted`` and ``stage`` (``quota``, ``general`` or "").
    commit_sha256 : str
        SHA-256 of the published commit file, when drawn from one ("" otherwise).
    """

    params: LotteryParams
    seed: str
    applicants_sha256: str
    params_sha256: str
    drawn_at: str
    order: pd.DataFrame
    commit_sha256: str = ""

    @property
    def admitted(self) -> list[str]:
        """报名号 admitted by the draw, in order."""
        return self.order.loc[self.order["admitted"], "applicant_id"].tolist()

    @property
    def waitlist(self) -> list[str]:
        """报名号 not admitted, in draw order (the order seats are offered when forfeited)."""
        return self.order.loc[~self.order["admitted"], "applicant_id"].tolist()

    def receipts(self) -> pd.DataFrame:
        """One receipt per applicant, Chinese headers: 报名号, 摇号顺位, 抽签单元, 校验哈希, 摇号结果."""
        o = self.order
        wait = (~o["admitted"]).cumsum()
        result = np.where(o["admitted"], "录取", "未录取（候补第" + wait.astype(str) + "位）")
        return pd.DataFrame({"报名号": o["applicant_id"], "摇号顺位": o["rank"],
                             "抽签单元": o["unit"], "校验哈希": o["hash"], "摇号结果": result})

    def to_json(self) -> str:
        """The draw file's text (published after the draw)."""
        body = {"format": FORMAT, "kind": "draw", "key": self.params.key,
                "params": self.params.to_dict(), "params_sha256": self.params_sha256,
                "applicants_sha256": self.applicants_sha256, "commit_sha256": self.commit_sha256,
                "seed": self.seed, "drawn_at": self.drawn_at,
                "seats": int(self.params.seats), "n_applicants": len(self.order),
                "n_admitted": int(self.order["admitted"].sum()),
                "order": [{"rank": int(r), "applicant_id": a, "unit": u, "hash": h,
                           "own_area": int(o), "admitted": bool(ad), "stage": s}
                          for r, a, u, h, o, ad, s in self.order[
                              ["rank", "applicant_id", "unit", "hash", "own_area", "admitted",
                               "stage"]].itertuples(index=False, name=None)]}
        return json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "draw") -> Draw:
        """Read a draw file's text.

        Raises
        ------
        ValidationError
            If it is not a draw file of this format.
        """
        with _reading(source, "draw"):
            body = _body(text, "draw")
            order = pd.DataFrame(body["order"], columns=["rank", "applicant_id", "unit", "hash",
                                                         "own_area", "admitted", "stage"])
            order["admitted"] = order["admitted"].astype(bool)
            return cls(LotteryParams(**body["params"]), body["seed"], body["applicants_sha256"],
                       body["params_sha256"], _time(body["drawn_at"]), order,
                       body.get("commit_sha256", ""))


def draw(applicants: pd.DataFrame, params: LotteryParams, seed: str, *,
         commitment: Commitment | None = None, at=None, commit_sha256: str = "") -> Draw:
    """Draw the order and admit up to the plan.

    Parameters
    ----------
    applicants : pandas.DataFrame
        See :func:`applicant_list`.
    params : LotteryParams
    seed : str
        Announced at the draw.
    commitment : Commitment, optional
        When given, the applicants and parameters must be exactly those committed to.
    at : datetime, optional
        When (default now).
    commit_sha256 : str
        SHA-256 of the published commit file, recorded in the draw.

    Returns
    -------
    Draw

    Raises
    ------
    ValidationError
        If the applicants or parameters differ from the commitment, or the seed is empty.

    Examples
    --------
    >>> apps = pd.DataFrame({"applicant_id": ["A1", "A2", "A3"]})
    >>> d = draw(apps, LotteryParams("S1", "primary", 2027, seats=2), "38 12 07", at="2027-06-20")
    >>> len(d.admitted), sorted(d.order["applicant_id"]) == ["A1", "A2", "A3"]
    (2, True)
    """
    seed = normalize_seed(seed)
    text = applicants_text(applicants)
    lst = applicant_list(applicants)
    a_sha, p_sha = _sha256(text), params.sha256
    if commitment is not None:
        problems = []
        if commitment.applicants_sha256 != a_sha:
            problems.append("the applicant list differs from the one committed to "
                            f"(SHA-256 {a_sha[:16]}… vs committed {commitment.applicants_sha256[:16]}…)")
        if commitment.params_sha256 != p_sha:
            problems.append("the draw parameters differ from the committed ones")
        if problems:
            raise ValidationError(f"lottery {params.key}: " + "; ".join(problems) + "; draw "
                                  "from the published files, or publish a new commitment before "
                                  "the draw", problems=problems)
    order = _order(lst, params, seed)
    return Draw(params, seed, a_sha, p_sha, _stamp(at), order, commit_sha256)


def _order(lst: pd.DataFrame, params: LotteryParams, seed: str) -> pd.DataFrame:
    ids = lst["applicant_id"].to_numpy(dtype=object)
    together = params.siblings_together & (lst["sibling_group"] != "").to_numpy()
    unit = np.where(together, "sibling:" + lst["sibling_group"].to_numpy(dtype=object), ids)
    unit_ids = pd.unique(unit)
    keys = dict(zip(unit_ids, rank_keys(seed, unit_ids), strict=True))
    frame = pd.DataFrame({"applicant_id": ids, "unit": unit,
                          "hash": [keys[u] for u in unit], "own_area": lst["own_area"].to_numpy()})
    # a unit's own-area flag: any member (siblings share a home)
    unit_own = frame.groupby("unit")["own_area"].max()
    frame = frame.sort_values(["hash", "unit", "applicant_id"], kind="stable", ignore_index=True)
    units = frame.drop_duplicates("unit")["unit"].tolist()
    size = frame.groupby("unit").size()
    rank = {u: i + 1 for i, u in enumerate(units)}
    stage = dict.fromkeys(units, "")
    left = int(params.seats)
    quota = min(int(params.own_area_quota), left)
    if quota:
        for u in units:  # stage 1: own-area applicants, in order, up to the quota
            if unit_own[u] and size[u] <= quota:
                stage[u] = "quota"
                quota -= size[u]
                left -= size[u]
    for u in units:  # stage 2: everyone left, in the same order, up to the plan
        if not stage[u] and size[u] <= left:
            stage[u] = "general"
            left -= size[u]
    frame["rank"] = frame["unit"].map(rank).astype(np.int64)
    frame["stage"] = frame["unit"].map(stage)
    frame["admitted"] = frame["stage"] != ""
    frame["own_area"] = frame["own_area"].astype(np.int64)
    return frame[["rank", "applicant_id", "unit", "hash", "own_area", "admitted", "stage"]]


# ------------------------------------------------------------------------------------ confirm
def settle(order: pd.DataFrame | Draw, confirmations: Mapping | pd.Series | None, *, seats: int,
           deadline, refill_hours: float = 24.0, max_rounds: int | None = None) -> pd.DataFrame:
    """Apply the confirmation deadline: forfeit unconfirmed seats and offer them on, in order.

    Seeds 000 四(二): 被民办学校录取的学生须在6月20日18:00前登录系统进行入学确认；未确认的，视为
    自动放弃. A forfeited seat is offered to the next applicants of the draw order (a family of
    siblings drawn together only when it fits), each offer with its own deadline
    ``refill_hours`` after the previous one; this repeats until every seat is confirmed, the
    waiting list is empty, or ``max_rounds`` offers rounds were made.

    Parameters
    ----------
    order : pandas.DataFrame or Draw
        :attr:`Draw.order` (or a registration list with ``admitted`` all True).
    confirmations : mapping or pandas.Series
        ``applicant_id → time of confirmation`` (None/NaT: never confirmed). A confirmation
        counts when it is at or before the deadline of the offer the applicant received. None:
        nobody confirmed.
    seats : int
        The plan.
    deadline : datetime
        Deadline of the first offers (18:00 on the lottery day).
    refill_hours : float
        Time each later offer has to confirm.
    max_rounds : int, optional
        At most this many rounds of later offers.

    Returns
    -------
    pandas.DataFrame
        Per applicant in order: ``applicant_id``, ``rank``, ``admitted`` (by the draw),
        ``offer_round`` (0 for the draw's admissions, 1.. for later offers, -1 never offered),
        ``offer_deadline``, ``confirmed_at``, ``status``: ``confirmed``, ``forfeited`` (offered,
        not confirmed in time) or ``not_admitted`` (never offered).
    """
    frame = (order.order if isinstance(order, Draw) else order).reset_index(drop=True).copy()
    if "unit" not in frame:
        frame["unit"] = frame["applicant_id"]
    if "rank" not in frame:
        frame["rank"] = np.arange(1, len(frame) + 1)
    conf = pd.Series(dtype=object) if confirmations is None else pd.Series(confirmations)
    conf = pd.to_datetime(conf.reindex(frame["applicant_id"]).to_numpy(), errors="coerce")
    conf = pd.DatetimeIndex(conf)
    conf = conf.tz_localize(CST) if conf.tz is None else conf.tz_convert(CST)
    t0 = pd.Timestamp(deadline)
    t0 = t0.tz_localize(CST) if t0.tzinfo is None else t0.tz_convert(CST)
    step = pd.Timedelta(hours=float(refill_hours))
    n = len(frame)
    offer_round = np.where(frame["admitted"].to_numpy(bool), 0, -1)
    confirmed = np.zeros(n, bool)
    unit = frame["unit"].to_numpy(dtype=object)
    units = list(dict.fromkeys(unit))
    members = frame.groupby("unit", sort=False).indices
    conf_ok = conf.notna()
    vacant = int(seats) - int((offer_round == 0).sum())
    r = 0
    while True:
        this = np.flatnonzero(offer_round == r)
        dl = t0 + r * step
        ok = conf_ok[this] & (conf[this] <= dl)
        confirmed[this[ok]] = True
        vacant += int((~ok).sum())
        if max_rounds is not None and r >= max_rounds:
            break
        offered = False
        for u in units:
            idx = members[u]
            if offer_round[idx[0]] == -1 and len(idx) <= vacant:
                offer_round[idx] = r + 1
                vacant -= len(idx)
                offered = True
            if vacant <= 0:
                break
        if not offered:
            break
        r += 1
    deadlines = pd.Series([t0 + k * step if k >= 0 else pd.NaT for k in offer_round], dtype=object)
    status = np.where(confirmed, "confirmed", np.where(offer_round >= 0, "forfeited",
                                                       "not_admitted"))
    return pd.DataFrame({
        "applicant_id": frame["applicant_id"].to_numpy(), "rank": frame["rank"].to_numpy(),
        "admitted": frame["admitted"].to_numpy(bool), "offer_round": offer_round,
        "offer_deadline": deadlines.to_numpy(), "confirmed_at": conf, "status": status})


# ------------------------------------------------------------------------------------ files
def write_commit(folder: str | os.PathLike, applicants: pd.DataFrame, params: LotteryParams, *,
                 at=None) -> tuple[Path, Path, Commitment]:
    """Write ``KEY.applicants.csv`` and ``KEY.commit.json`` (atomically) to publish before the draw.

    Returns
    -------
    (applicants_path, commit_path, Commitment)
    """
    folder = Path(folder)
    text = applicants_text(applicants)
    c = commit(applicants, params, at=at)
    apath = folder / f"{params.key}.applicants.csv"
    cpath = folder / f"{params.key}.commit.json"
    with atomic_path(apath) as tmp:
        tmp.write_bytes(text.encode("utf-8"))
    with atomic_path(cpath) as tmp:
        tmp.write_bytes(c.to_json().encode("utf-8"))
    return apath, cpath, c


def read_commit(path: str | os.PathLike) -> tuple[Commitment, pd.DataFrame, str]:
    """Read a commit file and the applicant list beside it.

    Returns
    -------
    (Commitment, applicants, commit_sha256)

    Raises
    ------
    ValidationError
        Missing or malformed files.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such commit file; `zoning lottery commit` writes it")
    text = _read_text(path, "commit")
    c = Commitment.from_json(text, source=str(path))
    apath = path.with_name(f"{c.params.key}.applicants.csv")
    if not apath.exists():
        raise ValidationError(f"{apath}: the applicant list of {c.params.key} is missing beside "
                              "its commit file; publish both together")
    lst = _parse_list_text(_read_text(apath, "commit"), source=str(apath))
    return c, lst, _sha256(text)


def write_draw(folder: str | os.PathLike, d: Draw) -> tuple[Path, Path]:
    """Write ``KEY.draw.json`` and the receipts ``KEY.receipts.csv`` (atomically).

    Returns
    -------
    (draw_path, receipts_path)
    """
    folder = Path(folder)
    dpath = folder / f"{d.params.key}.draw.json"
    rpath = folder / f"{d.params.key}.receipts.csv"
    with atomic_path(dpath) as tmp:
        tmp.write_bytes(d.to_json().encode("utf-8"))
    with atomic_path(rpath) as tmp:
        d.receipts().to_csv(tmp, index=False, encoding="utf-8-sig")
    return dpath, rpath


def read_draw(path: str | os.PathLike) -> Draw:
    """Read a draw file.

    Raises
    ------
    ValidationError
        Missing or malformed file.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such draw file; `zoning lottery draw` writes it")
    return Draw.from_json(_read_text(path, "draw"), source=str(path))


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_files` found: ``ok`` (match) or the problems (mismatch)."""

    ok: bool
    key: str
    problems: tuple[str, ...]
    problems_zh: tuple[str, ...]
    n_applicants: int = 0
    n_admitted: int = 0
    seed: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {**asdict(self), "problems": list(self.problems),
                "problems_zh": list(self.problems_zh), "result": "match" if self.ok else
                "mismatch"}


def verify_files(commit_path: str | os.PathLike, draw_path: str | os.PathLike | None = None
                 ) -> Verification:
    """Re-run a draw from its published files and compare.

    Parameters
    ----------
    commit_path : path-like
        ``KEY.commit.json``; ``KEY.applicants.csv`` is read beside it.
    draw_path : path-like, optional
        ``KEY.draw.json`` (default: beside the commit file).

    Returns
    -------
    Verification
        ``ok`` when the list and parameters hash to the commitment, the draw names that commit
        file, was drawn after it, and re-drawing from its seed gives the same order, the same
        keys and the same admissions.

    Raises
    ------
    ValidationError
        When a file is missing or not of this format (nothing to compare).
    """
    commit_path = Path(commit_path)
    c, lst, c_sha = read_commit(commit_path)
    d = read_draw(draw_path or commit_path.with_name(f"{c.params.key}.draw.json"))
    en, zh = [], []
    a_sha = _sha256(commit_path.with_name(f"{c.params.key}.applicants.csv").read_bytes())
    if a_sha != c.applicants_sha256:
        en.append(f"the applicant list hashes to {a_sha}, not to the committed "
                  f"{c.applicants_sha256}: it was changed after the commitment")
        zh.append("报名名单与摇号前公布的承诺哈希不一致：名单在承诺后被改动。")
    if c.params.sha256 != c.params_sha256:
        en.append("the commit file's parameters do not hash to its params_sha256")
        zh.append("摇号参数与承诺哈希不一致。")
    if d.commit_sha256 and d.commit_sha256 != c_sha:
        en.append("the draw was made against another commit file (commit_sha256 differs)")
        zh.append("摇号结果所依据的承诺文件与公布的不一致。")
    if (d.applicants_sha256, d.params_sha256) != (c.applicants_sha256, c.params_sha256):
        en.append("the draw file names other commitment hashes than the commit file")
        zh.append("摇号结果中的承诺哈希与承诺文件不一致。")
    if d.params != c.params:
        en.append("the draw file's parameters differ from the committed ones")
        zh.append("摇号结果中的参数与承诺的参数不一致。")
    if pd.Timestamp(d.drawn_at) <= pd.Timestamp(c.committed_at):
        en.append(f"drawn at {d.drawn_at}, not after the commitment ({c.committed_at})")
        zh.append("摇号时间早于承诺公布时间。")
    try:
        again = _order(applicant_list(lst), c.params, normalize_seed(d.seed))
    except ValidationError as exc:
        en.append(f"the draw cannot be re-run: {exc}")
        zh.append("无法按公布的文件重新摇号。")
        again = None
    if again is not None:
        cols = ["rank", "applicant_id", "unit", "hash", "own_area", "admitted", "stage"]
        got = d.order[cols].reset_index(drop=True).astype(str)
        want = again[cols].reset_index(drop=True).astype(str)
        if got.shape != want.shape or not (got.to_numpy() == want.to_numpy()).all():
            diff = (0 if got.shape != want.shape else
                    int(np.flatnonzero((got.to_numpy() != want.to_numpy()).any(axis=1))[0]) + 1)
            en.append("re-drawing from the seed gives another result"
                      + (f" (first difference at line {diff} of the order)" if diff else
                         f" ({len(got)} rows published, {len(want)} re-drawn)"))
            zh.append("按公布的种子重新摇号，结果与公布的摇号结果不一致"
                      + (f"（第 {diff} 行起不同）。" if diff else "。"))
    return Verification(not en, c.params.key, tuple(en), tuple(zh), len(lst),
                        int(d.order["admitted"].sum()), d.seed)
