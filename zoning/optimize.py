"""Rebalance zones under hard class caps, moving the fewest households (a MIP solved by HiGHS).

seeds 000 五(二): 小学每班不超过45人、初中每班不超过50人 — a zone's starting-grade demand must fit its
schools' planned classes × cap. DESIGN "zones stay stable": the model moves as few households as it
can, and every change carries its evaluation (who moves, capacity before/after).

The model
---------
*Parcel areas and blocks.* Each zoned parcel owns an *area*: its own polygon plus the unparcelled
land (roads, open ground) of its zone nearest to it, so the areas of a zone tile it, keep every
parcel whole and are each in one piece (:func:`_parcel_areas`). Parcels are grouped into about
``n_blocks`` blocks (:func:`build_blocks`) that never straddle a current zone: weighted k-means
of parcel points inside each zone, each cluster split into its connected pieces. The blocks are
shared among zones by households, four times finer in the over-full zones and their neighbours
than elsewhere (:func:`pressure_focus`): that is where blocks move, so the same number of blocks
gives a finer choice of whom to move and a tighter MIP (the LP relaxation splits a block at
each full zone; the smaller the block, the smaller that gap). Two blocks are
adjacent when their areas share at least ``min_shared`` metres of boundary, so a set of blocks
connected in this graph has a one-piece outline (:func:`plan_zones`). Where a zone's blocks are
not connected (a zone in several parts) its pieces are joined by *virtual* edges that only that
zone may use, so the current plan is always contiguous.

*Variables.* ``x[b, z] = 1`` when block ``b`` goes to zone ``z``, for candidate pairs only: the
block's current zone and the zones of blocks within ``reach`` adjacency steps. Fixed blocks and
the block holding a zone's school (its *root*) have only their current zone. How far an
over-full zone can pass pupils on depends on how its blocks happen to be cut, so when no plan
fits the seats at ``reach`` even without contiguity, the zones short of seats and their
neighbours get up to ``MAX_EXTRA_REACH`` more steps before the district is declared short.

*Constraints.* Every block in exactly one zone; ``Σ demand_b x[b, z] ≤ seats_z`` (planned
classes plus ``add_classes``, × cap); contiguity, in one of two forms:

- ``"order"`` (default): each (block, zone) pair gets a key — its adjacency depth from the
  zone's root inside the current zone, then beyond it, ties broken by distance to the root — and
  a block may be in zone ``z`` only if a neighbour with a smaller key is in ``z`` too
  (``x[b, z] ≤ Σ x[u, z]``). Following smaller keys from any block of the zone ends at the root,
  so the zone is connected, and the current plan meets every constraint. It is a *restriction*:
  some contiguous plans are excluded, and its MIP gap is measured against the best plan the
  restriction allows, not against every contiguous plan. Its LP is tight, which is what lets the
  demo district (2,000 blocks) close that gap within the minute.
- ``"flow"``: a single-commodity flow per zone, exact (every contiguous plan is allowed): the
  root sends one unit to every block of its zone along arcs between blocks both assigned to it
  (``f[u→v, z] ≤ (n_z - 1) x[v, z]``, inflow − outflow = ``x[b, z]``), with the valid
  inequalities "a block other than the root has a neighbour in its zone". Its gap is the true
  gap, but it closes slowly: it is started from the order model's plan.

*Objective.* Households moved + ``distance_weight`` × Σ demand × km to the zone's nearest school.
The first weight (``0.001``) is a tie-break: it ranks plans by households moved and then by
distance; larger weights trade more moves for shorter trips. :meth:`RebalanceModel.solve`
returns one plan per weight (``result.plans``). A parcel still being built counts its planned
households, as :class:`zoning.simulate.Simulator` does when it evaluates the plan.

*Solving.* One HiGHS solve on ``threads`` threads: HiGHS 1.16 searches the branch-and-bound
tree with one worker per thread. (Before it did, racing single-thread solves with different
random seeds in their own processes did better; on the demo district, 60 s on 2 cores, the one
parallel solve now closes its 1 % gap in 42–59 s on each of nine runs, the race on none of
three, at 1.2–1.4 %, so the race was taken out.)

*Infeasibility.* When no plan fits, the *elastic* model (integer extra classes per zone, fewest
classes first) names the schools short of seats and by how many classes:
:class:`~zoning.errors.InfeasibleError` with ``shortfall = {school_id: classes}``. The order
model being a restriction, it never declares a district infeasible on its own: the exact flow
model has the last word.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zoning.assign import assign_parcels
from zoning.capacity import _PLANNED_COL, CapacitySettings, _check_level, school_demand
from zoning.errors import InfeasibleError, ValidationError, ZoningError
from zoning.zones import voronoi_cells, zone_schools

__all__ = [
    "Blocks",
    "OptimizeResult",
    "RebalanceModel",
    "build_blocks",
    "optimize",
    "plan_zones",
    "pressure_focus",
]

#: Distance weights of the default trade-off: tie-break (fewest moves), then two that trade
#: moves for shorter trips. Units: households per pupil-km.
DEFAULT_WEIGHTS = (0.001, 1.0, 5.0)

#: Contiguity models of :meth:`RebalanceModel.solve`.
CONTIGUITY = ("order", "flow")

#: Metres within which two areas count as touching (floating-point noise of overlays).
_TOUCH = 0.01

#: Extra adjacency steps :meth:`RebalanceModel.solve` may add to ``reach`` when no plan fits.
MAX_EXTRA_REACH = 2

#: Seconds between two progress reports of a solve (:class:`_Report`).
REPORT_EVERY = 0.5

#: ``progress(plan, plans, best_objective, best_bound)`` (:meth:`RebalanceModel.solve`).
Progress = Callable[[int, int, float, float], None]


# ------------------------------------------------------------------------------ graph helpers
def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label (0..k-1) of ``n`` nodes joined by edges ``(i, j)``."""
    lab = np.arange(n)
    if len(i):
        while True:
            m = np.minimum(lab[i], lab[j])
            new = lab.copy()
            np.minimum.at(new, i, m)
            np.minimum.at(new, j, m)
            new = new[new]  # pointer jumping: labels are node ids of the same component
            if np.array_equal(new, lab):
                break
            lab = new
    return np.unique(lab, return_inverse=True)[1]


def _neighbours(n: int, edges: np.ndarray) -> list[np.ndarray]:
    """Adjacency lists (sorted, without repeats) of an undirected edge array."""
    if len(edges) == 0:
        return [np.zeros(0, np.intp) for _ in range(n)]
    a = np.concatenate([edges[:, 0], edges[:, 1]])
    b = np.concatenate([edges[:, 1], edges[:, 0]])
    pairs = np.unique(np.column_stack([a, b]), axis=0)
    starts = np.searchsorted(pairs[:, 0], np.arange(n + 1))
    return [pairs[starts[k]:starts[k + 1], 1] for k in range(n)]


def _bfs(start: int, nbrs: list[np.ndarray], inside) -> dict[int, int]:
    """Depth of every node reached from ``start`` through nodes for which ``inside(v)``."""
    depth = {start: 0}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            v = int(v)
            if v not in depth and inside(v):
                depth[v] = depth[u] + 1
                queue.append(v)
    return depth


# ------------------------------------------------------------------------------ blocks
@dataclass(frozen=True, eq=False)
class Blocks:
    """Parcels grouped into blocks, with their adjacency.

    Attributes
    ----------
    parcel_block : pandas.Series
        Block number of every zoned parcel, indexed by ``parcel_id``.
    zone : numpy.ndarray
        Current zone id of each block.
    demand, households : numpy.ndarray
        Sums over the block's parcels.
    x, y : numpy.ndarray
        Household-weighted centroid of each block (working CRS, metres).
    edges : numpy.ndarray
        ``(E, 2)`` block pairs ``i < j`` whose areas share an edge, then the virtual edges.
    owner : numpy.ndarray
        Per edge: ``None`` for a real edge, the zone id a virtual edge belongs to.
    cells : geopandas.GeoSeries
        Each zoned parcel's area within its zone (:func:`_parcel_areas`: the areas of a zone
        tile it, and each is in one piece).
    seed : int
        Seed of the k-means start.
    """

    parcel_block: pd.Series
    zone: np.ndarray
    demand: np.ndarray
    households: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edges: np.ndarray
    owner: np.ndarray
    cells: gpd.GeoSeries
    seed: int = 0

    def __len__(self) -> int:
        return len(self.zone)

    @property
    def real(self) -> np.ndarray:
        """Per edge: True for a real (shared-boundary) edge, False for a virtual one."""
        return np.array([o is None for o in self.owner], bool)


def _shared_length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """About the length (m) of boundary polygons ``a`` and ``b`` share, pairwise.

    Measured as the area of ``b`` within 1 cm of ``a``, so floating-point noise along a common
    edge does not matter, while a corner contact or a hairline gap counts as (nearly) nothing.
    """
    return shapely.area(shapely.intersection(shapely.buffer(a, _TOUCH, quad_segs=2), b)) / _TOUCH


