"""Zone-layer validation: every problem found, reported together.

Checks (each problem is one row of the report, with layer, id, kind, severity, area, location,
message and fix):

- ``invalid_geometry`` — a zone or parcel whose geometry is not valid (self-intersection …);
  ``empty_geometry`` — one with no geometry at all; ``not_polygon`` — a zone that is not an area.
  Invalid geometries are repaired (``shapely.make_valid``) for the checks below, so one broken
  zone does not hide the other problems.
- ``bad_level`` / ``unknown_school`` / ``no_school`` / ``level_mismatch`` — a zone's attributes.
- ``overlap`` — two zones of the same level share area. Overlaps up to ``settings.sliver_area`` m²
  are digitising noise and reported as warnings (``sliver_overlap``); up to
  ``settings.noise_area`` (0.01 m²) they are floating-point noise and not reported.
- ``non_contiguous_zone`` (warning) — a zone in several separate parts of at least 100 m² each
  (an exclave, 飞地, may be intended; a plan should not create one by accident).
- ``gap`` — part of the district boundary no zone of a level covers (warnings below the sliver area).
- ``unzoned_parcel`` — a parcel that touches no zone of a level; ``split_parcel`` — a parcel whose
  largest overlap with one zone is below ``settings.split_share`` of its area.
- ``school_outside_zone`` (warning) — a school point outside every zone that names it.
- ``duplicate_school`` — a zone names the same school twice; ``duplicate_id`` — two rows of a
  layer share an id.

All area computations happen in the working (metre) CRS, ``settings.working_crs``: layers in
another CRS are reprojected first. Pairwise tests go through a
``shapely.STRtree`` so a district of tens of thousands of parcels is checked in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zoning.errors import ValidationError
from zoning.settings import DEFAULT, LEVELS, Settings

__all__ = [
    "ValidationReport",
    "intersection_areas",
    "school_level_serves",
    "validate",
    "voronoi_cells",
    "zone_schools",
]

_COLUMNS = ["layer", "id", "kind", "severity", "level", "area", "x", "y", "message", "fix"]

#: Which zone levels a school of each ``level`` may serve.
_SERVES = {"primary": ("primary",), "junior": ("junior",), "nine_year": ("primary", "junior")}


def school_level_serves(level: str) -> tuple[str, ...]:
    """Zone levels a school of ``level`` serves (a 九年一贯制 ``nine_year`` school serves both)."""
    return _SERVES.get(str(level), ())


def voronoi_cells(points: np.ndarray, region) -> np.ndarray:
    """Voronoi cells of ``points`` (shapely points) clipped to ``region``, in input order.

    The demo's zones, and most drawn zones, are unions of such cells around their parcels, so a
    parcel handed to a neighbouring zone takes its cell with it and the zones stay in one piece.
    Points sharing a location (within 1 mm) share its cell: the first gets it, the others an
    empty polygon.
    """
    n = len(points)
    if n == 1:
        return np.array([region], dtype=object)
    xy = shapely.get_coordinates(points)
    _, first = np.unique(np.round(xy, 3), axis=0, return_index=True)
    out = np.full(n, shapely.Polygon(), dtype=object)
    if len(first) == 1:
        out[first[0]] = region
        return out
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(xy[first]), extend_to=region, ordered=True))
    shapely.prepare(region)
    inside = shapely.contains(region, cells)
    clipped = cells.copy()
    clipped[~inside] = shapely.intersection(cells[~inside], region)
    out[first] = clipped
    return out


def zone_schools(zones: pd.DataFrame) -> pd.DataFrame:
    """One row per (zone, school): ``school_ids`` may list several schools (多校划片).

    ``school_ids`` separates ids with ``;`` (``；``, ``,``, ``，`` and ``、`` are accepted too).

    Returns
    -------
    pandas.DataFrame
        Columns ``zone_id`` (the values of ``zones.index``, of whatever type), ``school_id``,
        ``level``, in zone order.

    Examples
    --------
    >>> z = pd.DataFrame({"level": ["primary"], "school_ids": ["S1、S2"]},
    ...                  index=pd.Index(["Z1"], name="zone_id"))
    >>> zone_schools(z)
      zone_id school_id    level
    0      Z1        S1  primary
    1      Z1        S2  primary
    """
    return _links(zones).drop(columns="pos")


def _links(zones: pd.DataFrame) -> pd.DataFrame:
    """:func:`zone_schools` plus ``pos``, the zone's row position (ids may repeat or be any type)."""
    ids = zones["school_ids"].astype(object).where(zones["school_ids"].notna(), "").astype(str)
    ids = pd.Series(ids.to_numpy(), index=np.arange(len(zones)))
    long = ids.str.replace(r"[；,，、]", ";", regex=True).str.split(";").explode().str.strip()
    long = long[long.notna() & (long != "")]
    pos = long.index.to_numpy().astype(np.intp)
    return pd.DataFrame({
        "zone_id": zones.index[pos], "school_id": long.to_numpy().astype(object),
        "level": zones["level"].to_numpy()[pos], "pos": pos,
    })


