"""School places against demand: class caps, seats, 招生预警 and 大班额 checks.

The rules applied here:

- Starting-grade class caps: 小学每班不超过45人、初中每班不超过50人 (seeds 000 五(二)). A district may set
  lower caps, never higher ones. A 九年一贯制 school uses the primary cap in grades 1–6 and the junior
  cap in grades 7–9.
- 健全招生预警机制，合理引导家长预期 (seeds 000 五(一), 六(一)): each school's expected demand is
  compared with its planned starting-grade seats and a green / yellow / red warning is published.
- 大班额 (56–65 students) and 超大班额 (66 or more) are flagged in every grade.

Warning levels (``ratio = demand / seats``)::

    green   ratio < yellow (0.9)          学位充足
    yellow  yellow <= ratio < red (1.0)   学位紧张
    red     ratio >= red                  学位不足 (including demand > 0 with no seats: ratio = inf)
    none    seats == 0 and demand == 0    the school admits no starting grade this year (ratio NaN)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from os import PathLike

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from zoning.crs import to_web
from zoning.errors import ValidationError, ZoningWarning
from zoning.io import atomic_path
from zoning.zones import school_level_serves, zone_schools

__all__ = [
    "ADVICE_ZH",
    "FLAG_ZH",
    "MAX_CAP",
    "WARNING_COLOURS",
    "WARNING_ZH",
    "CapacitySettings",
    "Demand",
    "applicant_demand",
    "capacity_for_year",
    "capacity_table",
    "class_cap",
    "district_summary",
    "large_classes",
    "observed_demand",
    "public_notice",
    "public_table",
    "school_demand",
    "season_demand",
    "to_csv",
    "to_excel",
    "warning_level",
    "warning_levels",
    "warning_map",
]

#: Legal maximum students per starting-grade class (seeds 000 五(二)).
MAX_CAP = {"primary": 45, "junior": 50}

#: First grade of each level: the grade a school admits into.
_START_GRADE = {"primary": 1, "junior": 7}
_PLANNED_COL = {"primary": "planned_primary_classes", "junior": "planned_junior_classes"}

WARNING_ZH = {
    "green": "绿色（学位充足）",
    "yellow": "黄色（学位紧张）",
    "red": "红色（学位不足）",
    "none": "无（本年不招收起始年级）",
}

#: Plain advice to parents per warning level, for notices and the dashboard.
ADVICE_ZH = {
    "green": "符合条件的适龄儿童少年按划片范围正常报名即可。",
    "yellow": "请家长按时报名、如实填报信息，关注学校和教育部门发布的招生通知，"
              "做好学位可能由教育部门统筹安排的准备。",
    "red": "预计报名人数超过学位数，部分学生可能由教育部门统筹安排到就近学校就读。"
           "请家长合理安排预期，及时关注区教育部门发布的统筹安排信息。",
    "none": "本年度不招收起始年级新生。",
}

WARNING_COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", "none": "#9e9e9e"}

FLAG_ZH = {"very_large": "超大班额（66人及以上）", "large": "大班额（56–65人）",
           "over_cap": "起始年级超过班额上限"}

_LEVEL_ZH = {"primary": "小学", "junior": "初中", "nine_year": "九年一贯制"}
_OWN_ZH = {"public": "公办", "private": "民办"}
_GRADE_ZH = {"primary": "一年级", "junior": "七年级"}

#: Column headers of the public (Chinese) tables.
_HEADERS_ZH = {
    "school_id": "学校代码", "name": "学校", "level": "学段", "ownership": "办学性质",
    "planned_classes": "计划班数", "cap": "每班上限", "seats": "学位数", "demand": "需求",
    "ratio": "比例", "warning": "预警", "classes_needed": "需要班数",
    "shortfall_classes": "缺少班数", "shortfall_seats": "缺少学位", "problem": "问题",
    "intake": "招生年级", "lo": "需求下限(80%)", "hi": "需求上限(80%)", "p_red": "红色概率",
}
_PROBLEM_ZH = {"": "", "no planned classes": "有需求但未安排计划班数"}


@dataclass(frozen=True)
class CapacitySettings:
    """Caps and warning thresholds a district may tune.

    Attributes
    ----------
    primary_cap, junior_cap : int
        Students per starting-grade class; at most 45 and 50 (seeds 000 五(二)), at least 1.
    yellow, red : float
        ``demand / seats`` at which the warning turns yellow and red; ``0 < yellow < red``.

    Raises
    ------
    ValidationError
        If a cap exceeds its legal limit or is below 1, or the thresholds are out of order.
    """

    primary_cap: int = MAX_CAP["primary"]
    junior_cap: int = MAX_CAP["junior"]
    yellow: float = 0.9
    red: float = 1.0

    def __post_init__(self):
        problems = []
        for name, level in (("primary_cap", "primary"), ("junior_cap", "junior")):
            value, limit = getattr(self, name), MAX_CAP[level]
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                problems.append(f"{name}={value!r} must be a whole number of students")
            elif value > limit:
                # seeds 000 五(二): 小学每班不超过45人、初中每班不超过50人
                problems.append(f"{name}={value} exceeds the legal limit of {limit} students per "
                                f"{level} starting-grade class (seeds 000 五(二)); use {limit} "
                                "or less")
            elif value < 1:
                problems.append(f"{name}={value} must be at least 1")
        if not (0 < self.yellow < self.red):
            problems.append(f"thresholds yellow={self.yellow!r}, red={self.red!r} must satisfy "
                            "0 < yellow < red (e.g. yellow=0.9, red=1.0)")
        if problems:
            raise ValidationError("; ".join(problems), problems=problems)

    @classmethod
    def from_caps(cls, caps: dict | None = None, **kwargs) -> CapacitySettings:
        """Build settings from a ``{"primary": 40, "junior": 48}`` dict (missing keys: legal max).

        Raises
        ------
        ValidationError
            For an unknown key, or any check of the class.
        """
        caps = dict(caps or {})
        unknown = sorted(set(caps) - set(MAX_CAP))
        if unknown:
            raise ValidationError(f"caps has unknown key(s) {unknown}; use 'primary' and/or "
                                  "'junior'")
        return cls(primary_cap=caps.get("primary", MAX_CAP["primary"]),
                   junior_cap=caps.get("junior", MAX_CAP["junior"]), **kwargs)

    def cap(self, level: str) -> int:
        """Cap for zone level ``"primary"`` or ``"junior"``."""
        return self.primary_cap if _check_level(level) == "primary" else self.junior_cap


def _check_level(level: str) -> str:
    if level not in _START_GRADE:
        raise ValidationError(f"level={level!r} is not a zone level; use 'primary' or 'junior'")
    return level


_GRADES = {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10)}


def class_cap(level: str, grade: int, *, caps: dict | None = None) -> int:
    """Maximum students per class in ``grade`` of a school of ``level`` (seeds 000 五(二)).

    Primary grades (1–6) use the primary cap, junior grades (7–9) the junior cap; a 九年一贯制
    (``nine_year``) school uses 45 for grades 1–6 and 50 for grades 7–9.

    Parameters
    ----------
    level : {"primary", "junior", "nine_year"}
        The school's level.
    grade : int
        1 to 9, within the grades the level teaches.
    caps : dict, optional
        Lower district caps, e.g. ``{"primary": 40}``; raising above 45/50 is refused.

    Returns
    -------
    int

    Raises
    ------
    ValidationError
        For an unknown level, a grade the level does not teach, or a cap above its legal limit.

    Examples
    --------
    >>> class_cap("primary", 1), class_cap("junior", 7), class_cap("nine_year", 3, caps={"primary": 40})
    (45, 50, 40)
    """
    settings = CapacitySettings.from_caps(caps)
    if level not in _GRADES:
        raise ValidationError(f"level={level!r}: use one of {', '.join(_GRADES)}")
    if isinstance(grade, bool) or not isinstance(grade, int | np.integer) or \
            grade not in _GRADES[level]:
        g = _GRADES[level]
        raise ValidationError(f"grade={grade!r} is not taught by a {level} school; use "
                              f"{g.start} to {g.stop - 1}")
    return settings.primary_cap if grade <= 6 else settings.junior_cap


# ------------------------------------------------------------------------------------ warnings
def warning_levels(ratios, *, yellow: float = 0.9, red: float = 1.0) -> np.ndarray:
    """Warning level of each ``demand / seats`` ratio (vectorised :func:`warning_level`).

    Parameters
    ----------
    ratios : array_like of float
        ``inf`` (demand with no seats) is red; ``NaN`` (no seats and no demand) is ``"none"``.
    yellow, red : float
        Thresholds, ``0 < yellow < red``.

    Returns
    -------
    numpy.ndarray of str
        ``"green"``, ``"yellow"``, ``"red"`` or ``"none"``.

    Examples
    --------
    >>> warning_levels([0.5, 0.9, 1.0, float("inf"), float("nan")]).tolist()
    ['green', 'yellow', 'red', 'red', 'none']
    """
    CapacitySettings(yellow=yellow, red=red)  # validates the thresholds
    r = np.asarray(ratios, dtype=np.float64)
    # seeds 000 五(一)/六(一): 健全招生预警机制
    return np.select([np.isnan(r), r >= red, r >= yellow], ["none", "red", "yellow"],
                     default="green").astype(object)


def warning_level(ratio: float, *, yellow: float = 0.9, red: float = 1.0) -> str:
    """Warning level of one ratio: green < ``yellow`` ≤ yellow < ``red`` ≤ red (NaN → "none").

    Examples
    --------
    >>> warning_level(0.8999), warning_level(0.9), warning_level(1.0)
    ('green', 'yellow', 'red')
    """
    return str(warning_levels([ratio], yellow=yellow, red=red)[0])


# ------------------------------------------------------------------------------------ demand
def _serving(schools: pd.DataFrame, level: str) -> np.ndarray:
    """Boolean mask of schools that admit into ``level`` (nine_year serves both)."""
    lv = schools["level"].astype(str)
    ok = [v for v in lv.unique() if level in school_level_serves(v)]  # a handful of values
    return lv.isin(ok).to_numpy(dtype=bool)


def _planned(schools: pd.DataFrame, level: str) -> pd.Series:
    col = _PLANNED_COL[level]
    if col not in schools.columns:
        return pd.Series(0, index=schools.index, dtype=np.int64)
    return pd.to_numeric(schools[col], errors="coerce").fillna(0).astype(np.int64)


def school_demand(zone_demand: pd.Series, zones: pd.DataFrame, schools: pd.DataFrame, *,
                  level: str, settings: CapacitySettings | None = None) -> pd.Series:
    """Turn demand per zone into demand per school.

    A zone with one school sends it all its demand. A 多校划片 zone's demand is shared among its
    schools in proportion to their planned starting-grade seats (planned classes × cap); if all of
    them have no planned seats it is shared equally. Schools serving the level that no zone (or
    no demand) reaches get 0.

    Parameters
    ----------
    zone_demand : pandas.Series
        Expected new students per zone, indexed by ``zone_id``. Missing zones count as 0.
    zones : pandas.DataFrame
        Indexed by ``zone_id`` with ``level`` and ``school_ids``.
    schools : pandas.DataFrame
        Indexed by ``school_id`` with ``level`` and the planned-classes columns.
    level : {"primary", "junior"}
    settings : CapacitySettings, optional
        Caps used for the seat weights.

    Returns
    -------
    pandas.Series
        Float demand indexed by ``school_id`` (every school serving ``level``), name ``demand``.

    Raises
    ------
    ValidationError
        If demand is given for zone ids that are not ``level`` zones, or for a zone that lists
        no school (that demand would be silently lost).
    """
    settings = settings or CapacitySettings()
    _check_level(level)
    lz = zones[zones["level"] == level]
    zd = pd.to_numeric(zone_demand, errors="coerce").fillna(0.0).astype(np.float64)
    problems = []
    unknown = zd.index[(zd != 0).to_numpy() & ~zd.index.isin(lz.index)]
    if len(unknown):
        problems.append(f"demand given for {len(unknown)} zone id(s) that are not {level} zones: "
                        f"{', '.join(map(str, unknown[:10]))}; check the zone ids and level")
    links = zone_schools(lz)
    orphan = zd.index[(zd != 0).to_numpy() & zd.index.isin(lz.index)
                      & ~zd.index.isin(links["zone_id"])]
    if len(orphan):
        problems.append(f"zone(s) {', '.join(map(str, orphan[:10]))} have demand but list no "
                        "school; fill in their school_ids")
    if problems:
        raise ValidationError("; ".join(problems), problems=problems)
    seats = (_planned(schools, level) * settings.cap(level)).astype(np.float64)
    w = links["school_id"].map(seats).fillna(0.0).to_numpy()
    zone_key = links["zone_id"].to_numpy()
    total = pd.Series(w).groupby(zone_key).transform("sum").to_numpy()
    count = pd.Series(1.0, index=links.index).groupby(zone_key).transform("sum").to_numpy()
    share = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / count)
    per_link = share * zd.reindex(zone_key).fillna(0.0).to_numpy()
    out = pd.Series(per_link).groupby(links["school_id"].to_numpy()).sum()
    idx = schools.index[_serving(schools, level)]
    extra = out.index.difference(idx)  # a zone naming a school of the wrong level keeps its demand
    result = out.reindex(idx.append(extra)).fillna(0.0).rename("demand")
    result.index.name = "school_id"
    return result


def observed_demand(dataset, *, level: str, year: int) -> pd.Series:
    """New students actually admitted per school in ``year`` (grade 1 or 7), for backtests.

    Parameters
    ----------
    dataset : zoning.store.Dataset
        With an ``enrolment`` table (school_id, year, grade, students).
    level : {"primary", "junior"}
    year : int

    Returns
    -------
    pandas.Series
        Indexed by ``school_id`` over every school serving ``level`` (0 where none enrolled).

    Raises
    ------
    ValidationError
        If the dataset has no enrolment table or no rows for ``year``.
    """
    grade = _START_GRADE[_check_level(level)]
    enrol = dataset.layer("enrolment")
    years = pd.to_numeric(enrol["year"], errors="coerce")
    if not (years == year).any():
        have = sorted(int(y) for y in years.dropna().unique())
        raise ValidationError(f"enrolment has no rows for year={year} (it has {have}); pass one "
                              "of those years or import that year's enrolment")
    rows = enrol[(years == year).to_numpy() & (pd.to_numeric(enrol["grade"]) == grade).to_numpy()]
    got = pd.to_numeric(rows["students"]).groupby(rows["school_id"].to_numpy()).sum()
    schools = dataset.schools
    idx = schools.index[_serving(schools, level)]
    out = got.reindex(idx.append(got.index.difference(idx))).fillna(0).astype(np.float64)
    out.index.name = "school_id"
    return out.rename("demand")


#: Applicant statuses that no longer ask for a seat.
_INACTIVE = frozenset({"withdrawn", "rejected", "cancelled", "duplicate"})


def applicant_demand(dataset, applicants: pd.DataFrame, *, level: str, year: int,
                     settings: CapacitySettings | None = None,
                     resolver=None) -> tuple[pd.Series, pd.DataFrame]:
    """Registered applicants of ``year`` and ``level`` counted per school.

    - An application that names a school (``school_id``: every private application, and public
      ones already registered at a school) counts at that school.
    - A public application without a school is placed by its home: the 不动产单元号
      (``property_unit_code``) when it is valid and in the district, else the
      ``residence_address`` (actual residence, seeds 000 三(一) 三对口). The zone's count is then
      shared among its schools as :func:`school_demand` does.
    - Withdrawn, rejected, cancelled and duplicate applications are not counted.

    Parameters
    ----------
    dataset : zoning.store.Dataset
    applicants : pandas.DataFrame
        The store's ``applicants`` table (``applicant_id``, ``year``, ``level``, ``status``,
        ``application_type``, ``school_id``, ``property_unit_code``, ``residence_address``).
    level : {"primary", "junior"}
    year : int
    settings : CapacitySettings, optional
    resolver : zoning.lookup.Resolver, optional
        Reused when given (its address index is costly to build).

    Returns
    -------
    demand : pandas.Series
        Per school, as :func:`school_demand`.
    unplaced : pandas.DataFrame
        ``applicant_id`` and ``reason`` of applications that could not be placed (not counted).

    Raises
    ------
    ValidationError
        If required columns are missing, or applications name schools not in the schools layer.
    """
    _check_level(level)
    need = ["applicant_id", "year", "level"]
    missing = [c for c in need if c not in applicants.columns]
    if missing:
        raise ValidationError(f"applicants table lacks column(s) {', '.join(missing)}; it needs "
                              "applicant_id, year, level and school_id or an address")
    a = applicants[(pd.to_numeric(applicants["year"], errors="coerce") == year).to_numpy()
                   & (applicants["level"].astype(str) == level).to_numpy()]
    if "status" in a.columns:
        a = a[~a["status"].astype(str).str.lower().isin(_INACTIVE).to_numpy()]
    col = a["school_id"] if "school_id" in a.columns else pd.Series(None, index=a.index)
    named = col.notna() & (col.astype(str).str.strip() != "")
    schools = dataset.schools
    unknown = sorted(set(col[named].astype(str)) - set(schools.index))
    if unknown:
        raise ValidationError(
            f"applications name school(s) {', '.join(unknown[:10])} that are not in the schools "
            "layer; correct their school_id or import the school",
            problems=[{"id": s, "kind": "unknown_school"} for s in unknown])
    direct = col[named].astype(str).value_counts().astype(np.float64)
    rest = a[~named.to_numpy()]
    zone_counts = pd.Series(dtype=np.float64)
    reasons = pd.Series(dtype=object)
    if len(rest):
        if resolver is None:
            from zoning.lookup import Resolver

            resolver = Resolver(dataset)
        zone = pd.Series(None, index=rest.index, dtype=object)
        reason = pd.Series("no 不动产单元号 or residence address", index=rest.index, dtype=object)
        code = (rest["property_unit_code"] if "property_unit_code" in rest
                else pd.Series(None, index=rest.index))
        has_code = code.notna() & (code.astype(str).str.strip() != "")
        if has_code.any():
            got = resolver.assign_frame(pd.DataFrame({"unit_code": code[has_code]}))
            zone[got.index] = got.get(f"{level}_zone_id")
            reason[got.index] = got["reason"].fillna("outside every zone")
        addr = (rest["residence_address"] if "residence_address" in rest
                else pd.Series(None, index=rest.index))
        todo = zone.isna() & addr.notna() & (addr.astype(str).str.strip() != "")
        if todo.any():
            got = resolver.assign_frame(pd.DataFrame({"address": addr[todo]}))
            zone[got.index] = got.get(f"{level}_zone_id")
            reason[got.index] = got["reason"].fillna("outside every zone")
        placed = zone.notna()
        zone_counts = zone[placed].value_counts().astype(np.float64)
        reasons = reason[~placed]
    demand = school_demand(zone_counts, dataset.zones, schools, level=level, settings=settings)
    demand = demand.add(direct, fill_value=0.0).rename("demand")
    demand.index.name = "school_id"
    unplaced = pd.DataFrame({"applicant_id": rest.loc[reasons.index, "applicant_id"].to_numpy(),
                             "reason": reasons.to_numpy()})
    if len(unplaced):
        warnings.warn(
            f"{len(unplaced)} {level} application(s) of {year} could not be placed in a zone and "
            f"are not counted (e.g. {', '.join(map(str, unplaced['applicant_id'][:5]))}: "
            f"{unplaced['reason'].iloc[0]}); check their 不动产单元号 or residence address",
            ZoningWarning, stacklevel=2)
    return demand, unplaced


@dataclass(frozen=True)
class Demand:
    """Starting-grade demand per school for one year, and where it came from.

    Attributes
    ----------
    values : pandas.Series
        Expected new students per school (index ``school_id``).
    source : {"applicants", "enrolment", "forecast"}
        Registered applicants of the season; the observed intake of a past year; or the
        forecast point (:func:`zoning.forecast.forecast`).
    detail : pandas.DataFrame
        For a forecast, ``lo``, ``hi`` and ``p_red`` per school; for applicants, the
        applications that could not be placed; empty otherwise.
    """

    values: pd.Series
    source: str
    detail: pd.DataFrame


def season_demand(dataset, *, level: str, year: int, applicants: pd.DataFrame | None = None,
                  settings: CapacitySettings | None = None, resolver=None,
                  **forecast_kwargs) -> Demand:
    """The best demand known for ``year``: applicants, else observed intake, else forecast.

    DESIGN 学位预警: demand is known (registered applicants) or forecast. In order:

    1. registered ``applicants`` of that year and level, when there are any;
    2. the starting-grade intake of the ``enrolment`` table, when ``year`` is a past year;
    3. the forecast point of :func:`zoning.forecast.forecast` for ``year``, with its 80 %
       interval and the probability of red in ``detail``.

    Raises
    ------
    ValidationError
        If none of them applies (no applicants, no enrolment for the year, and the forecast
        cannot reach it: a year before the enrolment history ends or more than 12 years ahead).
    """
    _check_level(level)
    if applicants is not None and len(applicants):
        yr = pd.to_numeric(applicants.get("year"), errors="coerce")
        if ((yr == year) & (applicants.get("level") == level)).any():
            values, unplaced = applicant_demand(dataset, applicants, level=level, year=year,
                                                settings=settings, resolver=resolver)
            return Demand(values, "applicants", unplaced)
    enrol = dataset.tables.get("enrolment")
    if enrol is not None and len(enrol):
        years = pd.to_numeric(enrol["year"], errors="coerce")
        last = int(years.max())
        if (years == year).any():
            return Demand(observed_demand(dataset, level=level, year=year), "enrolment",
                          pd.DataFrame())
        if year < last:
            raise ValidationError(f"enrolment has no rows for {year} although it runs to {last}; "
                                  "import that year's enrolment")
        ahead = year - last
        if ahead > 12:
            raise ValidationError(f"year={year} is {ahead} years after the last enrolment year "
                                  f"{last}; a forecast reaches at most 12 years ahead")
        from zoning.forecast import forecast

        f = forecast(dataset, level=level, years=ahead, settings=settings, **forecast_kwargs)
        f = f[f["year"] == year].set_index("school_id")
        values = f["demand"].rename("demand")
        return Demand(values, "forecast", f[["lo", "hi", "p_red"]])
    raise ValidationError(f"no demand for {year}: load that season's applicants, or import the "
                          "enrolment and births tables so it can be forecast")


def capacity_for_year(dataset, *, level: str, year: int, applicants: pd.DataFrame | None = None,
                      settings: CapacitySettings | None = None, resolver=None,
                      **forecast_kwargs) -> pd.DataFrame:
    """:func:`capacity_table` with the demand of :func:`season_demand` for ``year``.

    Returns
    -------
    pandas.DataFrame
        As :func:`capacity_table`; with forecast demand also ``lo``, ``hi`` (80 % interval) and
        ``p_red``. ``attrs`` holds ``level``, ``year`` and ``source``, and ``unplaced`` (the
        number of applications not counted) for applicant demand.
    """
    d = season_demand(dataset, level=level, year=year, applicants=applicants, settings=settings,
                      resolver=resolver, **forecast_kwargs)
    table = capacity_table(dataset, level=level, demand=d.values, settings=settings)
    if d.source == "forecast":
        table = table.join(d.detail.reindex(table.index))
        # a school the forecast does not cover (no zone of the level) has no demand
        table[["lo", "hi", "p_red"]] = table[["lo", "hi", "p_red"]].fillna(0.0)
    table.attrs.update(level=level, year=year, source=d.source)
    if d.source == "applicants":
        table.attrs["unplaced"] = len(d.detail)
    return table


# ------------------------------------------------------------------------------------ table
def capacity_table(dataset, *, level: str, demand: pd.Series,
                   settings: CapacitySettings | None = None, strict: bool = False) -> pd.DataFrame:
    """Planned starting-grade seats against demand for every school serving ``level``.

    Parameters
    ----------
    dataset : zoning.store.Dataset or pandas.DataFrame
        A dataset (its ``schools`` are used) or the schools frame itself, indexed by
        ``school_id`` with ``name``, ``level``, ``ownership`` and the planned-classes columns.
    level : {"primary", "junior"}
        Zone level; ``nine_year`` schools count for both. Private schools are included, with
        their ``ownership``.
    demand : pandas.Series
        Expected new students per school (index ``school_id``); missing schools count as 0.
    settings : CapacitySettings, optional
        Caps and thresholds.
    strict : bool
        Raise instead of recording schools with demand but no planned classes.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``school_id``: name, level, ownership, planned_classes, cap,
        seats = planned_classes × cap, demand, ratio = demand / seats, warning, classes_needed =
        ceil(demand / cap), shortfall_classes, shortfall_seats, problem. A school with demand but
        no planned classes gets ratio ``inf``, warning red and problem ``"no planned classes"``;
        one with neither gets ratio NaN and warning ``"none"``.

    Raises
    ------
    ValidationError
        With ``strict=True``, naming every school that has demand but no planned classes.
    """
    settings = settings or CapacitySettings()
    _check_level(level)
    schools = getattr(dataset, "schools", dataset)
    sel = schools[_serving(schools, level)]
    cap = settings.cap(level)  # seeds 000 五(二): starting-grade cap
    planned = _planned(sel, level).to_numpy()
    if (planned < 0).any():
        bad = sel.index[planned < 0]
        raise ValidationError(f"schools {', '.join(map(str, bad))} have negative "
                              f"{_PLANNED_COL[level]}; fix the schools layer")
    dem = pd.to_numeric(demand, errors="coerce").reindex(sel.index).fillna(0.0)
    dem = dem.to_numpy(dtype=np.float64)
    seats = planned * cap
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = dem / seats  # x/0 → inf, 0/0 → NaN, both handled below
    no_classes = (planned == 0) & (dem > 0)
    if strict and no_classes.any():
        bad = ", ".join(map(str, sel.index[no_classes]))
        raise ValidationError(
            f"school(s) {bad} have {level} demand but no planned starting-grade classes; set "
            f"{_PLANNED_COL[level]} for them in the schools layer",
            problems=[{"id": str(s), "kind": "no_planned_classes"} for s in sel.index[no_classes]])
    # round before ceil: a float demand of 90.0000000001 is 2 classes, not 3
    needed = np.ceil(np.round(dem / cap, 9)).astype(np.int64)
    out = pd.DataFrame({
        "name": sel["name"].to_numpy() if "name" in sel else sel.index.to_numpy(),
        "level": sel["level"].to_numpy(),
        "ownership": sel["ownership"].to_numpy() if "ownership" in sel else "public",
        "planned_classes": planned,
        "cap": np.full(len(sel), cap, dtype=np.int64),
        "seats": seats,
        "demand": dem,
        "ratio": ratio,
        "warning": warning_levels(ratio, yellow=settings.yellow, red=settings.red),
        "classes_needed": needed,
        "shortfall_classes": np.maximum(0, needed - planned),
        "shortfall_seats": np.maximum(0.0, dem - seats),
        "problem": np.where(no_classes, "no planned classes", "").astype(object),
    }, index=sel.index.copy())
    out.index.name = "school_id"
    return out


def district_summary(table: pd.DataFrame) -> dict:
    """Totals of a :func:`capacity_table`.

    Returns
    -------
    dict
        ``schools``, counts per warning level (``green``, ``yellow``, ``red``, ``none``),
        ``seats``, ``demand``, ``shortfall_seats``, ``shortfall_classes`` and ``problems`` (the
        ids of schools with a recorded problem).
    """
    counts = table["warning"].value_counts()
    return {
        "schools": len(table),
        **{k: int(counts.get(k, 0)) for k in ("green", "yellow", "red", "none")},
        "seats": int(table["seats"].sum()),
        "demand": float(table["demand"].sum()),
        "shortfall_seats": float(table["shortfall_seats"].sum()),
        "shortfall_classes": int(table["shortfall_classes"].sum()),
        "problems": [str(s) for s in table.index[table["problem"].astype(bool).to_numpy()]],
    }


# ------------------------------------------------------------------------------------ classes
def large_classes(classes: pd.DataFrame, schools: pd.DataFrame | None = None, *,
                  settings: CapacitySettings | None = None) -> pd.DataFrame:
    """Flag existing classes: 大班额, 超大班额, and starting-grade classes above the cap.

    Each flagged class appears once, with its most serious flag: ``very_large`` (66 or more),
    then ``large`` (56–65), then ``over_cap`` (grade 1 or 7 above its cap, seeds 000 五(二)).

    Parameters
    ----------
    classes : pandas.DataFrame
        Columns school_id, grade, class_no, students.
    schools : pandas.DataFrame, optional
        When given, a ``name`` column is added.
    settings : CapacitySettings, optional
        Caps (a district's lower caps make more starting-grade classes over the cap).

    Returns
    -------
    pandas.DataFrame
        school_id, grade, class_no, students, flag, flag_zh (and name); only flagged rows.
    """
    settings = settings or CapacitySettings()
    missing = [c for c in ("school_id", "grade", "class_no", "students") if c not in classes]
    if missing:
        raise ValidationError(f"classes table lacks column(s) {', '.join(missing)}; it needs "
                              "school_id, grade, class_no, students")
    grade = pd.to_numeric(classes["grade"]).to_numpy()
    students = pd.to_numeric(classes["students"]).to_numpy()
    cap = np.where(grade <= 6, settings.primary_cap, settings.junior_cap)
    over_cap = np.isin(grade, (1, 7)) & (students > cap)  # seeds 000 五(二)
    flag = np.select([students >= 66, students >= 56, over_cap],
                     ["very_large", "large", "over_cap"], default="")
    keep = flag != ""
    out = classes.loc[keep, ["school_id", "grade", "class_no", "students"]].copy()
    out["flag"] = flag[keep]
    out["flag_zh"] = out["flag"].map(FLAG_ZH)
    if schools is not None and "name" in schools:
        out.insert(1, "name", out["school_id"].map(schools["name"]))
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------------ outputs
def public_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table with Chinese headers and labels, for publishing."""
    out = table.copy()
    if table.attrs.get("level") in _GRADE_ZH:  # which intake the table is about
        lv = table.attrs["level"]
        out.insert(0, "intake", f"{_LEVEL_ZH[lv]}{_GRADE_ZH[lv]}")
    out["level"] = out["level"].map(_LEVEL_ZH).fillna(out["level"])
    out["ownership"] = out["ownership"].map(_OWN_ZH).fillna(out["ownership"])
    out["warning"] = out["warning"].map(WARNING_ZH).fillna(out["warning"])
    out["problem"] = out["problem"].map(_PROBLEM_ZH).fillna(out["problem"])
    out["ratio"] = out["ratio"].round(3)
    out = out.reset_index()
    return out.rename(columns=_HEADERS_ZH)


def to_excel(table, path: str | PathLike, *, public: bool = True,
             large: pd.DataFrame | None = None) -> None:
    """Write capacity tables to ``.xlsx`` atomically (Chinese headers when ``public``).

    Parameters
    ----------
    table : pandas.DataFrame or dict of str to pandas.DataFrame
        One :func:`capacity_table`, or several by sheet name (e.g. ``{"小学": t1, "初中": t2}``).
    path : path-like
    public : bool
        Chinese headers and labels.
    large : pandas.DataFrame, optional
        :func:`large_classes`, written to a sheet ``大班额``.
    """
    sheets = table if isinstance(table, dict) else {
        "学位预警" if public else "capacity": table}
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xl:
        for name, t in sheets.items():
            out = public_table(t) if public else t.reset_index()
            out.to_excel(xl, index=False, sheet_name=str(name)[:31])
        if large is not None:
            lc = large.drop(columns="flag") if public else large
            lc = lc.rename(columns={"school_id": "学校代码", "name": "学校", "grade": "年级",
                                    "class_no": "班号", "students": "学生数",
                                    "flag_zh": "问题"}) if public else lc
            lc.to_excel(xl, index=False, sheet_name="大班额")


def to_csv(table, path: str | PathLike, *, public: bool = True) -> None:
    """Write capacity tables to CSV atomically (UTF-8 with BOM so Excel reads Chinese).

    ``table`` is one :func:`capacity_table` or a list of them (one per level), stacked; the
    public form says in 招生年级 which intake each row is about.
    """
    tables = table if isinstance(table, list | tuple) else [table]
    out = pd.concat([public_table(t) if public else t.reset_index().assign(
        intake=t.attrs.get("level")) for t in tables], ignore_index=True)
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8-sig")


_RANK = {"none": 0, "green": 1, "yellow": 2, "red": 3}


def warning_map(table: pd.DataFrame, schools: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *,
                level: str, basemap: str = "none", assets: str | None = None,
                simplify: float = 10.0) -> folium.Map:
    """Map of ``level`` zones coloured by their schools' warning level, with a legend.

    A 多校划片 zone takes the most serious warning among its schools; a zone none of whose schools
    is in ``table`` is grey.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`capacity_table` for the same level.
    schools, zones : geopandas.GeoDataFrame
        In the working CRS.
    level : {"primary", "junior"}
    basemap : {"none", "osm", "amap"}
    assets : str, optional
        URL folder with ``leaflet.js``/``leaflet.css`` for offline use (as :func:`zoning.maps.zones_map`).
    simplify : float
        Outline simplification tolerance in metres.

    Returns
    -------
    folium.Map
    """
    from zoning.maps import base_map, point_layer, zone_layer

    _check_level(level)
    lz = zones[zones["level"] == level].copy()
    lz["geometry"] = lz.geometry.simplify(simplify, preserve_topology=True)
    links = zone_schools(lz)
    links["rank"] = links["school_id"].map(table["warning"]).map(_RANK).fillna(0)
    links["name"] = links["school_id"].map(schools["name"]).fillna(links["school_id"])
    rank = links.groupby("zone_id")["rank"].max().reindex(lz.index).fillna(0).astype(int)
    inv = {v: k for k, v in _RANK.items()}
    lz["zone_id"] = lz.index.astype(str)
    lz["warning"] = rank.map(inv).to_numpy()
    lz["warning_zh"] = lz["warning"].map(WARNING_ZH)
    lz["colour"] = lz["warning"].map(WARNING_COLOURS)
    lz["schools"] = (links.groupby("zone_id")["name"].agg("、".join).reindex(lz.index)
                     .fillna("（无）"))
    web = to_web(lz[["zone_id", "schools", "warning_zh", "colour", "geometry"]], basemap=basemap)
    fmap = base_map(web, basemap=basemap, assets=assets)
    zone_layer(fmap, web, name=f"{_LEVEL_ZH[level]}片区学位预警", opacity=0.5,
               fields={"zone_id": "片区编号", "schools": "对口学校", "warning_zh": "学位预警"})
    ls = schools.loc[schools.index.intersection(table.index)]
    sweb = to_web(ls[["geometry"]], basemap=basemap)
    t = table.reindex(ls.index)
    sweb["colour"] = [WARNING_COLOURS.get(w, "#9e9e9e") for w in t["warning"]]
    sweb["tip"] = [f"{name}（{sid}）：学位{int(seats)}，预计需求{dem:.0f}，{WARNING_ZH.get(w, w)}"
                   for sid, name, w, seats, dem in zip(ls.index, t["name"], t["warning"], t["seats"],
                                                       t["demand"], strict=True)]
    point_layer(fmap, sweb, name="学校", colour="colour", tip="tip")
    items = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;margin-right:6px;'
        f'background:{WARNING_COLOURS[k]};vertical-align:middle"></span>{WARNING_ZH[k]}</div>'
        for k in ("green", "yellow", "red"))
    fmap.get_root().html.add_child(folium.Element(
        '<div class="capacity-legend" style="position:fixed;bottom:56px;left:12px;z-index:9999;'
        'background:white;padding:8px 10px;border:1px solid #999;border-radius:4px;'
        f'font-size:13px"><b>{_LEVEL_ZH[level]}学位预警图例</b>{items}</div>'))
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


