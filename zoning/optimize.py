"""Rebalance zones under hard class caps, moving the fewest households (a MIP solved by HiGHS).

seeds 000 五(二): 小学每班不超过45人、初中每班不超过50人 — a zone's starting-grade demand must fit its
schools' planned classes × cap. DESIGN "zones stay stable": the model moves as few households as it
can, and every change carries its evaluation (who moves, capacity before/after).

The model
---------
*Blocks.* Parcels are grouped into about ``n_blocks`` blocks (:func:`build_blocks`) that never
straddle a current zone: weighted k-means of parcel points inside each zone, each cluster split
into its connected pieces. A block's area is the union of its parcels' Voronoi cells within the
zone, so the blocks of a zone tile it; two blocks are adjacent when their areas share an edge
(at least ``min_shared`` metres). Where a zone's blocks are not connected (a zone in several
parts) the nearest pieces are joined by *virtual* edges that only that zone may use, so the
current plan is always contiguous.

*Variables.* ``x[b, z] = 1`` when block ``b`` goes to zone ``z``, for candidate pairs only: the
block's current zone and the zones of blocks within ``reach`` adjacency steps. Fixed blocks and
the block holding a zone's school (its *root*) have only their current zone.

*Constraints.* Every block in exactly one zone; ``Σ demand_b x[b, z] ≤ seats_z`` (planned
classes plus ``add_classes``, × cap); contiguity, in one of two forms:

- ``"order"`` (default): a block may be in zone ``z`` only if a neighbour nearer ``z``'s root
  (in adjacency steps, first through the current zone, then beyond it) is in ``z`` too:
  ``x[b, z] ≤ Σ x[u, z]`` over those neighbours. By induction every block reaches the root, so
  the zone is connected; the current plan always satisfies it. It is a restriction (a few
  contiguous plans are excluded) that keeps the model small and its LP tight, which is what
  lets the demo district (2,000 blocks) close a 1 % gap in about a minute.
- ``"flow"``: a single-commodity flow per zone: the root sends one unit to every block of its
  zone along arcs between blocks both assigned to it (``f[u→v, z] ≤ (n_z - 1) x[v, z]``,
  inflow − outflow = ``x[b, z]``). Exact, but much slower to solve.

*Objective.* Households moved + ``distance_weight`` × Σ demand × km to the zone's nearest school.
The first weight (``0.001``) is a tie-break: it ranks plans by households moved and then by
distance; larger weights trade more moves for shorter trips. :meth:`RebalanceModel.solve`
returns one plan per weight (``result.plans``).

*Infeasibility.* When no plan fits, the *elastic* model (integer extra classes per zone, fewest
classes first) names the schools short of seats and by how many classes:
:class:`~zoning.errors.InfeasibleError` with ``shortfall = {school_id: classes}``.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zoning.assign import assign_parcels
from zoning.capacity import _PLANNED_COL, CapacitySettings, _check_level, school_demand
from zoning.errors import InfeasibleError, ValidationError, ZoningError
from zoning.zones import zone_schools

__all__ = [
    "Blocks",
    "OptimizeResult",
    "RebalanceModel",
    "build_blocks",
    "optimize",
    "plan_zones",
]

#: Distance weights of the default trade-off: tie-break (fewest moves), then two that trade
#: moves for shorter trips. Units: households per pupil-km.
DEFAULT_WEIGHTS = (0.001, 1.0, 5.0)


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
    """Adjacency lists of an undirected edge array."""
    if len(edges) == 0:
        return [np.zeros(0, np.intp) for _ in range(n)]
    a = np.concatenate([edges[:, 0], edges[:, 1]])
    b = np.concatenate([edges[:, 1], edges[:, 0]])
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    starts = np.searchsorted(a, np.arange(n + 1))
    return [b[starts[k]:starts[k + 1]] for k in range(n)]


def _connected(nodes: set, nbrs: list[np.ndarray], start) -> bool:
    """True when every node of ``nodes`` is reached from ``start`` inside ``nodes``."""
    if not nodes:
        return True
    seen = {start}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            v = int(v)
            if v in nodes and v not in seen:
                seen.add(v)
                queue.append(v)
    return len(seen) == len(nodes)


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
        Each zoned parcel's Voronoi cell within its zone (the cells of a zone tile it).
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


def _zone_cells(points: np.ndarray, zone_geom) -> np.ndarray:
    """Voronoi cells of ``points`` (shapely points) clipped to ``zone_geom``, in input order."""
    n = len(points)
    if n == 1:
        return np.array([zone_geom], dtype=object)
    xy = shapely.get_coordinates(points)
    _, first, inverse = np.unique(np.round(xy, 3), axis=0, return_index=True,
                                  return_inverse=True)
    inverse = inverse.ravel()
    out = np.full(n, shapely.Polygon(), dtype=object)
    if len(first) == 1:
        out[first[0]] = zone_geom
        return out
    # parcels sharing a point share its cell: the first gets it, the others keep only their
    # own polygon (see plan_zones)
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(xy[first]), extend_to=zone_geom, ordered=True))
    shapely.prepare(zone_geom)
    inside = shapely.contains(zone_geom, cells)
    clipped = cells.copy()
    clipped[~inside] = shapely.intersection(cells[~inside], zone_geom)
    out[first] = clipped
    return out


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


def build_blocks(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, zone_of: pd.Series, *,
                 demand: pd.Series, n_blocks: int = 2000, seed: int = 0,
                 min_shared: float = 5.0) -> Blocks:
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
        Two cells are adjacent when they share at least about this length of edge (metres);
        corner contacts do not count.

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
    pts = shapely.point_on_surface(parcels.geometry.to_numpy()[zoned])
    xy = shapely.get_coordinates(pts)
    hh = pd.to_numeric(parcels["households"], errors="coerce").fillna(0).to_numpy(float)[zoned]
    dem = demand.reindex(pids).fillna(0.0).to_numpy(float)
    w = hh + 0.5  # empty parcels still weigh a little, so rural land forms blocks too
    n = len(pids)
    cells = np.empty(n, dtype=object)
    label = np.zeros(n, np.intp)
    total_w, next_label = w.sum(), 0
    zgeom = zones.geometry
    for z in pd.unique(pz):  # a loop over zones (tens to hundreds)
        m = np.flatnonzero(pz == z)
        cells[m] = _zone_cells(pts[m], zgeom.loc[z])
        k = int(min(len(m), max(1, round(n_blocks * w[m].sum() / total_w))))
        label[m] = next_label + _kmeans(xy[m], w[m], k, rng)
        next_label += k
    # cell adjacency: cells sharing an edge of at least ~min_shared metres
    tree = shapely.STRtree(cells)
    i, j = tree.query(cells, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i):
        shared = shapely.area(shapely.intersection(shapely.buffer(cells[i], 0.5, quad_segs=2),
                                                   cells[j]))
        ok = shared >= min_shared * 1.0
        i, j = i[ok], j[ok]
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
    owner = np.full(len(pairs), None, dtype=object)
    virtual, vowner = _connect_zones(bz, bx, by, pairs)
    edges = np.vstack([pairs, np.asarray(virtual, np.intp).reshape(-1, 2)])
    owner = np.concatenate([owner, np.asarray(vowner, dtype=object)])
    return Blocks(
        parcel_block=pd.Series(block, index=pids, name="block"),
        zone=bz, demand=np.bincount(block, weights=dem, minlength=nb),
        households=np.bincount(block, weights=hh, minlength=nb), x=bx, y=by,
        edges=edges.astype(np.intp), owner=owner,
        cells=gpd.GeoSeries(cells, index=pids, crs=parcels.crs), seed=int(seed))


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
        Relative MIP gap (NaN for the greedy baseline).
    seconds : float
        Solve time.
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
            "method": self.method, "status": self.status, "objective": self.objective,
            "mip_gap": self.mip_gap, "seconds": self.seconds,
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
                    settings: CapacitySettings | None = None, seed: int = 0) -> RebalanceModel:
        """Build the model from layers and per-parcel demand.

        Parameters
        ----------
        parcels : geopandas.GeoDataFrame
            Indexed by ``parcel_id`` with ``households``.
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
            A block may move to the zones of blocks within this many adjacency steps.
        settings : CapacitySettings, optional
            Class caps (default 45 / 50).
        seed : int
            Seed of the block clustering.

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
        blocks = build_blocks(parcels, lz, current, demand=demand, n_blocks=n_blocks, seed=seed)
        fixed_ids = pd.Index(list(fixed))
        unknown = fixed_ids.difference(blocks.parcel_block.index)
        if len(unknown):
            raise ValidationError(f"fixed: {len(unknown)} parcel id(s) not in any {level} zone: "
                                  f"{', '.join(map(str, unknown[:5]))}; pass zoned parcel ids")
        is_fixed = np.zeros(len(blocks), bool)
        is_fixed[blocks.parcel_block.loc[fixed_ids].to_numpy()] = True

        zone_ids = pd.Index(pd.unique(blocks.zone), name="zone_id")
        zone_ids = lz.index[lz.index.isin(zone_ids)]
        zpos = zone_ids.get_indexer(blocks.zone)
        planned = pd.to_numeric(schools[col], errors="coerce").fillna(0).astype(int)
        school_seats = (planned.add(pd.Series(add, dtype=int), fill_value=0) * cap)
        seats = (links["school_id"].map(school_seats).fillna(0).groupby(links["zone_id"]).sum()
                 .reindex(zone_ids).fillna(0).to_numpy(float))
        spts = schools.geometry.reindex(links["school_id"])
        sx = shapely.get_x(spts.to_numpy()) if len(spts) else np.zeros(0)
        sy = shapely.get_y(spts.to_numpy()) if len(spts) else np.zeros(0)
        root = _roots(blocks, zone_ids, zpos, links, sx, sy)
        is_fixed[root] = True
        cb, cz = _candidates(blocks, zpos, len(zone_ids), is_fixed, reach)
        km = np.full(len(cb), np.inf)
        lz_pos = zone_ids.get_indexer(links["zone_id"])
        for k in range(len(zone_ids)):  # a loop over zones
            m = cz == k
            s = np.flatnonzero((lz_pos == k) & np.isfinite(sx))
            if m.any() and s.size:
                d = np.hypot(blocks.x[cb[m], None] - sx[s], blocks.y[cb[m], None] - sy[s])
                km[m] = d.min(axis=1) / 1000.0
        km[~np.isfinite(km)] = 0.0  # a zone whose schools have no location: distance unknown
        return cls(level=level, cap=cap, parcels=parcels, zones=zones, schools=schools,
                   demand=demand.reindex(parcels.index).fillna(0.0), current=current,
                   blocks=blocks, zone_ids=zone_ids, seats=seats, add_classes=add, root=root,
                   fixed=is_fixed, cand_block=cb, cand_zone=cz, cand_km=km, settings=settings)

    # -------------------------------------------------------------------------- queries
    @property
    def zone_pos(self) -> np.ndarray:
        """Current zone position (in ``zone_ids``) of each block."""
        return self.zone_ids.get_indexer(self.blocks.zone)

    def _links(self) -> pd.DataFrame:
        return zone_schools(self.zones[self.zones["level"] == self.level])

    # -------------------------------------------------------------------------- solving
    def solve(self, *, time_limit: float = 60.0, mip_rel_gap: float = 0.01,
              distance_weights: Iterable[float] = DEFAULT_WEIGHTS, threads: int = 2,
              contiguity: str = "order", seed: int = 0,
              verbose: bool = False) -> OptimizeResult:
        """Solve the MIP for each distance weight; the first plan is the result.

        Parameters
        ----------
        time_limit : float
            Seconds per plan (HiGHS ``time_limit``).
        mip_rel_gap : float
            Stop when the relative gap is at most this (0.01 = 1 %).
        distance_weights : iterable of float
            Households per pupil-km, one plan each, in this order; the first plan is returned
            with all of them in ``plans``. Later plans start from the previous one.
        threads : int
            HiGHS threads.
        contiguity : {"order", "flow"}
            ``"order"`` (default, fast): a block may join a zone only next to a block of that
            zone nearer its school (in adjacency steps: first through the current zone, then
            beyond it). Sufficient for contiguity and always met by the current plan, but it
            rules out some contiguous plans. ``"flow"``: a single-commodity flow from the
            school's block, exact (every contiguous plan allowed) but harder; it is started
            from the order model's plan, which gets a third of ``time_limit``.
        seed : int
            HiGHS ``random_seed``.
        verbose : bool
            Show the HiGHS log.

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
        if contiguity not in ("order", "flow"):
            raise ValidationError(f"contiguity={contiguity!r}: use 'order' or 'flow'")
        self._precheck()
        import highspy

        opts = {"threads": int(threads), "random_seed": int(seed),
                "mip_rel_gap": float(mip_rel_gap), "output_flag": bool(verbose)}
        base = self.greedy(distance_weight=weights[0])
        start_pos = self.blocks_of(base.block_zone) if base.status == "greedy" else None
        limit = float(time_limit)
        if contiguity == "flow":
            # the flow model is exact but hard to start: a third of the time goes to the
            # order model, whose plan (contiguous by construction) starts the flow model
            t0 = time.perf_counter()
            pre = _Mip(self, contiguity="order")
            h = _highs(pre, {**opts, "time_limit": limit / 3})
            pre.set_weight(h, weights[0])
            if start_pos is not None:
                _set_start(h, pre.start(start_pos))
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                self._raise_short(time_limit=limit, threads=threads)
            if h.getInfo().primal_solution_status == 2:
                start_pos = self.blocks_of(pd.Series(
                    pre.block_zone(np.asarray(h.getSolution().col_value))))
            limit = max(limit - (time.perf_counter() - t0), 1.0)
        mip = _Mip(self, contiguity=contiguity)
        h = _highs(mip, {**opts, "time_limit": limit})
        start = mip.start(start_pos) if start_pos is not None else None
        plans = []
        for w in weights:
            mip.set_weight(h, w)
            _set_start(h, start)
            t0 = time.perf_counter()
            h.run()
            secs = time.perf_counter() - t0
            status = h.getModelStatus()
            info = h.getInfo()
            if status == highspy.HighsModelStatus.kInfeasible:
                self._raise_short(time_limit=time_limit, threads=threads)
            if info.primal_solution_status != 2:
                if base.status == "greedy" and not plans:
                    plans.append(base)
                    continue
                raise ZoningError(
                    f"optimize: HiGHS found no plan within time_limit={limit:g} s "
                    f"({h.modelStatusToString(status)}); raise time_limit, lower n_blocks or "
                    "raise reach")
            col = np.asarray(h.getSolution().col_value)
            gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else float("nan")
            st = "optimal" if status == highspy.HighsModelStatus.kOptimal else "feasible"
            plans.append(self._result(mip.block_zone(col), status=st, mip_gap=gap, seconds=secs,
                                      distance_weight=w, method="mip",
                                      objective=float(info.objective_function_value)))
            start = col
        return _with_plans(plans[0], tuple(plans))

    def blocks_of(self, block_zone: pd.Series) -> np.ndarray:
        """Zone position of each block from a block → zone id series."""
        return self.zone_ids.get_indexer(block_zone.to_numpy())

    def _precheck(self) -> None:
        """Fast infeasibility checks before the MIP: forced demand and total demand."""
        b = self.blocks
        nz = len(self.zone_ids)
        only = np.bincount(self.cand_block, minlength=len(b)) == 1
        forced = np.bincount(self.zone_pos[only], weights=b.demand[only], minlength=nz)
        short = forced - self.seats
        if (short > 1e-6).any():
            self._raise(short, why="the blocks that cannot leave these zones (fixed parcels, "
                                   "the school's own block, blocks far from any other zone) "
                                   "already need more seats than planned")
        total = b.demand.sum() - self.seats.sum()
        if total > 1e-6:
            self._raise_short(why=f"district demand {b.demand.sum():.0f} exceeds its "
                                  f"{self.seats.sum():.0f} seats")

    def _raise_short(self, *, why: str = "no rearrangement of blocks fits every zone's seats",
                     time_limit: float = 30.0, threads: int = 2) -> None:
        """Solve the elastic model (fewest extra classes) and raise naming the schools."""
        mip = _Mip(self, elastic=True, contiguity="order")  # names the short schools fast
        h = _highs(mip, {"output_flag": False, "threads": int(threads),
                         "time_limit": float(time_limit)})
        mip.set_weight(h, DEFAULT_WEIGHTS[0])
        h.run()
        short = np.zeros(len(self.zone_ids))
        if h.getInfo().primal_solution_status == 2:
            col = np.asarray(h.getSolution().col_value)
            short = np.round(col[mip.k0:mip.k0 + len(self.zone_ids)]) * self.cap
        else:  # no elastic plan in time: report the zones over their seats as they stand
            load = np.bincount(self.zone_pos, weights=self.blocks.demand,
                               minlength=len(self.zone_ids))
            short = np.maximum(load - self.seats, 0)
        self._raise(short - 1e-9, why=why)

    def _raise(self, short: np.ndarray, *, why: str) -> None:
        links = self._links()
        col = _PLANNED_COL[self.level]
        planned = pd.to_numeric(self.schools[col], errors="coerce").fillna(0)
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
        real = np.array([o is None for o in b.owner], bool)
        nbrs_real = _neighbours(len(b), b.edges[real])
        nbrs_all = _neighbours(len(b), b.edges)
        allowed = set(zip(self.cand_block.tolist(), self.cand_zone.tolist(), strict=True))
        members = [set(np.flatnonzero(assign == k).tolist()) for k in range(nz)]
        ratio = np.where(b.demand > 0, b.households / np.maximum(b.demand, 1e-12), np.inf)
        for _ in range(max_moves):
            over = np.flatnonzero(load > self.seats + 1e-9)
            if over.size == 0:
                break
            moved = False
            for z in over[np.argsort(-(load - self.seats)[over])]:
                spare = self.seats - load
                options = []
                for u in members[z]:
                    if self.fixed[u] or b.demand[u] <= 0:
                        continue
                    targets = {int(assign[v]) for v in nbrs_real[u]} - {z}
                    targets = [t for t in targets if (u, t) in allowed
                               and spare[t] >= b.demand[u] - 1e-9]
                    if targets:
                        best = max(targets, key=lambda t: spare[t])
                        options.append((ratio[u], u, best))
                for _, u, t in sorted(options):
                    rest = members[z] - {u}
                    if _connected(rest, nbrs_all, int(self.root[z])):
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
        bz = pd.Series(self.zone_ids[assign], name="zone_id")
        res = self._result(bz.to_numpy(), status="greedy" if ok else "over_capacity",
                           mip_gap=float("nan"), seconds=time.perf_counter() - t0,
                           distance_weight=distance_weight, method="greedy")
        return _with_plans(res, (res,))

    # -------------------------------------------------------------------------- results
    def _result(self, block_zone, *, status, mip_gap, seconds, distance_weight, method,
                objective=None) -> OptimizeResult:
        b = self.blocks
        block_zone = np.asarray(block_zone, dtype=object)
        pos = self.zone_ids.get_indexer(block_zone)
        moved_b = block_zone != b.zone
        assignment = self.current.copy().rename("zone_id")
        assignment.loc[b.parcel_block.index] = block_zone[b.parcel_block.to_numpy()]
        moved_p = int(moved_b[b.parcel_block.to_numpy()].sum())
        hh = float(b.households[moved_b].sum())
        key = pd.Series(np.arange(len(self.cand_block)),
                        index=pd.MultiIndex.from_arrays([self.cand_block, self.cand_zone]))
        kk = key.reindex(pd.MultiIndex.from_arrays([np.arange(len(b)), pos])).to_numpy()
        km = np.where(np.isnan(kk), 0.0, self.cand_km[np.nan_to_num(kk).astype(int)])
        dist = float((b.demand * km).sum())
        if objective is None:
            objective = hh + distance_weight * dist
        zones, schools = self._tables(pos)
        return OptimizeResult(
            status=status, objective=float(objective), mip_gap=mip_gap, seconds=float(seconds),
            assignment=assignment, block_zone=pd.Series(block_zone, name="zone_id"),
            moved_households=int(round(hh)), moved_parcels=moved_p,
            moved_blocks=int(moved_b.sum()), distance=dist, distance_weight=float(distance_weight),
            zones=zones, schools=schools, method=method)

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
        d0 = school_demand(pd.Series(before, index=self.zone_ids), lz, sch, level=self.level,
                           settings=self.settings)
        d1 = school_demand(pd.Series(after, index=self.zone_ids), lz, sch, level=self.level,
                           settings=self.settings)
        zoned = links.drop_duplicates("school_id").set_index("school_id")["zone_id"]
        idx = zoned.index
        seats = (sch[col].reindex(idx) * self.cap).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            schools = pd.DataFrame({
                "name": (self.schools["name"].reindex(idx) if "name" in self.schools
                         else pd.Series(idx, index=idx)),
                "zone_id": zoned, "planned_classes": planned.reindex(idx).fillna(0).astype(int),
                "added_classes": added.reindex(idx).fillna(0).astype(int), "seats": seats,
                "demand_before": d0.reindex(idx).fillna(0.0),
                "demand_after": d1.reindex(idx).fillna(0.0)}, index=idx)
            schools["ratio_before"] = schools["demand_before"] / schools["seats"]
            schools["ratio_after"] = schools["demand_after"] / schools["seats"]
        schools.index.name = "school_id"
        return zones, schools

    def plan_zones(self, result: OptimizeResult | pd.Series) -> gpd.GeoDataFrame:
        """Zone layer of a plan (see :func:`plan_zones`), reusing the model's parcel cells."""
        assignment = result.assignment if isinstance(result, OptimizeResult) else result
        return plan_zones(self.zones, self.parcels, assignment, level=self.level,
                          current=self.current, cells=self.blocks.cells)