def intersection_areas(left: gpd.GeoSeries, right: gpd.GeoSeries) -> pd.DataFrame:
    """Exact areas of every intersecting (left, right) pair, through an STRtree.

    Returns
    -------
    pandas.DataFrame
        Columns ``left``, ``right`` (positions) and ``area`` (m² in the working CRS), pairs with
        positive area only.
    """
    tree = shapely.STRtree(right.values)
    li, ri = tree.query(left.values, predicate="intersects")
    if li.size == 0:
        return pd.DataFrame({"left": li, "right": ri, "area": np.zeros(0)})
    inter = shapely.intersection(left.values[li], right.values[ri])
    area = shapely.area(inter)
    keep = area > 0
    return pd.DataFrame({"left": li[keep], "right": ri[keep], "area": area[keep]})


@dataclass(frozen=True)
class ValidationReport:
    """The problems found by :func:`validate`.

    Attributes
    ----------
    problems : pandas.DataFrame
        One row per problem: layer, id, kind, severity ("error"/"warning"), level, area (m²),
        x, y (a location in the working CRS), message, fix.
    """

    problems: pd.DataFrame

    @property
    def errors(self) -> pd.DataFrame:
        """Only the errors."""
        return self.problems[self.problems["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        """Only the warnings."""
        return self.problems[self.problems["severity"] == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return len(self.errors) == 0

    def raise_if_errors(self) -> None:
        """Raise :class:`ValidationError` listing every error, if there is any."""
        if not self.ok:
            lines = [f"{r.layer} {r.id}: {r.message}; {r.fix}" for r in self.errors.itertuples()]
            shown = "\n  ".join(lines[:20]) + (f"\n  … and {len(lines) - 20} more"
                                                if len(lines) > 20 else "")
            raise ValidationError(f"{len(lines)} validation error(s):\n  {shown}",
                                  problems=_records(self.errors))

    def to_records(self) -> list[dict]:
        """JSON-ready list of problems (missing values are None, never NaN)."""
        return _records(self.problems)


def _records(df: pd.DataFrame) -> list[dict]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


class _Collector:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, layer, id_, kind, severity, message, fix, *, level=None, area=None, where=None):
        x = y = None
        p = _location(where)
        if p is not None:
            x, y = round(float(p.x), 2), round(float(p.y), 2)
        self.rows.append({
            "layer": layer, "id": str(id_), "kind": kind, "severity": severity, "level": level,
            "area": None if area is None else round(float(area), 2), "x": x, "y": y,
            "message": message, "fix": fix,
        })

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=_COLUMNS)


def _location(geom) -> shapely.Point | None:
    """A point on ``geom`` for the report, or None when it has none."""
    if geom is None or shapely.is_empty(geom):
        return None
    # a bow-tie has zero area and no interior point of its own: locate it by its repaired form
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    p = shapely.point_on_surface(geom)
    return None if shapely.is_empty(p) else p


def validate(
    zones: gpd.GeoDataFrame,
    *,
    schools: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    district: gpd.GeoDataFrame | None = None,
    settings: Settings = DEFAULT,
) -> ValidationReport:
    """Validate a zone layer against schools, parcels and the district boundary.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Indexed by ``zone_id``, with ``level`` and ``school_ids``.
    schools, parcels, district : geopandas.GeoDataFrame, optional
        When given, the checks that need them run. Schools need ``level`` and ``ownership``;
        the district may also be a GeoSeries or a single shapely geometry (its parts are
        dissolved).
    settings : Settings
        Working CRS, sliver area and split share.

    Returns
    -------
    ValidationReport
        Every problem found; ``report.ok`` is False when any is an error. Locations are in
        ``settings.working_crs``.

    Raises
    ------
    ValidationError
        A layer lacks a column the checks need (nothing can be checked without it).

    Notes
    -----
    Layers in another CRS are reprojected to ``settings.working_crs`` before any area or distance
    is taken; a layer without a CRS is taken to be in the zones' CRS, and zones without one in
    the working CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> z = gpd.GeoDataFrame({"level": ["primary", "primary"], "school_ids": ["S1", "S2"]},
    ...     geometry=[shapely.box(0, 0, 2, 2), shapely.box(1, 0, 3, 2)], crs="EPSG:4545",
    ...     index=pd.Index(["Z1", "Z2"], name="zone_id"))
    >>> validate(z).problems["kind"].tolist()
    ['overlap']
    """
    _require(zones, ("level", "school_ids"), "zones")
    if schools is not None:
        _require(schools, ("level", "ownership"), "schools")
    if isinstance(district, shapely.Geometry):
        district = gpd.GeoSeries([district])
    base = zones.crs if zones.crs is not None else settings.working_crs
    zones, schools, parcels, district = (
        None if layer is None else _to_working(layer, base, settings)
        for layer in (zones, schools, parcels, district))

    out = _Collector()
    layers = [("zones", zones)] + ([("parcels", parcels)] if parcels is not None else [])
    if schools is not None:
        layers.append(("schools", schools))
    for name, layer in layers:
        _check_ids(out, name, layer)
    for name, layer in layers[:2]:
        _check_geometries(out, name, layer)
    if schools is not None:
        schools = schools[~schools.index.duplicated()]
    _check_zone_attributes(out, zones, schools)
    zgeom = _usable(zones.geometry)
    for level in LEVELS:
        mask = (zones["level"] == level).to_numpy()
        if not mask.any():
            continue
        lz = zgeom[mask]
        _check_parts(out, lz, level)
        _check_overlaps(out, lz, level, settings)
        if district is not None and len(district):
            _check_gaps(out, lz, district, level, settings)
        if parcels is not None and len(parcels):
            _check_parcels(out, lz, parcels, level, settings)
    if schools is not None:
        _check_school_locations(out, zones, schools)
    return ValidationReport(out.frame())


def _require(gdf, columns, layer: str) -> None:
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise ValidationError(
            f"layer {layer!r} has no column {', '.join(map(repr, missing))} (found: "
            f"{', '.join(map(str, gdf.columns))}); add it, or read the layer with "
            "zoning.io.read_layer, which maps Chinese column names")


def _to_working(gdf, base, settings: Settings):
    """``gdf`` in the working CRS; a layer without a CRS is taken to be in ``base``."""
    if gdf.crs is None:
        gdf = gdf.set_crs(base)
    if gdf.crs != settings.working_crs:
        gdf = gdf.to_crs(settings.working_crs)
    return gdf


def _check_ids(out: _Collector, layer: str, gdf) -> None:
    for id_ in gdf.index[gdf.index.duplicated()].unique():
        out.add(layer, id_, "duplicate_id", "error",
                f"id is used by {int((gdf.index == id_).sum())} rows",
                "give every row its own id")


def _usable(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Repair invalid geometries for the pairwise checks (they are reported separately)."""
    bad = ~geoms.is_valid.to_numpy()
    if not bad.any():
        return geoms
    fixed = geoms.copy()
    fixed[bad] = shapely.make_valid(geoms.values[bad])
    return fixed


def _check_geometries(out: _Collector, layer: str, gdf: gpd.GeoDataFrame) -> None:
    geoms = gdf.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for pos in np.flatnonzero(missing):
        out.add(layer, gdf.index[pos], "empty_geometry", "error", "has no geometry",
                "draw it, or remove the row")
    valid = shapely.is_valid(geoms) | missing
    for pos in np.flatnonzero(~valid):
        reason = shapely.is_valid_reason(geoms[pos])
        out.add(layer, gdf.index[pos], "invalid_geometry", "error",
                f"geometry is not valid ({reason})",
                "redraw the boundary so it does not cross itself, or repair it with "
                "shapely.make_valid / QGIS 'Fix geometries'",
                where=geoms[pos])
    if layer == "zones":
        nonpoly = ~missing & ~np.isin(shapely.get_type_id(geoms), (3, 6))
        for pos in np.flatnonzero(nonpoly):
            out.add(layer, gdf.index[pos], "not_polygon", "error",
                    f"geometry is a {geoms[pos].geom_type}, a zone must be an area",
                    "draw the zone as a polygon")


def _check_zone_attributes(out: _Collector, zones, schools) -> None:
    level = zones["level"].to_numpy()
    good_level = zones["level"].isin(LEVELS).to_numpy()
    for pos in np.flatnonzero(~good_level):
        out.add("zones", zones.index[pos], "bad_level", "error",
                f"level is {level[pos]!r}, expected one of {', '.join(LEVELS)}",
                "set level to primary (小学) or junior (初中)")
    links = _links(zones)
    for pos in np.setdiff1d(np.arange(len(zones)), links["pos"]):
        out.add("zones", zones.index[pos], "no_school", "error", "zone names no school",
                "fill school_ids with the 对口 school(s); separate several with ';'",
                level=_level(level[pos]))
    for (pos, sid), n in links.groupby(["pos", "school_id"]).size().items():
        if n > 1:
            out.add("zones", zones.index[pos], "duplicate_school", "error",
                    f"names school {sid} {n} times", "list each school once in school_ids",
                    level=_level(level[pos]))
    if schools is None:
        return
    known = links["school_id"].isin(schools.index)
    for r in links[~known].itertuples():
        out.add("zones", r.zone_id, "unknown_school", "error",
                f"names school {r.school_id}, which is not in the schools layer",
                "correct the school id or add the school", level=r.level)
    ok = links[known]
    slevel = schools.loc[ok["school_id"], "level"].to_numpy()
    own = schools.loc[ok["school_id"], "ownership"].to_numpy()
    for r, sl, ow in zip(ok.itertuples(), slevel, own, strict=True):
        if good_level[r.pos] and r.level not in school_level_serves(sl):
            out.add("zones", r.zone_id, "level_mismatch", "error",
                    f"is a {r.level} zone but school {r.school_id} is a {sl} school",
                    "attach the zone to a school of its level", level=r.level)
        if ow != "public":
            out.add("zones", r.zone_id, "private_school_zoned", "error",
                    f"names school {r.school_id}, which is {ow}: only public schools have "
                    "service zones (seeds 000 三(一)、三(二))",
                    "remove the private school; its 招生范围 is set by the district", level=r.level)


def _level(value) -> str | None:
    return None if pd.isna(value) else str(value)


#: Parts of a zone smaller than this (m²) are slivers, not a separate piece of the zone.
_MIN_PART_AREA = 100.0


def _check_parts(out: _Collector, lz: gpd.GeoSeries, level: str) -> None:
    parts = shapely.get_parts(lz.to_numpy(), return_index=True)
    area = shapely.area(parts[0])
    big = area >= _MIN_PART_AREA
    counts = np.bincount(parts[1][big], minlength=len(lz))
    for i in np.flatnonzero(counts > 1):
        mine = big & (parts[1] == i)
        order = np.argsort(area[mine])[::-1]
        sizes, pieces = area[mine][order], parts[0][mine][order]
        out.add("zones", lz.index[i], "non_contiguous_zone", "warning",
                f"zone is in {counts[i]} separate parts ({sizes[0]:,.0f} m², then "
                f"{', '.join(f'{a:,.0f}' for a in sizes[1:4])} m²)",
                "join the parts (move the detached parcels to a neighbouring zone), or keep the "
                "exclave (飞地) if it is intended", level=level, area=float(sizes[1:].sum()),
                where=shapely.point_on_surface(pieces[-1]))


def _check_overlaps(out: _Collector, lz: gpd.GeoSeries, level: str, settings: Settings) -> None:
    pairs = intersection_areas(lz, lz)
    pairs = pairs[(pairs["left"] < pairs["right"]) & (pairs["area"] > settings.noise_area)]
    for r in pairs.itertuples():
        a, b = lz.index[r.left], lz.index[r.right]
        sliver = r.area <= settings.sliver_area
        where = shapely.intersection(lz.values[r.left], lz.values[r.right])
        out.add("zones", a, "sliver_overlap" if sliver else "overlap",
                "warning" if sliver else "error",
                f"overlaps {level} zone {b} by {r.area:,.1f} m²",
                f"move the shared boundary so the area belongs to {a} or {b} only",
                level=level, area=r.area, where=where)


def _check_gaps(out, lz, district, level, settings) -> None:
    boundary = shapely.union_all(_usable(gpd.GeoSeries(district.geometry)).values)
    covered = shapely.union_all(lz.values, grid_size=None)
    gaps = shapely.difference(boundary, covered)
    parts = shapely.get_parts(gaps)
    parts = parts[shapely.area(parts) > settings.noise_area]
    for i, part in enumerate(parts):
        area = shapely.area(part)
        sliver = area <= settings.sliver_area
        out.add("zones", f"gap-{level}-{i + 1}", "sliver_gap" if sliver else "gap",
                "warning" if sliver else "error",
                f"{area:,.1f} m² of the district is in no {level} zone",
                "extend a neighbouring zone over the gap (or add a zone for it)",
                level=level, area=area, where=part)


def _check_parcels(out, lz, parcels, level, settings) -> None:
    pgeom = _usable(parcels.geometry)
    pairs = intersection_areas(pgeom, lz)
    parea = shapely.area(pgeom.values)
    best = pairs.sort_values(["left", "area", "right"], ascending=[True, False, True])
    best = best.drop_duplicates("left")
    share = np.zeros(len(parcels))
    share[best["left"].to_numpy()] = best["area"].to_numpy() / np.maximum(
        parea[best["left"].to_numpy()], 1e-12)
    zone_of = np.full(len(parcels), -1)
    zone_of[best["left"].to_numpy()] = best["right"].to_numpy()
    # a parcel without a geometry is reported once, as empty_geometry
    present = ~(shapely.is_missing(pgeom.values) | shapely.is_empty(pgeom.values))
    unzoned = np.flatnonzero((zone_of < 0) & present)
    if unzoned.size:
        # query_nearest answers (input, tree) index pairs and leaves out inputs it cannot
        # measure (empty repaired geometries): map the answers back by input index
        (qi, ti), d = shapely.STRtree(lz.values).query_nearest(
            pgeom.values[unzoned], return_distance=True, all_matches=False)
        near = np.full(unzoned.size, -1)
        near[qi] = ti
        dist = np.full(unzoned.size, np.nan)
        dist[qi] = d
        for k, pos in enumerate(unzoned):
            nearest = (f"nearest: {lz.index[near[k]]}, {dist[k]:,.0f} m" if near[k] >= 0
                       else f"no {level} zone has a geometry")
            out.add("parcels", parcels.index[pos], "unzoned_parcel", "error",
                    f"not inside any {level} zone ({nearest})",
                    "extend the zone layer over the parcel", level=level,
                    where=pgeom.values[pos])
    split = np.flatnonzero((zone_of >= 0) & (share < settings.split_share))
    if split.size:
        by_parcel = pairs[pairs["left"].isin(split)].groupby("left")
        for pos, grp in by_parcel:
            parts = ", ".join(
                f"{lz.index[r]} {a / parea[pos]:.0%}" for r, a in zip(grp["right"], grp["area"],
                                                                      strict=True))
            out.add("parcels", parcels.index[pos], "split_parcel", "error",
                    f"is split between {level} zones ({parts})",
                    "move the zone boundary to the parcel's edge so it lies in one zone",
                    level=level, area=float(parea[pos]), where=pgeom.values[pos])


def _check_school_locations(out, zones, schools) -> None:
    links = _links(zones)
    links = links[links["school_id"].isin(schools.index)]
    if links.empty:
        return
    pts = schools.geometry.loc[links["school_id"]].values
    polys = _usable(zones.geometry).values[links["pos"].to_numpy()]
    inside = pd.Series(shapely.covers(polys, pts), index=links.index)
    any_inside = inside.groupby([links["school_id"], links["level"]]).any()
    for (sid, level), ok in any_inside.items():
        if not ok:
            zids = links.loc[(links["school_id"] == sid) & (links["level"] == level), "zone_id"]
            out.add("schools", sid, "school_outside_zone", "warning",
                    f"lies outside its own {level} zone(s) {', '.join(map(str, zids))}",
                    "check the school's location, or accept it (some schools sit just outside "
                    "the area they serve)", level=level, where=schools.geometry.loc[sid])
