"""Zones as the text list a district publishes (划片范围): roads with number ranges, 村 and 组.

Districts publish each spring, per school, the roads (whole, or 单号/双号 number ranges), the 社区/村
and 组 it serves (seeds 000 五(一), 五(三): the 招生范围 is published in advance). This module writes
that list from the zone geometry and the address table, so that the published text and the map
say the same thing, and so that :mod:`zoning.address` can read it back as rules to cross-check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zoning.assign import Locator
from zoning.store import Dataset
from zoning.zones import zone_schools

__all__ = ["zone_clauses", "zone_text_list"]


def _runs(numbers: np.ndarray, zones: np.ndarray):
    """Consecutive runs of equal zone along sorted numbers: (zone, lo, hi)."""
    order = np.argsort(numbers, kind="stable")
    n, z = numbers[order], zones[order]
    starts = np.r_[0, np.flatnonzero(z[1:] != z[:-1]) + 1]
    ends = np.r_[starts[1:], n.size]
    return [(z[s], int(n[s]), int(n[e - 1])) for s, e in zip(starts, ends, strict=True)]


def zone_clauses(dataset: Dataset, *, level: str) -> pd.DataFrame:
    """Published clauses per zone, derived from where the addresses lie.

    Roads served whole by one zone are listed whole; a road split between zones is listed as
    单号/双号 number ranges along it (door numbers rise along each side of a road). Village
    addresses are listed by 村 when the whole 村 is in one zone, else by 组.

    Parameters
    ----------
    dataset : Dataset
        The district; ``addresses`` needs ``road``, ``road_no`` and, for villages, ``community``
        and ``village_no`` with the 组 in the text.
    level : {"primary", "junior"}
        Which zones.

    Returns
    -------
    pandas.DataFrame
        Columns ``zone_id``, ``clause`` (Chinese text), ``kind`` (``road``, ``road_range``,
        ``village``, ``group``), in zone order.
    """
    loc = Locator.from_zones(dataset.zones, level=level)
    a = dataset.addresses
    zone = loc.locate(a.geometry.x.to_numpy(), a.geometry.y.to_numpy())
    frame = pd.DataFrame({"zone": zone, "road": a["road"].fillna("").to_numpy(),
                          "no": pd.to_numeric(a["road_no"], errors="coerce").fillna(0)
                          .astype(int).to_numpy(),
                          "community": a["community"].to_numpy(),
                          "group": a["address"].str.extract(r"(\d+)组")[0].to_numpy()},
                         index=a.index)
    frame = frame[frame["zone"].notna()]
    rows = []
    roads = frame[(frame["road"] != "") & (frame["no"] > 0)]
    for road, grp in roads.groupby("road", sort=True):
        if grp["zone"].nunique() == 1:
            rows.append((grp["zone"].iat[0], road, "road"))
            continue
        per_zone: dict[str, list[str]] = {}
        for parity, name in ((1, "单号"), (0, "双号")):
            side = grp[grp["no"] % 2 == parity]
            if side.empty:
                continue
            for z, lo, hi in _runs(side["no"].to_numpy(), side["zone"].to_numpy()):
                span = f"{lo}号" if lo == hi else f"{lo}-{hi}号"
                per_zone.setdefault(z, []).append(f"{span}{name}")
        for z, parts in per_zone.items():
            rows.append((z, f"{road}（{'、'.join(parts)}）", "road_range"))
    villages = frame[(frame["road"] == "") & frame["group"].notna()]
    for village, grp in villages.groupby("community", sort=True):
        if grp["zone"].nunique() == 1:
            rows.append((grp["zone"].iat[0], village, "village"))
            continue
        for (z, g), _ in grp.groupby(["zone", "group"], sort=True):
            rows.append((z, f"{village}{g}组", "group"))
    out = pd.DataFrame(rows, columns=["zone_id", "clause", "kind"])
    order = pd.Index(loc.zone_ids)
    out["_pos"] = order.get_indexer(out["zone_id"])
    return out.sort_values(["_pos", "kind", "clause"], kind="stable").drop(columns="_pos")\
        .reset_index(drop=True)


def zone_text_list(dataset: Dataset, *, level: str) -> str:
    """The published list, one school per line: ``学校名: 条目、条目…``.

    A 多校划片 zone is listed under each of its schools. The format is the one
    :func:`zoning.address.parse_rule_list` reads.
    """
    clauses = zone_clauses(dataset, level=level)
    links = zone_schools(dataset.zones[dataset.zones["level"] == level])
    names = dataset.schools["name"]
    lines = []
    for zid, grp in clauses.groupby("zone_id", sort=False):
        text = "、".join(grp["clause"])
        for sid in links.loc[links["zone_id"] == zid, "school_id"]:
            lines.append(f"{names.get(sid, sid)}: {text}")
    return "\n".join(lines)
