"""Zone adjustment: immutable plans, edits, their live impact, transition and comparison.

seeds 000 五(一): 招生服务片区要保持相对稳定; a change is argued, evaluated, approved and published in
advance. A :class:`Plan` is one version of a level's zones — which zone each parcel belongs to,
the zones' outlines and their schools — with its parent, author, note and status
(``draft → evaluated → approved → published``). Edits never change a plan: they return a new
one whose parent is the old, so undo is "go back to the parent" and every statistic of the
parent is restored exactly.

:class:`Simulator` holds what does not change between plans (each parcel's demand from
:func:`zoning.forecast.parcel_demand`, households, positions, the schools' seats) and computes an
edit's :class:`Impact` from the parcels it touched: time in proportion to them, not to the
district.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zoning.assign import assign_parcels
from zoning.capacity import CapacitySettings, capacity_table, school_demand
from zoning.errors import ValidationError
from zoning.zones import voronoi_cells, zone_schools

__all__ = [
    "STATUSES",
    "Impact",
    "Plan",
    "Simulator",
    "adopt",
    "attach_school",
    "compare",
    "current_plan",
    "diff",
    "export_plan",
    "load_plan",
    "list_plans",
    "lock_zones",
    "merge_zones",
    "move_parcels",
    "move_polygon",
    "plan_dataset",
    "redraw_zone",
    "save_plan",
    "set_status",
    "split_zone",
]

#: The life of a plan (seeds 000 五(一): 论证、评估、审批、公布), in order.
STATUSES = ("draft", "evaluated", "approved", "published")

#: Gaps between moved parcels narrower than this (roads, lanes) move with them, in metres.
_CLOSE_GAPS_M = 20.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, eq=False)
class Plan:
    """One immutable version of a level's zones.

    Attributes
    ----------
    plan_id, parent_id : str
        This version and the one it was edited from (None for a plan read from the data).
    level : {"primary", "junior"}
    assignment : pandas.Series
        ``zone_id`` of every parcel (index ``parcel_id``; None for parcels in no zone).
    zones : geopandas.GeoDataFrame
        The level's zones (index ``zone_id``, ``school_ids``, ``level``, geometry).
    author, note, status, created_at : str
    changed : tuple of str
        Parcels whose zone differs from the parent's (what the edit touched).
    changed_zones : tuple of str
        Zones whose outline or schools changed.
    locked : tuple of str
        Zones no edit may take parcels from (:func:`lock_zones`); children inherit them.
    lineage : tuple of str
        Ids of the versions this one was edited from, nearest first (the store checks that the
        newest stored version is among them: optimistic locking, see :func:`save_plan`).
    """

    plan_id: str
    level: str
    assignment: pd.Series
    zones: gpd.GeoDataFrame
    parent_id: str | None = None
    author: str = "system"
    note: str = ""
    status: str = "draft"
    created_at: str = field(default_factory=_now)
    changed: tuple = ()
    changed_zones: tuple = ()
    locked: tuple = ()
    lineage: tuple = ()

    def __repr__(self) -> str:
        return (f"Plan({self.plan_id!r}, level={self.level!r}, status={self.status!r}, "
                f"parent={self.parent_id!r}, zones={len(self.zones)}, "
                f"changed={len(self.changed)} parcels)")

    def _child(self, *, assignment=None, zones=None, changed=(), changed_zones=(), author=None,
               note="") -> Plan:
        return Plan(plan_id=_new_id(), level=self.level,
                    assignment=self.assignment if assignment is None else assignment,
                    zones=self.zones if zones is None else zones, parent_id=self.plan_id,
                    author=author or self.author, note=note, status="draft",
                    changed=tuple(changed), changed_zones=tuple(changed_zones),
                    locked=self.locked, lineage=(self.plan_id, *self.lineage))


def current_plan(dataset, *, level: str, author: str = "system", note: str = "现行片区") -> Plan:
    """The zones in force, as a plan: parcels assigned by largest overlap."""
    if level not in ("primary", "junior"):
        raise ValidationError(f"level={level!r}: use 'primary' or 'junior'")
    zones = dataset.zones[dataset.zones["level"] == level].copy()
    if zones.empty:
        raise ValidationError(f"no {level} zones in the dataset; import zones first")
    assignment = assign_parcels(dataset.parcels, dataset.zones, level=level)["zone_id"]
    return Plan(plan_id=_new_id(), level=level, assignment=assignment, zones=zones,
                author=author, note=note)


# ------------------------------------------------------------------------------------ edits
def _check_zone(plan: Plan, zone_id: str) -> None:
    if zone_id not in plan.zones.index:
        raise ValidationError(f"zone {zone_id!r} is not a {plan.level} zone of plan "
                              f"{plan.plan_id}; known zones: {', '.join(plan.zones.index[:10])}…")


def _check_unlocked(plan: Plan, zones, what: str) -> None:
    """Refuse an edit that would take parcels from (or reshape) a locked zone."""
    hit = sorted(set(zones) & set(plan.locked))
    if hit:
        raise ValidationError(
            f"zone(s) {', '.join(hit)} are locked: {what}; unlock them first (lock_zones)",
            problems=[{"kind": "locked_zone", "zones": hit,
                       "message_zh": f"片区 {'、'.join(hit)} 已锁定，不能从中调出宗地或改动其边界；"
                                     "如确需调整，请先解除锁定。"}])


def lock_zones(plan: Plan, zone_ids, *, locked: bool = True, author: str | None = None) -> Plan:
    """A child plan in which ``zone_ids`` are locked (or unlocked): no edit may take from them.

    A district locks the zones it has promised not to touch this year (seeds 000 五(一): zones
    stay stable); the optimiser keeps their parcels where they are.
    """
    ids = [zone_ids] if isinstance(zone_ids, str) else list(zone_ids)
    for z in ids:
        _check_zone(plan, z)
    now = (set(plan.locked) | set(ids)) if locked else (set(plan.locked) - set(ids))
    child = plan._child(author=author, note=("锁定片区 " if locked else "解除锁定 ")
                        + "、".join(ids))
    return replace(child, locked=tuple(sorted(now)))


def move_parcels(plan: Plan, parcel_ids, to_zone: str, parcels: gpd.GeoDataFrame, *,
                 author: str | None = None, note: str = "") -> Plan:
    """Move parcels to ``to_zone``: a new plan, with the zone outlines redrawn around them.

    The moved area is the parcels plus the road strips between them (gaps under 20 m close);
    it is taken from the zones that held it — never from a parcel that stays — and added to
    ``to_zone``. Only the zones involved are touched.

    Parameters
    ----------
    plan : Plan
    parcel_ids : iterable of str
    to_zone : str
    parcels : geopandas.GeoDataFrame
        The district's parcels (for their outlines).
    author, note : str, optional

    Raises
    ------
    ValidationError
        Unknown zone or parcel ids (all named).
    """
    _check_zone(plan, to_zone)
    ids = pd.Index(pd.unique(pd.Index(list(parcel_ids)).astype(str)))
    unknown = ids.difference(plan.assignment.index)
    if len(unknown):
        raise ValidationError(f"parcel(s) {', '.join(unknown[:10])} are not in the district; "
                              "check the parcel ids")
    frm = plan.assignment.reindex(ids)
    ids = ids[(frm != to_zone).to_numpy()]
    if not len(ids):
        return plan._child(author=author, note=note or "无变化")
    frm = plan.assignment.reindex(ids)
    _check_unlocked(plan, pd.unique(frm.dropna()), f"{len(ids)} parcel(s) would leave them")
    geoms = parcels.geometry.reindex(ids).to_numpy()
    moved = shapely.union_all(geoms)
    area = shapely.buffer(shapely.buffer(moved, _CLOSE_GAPS_M, join_style="mitre"),
                          -_CLOSE_GAPS_M, join_style="mitre")
    area = shapely.union(area, moved)
    # and, from each zone that loses parcels, their Voronoi cells among that zone's parcels: the
    # ground up to the zone's edge, so an edge parcel handed to its neighbour leaves both zones
    # in one piece (a zone drawn by hand keeps the rest of its outline)
    for z in pd.unique(frm.dropna()):
        if z == to_zone:
            continue
        members = plan.assignment.index[(plan.assignment == z).to_numpy()]
        pts = shapely.point_on_surface(parcels.geometry.reindex(members).to_numpy())
        cells = voronoi_cells(pts, plan.zones.geometry.loc[z])
        mine = members.isin(ids)
        area = shapely.union(area, shapely.union_all(cells[mine]))
    # never take area from a parcel that stays where it is
    near = parcels.sindex.query(area, predicate="intersects")
    stay = parcels.index[near].difference(ids)
    if len(stay):
        area = shapely.difference(area, shapely.union_all(parcels.geometry.loc[stay].to_numpy()))
    zones = plan.zones.copy()
    old = [z for z in pd.unique(frm.dropna()) if z != to_zone]
    touched = set(old) | {to_zone}
    # other zones the closed area reaches keep their ground too
    hit = zones.sindex.query(area, predicate="intersects")
    for z in zones.index[hit]:
        if z not in touched:
            area = shapely.difference(area, zones.geometry.loc[z])
    for z in old:
        zones.loc[z, "geometry"] = shapely.make_valid(shapely.difference(zones.geometry.loc[z],
                                                                         area))
    zones.loc[to_zone, "geometry"] = shapely.make_valid(
        shapely.union(zones.geometry.loc[to_zone], area))
    assignment = plan.assignment.copy()
    assignment.loc[ids] = to_zone
    return plan._child(assignment=assignment, zones=zones, changed=ids,
                       changed_zones=sorted(touched), author=author,
                       note=note or f"{len(ids)} 宗地调整至 {to_zone}")


def move_polygon(plan: Plan, polygon, to_zone: str, parcels: gpd.GeoDataFrame, **kwargs) -> Plan:
    """Move every parcel whose representative point lies in a drawn ``polygon`` (working CRS).

    Raises
    ------
    ValidationError
        If the polygon is not a polygon or selects no parcel of the district.
    """
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon) or polygon.is_empty:
        raise ValidationError("the drawn shape must be a polygon (in the working CRS)")
    pts = shapely.point_on_surface(parcels.geometry.to_numpy())
    inside = shapely.contains_xy(polygon, shapely.get_x(pts), shapely.get_y(pts))
    if not inside.any():
        raise ValidationError("the drawn polygon contains no parcel of the district; draw it "
                              "over the parcels to move (is it outside the district?)")
    return move_parcels(plan, parcels.index[inside], to_zone, parcels, **kwargs)


def _reassign(plan: Plan, zones: gpd.GeoDataFrame, region, parcels, *, changed_zones, author,
              note) -> Plan:
    """Re-assign the parcels near ``region`` by largest overlap with the new ``zones``."""
    near = parcels.index[parcels.sindex.query(region, predicate="intersects")]
    assignment = plan.assignment.copy()
    if len(near):
        sub = assign_parcels(parcels.loc[near], zones, level=plan.level)["zone_id"]
        assignment.loc[near] = sub.to_numpy()
    diff_ = assignment.index[(assignment.fillna("") != plan.assignment.fillna("")).to_numpy()]
    _check_unlocked(plan, pd.unique(plan.assignment.reindex(diff_).dropna()),
                    f"{len(diff_)} parcel(s) would leave them")
    return plan._child(assignment=assignment, zones=zones, changed=diff_,
                       changed_zones=sorted(changed_zones), author=author, note=note)


def redraw_zone(plan: Plan, zone_id: str, geometry, parcels: gpd.GeoDataFrame, *,
                author: str | None = None, note: str = "") -> Plan:
    """Give ``zone_id`` a new outline; parcels are re-assigned by largest overlap.

    Ground the zone gains is taken from its neighbours; ground it gives up goes to the
    neighbour it touches most along the boundary (so the zones still tile the district).
    """
    _check_zone(plan, zone_id)
    _check_unlocked(plan, [zone_id], "its outline would change")
    if not isinstance(geometry, shapely.Polygon | shapely.MultiPolygon) or geometry.is_empty:
        raise ValidationError("the new outline must be a polygon (in the working CRS)")
    zones = plan.zones.copy()
    old = zones.geometry.loc[zone_id]
    extent = shapely.union_all(zones.geometry.to_numpy())
    new = shapely.intersection(geometry, extent)
    if new.is_empty:
        raise ValidationError(f"the new outline of zone {zone_id} lies outside the district")
    gained, lost = shapely.difference(new, old), shapely.difference(old, new)
    touched = {zone_id}
    for z in zones.index[zones.sindex.query(gained, predicate="intersects")]:
        if z != zone_id:
            zones.loc[z, "geometry"] = shapely.make_valid(
                shapely.difference(zones.geometry.loc[z], gained))
            touched.add(z)
    if not lost.is_empty:
        parts = shapely.get_parts(lost)
        others = zones.drop(index=zone_id)
        for part in parts:
            edge = shapely.boundary(part)
            cand = others.index[others.sindex.query(shapely.buffer(part, 1.0),
                                                    predicate="intersects")]
            if not len(cand):
                continue  # a piece at the district's edge with no neighbour stays unzoned
            shared = [shapely.length(shapely.intersection(edge, shapely.buffer(
                others.geometry.loc[c], 0.5))) for c in cand]
            best = cand[int(np.argmax(shared))]
            zones.loc[best, "geometry"] = shapely.make_valid(
                shapely.union(zones.geometry.loc[best], part))
            touched.add(best)
    zones.loc[zone_id, "geometry"] = shapely.make_valid(new)
    region = shapely.union(gained, lost)
    return _reassign(plan, zones, region, parcels, changed_zones=touched, author=author,
                     note=note or f"重绘片区 {zone_id}")


def merge_zones(plan: Plan, zone_ids, parcels: gpd.GeoDataFrame, *, author: str | None = None,
                note: str = "") -> Plan:
    """Merge zones into the first of ``zone_ids``; it serves all their schools (多校划片)."""
    zone_ids = list(zone_ids)
    if len(zone_ids) < 2:
        raise ValidationError("merge needs at least two zone ids")
    for z in zone_ids:
        _check_zone(plan, z)
    keep, drop = zone_ids[0], zone_ids[1:]
    _check_unlocked(plan, drop, "merging would dissolve them")
    zones = plan.zones.copy()
    links = zone_schools(zones.loc[zone_ids])
    zones.loc[keep, "geometry"] = shapely.union_all(zones.geometry.loc[zone_ids].to_numpy())
    zones.loc[keep, "school_ids"] = ";".join(pd.unique(links["school_id"]))
    zones = zones.drop(index=drop)
    assignment = plan.assignment.copy()
    moved = assignment.index[assignment.isin(drop).to_numpy()]
    assignment.loc[moved] = keep
    return plan._child(assignment=assignment, zones=zones, changed=moved,
                       changed_zones=zone_ids, author=author,
                       note=note or f"合并片区 {'、'.join(zone_ids)}")


def split_zone(plan: Plan, zone_id: str, polygon, new_zone_id: str, school_ids,
               parcels: gpd.GeoDataFrame, *, author: str | None = None, note: str = "") -> Plan:
    """Cut the part of ``zone_id`` inside ``polygon`` off as ``new_zone_id`` for ``school_ids``."""
    _check_zone(plan, zone_id)
    _check_unlocked(plan, [zone_id], "a part would be cut off")
    if new_zone_id in plan.zones.index:
        raise ValidationError(f"zone id {new_zone_id!r} already exists; choose a new id")
    zones = plan.zones.copy()
    part = shapely.intersection(zones.geometry.loc[zone_id], polygon)
    if part.is_empty or part.area < 1.0:
        raise ValidationError(f"the polygon does not cut zone {zone_id}; draw it over the zone")
    zones.loc[zone_id, "geometry"] = shapely.make_valid(
        shapely.difference(zones.geometry.loc[zone_id], part))
    row = zones.loc[[zone_id]].copy()
    row.index = pd.Index([new_zone_id], name=zones.index.name)
    row["geometry"] = [shapely.make_valid(part)]
    row["school_ids"] = ";".join(school_ids) if not isinstance(school_ids, str) else school_ids
    if "name" in row:
        row["name"] = new_zone_id
    zones = pd.concat([zones, row])
    return _reassign(plan, zones, part, parcels, changed_zones=[zone_id, new_zone_id],
                     author=author, note=note or f"拆分片区 {zone_id}")


def attach_school(plan: Plan, zone_id: str, school_ids, *, author: str | None = None,
                  note: str = "") -> Plan:
    """Let ``zone_id`` be served by ``school_ids`` (one school, or several: 多校划片)."""
    _check_zone(plan, zone_id)
    ids = [school_ids] if isinstance(school_ids, str) else list(school_ids)
    if not ids:
        raise ValidationError(f"zone {zone_id} needs at least one school")
    zones = plan.zones.copy()
    zones.loc[zone_id, "school_ids"] = ";".join(ids)
    return plan._child(zones=zones, changed_zones=[zone_id], author=author,
                       note=note or f"片区 {zone_id} 对口 {'、'.join(ids)}")


def adopt(plan: Plan, assignment: pd.Series, zones: gpd.GeoDataFrame, *, author: str | None = None,
          note: str = "") -> Plan:
    """A child of ``plan`` with a whole new assignment and zone layer (e.g. an optimiser's plan).

    Parameters
    ----------
    plan : Plan
        The parent (the plan the new one was derived from).
    assignment : pandas.Series
        Zone of every parcel; parcels it leaves out keep their zone in ``plan``.
    zones : geopandas.GeoDataFrame
        Zones of the new plan; may hold other levels' zones too (only ``plan.level``'s are kept).
    author, note : str, optional

    Raises
    ------
    ValidationError
        A parcel assigned to a zone the new layer does not have, or a zone of another CRS.
    """
    new = zones[zones["level"] == plan.level] if "level" in zones else zones
    if new.crs is not None and plan.zones.crs is not None and new.crs != plan.zones.crs:
        raise ValidationError(f"zones are in {new.crs}, the plan in {plan.zones.crs}: convert "
                              "them to the working CRS first")
    merged = plan.assignment.copy()
    given = assignment.reindex(merged.index).dropna()
    unknown = sorted(set(given) - set(new.index))
    if unknown:
        raise ValidationError(f"the assignment uses zone(s) {', '.join(unknown[:10])} that the new "
                              f"{plan.level} zone layer does not have")
    merged.loc[given.index] = given.to_numpy()
    changed = merged.index[(merged.fillna("") != plan.assignment.fillna("")).to_numpy()]
    old = plan.zones.geometry.reindex(new.index)
    changed_zones = [z for z in new.index
                     if z not in plan.zones.index or not old.loc[z].equals(new.geometry.loc[z])
                     or plan.zones.at[z, "school_ids"] != new.at[z, "school_ids"]]
    changed_zones += [z for z in plan.zones.index if z not in new.index]
    return plan._child(assignment=merged, zones=new.copy(), changed=changed,
                       changed_zones=sorted(changed_zones), author=author,
                       note=note or f"{len(changed)} 宗地调整")


def set_status(plan: Plan, status: str, *, actor: str) -> Plan:
    """The same plan one step further along draft → evaluated → approved → published.

    Raises
    ------
    ValidationError
        For an unknown status or a skipped or backward step.
    """
    if status not in STATUSES:
        raise ValidationError(f"status {status!r}: use one of {', '.join(STATUSES)}")
    at = STATUSES.index(plan.status)
    if STATUSES.index(status) != at + 1:
        nxt = STATUSES[at + 1] if at + 1 < len(STATUSES) else None
        raise ValidationError(f"plan {plan.plan_id} is {plan.status}; "
                              + (f"it can only become {nxt}" if nxt else "it is published; "
                                 "edit it to start a new draft"))
    return replace(plan, status=status, author=plan.author)


def plan_dataset(dataset, plan: Plan):
    """The dataset with the plan's zones in place of its level's zones (for export and checks)."""
    others = dataset.zones[dataset.zones["level"] != plan.level]
    zones = pd.concat([others, plan.zones[others.columns.intersection(plan.zones.columns)
                                          .union(["geometry"], sort=False)]])
    return dataset.with_layers(zones=gpd.GeoDataFrame(zones, crs=dataset.zones.crs))


# ------------------------------------------------------------------------------------ store
def _payload(plan: Plan) -> str:
    z = plan.zones
    body = {
        "assignment": {k: v for k, v in plan.assignment.items() if v is not None and v == v},
        "zones": {"index": list(map(str, z.index)),
                  "columns": {c: z[c].astype(str).tolist() for c in z.columns
                              if c != "geometry"},
                  "wkb": shapely.to_wkb(z.geometry.to_numpy(), hex=True).tolist()},
        "changed": list(plan.changed), "changed_zones": list(plan.changed_zones),
        "created_at": plan.created_at, "locked": list(plan.locked),
    }
    raw = gzip.compress(json.dumps(body, ensure_ascii=False).encode("utf-8"), mtime=0)
    return base64.b64encode(raw).decode("ascii")


def save_plan(store, plan: Plan, *, actor: str, branch: bool = False) -> None:
    """Store a plan version (and its status change) with an audit entry, in one transaction.

    Two planners who edit the same version cannot overwrite each other: the newest stored
    version of the level must be one this plan was edited from (``plan.lineage``), else the save
    is refused and nothing is written (optimistic locking). An alternative meant to sit beside
    the line of versions (an optimiser's trade-off plan, a variant to compare) is saved with
    ``branch=True``.

    Parameters
    ----------
    store : GeoPackageStore or PostGISStore
    plan : Plan
    actor : str
        Who saves; written to the audit log.
    branch : bool
        Save as an alternative: no head check, and it does not become the newest version.

    Raises
    ------
    PlanConflict
        Another planner saved a newer version meanwhile (load it and redo the edit, or save
        with ``branch=True``), or another approver already moved the stored plan on.
    ValidationError
        If a different plan is already stored under this id, or the status would skip a step.
    """
    store.save_plan_record({
        "plan_id": plan.plan_id, "parent_id": plan.parent_id, "level": plan.level,
        "author": plan.author, "note": plan.note, "status": plan.status,
        "created_at": plan.created_at, "payload": _payload(plan)}, actor=actor,
        statuses=STATUSES, lineage=plan.lineage, branch=branch)


def load_plan(store, plan_id: str, *, crs=None) -> Plan:
    """Read a stored plan version."""
    rec = store.plan_record(plan_id)
    body = json.loads(gzip.decompress(base64.b64decode(rec["payload"])).decode("utf-8"))
    zb = body["zones"]
    zones = gpd.GeoDataFrame(zb["columns"], index=pd.Index(zb["index"], name="zone_id"),
                             geometry=shapely.from_wkb(zb["wkb"]), crs=crs)
    assignment = pd.Series(body["assignment"], dtype=object, name="zone_id")
    assignment.index.name = "parcel_id"
    return Plan(plan_id=rec["plan_id"], level=rec["level"], assignment=assignment,
                zones=zones, parent_id=rec["parent_id"], author=rec["author"],
                note=rec["note"], status=rec["status"], created_at=rec["created_at"],
                changed=tuple(body["changed"]), changed_zones=tuple(body["changed_zones"]),
                locked=tuple(body.get("locked", ())))


def list_plans(store) -> pd.DataFrame:
    """Every stored plan version: id, parent, level, author, note, status, created_at."""
    return store.read("plans").drop(columns="payload")


# ------------------------------------------------------------------------------------ impact
@dataclass(frozen=True)
class Impact:
    """What an edit does (``before`` → ``after``).

    Attributes
    ----------
    moved : pandas.DataFrame
        One row per moved parcel: ``from_zone``, ``to_zone``, ``households``, ``demand``.
    flows : pandas.DataFrame
        Moved households and demand per (from_zone, to_zone).
    schools : pandas.DataFrame
        Per school touched: demand, seats, ratio and warning before and after.
    warnings_changed : pandas.DataFrame
        The rows of ``schools`` whose warning level changed.
    over_cap : dict
        ``crossed``: schools that go above their seats (45/50 per class); ``relieved``: those
        that come back within them.
    distance : dict
        Household-weighted straight-line distance to the nearest school of the zone, metres:
        ``mean_before``, ``mean_after``, ``p95_before``, ``p95_after`` (district-wide).
    zones : pandas.DataFrame
        Per changed zone: ``compactness`` (Polsby–Popper 4πA/P²) and ``parts`` before/after,
        ``non_contiguous`` (more than one part after, and not before).
    """

    moved: pd.DataFrame
    flows: pd.DataFrame
    schools: pd.DataFrame
    warnings_changed: pd.DataFrame
    over_cap: dict
    distance: dict
    zones: pd.DataFrame

    @property
    def households_moved(self) -> int:
        """Households in the moved parcels."""
        return int(self.moved["households"].sum())

    def summary_zh(self) -> str:
        """One paragraph in Chinese for the planner."""
        pupils = self.moved["demand"].sum()
        s = (f"调整 {len(self.moved)} 宗地、{self.households_moved} 户，预计影响起始年级新生 "
             f"{pupils:.1f} 人。" if pupils < 10 else
             f"调整 {len(self.moved)} 宗地、{self.households_moved} 户，预计影响起始年级新生 "
             f"{pupils:.0f} 人。")
        if self.over_cap["crossed"]:
            s += f"超出学位的学校：{'、'.join(self.over_cap['crossed'])}。"
        if self.over_cap["relieved"]:
            s += f"恢复到学位以内的学校：{'、'.join(self.over_cap['relieved'])}。"
        nc = self.zones.index[self.zones["non_contiguous"]].tolist()
        if nc:
            s += f"注意：片区 {'、'.join(nc)} 不再连片。"
        d = self.distance
        s += f"平均上学直线距离 {d['mean_before']:.0f} → {d['mean_after']:.0f} 米。"
        return s


def _parts(geom, min_area: float) -> int:
    return int(sum(p.area > min_area for p in shapely.get_parts(geom))) if geom is not None \
        else 0


def _compactness(geom) -> float:
    per = shapely.length(geom)
    return float(4 * np.pi * shapely.area(geom) / per ** 2) if per > 0 else float("nan")


class Simulator:
    """Impact of plans for one level and intake year, reusing what plans share.

    Parameters
    ----------
    dataset : zoning.store.Dataset
    level : {"primary", "junior"}
    year : int, optional
        Intake year (default: the year after the last enrolment year).
    demand : pandas.Series, optional
        Starting-grade demand per parcel; default :func:`zoning.forecast.parcel_demand`.
    settings : zoning.capacity.CapacitySettings, optional
    """

    def __init__(self, dataset, *, level: str, year: int | None = None,
                 demand: pd.Series | None = None, settings: CapacitySettings | None = None):
        from zoning.forecast import parcel_demand

        self.dataset, self.level = dataset, level
        self.settings = settings or CapacitySettings()
        parcels = dataset.parcels
        if demand is None:
            demand = parcel_demand(dataset, level=level, year=year)
        self.year = demand.attrs.get("year", year)
        self.demand = demand.reindex(parcels.index).fillna(0.0).to_numpy(float)
        hh = pd.to_numeric(parcels["households"], errors="coerce").fillna(0)
        if "planned_households" in parcels:
            # a parcel still being built moves its future households
            planned = pd.to_numeric(parcels["planned_households"], errors="coerce").fillna(0)
            hh = hh.where(hh > 0, planned)
        self.households = hh.to_numpy(float)
        pts = shapely.point_on_surface(parcels.geometry.to_numpy())
        self.px, self.py = shapely.get_x(pts), shapely.get_y(pts)
        self.pos = pd.Series(np.arange(len(parcels)), index=parcels.index)
        self.parcels = parcels
        self.schools = dataset.schools
        # per plan id (a plan never changes, so neither do these)
        self._zone_demand: dict[str, pd.Series] = {}
        self._dist: dict[str, np.ndarray] = {}
        self._cap: dict[str, pd.DataFrame] = {}
        self._links: dict[str, tuple[pd.Series, pd.DataFrame]] = {}

    def links(self, plan: Plan) -> pd.DataFrame:
        """Zone → school links of ``plan`` (reused while the zones' schools are unchanged)."""
        hit = self._links.get(plan.plan_id)
        if hit is None:
            key = plan.zones["school_ids"]
            for cached_key, links in self._links.values():
                if cached_key is key or cached_key.equals(key):  # ~100 zones: cheap
                    hit = (key, links)
                    break
            else:
                hit = (key, zone_schools(plan.zones))
            self._links[plan.plan_id] = hit
        return hit[1]

    # ---------------------------------------------------------------- per plan, cached
    def zone_demand(self, plan: Plan) -> pd.Series:
        """Demand per zone of ``plan`` (sum of its parcels' demand)."""
        hit = self._zone_demand.get(plan.plan_id)
        if hit is None:
            a = plan.assignment.reindex(self.parcels.index)
            ok = a.notna().to_numpy()
            hit = pd.Series(self.demand[ok]).groupby(a.to_numpy()[ok]).sum()
            hit = hit.reindex(plan.zones.index).fillna(0.0)
            self._zone_demand[plan.plan_id] = hit
        return hit

    def _nearest_school_distance(self, plan: Plan, rows: np.ndarray) -> np.ndarray:
        zone = plan.assignment.reindex(self.parcels.index[rows]).to_numpy()
        out = np.full(len(rows), np.nan)
        links = self.links(plan)
        sx = self.schools.geometry.x.reindex(links["school_id"]).to_numpy()
        sy = self.schools.geometry.y.reindex(links["school_id"]).to_numpy()
        for z, idx in pd.Series(np.arange(len(rows))).groupby(zone).groups.items():
            m = (links["zone_id"] == z).to_numpy()
            if not m.any():
                continue
            r = rows[np.asarray(idx)]
            d = np.hypot(self.px[r, None] - sx[m][None], self.py[r, None] - sy[m][None])
            out[np.asarray(idx)] = np.nanmin(d, axis=1)
        return out

    def distances(self, plan: Plan) -> np.ndarray:
        """Distance of every parcel to the nearest school of its zone (NaN if unzoned)."""
        hit = self._dist.get(plan.plan_id)
        if hit is None:
            hit = self._nearest_school_distance(plan, np.arange(len(self.parcels)))
            self._dist[plan.plan_id] = hit
        return hit

    def capacity(self, plan: Plan) -> pd.DataFrame:
        """:func:`zoning.capacity.capacity_table` of every school under ``plan``."""
        hit = self._cap.get(plan.plan_id)
        if hit is None:
            zd = self.zone_demand(plan)
            per_school = school_demand(zd, plan.zones, self.schools, level=self.level,
                                       settings=self.settings)
            hit = capacity_table(self.schools, level=self.level, demand=per_school,
                                 settings=self.settings)
            self._cap[plan.plan_id] = hit
        return hit

    # ---------------------------------------------------------------- impact
    def _changed(self, before: Plan, after: Plan) -> pd.Index:
        if after.parent_id == before.plan_id:
            return pd.Index(after.changed)
        if before.parent_id == after.plan_id:
            return pd.Index(before.changed)
        a = before.assignment.reindex(self.parcels.index).fillna("")
        b = after.assignment.reindex(self.parcels.index).fillna("")
        return self.parcels.index[(a != b).to_numpy()]

    def impact(self, before: Plan, after: Plan) -> Impact:
        """The impact of going from ``before`` to ``after``.

        When ``after`` was edited from ``before`` (or back), only the touched parcels and
        zones are recomputed; otherwise the two assignments are compared in full.
        """
        if before.level != self.level or after.level != self.level:
            raise ValidationError(f"plans of level {before.level}/{after.level} given to a "
                                  f"{self.level} simulator")
        ids = self._changed(before, after)
        rows = self.pos.reindex(ids).dropna().to_numpy(int)
        frm = before.assignment.reindex(ids).to_numpy()
        to = after.assignment.reindex(ids).to_numpy()
        moved = pd.DataFrame({"from_zone": frm, "to_zone": to,
                              "households": self.households[rows],
                              "demand": self.demand[rows]}, index=ids)
        flows = (moved.groupby(["from_zone", "to_zone"], dropna=False)[["households", "demand"]]
                 .sum().reset_index())

        # demand per zone after = before ± the moved parcels' demand
        zb = self.zone_demand(before)
        if after.plan_id not in self._zone_demand:
            za = zb.reindex(after.zones.index).fillna(0.0).copy()
            gone = moved.groupby("from_zone")["demand"].sum()
            come = moved.groupby("to_zone")["demand"].sum()
            za = za.sub(gone.reindex(za.index).fillna(0.0)).add(come.reindex(za.index)
                                                                .fillna(0.0))
            # merged-away zones' demand is already in the zone that took their parcels
            self._zone_demand[after.plan_id] = za.clip(lower=0.0)
        cb, ca = self.capacity(before), self.capacity(after)
        schools = pd.DataFrame({
            "name": cb["name"], "seats_before": cb["seats"], "seats_after": ca["seats"],
            "demand_before": cb["demand"], "demand_after": ca["demand"],
            "ratio_before": cb["ratio"], "ratio_after": ca["ratio"],
            "warning_before": cb["warning"], "warning_after": ca["warning"]})
        touched = schools.index[~np.isclose(schools["demand_before"], schools["demand_after"])
                                | (schools["seats_before"] != schools["seats_after"])]
        schools = schools.loc[touched]
        red = self.settings.red
        over_b = schools["ratio_before"].fillna(0) >= red
        over_a = schools["ratio_after"].fillna(0) >= red
        over_cap = {"crossed": schools.index[over_a & ~over_b].tolist(),
                    "relieved": schools.index[over_b & ~over_a].tolist()}
        warnings_changed = schools[schools["warning_before"] != schools["warning_after"]]

        # distances: copy the before array and update the touched parcels only
        db = self.distances(before)
        if after.plan_id in self._dist:
            da = self._dist[after.plan_id]
        else:
            da = db.copy()
            if len(after.changed_zones) and len(rows) < len(self.parcels):
                # parcels of zones whose schools changed also change distance
                inz = after.assignment.isin(after.changed_zones).to_numpy()
                rows_z = np.union1d(rows, self.pos.reindex(after.assignment.index[inz])
                                    .dropna().to_numpy(int))
            else:
                rows_z = rows
            if len(rows_z):
                da[rows_z] = self._nearest_school_distance(after, rows_z)
            self._dist[after.plan_id] = da
        distance = {}
        for key, d in (("before", db), ("after", da)):
            ok = np.isfinite(d) & (self.households > 0)
            w = self.households[ok]
            distance[f"mean_{key}"] = float(np.average(d[ok], weights=w)) if w.sum() else 0.0
            distance[f"p95_{key}"] = _weighted_quantile(d[ok], w, 0.95)

        zids = sorted(set(before.changed_zones if before.parent_id == after.plan_id else ())
                      | set(after.changed_zones) | set(moved["from_zone"].dropna())
                      | set(moved["to_zone"].dropna()))
        zrows = []
        for z in zids:
            gb = before.zones.geometry.get(z)
            ga = after.zones.geometry.get(z)
            pb, pa = _parts(gb, 100.0), _parts(ga, 100.0)
            zrows.append({"zone_id": z, "compactness_before": _compactness(gb) if gb else np.nan,
                          "compactness_after": _compactness(ga) if ga else np.nan,
                          "parts_before": pb, "parts_after": pa,
                          "non_contiguous": pa > 1 and pb <= 1})
        zones = pd.DataFrame(zrows, columns=["zone_id", "compactness_before",
                                             "compactness_after", "parts_before",
                                             "parts_after", "non_contiguous"]
                             ).set_index("zone_id")
        return Impact(moved, flows, schools, warnings_changed, over_cap, distance, zones)

    # ---------------------------------------------------------------- transition
    def transition(self, before: Plan, after: Plan, *, start_year: int | None = None,
                   sibling_share: float = 0.3, current_stay: bool = True) -> pd.DataFrame:
        """Year by year, pupils of the moved area at their old and new schools until it settles.

        seeds 000 五(一) (多孩家庭): from ``start_year`` the moved parcels' new entrants go to
        the new zone's school, except a ``sibling_share`` who have an older brother or sister
        still at the old school and may join them there; that share falls to 0 as the older
        siblings leave (over the level's grades). Pupils already enrolled stay where they are
        (``current_stay``) until they finish.

        Returns
        -------
        pandas.DataFrame
            Per year (start to start + number of grades): ``entrants_new_school``,
            ``entrants_old_school`` (siblings), ``pupils_old_school`` and ``pupils_new_school``
            (all grades, pupils from the moved area).
        """
        if not 0 <= sibling_share <= 1:
            raise ValidationError(f"sibling_share={sibling_share}: use a share from 0 to 1")
        grades = 6 if self.level == "primary" else 3
        start = int(self.year if start_year is None else start_year)
        ids = self._changed(before, after)
        entrants = float(self.demand[self.pos.reindex(ids).dropna().to_numpy(int)].sum())
        rows = []
        cohorts_old, cohorts_new = [entrants] * (grades - 1) if current_stay else [], []
        for k in range(grades + 1):
            sib = sibling_share * max(0.0, 1 - k / grades)
            cohorts_old = ([entrants * sib] + cohorts_old)[:grades]
            cohorts_new = ([entrants * (1 - sib)] + cohorts_new)[:grades]
            rows.append({"year": start + k, "entrants_new_school": entrants * (1 - sib),
                         "entrants_old_school": entrants * sib,
                         "pupils_old_school": sum(cohorts_old),
                         "pupils_new_school": sum(cohorts_new)})
        return pd.DataFrame(rows).set_index("year")

    def transition_schools(self, before: Plan, after: Plan, *, start_year: int | None = None,
                           sibling_share: float = 0.3) -> pd.DataFrame:
        """Year by year, each touched school's starting-grade demand and warning, old vs new plan.

        From ``start_year`` the moved parcels' entrants of each year (that year's forecast,
        :func:`zoning.forecast.parcel_demand`) go to their new zone, except a ``sibling_share``
        that joins an older brother or sister at the old school (seeds 000 五(一) 多孩家庭),
        falling to 0 over the level's grades, as :meth:`transition`. The new plan settles when the
        share reaches 0.

        Returns
        -------
        pandas.DataFrame
            Index (``year``, ``school_id``); columns ``name``, ``seats``, ``demand_before``
            (the old plan), ``demand_after`` (the new plan with siblings), ``ratio_before``,
            ``ratio_after``, ``warning_before``, ``warning_after``; only schools whose demand
            differs in some year.
        """
        from zoning.forecast import parcel_demand

        if not 0 <= sibling_share <= 1:
            raise ValidationError(f"sibling_share={sibling_share}: use a share from 0 to 1")
        grades = 6 if self.level == "primary" else 3
        start = int(self.year if start_year is None else start_year)
        ids = self._changed(before, after)
        idx = self.parcels.index
        a = before.assignment.reindex(idx)
        b = after.assignment.reindex(idx)
        moved = idx.isin(ids)
        frames = []
        for k in range(grades + 1):
            year = start + k
            d = parcel_demand(self.dataset, level=self.level, year=year).reindex(idx).fillna(0.0)
            sib = sibling_share * max(0.0, 1 - k / grades)
            tables = {}
            for key, zones_of, plan, weight in (("before", a, before, None),
                                                ("after", b, after, sib)):
                w = d.to_numpy().copy()
                zone = zones_of.to_numpy()
                parts = [pd.Series(w).groupby(zone).sum()]
                if weight:
                    # siblings stay with the old zone's school
                    parts[0] = pd.Series(np.where(moved, w * (1 - weight), w)).groupby(zone).sum()
                    parts.append(pd.Series(w[moved] * weight).groupby(a.to_numpy()[moved]).sum())
                zd = pd.concat(parts).groupby(level=0).sum().reindex(plan.zones.index).fillna(0.0)
                per_school = school_demand(zd, plan.zones, self.schools, level=self.level,
                                           settings=self.settings)
                tables[key] = capacity_table(self.schools, level=self.level, demand=per_school,
                                             settings=self.settings)
            tb, ta = tables["before"], tables["after"]
            frames.append(pd.DataFrame({
                "year": year, "school_id": tb.index, "name": tb["name"].to_numpy(),
                "seats": ta["seats"].reindex(tb.index).to_numpy(),
                "demand_before": tb["demand"].to_numpy(),
                "demand_after": ta["demand"].reindex(tb.index).to_numpy(),
                "ratio_before": tb["ratio"].to_numpy(),
                "ratio_after": ta["ratio"].reindex(tb.index).to_numpy(),
                "warning_before": tb["warning"].to_numpy(),
                "warning_after": ta["warning"].reindex(tb.index).to_numpy()}))
        out = pd.concat(frames, ignore_index=True)
        touched = out.loc[~np.isclose(out["demand_before"], out["demand_after"]), "school_id"]
        return out[out["school_id"].isin(touched)].set_index(["year", "school_id"])


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if not len(values):
        return 0.0
    order = np.argsort(values)
    cw = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cw, q * cw[-1])])


