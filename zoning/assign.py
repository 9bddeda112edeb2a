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
from zoning.zones import intersection_areas

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

    def _box_zone(self, bounds, *, max_span=3):
        """Zone position of each box lying in grid cells wholly inside that one zone, else -1.

        Such a box, and whatever it holds, is inside the zone (the cells are, with a margin):
        no geometry test needed. Boxes spanning more than ``max_span + 1`` cells a side, or
        touching a mixed or empty cell, get -1.
        """
        f = (bounds - [self._x0, self._y0, self._x0, self._y0]) * self._inv
        ok = ((f[:, 0] >= 0) & (f[:, 1] >= 0) & (f[:, 2] < self._nx)
              & (f[:, 3] < self._ny))  # NaN bounds (empty geometries) fail
        f[~ok] = 0.0
        i0, j0, i1, j1 = f.astype(np.int64).T
        si, sj = i1 - i0, j1 - j0
        ok &= (si <= max_span) & (sj <= max_span)
        first = self._grid[j0 * self._nx + i0]
        ok &= first >= 0
        for di in range(max_span + 1):
            for dj in range(max_span + 1):
                m = np.flatnonzero(ok & (di <= si) & (dj <= sj))
                ok[m] = self._grid[(j0[m] + dj) * self._nx + i0[m] + di] == first[m]
        return np.where(ok, first, -1)

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
    if not isinstance(zones, gpd.GeoDataFrame):
        raise ValidationError(
            f"{what}: zones must be a geopandas.GeoDataFrame indexed by zone_id, got "
            f"{type(zones).__name__}; read the layer with zoning.io.read_layer")
    if level is None:
        return zones
    if "level" not in zones.columns:
        raise ValidationError(
            f"{what}: zones have no 'level' column (found: {', '.join(map(str, zones.columns))}); "
            "add it, or leave level out for a single-level layer")
    mask = (zones["level"] == level).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        present = ", ".join(map(repr, pd.unique(zones["level"].dropna()))) or "none"
        raise ValidationError(
            f"{what}: no zone has level {level!r} (levels present: {present}); pass one of them")
    return zones[mask]


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
    zone (the common case) needs no intersection: share 1.0. It is found by the grid of a
    :class:`Locator` (a bounding box in cells wholly inside one zone) or else by the prepared
    zone's ``contains``; only the other parcels are intersected with the zones. Invalid parcel
    geometries are repaired with ``shapely.make_valid`` before an intersection. Ties (two zones
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
    lz = _level_zones(zones, level, what="assign_parcels")
    crs = DEFAULT.working_crs
    lz = _to_crs(lz, crs)
    parcels = _to_crs(parcels, crs)
    # the locator checks and repairs the zones, prepares them, and its grid answers most parcels
    loc = Locator.from_zones(lz)
    zg = loc._geoms
    pg = (parcels.geometry if isinstance(parcels, gpd.GeoDataFrame) else parcels).to_numpy()
    n = len(pg)
    parea = shapely.area(pg)
    present = ~(shapely.is_missing(pg) | shapely.is_empty(pg))

    # fast path 1: the parcel's bounding box lies in grid cells inside one zone
    zone = loc._box_zone(shapely.bounds(pg)).astype(np.int64)
    touched = (zone >= 0).astype(np.int64)
    # fast path 2: inside a zone by the prepared zone's contains (no intersection computed)
    rest = np.flatnonzero((zone < 0) & present)
    ri, zi = shapely.STRtree(zg).query(pg[rest])
    pb, zb = shapely.bounds(pg[rest])[ri], shapely.bounds(zg)[zi]
    box_in = (pb[:, :2] >= zb[:, :2]).all(axis=1) & (pb[:, 2:] <= zb[:, 2:]).all(axis=1)
    ri, zi = ri[box_in], zi[box_in]
    hit = shapely.contains(zg[zi], pg[rest[ri]])
    p, z = rest[ri[hit]], zi[hit]
    order = np.lexsort((z, p))
    p, z = p[order], z[order]
    first = np.ones(p.size, dtype=bool)
    first[1:] = p[1:] != p[:-1]
    zone[p[first]] = z[first]
    touched += np.bincount(p, minlength=n)
    inside = zone >= 0

    # the others: exact overlaps (of repaired geometries: an invalid one breaks the overlay)
    best = np.zeros(n)
    rest = np.flatnonzero(~inside & present)
    bad = ~shapely.is_valid(pg[rest])
    if bad.any():
        pg = pg.copy()
        pg[rest[bad]] = shapely.make_valid(pg[rest[bad]])
    pairs = intersection_areas(gpd.GeoSeries(pg[rest]), gpd.GeoSeries(zg))
    p = rest[pairs["left"].to_numpy()]
    z = pairs["right"].to_numpy()
    area = pairs["area"].to_numpy()
    order = np.lexsort((z, -area, p))  # largest area first, then the first zone
    p, z, area = p[order], z[order], area[order]
    first = np.ones(p.size, dtype=bool)
    first[1:] = p[1:] != p[:-1]
    zone[p[first]] = z[first]
    best[p[first]] = area[first]
    touched += np.bincount(p, minlength=n)

    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(inside, 1.0, np.where(zone >= 0, best / parea, 0.0))
    share[~inside & (parea <= 0)] = np.nan
    ids = lz.index.to_numpy(dtype=object)
    zone_id = np.full(n, None, dtype=object)
    zone_id[zone >= 0] = ids[zone[zone >= 0]]
    index = parcels.index.copy()
    if index.name is None:
        index.name = "parcel_id"
    result = pd.DataFrame({
        "zone_id": pd.Series(zone_id, index=index, dtype=object),
        "share": share,
        "split": (zone >= 0) & (share < split_share),
        "zones_touched": touched,
    }, index=index)
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