def _highs(mip, options: dict):
    """A HiGHS instance with ``mip`` loaded and ``options`` set."""
    import highspy

    if options.get("output_flag"):
        h = highspy.Highs()
    else:
        # HiGHS prints its banner to the C stdout on the first instance, before any option
        # can silence it; it would break `zoning optimize --json`
        with _quiet_c_stdout():
            h = highspy.Highs()
    for k, v in options.items():
        h.setOptionValue(k, v)
    mip.load(h)
    return h


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


def _set_start(h, col) -> None:
    if col is not None:
        h.setSolution(len(col), np.arange(len(col), dtype=np.int32), np.asarray(col, float))


def _with_plans(res: OptimizeResult, plans: tuple) -> OptimizeResult:
    from dataclasses import replace

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


def _roots(blocks: Blocks, zone_ids, zpos, links, sx, sy) -> np.ndarray:
    """Block of each zone holding its (first located) school, else its block nearest to it."""
    nz = len(zone_ids)
    root = np.full(nz, -1)
    lpos = zone_ids.get_indexer(links["zone_id"])
    cells = blocks.cells.to_numpy()
    tree = shapely.STRtree(cells)
    pblock = blocks.parcel_block.to_numpy()
    for k in range(nz):
        mine = np.flatnonzero(zpos == k)
        s = np.flatnonzero((lpos == k) & np.isfinite(sx))
        if s.size == 0:  # no located school: the block with the most demand
            root[k] = mine[np.argmax(blocks.demand[mine])]
            continue
        hit = tree.query(shapely.points(sx[s[0]], sy[s[0]]), predicate="intersects")
        hit = [pblock[h] for h in hit if zpos[pblock[h]] == k]
        if hit:
            root[k] = hit[0]
        else:
            d = np.hypot(blocks.x[mine] - sx[s[0]], blocks.y[mine] - sy[s[0]])
            root[k] = mine[np.argmin(d)]
    return root


