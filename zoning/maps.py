"""Folium maps of zones and schools: readable with no base map at all.

The machines this runs on often have no network, and a base map is a setting (DESIGN: ``none`` by
default). Zones, schools and labels carry the map on their own. With ``basemap="amap"`` the overlays
are shifted into GCJ-02 (Amap tiles are GCJ-02) by :func:`zoning.crs.to_web`.
"""

from __future__ import annotations

import os
from importlib import resources

import folium
import geopandas as gpd
import pandas as pd

from zoning.crs import to_web
from zoning.io import atomic_path
from zoning.zones import zone_schools

__all__ = ["BASEMAPS", "base_map", "lookup_map", "point_layer", "save_map", "zone_layer", "zones_map"]

BASEMAPS = {
    "none": None,
    "osm": "OpenStreetMap",
    "amap": "https://webrd02.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}",
}

_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
            "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8", "#ffbe7d")
_LEVEL_ZH = {"primary": "小学", "junior": "初中", "nine_year": "九年一贯制"}
_OWN_ZH = {"public": "公办", "private": "民办"}


def _colours(n: int) -> list[str]:
    return [_PALETTE[i % len(_PALETTE)] for i in range(n)]


def zones_map(
    zones: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    level: str = "primary",
    district: gpd.GeoDataFrame | None = None,
    basemap: str = "none",
    simplify: float = 10.0,
    assets: str | None = None,
) -> folium.Map:
    """Draw one level's zones coloured by zone, with their schools and the district outline.

    Parameters
    ----------
    zones, schools : geopandas.GeoDataFrame
        In the working CRS.
    level : {"primary", "junior"}
        Which zones to draw.
    district : geopandas.GeoDataFrame, optional
        Boundary outline.
    basemap : {"none", "osm", "amap"}
        Base tiles; ``none`` draws on a plain background.
    simplify : float
        Tolerance in metres for simplifying zone outlines before sending them to the browser.
    assets : str, optional
        URL folder holding ``leaflet.js`` and ``leaflet.css`` (the dashboard serves a vendored
        copy at ``/app/static/leaflet``, so maps work offline); default: folium's CDN.

    Returns
    -------
    folium.Map
    """
    lz = zones[zones["level"] == level].copy()
    lz["geometry"] = lz.geometry.simplify(simplify, preserve_topology=True)
    links = zone_schools(lz)
    names = schools["name"].to_dict()
    lz["schools"] = (links.assign(name=links["school_id"].map(names).fillna(links["school_id"]))
                     .groupby("zone_id")["name"].agg("、".join).reindex(lz.index).fillna("（无）"))
    lz["zone_id"] = lz.index
    lz["colour"] = _colours(len(lz))
    web = to_web(lz[["zone_id", "name", "schools", "colour", "geometry"]], basemap=basemap)
    fmap = base_map(web, basemap=basemap, assets=assets)
    if district is not None and len(district):
        folium.GeoJson(to_web(district[["geometry"]], basemap=basemap), name="区界",
                       style_function=lambda _: {"color": "#333", "weight": 2, "fill": False},
                       ).add_to(fmap)
    zone_layer(fmap, web, name=f"{_LEVEL_ZH.get(level, level)}片区",
               fields={"zone_id": "片区编号", "name": "片区", "schools": "对口学校"})
    serving = ("primary", "nine_year") if level == "primary" else ("junior", "nine_year")
    ls = schools[schools["level"].isin(serving)]
    sweb = to_web(ls[["name", "level", "ownership", "geometry"]], basemap=basemap)
    sweb["colour"] = ["#c0392b" if o == "private" else "#1f3b73" for o in sweb["ownership"]]
    sweb["tip"] = [f"{n}（{_OWN_ZH.get(o, o)}{_LEVEL_ZH.get(lv, lv)}，{sid}）"
                   for sid, n, o, lv in zip(ls.index, sweb["name"], sweb["ownership"], sweb["level"],
                                            strict=True)]
    point_layer(fmap, sweb, name="学校", colour="colour", tip="tip", radius=5)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def base_map(web: gpd.GeoDataFrame, *, basemap: str = "none",
             assets: str | None = None) -> folium.Map:
    """An empty map fitted to ``web`` (lon/lat), with the chosen tiles or a plain background.

    Parameters
    ----------
    web : geopandas.GeoDataFrame
        What the map will show, already in web coordinates (:func:`zoning.crs.to_web`).
    basemap : {"none", "osm", "amap"}
    assets : str, optional
        URL folder with ``leaflet.js`` and ``leaflet.css``; then only Leaflet itself is loaded
        (folium's jQuery/Bootstrap/awesome-markers are not used by these maps).
    """
    if basemap not in BASEMAPS:
        raise ValueError(f"basemap={basemap!r}: use one of {', '.join(BASEMAPS)}")
    minx, miny, maxx, maxy = web.total_bounds
    tiles = BASEMAPS[basemap]
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=10,
                      tiles=tiles, attr="高德地图" if basemap == "amap" else None,
                      control_scale=True, prefer_canvas=True)
    if assets is not None:
        fmap.default_js = [("leaflet", f"{assets}/leaflet.js")]
        fmap.default_css = [("leaflet_css", f"{assets}/leaflet.css")]
    # the layer switch as a word, not Leaflet's layers.png (not shipped: no images offline)
    css = (".leaflet-control-layers-toggle{background-image:none!important;width:auto!important;"
           "height:auto!important;padding:6px 10px;font-size:13px;color:#333}"
           ".leaflet-control-layers-toggle::after{content:'图层'}")
    if tiles is None:
        css += ".leaflet-container{background:#f4f1ea;}"
    fmap.get_root().html.add_child(folium.Element(f"<style>{css}</style>"))
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def zone_layer(fmap: folium.Map, web: gpd.GeoDataFrame, *, name: str, fields: dict,
               opacity: float = 0.45) -> folium.GeoJson:
    """Add zones filled with their ``colour`` column, a hover highlight and a Chinese tooltip.

    ``fields`` maps the columns shown in the tooltip to their Chinese labels.
    """
    layer = folium.GeoJson(
        web, name=name,
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#555",
                                  "weight": 1, "fillOpacity": opacity},
        highlight_function=lambda _: {"weight": 3, "fillOpacity": min(1.0, opacity + 0.25)},
        tooltip=folium.GeoJsonTooltip(list(fields), aliases=list(fields.values())),
    )
    layer.add_to(fmap)
    return layer