#: What the demand of a notice is (by :func:`season_demand` source): wording, caveat, header.
_NOTICE_BASIS = {
    "forecast": ("预计入学需求", "预计需求为测算数，实际以报名审核结果为准。", "预计需求"),
    "applicants": ("已报名人数", "报名人数为截至发布时的统计，录取以审核结果为准。", "报名人数"),
    "enrolment": ("实际入学人数", "", "入学人数"),
}


def public_notice(table: pd.DataFrame, *, district: str = "渝北区", year: int = 2027,
                  level: str = "primary") -> str:
    """A Markdown 招生学位预警 notice an education bureau can publish as is.

    Lists the yellow and red schools (red first, then by ratio), gives plain advice per level and
    leaves the 咨询电话 for the official to fill in. Warns (:class:`ZoningWarning`) if the table
    records problems, which should be fixed before publishing.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`capacity_table`.
    district : str
    year : int
        Autumn intake year.
    level : {"primary", "junior"}

    Returns
    -------
    str
    """
    _check_level(level)
    if table["problem"].astype(bool).any():
        bad = ", ".join(map(str, table.index[table["problem"].astype(bool).to_numpy()]))
        warnings.warn(f"schools {bad} have demand but no planned classes; set their planned "
                      "classes before publishing the notice", ZoningWarning, stacklevel=2)
    stage = f"{_LEVEL_ZH[level]}{_GRADE_ZH[level]}"
    basis, caveat, head = _NOTICE_BASIS.get(table.attrs.get("source"), _NOTICE_BASIS["forecast"])
    lines = [
        f"# {district}{year}年秋季{stage}招生学位预警",
        "",
        f"为健全招生预警机制，合理引导家长预期，根据各校{year}年秋季{stage}计划招生班数"
        f"（{_LEVEL_ZH[level]}每班不超过{int(table['cap'].max()) if len(table) else MAX_CAP[level]}人）"
        f"和{basis}，现将学位预警情况公布如下。{caveat}",
        "",
    ]
    flagged = table[table["warning"].isin(["yellow", "red"])].copy()
    if len(flagged):
        flagged["_r"] = flagged["warning"].map(_RANK)
        flagged = flagged.sort_values(["_r", "ratio"], ascending=[False, False])
        lines += [f"| 学校 | 计划班数 | 学位数 | {head} | 预警等级 |",
                  "| --- | ---: | ---: | ---: | --- |"]
        for name, own, pc, seats, dem, warn in zip(
                flagged["name"], flagged["ownership"], flagged["planned_classes"],
                flagged["seats"], flagged["demand"], flagged["warning"], strict=True):
            label = f"{name}（民办）" if own == "private" else str(name)
            lines.append(f"| {label} | {int(pc)} | {int(seats)} | {math.ceil(round(dem, 9))} | "
                         f"{WARNING_ZH[warn]} |")
        lines.append("")
        others = int((table["warning"] == "green").sum())
        lines.append(f"其余{others}所学校为{WARNING_ZH['green']}。")
    else:
        lines.append(f"经测算，全区各校均为{WARNING_ZH['green']}，暂无黄色或红色预警学校。")
    lines += ["", "## 温馨提示", ""]
    for k in ("red", "yellow", "green"):
        lines.append(f"- **{WARNING_ZH[k]}**：{ADVICE_ZH[k]}")
    lines += ["", "如有疑问，请拨打本区招生咨询电话：（请填写本区招生咨询电话）。", ""]
    return "\n".join(lines)