# ------------------------------------------------------------------------------------ compare
def diff(plan_a: Plan, plan_b: Plan, simulator: Simulator | None = None) -> pd.DataFrame:
    """Parcels whose zone differs between two plans.

    Columns ``zone_a``, ``zone_b``; with a simulator also ``households`` and ``demand``.
    """
    a = plan_a.assignment
    b = plan_b.assignment.reindex(a.index.union(plan_b.assignment.index))
    a = a.reindex(b.index)
    d = a.fillna("") != b.fillna("")
    out = pd.DataFrame({"zone_a": a[d], "zone_b": b[d]})
    if simulator is not None:
        rows = simulator.pos.reindex(out.index).dropna().to_numpy(int)
        out["households"] = simulator.households[rows]
        out["demand"] = simulator.demand[rows]
    return out


def compare(simulator: Simulator, plan_a: Plan, plan_b: Plan) -> pd.DataFrame:
    """Side by side, per school: demand, ratio and warning under each plan, and the change.

    ``attrs["summary"]`` holds the plan-level figures: parcels and households that differ,
    schools over their seats, red schools and mean distance under each plan.
    """
    ca, cb = simulator.capacity(plan_a), simulator.capacity(plan_b)
    out = pd.DataFrame({
        "name": ca["name"], "seats_a": ca["seats"], "seats_b": cb["seats"],
        "demand_a": ca["demand"], "demand_b": cb["demand"], "ratio_a": ca["ratio"],
        "ratio_b": cb["ratio"], "warning_a": ca["warning"], "warning_b": cb["warning"]})
    out["demand_change"] = out["demand_b"] - out["demand_a"]
    d = diff(plan_a, plan_b, simulator)
    summary = {}
    for key, plan, cap in (("a", plan_a, ca), ("b", plan_b, cb)):
        dist = simulator.distances(plan)
        ok = np.isfinite(dist) & (simulator.households > 0)
        summary[f"over_seats_{key}"] = int((cap["ratio"].fillna(0) >= simulator.settings.red)
                                           .sum())
        summary[f"red_{key}"] = int((cap["warning"] == "red").sum())
        summary[f"mean_distance_{key}"] = float(np.average(dist[ok],
                                                           weights=simulator.households[ok]))
    summary.update(parcels_differ=len(d), households_differ=int(d["households"].sum()))
    out.attrs["summary"] = summary
    return out


