"""Lookup with explanation: an address, a 不动产单元号 or a point → zone → school, and why.

A parent asks "which school is mine"; the answer names, per level (primary, junior), the zone, its
school(s), how it was decided, the distance to each school, and what to do when it looks wrong.

How a query is resolved:

- **不动产单元号 / 宗地代码** — the unit resolves to its 宗地 (the first 19 characters, GB/T
  37346-2019); the parcel goes to the zone it overlaps most (method ``parcel``).
- **Address text** — matched to the district's address table (exact, then fuzzy with a score);
  the address's parcel decides as above; an address without a parcel is located by its point
  (method ``address_point``). An address that cannot be matched returns candidates and a reason,
  never a school.
- **A point** (lon/lat in WGS-84, CGCS2000, GCJ-02 or BD-09) — the zone containing it (method
  ``point``); a point exactly on a shared boundary is flagged.

When published 划片 text rules are given, they are a second source of truth: the answer says
whether the rules agree with the geometry (seeds 000 五(一): zones are published in advance).
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import shapely

from zoning.address import AddressIndex, match_rules
from zoning.assign import Locator, assign_parcels
from zoning.crs import to_working
from zoning.errors import UnitCodeError, ValidationError
from zoning.settings import LEVELS
from zoning.store import Dataset
from zoning.unitcode import parse as parse_unitcode
from zoning.zones import zone_schools

__all__ = ["LevelAnswer", "LookupResult", "Resolver", "SchoolAnswer", "lookup"]

_LEVEL_ZH = {"primary": "小学", "junior": "初中"}
_METHOD_ZH = {
    "parcel": "按房屋所在宗地的范围判断",
    "address_point": "按地址坐标点所在片区判断",
    "point": "按所选位置所在片区判断",
}
_WHAT_IF_WRONG = ("如认为结果有误，请联系所在区县教委招生咨询电话核实；招生以区县教育部门公布的"
                  "招生服务片区为准。")


@dataclass(frozen=True)
class SchoolAnswer:
    """One 对口 school of a zone."""

    school_id: str
    name: str
    level: str
    distance_m: float | None
    warning: str | None = None
    warning_zh: str | None = None


@dataclass(frozen=True)
class LevelAnswer:
    """The answer for one level (primary or junior)."""

    level: str
    zone_id: str | None
    zone_name: str | None
    schools: tuple[SchoolAnswer, ...]
    method: str | None
    share: float | None
    on_boundary: bool
    rules_agree: bool | None
    explanation_zh: str


@dataclass(frozen=True)
class LookupResult:
    """What :func:`lookup` found, per level, with the reasons.

    ``found`` is False when the query could not be placed; then ``reason``/``reason_zh`` say why and
    ``candidates`` lists near matches for an address.
    """

    query: str
    kind: str
    found: bool
    reason: str
    reason_zh: str
    x: float | None = None
    y: float | None = None
    parcel_id: str | None = None
    address_id: str | None = None
    matched_address: str | None = None
    match_score: float | None = None
    levels: dict[str, LevelAnswer] = field(default_factory=dict)
    candidates: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """JSON-ready form."""
        out = asdict(self)
        out["candidates"] = (None if self.candidates is None
                             else self.candidates.to_dict("records"))
        return out


class Resolver:
    """Everything a lookup needs, built once per dataset: locators, address index, zone facts.

    Parameters
    ----------
    dataset : Dataset
        The district.
    rules : dict, optional
        Published 划片 text rules per level (``{"primary": [Rule, ...]}``) to cross-check with.
    """

    def __init__(self, dataset: Dataset, *, rules: dict | None = None):
        self.dataset = dataset
        self.rules = rules or {}
        zones = dataset.zones
        self.locators = {lv: Locator.from_zones(zones, level=lv) for lv in LEVELS
                         if (zones["level"] == lv).any()}
        self._addresses: AddressIndex | None = None
        self.links = zone_schools(zones)
        self._parcel_zone: dict[str, pd.DataFrame] = {}
        self._warnings: dict[str, pd.Series | None] = {}
        # per (level, zone_id): zone name and its schools' facts; lookups are answered one at a
        # time (a parent, the HTTP service), and pandas scalar access per query dominated them
        self._zone_facts: dict[tuple[str, str], tuple[str, tuple]] = {}

    @property
    def addresses(self) -> AddressIndex:
        """The address index, built on first use (point and parcel queries never need it)."""
        if self._addresses is None:
            self._addresses = AddressIndex.from_frame(self.dataset.addresses)
        return self._addresses

    @functools.cached_property
    def intake_year(self) -> int | None:
        """The coming intake: the year after the last enrolment year (None without enrolment)."""
        enrol = self.dataset.tables.get("enrolment")
        if enrol is None or not len(enrol):
            return None
        return int(pd.to_numeric(enrol["year"], errors="coerce").max()) + 1

    def warnings(self, level: str) -> pd.Series | None:
        """学位预警 of every school for the coming intake (seeds 000 五(一)), computed once.

        From :func:`zoning.capacity.capacity_for_year` (the forecast, as published). None when
        the dataset cannot support it (no enrolment, births or planned classes): lookups then
        simply say nothing about capacity.
        """
        if level not in self._warnings:
            from zoning.capacity import capacity_for_year

            year = self.intake_year
            try:
                table = (None if year is None
                         else capacity_for_year(self.dataset, level=level, year=year))
            except ValidationError:
                table = None
            self._warnings[level] = None if table is None else table["warning"]
        return self._warnings[level]

    # --------------------------------------------------------------------- queries
    def lookup(self, *, address: str | None = None, parcel: str | None = None,
               lonlat: tuple[float, float] | None = None, coords: str = "wgs84") -> LookupResult:
        """See :func:`lookup`."""
        given = [q for q in (address, parcel, lonlat) if q is not None]
        if len(given) != 1:
            raise ValidationError("lookup: give exactly one of address=, parcel= or lonlat=")
        if parcel is not None:
            return self._by_parcel(str(parcel))
        if address is not None:
            return self._by_address(str(address))
        return self._by_point(lonlat, coords)

    def _by_parcel(self, code: str, *, query: str | None = None, kind: str = "parcel",
                   **extra) -> LookupResult:
        try:
            uc = parse_unitcode(code, allow_parcel=True)
        except UnitCodeError as exc:
            return LookupResult(query=query or code, kind=kind, found=False, reason=str(exc),
                                reason_zh=exc.message_zh)
        pid = uc.parcel_code
        parcels = self.dataset.parcels
        if pid not in parcels.index:
            return LookupResult(
                query=query or code, kind=kind, found=False,
                reason=f"parcel {pid} is not in this district's parcel layer "
                       f"({uc.county_name or uc.county}); check the code or the district",
                reason_zh=f"本区宗地库中没有宗地代码 {pid}（{uc.county_name or uc.county}）。"
                          "请核对不动产权证书上的不动产单元号，或确认所选区县是否正确。")
        geom = parcels.geometry.loc[pid]
        pt = shapely.point_on_surface(geom)
        levels = {}
        for lv in self.locators:
            row = self._parcel_assignment(lv).loc[pid]
            levels[lv] = self._answer(lv, row["zone_id"], pt.x, pt.y, method="parcel",
                                      share=float(row["share"]), on_boundary=False)
        return LookupResult(query=query or code, kind=kind, found=True, reason="ok",
                            reason_zh="已找到", x=pt.x, y=pt.y, parcel_id=pid, levels=levels,
                            **extra)

    def _parcel_assignment(self, level: str) -> pd.DataFrame:
        if level not in self._parcel_zone:
            self._parcel_zone[level] = assign_parcels(self.dataset.parcels, self.dataset.zones,
                                                      level=level)
        return self._parcel_zone[level]

    def _by_address(self, text: str) -> LookupResult:
        m = self.addresses.match(text)
        extra = {"address_id": m.address_id, "match_score": float(m.score),
                 "candidates": m.candidates}
        if m.address_id is not None:
            extra["matched_address"] = str(self.dataset.addresses.at[m.address_id, "address"])
        if m.parcel_id is not None and m.parcel_id in self.dataset.parcels.index:
            res = self._by_parcel(m.parcel_id, query=text, kind="address", **extra)
            return self._with_rules(res, text)
        if m.address_id is not None:
            p = self.dataset.addresses.geometry.loc[m.address_id]
            res = self._at(p.x, p.y, query=text, kind="address", method="address_point", **extra)
            return self._with_rules(res, text)
        return LookupResult(query=text, kind="address", found=False, reason=m.reason,
                            reason_zh=m.reason_zh, candidates=m.candidates,
                            match_score=float(m.score))

    def _by_point(self, lonlat, coords) -> LookupResult:
        try:
            lon, lat = (float(v) for v in lonlat)
        except (TypeError, ValueError):
            raise ValidationError(f"lonlat={lonlat!r}: give two numbers, longitude then "
                                  "latitude, e.g. (106.63, 29.72)") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError(f"lonlat=({lon}, {lat}) is not a longitude/latitude; "
                                  "give longitude first, in degrees")
        x, y = to_working(lon, lat, source=coords)
        return self._at(float(x), float(y), query=f"{lon},{lat} ({coords})", kind="point",
                        method="point")

    def _at(self, x, y, *, query, kind, method, **extra) -> LookupResult:
        levels = {}
        for lv, loc in self.locators.items():
            zid = loc.locate_one(x, y)
            edge = bool(loc.on_boundary(np.array([x]), np.array([y]))[0]) if zid else False
            levels[lv] = self._answer(lv, zid, x, y, method=method, share=None, on_boundary=edge)
        if not any(a.zone_id for a in levels.values()):
            return LookupResult(
                query=query, kind=kind, found=False, x=x, y=y, levels=levels,
                reason="the location is outside every zone of this district",
                reason_zh="该位置不在本区任何招生服务片区内，请确认所选区县和位置。", **extra)
        return LookupResult(query=query, kind=kind, found=True, reason="ok", reason_zh="已找到",
                            x=x, y=y, levels=levels, **extra)

    def _answer(self, level, zone_id, x, y, *, method, share, on_boundary) -> LevelAnswer:
        lz = _LEVEL_ZH[level]
        if zone_id is None:
            return LevelAnswer(level, None, None, (), method, share, on_boundary, None,
                               f"未找到对口{lz}片区。" + _WHAT_IF_WRONG)
        from zoning.capacity import ADVICE_ZH

        zname, facts = self._facts(level, zone_id)
        answers = [SchoolAnswer(sid, name, slevel, round(float(np.hypot(px - x, py - y)), 1), w,
                                wzh)
                   for sid, name, slevel, px, py, w, wzh in facts]
        names = "、".join(a.name for a in answers) or "（片区未登记学校）"
        why = _METHOD_ZH.get(method, "")
        text = f"对口{lz}：{names}（{zname}，{why}"
        if share is not None and share < 0.999:
            text += f"，宗地有{share:.0%}在该片区内"
        text += "）。"
        if len(answers) > 1:
            text += "该片区为多校划片，具体学校由区县教育部门统筹安排。"
        if on_boundary:
            text += "该位置恰在片区边界上，请以区县公布的片区为准。"
        for a in answers:
            if a.warning in ("green", "yellow", "red"):
                # seeds 000 五(一)/六(一): 招生预警, to set parents' expectations
                text += (f"{a.name}{self.intake_year}年{'一' if level == 'primary' else '七'}"
                         f"年级学位预警为{a.warning_zh}：{ADVICE_ZH[a.warning]}")
        return LevelAnswer(level, zone_id, zname, tuple(answers), method, share, on_boundary,
                           None, text)

    def _facts(self, level: str, zone_id: str) -> tuple[str, tuple]:
        """Zone name and ``(school_id, name, level, x, y, warning, warning_zh)`` per school."""
        key = (level, zone_id)
        hit = self._zone_facts.get(key)
        if hit is not None:
            return hit
        from zoning.capacity import WARNING_ZH

        zones, schools = self.dataset.zones, self.dataset.schools
        sids = self.links.loc[self.links["zone_id"] == zone_id, "school_id"].tolist()
        warn = self.warnings(level)
        facts = []
        for sid in sids:
            if sid not in schools.index:
                continue
            p = schools.geometry.loc[sid]
            w = None if warn is None else warn.get(sid)
            facts.append((sid, str(schools.at[sid, "name"]), str(schools.at[sid, "level"]),
                          float(p.x), float(p.y), w, WARNING_ZH.get(w) if w else None))
        zname = str(zones.at[zone_id, "name"]) if "name" in zones.columns else zone_id
        self._zone_facts[key] = (zname, tuple(facts))
        return self._zone_facts[key]

    def _with_rules(self, res: LookupResult, text: str) -> LookupResult:
        """Cross-check the geometric answer against published text rules, when there are any."""
        if not self.rules or not res.found:
            return res
        parts = self.addresses.parse(text)
        levels = dict(res.levels)
        for lv, ans in res.levels.items():
            rules = self.rules.get(lv)
            if not rules or ans.zone_id is None:
                continue
            hits = match_rules(rules, parts)
            schools = {s.name for s in ans.schools} | {s.school_id for s in ans.schools}
            agree = bool(hits) and all(r.school in schools for r in hits)
            note = ("与公布的划片文字一致。" if agree else
                    "注意：公布的划片文字未列出该地址。" if not hits else
                    "注意：公布的划片文字指向" + "、".join(sorted({r.school for r in hits}))
                    + "，与片区图不一致，请向区县教委核实。")
            levels[lv] = LevelAnswer(ans.level, ans.zone_id, ans.zone_name, ans.schools,
                                     ans.method, ans.share, ans.on_boundary, agree,
                                     ans.explanation_zh + note)
        return LookupResult(**{**res.__dict__, "levels": levels})

    # --------------------------------------------------------------------- batches
    def assign_frame(self, frame: pd.DataFrame, *, coords: str = "wgs84") -> pd.DataFrame:
        """Assign a batch: rows with an address, a 不动产单元号/宗地代码 or lon/lat columns.

        The kind of query is read from the columns: ``address`` (or 地址), ``parcel`` /
        ``unit_code`` / ``parcel_id`` (or 不动产单元号), else ``lon``/``lat`` (or 经度/纬度).
        Everything is vectorised per kind: points through the locators, parcels through the
        precomputed parcel assignment, addresses through the index's batch matcher.

        Returns
        -------
        pandas.DataFrame
            Same index as ``frame``; per level ``{level}_zone_id`` and ``{level}_school_ids``,
            plus ``method``, ``parcel_id`` and ``reason`` (why a row was not placed).
        """
        cols = {str(c).lower(): c for c in frame.columns}
        n = len(frame)
        out = pd.DataFrame(index=frame.index)
        out["method"] = pd.Series([None] * n, index=frame.index, dtype=object)
        out["parcel_id"] = pd.Series([None] * n, index=frame.index, dtype=object)
        out["reason"] = pd.Series([None] * n, index=frame.index, dtype=object)
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        addr_col = cols.get("address") or cols.get("地址")
        code_col = next((cols[c] for c in ("parcel", "unit_code", "parcel_id", "不动产单元号")
                         if c in cols), None)
        lon_col = cols.get("lon") or cols.get("lng") or cols.get("经度")
        lat_col = cols.get("lat") or cols.get("纬度")
        if addr_col is not None:
            m = self.addresses.match_many(frame[addr_col].astype(str).tolist())
            m.index = frame.index
            pids = m["parcel_id"] if "parcel_id" in m.columns else pd.Series(None, index=m.index)
            out["parcel_id"] = pids.where(pids.isin(self.dataset.parcels.index), None)
            hit = m["address_id"].notna() & out["parcel_id"].isna()
            pts = self.dataset.addresses.geometry.reindex(m.loc[hit, "address_id"])
            x[hit.to_numpy()] = pts.x.to_numpy()
            y[hit.to_numpy()] = pts.y.to_numpy()
            out.loc[hit, "method"] = "address_point"
            out.loc[m["address_id"].isna() & out["parcel_id"].isna(), "reason"] = m["reason"]
        elif code_col is not None:
            codes = frame[code_col].astype(str).str.strip()
            from zoning.unitcode import parse_many

            parsed = parse_many(codes.tolist(), allow_parcel=True)
            parsed.index = frame.index
            ok = parsed["valid"] & parsed["parcel_code"].isin(self.dataset.parcels.index)
            out.loc[ok, "parcel_id"] = parsed.loc[ok, "parcel_code"]
            out.loc[~parsed["valid"], "reason"] = parsed.loc[~parsed["valid"], "error"]
            out.loc[parsed["valid"] & ~ok, "reason"] = "parcel not in this district"
        elif lon_col is not None and lat_col is not None:
            lon = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(float)
            lat = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(float)
            x, y = (np.asarray(v, float) for v in to_working(lon, lat, source=coords))
            out.loc[np.isfinite(x), "method"] = "point"
            out.loc[~np.isfinite(x), "reason"] = "no usable lon/lat"
        else:
            raise ValidationError(
                "assign: the input needs an address column, a parcel/unit_code column, or "
                f"lon/lat columns; found {', '.join(map(str, frame.columns))}")
        by_parcel = out["parcel_id"].notna()
        out.loc[by_parcel, "method"] = "parcel"
        schools = self.links.groupby("zone_id")["school_id"].agg(";".join)
        for lv, loc in self.locators.items():
            zid = pd.Series([None] * n, index=frame.index, dtype=object)
            pts = np.isfinite(x)
            if pts.any():
                zid[pts] = loc.locate(x[pts], y[pts])
            if by_parcel.any():
                table = self._parcel_assignment(lv)["zone_id"]
                zid[by_parcel] = table.reindex(out.loc[by_parcel, "parcel_id"]).to_numpy()
            out[f"{lv}_zone_id"] = zid
            out[f"{lv}_school_ids"] = zid.map(schools)
        placed = out[[f"{lv}_zone_id" for lv in self.locators]].notna().any(axis=1)
        out.loc[~placed & out["reason"].isna(), "reason"] = "outside every zone"
        return out

    def cross_check(self, rules, *, level: str, progress: bool = False) -> pd.DataFrame:
        """Compare published 划片 text rules with the zone geometry, address by address.

        Parameters
        ----------
        rules : list of Rule
            Parsed with :func:`zoning.address.parse_rule_list`; ``rule.school`` is a school name
            or id.
        level : {"primary", "junior"}
            The level the rules are for.
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``address_id``: ``zone_id`` and ``schools`` (by geometry), ``rule_schools``
            (by text), and ``status``: ``agree``, ``disagree`` (the text names another school),
            ``no_rule`` (no clause covers the address), ``conflict`` (clauses of several schools
            cover it), ``unzoned`` (no zone by geometry).
        """
        from tqdm.auto import tqdm

        a = self.dataset.addresses
        zid = self.locators[level].locate(a.geometry.x.to_numpy(), a.geometry.y.to_numpy())
        names = self.dataset.schools["name"]
        zone_names = (self.links.assign(name=self.links["school_id"].map(names))
                      .groupby("zone_id").agg(ids=("school_id", set), names=("name", set)))
        # rules never look inside a building: the text up to 栋/幢 decides (up to and with it
        # when a clause names 楼栋), so each estate's dwellings are parsed and matched once
        rules = list(rules)
        if any(r.buildings or r.except_buildings for r in rules):
            head = a["address"].str.replace(r"([A-Za-z\d]+[栋幢]).*$", r"\1", regex=True)
        else:
            head = a["address"].str.replace(r"\d+[栋幢].*$", "", regex=True)
        # a clause can only match text that shares the last two characters of its road or
        # area name (names match when one ends with the other): a cheap filter before matching
        keys = [_name_key(r.road or r.area) for r in rules]
        hits_of: dict[str, frozenset] = {}
        for text in tqdm(head.unique(), disable=not progress, unit="addr"):
            near = [r for r, k in zip(rules, keys, strict=True) if k is None or k in text]
            parts = self.addresses.parse(text)
            hits_of[text] = frozenset(r.school for r in match_rules(near, parts))
        own_of = {z: r.ids | r.names for z, r in zone_names.iterrows()}
        name_set = set(names.astype(str))
        rows = []
        for aid, key, z in zip(a.index, head, zid, strict=True):
            hits = hits_of[key]
            if z is None:
                status, own = "unzoned", set()
            else:
                own = own_of[z]
                if not hits:
                    status = "no_rule"
                elif hits <= own:
                    status = "agree"
                elif len(hits) > 1 and hits & own:
                    status = "conflict"
                else:
                    status = "disagree"
            rows.append((aid, z, "、".join(sorted(own & name_set)), "、".join(sorted(hits)),
                         status))
        out = pd.DataFrame(rows, columns=["address_id", "zone_id", "schools", "rule_schools",
                                          "status"]).set_index("address_id")
        return out


def _name_key(name: str | None) -> str | None:
    """Last two characters of a road or area name without its generic suffix (社区, 村)."""
    if not name:
        return None
    core = name.removesuffix("社区").removesuffix("村") or name
    return core[-2:]


_RESOLVERS: dict[int, tuple[weakref.ref, Resolver]] = {}


def _resolver(dataset: Dataset) -> Resolver:
    key = id(dataset)
    hit = _RESOLVERS.get(key)
    if hit is not None and hit[0]() is dataset:
        return hit[1]
    res = Resolver(dataset)
    _RESOLVERS[key] = (weakref.ref(dataset, lambda _r, k=key, d=_RESOLVERS: d.pop(k, None)), res)
    return res


def lookup(dataset: Dataset, *, address: str | None = None, parcel: str | None = None,
           lonlat: tuple[float, float] | None = None, coords: str = "wgs84") -> LookupResult:
    """Which zone and school(s) serve an address, a 不动产单元号 or a point — and why.

    Parameters
    ----------
    dataset : Dataset
        The district (see :func:`zoning.load_dataset`). The locators and the address index are
        built on the first call and reused for the same dataset object. To cross-check answers
        against published 划片 text, build a ``Resolver(dataset, rules=...)`` and call its
        ``lookup``.
    address : str, optional
        Address text as a parent types it.
    parcel : str, optional
        A 28-character 不动产单元号 or a 19-character 宗地代码.
    lonlat : (float, float), optional
        Longitude and latitude in degrees.
    coords : {"wgs84", "cgcs2000", "gcj02", "bd09"}
        Datum of ``lonlat`` (Amap/Tencent: gcj02, Baidu: bd09).

    Returns
    -------
    LookupResult
        ``levels["primary"]`` and ``levels["junior"]`` with zone, schools, method and a Chinese
        explanation; or ``found=False`` with the reason and near candidates.

    Raises
    ------
    ValidationError
        When not exactly one query is given, or lonlat is not a longitude/latitude.
    """
    return _resolver(dataset).lookup(address=address, parcel=parcel, lonlat=lonlat,
                                     coords=coords)