def _candidates(blocks: Blocks, zpos, nz, fixed, reach) -> tuple[np.ndarray, np.ndarray]:
    """(block, zone) pairs: current zone plus zones of blocks within ``reach`` real steps."""
    nb = len(blocks)
    real = np.array([o is None for o in blocks.owner], bool)
    e = blocks.edges[real]
    m = np.zeros((nb, nz), bool)
    m[np.arange(nb), zpos] = True
    for _ in range(max(int(reach), 0)):
        new = m.copy()
        np.logical_or.at(new, e[:, 0], m[e[:, 1]])
        np.logical_or.at(new, e[:, 1], m[e[:, 0]])
        m = new
    m[fixed] = False
    m[np.flatnonzero(fixed), zpos[fixed]] = True
    cb, cz = np.nonzero(m)
    return cb, cz


# ------------------------------------------------------------------------------ the MIP
def _order_keys(model: RebalanceModel, tail, head, az) -> np.ndarray:
    """Per (block, zone): BFS depth from the root inside the current zone, then beyond it.

    Current blocks of ``z`` get their depth from the root within the zone (0 … D); other
    candidates ``D + 1 +`` their distance from the zone through candidates. Every current
    block but the root has a current neighbour with a smaller key, so the current plan meets
    the order constraints. Unreachable pairs keep ``inf`` (they can never join).
    """
    nb, nz = len(model.blocks), len(model.zone_ids)
    key = np.full((nb, nz), np.inf)
    pos = model.zone_pos
    for z in range(nz):  # a loop over zones, BFS over their candidate blocks
        sel = az == z
        nbrs = _neighbours(nb, np.column_stack([tail[sel], head[sel]]))
        r = int(model.root[z])
        depth = {r: 0}
        queue = deque([r])
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                v = int(v)
                if v not in depth and pos[v] == z:
                    depth[v] = depth[u] + 1
                    queue.append(v)
        top = max(depth.values())
        outer = dict.fromkeys(depth, 0)
        queue = deque(depth)
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                v = int(v)
                if v not in outer:
                    outer[v] = outer[u] + 1
                    queue.append(v)
        for v, d in outer.items():
            key[v, z] = depth[v] if v in depth else top + 1 + d
    return key


