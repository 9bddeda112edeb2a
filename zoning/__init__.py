"""zoning: plan school service zones (招生服务片区) and assign homes to schools in Chongqing.

The handful of names a notebook needs are here; everything else lives in its module
(:mod:`zoning.crs`, :mod:`zoning.unitcode`, :mod:`zoning.io`, :mod:`zoning.store`,
:mod:`zoning.zones`, :mod:`zoning.demo`, :mod:`zoning.maps`).
"""

from zoning.crs import from_working, to_working
from zoning.errors import (
    CRSError,
    InfeasibleError,
    UnitCodeError,
    ValidationError,
    ZoningError,
    ZoningWarning,
)
from zoning.io import read_layer, read_table, write_layer
from zoning.store import Dataset, GeoPackageStore, open_store
from zoning.unitcode import UnitCode, is_valid, parse
from zoning.zones import validate

__version__ = "0.1.0"

__all__ = [
    "CRSError",
    "Dataset",
    "GeoPackageStore",
    "InfeasibleError",
    "UnitCode",
    "UnitCodeError",
    "ValidationError",
    "ZoningError",
    "ZoningWarning",
    "from_working",
    "is_valid",
    "open_store",
    "parse",
    "read_layer",
    "read_table",
    "to_working",
    "validate",
    "write_layer",
]


def load_dataset(path) -> Dataset:
    """Read a district store (a GeoPackage path) into a :class:`Dataset`."""
    return open_store(path).load()


__all__ += ["load_dataset"]
