"""Which zone holds a home: points and parcels to zones.

- :class:`Locator` — a grid index built once from a zone layer that answers point → zone for NumPy
  arrays of coordinates (tens of millions of points a second) and for one point (microseconds).
- :func:`assign_points` — the zone of every point of a GeoDataFrame, through a :class:`Locator`.
- :func:`assign_parcels` — the zone of every parcel by largest overlap, with its share; and
  :func:`split_parcels` — the parcels split between zones, with every zone's share, for the planner.

The boundary rule is the same everywhere in this module: a point belongs to the first zone, in the
order of the zones frame, that *covers* it (its interior or its boundary). A point on an edge or a
vertex shared by several zones therefore goes to the one listed first; a point in a hole or outside
every zone belongs to none. Zones of one level should not overlap (:func:`zoning.zones.validate`
reports overlaps); where they do, the same rule still gives one deterministic answer.
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zoning.errors import ValidationError, ZoningWarning
from zoning.settings import DEFAULT

__all__ = ["Locator", "assign_parcels", "assign_points", "split_parcels"]

#: Points processed at a time: bounds the working memory of a batch (about 20 bytes a point).
_CHUNK = 1 << 20
#: Default grid: aim for this share of cells crossed by a zone boundary ("mixed" cells, whose
#: points need an exact point-in-polygon test), within these bounds on the number of cells.
_TARGET_MIXED = 0.025
_MIN_CELLS = 1 << 12
_MAX_CELLS = 1 << 22
#: A user-chosen cell size may not make a grid larger than this (4 bytes a cell).
_LIMIT_CELLS = 1 << 27
#: Key of the overlap detail that :func:`assign_parcels` leaves in ``result.attrs``.
_OVERLAPS = "zoning.assign.overlaps"
#: Parcel boxes: the cells of the boundary grid are this many times the median box (a box then
#: touches a cell no boundary comes near, whose zone is known, unless it is next to a boundary
#: on every side), and a box spanning more than ``_BOX_SPAN + 1`` cells a side is left to GEOS.
_BOX_CELL = 2.0
_BOX_SPAN = 4

# The single-point path calls the compiled ufunc directly: the public wrapper's argument handling
# costs twice the point-in-polygon test itself.
_intersects_xy_one = getattr(shapely.lib, "intersects_xy", shapely.intersects_xy)


class Locator:
    """A spatial index answering point → zone, built once from a zone layer.

    Build it with :meth:`from_zones`; ask it with :meth:`locate` (zone ids),
    :meth:`locate_index` (zone positions, the memory-lean primitive), :meth:`locate_one` (one
    point) and :meth:`on_boundary`.

    Coordinates are in the zones' CRS (``locator.crs``, normally the working CRS EPSG:4545, metres).

    **Boundary rule.** A point belongs to the zone that *covers* it (interior or boundary) with the
    smallest position in the zones frame: a point on an edge or a vertex shared by several zones
    goes to the first of them in frame order, and a point on the outer boundary of the zones'
    union to the zone whose boundary it is on. A point in a hole, outside every zone, or with a NaN
    or infinite coordinate belongs to no zone (``None``, or ``-1`` from :meth:`locate_index`).
    Points off every boundary get exactly the answer of ``geopandas.sjoin(predicate="within")``.

    **How.** A uniform grid covers the zones' bounds. A cell that no zone boundary comes near is
    answered by one array lookup (the zone holding it, or none); a cell a boundary crosses keeps
    a short list of candidate zones, tested with the prepared GEOS ``intersects_xy``. Points are
    handled in chunks of about a million, so a batch needs little memory beyond its answer.

    Attributes
    ----------
    zone_ids : pandas.Index
        The zones' ids, in frame order: position ``i`` of :meth:`locate_index` is ``zone_ids[i]``.
    level : str or None
        The level the zones were selected by.
    crs : pyproj.CRS or None
        The zones' CRS, in which coordinates are given.
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` of the zones.
    cell_size : float
        Side of a grid cell, in CRS units.
    """

    def __init__(self, *, geoms, zone_ids, level, crs, bounds, cell_size, origin, shape, grid,
                 offsets, candidates):
        self._geoms = geoms
        self.zone_ids = zone_ids
        self.level = level
        self.crs = crs
        self.bounds = bounds
        self.cell_size = float(cell_size)
        self._x0, self._y0 = origin
        self._ny, self._nx = shape
        self._inv = 1.0 / self.cell_size
        self._grid = grid
        self._offsets = offsets
        self._cand = candidates
        self._id_list = zone_ids.tolist()
        lookup = np.empty(len(zone_ids) + 1, dtype=object)
        lookup[:-1] = zone_ids.to_numpy(dtype=object)
        lookup[-1] = None  # position -1 → no zone
        self._lookup = lookup

    # ----------------------------------------------------------------------------- build
    @classmethod
    def from_zones(cls, zones: gpd.GeoDataFrame, *, level: str | None = None,
                   cell_size: float | None = None) -> Locator:
        """Build a locator from a zone layer.

        Parameters
        ----------
        zones : geopandas.GeoDataFrame
            Indexed by ``zone_id``, polygons or multipolygons, in a projected CRS.
        level : str, optional
            Keep only the zones of this level (``zones["level"] == level``). Without it the
            layer must hold a single level, since zones of different levels overlap.
        cell_size : float, optional
            Side of a grid cell in CRS units. By default it is chosen so that about 2.5 % of
            the cells are crossed by a zone boundary, with between 4,096 and 4.2 million cells
            (16 MB).

        Returns
        -------
        Locator

        Raises
        ------
        ValidationError
            No zone of ``level``; several levels and no ``level``; a zone id used twice; a zone
            that is not a polygon; a ``cell_size`` that is not positive or makes too large a grid.

        Warns
        -----
        ZoningWarning
            Invalid zone geometries (they are repaired with ``shapely.make_valid``), and zones
            found to overlap (points in the overlap go to the first in frame order).

        Examples
        --------
        >>> import geopandas as gpd, shapely
        >>> zones = gpd.GeoDataFrame(
        ...     {"level": ["primary", "primary"]},
        ...     geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        ...     index=pd.Index(["Z1", "Z2"], name="zone_id"), crs="EPSG:4545")
        >>> loc = Locator.from_zones(zones, level="primary")
        >>> loc.locate([5, 10, 15, 25], [5, 5, 5, 5]).tolist()
        ['Z1', 'Z1', 'Z2', None]
        >>> loc.locate_one(15.0, 5.0)
        'Z2'
        """
        zones = _level_zones(zones, level, what="Locator.from_zones")
        if level is None and "level" in zones.columns:
            levels = pd.unique(zones["level"].dropna())
            if len(levels) > 1:
                raise ValidationError(
                    f"zones hold several levels ({', '.join(map(str, levels))}), whose zones "
                    "overlap; pass level=... to build a locator for one of them")
        dup = zones.index[zones.index.duplicated()].unique()
        if len(dup):
            raise ValidationError(
                f"zone_id {', '.join(map(str, dup[:5]))} used by several zones; give every zone "
                "its own id (zoning.validate reports duplicate ids)")
        # copies: preparing a geometry caches an index on the object, which should not be the
        # caller's
        geoms = shapely.from_wkb(shapely.to_wkb(zones.geometry.to_numpy()))
        geoms = _polygonal(geoms, zones.index, layer="zones")
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not present.any():
            raise ValidationError("every zone has an empty geometry; draw the zones first")
        shapely.prepare(geoms[present])
        # GEOS builds a prepared polygon's point index on first use: build it now, so that
        # queries only read it (and may run from several threads at once)
        b = shapely.bounds(geoms[present])
        shapely.intersects_xy(geoms[present], (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
        grid = _build_grid(geoms, present, zones.index, cell_size)
        return cls(geoms=geoms, zone_ids=zones.index.copy(), level=level, crs=zones.crs, **grid)

    def __repr__(self) -> str:
        mixed = (self._offsets.size - 1) / max(self._grid.size, 1)
        return (f"Locator(level={self.level!r}, zones={len(self.zone_ids)}, "
                f"grid={self._nx}×{self._ny} cells of {self.cell_size:.4g}, "
                f"mixed={mixed:.1%}, crs={self.crs.to_string() if self.crs else None})")

    def __setstate__(self, state):
        self.__dict__.update(state)
        # prepared indexes do not survive pickling
        present = ~(shapely.is_missing(self._geoms) | shapely.is_empty(self._geoms))
        shapely.prepare(self._geoms[present])

    # ----------------------------------------------------------------------------- query
    def locate_index(self, x, y) -> np.ndarray:
        """Zone position of every point: ``-1`` where no zone covers it.

        The memory-lean primitive under :meth:`locate`: 4 bytes a point for the answer, and a
        working set of a few tens of megabytes whatever the number of points.

        Parameters
        ----------
        x, y : array_like of float
            Coordinates in the zones' CRS, of the same shape.

        Returns
        -------
        numpy.ndarray of int32
            Positions into :attr:`zone_ids`, shaped like ``x``.

        Raises
        ------
        ValidationError
            ``x`` and ``y`` differ in shape.
        """
        x, y = self._xy(x, y)
        out = np.empty(x.shape, dtype=np.int32)
        xf, yf, of = x.reshape(-1), y.reshape(-1), out.reshape(-1)
        for s in range(0, xf.size, _CHUNK):
            of[s:s + _CHUNK] = self._chunk(xf[s:s + _CHUNK], yf[s:s + _CHUNK])
        return out

    def locate(self, x, y) -> np.ndarray:
        """Zone id of every point, ``None`` where no zone covers it (see the boundary rule).

        Parameters
        ----------
        x, y : array_like of float
            Coordinates in the zones' CRS, of the same shape.

        Returns
        -------
        numpy.ndarray of object
            Zone ids shaped like ``x`` (8 bytes a point; :meth:`locate_index` needs 4).
        """
        idx = self.locate_index(x, y)
        return self._lookup[idx.reshape(-1)].reshape(idx.shape)

    def locate_one(self, x: float, y: float):
        """Zone id of one point, or ``None`` (see the boundary rule).

        A fast path for lookups one at a time (a parent's address): a few microseconds, no
        arrays built.
        """
        x, y = float(x), float(y)
        fx = (x - self._x0) * self._inv
        fy = (y - self._y0) * self._inv
        if not (0.0 <= fx < self._nx and 0.0 <= fy < self._ny):  # NaN fails too
            return None
        code = self._grid.item(int(fy) * self._nx + int(fx))
        if code >= -1:
            return self._id_list[code] if code >= 0 else None
        k = -2 - code
        for j in range(self._offsets.item(k), self._offsets.item(k + 1)):
            z = self._cand.item(j)
            if _intersects_xy_one(self._geoms[z], x, y):
                return self._id_list[z]
        return None

    def on_boundary(self, x, y) -> np.ndarray:
        """Flag the points lying exactly on a zone boundary (an edge, a vertex, a hole's ring).

        These are the points whose zone the boundary rule decides. A point off every boundary is
        False, as is a point with a NaN coordinate.

        Parameters
        ----------
        x, y : array_like of float
            Coordinates in the zones' CRS, of the same shape.

        Returns
        -------
        numpy.ndarray of bool
            Shaped like ``x``.
        """
        x, y = self._xy(x, y)
        out = np.zeros(x.shape, dtype=bool)
        xf, yf, of = x.reshape(-1), y.reshape(-1), out.reshape(-1)
        for s in range(0, xf.size, _CHUNK):
            xs, ys = _as_float(xf[s:s + _CHUNK]), _as_float(yf[s:s + _CHUNK])
            code = self._codes(xs, ys)
            pts, rep, z = self._pairs(code)
            if rep.size:
                px, py = xs[pts][rep], ys[pts][rep]
                g = self._geoms[z]
                on = shapely.intersects_xy(g, px, py) & ~shapely.contains_xy(g, px, py)
                of[s + pts[rep[on]]] = True
        return out

    # ----------------------------------------------------------------------------- internals
    def _xy(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            raise ValidationError(
                f"x has shape {x.shape} but y has shape {y.shape}; pass one x and one y per "
                "point")
        return x, y

    def _codes(self, xs, ys):
        """Grid code of every point: zone position, -1 for none, <= -2 for a mixed cell."""
        # in place where possible: about 18 bytes a point of working memory
        fx = xs - self._x0
        fx *= self._inv
        fy = ys - self._y0
        fy *= self._inv
        bad = ~((fx >= 0) & (fx < self._nx) & (fy >= 0) & (fy < self._ny))  # NaN is bad
        np.floor(fx, out=fx)
        np.floor(fy, out=fy)
        fy *= self._nx  # the cell number, exact in float64 below 2**53
        fy += fx
        del fx
        fy[bad] = 0.0
        cell = fy.astype(np.intp)
        del fy
        code = self._grid[cell]
        del cell
        code[bad] = -1
        return code

    def _pairs(self, code):
        """(point, candidate zone) pairs of the points in mixed cells, candidates in zone order.

        Returns the positions of those points in the chunk, and for every pair the index into
        those positions and the zone.
        """
        pts = np.flatnonzero(code <= -2)
        k = -2 - code[pts]
        start = self._offsets[k]
        cnt = self._offsets[k + 1] - start
        rep = np.repeat(np.arange(pts.size), cnt)
        first = np.cumsum(cnt) - cnt
        j = np.arange(rep.size) - np.repeat(first - start, cnt)
        return pts, rep, self._cand[j]

    def _chunk(self, xs, ys):
        xs, ys = _as_float(xs), _as_float(ys)
        code = self._codes(xs, ys)
        pts, rep, z = self._pairs(code)
        if pts.size:
            hit = np.flatnonzero(shapely.intersects_xy(self._geoms[z], xs[pts][rep],
                                                       ys[pts][rep]))
            r = rep[hit]
            # pairs run in zone order within a point: its first hit is the first covering zone
            first = np.ones(r.size, dtype=bool)
            first[1:] = r[1:] != r[:-1]
            res = np.full(pts.size, -1, dtype=np.int32)
            res[r[first]] = z[hit[first]]
            code[pts] = res
        return code


def _as_float(a: np.ndarray) -> np.ndarray:
    # float32 input would lose centimetres at Gauss-Krüger magnitudes: compute in float64
    return a if a.dtype == np.float64 else a.astype(np.float64)


def _default_cell_size(width: float, height: float, perimeter: float) -> float:
    """A cell size leaving about ``_TARGET_MIXED`` of the cells crossed by a boundary.

    A boundary of length L crosses about 1.5 L / c cells of side c (diagonals, and the bounding
    boxes the build marks); zone perimeters count every shared edge twice, hence 0.75.
    """
    area = width * height
    if area <= 0 or perimeter <= 0:
        return max(width, height, 1.0)
    c = _TARGET_MIXED * area / (0.75 * perimeter)
    n = min(max(area / (c * c), _MIN_CELLS), _MAX_CELLS)
    return math.sqrt(area / n)


def _build_grid(geoms, present, ids, cell_size):
    """Classify every grid cell: one zone (or none) for the whole cell, or a candidate list.

    A cell is "mixed" when the bounding box of a boundary segment (segmentized to at most one
    cell, widened by ``eps``) touches it; its candidates are the zones of those segments plus
    the zones covering its centre (which hold the whole cell when none of their segments comes
    near it). Any other cell lies, with an ``eps`` margin, entirely inside or outside each
    zone, and so do runs of such cells along a row: one centre per run answers them all. The
    ``eps`` margin keeps the answer right for a point that floating point puts in the
    neighbouring cell.

    Which zones cover a cell centre comes from a scanline along each row of centres (the
    intervals where a horizontal line is inside a zone, from the same segments), with no
    geometry objects made; where those intervals overlap (an overlapping layer), from the
    prepared zones instead, so that every covering zone is found.
    """
    pos = np.flatnonzero(present)
    g = geoms[pos]
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(g))
    width, height = maxx - minx, maxy - miny
    if cell_size is None:
        cell_size = _default_cell_size(width, height, float(shapely.length(g).sum()))
    else:
        cell_size = float(cell_size)
        if not (math.isfinite(cell_size) and cell_size > 0):
            raise ValidationError(
                f"cell_size is {cell_size!r}; pass a positive size in CRS units (metres), or "
                "leave it out to let the locator choose")
    c = cell_size
    nx = int(math.ceil(width / c)) + 2
    ny = int(math.ceil(height / c)) + 2
    if nx * ny > _LIMIT_CELLS:
        least = math.sqrt(width * height / _LIMIT_CELLS)
        raise ValidationError(
            f"cell_size={c:g} makes a grid of {nx * ny:,} cells over the zones' extent "
            f"({width:,.0f} × {height:,.0f}); pass a cell_size of at least {least:.3g}")
    x0, y0 = minx - c, miny - c
    scale = max(abs(minx), abs(maxx), abs(miny), abs(maxy), 1.0)
    eps = c * 1e-6 + scale * 1e-12
    nz = len(geoms)

    # cells near a boundary: segments no longer than a cell, each marking the cells of its box
    lines = shapely.segmentize(shapely.boundary(g), c)
    parts, part_of = shapely.get_parts(lines, return_index=True)
    xy, coord_of = shapely.get_coordinates(parts, return_index=True)
    same = coord_of[1:] == coord_of[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    seg_zone = pos[part_of[coord_of[:-1][same]]].astype(np.int64)
    i_lo = np.floor((np.minimum(a[:, 0], b[:, 0]) - eps - x0) / c).astype(np.int64)
    i_hi = np.floor((np.maximum(a[:, 0], b[:, 0]) + eps - x0) / c).astype(np.int64)
    j_lo = np.floor((np.minimum(a[:, 1], b[:, 1]) - eps - y0) / c).astype(np.int64)
    j_hi = np.floor((np.maximum(a[:, 1], b[:, 1]) + eps - y0) / c).astype(np.int64)
    keys = []
    for di in range(int((i_hi - i_lo).max(initial=0)) + 1):
        for dj in range(int((j_hi - j_lo).max(initial=0)) + 1):
            m = (i_lo + di <= i_hi) & (j_lo + dj <= j_hi)
            cell = (j_lo[m] + dj) * nx + (i_lo[m] + di)
            keys.append(cell * nz + seg_zone[m])
    keys = _unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    mixed = _unique(keys // nz)
    scan = _scanline(a, b, seg_zone, x0, y0, c, nx, ny, eps)

    def centres(i, j):
        """(centre, zone) pairs: the zones covering the centres of cells (i, j)."""
        if scan is None:
            return _covering(g, pos, x0 + (i + 0.5) * c, y0 + (j + 0.5) * c)
        key_s, key_e, zone, w = scan
        q = j * w + (i + 0.5) * c
        k = np.searchsorted(key_s, q, side="right") - 1
        hit = np.flatnonzero((k >= 0) & (q < key_e[np.maximum(k, 0)]))
        return hit, zone[k[hit]]

    # candidates of mixed cells: zones of nearby segments + zones covering the centre
    pi, zi = centres(mixed % nx, mixed // nx)
    keys = _unique(np.concatenate([keys, mixed[pi] * nz + zi]))
    cand_cell = np.searchsorted(mixed, keys // nz)
    offsets = np.zeros(mixed.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(cand_cell, minlength=mixed.size), out=offsets[1:])
    candidates = (keys % nz).astype(np.int32)

    # the other cells: runs along rows, one centre tested per run
    is_mixed = np.zeros(nx * ny, dtype=bool)
    is_mixed[mixed] = True
    start = ~is_mixed.reshape(ny, nx)
    start[:, 1:] &= is_mixed.reshape(ny, nx)[:, :-1]
    start = start.reshape(-1)
    rep = np.flatnonzero(start)
    ri, rj = rep % nx, rep // nx
    pi, zi = centres(ri, rj)
    order = np.lexsort((zi, pi))
    pi, zi = pi[order], zi[order]
    first = np.ones(pi.size, dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    label = np.full(rep.size, -1, dtype=np.int32)
    label[pi[first]] = zi[first]
    # a run centre inside two zones, away from every boundary, is inside an overlap
    second = np.flatnonzero(~first)
    if second.size:
        _warn_overlaps(ids, zi, second, ri, rj, pi, x0, y0, c)

    # run -1 (mixed cells before a row's first run) reads the sentinel; mixed cells are set below
    run = np.cumsum(start) - 1
    grid = np.append(label, np.int32(-1))[run]
    del run
    grid[mixed] = -2 - np.arange(mixed.size, dtype=np.int32)
    return {"bounds": (minx, miny, maxx, maxy), "cell_size": c, "origin": (x0, y0),
            "shape": (ny, nx), "grid": grid, "offsets": offsets, "candidates": candidates}


def _scanline(a, b, seg_zone, x0, y0, c, nx, ny, eps):
    """Intervals of each row of cell centres inside each zone, or None where zones overlap.

    The segments (a → b) of all zone rings are crossed with the horizontal lines through the
    cell centres (a segment counts where ``min(y) <= yc < max(y)``, so a vertex on a line is
    counted once); sorted along the line, a zone's crossings pair up into inside intervals by
    the even-odd rule. A centre more than ``eps`` from every boundary (any centre of a cell no
    boundary comes near) is classified exactly. Returns interval start and end keys
    ``row * w + (x - x0)``, sorted, the interval's zone, and ``w``.
    """
    lo = np.minimum(a[:, 1], b[:, 1])
    hi = np.maximum(a[:, 1], b[:, 1])
    # first row whose centre is >= lo (and >= hi): the same formula on a shared vertex's y
    # gives the same row, which is all the even-odd count needs
    j0 = np.clip(np.ceil((lo - y0) / c - 0.5), 0, ny).astype(np.int64)
    j1 = np.clip(np.ceil((hi - y0) / c - 0.5), 0, ny).astype(np.int64)
    cnt = np.maximum(j1 - j0, 0)
    seg = np.repeat(np.arange(a.shape[0]), cnt)
    row = j0[seg] + (np.arange(seg.size) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    yc = y0 + (row + 0.5) * c
    ax, ay, bx, by = a[seg, 0], a[seg, 1], b[seg, 0], b[seg, 1]
    xc = ax + (yc - ay) * (bx - ax) / (by - ay)
    zone = seg_zone[seg]
    order = np.lexsort((xc, row, zone))
    zone, row, xc = zone[order], row[order], xc[order]
    group = np.ones(zone.size, dtype=bool)
    group[1:] = (zone[1:] != zone[:-1]) | (row[1:] != row[:-1])
    first = np.flatnonzero(group)
    if np.any(np.diff(np.append(first, zone.size)) % 2):
        return None  # an odd number of crossings (a ring not closed): use the geometries
    nth = np.arange(zone.size) - np.repeat(first, np.diff(np.append(first, zone.size)))
    start = nth % 2 == 0
    w = (nx + 1) * c
    key_s = row[start] * w + (xc[start] - x0)
    key_e = row[~start] * w + (xc[~start] - x0)
    zone = zone[start]
    order = np.argsort(key_s, kind="stable")
    key_s, key_e, zone = key_s[order], key_e[order], zone[order]
    if key_s.size > 1 and np.any(key_s[1:] < np.maximum.accumulate(key_e)[:-1] - eps):
        return None  # zones overlap: a centre may be in two
    return key_s, key_e, zone, w


def _covering(g, pos, x, y):
    """(point, zone position) pairs where a zone covers the point, from the geometries.

    Bounding boxes from a tree, then the prepared zones: the tree's own predicate would test
    unprepared zones, ten times slower.
    """
    pi, ti = shapely.STRtree(g).query(shapely.points(x, y))
    hit = shapely.intersects_xy(g[ti], x[pi], y[pi])
    return pi[hit], pos[ti[hit]]


# ------------------------------------------------------------ parcels: exact answers without GEOS
def _edges(geoms):
    """Edges of every ring of polygons.

    Returns ``x0, y0, x1, y1`` of every edge, the ring of each edge, the part (polygon) of each
    ring and the geometry of each part; in the order of the geometries.
    """
    if ((shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)).all():
        # polygons without holes (most parcels): one ring each, no ring objects to make
        rings = ring_of = part_of = np.arange(len(geoms))
    else:
        parts, part_of = shapely.get_parts(geoms, return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, coord_of = shapely.get_coordinates(geoms if rings is ring_of else rings,
                                           return_index=True)
    same = np.flatnonzero(coord_of[1:] == coord_of[:-1])
    x, y = xy[:, 0], xy[:, 1]
    return x[same], y[same], x[same + 1], y[same + 1], coord_of[same], ring_of, part_of


def _ring_segments(geoms, pos):
    """Segments of every ring of the zones, each with its zone and its winding *turn*.

    ``turn`` is what crossing the segment eastwards adds to the winding number of its zone. The
    rings are taken as shells counter-clockwise and holes clockwise, whatever their stored
    orientation, so that the winding number is 1 inside a valid zone and 0 outside it; a
    horizontal segment turns nothing.
    """
    ax, ay, bx, by, ring, ring_of, part_of = _edges(geoms)
    # twice the signed area of every ring (shoelace about a near point, for precision)
    ox, oy = (float(ax[0]), float(ay[0])) if ax.size else (0.0, 0.0)
    area2 = np.bincount(ring, weights=(ax - ox) * (by - oy) - (bx - ox) * (ay - oy),
                        minlength=ring_of.size)
    shell = np.ones(ring_of.size, dtype=bool)
    shell[1:] = ring_of[1:] != ring_of[:-1]  # the first ring of every polygon
    flip = np.where(shell == (area2 > 0), 1, -1)
    # counter-clockwise, an upward edge has the inside on its west: crossing it eastwards leaves
    turn = -np.sign(by - ay).astype(np.int64) * flip[ring]
    return ax, ay, bx, by, pos[part_of[ring_of[ring]]].astype(np.int64), turn


def _crossing(ax, ay, bx, by, y):
    """Where segment a–b crosses the horizontal line at ``y`` (between its ends), pairwise.

    Clamped to the segment, so that rounding never moves a crossing past a point off it.
    """
    x = ax + (y - ay) * ((bx - ax) / (by - ay))
    return np.minimum(np.maximum(x, np.minimum(ax, bx)), np.maximum(ax, bx))


def _meets(ax, ay, bx, by, x0, y0, x1, y1):
    """Whether segment a–b meets the closed box (x0, y0, x1, y1), pairwise.

    Separating axes: the box's two and the segment's normal. Rounding errs by far less than the
    ``eps`` the caller widens boxes by, so "no" means no.
    """
    out = ((np.minimum(ax, bx) <= x1) & (np.maximum(ax, bx) >= x0)
           & (np.minimum(ay, by) <= y1) & (np.maximum(ay, by) >= y0))
    i = np.flatnonzero(out)
    ax, ay, bx, by, x0, y0, x1, y1 = ax[i], ay[i], bx[i], by[i], x0[i], y0[i], x1[i], y1[i]
    dx, dy = bx - ax, by - ay
    u0, u1 = dx * (y0 - ay), dx * (y1 - ay)
    v0, v1 = dy * (x0 - ax), dy * (x1 - ax)
    s00, s01, s10, s11 = u0 - v0, u1 - v0, u0 - v1, u1 - v1
    lo = np.minimum(np.minimum(s00, s01), np.minimum(s10, s11))
    hi = np.maximum(np.maximum(s00, s01), np.maximum(s10, s11))
    out[i] = (lo <= 0) & (hi >= 0)
    return out


def _near(ax, ay, bx, by, cx, cy, dx, dy, eps):
    """Whether segments a–b and c–d may come within ``eps`` of each other, pairwise.

    "No" is exact (up to rounding far below ``eps``): their boxes are more than ``eps`` apart,
    or one lies wholly on one side of the other's line, farther than ``eps``.
    """
    out = ((np.minimum(ax, bx) <= np.maximum(cx, dx) + eps)
           & (np.maximum(ax, bx) >= np.minimum(cx, dx) - eps)
           & (np.minimum(ay, by) <= np.maximum(cy, dy) + eps)
           & (np.maximum(ay, by) >= np.minimum(cy, dy) - eps))
    i = np.flatnonzero(out)
    ax, ay, bx, by, cx, cy, dx, dy = ax[i], ay[i], bx[i], by[i], cx[i], cy[i], dx[i], dy[i]
    near = np.ones(i.size, dtype=bool)
    for (px, py, qx, qy), (rx, ry, sx, sy) in (((ax, ay, bx, by), (cx, cy, dx, dy)),
                                               ((cx, cy, dx, dy), (ax, ay, bx, by))):
        ux, uy = qx - px, qy - py
        tol = eps * np.hypot(ux, uy)
        o1 = ux * (ry - py) - uy * (rx - px)
        o2 = ux * (sy - py) - uy * (sx - px)
        near &= ~(((o1 > tol) & (o2 > tol)) | ((o1 < -tol) & (o2 < -tol)))
    out[i] = near
    return out


class _SegmentGrid:
    """The zones' ring segments, listed in the cells of a grid that they pass within ``eps`` of.

    A cell with no segment ("deep") lies inside one zone or outside all, with a margin; its
    zone is the zone of its centre, from the winding numbers along the rows of cell centres. A
    point that no boundary comes within ``eps`` of is located exactly and without GEOS
    (:meth:`locate`): walk east from it to the first deep cell of its row, and count the
    boundary crossings on the way. Built by :func:`_parcel_zones`.
    """

    def __init__(self, geoms, present, cell, bounds):
        pos = np.flatnonzero(present)
        g = geoms[pos]
        self.nzones = len(geoms)
        self.bounds = zx0, zy0, zx1, zy1 = bounds  # of the zones present
        width, height = zx1 - zx0, zy1 - zy0
        self.eps = eps = 1e-9 * max(abs(zx0), abs(zy0), abs(zx1), abs(zy1), width, height, 1.0)
        ax, ay, bx, by, self.zone, self.turn = _ring_segments(g, pos)
        self.ax, self.ay, self.bx, self.by = ax, ay, bx, by
        m = ax.size
        self.c = c = max(cell, math.sqrt(width * height / _MAX_CELLS), 1e3 * eps)
        # a margin of a cell and more: the last columns are deep (outside every zone)
        self.x0, self.y0 = gx0, gy0 = zx0 - c, zy0 - c
        self.nx, self.ny = nx, ny = int(math.ceil(width / c)) + 3, int(math.ceil(height / c)) + 3

        # segment pieces no longer than a cell, each listed in the cells of its box
        dx, dy = bx - ax, by - ay
        k = np.ceil(np.maximum(np.abs(dx), np.abs(dy)) / c).astype(np.int64)
        long = np.flatnonzero(k > 1)
        seg = np.flatnonzero(k <= 1)
        px0, py0, px1, py1 = ax[seg], ay[seg], bx[seg], by[seg]
        if long.size:
            kl = k[long]
            piece = np.repeat(long, kl)
            t0 = (np.arange(piece.size) - np.repeat(np.cumsum(kl) - kl, kl)) / k[piece]
            t1 = t0 + 1.0 / k[piece]
            seg = np.concatenate([seg, piece])
            px0 = np.concatenate([px0, ax[piece] + dx[piece] * t0])
            py0 = np.concatenate([py0, ay[piece] + dy[piece] * t0])
            px1 = np.concatenate([px1, ax[piece] + dx[piece] * t1])
            py1 = np.concatenate([py1, ay[piece] + dy[piece] * t1])
        # offsets from the grid origin are positive here: truncation is floor
        i_lo = ((np.minimum(px0, px1) - (gx0 + eps)) / c).astype(np.int64)
        i_hi = ((np.maximum(px0, px1) - (gx0 - eps)) / c).astype(np.int64)
        j_lo = ((np.minimum(py0, py1) - (gy0 + eps)) / c).astype(np.int64)
        j_hi = ((np.maximum(py0, py1) - (gy0 - eps)) / c).astype(np.int64)
        first = (j_lo * nx + i_lo) * m + seg
        si, sj = i_hi - i_lo, j_hi - j_lo
        keys = [first]
        for di in range(int(si.max(initial=0)) + 1):
            for dj in range(int(sj.max(initial=0)) + 1):
                if di or dj:
                    sel = np.flatnonzero((di <= si) & (dj <= sj))
                    keys.append(first[sel] + (dj * nx + di) * m)
        keys = np.concatenate(keys)
        if nx * ny * m < 2**31:
            keys = keys.astype(np.int32)  # sorts twice as fast
        keys = _unique(keys).astype(np.int64)  # a segment's pieces may share a cell
        cells = keys // m
        self.segs = segs = keys - cells * m
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        self.offsets = np.append(starts, cells.size)
        self.mixed = cells[starts]
        # cell → its segment list, -1 for a deep cell
        self.slot = np.full(nx * ny, -1, dtype=np.int32)
        self.slot[self.mixed] = np.arange(starts.size, dtype=np.int32)
        # the first deep cell east of every mixed cell: after its run of mixed cells (the last
        # columns of every row are deep)
        run = np.r_[True, self.mixed[1:] != self.mixed[:-1] + 1]
        self.east = self.mixed[np.flatnonzero(np.r_[run[1:], True])[np.cumsum(run) - 1]] + 1
        # a mixed cell in the 2×2 block from the cell (wrapping at a row's end: only stricter)
        mix = self.slot >= 0
        self.block = mix.copy()
        self.block[:-1] |= mix[1:]
        self.block[:-nx] |= mix[nx:]
        self.block[:-nx - 1] |= mix[nx + 1:]

        # winding numbers at the deep cells' centres: the crossings of the line through the
        # centres of every row (a segment crossing it where min(y) <= y_line < max(y), so that a
        # vertex on the line counts once), each counted in the cell it crosses in. In cell
        # order, the running sums of the turns and of the turns times the zone give at a deep
        # cell the number of zones its centre is in and, if one, which. Every line's sum is 0
        # (rings are closed), so a row starts from 0.
        row = cells // nx
        yc = gy0 + (row + 0.5) * c
        ya, yb = ay[segs], by[segs]
        e = np.flatnonzero((np.minimum(ya, yb) <= yc) & (yc < np.maximum(ya, yb)))
        xc = _crossing(ax[segs[e]], ya[e], bx[segs[e]], yb[e], yc[e])
        e = e[((xc - gx0) / c).astype(np.int64) == cells[e] - row[e] * nx]
        turn = np.zeros(cells.size, dtype=np.int64)
        turn[e] = self.turn[segs[e]]
        last = self.offsets[1:] - 1
        # the answer after every mixed cell, and before the first: no zone
        self._after = np.append(-1, self._answer(np.cumsum(turn)[last],
                                                 np.cumsum(turn * self.zone[segs])[last]))
        self._rank = np.cumsum(mix, dtype=np.int32)  # mixed cells up to every cell

    def cell_range(self, x0, y0, x1, y1):
        """First cell, and the number of further columns and rows, of boxes (widened by eps)."""
        c, eps = self.c, self.eps
        i0 = np.maximum(((x0 - (self.x0 + eps)) / c).astype(np.int64), 0)
        j0 = np.maximum(((y0 - (self.y0 + eps)) / c).astype(np.int64), 0)
        si = np.minimum(((x1 - (self.x0 - eps)) / c).astype(np.int64), self.nx - 1) - i0
        sj = np.minimum(((y1 - (self.y0 - eps)) / c).astype(np.int64), self.ny - 1) - j0
        return j0 * self.nx + i0, si, sj

    def listed(self, cell):
        """(index into ``cell``, segment) for every segment listed in those cells."""
        s = self.slot[cell]
        q = np.flatnonzero(s >= 0)
        s = s[q]
        start = self.offsets[s]
        count = self.offsets[s + 1] - start
        rep = np.repeat(q, count)
        return rep, self.segs[np.arange(rep.size) - np.repeat(np.cumsum(count) - count - start,
                                                              count)]

    def deep_zone(self, cell):
        """Zone position at the centre of deep cells: -1 in none, -3 in several (overlap)."""
        return self._after[self._rank[cell]]  # after the last mixed cell before

    def _answer(self, got, zone):
        one = (got == 1) & (zone >= 0) & (zone < self.nzones)
        return np.where(one, zone, np.where((got == 0) & (zone == 0), -1, -3)).astype(np.int64)

    def locate(self, x, y, *, max_walk=4096):
        """Zone position of points that no boundary comes within eps of.

        -1 in no zone; -3 when this cannot tell (in several zones, or no deep cell within
        ``max_walk`` cells east): ask GEOS.
        """
        zx0, zy0, zx1, zy1 = self.bounds
        out = np.full(x.size, -1, dtype=np.int64)
        q = np.flatnonzero((x >= zx0) & (x <= zx1) & (y >= zy0) & (y <= zy1))
        x, y = x[q], y[q]
        cell = (((y - self.y0) / self.c).astype(np.int64) * self.nx
                + ((x - self.x0) / self.c).astype(np.int64))
        # the first deep cell east in the same row
        s = self.slot[cell]
        end = np.where(s < 0, cell, self.east[np.maximum(s, 0)])
        end[end - cell > max_walk] = -1
        walk = np.where(end >= 0, end - cell, 0)
        rep = np.repeat(np.arange(q.size), walk)
        walked = cell[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(walk) - walk, walk))
        t, s = self.listed(walked)
        p = rep[t]
        ay, by = self.ay[s], self.by[s]
        yq = y[p]
        cross = np.flatnonzero((np.minimum(ay, by) <= yq) & (yq < np.maximum(ay, by)))
        t, s, p = t[cross], s[cross], p[cross]
        xc = _crossing(self.ax[s], self.ay[s], self.bx[s], self.by[s], y[p])
        # east of the point, and counted once: in the cell where it crosses the row
        own = (xc > x[p]) & (((xc - self.x0) / self.c).astype(np.int64) == walked[t] % self.nx)
        p, s = p[own], s[own]
        turn = self.turn[s]
        net = np.bincount(p, weights=turn, minlength=q.size).astype(np.int64)
        znet = np.bincount(p, weights=turn * self.zone[s], minlength=q.size).astype(np.int64)
        # crossing eastwards adds the turn: the point has the deep cell's count minus those
        label = np.full(q.size, -3, dtype=np.int64)
        found = np.flatnonzero(end >= 0)
        label[found] = self.deep_zone(end[found])
        got = (label >= 0).astype(np.int64) - net
        out[q] = np.where(label == -3, -3, self._answer(got, np.maximum(label, 0) - znet))
        return out


def _parcel_zones(bounds, parcels, zones, zpresent):
    """Zone position of every parcel lying inside one zone, -1 outside every zone, else -2/-3.

    Exact, and without GEOS for a parcel that no zone boundary comes within ``eps`` of:

    1. The zones' ring segments are listed in the cells of a :class:`_SegmentGrid` (cells
       ``_BOX_CELL`` times the median parcel box). A parcel whose box touches only deep cells
       is in their zone (box and cells are free of boundaries and share a point).
    2. Other boxes are checked exactly against the segments of the cells they touch (the box
       widened by ``eps``, :func:`_meets`). A box that meets none lies in one zone or outside
       all: in the zone of a deep cell it touches, or else of its centre
       (:meth:`_SegmentGrid.locate`).
    3. A polygon parcel whose box meets segments is checked against them edge by edge
       (:func:`_near`), and for a zone ring inside it (a point of every such segment, even-odd
       against the parcel's edges). If neither, the parcel is in the zone of its first vertex.

    Left to the caller: -2, a parcel a boundary comes near (or a multipolygon near one, whose
    parts may lie in different zones; a box spanning more than ``_BOX_SPAN + 1`` cells a side;
    an empty geometry); -3, a parcel inside one zone or none, but which could not be told here
    (overlapping zones): the zone of the centre of its box.
    """
    n = len(bounds)
    out = np.full(n, -2, dtype=np.int64)
    zbounds = zx0, zy0, zx1, zy1 = tuple(float(v) for v in shapely.total_bounds(zones[zpresent]))
    bx0, by0, bx1, by1 = np.ascontiguousarray(bounds.T)
    with np.errstate(invalid="ignore"):
        ok = (bx0 <= bx1) & (by0 <= by1)  # NaN bounds fail
        far = ok & ((bx0 > zx1) | (bx1 < zx0) | (by0 > zy1) | (by1 < zy0))
    out[far] = -1
    todo = np.flatnonzero(ok & ~far)
    if not todo.size:
        return out
    if todo.size < n:
        bx0, by0, bx1, by1 = bx0[todo], by0[todo], bx1[todo], by1[todo]
    x0, y0, x1, y1 = bx0, by0, bx1, by1
    ext = np.maximum(x1 - x0, y1 - y0)[::8]
    grid = _SegmentGrid(zones, zpresent, _BOX_CELL * float(np.median(ext)), zbounds)
    eps = grid.eps

    # 1. the cells of every box: a deep one (any), and the others' segments; most boxes lie in
    # a block of 2×2 deep cells
    cell0, si, sj = grid.cell_range(x0, y0, x1, y1)
    quick = (si <= 1) & (sj <= 1) & ~grid.block[cell0]
    deep = np.where(quick, cell0, -1)
    small = ~quick & (si <= _BOX_SPAN) & (sj <= _BOX_SPAN)
    clear = quick | small
    small = np.flatnonzero(small)
    near_box, near_cell = [], []
    for di in range(int(si[small].max(initial=0)) + 1):
        sdi = small[si[small] >= di]
        for dj in range(int(sj[sdi].max(initial=0)) + 1):
            sel = sdi[sj[sdi] >= dj]
            cell = cell0[sel] + (dj * grid.nx + di)
            mixed = grid.slot[cell] >= 0
            deep[sel[~mixed]] = cell[~mixed]
            near_box.append(sel[mixed])
            near_cell.append(cell[mixed])
    near_box, near_cell = np.concatenate(near_box), np.concatenate(near_cell)

    # 2. boxes against the segments of their mixed cells
    t, s = grid.listed(near_cell)
    box = near_box[t]
    hit = _meets(grid.ax[s], grid.ay[s], grid.bx[s], grid.by[s],
                 x0[box] - eps, y0[box] - eps, x1[box] + eps, y1[box] + eps)
    box, s = box[hit], s[hit]
    checked = clear.copy()  # small enough to check further
    clear[box] = False
    found = np.full(todo.size, -2, dtype=np.int64)
    at = np.flatnonzero(clear & (deep >= 0))
    found[at] = grid.deep_zone(deep[at])
    # ... and those touching no deep cell: their centre, located with step 3's points below
    at = np.flatnonzero(clear & (deep < 0))
    qx, qy = (x0[at] + x1[at]) / 2, (y0[at] + y1[at]) / 2

    # 3. parcels whose box meets a boundary: their edges against those segments
    cand = np.flatnonzero(checked & ~clear)
    cand = cand[shapely.get_type_id(parcels[todo[cand]]) == 3]
    if cand.size:
        which = np.full(todo.size, -1, dtype=np.int64)
        which[cand] = np.arange(cand.size)
        keep = which[box] >= 0
        clean, vx, vy = _clear_polygons(grid, parcels[todo[cand]], which[box[keep]], s[keep])
        at = np.concatenate([at, cand[clean]])
        qx, qy = np.concatenate([qx, vx]), np.concatenate([qy, vy])
    found[at] = grid.locate(qx, qy)
    out[todo] = found
    return out


def _clear_polygons(grid, polygons, pk, seg):
    """:func:`_parcel_zones`, step 3: polygons against the segments that meet their boxes.

    ``pk, seg``: (polygon, segment) pairs, every segment meeting a polygon's box. Returns the
    polygons that none of them comes within eps of and that hold no zone ring, with a vertex
    of each (its zone is the polygon's).
    """
    ex0, ey0, ex1, ey1, ring, ring_of, part_of = _edges(polygons)
    ecount = np.bincount(part_of[ring_of[ring]], minlength=len(polygons))
    estart = np.cumsum(ecount) - ecount
    cnt = ecount[pk]
    pair = np.repeat(np.arange(pk.size), cnt)
    e = np.arange(pair.size) - np.repeat(np.cumsum(cnt) - cnt - estart[pk], cnt)
    sp = seg[pair]
    sx0, sy0, sx1, sy1 = grid.ax[sp], grid.ay[sp], grid.bx[sp], grid.by[sp]
    fx0, fy0, fx1, fy1 = ex0[e], ey0[e], ex1[e], ey1[e]
    bad = np.zeros(len(polygons), dtype=bool)
    bad[pk[pair[_near(sx0, sy0, sx1, sy1, fx0, fy0, fx1, fy1, grid.eps)]]] = True
    # a zone ring inside the polygon: the segment's first point, even-odd against its edges
    up = np.flatnonzero((np.minimum(fy0, fy1) <= sy0) & (sy0 < np.maximum(fy0, fy1)))
    right = _crossing(fx0[up], fy0[up], fx1[up], fy1[up], sy0[up]) > sx0[up]
    bad[pk[np.bincount(pair[up[right]], minlength=pk.size) % 2 == 1]] = True
    clean = np.flatnonzero(~bad & (ecount > 0))
    return clean, ex0[estart[clean]], ey0[estart[clean]]


def _first_zone(p, z):
    """Per parcel of (parcel, zone) pairs: the parcel, and its zone first in frame order."""
    order = np.lexsort((z, p))
    p, z = p[order], z[order]
    first = np.ones(p.size, dtype=bool)
    first[1:] = p[1:] != p[:-1]
    return p[first], z[first]


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values; a sort beats the hash table np.unique uses for large int arrays."""
    a = np.sort(a)
    keep = np.ones(a.size, dtype=bool)
    keep[1:] = a[1:] != a[:-1]
    return a[keep]


def _warn_overlaps(ids, zi, second, ri, rj, pi, x0, y0, c):
    seen = {}
    for s in second:
        pair = (int(zi[s - 1]), int(zi[s]))
        if pair not in seen:
            r = pi[s]
            seen[pair] = (x0 + (ri[r] + 0.5) * c, y0 + (rj[r] + 0.5) * c)
    shown = "; ".join(f"{ids[a]} and {ids[b]} near ({x:.1f}, {y:.1f})"
                      for (a, b), (x, y) in list(seen.items())[:5])
    more = f" and {len(seen) - 5} more pairs" if len(seen) > 5 else ""
    warnings.warn(
        f"zones overlap: {shown}{more}; a point in an overlap goes to the zone first in frame "
        "order. Fix the zone layer (zoning.validate lists every overlap)",
        ZoningWarning, stacklevel=4)


def _polygonal(geoms, ids, *, layer):
    """Check zones are areas; repair invalid ones (with a warning naming them)."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    wrong = present & ~np.isin(shapely.get_type_id(geoms), (3, 6))
    if wrong.any():
        shown = ", ".join(f"{ids[i]} ({geoms[i].geom_type})" for i in np.flatnonzero(wrong)[:5])
        raise ValidationError(
            f"{layer} {shown} {'is' if wrong.sum() == 1 else 'are'} not a polygon; a zone must "
            "be an area: draw it as a polygon, or drop the row")
    bad = present & ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
        shown = ", ".join(str(ids[i]) for i in np.flatnonzero(bad)[:5])
        warnings.warn(
            f"{layer} {shown}: invalid geometry repaired with shapely.make_valid for the lookup; "
            "fix the layer (zoning.validate gives the reason)", ZoningWarning, stacklevel=3)
    return geoms


def _level_zones(zones, level, *, what):
    mask = _level_mask(zones, level, what=what)
    return zones if mask is None else zones[mask]


def _level_mask(zones, level, *, what):
    """Which rows of ``zones`` are of ``level`` (None: all, when no level is asked for)."""
    if not isinstance(zones, gpd.GeoDataFrame):
        raise ValidationError(
            f"{what}: zones must be a geopandas.GeoDataFrame indexed by zone_id, got "
            f"{type(zones).__name__}; read the layer with zoning.io.read_layer")
    if level is None:
        return None
    if "level" not in zones.columns:
        raise ValidationError(
            f"{what}: zones have no 'level' column (found: {', '.join(map(str, zones.columns))}); "
            "add it, or leave level out for a single-level layer")
    mask = zones["level"].to_numpy(dtype=object, na_value=None) == level
    if not mask.any():
        present = ", ".join(map(repr, pd.unique(zones["level"].dropna()))) or "none"
        raise ValidationError(
            f"{what}: no zone has level {level!r} (levels present: {present}); pass one of them")
    return mask


def _to_crs(gdf, crs):
    """``gdf`` in ``crs``; a layer without a CRS is taken to be in it already."""
    if gdf.crs is None:
        return gdf.set_crs(crs)
    return gdf if gdf.crs == crs else gdf.to_crs(crs)


# ------------------------------------------------------------------------------------- points
def assign_points(points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, level: str) -> pd.Series:
    """Zone of every point, by the boundary rule of :class:`Locator`.

    It builds a :class:`Locator` for the call; for lookups again and again against the same
    zones, build one with :meth:`Locator.from_zones` and keep it.

    Parameters
    ----------
    points : geopandas.GeoDataFrame or geopandas.GeoSeries
        Point geometries (addresses, applicants' homes). Reprojected to the zones' CRS when it
        differs; without a CRS they are taken to be in it.
    zones : geopandas.GeoDataFrame
        Indexed by ``zone_id``, with ``level``.
    level : str
        The zone level to assign to (``"primary"`` or ``"junior"``).

    Returns
    -------
    pandas.Series
        ``zone_id`` per point, index preserved; ``None`` for a point in no zone, an empty point
        or a missing geometry.

    Raises
    ------
    ValidationError
        A geometry that is not a point, or the errors of :meth:`Locator.from_zones`.
    """
    loc = Locator.from_zones(zones, level=level)
    if not isinstance(points, gpd.GeoSeries | gpd.GeoDataFrame):
        raise ValidationError(
            f"points must be a GeoDataFrame or GeoSeries, got {type(points).__name__}")
    if loc.crs is not None:
        points = _to_crs(points, loc.crs)
    geoms = (points.geometry if isinstance(points, gpd.GeoDataFrame) else points).to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    wrong = present & (shapely.get_type_id(geoms) != 0)
    if wrong.any():
        shown = ", ".join(f"{points.index[i]} ({geoms[i].geom_type})"
                          for i in np.flatnonzero(wrong)[:5])
        raise ValidationError(
            f"points {shown}: not a point; pass one point per row (a parcel's "
            "point_on_surface, or use assign_parcels for polygons)")
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[present] = shapely.get_x(geoms[present])
    y[present] = shapely.get_y(geoms[present])
    return pd.Series(loc.locate(x, y), index=points.index, name="zone_id", dtype=object)


# ------------------------------------------------------------------------------------- parcels
def assign_parcels(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, level: str,
                   split_share: float = DEFAULT.split_share) -> pd.DataFrame:
    """Assign every parcel to the zone it overlaps most.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Indexed by ``parcel_id``.
    zones : geopandas.GeoDataFrame
        Indexed by ``zone_id``, with ``level``.
    level : str
        The zone level to assign to (``"primary"`` or ``"junior"``).
    split_share : float
        A parcel whose largest overlap is below this share of its area is ``split``
        (``Settings.split_share``, 0.95).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``parcels``, columns:

        - ``zone_id`` — the zone with the largest overlap; ``None`` when the parcel shares no
          area with any zone of the level (or has no geometry).
        - ``share`` — that overlap ÷ the parcel's area (1.0 for a parcel inside one zone, 0.0
          when it is in none, NaN when it has no area).
        - ``split`` — ``share < split_share`` for an assigned parcel.
        - ``zones_touched`` — the number of zones it shares positive area with.

        ``result.attrs`` keeps every overlap of the parcels not inside one zone (few), for
        :func:`split_parcels`.

    Raises
    ------
    ValidationError
        No zone of ``level``, or zones that are not polygons.

    Notes
    -----
    Areas are exact (GEOS intersections) in the working CRS ``Settings.working_crs``; layers in
    another CRS are reprojected, a layer without one is taken to be in it. A parcel inside a
    zone (the common case) needs no intersection: share 1.0. Most are found without GEOS: the
    zones' ring segments are bucketed in a grid of cells about the parcels' size, and a parcel
    that no boundary comes within a few millimetres of (its bounding box, or else its edges,
    checked exactly against the nearby segments) is in the zone of one of its points, found by
    counting boundary crossings (winding numbers). The others are tested with the prepared
    zone's ``contains``, and only those not inside are intersected with the zones. Invalid
    parcel geometries are repaired with ``shapely.make_valid`` before an intersection (their
    share is of the area as given). Ties (two zones
    with exactly equal overlap) go to the zone first in the zones frame, as points on a
    boundary do in :class:`Locator`. Floating-point slivers count like any overlap: a parcel
    drawn along a zone edge may touch its neighbour by a fraction of a square millimetre, which
    shows in ``zones_touched`` but never changes ``zone_id``. With overlapping zones (an
    invalid layer) a parcel inside the overlap goes to the first zone and ``zones_touched``
    counts the zones found to contain it.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> zones = gpd.GeoDataFrame(
    ...     {"level": ["primary", "primary"]},
    ...     geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
    ...     index=pd.Index(["Z1", "Z2"], name="zone_id"), crs="EPSG:4545")
    >>> parcels = gpd.GeoDataFrame(
    ...     geometry=[shapely.box(1, 1, 2, 2), shapely.box(9, 1, 11, 2), shapely.box(30, 0, 31, 1)],
    ...     index=pd.Index(["A", "B", "C"], name="parcel_id"), crs="EPSG:4545")
    >>> assign_parcels(parcels, zones, level="primary")
              zone_id  share  split  zones_touched
    parcel_id
    A              Z1    1.0  False              1
    B              Z1    0.5   True              2
    C            None    0.0  False              0
    """
    if not isinstance(parcels, gpd.GeoDataFrame | gpd.GeoSeries):
        raise ValidationError(
            f"parcels must be a GeoDataFrame indexed by parcel_id, got {type(parcels).__name__}")
    # arrays, not a frame of the level's zones: selecting rows of a GeoDataFrame costs more
    # than most of what follows
    mask = _level_mask(zones, level, what="assign_parcels")
    if mask is None:  # level=None: a single-level layer
        mask = np.ones(len(zones), dtype=bool)
    crs = DEFAULT.working_crs
    zone_ids = zones.index[mask]
    zg = zones.geometry.to_numpy()[mask]
    if zones.crs is not None and zones.crs != crs:
        zg = gpd.GeoSeries(zg, crs=zones.crs).to_crs(crs).to_numpy()
    parcels = _to_crs(parcels, crs)
    if zone_ids.has_duplicates:
        dup = zone_ids[zone_ids.duplicated()].unique()
        raise ValidationError(
            f"zone_id {', '.join(map(str, dup[:5]))} used by several zones; give every zone "
            "its own id (zoning.validate reports duplicate ids)")
    zg = _polygonal(zg, zone_ids, layer="zones")
    zpresent = ~(shapely.is_missing(zg) | shapely.is_empty(zg))
    if not zpresent.any():
        raise ValidationError("every zone has an empty geometry; draw the zones first")
    pg = given = (parcels.geometry if isinstance(parcels, gpd.GeoDataFrame)
                  else parcels).to_numpy()
    n = len(pg)
    pb = shapely.bounds(pg)
    present = ~np.isnan(pb[:, 0])  # a geometry with NaN bounds is missing or empty ...
    if not present.all():  # ... unless its coordinates are NaN: let GEOS see those
        odd = np.flatnonzero(~present)
        present[odd] = ~(shapely.is_missing(pg[odd]) | shapely.is_empty(pg[odd]))

    # most parcels: exact without GEOS (a box or a polygon that no zone boundary comes near)
    zone = _parcel_zones(pb, pg, zg, zpresent)
    unknown = np.flatnonzero(zone == -3)
    rest = np.flatnonzero((zone == -2) & present)
    zone[zone < -1] = -1
    touched = (zone >= 0).astype(np.int64)
    inside = zone >= 0
    best = np.zeros(n)
    p = z = np.zeros(0, dtype=np.int64)
    area = np.zeros(0)
    if unknown.size or rest.size:
        # the others: bounding-box candidates, then prepared copies of the zones (preparing
        # caches an index on the object, which should not be the caller's)
        zpos = np.flatnonzero(zpresent)
        tree = shapely.STRtree(zg[zpos])
        cx = (pb[unknown, 0] + pb[unknown, 2]) / 2
        cy = (pb[unknown, 1] + pb[unknown, 3]) / 2
        ui, uz = tree.query(shapely.points(cx, cy))
        ri, rz = tree.query(pg[rest])
        uz, rz = zpos[uz], zpos[rz]
        used = np.unique(np.concatenate([uz, rz]))
        prepared = zg.copy()
        prepared[used] = shapely.from_wkb(shapely.to_wkb(zg[used]))
        shapely.prepare(prepared[used])
        # a box free of boundaries is in the zones covering its centre; a parcel near a
        # boundary may still be inside a zone (contains: no intersection computed)
        uhit = shapely.intersects_xy(prepared[uz], cx[ui], cy[ui])
        pbr, zb = pb[rest[ri]], shapely.bounds(zg[rz])
        box_in = np.flatnonzero((pbr[:, :2] >= zb[:, :2]).all(axis=1)
                                & (pbr[:, 2:] <= zb[:, 2:]).all(axis=1))
        rhit = box_in[shapely.contains(prepared[rz[box_in]], pg[rest[ri[box_in]]])]
        hp = np.concatenate([unknown[ui[uhit]], rest[ri[rhit]]])
        hp1, hz1 = _first_zone(hp, np.concatenate([uz[uhit], rz[rhit]]))
        zone[hp1] = hz1
        touched += np.bincount(hp, minlength=n)
        inside = zone >= 0

        # the others: exact overlaps, of repaired geometries (an invalid one breaks the overlay)
        keep = np.flatnonzero(~inside[rest[ri]])
        ri, rz = ri[keep], rz[keep]
        mend = np.unique(rest[ri])
        bad = mend[~shapely.is_valid(pg[mend])]
        if bad.size:
            pg = pg.copy()
            pg[bad] = shapely.make_valid(pg[bad])
        hit = shapely.intersects(prepared[rz], pg[rest[ri]])
        p, z = rest[ri[hit]], rz[hit]
        area = shapely.area(shapely.intersection(pg[p], zg[z]))
        p, z, area = p[area > 0], z[area > 0], area[area > 0]
        order = np.lexsort((z, -area, p))  # largest area first, then the first zone
        p, z, area = p[order], z[order], area[order]
        first = np.ones(p.size, dtype=bool)
        first[1:] = p[1:] != p[:-1]
        zone[p[first]] = z[first]
        best[p[first]] = area[first]
        touched += np.bincount(p, minlength=n)

    parea = np.ones(n)  # a parcel inside a zone has share 1.0 whatever its area
    parea[~inside] = shapely.area(given[~inside])  # as given, not repaired
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(inside, 1.0, np.where(zone >= 0, best / parea, 0.0))
    share[~inside & (parea <= 0)] = np.nan
    ids = zone_ids.to_numpy(dtype=object)
    index = parcels.index.copy()
    if index.name is None:
        index.name = "parcel_id"
    # ids as given, dtype object (pandas would infer strings); position -1 reads the None
    columns = {"zone_id": (np.append(ids, None)[zone], object), "share": (share, None),
               "split": ((zone >= 0) & (share < split_share), None),
               "zones_touched": (touched, None)}
    result = pd.DataFrame({k: pd.Series(v, index=index, dtype=t, copy=False)
                           for k, (v, t) in columns.items()}, copy=False)
    # the parcels not inside one zone (few): every overlap, for split_parcels
    result.attrs[_OVERLAPS] = tuple(zip(
        index[p].tolist(), p.tolist(), ids[z].tolist(), z.tolist(), area.tolist(),
        (area / parea[p]).tolist(), strict=True))
    return result


def split_parcels(result: pd.DataFrame) -> pd.DataFrame:
    """The split parcels of an :func:`assign_parcels` result, with every zone they overlap.

    Parameters
    ----------
    result : pandas.DataFrame
        As returned by :func:`assign_parcels` (row selections of it keep the detail).

    Returns
    -------
    pandas.DataFrame
        One row per (split parcel, zone): ``parcel_id``, ``zone_id``, ``area`` (m²), ``share``
        of the parcel, ``assigned`` (the zone the parcel went to). Parcels in result order,
        largest share first.

    Raises
    ------
    ValidationError
        ``result`` has split parcels but lost the overlap detail (``result.attrs``) on the way.
    """
    cols = ["parcel_id", "zone_id", "area", "share", "assigned"]
    split = result.index[result["split"].to_numpy(dtype=bool)]
    records = result.attrs.get(_OVERLAPS)
    if records is None:
        if len(split):
            raise ValidationError(
                f"result lists {len(split)} split parcel(s) (first: {split[0]}) but carries no "
                "overlap detail; pass the frame returned by assign_parcels (or a row selection "
                "of it), whose .attrs hold the detail")
        return pd.DataFrame({c: [] for c in cols})
    detail = pd.DataFrame.from_records(
        list(records), columns=["parcel_id", "ppos", "zone_id", "zpos", "area", "share"])
    detail = detail[detail["parcel_id"].isin(split)]
    detail = detail.sort_values(["ppos", "area", "zpos"], ascending=[True, False, True],
                                kind="stable")
    detail["assigned"] = ~detail["ppos"].duplicated()
    return detail[cols].reset_index(drop=True)