class _Mip:
    """Column/row layout of the HiGHS model: x pairs, flow arcs, (elastic) extra classes."""

    def __init__(self, model: RebalanceModel, *, elastic: bool = False,
                 contiguity: str = "flow"):
        self.m = model
        b = model.blocks
        nb, nz = len(b), len(model.zone_ids)
        cb, cz = model.cand_block, model.cand_zone
        k_pairs = len(cb)
        xi = np.full((nb, nz), -1, np.int64)
        xi[cb, cz] = np.arange(k_pairs)
        self.xi, self.K = xi, k_pairs
        root = model.root
        # arcs: both directions of real edges whose ends are both candidates of the zone, and
        # of a zone's own virtual edges; none into the root
        real = np.array([o is None for o in b.owner], bool)
        er = b.edges[real]
        both = (xi[er[:, 0]] >= 0) & (xi[er[:, 1]] >= 0)
        ei, zi = np.nonzero(both)
        ev = b.edges[~real]
        vz = model.zone_ids.get_indexer(b.owner[~real]) if (~real).any() else np.zeros(0, int)
        u = np.concatenate([er[ei, 0], er[ei, 1], ev[:, 0], ev[:, 1]])
        v = np.concatenate([er[ei, 1], er[ei, 0], ev[:, 1], ev[:, 0]])
        z = np.concatenate([zi, zi, vz, vz])
        keep = v != root[z]
        self.tail, self.head, self.az = u[keep], v[keep], z[keep]
        self.contiguity = contiguity
        flow = contiguity == "flow"
        n_arc = len(self.tail) if flow else 0
        ncand = np.bincount(cz, minlength=nz)
        big = np.maximum(ncand - 1, 0).astype(float)
        self.f0 = k_pairs
        self.k0 = k_pairs + n_arc
        self.elastic = elastic
        n_col = self.k0 + (nz if elastic else 0)
        self.n_col = n_col
        self.lb = np.zeros(n_col)
        self.ub = np.concatenate([np.ones(k_pairs), big[self.az] if flow else np.zeros(0),
                                  np.full(nz if elastic else 0, 1e4)])
        # rows, as (row, col, value) triplets
        rows, cols, vals, lo, hi = [], [], [], [], []
        # 1. each block in one zone
        rows.append(cb)
        cols.append(np.arange(k_pairs))
        vals.append(np.ones(k_pairs))
        lo.append(np.ones(nb))
        hi.append(np.ones(nb))
        r0 = nb
        # 2. capacity: Σ demand x - cap k ≤ seats
        rows.append(r0 + cz)
        cols.append(np.arange(k_pairs))
        vals.append(b.demand[cb])
        if elastic:
            rows.append(r0 + np.arange(nz))
            cols.append(self.k0 + np.arange(nz))
            vals.append(np.full(nz, -float(model.cap)))
        lo.append(np.full(nz, -np.inf))
        hi.append(model.seats.astype(float))
        r0 += nz
        nonroot = cb != root[cz]
        n_nr = int(nonroot.sum())
        own = np.full(k_pairs, -1)
        own[nonroot] = r0 + np.arange(n_nr)
        if flow:
            # 3. flow balance of non-root pairs: in - out - x = 0
            rows.append(own[nonroot])
            cols.append(np.flatnonzero(nonroot))
            vals.append(-np.ones(n_nr))
            arc_col = self.f0 + np.arange(n_arc)
            rows.append(own[xi[self.head, self.az]])
            cols.append(arc_col)
            vals.append(np.ones(n_arc))
            trow = own[xi[self.tail, self.az]]
            t_ok = trow >= 0
            rows.append(trow[t_ok])
            cols.append(arc_col[t_ok])
            vals.append(-np.ones(int(t_ok.sum())))
            lo.append(np.zeros(n_nr))
            hi.append(np.zeros(n_nr))
            r0 += n_nr
            # 4. arc capacity: f[u→v, z] - big_z x[v, z] ≤ 0
            rows.append(r0 + np.arange(n_arc))
            cols.append(arc_col)
            vals.append(np.ones(n_arc))
            rows.append(r0 + np.arange(n_arc))
            cols.append(xi[self.head, self.az])
            vals.append(-big[self.az])
            lo.append(np.full(n_arc, -np.inf))
            hi.append(np.zeros(n_arc))
            r0 += n_arc
        else:
            # 3'. order: a block joins z only next to a block of z nearer z's root (a
            # sufficient condition for contiguity, satisfied by the current plan)
            key = _order_keys(model, self.tail, self.head, self.az)
            pred = key[self.tail, self.az] < key[self.head, self.az]
            rows.append(own[nonroot])
            cols.append(np.flatnonzero(nonroot))
            vals.append(np.ones(n_nr))
            rows.append(own[xi[self.head[pred], self.az[pred]]])
            cols.append(xi[self.tail[pred], self.az[pred]])
            vals.append(-np.ones(int(pred.sum())))
            lo.append(np.full(n_nr, -np.inf))
            hi.append(np.zeros(n_nr))
            r0 += n_nr
        row = np.concatenate(rows).astype(np.int64)
        col = np.concatenate(cols).astype(np.int32)
        val = np.concatenate(vals).astype(float)
        order = np.lexsort((col, row))
        self.row, self.col, self.val = row[order], col[order], val[order]
        self.starts = np.searchsorted(self.row, np.arange(r0)).astype(np.int32)
        self.lo, self.hi, self.n_row = np.concatenate(lo), np.concatenate(hi), r0

    def load(self, h) -> None:
        import highspy

        inf = highspy.kHighsInf
        h.addVars(self.n_col, self.lb, self.ub)
        integer = np.concatenate([np.arange(self.K), np.arange(self.k0, self.n_col)])
        h.changeColsIntegrality(len(integer), integer.astype(np.int32),
                                np.ones(len(integer), np.uint8))
        lo = np.where(np.isfinite(self.lo), self.lo, -inf)
        hi = np.where(np.isfinite(self.hi), self.hi, inf)
        h.addRows(self.n_row, lo, hi, len(self.val), self.starts, self.col, self.val)

    def set_weight(self, h, weight: float) -> None:
        m, b = self.m, self.m.blocks
        cb, cz = m.cand_block, m.cand_zone
        moved = (cz != m.zone_pos[cb]).astype(float)
        cost = np.zeros(self.n_col)
        cost[:self.K] = moved * b.households[cb] + weight * b.demand[cb] * m.cand_km
        if self.elastic:
            # lexicographic: one class outweighs moving every household of the district
            cost[self.k0:] = b.households.sum() + weight * (b.demand.sum() * m.cand_km.max()
                                                           if len(m.cand_km) else 0) + 1.0
        h.changeColsCost(self.n_col, np.arange(self.n_col, dtype=np.int32), cost)

    def block_zone(self, col: np.ndarray) -> np.ndarray:
        """Zone id of each block: its candidate with the largest ``x`` (0/1 up to tolerance)."""
        m = self.m
        x = pd.Series(col[:self.K])
        best = x.groupby(m.cand_block).idxmax().to_numpy()
        return m.zone_ids[m.cand_zone[best]].to_numpy(dtype=object)

    def start(self, pos: np.ndarray) -> np.ndarray | None:
        """A full start vector for a block → zone position plan (flows along BFS trees)."""
        m = self.m
        col = np.zeros(self.n_col)
        k = self.xi[np.arange(len(pos)), pos]
        if (k < 0).any():
            return None
        col[k] = 1.0
        if self.contiguity != "flow":
            return col
        arc = pd.Series(np.arange(len(self.tail)),
                        index=pd.MultiIndex.from_arrays([self.tail, self.head, self.az]))
        ok_arc = pos[self.tail] == self.az
        ok_arc &= pos[self.head] == self.az
        nb = len(pos)
        for z in range(len(m.zone_ids)):
            sel = ok_arc & (self.az == z)
            nbrs = _neighbours(nb, np.column_stack([self.tail[sel], self.head[sel]]))
            r = int(m.root[z])
            parent = {r: -1}
            order = [r]
            queue = deque([r])
            while queue:
                u = queue.popleft()
                for v in nbrs[u]:
                    v = int(v)
                    if v not in parent and pos[v] == z:
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