def _touching(geoms: np.ndarray, min_shared: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of polygons sharing at least ``min_shared`` metres of boundary."""
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i):
        ok = _shared_length(geoms[i], geoms[j]) >= min_shared
        i, j = i[ok], j[ok]
    return i, j


def _parcel_areas(geoms: np.ndarray, zone_geom) -> np.ndarray:
    """Each parcel's area within its zone: its polygon plus the open land nearest to it.

    The open land (the zone less all its parcels) is shared out by the parcels' Voronoi cells.
    A piece of a cell cut off from its parcel by other parcels goes to the neighbouring area it
    shares most boundary with, so every area is in one piece (except where the zone itself is:
    a zone part without parcels stays with the parcel nearest to it). The areas tile the zone
    and keep every parcel whole, so moving any of them leaves no gap and no overlap.
    """
    shapely.prepare(zone_geom)
    own = geoms.copy()
    out = ~shapely.contains(zone_geom, geoms)
    own[out] = shapely.intersection(geoms[out], zone_geom)  # a parcel over the zone's edge
    cells = voronoi_cells(shapely.point_on_surface(geoms), zone_geom)
    # cell less the other parcels it reaches (a few each: unions padded into rows, in C)
    ci, pj = shapely.STRtree(own).query(cells, predicate="intersects")
    keep = ci != pj
    order = np.lexsort((pj[keep], ci[keep]))
    ci, pj = ci[keep][order], pj[keep][order]
    slot = np.arange(len(ci)) - np.searchsorted(ci, ci)
    others = np.full((len(cells), int(slot.max()) + 1 if len(ci) else 1), None, dtype=object)
    others[ci, slot] = own[pj]
    areas = shapely.union(shapely.difference(cells, shapely.union_all(others, axis=1)), own)
    frags, owner = [], []
    for i in np.flatnonzero(shapely.get_num_geometries(areas) > 1):  # a few per zone
        parts = shapely.get_parts(areas[i])
        main = shapely.area(shapely.intersection(parts, own[i])) > 0
        if not main.any():
            main = np.arange(len(parts)) == np.argmax(shapely.area(parts))
        areas[i] = shapely.union_all(parts[main])
        frags.extend(parts[~main])
        owner.extend([i] * int((~main).sum()))
    frags, owner = np.array(frags, dtype=object), np.array(owner, np.intp)
    while len(frags):  # fragments next to fragments join once their neighbour has
        fi, ai = shapely.STRtree(areas).query(frags, predicate="intersects")
        length = _shared_length(frags[fi], areas[ai]) if len(fi) else np.zeros(0)
        ok = (length > 0.5) & (ai != owner[fi])
        if not ok.any():
            for f, i in zip(frags, owner, strict=True):
                areas[i] = shapely.union(areas[i], f)
            break
        best = pd.DataFrame({"f": fi[ok], "a": ai[ok], "len": length[ok]}).sort_values(
            "len", ascending=False).drop_duplicates("f")
        for f, a in zip(best["f"], best["a"], strict=True):
            areas[a] = shapely.union(areas[a], frags[f])
        left = np.setdiff1d(np.arange(len(frags)), best["f"].to_numpy())
        frags, owner = frags[left], owner[left]
    return areas


def _kmeans(xy: np.ndarray, w: np.ndarray, k: int, rng, iters: int = 12) -> np.ndarray:
    """Weighted Lloyd's k-means labels (k ≤ len(xy)); a few zones of hundreds of points each."""
    n = len(xy)
    if k <= 1:
        return np.zeros(n, np.intp)
    if k >= n:
        return np.arange(n)
    p = w / w.sum() if w.sum() > 0 else None
    centres = xy[rng.choice(n, k, replace=False, p=p)]
    for _ in range(iters):
        d = ((xy[:, None, :] - centres[None]) ** 2).sum(axis=2)
        lab = np.argmin(d, axis=1)
        ws = np.bincount(lab, weights=w, minlength=k)
        for c in range(2):
            s = np.bincount(lab, weights=w * xy[:, c], minlength=k)
            centres[:, c] = np.where(ws > 0, s / np.where(ws > 0, ws, 1), centres[:, c])
    return lab


def _households(parcels: pd.DataFrame) -> pd.Series:
    """Households a parcel moves with: its planned households while it is still being built.

    The same count as :class:`zoning.simulate.Simulator`, so a plan's evaluation agrees with
    the optimiser's objective.
    """
    hh = pd.to_numeric(parcels["households"], errors="coerce").fillna(0)
    if "planned_households" in parcels:
        planned = pd.to_numeric(parcels["planned_households"], errors="coerce").fillna(0)
        hh = hh.where(hh > 0, planned)
    return hh.astype(float)


def build_blocks(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, zone_of: pd.Series, *,
                 demand: pd.Series, n_blocks: int = 2000, seed: int = 0,
                 min_shared: float = 5.0, focus: Mapping | None = None) -> Blocks:
    """Group zoned parcels into about ``n_blocks`` connected blocks that never straddle a zone.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Indexed by ``parcel_id``, with ``households``, in the zones' (metre) CRS.
    zones : geopandas.GeoDataFrame
        The zones of one level, indexed by ``zone_id``.
    zone_of : pandas.Series
        Current zone of each parcel (missing: not zoned, left out).
    demand : pandas.Series
        Starting-grade demand of each parcel.
    n_blocks : int
        Target number of blocks, shared among zones by households; each zone gets at least one.
        The result may hold a few more: a cluster in several pieces becomes several blocks.
    seed : int
        Seed of the k-means start (``numpy.random.default_rng``).
    min_shared : float
        Two parcel areas are adjacent when they share at least this length of boundary
        (metres); corner contacts do not count.
    focus : mapping of zone id to float, optional
        Weight of each zone in sharing out the blocks (default 1): a zone of weight 0.2 gets
        blocks five times as large (:func:`pressure_focus` weighs down the zones far from
        any over-full zone, so the blocks that may move are finer).

    Returns
    -------
    Blocks

    Raises
    ------
    ValidationError
        If ``n_blocks`` < 1 or ``parcels`` lacks ``households``.
    """
    if int(n_blocks) < 1:
        raise ValidationError(f"n_blocks={n_blocks!r} must be at least 1 (e.g. 2000)")
    if "households" not in parcels.columns:
        raise ValidationError("parcels: missing column 'households', needed to count the "
                              "households a plan moves")
    rng = np.random.default_rng(seed)
    zone_of = zone_of.reindex(parcels.index)
    zoned = zone_of.notna().to_numpy() & zone_of.isin(zones.index).to_numpy()
    pids = parcels.index[zoned]
    pz = zone_of.to_numpy()[zoned]
    geoms = parcels.geometry.to_numpy()[zoned]
    xy = shapely.get_coordinates(shapely.point_on_surface(geoms))
    hh = _households(parcels).to_numpy()[zoned]
    dem = demand.reindex(pids).fillna(0.0).to_numpy(float)
    w = hh + 0.5  # empty parcels still weigh a little, so rural land forms blocks too
    n = len(pids)
    areas = np.empty(n, dtype=object)
    label = np.zeros(n, np.intp)
    zw = pd.Series(pz).map(dict(focus or {})).fillna(1.0).to_numpy(float)
    if (zw < 0).any() or not np.isfinite(zw).all():
        raise ValidationError("focus: zone weights must be finite and ≥ 0")
    share = w * zw
    total_w, next_label = share.sum() or 1.0, 0
    for z in pd.unique(pz):  # a loop over zones (tens to hundreds)
        m = np.flatnonzero(pz == z)
        areas[m] = _parcel_areas(geoms[m], zones.geometry.loc[z])
        k = int(min(len(m), max(1, round(n_blocks * share[m].sum() / total_w))))
        label[m] = next_label + _kmeans(xy[m], w[m], k, rng)
        next_label += k
    i, j = _touching(areas, min_shared)
    # a block is a connected piece of a k-means cluster
    same = label[i] == label[j]
    comp = _components(n, i[same], j[same])
    block = pd.factorize(pd.MultiIndex.from_arrays([label, comp]))[0]
    nb = int(block.max()) + 1 if n else 0
    bz = np.empty(nb, dtype=object)
    bz[block] = pz
    bw = np.bincount(block, weights=hh + 0.01, minlength=nb)
    bx = np.bincount(block, weights=(hh + 0.01) * xy[:, 0], minlength=nb) / bw
    by = np.bincount(block, weights=(hh + 0.01) * xy[:, 1], minlength=nb) / bw
    bi, bj = block[i], block[j]
    diff = bi != bj
    pairs = np.unique(np.sort(np.column_stack([bi[diff], bj[diff]]), axis=1), axis=0) \
        if diff.any() else np.zeros((0, 2), np.intp)
    virtual, vowner = _connect_zones(bz, bx, by, pairs)
    edges = np.vstack([pairs, np.asarray(virtual, np.intp).reshape(-1, 2)])
    owner = np.concatenate([np.full(len(pairs), None, dtype=object),
                            np.asarray(vowner, dtype=object)])
    return Blocks(
        parcel_block=pd.Series(block, index=pids, name="block"),
        zone=bz, demand=np.bincount(block, weights=dem, minlength=nb),
        households=np.bincount(block, weights=hh, minlength=nb), x=bx, y=by,
        edges=edges.astype(np.intp), owner=owner,
        cells=gpd.GeoSeries(areas, index=pids, crs=parcels.crs), seed=int(seed))


def pressure_focus(zones: gpd.GeoDataFrame, load: pd.Series, seats: pd.Series, *,
                   steps: int = 1, far: float = 0.25, min_shared: float = 5.0) -> dict:
    """Block weights per zone for :func:`build_blocks`: fine blocks where pupils may move.

    Pupils move out of the over-full zones into their neighbours, so only the blocks of those
    zones and of the zones within ``steps`` shared boundaries of them are likely to move. They
    keep weight 1; every other zone gets ``far``, so with the same number of blocks the ones
    that may move are smaller (a finer choice of whom to move, and a tighter MIP: the LP's
    fractional block is smaller). A district with no over-full zone gets no focus (all 1).

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        The zones of one level, indexed by ``zone_id``.
    load, seats : pandas.Series
        Starting-grade demand and seats per zone id.
    steps : int
        Zone adjacency steps around an over-full zone that keep weight 1.
    far : float
        Weight of the other zones (0 < far ≤ 1).
    min_shared : float
        Metres of common boundary that make two zones neighbours.

    Returns
    -------
    dict
        Zone id → weight.
    """
    ids = zones.index
    over = (load.reindex(ids).fillna(0) > seats.reindex(ids).fillna(0) + 1e-9).to_numpy()
    if not over.any():
        return {z: 1.0 for z in ids}
    i, j = _touching(zones.geometry.to_numpy(), min_shared)
    near = over.copy()
    for _ in range(max(int(steps), 0)):
        grown = near.copy()
        grown[i[near[j]]] = True
        grown[j[near[i]]] = True
        near = grown
    return dict(zip(ids, np.where(near, 1.0, float(far)), strict=True))


def _connect_zones(bz, bx, by, pairs):
    """Virtual edges joining the pieces of each zone to its largest piece, nearest first."""
    same = bz[pairs[:, 0]] == bz[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
    comp = _components(len(bz), pairs[same, 0], pairs[same, 1])
    virtual, owner = [], []
    for z in pd.unique(bz):
        m = np.flatnonzero(bz == z)
        labels = comp[m]
        if np.unique(labels).size == 1:
            continue
        sizes = pd.Series(labels).value_counts()
        main = set(m[labels == sizes.index[0]])
        rest = set(m) - main
        while rest:
            a = np.fromiter(main, np.intp)
            b = np.fromiter(rest, np.intp)
            d = (bx[a, None] - bx[b]) ** 2 + (by[a, None] - by[b]) ** 2
            ia, ib = np.unravel_index(np.argmin(d), d.shape)
            u, v = int(a[ia]), int(b[ib])
            virtual.append((min(u, v), max(u, v)))
            owner.append(z)
            piece = set(m[labels == comp[v]])
            main |= piece
            rest -= piece
    return virtual, owner


# ------------------------------------------------------------------------------ result
@dataclass(frozen=True, eq=False)
class OptimizeResult:
    """One rebalanced plan and how it was found.

    Attributes
    ----------
    status : str
        ``"optimal"`` (within ``mip_rel_gap``), ``"feasible"`` (time limit with a plan whose
        gap is ``mip_gap``), ``"greedy"`` (the greedy baseline, every zone within its seats) or
        ``"over_capacity"`` (the greedy baseline got stuck).
    objective : float
        Households moved + ``distance_weight`` × pupil-km.
    mip_gap : float
        Relative MIP gap of the model solved (NaN for the greedy baseline). For
        ``contiguity="order"`` it is measured within the order restriction.
    seconds : float
        Solve time (for the first plan: from the start of :meth:`RebalanceModel.solve`,
        the greedy start and, for ``"flow"``, the order model that starts it included).
    assignment : pandas.Series
        Zone of every parcel in the plan, indexed by ``parcel_id`` (missing: parcel in no zone).
    block_zone : pandas.Series
        Zone of every block in the plan.
    moved_households, moved_parcels, moved_blocks : int
        What changes zone.
    distance : float
        Σ demand × km from each block to its zone's nearest school.
    distance_weight : float
        Weight of ``distance`` in the objective.
    zones, schools : pandas.DataFrame
        Per zone / per school: seats, demand and ratio before and after.
    method : str
        ``"mip"`` or ``"greedy"``.
    plans : tuple of OptimizeResult
        Every plan along the moved-vs-distance trade-off (the first is this one).
    contiguity : str
        The contiguity model of the MIP (``"order"`` or ``"flow"``; ``""`` for greedy).
    """

    status: str
    objective: float
    mip_gap: float
    seconds: float
    assignment: pd.Series
    block_zone: pd.Series
    moved_households: int
    moved_parcels: int
    moved_blocks: int
    distance: float
    distance_weight: float
    zones: pd.DataFrame
    schools: pd.DataFrame
    method: str = "mip"
    plans: tuple = field(default_factory=tuple)
    contiguity: str = ""

    @property
    def worst_ratio(self) -> float:
        """Largest demand ÷ seats of any school after the plan."""
        r = self.schools["ratio_after"].replace(np.inf, np.nan)
        return float(r.max()) if r.notna().any() else float("nan")

    @property
    def over_cap(self) -> list[str]:
        """Schools whose demand exceeds their seats after the plan."""
        s = self.schools
        return s.index[(s["demand_after"] > s["seats"] + 1e-6).to_numpy()].tolist()

    def summary(self) -> dict:
        """JSON-ready summary (no frames)."""
        s = self.schools
        return {
            "method": self.method, "contiguity": self.contiguity, "status": self.status,
            "objective": self.objective, "mip_gap": self.mip_gap, "seconds": self.seconds,
            "moved_households": self.moved_households, "moved_parcels": self.moved_parcels,
            "moved_blocks": self.moved_blocks, "distance": self.distance,
            "distance_weight": self.distance_weight, "worst_ratio": self.worst_ratio,
            "over_cap_before": s.index[(s["demand_before"] > s["seats"] + 1e-6).to_numpy()
                                       ].tolist(),
            "over_cap_after": self.over_cap,
        }


# ------------------------------------------------------------------------------ model
@dataclass(frozen=True, eq=False)
class RebalanceModel:
    """The rebalancing problem of one level, built from frames; :meth:`solve` runs HiGHS.

    Build it with :meth:`from_dataset` or :meth:`from_frames`; the attributes are derived data.

    Attributes
    ----------
    level : str
    cap : int
        Students per starting-grade class.
    blocks : Blocks
    zone_ids : pandas.Index
        Zones of the level that have blocks (targets of the model).
    seats : numpy.ndarray
        Seats per zone (planned plus added classes × cap).
    root : numpy.ndarray
        Root block of each zone (holding its school, or the nearest to it).
    fixed : numpy.ndarray
        Per block: must stay in its current zone.
    cand_block, cand_zone : numpy.ndarray
        Candidate (block, zone position) pairs.
    cand_km : numpy.ndarray
        Km from the block to the zone's nearest school, per candidate pair.
    reach, wide : int, mapping
        Adjacency steps of the candidate pairs, and the zones whose blocks get more
        (:meth:`with_reach`).
    """

    level: str
    cap: int
    parcels: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    demand: pd.Series
    current: pd.Series
    blocks: Blocks
    zone_ids: pd.Index
    seats: np.ndarray
    add_classes: dict
    root: np.ndarray
    fixed: np.ndarray
    cand_block: np.ndarray
    cand_zone: np.ndarray
    cand_km: np.ndarray
    settings: CapacitySettings
    reach: int = 2
    wide: Mapping = field(default_factory=dict)

    # -------------------------------------------------------------------------- building
    @classmethod
    def from_dataset(cls, dataset, *, level: str = "primary", year: int | None = None,
                     **kwargs) -> RebalanceModel:
        """Build the model from a :class:`zoning.store.Dataset` and the forecast demand.

        Parameters
        ----------
        dataset : zoning.store.Dataset
        level : {"primary", "junior"}
        year : int, optional
            Intake year of the demand (:func:`zoning.forecast.parcel_demand`).
        **kwargs
            As :meth:`from_frames`.
        """
        from zoning.forecast import parcel_demand

        demand = parcel_demand(dataset, level=level, year=year)
        return cls.from_frames(dataset.parcels, dataset.zones, dataset.schools, demand,
                               level=level, **kwargs)

    @classmethod
    def from_frames(cls, parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame,
                    schools: gpd.GeoDataFrame, demand: pd.Series, *, level: str = "primary",
                    n_blocks: int = 2000, add_classes: Mapping[str, int] | None = None,
                    fixed: Iterable = (), reach: int = 2,
                    settings: CapacitySettings | None = None, seed: int = 0,
                    focus: bool | Mapping = True) -> RebalanceModel:
        """Build the model from layers and per-parcel demand.

        Parameters
        ----------
        parcels : geopandas.GeoDataFrame
            Indexed by ``parcel_id`` with ``households`` (and, for parcels being built,
            ``planned_households``).
        zones : geopandas.GeoDataFrame
            Indexed by ``zone_id`` with ``level`` and ``school_ids`` (all levels; only
            ``level`` is rebalanced).
        schools : geopandas.GeoDataFrame
            Indexed by ``school_id`` with the planned-classes column of the level.
        demand : pandas.Series
            Starting-grade demand per parcel (:func:`zoning.forecast.parcel_demand`).
        level : {"primary", "junior"}
        n_blocks : int
            About how many blocks to move parcels in (:func:`build_blocks`).
        add_classes : mapping of str to int, optional
            Extra starting-grade classes allowed at named schools, e.g. ``{"S012": 2}``.
        fixed : iterable of parcel ids
            Parcels whose blocks must stay in their current zone.
        reach : int
            A block may move to the zones of blocks within this many adjacency steps (2 lets
            the second row of blocks behind a zone boundary move too).
        settings : CapacitySettings, optional
            Class caps (default 45 / 50).
        seed : int
            Seed of the block clustering.
        focus : bool or mapping of zone id to float
            How the blocks are shared among zones: True (default) makes them finer around the
            over-full zones (:func:`pressure_focus`); False shares them by households alone;
            a mapping gives each zone's weight (:func:`build_blocks`).

        Returns
        -------
        RebalanceModel

        Raises
        ------
        ValidationError
            Unknown level, schools or parcels in ``add_classes`` / ``fixed``, a negative class
            count, missing columns.
        """
        settings = settings or CapacitySettings()
        _check_level(level)
        cap = settings.cap(level)
        lz = zones[zones["level"] == level]
        if len(lz) == 0:
            raise ValidationError(f"zones: no zone of level {level!r}; check the zone layer")
        col = _PLANNED_COL[level]
        if col not in schools.columns:
            raise ValidationError(f"schools: missing column {col!r} (planned starting-grade "
                                  "classes), needed for seats")
        links = zone_schools(lz)
        add = _check_add(add_classes, links, schools)
        current = assign_parcels(parcels, lz, level=level)["zone_id"]
        demand = demand.reindex(parcels.index).fillna(0.0)
        planned = pd.to_numeric(schools[col], errors="coerce").fillna(0).astype(int)
        school_seats = planned.add(pd.Series(add, dtype=int), fill_value=0) * cap
        zone_seats = (links["school_id"].map(school_seats).fillna(0)
                      .groupby(links["zone_id"]).sum().reindex(lz.index).fillna(0.0))
        if focus is True:
            focus = pressure_focus(lz, demand.groupby(current).sum(), zone_seats)
        blocks = build_blocks(parcels, lz, current, demand=demand, n_blocks=n_blocks, seed=seed,
                              focus=focus or None)
        fixed_ids = pd.Index(list(fixed))
        unknown = fixed_ids.difference(blocks.parcel_block.index)
        if len(unknown):
            raise ValidationError(f"fixed: {len(unknown)} parcel id(s) not in any {level} zone: "
                                  f"{', '.join(map(str, unknown[:5]))}; pass zoned parcel ids")
        is_fixed = np.zeros(len(blocks), bool)
        is_fixed[blocks.parcel_block.loc[fixed_ids].to_numpy()] = True

        zone_ids = lz.index[lz.index.isin(pd.unique(blocks.zone))]
        zpos = zone_ids.get_indexer(blocks.zone)
        seats = zone_seats.reindex(zone_ids).to_numpy(float)
        spts = schools.geometry.reindex(links["school_id"]).to_numpy()
        root = _roots(blocks, zpos, zone_ids.get_indexer(links["zone_id"]), shapely.get_x(spts),
                      shapely.get_y(spts))
        is_fixed[root] = True
        none = np.zeros(0, np.intp)
        model = cls(level=level, cap=cap, parcels=parcels, zones=zones, schools=schools,
                    demand=demand, current=current,
                    blocks=blocks, zone_ids=zone_ids, seats=seats, add_classes=add, root=root,
                    fixed=is_fixed, cand_block=none, cand_zone=none, cand_km=np.zeros(0),
                    settings=settings)
        return model.with_reach(reach)

    def with_reach(self, reach: int, *, wide: Mapping | None = None) -> RebalanceModel:
        """The same model with candidate pairs up to ``reach`` adjacency steps.

        A block may go to its current zone and to the zones of blocks within ``reach`` steps
        of it through real edges (``reach + wide[zone]`` for the blocks of the zones in
        ``wide``); fixed blocks and roots only to their current zone.
        """
        wide = {z: int(k) for z, k in dict(wide or {}).items()}
        b, zpos, nz = self.blocks, self.zone_pos, len(self.zone_ids)
        steps = np.full(len(b), max(int(reach), 0))
        steps += pd.Series(b.zone).map(wide).fillna(0).to_numpy(int)
        e = b.edges[b.real]
        step = np.zeros((len(b), nz), bool)  # zones within k steps, k = 0, 1, …
        step[np.arange(len(b)), zpos] = True
        m = step.copy()
        for k in range(1, int(steps.max()) + 1 if len(b) else 0):
            new = step.copy()
            np.logical_or.at(new, e[:, 0], step[e[:, 1]])
            np.logical_or.at(new, e[:, 1], step[e[:, 0]])
            step = new
            m[steps >= k] = step[steps >= k]
        m[self.fixed] = False
        m[np.flatnonzero(self.fixed), zpos[self.fixed]] = True
        cb, cz = np.nonzero(m)  # sorted by block, then zone
        links = self._links()
        lpos = self.zone_ids.get_indexer(links["zone_id"])
        spts = self.schools.geometry.reindex(links["school_id"]).to_numpy()
        sx, sy = shapely.get_x(spts), shapely.get_y(spts)
        km = np.zeros(len(cb))  # a zone whose schools have no location: distance unknown, 0
        for k in range(nz):  # a loop over zones
            sel = cz == k
            s = np.flatnonzero((lpos == k) & np.isfinite(sx))
            if sel.any() and s.size:
                d = np.hypot(b.x[cb[sel], None] - sx[s], b.y[cb[sel], None] - sy[s])
                km[sel] = d.min(axis=1) / 1000.0
        return replace(self, reach=int(reach), wide=wide, cand_block=cb, cand_zone=cz,
                       cand_km=km)

    # -------------------------------------------------------------------------- queries
    @property
    def zone_pos(self) -> np.ndarray:
        """Current zone position (in ``zone_ids``) of each block."""
        return self.zone_ids.get_indexer(self.blocks.zone)

    def blocks_of(self, block_zone: pd.Series) -> np.ndarray:
        """Zone position of each block from a block → zone id series."""
        return self.zone_ids.get_indexer(np.asarray(block_zone))

    def zone_graph(self, z: int) -> list[np.ndarray]:
        """Block adjacency zone position ``z`` may use: real edges and its own virtual edges."""
        b = self.blocks
        mine = np.array([o is None or o == self.zone_ids[z] for o in b.owner], bool)
        return _neighbours(len(b), b.edges[mine])

    def disconnected(self, block_zone) -> list:
        """Zones of a block → zone plan whose blocks are not all connected to the root block."""
        pos = self.blocks_of(block_zone)
        bad = []
        for z in range(len(self.zone_ids)):  # a loop over zones
            mine = pos == z
            reached = _bfs(int(self.root[z]), self.zone_graph(z), lambda v, m=mine: m[v])
            if len(reached) != int(mine.sum()) or not mine[self.root[z]]:
                bad.append(self.zone_ids[z])
        return bad

    def _links(self) -> pd.DataFrame:
        return zone_schools(self.zones[self.zones["level"] == self.level])

    # -------------------------------------------------------------------------- solving
    def solve(self, *, time_limit: float = 60.0, mip_rel_gap: float = 0.01,
              distance_weights: Iterable[float] = DEFAULT_WEIGHTS, threads: int = 2,
              contiguity: str = "order", seed: int = 0, verbose: bool = False,
              progress: Progress | None = None) -> OptimizeResult:
        """Solve the MIP for each distance weight; the first plan is the result.

        Parameters
        ----------
        time_limit : float
            Seconds per plan.
        mip_rel_gap : float
            Stop when the relative gap is at most this (0.01 = 1 %).
        distance_weights : iterable of float
            Households per pupil-km, one plan each, in this order; the first plan is returned
            with all of them in ``plans``. Later plans start from the previous one.
        threads : int
            HiGHS threads (its branch-and-bound search runs one worker on each).
        contiguity : {"order", "flow"}
            ``"order"`` (default, fast): a restriction that keeps zones contiguous (see the
            module docstring); its gap is measured within the restriction. ``"flow"``: exact
            (every contiguous plan allowed, the gap is the true gap) but slow to close; it is
            started from the order model's plan, which gets two thirds of ``time_limit``
            (the flow model rarely improves on it; its bound is what it adds).
        seed : int
            HiGHS ``random_seed``.
        verbose : bool
            Show the HiGHS log.
        progress : callable, optional
            Called about twice a second while HiGHS works (maybe from another thread) as
            ``progress(plan, plans, best_objective, best_bound)``: the plan (0-based) of
            ``plans`` being solved, the objective of its best plan so far (``inf`` before the
            first) and the best bound proven on it.

        Returns
        -------
        OptimizeResult

        Raises
        ------
        InfeasibleError
            No plan fits the seats: names the schools short of seats and by how many classes.
        ZoningError
            HiGHS found no plan within the time limit (and the greedy baseline none either).
        """
        weights = [float(w) for w in distance_weights]
        if not weights or any(w < 0 for w in weights):
            raise ValidationError(f"distance_weights={weights!r}: give one or more weights ≥ 0")
        if contiguity not in CONTIGUITY:
            raise ValidationError(f"contiguity={contiguity!r}: use 'order' or 'flow'")
        # a little more primal heuristics than HiGHS's default (0.05): on the demo district
        # the incumbent, not only the bound, decides when the gap closes
        opts = {"threads": int(threads), "random_seed": int(seed), "mip_heuristic_effort": 0.3,
                "mip_rel_gap": float(mip_rel_gap), "output_flag": bool(verbose)}
        t_start = time.perf_counter()
        model = self._widened(threads)
        return model._solve(weights, opts, float(time_limit), contiguity, t_start, progress)

    def _solve(self, weights, opts, limit, contiguity, t_start,
               progress=None) -> OptimizeResult:
        base = self.greedy(distance_weight=weights[0])
        start = self.blocks_of(base.block_zone) if base.status == "greedy" else None
        if contiguity == "flow":
            pre = _Mip(self, contiguity="order")
            run = pre.run(opts, weights[0], start, limit * 2 / 3)
            if run.has_plan:
                start = self.zone_ids.get_indexer(pre.block_zone(run.col))
        plans: list[OptimizeResult] = []
        mip, t0 = _Mip(self, contiguity=contiguity), t_start
        for i, w in enumerate(weights):
            report = None if progress is None else functools.partial(progress, i, len(weights))
            left = max(limit - (time.perf_counter() - t0), 1.0)
            run = mip.run(opts, w, start, left, report=report)
            if run.infeasible and mip.contiguity == "order":
                # the order model is a restriction: only the exact model may say no plan exists
                mip = _Mip(self, contiguity="flow")
                left = max(limit - (time.perf_counter() - t0), 1.0)
                run = mip.run(opts, w, start, left, report=report)
            if run.infeasible:
                self._raise_short(time_limit=limit, threads=opts["threads"])
            if not run.has_plan:
                if base.status == "greedy" and not plans:
                    plans.append(replace(base, distance_weight=w))
                    continue
                raise ZoningError(
                    f"optimize: HiGHS found no plan within time_limit={limit:g} s "
                    f"({run.status}); raise time_limit, lower n_blocks or raise reach")
            status = "optimal" if run.optimal else "feasible"
            plans.append(self._result(mip.block_zone(run.col), status=status, mip_gap=run.gap,
                                      seconds=time.perf_counter() - t0, distance_weight=w,
                                      method="mip", objective=run.objective,
                                      contiguity=mip.contiguity))
            start = self.zone_ids.get_indexer(mip.block_zone(run.col))
            t0 = time.perf_counter()
        return _with_plans(plans[0], tuple(plans))

    def _forced_short(self) -> np.ndarray:
        """Per zone: demand of the blocks that can go nowhere else, less the seats."""
        b = self.blocks
        only = np.bincount(self.cand_block, minlength=len(b)) == 1
        return np.bincount(self.zone_pos[only], weights=b.demand[only],
                           minlength=len(self.zone_ids)) - self.seats

    def _widened(self, threads: int) -> RebalanceModel:
        """The model itself, or one of a wider reach where no plan fits the seats at its reach.

        How a zone's blocks are cut decides how far an over-full zone can pass pupils on, so
        a reach that fits one clustering may not fit another. Where the model without
        contiguity (it answers in seconds) finds zones short of seats, the blocks of those zones
        and of their neighbours get one more step, up to ``MAX_EXTRA_REACH``, before the
        district is declared short of seats.
        """
        if self.blocks.demand.sum() - self.seats.sum() > 1e-6:
            self._raise_short(why=f"district demand {self.blocks.demand.sum():.0f} exceeds its "
                                  f"{self.seats.sum():.0f} seats", threads=threads)
        model, wide = self, dict(self.wide)
        opts = {"threads": int(threads), "mip_rel_gap": 1.0}  # any plan will do
        b, zpos = self.blocks, self.zone_pos
        e = b.edges[b.real]
        while True:
            short = model._forced_short() > 1e-6
            if not short.any():
                if not _Mip(model, contiguity="none").run(opts, 0.0, None, 30.0).infeasible:
                    return model
                elastic = _Mip(model, elastic=True, contiguity="none")  # fewest classes
                run = elastic.run({"threads": int(threads)}, None, model.zone_pos, 30.0)
                if run.has_plan:
                    short = run.col[elastic.k0:] > 0.5
            near = set(np.flatnonzero(short))
            near |= set(zpos[e[:, 1]][short[zpos[e[:, 0]]]]) | set(zpos[e[:, 0]][short[zpos[e[:, 1]]]])
            grown = {self.zone_ids[z]: min(wide.get(self.zone_ids[z], 0) + 1, MAX_EXTRA_REACH)
                     for z in near}
            if not near or all(wide.get(z, 0) >= k for z, k in grown.items()):
                break
            wide.update(grown)
            model = self.with_reach(self.reach, wide=wide)
        short = model._forced_short()
        if (short > 1e-6).any():
            model._raise(short, why="the blocks that cannot leave these zones (fixed parcels, "
                                    "the school's own block, blocks far from any other zone) "
                                    "already need more seats than planned")
        model._raise_short(threads=threads)

    def _raise_short(self, *, why: str = "no rearrangement of blocks fits every zone's seats",
                     time_limit: float = 30.0, threads: int = 2) -> None:
        """Solve the elastic model (fewest extra classes, exact contiguity) and raise."""
        mip = _Mip(self, elastic=True, contiguity="flow")
        # started from the current plan with the classes each zone lacks, so there is a plan
        run = mip.run({"threads": int(threads)}, DEFAULT_WEIGHTS[0], self.zone_pos, time_limit)
        short = np.round(run.col[mip.k0:mip.k0 + len(self.zone_ids)]) * self.cap \
            if run.has_plan else np.zeros(len(self.zone_ids))
        if short.sum() <= 0:  # no elastic answer in time: the zones over their seats as they are
            load = np.bincount(self.zone_pos, weights=self.blocks.demand,
                               minlength=len(self.zone_ids))
            short = np.maximum(load - self.seats, 0)
        self._raise(short - 1e-9, why=why)

    def _raise(self, short: np.ndarray, *, why: str) -> None:
        links = self._links()
        planned = pd.to_numeric(self.schools[_PLANNED_COL[self.level]], errors="coerce").fillna(0)
        names = self.schools["name"] if "name" in self.schools else pd.Series(dtype=object)
        load = np.bincount(self.zone_pos, weights=self.blocks.demand,
                           minlength=len(self.zone_ids))
        shortfall, parts = {}, []
        for k in np.flatnonzero(short > 1e-6):
            z = self.zone_ids[k]
            sids = links.loc[links["zone_id"] == z, "school_id"].tolist()
            classes = int(math.ceil(short[k] / self.cap - 1e-9))
            # a 多校划片 zone: the classes go to its school with the most planned classes
            target = max(sids, key=lambda s: planned.get(s, 0)) if sids else str(z)
            shortfall[target] = shortfall.get(target, 0) + classes
            label = "、".join(f"{s} {names.get(s, '')}".strip() for s in sids) or "(no school)"
            parts.append(f"{label} (zone {z}: demand {load[k]:.0f}, {self.seats[k]:.0f} seats) "
                         f"needs {classes} more class(es)")
        fix = ", ".join(f"'{s}': {c}" for s, c in shortfall.items())
        raise InfeasibleError(
            f"optimize: no {self.level} plan fits the class caps ({why}): " + "; ".join(parts)
            + f"; add classes (add_classes={{{fix}}}) or open seats nearby", shortfall=shortfall)

    # -------------------------------------------------------------------------- greedy
    def greedy(self, *, distance_weight: float = DEFAULT_WEIGHTS[0],
               max_moves: int = 100_000) -> OptimizeResult:
        """Greedy baseline: move boundary blocks out of over-full zones, keeping contiguity.

        While a zone is over its seats, move the block on its edge with the fewest households
        per pupil (not its school's block, not fixed, not cutting the zone in two) to the
        neighbouring zone with the most spare seats that can take it. Stops when every zone
        fits or no such move is left (``status="over_capacity"``).

        Returns
        -------
        OptimizeResult
            ``method="greedy"``, ``mip_gap`` NaN.
        """
        t0 = time.perf_counter()
        b = self.blocks
        nz = len(self.zone_ids)
        assign = self.zone_pos.copy()
        load = np.bincount(assign, weights=b.demand, minlength=nz)
        nbrs = _neighbours(len(b), b.edges[b.real])
        allowed = set(zip(self.cand_block.tolist(), self.cand_zone.tolist(), strict=True))
        members = [set(np.flatnonzero(assign == k).tolist()) for k in range(nz)]
        ratio = np.where(b.demand > 0, b.households / np.maximum(b.demand, 1e-12), np.inf)
        graphs: dict[int, list[np.ndarray]] = {}
        for _ in range(max_moves):
            over = np.flatnonzero(load > self.seats + 1e-9)
            moved = False
            for z in over[np.argsort(-(load - self.seats)[over])]:
                spare = self.seats - load
                options = []
                for u in members[z]:
                    if self.fixed[u] or b.demand[u] <= 0:
                        continue
                    targets = [t for t in {int(assign[v]) for v in nbrs[u]} - {z}
                               if (u, t) in allowed and spare[t] >= b.demand[u] - 1e-9]
                    if targets:
                        options.append((ratio[u], u, max(targets, key=lambda t: spare[t])))
                if z not in graphs:
                    graphs[z] = self.zone_graph(z)
                for _, u, t in sorted(options):
                    rest = members[z] - {u}
                    if len(_bfs(int(self.root[z]), graphs[z], rest.__contains__)) == len(rest):
                        assign[u] = t
                        members[z].discard(u)
                        members[t].add(u)
                        load[z] -= b.demand[u]
                        load[t] += b.demand[u]
                        moved = True
                        break
                if moved:
                    break
            if not moved:
                break
        ok = bool((load <= self.seats + 1e-9).all())
        res = self._result(self.zone_ids[assign].to_numpy(dtype=object),
                           status="greedy" if ok else "over_capacity", mip_gap=float("nan"),
                           seconds=time.perf_counter() - t0, distance_weight=distance_weight,
                           method="greedy")
        return _with_plans(res, (res,))

    # -------------------------------------------------------------------------- results
    def _result(self, block_zone, *, status, mip_gap, seconds, distance_weight, method,
                objective=None, contiguity="") -> OptimizeResult:
        b = self.blocks
        block_zone = np.asarray(block_zone, dtype=object)
        pos = self.zone_ids.get_indexer(block_zone)
        moved_b = block_zone != b.zone
        assignment = self.current.copy().rename("zone_id")
        assignment.loc[b.parcel_block.index] = block_zone[b.parcel_block.to_numpy()]
        moved_p = int(moved_b[b.parcel_block.to_numpy()].sum())
        hh = float(b.households[moved_b].sum())
        nz = len(self.zone_ids)
        key = self.cand_block * nz + self.cand_zone  # sorted: np.nonzero order
        k = np.searchsorted(key, np.arange(len(b)) * nz + pos)
        k = np.minimum(k, len(key) - 1)
        km = np.where(key[k] == np.arange(len(b)) * nz + pos, self.cand_km[k], 0.0)
        dist = float((b.demand * km).sum())
        if objective is None:
            objective = hh + distance_weight * dist
        zones, schools = self._tables(pos)
        return OptimizeResult(
            status=status, objective=float(objective), mip_gap=mip_gap, seconds=float(seconds),
            assignment=assignment, block_zone=pd.Series(block_zone, name="zone_id"),
            moved_households=int(round(hh)), moved_parcels=moved_p,
            moved_blocks=int(moved_b.sum()), distance=dist, distance_weight=float(distance_weight),
            zones=zones, schools=schools, method=method, contiguity=contiguity)

    def _tables(self, pos: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        b, nz = self.blocks, len(self.zone_ids)
        before = np.bincount(self.zone_pos, weights=b.demand, minlength=nz)
        after = np.bincount(pos, weights=b.demand, minlength=nz)
        moved = pos != self.zone_pos
        hh_in = np.bincount(pos[moved], weights=b.households[moved], minlength=nz)
        hh_out = np.bincount(self.zone_pos[moved], weights=b.households[moved], minlength=nz)
        links = self._links()
        sids = links.groupby("zone_id")["school_id"].agg(";".join).reindex(self.zone_ids)
        with np.errstate(divide="ignore", invalid="ignore"):
            zones = pd.DataFrame({
                "school_ids": sids.to_numpy(), "seats": self.seats, "demand_before": before,
                "demand_after": after, "ratio_before": before / self.seats,
                "ratio_after": after / self.seats, "households_in": hh_in,
                "households_out": hh_out}, index=self.zone_ids)
        col = _PLANNED_COL[self.level]
        sch = self.schools.copy()
        planned = pd.to_numeric(sch[col], errors="coerce").fillna(0).astype(int)
        added = pd.Series(self.add_classes, dtype=int).reindex(sch.index).fillna(0).astype(int)
        sch[col] = planned + added
        lz = self.zones[self.zones["level"] == self.level]
        # per school as zoning.capacity does it (a 多校划片 zone shares by seats)
        d0 = school_demand(pd.Series(before, index=self.zone_ids), lz, sch, level=self.level,
                           settings=self.settings)
        d1 = school_demand(pd.Series(after, index=self.zone_ids), lz, sch, level=self.level,
                           settings=self.settings)
        zoned = links.drop_duplicates("school_id").set_index("school_id")["zone_id"]
        idx = zoned.index
        with np.errstate(divide="ignore", invalid="ignore"):
            schools = pd.DataFrame({
                "name": (self.schools["name"].reindex(idx) if "name" in self.schools
                         else pd.Series(idx, index=idx)),
                "zone_id": zoned, "planned_classes": planned.reindex(idx).fillna(0).astype(int),
                "added_classes": added.reindex(idx).fillna(0).astype(int),
                "seats": (sch[col].reindex(idx) * self.cap).astype(float),
                "demand_before": d0.reindex(idx).fillna(0.0),
                "demand_after": d1.reindex(idx).fillna(0.0)}, index=idx)
            schools["ratio_before"] = schools["demand_before"] / schools["seats"]
            schools["ratio_after"] = schools["demand_after"] / schools["seats"]
        schools.index.name = "school_id"
        return zones, schools

    def plan_zones(self, result: OptimizeResult | pd.Series) -> gpd.GeoDataFrame:
        """Zone layer of a plan (see :func:`plan_zones`), reusing the model's parcel areas."""
        assignment = result.assignment if isinstance(result, OptimizeResult) else result
        return plan_zones(self.zones, self.parcels, assignment, level=self.level,
                          current=self.current, cells=self.blocks.cells)


# ------------------------------------------------------------------------------ HiGHS
def _highs(options: dict):
    """A HiGHS instance with ``options`` set (and its banner kept off stdout when quiet)."""
    import highspy

    if options.get("output_flag"):
        h = highspy.Highs()
    else:
        # HiGHS prints its banner to the C stdout on the first instance, before any option
        # can silence it; it would break `zoning optimize --json`
        with _quiet_c_stdout():
            h = highspy.Highs()
    for k, v in {"output_flag": False, **options}.items():
        h.setOptionValue(k, v)
    return h


#: The HiGHS thread count each Python thread's scheduler was made for (:func:`_run_highs`).
_SCHEDULER = threading.local()


def _run_highs(h, threads: int):
    """``h.run()``, after resetting this thread's HiGHS scheduler if it has another thread count.

    HiGHS makes one task scheduler per calling thread, on its first solve, and refuses any later
    solve with another ``threads`` option (status "Not Set"): a solve on one thread after one on
    two, in the same process, would find no plan.
    """
    if getattr(_SCHEDULER, "threads", threads) != threads:
        h.resetThreadScheduler(False)
    _SCHEDULER.threads = threads
    return h.run()


@contextlib.contextmanager
def _quiet_c_stdout():
    """Send file descriptor 1 to the null device for the duration (C-level prints too)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (embedded interpreter): nothing to hide
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        with contextlib.suppress(Exception):
            ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _with_plans(res: OptimizeResult, plans: tuple) -> OptimizeResult:
    return replace(res, plans=tuple(replace(p, plans=()) for p in plans))


def _check_add(add_classes, links, schools) -> dict:
    add = {str(k): v for k, v in dict(add_classes or {}).items()}
    problems = []
    for s, v in add.items():
        if s not in set(links["school_id"]):
            where = "not in the schools layer" if s not in schools.index else \
                "has no zone of this level (a private school, or another level)"
            problems.append(f"add_classes: school {s} {where}; name a zoned public school")
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            problems.append(f"add_classes: {s}={v!r} must be a whole number of classes ≥ 0")
    if problems:
        raise ValidationError("; ".join(problems), problems=problems)
    return {s: int(v) for s, v in add.items()}


def _roots(blocks: Blocks, zpos, lpos, sx, sy) -> np.ndarray:
    """Block of each zone holding its (first located) school, else its block nearest to it."""
    nz = int(zpos.max()) + 1 if len(zpos) else 0
    root = np.full(nz, -1)
    tree = shapely.STRtree(blocks.cells.to_numpy())
    pblock = blocks.parcel_block.to_numpy()
    for k in range(nz):
        mine = np.flatnonzero(zpos == k)
        s = np.flatnonzero((lpos == k) & np.isfinite(sx))
        if s.size == 0:  # no located school: the block with the most demand
            root[k] = mine[np.argmax(blocks.demand[mine])]
            continue
        hit = [pblock[h] for h in tree.query(shapely.points(sx[s[0]], sy[s[0]]),
                                             predicate="intersects") if zpos[pblock[h]] == k]
        if hit:
            root[k] = hit[0]
        else:
            d = np.hypot(blocks.x[mine] - sx[s[0]], blocks.y[mine] - sy[s[0]])
            root[k] = mine[np.argmin(d)]
    return root


# ------------------------------------------------------------------------------ the MIP
@dataclass(frozen=True)
class _Run:
    status: str
    col: np.ndarray | None
    objective: float
    gap: float
    optimal: bool = False
    infeasible: bool = False

    @property
    def has_plan(self) -> bool:
        return self.col is not None


class _Mip:
    """Column/row layout of the HiGHS model: x pairs, flow arcs, (elastic) extra classes.

    Arcs ``tail → head`` in zone ``az``: both directions of the real edges whose ends are both
    candidates of the zone, and of the zone's own virtual edges; none into the zone's root.
    """

    def __init__(self, model: RebalanceModel, *, elastic: bool = False,
                 contiguity: str = "order"):
        self.m, self.elastic, self.contiguity = model, elastic, contiguity
        b = model.blocks
        nb, nz = len(b), len(model.zone_ids)
        cb, cz, root = model.cand_block, model.cand_zone, model.root
        self.K = k_pairs = len(cb)
        self.xi = xi = np.full((nb, nz), -1, np.int64)
        xi[cb, cz] = np.arange(k_pairs)
        real = b.real
        er = b.edges[real]
        ei, zi = np.nonzero((xi[er[:, 0]] >= 0) & (xi[er[:, 1]] >= 0))
        ev = b.edges[~real]
        vz = model.zone_ids.get_indexer(b.owner[~real]) if (~real).any() else np.zeros(0, int)
        u = np.concatenate([er[ei, 0], er[ei, 1], ev[:, 0], ev[:, 1]])
        v = np.concatenate([er[ei, 1], er[ei, 0], ev[:, 1], ev[:, 0]])
        z = np.concatenate([zi, zi, vz, vz])
        keep = v != root[z]
        self.tail, self.head, self.az = u[keep], v[keep], z[keep]
        flow = contiguity == "flow"
        n_arc = len(self.tail) if flow else 0
        big = np.maximum(np.bincount(cz, minlength=nz) - 1, 0).astype(float)
        self.f0, self.k0 = k_pairs, k_pairs + n_arc
        self.n_col = self.k0 + (nz if elastic else 0)
        self.ub = np.concatenate([np.ones(k_pairs), big[self.az] if flow else np.zeros(0),
                                  np.full(nz if elastic else 0, 1e4)])
        rows = _Rows()
        # every block in one zone
        rows.add(cb, np.arange(k_pairs), np.ones(k_pairs), np.ones(nb), np.ones(nb))
        # capacity: Σ demand x - cap k ≤ seats
        r_cap, c_cap, v_cap = cz, np.arange(k_pairs), b.demand[cb]
        if elastic:
            r_cap = np.concatenate([r_cap, np.arange(nz)])
            c_cap = np.concatenate([c_cap, self.k0 + np.arange(nz)])
            v_cap = np.concatenate([v_cap, np.full(nz, -float(model.cap))])
        rows.add(r_cap, c_cap, v_cap, np.full(nz, -np.inf), model.seats.astype(float))
        # one row per non-root pair: x[head, z] ≤ Σ x[tail, z] over the arcs chosen below
        nonroot = cb != root[cz]
        n_nr = int(nonroot.sum())
        own = np.full(k_pairs, -1)
        own[nonroot] = np.arange(n_nr)
        if flow:
            pred = np.ones(len(self.tail), bool)  # valid: a non-root block has a neighbour
        elif contiguity == "order":
            key = _order_keys(model, self.tail, self.head, self.az)
            pred = key[self.tail, self.az] < key[self.head, self.az]
        else:  # "none": seats only (reach and infeasibility checks)
            n_nr = 0
            nonroot[:] = False
            pred = np.zeros(len(self.tail), bool)
        rows.add(np.concatenate([own[nonroot], own[xi[self.head[pred], self.az[pred]]]]),
                 np.concatenate([np.flatnonzero(nonroot), xi[self.tail[pred], self.az[pred]]]),
                 np.concatenate([np.ones(n_nr), -np.ones(int(pred.sum()))]),
                 np.full(n_nr, -np.inf), np.zeros(n_nr))
        if flow:
            arc = self.f0 + np.arange(n_arc)
            # flow balance of non-root pairs: in - out - x = 0
            trow = own[xi[self.tail, self.az]]
            t_ok = trow >= 0
            rows.add(np.concatenate([own[nonroot], own[xi[self.head, self.az]], trow[t_ok]]),
                     np.concatenate([np.flatnonzero(nonroot), arc, arc[t_ok]]),
                     np.concatenate([-np.ones(n_nr), np.ones(n_arc), -np.ones(int(t_ok.sum()))]),
                     np.zeros(n_nr), np.zeros(n_nr))
            # arc capacity: f[u→v, z] - big_z x[v, z] ≤ 0
            rows.add(np.concatenate([np.arange(n_arc), np.arange(n_arc)]),
                     np.concatenate([arc, xi[self.head, self.az]]),
                     np.concatenate([np.ones(n_arc), -big[self.az]]),
                     np.full(n_arc, -np.inf), np.zeros(n_arc))
        self.rows = rows

    def matrix(self) -> dict:
        """The MIP as arrays: bounds, integer columns and the rows in compressed row form."""
        r = self.rows
        row, col, val = (np.concatenate(a) for a in (r.r, r.c, r.v))
        order = np.lexsort((col, row))
        return {"n_col": self.n_col, "ub": self.ub.astype(float),
                "integer": np.concatenate([np.arange(self.K), np.arange(self.k0, self.n_col)]),
                "lo": np.concatenate(r.lo), "hi": np.concatenate(r.hi),
                "starts": np.searchsorted(row[order], np.arange(r.n)),
                "col": col[order], "val": val[order].astype(float)}

    def load(self, h) -> None:
        import highspy

        inf = highspy.kHighsInf
        a = self.matrix()
        h.addVars(self.n_col, np.zeros(self.n_col), a["ub"])
        h.changeColsIntegrality(len(a["integer"]), a["integer"].astype(np.int32),
                                np.ones(len(a["integer"]), np.uint8))
        lo, hi = a["lo"], a["hi"]
        h.addRows(len(lo), np.where(np.isfinite(lo), lo, -inf), np.where(np.isfinite(hi), hi, inf),
                  len(a["val"]), a["starts"].astype(np.int32), a["col"].astype(np.int32),
                  a["val"])

    def costs(self, weight: float | None) -> np.ndarray:
        m, b = self.m, self.m.blocks
        cb, cz = m.cand_block, m.cand_zone
        cost = np.zeros(self.n_col)
        if weight is not None:  # None: extra classes only
            cost[:self.K] = ((cz != m.zone_pos[cb]) * b.households[cb]
                             + weight * b.demand[cb] * m.cand_km)
        if self.elastic:
            # lexicographic: one class outweighs moving every household of the district
            cost[self.k0:] = cost[:self.K].sum() + 1.0
        return cost

    def run(self, options: dict, weight: float, start_pos, time_limit: float, *,
            report: Callable[[float, float], None] | None = None) -> _Run:
        """Load (once), set the objective and start, solve; what HiGHS found.

        ``report(best_objective, best_bound)`` is called about twice a second meanwhile.
        """
        import highspy

        if not hasattr(self, "h"):
            self.h = _highs(options)
            self.load(self.h)
        h = self.h
        h.setOptionValue("time_limit", float(time_limit))
        h.changeColsCost(self.n_col, np.arange(self.n_col, dtype=np.int32), self.costs(weight))
        start = self.start(start_pos) if start_pos is not None else None
        if start is not None:
            h.setSolution(len(start), np.arange(len(start), dtype=np.int32), start)
        threads = int(options.get("threads", 0))
        if report is None:
            _run_highs(h, threads)
        else:
            tick = _Report(report)
            h.cbMipInterrupt += tick
            try:
                _run_highs(h, threads)
            finally:
                h.cbMipInterrupt -= tick
        status, info = h.getModelStatus(), h.getInfo()
        name = h.modelStatusToString(status)
        if status == highspy.HighsModelStatus.kInfeasible:
            return _Run(name, None, math.nan, math.nan, infeasible=True)
        if info.primal_solution_status != 2:
            return _Run(name, None, math.nan, math.nan)
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else math.nan
        return _Run(name, np.asarray(h.getSolution().col_value), info.objective_function_value,
                    gap, optimal=status == highspy.HighsModelStatus.kOptimal)

    def block_zone(self, col: np.ndarray) -> np.ndarray:
        """Zone id of each block: its candidate with the largest ``x`` (0/1 up to tolerance)."""
        m = self.m
        best = pd.Series(col[:self.K]).groupby(m.cand_block).idxmax().to_numpy()
        return m.zone_ids[m.cand_zone[best]].to_numpy(dtype=object)

    def start(self, pos: np.ndarray) -> np.ndarray | None:
        """A full start vector for a block → zone position plan (flows along BFS trees)."""
        m = self.m
        col = np.zeros(self.n_col)
        k = self.xi[np.arange(len(pos)), pos]
        if (k < 0).any():
            return None
        col[k] = 1.0
        if self.elastic:  # the classes the plan lacks
            load = np.bincount(pos, weights=m.blocks.demand, minlength=len(m.zone_ids))
            col[self.k0:] = np.ceil(np.maximum(load - m.seats, 0) / m.cap - 1e-9)
        if self.contiguity != "flow":
            return col
        ok = (pos[self.tail] == self.az) & (pos[self.head] == self.az)
        arc = pd.Series(np.flatnonzero(ok), index=pd.MultiIndex.from_arrays(
            [self.tail[ok], self.head[ok], self.az[ok]]))
        for z in range(len(m.zone_ids)):  # a loop over zones
            sel = ok & (self.az == z)
            nbrs = _neighbours(len(pos), np.column_stack([self.tail[sel], self.head[sel]]))
            r = int(m.root[z])
            parent, order, queue = {r: -1}, [r], deque([r])
            while queue:
                u = queue.popleft()
                for v in nbrs[u]:
                    v = int(v)
                    if v not in parent and v != r:
                        parent[v] = u
                        order.append(v)
                        queue.append(v)
            if len(parent) != int((pos == z).sum()):
                return None
            size = dict.fromkeys(order, 1)
            for v in reversed(order[1:]):
                size[parent[v]] += size[v]
                col[self.f0 + arc[(parent[v], v, z)]] = size[v]
        return col


class _Report:
    """HiGHS's MIP interrupt callback: ``report(best_objective, best_bound)`` now and then.

    Called every ``REPORT_EVERY`` seconds of the search at most (HiGHS calls back far more often).
    """

    def __init__(self, report: Callable[[float, float], None]):
        self.report, self.last = report, 0.0

    def __call__(self, e) -> None:
        now = time.monotonic()
        if now - self.last >= REPORT_EVERY:
            self.last = now
            self.report(float(e.data_out.mip_primal_bound), float(e.data_out.mip_dual_bound))


class _Rows:
    """Constraint rows collected as (row, col, value) triplets, block by block."""

    def __init__(self):
        self.r, self.c, self.v, self.lo, self.hi, self.n = [], [], [], [], [], 0

    def add(self, rows, cols, vals, lo, hi) -> None:
        self.r.append(self.n + np.asarray(rows, np.int64))
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.asarray(vals, float))
        self.lo.append(np.asarray(lo, float))
        self.hi.append(np.asarray(hi, float))
        self.n += len(lo)


def _order_keys(model: RebalanceModel, tail, head, az) -> np.ndarray:
    """Per (block, zone): a key that falls towards the zone's root along some neighbour.

    Current blocks of ``z``: their adjacency depth from the root within the zone (0 … D);
    other candidates: ``D + 1 +`` their depth from the zone through candidates. Ties are broken
    by straight-line distance to the root (less than one step), which only adds predecessors:
    every current block but the root still has a current neighbour with a smaller key, so the
    current plan meets the order constraints. Unreachable pairs keep ``inf`` (they can never
    join).
    """
    b = model.blocks
    nb, nz = len(b), len(model.zone_ids)
    key = np.full((nb, nz), np.inf)
    pos = model.zone_pos
    for z in range(nz):  # a loop over zones, BFS over their candidate blocks
        sel = az == z
        nbrs = _neighbours(nb, np.column_stack([tail[sel], head[sel]]))
        r = int(model.root[z])
        depth = _bfs(r, nbrs, lambda v, z=z: pos[v] == z)
        top = max(depth.values())
        outer = {}
        queue = deque(depth)
        seen = dict.fromkeys(depth, 0)
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                v = int(v)
                if v not in seen:
                    seen[v] = outer[v] = seen[u] + 1
                    queue.append(v)
        ids = np.fromiter(list(depth) + list(outer), np.intp)
        steps = np.array([depth[v] for v in depth] + [top + 1 + d for d in outer.values()],
                         float)
        d = np.hypot(b.x[ids] - b.x[r], b.y[ids] - b.y[r])
        key[ids, z] = steps + 0.5 * d / (d.max() + 1.0)
    return key


# ------------------------------------------------------------------------------ geometry
def plan_zones(zones: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, assignment: pd.Series, *,
               level: str, current: pd.Series | None = None,
               cells: gpd.GeoSeries | None = None) -> gpd.GeoDataFrame:
    """Zone polygons of a parcel → zone plan that still tile the district.

    Each moved parcel takes its area with it (:func:`_parcel_areas`: its polygon plus the
    open land of its old zone nearest to it). These areas tile the old zone with every parcel
    whole, so moving them leaves no gap and no overlap, and a zone whose parcels are adjacent
    through their areas stays in one piece. Zones that neither lose nor gain keep their
    geometry exactly.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Every zone (all levels); only ``level``'s geometries change.
    parcels : geopandas.GeoDataFrame
        Indexed by ``parcel_id``.
    assignment : pandas.Series
        The plan's zone of each parcel.
    level : {"primary", "junior"}
    current : pandas.Series, optional
        Current zone of each parcel (default: :func:`zoning.assign.assign_parcels`).
    cells : geopandas.GeoSeries, optional
        Parcel areas from :func:`build_blocks` on the same zones (``Blocks.cells``); computed
        for the zones that lose parcels when not given.

    Returns
    -------
    geopandas.GeoDataFrame
        ``zones`` with the new geometries.

    Raises
    ------
    ValidationError
        If the plan names a zone that is not a ``level`` zone.
    """
    _check_level(level)
    lz = zones[zones["level"] == level]
    if current is None:
        current = assign_parcels(parcels, lz, level=level)["zone_id"]
    new = assignment.reindex(parcels.index)
    old = current.reindex(parcels.index)
    bad = pd.Index(new.dropna().unique()).difference(lz.index)
    if len(bad):
        raise ValidationError(f"plan_zones: zone id(s) {', '.join(map(str, bad[:5]))} are not "
                              f"{level} zones; check the assignment")
    moved = (new.notna() & old.notna() & (new != old)).to_numpy()
    out = zones.copy()
    if not moved.any():
        return out
    geoms = parcels.geometry.to_numpy()
    oldv, newv = old.to_numpy(), new.to_numpy()
    gain: dict = {}
    loss: dict = {}
    for z in pd.unique(oldv[moved]):  # zones that lose parcels
        mine = np.flatnonzero(oldv == z)
        areas = None if cells is None else cells.reindex(parcels.index[mine]).to_numpy()
        if areas is None or pd.isna(areas).any():
            areas = _parcel_areas(geoms[mine], lz.geometry.loc[z])
        for t in pd.unique(newv[mine][moved[mine]]):
            area = shapely.union_all(areas[moved[mine] & (newv[mine] == t)])
            gain.setdefault(t, []).append(area)
            loss.setdefault(z, []).append(area)
    geo = out.geometry.copy()
    for z in set(gain) | set(loss):
        g = lz.geometry.loc[z]
        if z in loss:
            g = shapely.difference(g, shapely.union_all(loss[z]))
        if z in gain:
            g = shapely.union_all([g, *gain[z]])
        geo.loc[z] = _close(_clean(g))
    return out.set_geometry(geo)


def _close(g, eps: float = _TOUCH):
    """``g`` with the hairline gaps (< 2 ``eps``) between its parts closed, if that joins any.

    Parcel areas that are adjacent (:func:`_shared_length`) may still be apart by
    floating-point noise where a neighbour's area runs along their common edge; once the
    neighbour leaves, closing the gap (a buffer out and back in) keeps the zone in one piece.
    The overlap it adds with other zones is far below the validator's noise area.
    """
    n = shapely.get_num_geometries(g)
    if n <= 1:
        return g
    closed = _clean(shapely.buffer(shapely.buffer(g, eps, join_style="mitre"), -eps,
                                   join_style="mitre"))
    return closed if shapely.get_num_geometries(closed) < n else g


def _clean(g, min_area: float = 0.01):
    """The areal parts of ``g`` without the slivers and pinholes overlays leave (< ``min_area``).

    Unions of areas that meet only up to floating-point noise leave holes of 1e-9 m² and
    zero-area parts; besides being untidy, they can make later overlays (a parcel ∩ its zone)
    come out empty.
    """
    polys = []
    for p in shapely.get_parts(g):
        if p.geom_type == "MultiPolygon":
            polys.extend(shapely.get_parts(_clean(p, min_area)))
        elif p.geom_type == "Polygon" and p.area >= min_area:
            holes = [h for h in p.interiors if shapely.area(shapely.Polygon(h)) >= min_area]
            polys.append(shapely.Polygon(p.exterior, holes))
    if not polys:
        return shapely.MultiPolygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


# ------------------------------------------------------------------------------ one call
def optimize(dataset, *, level: str = "primary", year: int | None = None,
             time_limit: float = 60.0, mip_rel_gap: float = 0.01, n_blocks: int = 2000,
             add_classes: Mapping[str, int] | None = None, fixed: Iterable = (),
             distance_weights: Iterable[float] = DEFAULT_WEIGHTS, reach: int = 2,
             threads: int = 2, seed: int = 0, contiguity: str = "order",
             settings: CapacitySettings | None = None,
             progress: Progress | None = None) -> OptimizeResult:
    """Rebalance one level's zones of a dataset (build :class:`RebalanceModel`, then solve).

    Parameters
    ----------
    dataset : zoning.store.Dataset
    level : {"primary", "junior"}
    year : int, optional
        Intake year of the forecast demand (default: the year after the last enrolment year).
    time_limit, mip_rel_gap, distance_weights, threads, contiguity, progress
        As :meth:`RebalanceModel.solve`.
    n_blocks, add_classes, fixed, reach, settings, seed
        As :meth:`RebalanceModel.from_frames`.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    InfeasibleError
        No plan fits: names the schools short of seats and by how many classes.
    ValidationError
        Bad inputs.

    Examples
    --------
    >>> from zoning.store import GeoPackageStore                       # doctest: +SKIP
    >>> res = optimize(GeoPackageStore("data/demo.gpkg").load(), year=2027)  # doctest: +SKIP
    >>> res.status, res.moved_households, res.over_cap                 # doctest: +SKIP
    ('optimal', 1234, [])
    """
    model = RebalanceModel.from_dataset(dataset, level=level, year=year, n_blocks=n_blocks,
                                        add_classes=add_classes, fixed=fixed, reach=reach,
                                        settings=settings, seed=seed)
    return model.solve(time_limit=time_limit, mip_rel_gap=mip_rel_gap,
                       distance_weights=distance_weights, threads=threads, seed=seed,
                       contiguity=contiguity, progress=progress)
