"""Settings in one place: frozen, passed explicitly, never changed at run time."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT", "LEVELS", "WORKING_CRS", "Settings"]

#: The default working CRS: CGCS2000 / 3-degree Gauss-Kruger CM 108E (whole of Chongqing).
WORKING_CRS = "EPSG:4545"

#: Zone levels. A zone belongs to exactly one.
LEVELS = ("primary", "junior")


@dataclass(frozen=True)
class Settings:
    """Numbers a district may tune.

    Attributes
    ----------
    working_crs : str
        Projected metre CRS in which areas, distances and overlaps are computed.
    noise_area : float
        Overlaps and gaps up to this (m²) are floating-point noise from unions and intersections
        (sub-millimetre slivers) and are not reported at all.
    sliver_area : float
        Overlaps and gaps up to this (m²) are reported as warnings, not errors: digitising noise
        rather than a planning problem.
    split_share : float
        A parcel whose largest overlap with one zone is below this share of its area is "split".
    """

    working_crs: str = WORKING_CRS
    noise_area: float = 0.01
    sliver_area: float = 1.0
    split_share: float = 0.95


DEFAULT = Settings()
