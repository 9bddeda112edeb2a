"""Demand forecast for starting grades (学位需求预测), with an interval and a capacity warning.

seeds 000 五(二): 学位供给与学龄人口变化相适应 — seats are planned from the school-age population to
come. DESIGN "Capacity early warning": demand = cohort progression + births ``offset`` years
earlier × entry ratio + new housing × yield per household, and a forecast carries an interval.

The chain, per level (``primary``: grade 1, births 6 years earlier, 45 per class; ``junior``:
grade 7, births 12 years earlier, 50 per class):

1. :func:`births_by_zone` — births by 社区/村 spread to parcels and summed by zone.
2. :func:`entry_ratios` — observed starting-grade intake of each school ÷ the births of its
   zone(s), the mean and spread of the last 3 years.
3. :func:`forecast` — births × mean ratio + new housing × ``children_per_household``, an 80 %
   interval and ``p_red`` from one vectorised simulation, seats and a 红/黄/绿 warning.
4. :func:`forecast_grades` — later grades by cohort progression (:func:`progression_ratios`).
5. :func:`backtest` — hold out the last observed year(s) and measure the error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoning.assign import assign_parcels
from zoning.capacity import CapacitySettings, _serving, warning_levels
from zoning.errors import ValidationError, ZoningWarning
from zoning.zones import zone_schools

__all__ = [
    "BacktestResult",
    "backtest",
    "births_by_zone",
    "entry_ratios",
    "forecast",
    "forecast_grades",
    "parcel_demand",
    "progression_ratios",
]

# Starting grade, birth offset (a child starts grade 1 in the year it turns 6), plan column and
# the grades of the level. Class caps come from zoning.capacity.CapacitySettings (seeds 000 五(二)).
_LEVELS = {
    "primary": {"grade": 1, "offset": 6, "plan": "planned_primary_classes",
                "grades": tuple(range(1, 7))},
    "junior": {"grade": 7, "offset": 12, "plan": "planned_junior_classes",
               "grades": tuple(range(7, 10))},
}
_COLUMNS = {
    "births": ("community", "year", "births"),
    "enrolment": ("school_id", "year", "grade", "students"),
    "housing": ("parcel_id", "year", "households"),
}
_WINDOW = 3  # ratios, birth trends and progression use the last 3 years
_DISTRICT = "(district)"  # the pseudo-zone of schools without a zone (private schools)


# ------------------------------------------------------------------------------ validation
def _check(dataset, level: str, *, tables=("births", "enrolment"), plan: bool = False) -> None:
    """Collect every missing piece of input and raise them together."""
    problems = []
    if level not in _LEVELS:
        problems.append(f"level {level!r}: expected one of {', '.join(_LEVELS)}")
    for name in tables:
        frame = dataset.tables.get(name)
        if frame is None:
            problems.append(f"table {name!r}: missing from the dataset; import it "
                            f"(`zoning import {name} FILE`) with columns {', '.join(_COLUMNS[name])}")
            continue
        lacking = [c for c in _COLUMNS[name] if c not in frame.columns]
        if lacking:
            problems.append(f"table {name!r}: missing column(s) {', '.join(lacking)} "
                            f"(has {', '.join(map(str, frame.columns))})")
        elif len(frame) == 0:
            problems.append(f"table {name!r}: has no rows")
    lacking = [c for c in ("community", "households") if c not in dataset.parcels.columns]
    if lacking:
        problems.append(f"layer 'parcels': missing column(s) {', '.join(lacking)}, needed to "
                        "spread births to parcels")
    if level in _LEVELS:
        zones = dataset.zones
        if "level" not in zones.columns or not (zones["level"] == level).any():
            problems.append(f"layer 'zones': no zone of level {level!r}")
        if plan and _LEVELS[level]["plan"] not in dataset.schools.columns:
            problems.append(f"layer 'schools': missing column {_LEVELS[level]['plan']!r} "
                            "(planned starting-grade classes), needed for seats")
        if plan and "level" in zones.columns and (zones["level"] == level).any():
            ids = zone_schools(zones[zones["level"] == level])["school_id"]
            unknown = sorted(set(ids) - set(dataset.schools.index))
            if unknown:
                problems.append(f"layer 'zones': school(s) {', '.join(unknown[:10])} of "
                                f"{level} zones are not in the schools layer")
    if problems:
        raise ValidationError("forecast: " + "; ".join(problems), problems)


# ------------------------------------------------------------------------------ births
def births_by_zone(dataset, *, level: str) -> pd.DataFrame:
    """Births by zone and year.

    Births are published by 社区/村 (table ``births``). Each 社区's births of a year are spread
    over its parcels in proportion to their ``households`` and summed by the zone each parcel
    is assigned to (:func:`zoning.assign.assign_parcels`, largest overlap).

    Parameters
    ----------
    dataset : zoning.store.Dataset
        With layers ``parcels`` (``community``, ``households``), ``zones`` and table ``births``.
    level : {"primary", "junior"}
        The zone level.

    Returns
    -------
    pandas.DataFrame
        Index ``zone_id`` (every zone of the level, 0 where no births fall), columns the birth
        years (int), values births (float: spread births are fractional).

    Raises
    ------
    ValidationError
        Missing ``births`` table or columns, unknown level, no zone of the level.

    Warns
    -----
    ZoningWarning
        Births of a 社区 with no households in ``parcels`` (they cannot be placed and are left
        out).

    Notes
    -----
    Assumption: births are where households are — every household of a 社区 is equally likely
    to have a child, whatever its estate's age or size. New parcels (``households`` 0, still
    under construction) get no births; their families enter through the housing term of
    :func:`forecast`. Where parcels and births both carry ``street``, the 社区 is matched on
    (street, community), since a 社区 name may repeat in another 街道.
    """
    _check(dataset, level, tables=("births",))
    return _births_by_zone(dataset, level, _assign(dataset, level))


def _assign(dataset, level):
    return assign_parcels(dataset.parcels, dataset.zones, level=level)["zone_id"]


def _births_by_zone(dataset, level, zone_of) -> pd.DataFrame:
    per_parcel = _parcel_births(dataset)
    zone = zone_of.reindex(per_parcel.index).to_numpy()
    ok = pd.notna(zone)
    out = per_parcel[ok].groupby(zone[ok]).sum()
    zones = dataset.zones.index[dataset.zones["level"] == level]
    out = out.reindex(zones, fill_value=0.0)
    out.index.name, out.columns.name = "zone_id", "year"
    return out


def _parcel_births(dataset) -> pd.DataFrame:
    """Births of each 社区/村 spread over its parcels by households: parcels × birth years."""
    births = dataset.tables["births"]
    parcels = dataset.parcels
    keys = ["street", "community"] if ("street" in births and "street" in parcels) else [
        "community"]
    table = births.pivot_table(index=keys, columns="year", values="births", aggfunc="sum",
                               fill_value=0).astype(float)
    hh = pd.to_numeric(parcels["households"], errors="coerce").fillna(0).to_numpy(float)
    pkey = pd.MultiIndex.from_frame(parcels[keys].astype(str)) if len(keys) > 1 else pd.Index(
        parcels["community"].astype(str))
    table.index = (table.index.map(lambda k: tuple(map(str, k))) if len(keys) > 1
                   else table.index.astype(str))
    comm_hh = pd.Series(hh).groupby(pkey).sum()
    placed = comm_hh[comm_hh > 0].index
    lost = table.index.difference(placed)
    lost = lost[table.loc[lost].sum(axis=1).to_numpy() > 0] if len(lost) else lost
    if len(lost):
        names = ["".join(k) if isinstance(k, tuple) else k for k in lost[:5]]
        warnings.warn(f"births: {len(lost)} 社区/村 with births but no households in parcels "
                      f"({', '.join(names)}…); their births are left out", ZoningWarning,
                      stacklevel=3)
    # share of its 社区's households each parcel holds; births of the 社区 follow that share
    denom = comm_hh.reindex(pkey).to_numpy()
    share = np.divide(hh, denom, out=np.zeros_like(hh), where=denom > 0)
    per_parcel = table.reindex(pkey).fillna(0).to_numpy() * share[:, None]
    out = pd.DataFrame(per_parcel, index=parcels.index, columns=table.columns)
    out.columns.name = "year"
    return out


# ------------------------------------------------------------------------------ shared context
@dataclass(frozen=True)
class _Context:
    level: str
    grade: int
    offset: int
    links: pd.DataFrame  # zone_id, school_id, share
    zone_births: pd.DataFrame  # zone × birth year
    school_births: pd.DataFrame  # school × birth year, shared by intake
    intake: pd.DataFrame  # school × year, observed starting-grade students
    zone_of: pd.Series  # parcel → zone


def _intake(enrolment, grade, schools) -> pd.DataFrame:
    e = enrolment[enrolment["grade"] == grade]
    wide = e.pivot_table(index="school_id", columns="year", values="students", aggfunc="sum")
    return wide.reindex(schools).astype(float)


def _context(dataset, level: str, *, fit_until: int | None) -> _Context:
    spec = _LEVELS[level]
    zones = dataset.zones[dataset.zones["level"] == level]
    links = zone_schools(zones)[["zone_id", "school_id"]]
    zone_of = _assign(dataset, level)
    zb = _births_by_zone(dataset, level, zone_of)
    # Schools of the level that no zone names (private schools: seeds 000 四(二), they admit
    # from the whole district) have the district's births as their "zone": their entry ratio
    # is their intake ÷ all births, and new housing is not credited to them.
    enrol = dataset.tables["enrolment"]
    has_intake = set(enrol.loc[enrol["grade"] == spec["grade"], "school_id"].astype(str))
    serving = dataset.schools.index[_serving(dataset.schools, level)]
    zoned = set(links["school_id"])
    unzoned = [s for s in serving if s not in zoned and s in has_intake]
    if unzoned:
        zb.loc[_DISTRICT] = zb.sum(axis=0)
        links = pd.concat([links, pd.DataFrame({"zone_id": _DISTRICT, "school_id": unzoned})],
                          ignore_index=True)
    schools = pd.Index(pd.unique(links["school_id"]), name="school_id")
    intake = _intake(enrol, spec["grade"], schools)
    fit = intake if fit_until is None else intake.loc[:, intake.columns <= fit_until]
    # 多校划片: a zone's births are shared among its schools in proportion to their observed
    # starting-grade intake over the fitted years (equally when none is observed)
    weight = fit.sum(axis=1, min_count=1).fillna(0).reindex(links["school_id"]).to_numpy()
    total = pd.Series(weight).groupby(links["zone_id"].to_numpy()).transform("sum").to_numpy()
    n = links.groupby("zone_id")["school_id"].transform("size").to_numpy()
    share = np.where(total > 0, weight / np.where(total > 0, total, 1), 1.0 / n)
    links = links.assign(share=share)
    sb = (zb.reindex(links["zone_id"]).mul(share, axis=0)
          .groupby(links["school_id"].to_numpy()).sum().reindex(schools))
    sb.index.name, sb.columns.name = "school_id", "year"
    return _Context(level, spec["grade"], spec["offset"], links, zb, sb, intake, zone_of)


def _ratios(ctx: _Context, *, fit_until: int | None, fallback_cv: float) -> pd.DataFrame:
    years = [y for y in ctx.intake.columns if fit_until is None or y <= fit_until]
    born = [y - ctx.offset for y in years]
    births = ctx.school_births.reindex(columns=born).to_numpy()
    obs = ctx.intake[years].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(births > 0, obs / births, np.nan)
    by_year = pd.DataFrame(r, index=ctx.intake.index, columns=years)
    valid = by_year.columns[by_year.notna().any(axis=0)]
    if len(valid) == 0:
        have = list(ctx.school_births.columns)
        seen = f"enrolment years {min(years)}–{max(years)}" if years else "no enrolment year"
        upto = "" if fit_until is None else f" ≤ {fit_until}"
        raise ValidationError(
            f"entry ratios ({ctx.level}): no year{upto} has both grade-{ctx.grade} intake "
            f"({seen}) and births {ctx.offset} years earlier (births table covers "
            f"{min(have)}–{max(have)}); import older births or enrolment history")
    # the last 3 years that have any ratio at all (later years first)
    last = by_year[list(valid[-_WINDOW:])]
    mean = last.mean(axis=1)
    std = last.std(axis=1, ddof=1)
    n = last.notna().sum(axis=1)
    cv = (std / mean).replace([np.inf, -np.inf], np.nan).dropna()
    # one ratio year gives no spread: borrow the level's median relative spread
    cv_fill = float(cv.median()) if len(cv) else fallback_cv
    imputed = mean.isna()
    mean = mean.fillna(float(mean.median()) if mean.notna().any() else 1.0)
    std = std.where(n >= 2, mean * cv_fill)
    out = by_year.copy()
    out["mean"], out["std"], out["n_years"], out["imputed"] = mean, std, n, imputed
    return out


def entry_ratios(dataset, *, level: str, fit_until: int | None = None,
                 fallback_cv: float = 0.10) -> pd.DataFrame:
    """Entry ratio of every school of ``level``: starting-grade intake ÷ births of its zone(s).

    ratio(s, y) = students in the starting grade of school ``s`` in year ``y`` ÷ births of its
    zone(s) in ``y − offset`` (grade 1: 6 years, grade 7: 12 years). A 多校划片 zone's births are
    shared among its schools in proportion to their observed intake over the fitted years. A
    nine-year school is a primary school for ``level="primary"`` (grade 1) and a junior school
    for ``level="junior"`` (grade 7).

    Parameters
    ----------
    dataset : zoning.store.Dataset
        With tables ``births`` and ``enrolment``.
    level : {"primary", "junior"}
        The level.
    fit_until : int, optional
        Use history years up to this one (all by default); :func:`backtest` holds out the rest.
    fallback_cv : float
        Relative spread (std ÷ mean) used when no school has two ratio years, e.g. junior in the
        demo, where births start in 2014 so only the 2026 grade-7 intake can be matched.

    Returns
    -------
    pandas.DataFrame
        Index ``school_id``; one column per history year (int) with that year's ratio (NaN where
        births or intake are missing), then ``mean`` and ``std`` (ddof 1) of the last 3 years
        with a ratio, ``n_years`` used and ``imputed``. A school with fewer than 2 ratio years
        gets ``mean × median(std/mean)`` of the other schools as its std; a school with none
        (``imputed``) gets the median ratio of the level.

    Raises
    ------
    ValidationError
        Missing tables or columns, unknown level, or no year where intake and births meet.
    """
    _check(dataset, level)
    ctx = _context(dataset, level, fit_until=fit_until)
    return _ratios(ctx, fit_until=fit_until, fallback_cv=fallback_cv)


# ------------------------------------------------------------------------------ forecast
def _extend(values: np.ndarray, have: list[int], want: list[int]):
    """Births for the wanted years: observed, or the last value + h × mean of the last 3 changes.

    Returns the point values, the horizon ``h`` of each wanted year (0 when observed) and the
    std of the last 3 changes of each row (the step of a random walk around the trend).
    """
    col = {y: i for i, y in enumerate(have)}
    early = [y for y in want if y < have[0]]
    if early:
        raise ValidationError(
            f"births for {min(early)}–{max(early)} are needed but the births table starts in "
            f"{have[0]}; import older births or forecast from a later base_year")
    tail = values[:, -(_WINDOW + 1):]
    steps = np.diff(tail, axis=1)
    slope = steps.mean(axis=1) if steps.shape[1] else np.zeros(len(values))
    step_sd = steps.std(axis=1, ddof=1) if steps.shape[1] >= 2 else np.zeros(len(values))
    h = np.array([max(0, y - have[-1]) for y in want])
    point = np.empty((len(values), len(want)))
    for j, y in enumerate(want):
        point[:, j] = values[:, col[y]] if y in col else values[:, -1] + h[j] * slope
    return np.clip(point, 0, None), h, np.nan_to_num(step_sd)


def _new_households(dataset, ctx: _Context, base_year: int, years: list[int]) -> np.ndarray:
    """Households completed after ``base_year`` and by each year, per link of ``ctx.links``.

    A link (zone, school) gets its ``share`` of the zone's new households.
    """
    housing = dataset.tables.get("housing")
    if housing is None or len(housing) == 0:
        return np.zeros((len(ctx.links), len(years)))
    unknown = sorted(set(housing["parcel_id"]) - set(dataset.parcels.index))
    if unknown:
        raise ValidationError(f"table 'housing': parcel(s) {', '.join(map(str, unknown[:5]))} "
                              "are not in the parcels layer; fix the parcel ids")
    zone = ctx.zone_of.reindex(housing["parcel_id"]).to_numpy()
    yr = housing["year"].to_numpy()
    hh = pd.to_numeric(housing["households"], errors="coerce").fillna(0).to_numpy(float)
    keep = pd.notna(zone) & (yr > base_year)
    by_zone = pd.DataFrame({"zone": zone[keep], "year": yr[keep], "hh": hh[keep]})
    cum = (by_zone.pivot_table(index="zone", columns="year", values="hh", aggfunc="sum")
           .reindex(columns=range(base_year + 1, max(years) + 1), fill_value=0).fillna(0)
           .cumsum(axis=1)[years])
    return cum.reindex(ctx.links["zone_id"]).fillna(0).to_numpy() * ctx.links[
        "share"].to_numpy()[:, None]


def _by_school(ctx: _Context, per_link: np.ndarray) -> np.ndarray:
    """Sum a links × years matrix to schools (in ``ctx.school_births`` order)."""
    return (pd.DataFrame(per_link).groupby(ctx.links["school_id"].to_numpy()).sum()
            .reindex(ctx.school_births.index).fillna(0).to_numpy())


def forecast(dataset, *, level: str, years: int = 6, base_year: int | None = None,
             children_per_household: float = 0.06, n_sims: int = 2000, seed: int = 0,
             settings: CapacitySettings | None = None, fallback_cv: float = 0.10,
             by: str = "school") -> pd.DataFrame:
    """Forecast starting-grade demand of every school (or zone) of ``level`` with an 80 % interval.

    Parameters
    ----------
    dataset : zoning.store.Dataset
        Layers ``schools`` (with planned classes), ``zones``, ``parcels``; tables ``births``,
        ``enrolment`` and optionally ``housing``.
    level : {"primary", "junior"}
        Grade 1 (births 6 years earlier) or grade 7 (births 12 years earlier).
    years : int
        Forecast years ``base_year + 1 … base_year + years``.
    base_year : int, optional
        The last year treated as known (default: the last enrolment year); ratios are fitted on
        years up to it and housing completed after it is new.
    children_per_household : float
        Yield of new housing: children of the starting grade's age entering per year per new
        household. A household completed in or before year Y adds this many entrants in Y and
        every later year (families arrive with children of all ages, so each cohort gets a
        share). 0.06 ≈ a 2.5-person household with one child in a 6-year school age band, and
        not all of them enrolled locally.
    n_sims : int
        Draws of the simulation behind ``lo``, ``hi`` and ``p_red``.
    seed : int
        Seed of ``numpy.random.default_rng``; stored in ``result.attrs["seed"]``.
    settings : zoning.capacity.CapacitySettings, optional
        Class caps (seats = planned classes × cap) and the warning thresholds on demand ÷ seats
        (DESIGN 学位预警: red ≥ 1.0, yellow ≥ 0.9), as :func:`zoning.capacity.capacity_table`.
    fallback_cv : float
        See :func:`entry_ratios`.
    by : {"school", "zone"}
        One row per school and year, or per zone and year. A zone's demand is what it sends to
        its schools: for each of its schools, the zone's share of that school's births × the
        school's entry ratio, plus the zone's new households × ``children_per_household``; the
        zone interval comes from the same simulation draws, so zones and schools agree. Schools
        with no zone (private) belong to no zone.

    Returns
    -------
    pandas.DataFrame
        ``by="zone"``: ``zone_id``, ``year``, ``demand``, ``lo``, ``hi``, ``birth_year``,
        ``births``, ``extrapolated``, ``new_households``.
        ``by="school"``: long format, one row per (school, year): ``school_id``, ``year``, ``demand`` (point),
        ``lo`` and ``hi`` (10th and 90th percentile), ``seats``, ``ratio`` (demand ÷ seats),
        ``p_red`` (P(demand ≥ red × seats)), ``warning`` (green/yellow/red of ``ratio``),
        ``birth_year``, ``births`` (zone births shared to the school), ``extrapolated`` (births
        beyond the table) and ``new_households``.

    Raises
    ------
    ValidationError
        Missing tables, columns or zones (all listed together), unknown level, births needed
        before the table starts, housing on unknown parcels.

    Notes
    -----
    demand(s, Y) = births(s, Y − offset) × mean entry ratio(s) + new households(s, ≤ Y) ×
    ``children_per_household``. A school that no zone names (a private school, admitting from the
    whole district) takes the district's births as its births and no new-housing term.

    The interval comes from one simulation, vectorised over schools, years and draws: ratio ~
    Normal(mean, std) clipped at 0, one draw per school held for all years. Births beyond the table
    (grade 1 in 2032 needs births of 2026) are extended by the mean of the last 3 years' change, and
    the interval widens with the horizon ``h``: the simulated births are the trend plus a random
    walk whose step is the std of those changes. ``lo``/``hi`` are widened to include the point
    where the clipped, skewed draws would leave it just outside. Seats are planned classes × cap (45
    / 50) for the first forecast year; later years assume the same plan.
    """
    if by not in ("school", "zone"):
        raise ValidationError(f"by={by!r}: use 'school' or 'zone'")
    _check(dataset, level, plan=True)
    settings = settings or CapacitySettings()
    red = settings.red
    spec = _LEVELS[level]
    enrol_years = dataset.tables["enrolment"]["year"]
    base = int(enrol_years.max()) if base_year is None else int(base_year)
    ctx = _context(dataset, level, fit_until=base)
    rat = _ratios(ctx, fit_until=base, fallback_cv=fallback_cv)
    fyears = list(range(base + 1, base + years + 1))
    born = [y - ctx.offset for y in fyears]
    have = [int(c) for c in ctx.school_births.columns]
    b_point, h, step_sd = _extend(ctx.school_births.to_numpy(), have, born)
    link_hh = _new_households(dataset, ctx, base, fyears)
    new_hh = _by_school(ctx, link_hh)
    extra = new_hh * children_per_household
    mean = rat["mean"].to_numpy(float)
    std = np.nan_to_num(rat["std"].to_numpy(float))
    demand = b_point * mean[:, None] + extra
    seats = (pd.to_numeric(dataset.schools[spec["plan"]], errors="coerce").fillna(0)
             .reindex(ctx.school_births.index).fillna(0).to_numpy(float) * settings.cap(level))

    rng = np.random.default_rng(seed)
    r_sim = np.clip(mean + std * rng.standard_normal((n_sims, mean.size)), 0, None)
    b_sim = np.broadcast_to(b_point, (n_sims, *b_point.shape))
    hmax = int(h.max()) if h.size else 0
    if hmax > 0:
        walk = rng.standard_normal((n_sims, mean.size, hmax)).cumsum(axis=2)
        steps = np.where(h > 0, h - 1, 0)
        noise = walk[:, :, steps] * (h > 0) * step_sd[None, :, None]
        b_sim = np.clip(b_point + noise, 0, None)
    if by == "zone":
        return _zone_table(ctx, have, born, fyears, h, b_point, b_sim, r_sim, mean, link_hh,
                           children_per_household, attrs={
                               "seed": seed, "n_sims": n_sims, "base_year": base,
                               "level": level, "by": "zone",
                               "children_per_household": children_per_household})
    d_sim = r_sim[:, :, None] * b_sim + extra
    lo, hi = np.percentile(d_sim, [10, 90], axis=0)
    # no seats and no demand is not red (capacity's "none"); any demand without seats is
    p_red = ((d_sim >= red * seats[None, :, None]) & (d_sim > 0)).mean(axis=0)

    n_s, n_y = demand.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = demand / seats[:, None]  # x/0 → inf (red), 0/0 → NaN ("none"), as capacity
    out = pd.DataFrame({
        "school_id": np.repeat(ctx.school_births.index.to_numpy(), n_y),
        "year": np.tile(fyears, n_s),
        "demand": demand.ravel(),
        "lo": np.minimum(lo, demand).ravel(),
        "hi": np.maximum(hi, demand).ravel(),
        "seats": np.repeat(seats, n_y).astype(int),
        "ratio": ratio.ravel(),
        "p_red": p_red.ravel(),
        "warning": warning_levels(ratio.ravel(), yellow=settings.yellow, red=red),
        "birth_year": np.tile(born, n_s),
        "births": b_point.ravel(),
        "extrapolated": np.tile(h > 0, n_s),
        "new_households": new_hh.ravel(),
    })
    out.attrs.update(seed=seed, n_sims=n_sims, base_year=base, level=level,
                     children_per_household=children_per_household)
    return out


def parcel_demand(dataset, *, level: str, year: int | None = None,
                  children_per_household: float = 0.06, base_year: int | None = None,
                  fallback_cv: float = 0.10) -> pd.Series:
    """Expected starting-grade pupils of each parcel in ``year``: the demand that moves with it.

    A parcel's demand is its households' share of its 社区's births ``offset`` years earlier
    (extended like the zone's births beyond the table) × the entry ratio of its zone (the
    zone's schools' ratios weighted by their share of the zone), plus its households completed
    after ``base_year`` and by ``year`` × ``children_per_household``. Summed over a zone's
    parcels this is the zone's point forecast (:func:`forecast` with ``by="zone"``), so moving a
    parcel to another zone moves exactly its demand. Simulation and the optimiser use it.

    Parameters
    ----------
    dataset : zoning.store.Dataset
    level : {"primary", "junior"}
    year : int, optional
        Intake year (default: the year after the last enrolment year).
    children_per_household, base_year, fallback_cv
        As :func:`forecast`.

    Returns
    -------
    pandas.Series
        Float demand indexed by ``parcel_id`` (every parcel; 0 for parcels in no zone), name
        ``demand``; ``attrs`` holds ``year`` and ``level``.
    """
    _check(dataset, level)
    enrol_years = dataset.tables["enrolment"]["year"]
    base = int(enrol_years.max()) if base_year is None else int(base_year)
    year = base + 1 if year is None else int(year)
    if year <= base:
        raise ValidationError(f"parcel_demand: year={year} must be after the base year {base}")
    ctx = _context(dataset, level, fit_until=base)
    rat = _ratios(ctx, fit_until=base, fallback_cv=fallback_cv)
    born = year - ctx.offset
    have = [int(c) for c in ctx.zone_births.columns]
    zb_point, _, _ = _extend(ctx.zone_births.to_numpy(), have, [born])
    zb = pd.Series(zb_point[:, 0], index=ctx.zone_births.index)
    pb = _parcel_births(dataset)
    col = born if born in pb.columns else pb.columns[-1]  # the last observed split of births
    zone = ctx.zone_of.reindex(dataset.parcels.index)
    parcel_b = pb[col].reindex(dataset.parcels.index).fillna(0.0)
    zone_obs = parcel_b.groupby(zone).sum()
    scale = (zb / zone_obs.reindex(zb.index)).replace([np.inf, -np.inf], np.nan).fillna(0.0)
    links = ctx.links[ctx.links["zone_id"] != _DISTRICT]
    zone_ratio = (links["share"] * links["school_id"].map(rat["mean"])).groupby(
        links["zone_id"]).sum()
    births = parcel_b * zone.map(scale).fillna(0.0).to_numpy()
    demand = births * zone.map(zone_ratio).fillna(0.0).to_numpy()
    housing = dataset.tables.get("housing")
    if housing is not None and len(housing):
        new = housing[(housing["year"] > base) & (housing["year"] <= year)]
        hh = pd.to_numeric(new["households"], errors="coerce").fillna(0).groupby(
            new["parcel_id"].to_numpy()).sum()
        hh = hh.reindex(dataset.parcels.index).fillna(0.0)
        demand = demand + hh.where(zone.notna(), 0.0) * children_per_household
    demand = demand.where(zone.notna(), 0.0).astype(float).rename("demand")
    demand.index.name = "parcel_id"
    demand.attrs.update(year=year, level=level, base_year=base)
    return demand


def _zone_table(ctx, have, born, fyears, h, b_point, b_sim, r_sim, mean, link_hh, yield_,
                attrs) -> pd.DataFrame:
    """Zone rows of :func:`forecast`: each link's part of its school's births and draws."""
    links = ctx.links
    real = (links["zone_id"] != _DISTRICT).to_numpy()
    zb = ctx.zone_births
    zb_point, _, _ = _extend(zb.to_numpy(), have, born)
    zrow = zb.index.get_indexer(links["zone_id"])
    srow = ctx.school_births.index.get_indexer(links["school_id"])
    link_b = zb_point[zrow] * links["share"].to_numpy()[:, None]  # links × years
    school_b = _by_school(ctx, link_b)
    # each link's fraction of its school's births (the school's own point and draws are split)
    frac = np.divide(link_b, school_b[srow], out=np.zeros_like(link_b), where=school_b[srow] > 0)
    frac, srow, link_hh = frac[real], srow[real], link_hh[real]
    extra = link_hh * yield_
    point = frac * b_point[srow] * mean[srow, None] + extra
    d_sim = r_sim[:, srow, None] * frac[None] * b_sim[:, srow] + extra
    zone_ids = links["zone_id"].to_numpy()[real]
    zones = pd.Index(zb.index[zb.index != _DISTRICT], name="zone_id")

    def per_zone(m):  # links × ... → zones × ...
        flat = m.reshape(m.shape[0], -1)
        return (pd.DataFrame(flat).groupby(zone_ids).sum().reindex(zones).fillna(0)
                .to_numpy().reshape((len(zones), *m.shape[1:])))

    demand = per_zone(point)
    sims = per_zone(np.moveaxis(d_sim, 0, 1))  # zones × sims × years
    lo, hi = np.percentile(sims, [10, 90], axis=1)
    births = per_zone(frac * b_point[srow])
    n_z, n_y = demand.shape
    out = pd.DataFrame({
        "zone_id": np.repeat(zones.to_numpy(), n_y),
        "year": np.tile(fyears, n_z),
        "demand": demand.ravel(),
        "lo": np.minimum(lo, demand).ravel(),
        "hi": np.maximum(hi, demand).ravel(),
        "birth_year": np.tile(born, n_z),
        "births": births.ravel(),
        "extrapolated": np.tile(h > 0, n_z),
        "new_households": per_zone(link_hh).ravel(),
    })
    out.attrs.update(attrs)
    return out


# ------------------------------------------------------------------------------ later grades
def progression_ratios(dataset) -> pd.DataFrame:
    """Cohort progression of every school: students(g, y) ÷ students(g − 1, y − 1).

    The mean over the last 3 years that have both counts. Grades 1 and 7 are starting grades
    (from :func:`forecast`), so they have no progression ratio.

    Returns
    -------
    pandas.DataFrame
        Index ``school_id``, columns grades 2–6 and 8–9 (those present), NaN where a school
        has no such grade.

    Raises
    ------
    ValidationError
        Missing ``enrolment`` table or columns.
    """
    _check_enrolment(dataset)
    e = dataset.tables["enrolment"]
    wide = e.pivot_table(index="school_id", columns=["grade", "year"], values="students",
                         aggfunc="sum")
    out = {}
    for g in sorted(set(e["grade"]) - {1, 7}):
        if g - 1 not in set(e["grade"]):
            continue
        now, prev = wide[g], wide[g - 1]
        years = [y for y in now.columns if y - 1 in prev.columns]
        if not years:
            continue
        prev_v = prev[[y - 1 for y in years]].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(prev_v > 0, now[years].to_numpy() / prev_v, np.nan)
        r = pd.DataFrame(r, index=wide.index, columns=years)
        valid = r.columns[r.notna().any(axis=0)]
        out[g] = r[list(valid[-_WINDOW:])].mean(axis=1)
    frame = pd.DataFrame(out)
    frame.index.name, frame.columns.name = "school_id", "grade"
    return frame


def _check_enrolment(dataset) -> None:
    e = dataset.tables.get("enrolment")
    if e is None:
        raise ValidationError("forecast: table 'enrolment': missing from the dataset; import it "
                              "with columns school_id, year, grade, students")
    lacking = [c for c in _COLUMNS["enrolment"] if c not in e.columns]
    if lacking:
        raise ValidationError(f"forecast: table 'enrolment': missing column(s) "
                              f"{', '.join(lacking)}")


def forecast_grades(dataset, *, level: str, years: int = 6, **kwargs) -> pd.DataFrame:
    """Every grade of ``level`` projected by cohort progression from the last observed year.

    students(g, Y) = students(g − 1, Y − 1) × progression(s, g); the starting grade is the point
    ``demand`` of :func:`forecast` (which gets ``**kwargs``). A school missing a progression
    ratio (no earlier grade) uses the median of the level's schools for that grade.

    Returns
    -------
    pandas.DataFrame
        Long format: ``school_id``, ``year``, ``grade``, ``students`` (float, point).
    """
    fc = forecast(dataset, level=level, years=years, n_sims=kwargs.pop("n_sims", 200), **kwargs)
    spec = _LEVELS[level]
    base = fc.attrs["base_year"]
    schools = pd.Index(pd.unique(fc["school_id"]), name="school_id")
    prog = progression_ratios(dataset).reindex(schools)
    e = dataset.tables["enrolment"]
    last = (e[e["year"] == base].pivot_table(index="school_id", columns="grade",
                                             values="students", aggfunc="sum")
            .reindex(index=schools, columns=list(spec["grades"])).fillna(0).to_numpy(float))
    start = fc.pivot(index="school_id", columns="year", values="demand").reindex(schools)
    grades = spec["grades"]
    p = np.ones((len(schools), len(grades)))
    for k, g in enumerate(grades[1:], start=1):
        col = prog[g] if g in prog.columns else pd.Series(np.nan, index=schools)
        p[:, k] = col.fillna(col.median() if col.notna().any() else 1.0).to_numpy()
    rows, cur = [], last
    for y in start.columns:
        nxt = np.empty_like(cur)
        nxt[:, 0] = start[y].to_numpy()
        nxt[:, 1:] = cur[:, :-1] * p[:, 1:]
        rows.append(pd.DataFrame({"school_id": np.repeat(schools.to_numpy(), len(grades)),
                                  "year": y, "grade": np.tile(grades, len(schools)),
                                  "students": nxt.ravel()}))
        cur = nxt
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------ backtest
@dataclass(frozen=True)
class BacktestResult:
    """Out-of-sample error of the starting-grade forecast.

    Attributes
    ----------
    per_school : pandas.DataFrame
        ``school_id``, ``year``, ``forecast``, ``lo``, ``hi``, ``observed``, ``abs_pct_error``
        (NaN where nothing was observed, or 0 students).
    mape : float
        Mean absolute percentage error over the rows with an error, as a fraction (0.05 = 5 %).
    level : str
    holdout : int
    """

    per_school: pd.DataFrame
    mape: float
    level: str
    holdout: int


def backtest(dataset, *, level: str, holdout: int = 1, **kwargs) -> BacktestResult:
    """Hold out the last ``holdout`` enrolment year(s), refit, forecast them and compare.

    Entry ratios are refitted on the years before the held-out ones (births, housing and the
    plan are as given); ``**kwargs`` go to :func:`forecast`.

    Raises
    ------
    ValidationError
        As :func:`forecast`; also when no earlier year can be fitted (e.g. junior in the demo:
        births start in 2014, so only the 2026 grade-7 intake has births 12 years earlier).

    Examples
    --------
    >>> from zoning.demo import build_demo  # doctest: +SKIP
    >>> backtest(build_demo(seed=7), level="primary").mape  # doctest: +SKIP
    0.03...
    """
    _check(dataset, level, plan=True)
    if holdout < 1:
        raise ValidationError(f"backtest: holdout={holdout}; expected at least 1 year")
    last = int(dataset.tables["enrolment"]["year"].max())
    base = last - holdout
    fc = forecast(dataset, level=level, years=holdout, base_year=base, **kwargs)
    e = dataset.tables["enrolment"]
    obs = (e[e["grade"] == _LEVELS[level]["grade"]].groupby(["school_id", "year"])["students"]
           .sum())
    key = pd.MultiIndex.from_arrays([fc["school_id"], fc["year"]])
    observed = obs.reindex(key).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(observed > 0, np.abs(fc["demand"].to_numpy() - observed) / observed,
                       np.nan)
    per = pd.DataFrame({"school_id": fc["school_id"], "year": fc["year"],
                        "forecast": fc["demand"], "lo": fc["lo"], "hi": fc["hi"],
                        "observed": observed, "abs_pct_error": ape})
    mape = float(np.nanmean(ape)) if np.isfinite(ape).any() else float("nan")
    return BacktestResult(per, mape, level, holdout)