# ------------------------------------------------------------------------------ geometry
def plan_zones(zones: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, assignment: pd.Series, *,
               level: str, current: pd.Series | None = None,
               cells: gpd.GeoSeries | None = None) -> gpd.GeoDataFrame:
    """Zone polygons of a parcel → zone plan that still tile the district.

    Each moved parcel takes with it its area: its Voronoi cell within its old zone, less the
    polygons of the old zone's other parcels, plus its own polygon. These areas tile the old
    zone with every parcel whole, so moving them leaves no gap and no overlap; zones that
    neither lose nor gain keep their geometry exactly.

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
        Parcel cells from :func:`build_blocks` (computed for the zones that lose parcels
        when not given).

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
        zgeom = lz.geometry.loc[z]
        mine = np.flatnonzero(oldv == z)
        if cells is not None:
            zc = cells.reindex(parcels.index[mine]).to_numpy()
        else:
            zc = _zone_cells(shapely.point_on_surface(geoms[mine]), zgeom)
        ptree = shapely.STRtree(geoms[mine])
        out_areas = []
        for t in pd.unique(newv[mine][moved[mine]]):
            grp = moved[mine] & (newv[mine] == t)
            gcells = shapely.union_all(zc[grp])
            near = ptree.query(gcells, predicate="intersects")
            others = near[~grp[near]]
            area = shapely.difference(gcells, shapely.union_all(geoms[mine][others])) \
                if others.size else gcells
            area = shapely.intersection(shapely.union_all([area, *geoms[mine][grp]]), zgeom)
            gain.setdefault(t, []).append(area)
            out_areas.append(area)
        loss[z] = shapely.union_all(out_areas)
    changed = set(gain) | set(loss)
    geo = out.geometry.copy()
    for z in changed:
        g = lz.geometry.loc[z]
        if z in loss:
            g = shapely.difference(g, loss[z])
        if z in gain:
            g = shapely.union_all([g, *gain[z]])
        geo.loc[z] = _polygonal(g)
    out = out.set_geometry(geo)
    return out


def _polygonal(g):
    """Keep the areal parts of a geometry (unions may leave stray lines or points)."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.MultiPolygon()


# ------------------------------------------------------------------------------ one call
def optimize(dataset, *, level: str = "primary", year: int | None = None,
             time_limit: float = 60.0, mip_rel_gap: float = 0.01, n_blocks: int = 2000,
             add_classes: Mapping[str, int] | None = None, fixed: Iterable = (),
             distance_weights: Iterable[float] = DEFAULT_WEIGHTS, reach: int = 2,
             threads: int = 2, seed: int = 0,
             settings: CapacitySettings | None = None) -> OptimizeResult:
    """Rebalance one level's zones of a dataset (build :class:`RebalanceModel`, then solve).

    Parameters
    ----------
    dataset : zoning.store.Dataset
    level : {"primary", "junior"}
    year : int, optional
        Intake year of the forecast demand (default: the year after the last enrolment year).
    time_limit, mip_rel_gap, distance_weights, threads
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
                       distance_weights=distance_weights, threads=threads, seed=seed)