def lookup_map(result, dataset, *, basemap: str = "none", assets: str | None = None,
               simplify: float = 5.0) -> folium.Map:
    """Map of one lookup answer: the home, its zone per level outlined, and the 对口 schools.

    Parameters
    ----------
    result : zoning.lookup.LookupResult
        A found answer (``x``/``y`` in the working CRS).
    dataset : zoning.store.Dataset
        The district the answer came from.
    basemap, assets
        As :func:`zones_map`.
    """
    if not result.found or result.x is None:
        raise ValueError("lookup_map needs a found answer with a location")
    from shapely.geometry import Point

    crs = dataset.zones.crs
    styles = {"primary": ("#1f77b4", None), "junior": ("#d95f02", "8 6")}
    rows, school_rows = [], []
    for level, ans in result.levels.items():
        if ans.zone_id is None or ans.zone_id not in dataset.zones.index:
            continue
        rows.append({"level": level, "name": ans.zone_name or ans.zone_id,
                     "geometry": dataset.zones.geometry.loc[ans.zone_id].simplify(simplify)})
        for s in ans.schools:
            if s.school_id in dataset.schools.index:
                school_rows.append({"level": level, "name": s.name,
                                    "distance": "" if s.distance_m is None else f"{s.distance_m:,.0f} 米",
                                    "geometry": dataset.schools.geometry.loc[s.school_id]})
    home = gpd.GeoDataFrame({"name": ["查询位置"]}, geometry=[Point(result.x, result.y)], crs=crs)
    zones = gpd.GeoDataFrame(rows, columns=["level", "name", "geometry"], geometry="geometry", crs=crs)
    frame = pd.concat([zones[["geometry"]], home[["geometry"]]]) if len(zones) else home
    fmap = base_map(to_web(gpd.GeoDataFrame(frame, crs=crs), basemap=basemap), basemap=basemap,
                    assets=assets)
    for row in to_web(zones, basemap=basemap).itertuples():
        colour, dash = styles[row.level]
        folium.GeoJson(
            row.geometry.__geo_interface__, name=f"{_LEVEL_ZH[row.level]}片区",
            style_function=lambda _, c=colour, d=dash: {"color": c, "weight": 3, "dashArray": d,
                                                        "fillColor": c, "fillOpacity": 0.08},
            tooltip=f"{_LEVEL_ZH[row.level]}：{row.name}",
        ).add_to(fmap)
    if school_rows:
        sweb = to_web(gpd.GeoDataFrame(school_rows, crs=crs), basemap=basemap)
        for row in sweb.itertuples():
            folium.CircleMarker(
                [row.geometry.y, row.geometry.x], radius=8, color="white", weight=2, fill=True,
                fill_color=styles[row.level][0], fill_opacity=1.0,
                tooltip=f"对口{_LEVEL_ZH[row.level]}：{row.name}（直线距离 {row.distance}）",
            ).add_to(fmap)
    h = to_web(home, basemap=basemap).geometry.iloc[0]
    folium.CircleMarker([h.y, h.x], radius=7, color="#111", weight=3, fill=True,
                        fill_color="#ffd400", fill_opacity=1.0, tooltip="查询位置").add_to(fmap)
    return fmap


def point_layer(fmap: folium.Map, web: gpd.GeoDataFrame, *, name: str, colour: str, tip: str,
                radius: float = 6.0) -> folium.GeoJson:
    """Add points as circle markers in one layer (one element, not one per point).

    A folium element per marker compiles its own template: a hundred schools cost a fifth of a
    second every time a dashboard page draws its map. Here they are one GeoJSON layer.

    Parameters
    ----------
    web : geopandas.GeoDataFrame
        Points in web coordinates (:func:`zoning.crs.to_web`).
    colour, tip : str
        Columns holding each point's fill colour and its tooltip text.
    """
    data = web[[colour, tip, "geometry"]].rename(columns={colour: "colour", tip: "tip"})
    layer = folium.GeoJson(
        data, name=name,
        marker=folium.CircleMarker(radius=radius, color="white", weight=1.5, fill=True,
                                   fill_opacity=1.0),
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "white",
                                  "weight": 1.5, "fillOpacity": 1.0},
        tooltip=folium.GeoJsonTooltip(["tip"], labels=False),
    )
    layer.add_to(fmap)
    return layer


def save_map(fmap: folium.Map, path: str | os.PathLike) -> None:
    """Write ``fmap`` as one self-contained HTML file, atomically.

    Leaflet (1.9.4, vendored in ``zoning/data/leaflet``) is inlined, so the file opens on a
    machine with no network, as a bureau's intranet often is; base tiles, if any, still need it.
    """
    lib = resources.files("zoning").joinpath("data/leaflet")
    js = lib.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = lib.joinpath("leaflet.css").read_text(encoding="utf-8")
    fmap.default_js, fmap.default_css = [], []
    header = fmap.get_root().header
    header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    # "</script>" cannot occur inside an inline script; Leaflet's source has none
    header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js_inline")
    with atomic_path(path) as tmp:
        fmap.save(str(tmp))