def export_plan(dataset, plan: Plan, path, *, text: bool | None = None,
                encoding: str | None = None):
    """Write a plan's zones, or its published 划片 list, atomically.

    Zones go to GeoJSON, GeoPackage or Shapefile by the suffix. A Shapefile gets GBK attributes
    and a ``.cpg`` saying so (what ArcGIS, SuperMap and MapGIS on Chinese Windows read), unless
    ``encoding`` says otherwise. The text list (:func:`zoning.publish.zone_text_list`) is UTF-8;
    it is written for ``text=True`` or a ``.txt`` path.

    Parameters
    ----------
    dataset : zoning.store.Dataset
    plan : Plan
    path : path-like
        ``.shp``, ``.geojson``/``.json``, ``.gpkg`` or ``.txt``.
    text : bool, optional
        Write the text list (default: when the suffix is ``.txt``).
    encoding : str, optional
        Shapefile attribute encoding (default GBK).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from pathlib import Path

    from zoning.io import atomic_path, write_layer
    from zoning.publish import zone_text_list

    path = Path(path)
    if text is None:
        text = path.suffix.lower() == ".txt"
    if text:
        body = zone_text_list(plan_dataset(dataset, plan), level=plan.level)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(body + "\n", encoding="utf-8")
        return path
    zones = plan.zones.copy()
    zones["plan_id"] = plan.plan_id
    if path.suffix.lower() == ".shp":
        encoding = encoding or "GBK"
    write_layer(zones, path, encoding=encoding)
    return path
