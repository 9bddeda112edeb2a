"""HTTP lookup service: which school serves an address, a 不动产单元号 or a point (FastAPI).

Endpoints (the OpenAPI schema is at ``/openapi.json``, the interactive docs at ``/docs``):

- ``GET /lookup?address=…`` | ``?parcel=…`` | ``?lon=…&lat=…&coords=wgs84|gcj02|bd09|cgcs2000``
  — exactly one query; the answer of :meth:`zoning.lookup.Resolver.lookup` as JSON.
- ``GET /schools/{school_id}`` — one school: where it is, the zones it serves, its 学位预警.
- ``GET /warnings?level=primary|junior&year=…`` — the 学位预警 of every school (seeds 000 五(一):
  招生预警 is published so that parents can set their expectations).
- ``GET /health`` — liveness, the data's size and the lookup cache's counters.

Status codes, chosen so that a client can tell "your question is malformed" from "here is the
answer, and it is: not found":

- **200 with** ``found: false`` for a well-formed query that cannot be placed — an address not in
  the district's table (with near ``candidates``), a valid 不动产单元号 of a parcel this district does
  not hold, a point outside every zone. That is an answer a parent can act on (pick a candidate,
  check the district), not a fault of the request.
- **422** for a malformed request: not exactly one of ``address`` / ``parcel`` / ``lon``+``lat``,
  a longitude or latitude out of range, an unknown ``coords`` datum, a 不动产单元号 that breaks GB/T
  37346-2019 (with the unit-code check's Chinese message and the position of the first bad
  character), a ``year`` with no 学位预警 to give.
- **404** for an unknown ``school_id`` (a resource that does not exist).

Every error body is :class:`ErrorOut`: a machine ``error`` code, an English ``message`` and the
Chinese ``message_zh`` to show a parent.

Personal data: a query (an address, a 不动产单元号, a home's position) is personal data and never
reaches a log. ``zoning serve`` runs uvicorn without its access log; when one is wanted, the
filter installed here strips the query string and the client address from every access-log line.
Unexpected errors are logged with their type and stack frames but without their message, which
could quote the query.

Speed: the dataset and the :class:`~zoning.lookup.Resolver` (locators, address index, parcel
assignment, 学位预警) are built once per worker at start-up, before the first request is
accepted. A lookup is about a millisecond of CPU work, so it runs on the event loop itself (no
thread hand-off, no lock contention) and each worker process uses one core; ``--workers`` adds
cores. Answers are kept, already serialised, in a small LRU cache keyed by the query.
"""

from __future__ import annotations

import copy
import functools
import gc
import json
import logging
import math
import os
import time
import traceback
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from zoning.errors import UnitCodeError, ValidationError

__all__ = ["DATA_ENV", "create_app", "app_from_env", "serve"]

log = logging.getLogger("zoning.api")

#: Environment variables through which ``zoning serve`` hands its options to each uvicorn worker.
DATA_ENV = "ZONING_API_DATA"
CACHE_ENV = "ZONING_API_CACHE"

#: Answers kept per worker; ~3 KB each, so the default holds about 12 MB.
DEFAULT_CACHE = 4096

_MAX_ADDRESS = 120  # characters: real addresses are under 60; garbage costs ~0.1 ms a character
_MAX_CODE = 64  # a 28-character 不动产单元号 with spaces or dashes between its parts
_LEVEL_ZH = {"primary": "小学", "junior": "初中"}
_SOURCE_ZH = {"applicants": "已报名人数", "enrolment": "实际入学人数", "forecast": "预测"}
_JSON = "application/json"
_NO_STORE = {"Cache-Control": "no-store"}  # answers about a home: no shared cache keeps them


# ------------------------------------------------------------------------------------ models
class ErrorOut(BaseModel):
    """Body of every 4xx/5xx response."""

    error: str = Field(description="machine code: invalid_query, invalid_unit_code, "
                                   "unknown_school, no_warnings, not_found, internal")
    message: str = Field(description="English, for developers")
    message_zh: str = Field(description="中文说明，可直接展示给家长")
    position: int | None = Field(None, description="1-based position of the first bad character "
                                                   "of a 不动产单元号")
    detail: list[dict[str, Any]] | None = Field(None, description="the parameters at fault")


class SchoolOut(BaseModel):
    """One 对口 school in a lookup answer."""

    school_id: str
    name: str
    level: str = Field(description="primary, junior or nine_year (九年一贯制)")
    distance_m: float | None = Field(description="straight-line distance from the home, metres")
    warning: str | None = Field(description="学位预警 of the coming intake: green, yellow, red or "
                                            "none; null when the data cannot support one")
    warning_zh: str | None


class LevelOut(BaseModel):
    """The answer for one level (primary or junior)."""

    level: Literal["primary", "junior"]
    zone_id: str | None
    zone_name: str | None
    schools: list[SchoolOut]
    method: str | None = Field(description="parcel, address_point or point: how it was decided")
    share: float | None = Field(description="share of the parcel inside the zone (method parcel)")
    on_boundary: bool
    rules_agree: bool | None = Field(description="whether published 划片 text agrees (null: "
                                                 "not checked)")
    explanation_zh: str


class CandidateOut(BaseModel):
    """A near match of an address that could not be placed on its own."""

    model_config = ConfigDict(extra="allow")

    address_id: str | None
    address: str
    score: float | None
    parcel_id: str | None


class LookupOut(BaseModel):
    """What ``GET /lookup`` found; ``found`` is false with a reason when it could not place it."""

    query: str
    kind: Literal["address", "parcel", "point"]
    found: bool
    reason: str
    reason_zh: str
    x: float | None = Field(description="easting in the working CRS (EPSG:4545), metres")
    y: float | None = Field(description="northing in the working CRS (EPSG:4545), metres")
    lon: float | None = Field(description="longitude of the located point, WGS-84")
    lat: float | None = Field(description="latitude of the located point, WGS-84")
    parcel_id: str | None
    address_id: str | None
    matched_address: str | None
    match_score: float | None
    levels: dict[str, LevelOut]
    candidates: list[CandidateOut] | None


class ZoneRef(BaseModel):
    """A zone a school serves."""

    zone_id: str
    zone_name: str | None
    level: str


class WarningRef(BaseModel):
    """A school's 学位预警 for one level of the coming intake."""

    level: Literal["primary", "junior"]
    year: int | None
    warning: str | None
    warning_zh: str | None


class SchoolDetailOut(BaseModel):
    """``GET /schools/{school_id}``."""

    school_id: str
    name: str
    level: str
    ownership: str | None = Field(description="public (公办) or private (民办)")
    address: str | None
    street: str | None
    community: str | None
    lon: float | None = Field(description="WGS-84")
    lat: float | None = Field(description="WGS-84")
    planned_primary_classes: int | None
    planned_junior_classes: int | None
    zones: list[ZoneRef]
    warnings: list[WarningRef]


class SchoolWarningOut(BaseModel):
    """One row of the 学位预警 table."""

    school_id: str
    name: str
    level: str
    ownership: str
    planned_classes: int
    cap: int
    seats: int
    demand: float
    ratio: float | None = Field(description="demand ÷ seats; null with no seats")
    warning: str
    warning_zh: str
    classes_needed: int
    shortfall_classes: int
    shortfall_seats: float
    problem: str
    lo: float | None = Field(None, description="80 % interval of forecast demand, low end")
    hi: float | None = Field(None, description="80 % interval of forecast demand, high end")
    p_red: float | None = Field(None, description="probability that demand reaches red")


class WarningSummaryOut(BaseModel):
    """District totals of a 学位预警 table."""

    schools: int
    green: int
    yellow: int
    red: int
    none: int
    seats: int
    demand: float
    shortfall_seats: float
    shortfall_classes: int
    problems: list[str]


class WarningsOut(BaseModel):
    """``GET /warnings``."""

    level: Literal["primary", "junior"]
    year: int
    source: str = Field(description="applicants, enrolment or forecast")
    source_zh: str
    summary: WarningSummaryOut
    schools: list[SchoolWarningOut]


class CacheOut(BaseModel):
    """The lookup cache of the worker that answered."""

    size: int
    max_size: int
    hits: int
    misses: int


class HealthOut(BaseModel):
    """``GET /health``."""

    status: Literal["ok"]
    data: str = Field(description="file name of the store served")
    district: str | None
    schools: int
    zones: int
    parcels: int
    addresses: int
    intake_year: int | None
    worker_pid: int = Field(description="process id of the worker that answered")
    started_in_s: float = Field(description="seconds the worker took to load and warm up")
    uptime_s: float
    cache: CacheOut


# ------------------------------------------------------------------------------------ errors
class ApiError(Exception):
    """An error answered with :class:`ErrorOut` and a 4xx status."""

    def __init__(self, status: int, error: str, message: str, message_zh: str, *,
                 position: int | None = None, detail: list | None = None):
        super().__init__(message)
        self.status = status
        self.body = ErrorOut(error=error, message=message, message_zh=message_zh,
                             position=position, detail=detail)


def _error_response(status: int, body: ErrorOut) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=status, headers=_NO_STORE)


_QUERY_HELP = ("give exactly one of address=, parcel= or lon= with lat= "
               "(e.g. /lookup?lon=106.63&lat=29.72&coords=gcj02)")
_QUERY_HELP_ZH = ("请只给出以下一种查询：address（地址）、parcel（不动产单元号或宗地代码），"
                  "或 lon 与 lat（经纬度，例如 lon=106.63&lat=29.72&coords=gcj02）。")
_PARAM_ZH = {
    "address": "地址", "parcel": "不动产单元号", "lon": "经度 lon（-180 至 180）",
    "lat": "纬度 lat（-90 至 90）", "coords": "坐标系 coords（wgs84、gcj02、bd09 或 cgcs2000）",
    "level": "学段 level（primary 或 junior）", "year": "年份 year", "school_id": "学校代码",
}


def _validation_zh(errors: list[dict]) -> str:
    names = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("query", "path")]
        name = loc[0] if loc else ""
        label = _PARAM_ZH.get(name, name or "请求")
        if label not in names:
            names.append(label)
    return "请求参数有误：" + "、".join(names) + "的值无效，请检查后重试。"


# ------------------------------------------------------------------------------------ logging
class QueryFreeAccessLog(logging.Filter):
    """Strip the query string and the client address from uvicorn's access-log records.

    uvicorn logs ``(client_addr, method, full_path, http_version, status_code)``; the query
    string of ``/lookup`` is an address or a home's position, and the client address identifies
    the person asking: neither is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102 (logging.Filter API)
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            record.args = ("-", method, str(path).split("?", 1)[0], version, status)
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = record.msg.split("?", 1)[0]
        return True


_ACCESS_FILTER = QueryFreeAccessLog()


def _install_log_filter() -> None:
    access = logging.getLogger("uvicorn.access")
    if _ACCESS_FILTER not in access.filters:
        access.addFilter(_ACCESS_FILTER)


class _ServerErrors:
    """ASGI middleware: an unexpected error becomes a 500 :class:`ErrorOut`, logged without text.

    Starlette's own handler logs the exception's message, which may quote the query; this one
    logs the type and the stack frames only.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def _send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:  # noqa: BLE001 (the last line of defence)
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unhandled %s on %s %s\n%s", type(exc).__name__, scope.get("method"),
                      scope.get("path"), frames)
            if started:
                raise
            body = ErrorOut(error="internal", message="internal error; it has been logged",
                            message_zh="服务内部错误，请稍后再试。")
            await _error_response(500, body)(scope, receive, send)


# ------------------------------------------------------------------------------------ service
def _finite(obj):
    """JSON-ready: numpy scalars to Python, tuples to lists, NaN and ±inf to null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj


def _dumps(obj) -> bytes:
    return json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


def _result_dict(res) -> dict:
    """``LookupResult.to_dict()`` without its deep copies: a third of the cost of a lookup."""
    out = dict(vars(res))
    out["levels"] = {lv: {**vars(a), "schools": [vars(s) for s in a.schools]}
                     for lv, a in res.levels.items()}
    c = res.candidates
    if c is not None:
        cols = [str(k) for k in c.columns]
        out["candidates"] = [dict(zip(cols, row, strict=True))
                             for row in c.to_numpy(dtype=object).tolist()]
    return out


@dataclass
class _Service:
    """What every request shares in one worker: the data, the resolver and the caches."""

    path: Path
    dataset: Any
    resolver: Any
    started_in: float
    cache_size: int
    t0: float
    lookup_bytes: Callable
    to_lonlat: Callable
    warnings_cache: dict
    school_cache: dict


def _load(path: Path, cache_size: int) -> _Service:
    from zoning.crs import from_working
    from zoning.lookup import Resolver
    from zoning.store import GeoPackageStore

    t0 = time.perf_counter()
    ds = GeoPackageStore(path).load()
    resolver = Resolver(ds)
    # build everything a lookup needs now, not on the first parent's request
    resolver.addresses  # noqa: B018 (a lazily built property)
    for lv in resolver.locators:
        resolver.warnings(lv)
    if len(ds.parcels):
        resolver.lookup(parcel=str(ds.parcels.index[0]))  # parcel → zone tables of every level
    if len(ds.addresses):  # pandas builds the address table's hash index on first use (~30 ms)
        resolver.lookup(address=str(ds.addresses["address"].iloc[0]))

    def to_lonlat(x, y):
        if x is None or y is None:
            return None, None
        lon, lat = from_working(float(x), float(y), target="wgs84")
        return round(float(lon), 7), round(float(lat), 7)

    if len(ds.schools):  # the first conversions build the pyproj transformers
        lon, lat = to_lonlat(ds.schools.geometry.iloc[0].x, ds.schools.geometry.iloc[0].y)
        for datum in ("wgs84", "gcj02", "bd09", "cgcs2000"):
            resolver.lookup(lonlat=(lon, lat), coords=datum)

    def answer(kind: str, query: str, coords: str) -> bytes:
        if kind == "address":
            res = resolver.lookup(address=query)
        elif kind == "parcel":
            res = resolver.lookup(parcel=query)
        else:
            lon, lat = (float(v) for v in query.split(","))
            res = resolver.lookup(lonlat=(lon, lat), coords=coords)
        out = _result_dict(res)
        out["lon"], out["lat"] = to_lonlat(res.x, res.y)
        return _dumps({k: out.get(k) for k in LookupOut.model_fields})

    cached = functools.lru_cache(maxsize=max(0, cache_size))(answer)
    # the loaded district is a few hundred thousand long-lived objects; a full garbage
    # collection walks all of them (~55 ms on the demo) and stalls every request queued behind
    # it. They live as long as the worker: move them out of the collector's sight.
    gc.collect()
    gc.freeze()
    started = time.perf_counter() - t0
    log.info("loaded %s: %d schools, %d zones, %d parcels, %d addresses; ready in %.1f s",
             path.name, len(ds.schools), len(ds.zones), len(ds.parcels), len(ds.addresses),
             started)
    return _Service(path=path, dataset=ds, resolver=resolver, started_in=started,
                    cache_size=max(0, cache_size), t0=time.monotonic(), lookup_bytes=cached,
                    to_lonlat=to_lonlat, warnings_cache={}, school_cache={})


def _check_lookup(address, parcel, lon, lat) -> tuple[str, str]:
    """The one query of a lookup request as ``(kind, text)``, or an :class:`ApiError`."""
    if (lon is None) != (lat is None):
        missing = "lat" if lat is None else "lon"
        raise ApiError(422, "invalid_query", f"{missing}= is missing: lon= and lat= go together",
                       "经度 lon 和纬度 lat 须同时给出。")
    given = [k for k, v in (("address", address), ("parcel", parcel), ("lonlat", lon))
             if v is not None]
    if len(given) != 1:
        what = "none" if not given else ", ".join(given)
        raise ApiError(422, "invalid_query", f"{_QUERY_HELP}; got {what}", _QUERY_HELP_ZH)
    if address is not None:
        text = address.strip()
        if not text:
            raise ApiError(422, "invalid_query", "address= is empty",
                           "地址为空，请输入完整地址，例如“渝北区龙溪街道荷花三路8号碧津花园1栋2单元2-1”。")
        return "address", text
    if parcel is not None:
        from zoning.unitcode import parse as parse_unitcode

        try:
            parse_unitcode(parcel, allow_parcel=True)
        except UnitCodeError as exc:
            raise ApiError(422, "invalid_unit_code", str(exc), exc.message_zh,
                           position=exc.position) from None
        return "parcel", parcel.strip()
    return "point", f"{float(lon)!r},{float(lat)!r}"


def _service(request: Request) -> _Service:
    return request.app.state.service


# ------------------------------------------------------------------------------------ the app
def create_app(data_path: str | os.PathLike, *, cache_size: int = DEFAULT_CACHE) -> FastAPI:
    """The lookup service over one store, as a FastAPI application.

    Parameters
    ----------
    data_path : str or path-like
        GeoPackage store (``zoning demo`` builds one). It is read, and the resolver built, when
        the application starts (its lifespan), once per worker process.
    cache_size : int
        Lookup answers kept per worker (LRU); 0 turns the cache off.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn (``zoning serve`` does), or test it with
        ``fastapi.testclient.TestClient`` used as a context manager so that start-up runs.

    Raises
    ------
    ValidationError
        If ``data_path`` does not exist (checked at once, not at start-up).
    """
    path = Path(data_path)
    if not path.exists():
        raise ValidationError(f"data_path={str(path)!r} does not exist; build the demo with "
                              "`zoning demo --out data/demo.gpkg` or pass an existing store")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        _install_log_filter()
        app.state.service = _load(path, cache_size)
        yield

    app = FastAPI(
        title="zoning 学区查询服务",
        summary="义务教育招生服务片区查询：按地址、不动产单元号或位置查对口小学和初中，及学位预警。",
        description=__doc__,
        version=_version(),
        lifespan=lifespan,
    )
    app.add_middleware(_ServerErrors)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(exc.status, exc.body)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        where = ", ".join(".".join(d["loc"][1:] or d["loc"]) for d in detail)
        body = ErrorOut(error="invalid_query",
                        message=f"invalid parameter(s): {where}; see /docs for the allowed values",
                        message_zh=_validation_zh(exc.errors()), detail=detail)
        return _error_response(422, body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            body = ErrorOut(error="not_found", message="no such endpoint; see /docs",
                            message_zh="没有这个接口，请查看 /docs。")
        else:
            body = ErrorOut(error="http_error", message=str(exc.detail),
                            message_zh="请求无法处理。")
        return _error_response(exc.status_code, body)

    errors_422 = {422: {"model": ErrorOut, "description": "malformed request"}}

    @app.get("/lookup", response_model=LookupOut, responses=errors_422, tags=["lookup"],
             summary="查询对口学校 (which school serves this home)")
    async def lookup(
        request: Request,
        address: Annotated[str | None, Query(min_length=1, max_length=_MAX_ADDRESS,
                                             description="地址，如家长所写")] = None,
        parcel: Annotated[str | None, Query(min_length=1, max_length=_MAX_CODE,
                                            description="28 位不动产单元号或 19 位宗地代码")] = None,
        lon: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False,
                                           description="经度（度）")] = None,
        lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False,
                                           description="纬度（度）")] = None,
        coords: Annotated[Literal["wgs84", "gcj02", "bd09", "cgcs2000"], Query(
            description="lon/lat 的坐标系：wgs84（GPS）、gcj02（高德/腾讯）、bd09（百度）、"
                        "cgcs2000")] = "wgs84",
    ) -> Response:
        """The 对口 primary and junior school of one home, how it was decided, and the warning.

        Give exactly one of ``address``, ``parcel`` or ``lon`` + ``lat``. A query that is
        well-formed but cannot be placed (an address not in the table, a parcel of another
        district, a point outside every zone) is answered with 200 and ``found: false``, the
        reason, and for an address the nearest ``candidates``.
        """
        kind, text = _check_lookup(address, parcel, lon, lat)
        svc = _service(request)
        try:
            body = svc.lookup_bytes(kind, text, coords if kind == "point" else "")
        except ValidationError as exc:
            raise ApiError(422, "invalid_query", str(exc), _QUERY_HELP_ZH) from None
        return Response(body, media_type=_JSON, headers=_NO_STORE)

    @app.get("/schools/{school_id}", response_model=SchoolDetailOut, tags=["schools"],
             responses={404: {"model": ErrorOut, "description": "unknown school_id"},
                        **errors_422},
             summary="学校信息 (one school)")
    def school(
        request: Request,
        school_id: Annotated[str, PathParam(min_length=1, max_length=64,
                                            description="学校代码，如 S001")],
    ) -> Response:
        """One school: where it is, the zones it serves and its 学位预警 for the coming intake."""
        svc = _service(request)
        body = svc.school_cache.get(school_id)
        if body is None:
            body = _school_body(svc, school_id)
            svc.school_cache[school_id] = body
        return Response(body, media_type=_JSON)

    @app.get("/warnings", response_model=WarningsOut, responses=errors_422, tags=["warnings"],
             summary="学位预警 (capacity early warning of every school)")
    def warnings(
        request: Request,
        level: Annotated[Literal["primary", "junior"], Query(
            description="学段：primary（小学一年级）或 junior（初中七年级）")] = "primary",
        year: Annotated[int | None, Query(ge=1900, le=2200,
                                          description="招生年份；默认为即将招生的年份")] = None,
    ) -> Response:
        """The 学位预警 of every school of a level: seats, demand, ratio, warning (seeds 000 五(一)).

        Demand is computed as for the lookup answers: the observed intake for a past year, else
        the forecast with its 80 % interval.
        """
        svc = _service(request)
        year = svc.resolver.intake_year if year is None else int(year)
        if year is None:
            raise ApiError(422, "no_warnings", "this store has no enrolment table, so no warning "
                           "can be computed", "本数据没有历年入学数据，无法给出学位预警。")
        key = (level, year)
        body = svc.warnings_cache.get(key)
        if body is None:
            body = _warnings_body(svc, level, year)
            svc.warnings_cache[key] = body
        return Response(body, media_type=_JSON)

    @app.get("/health", response_model=HealthOut, tags=["service"], summary="服务状态 (health)")
    async def health(request: Request) -> HealthOut:
        """Liveness, the size of the data served and this worker's lookup-cache counters."""
        svc = _service(request)
        ds = svc.dataset
        info = svc.lookup_bytes.cache_info()
        district = (str(ds.district["name"].iloc[0]) if ds.district is not None
                    and "name" in ds.district and len(ds.district) else None)
        return HealthOut(status="ok", data=svc.path.name, district=district,
                         schools=len(ds.schools), zones=len(ds.zones), parcels=len(ds.parcels),
                         addresses=len(ds.addresses), intake_year=svc.resolver.intake_year,
                         worker_pid=os.getpid(),
                         started_in_s=round(svc.started_in, 3),
                         uptime_s=round(time.monotonic() - svc.t0, 3),
                         cache=CacheOut(size=info.currsize, max_size=svc.cache_size,
                                        hits=info.hits, misses=info.misses))

    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zoning")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def _school_body(svc: _Service, school_id: str) -> bytes:
    from zoning.capacity import WARNING_ZH

    ds, resolver = svc.dataset, svc.resolver
    schools = ds.schools
    if school_id not in schools.index:
        raise ApiError(404, "unknown_school", f"school_id {school_id!r} is not in this district; "
                       "the ids are in /warnings", f"本区没有学校代码为 {school_id} 的学校。")
    row = schools.loc[school_id]
    p = row.geometry
    lon, lat = svc.to_lonlat(p.x, p.y) if p is not None and not p.is_empty else (None, None)
    links = resolver.links[resolver.links["school_id"] == school_id]
    zones = ds.zones
    refs = [{"zone_id": str(z), "level": str(lv),
             "zone_name": str(zones.at[z, "name"]) if "name" in zones.columns else None}
            for z, lv in zip(links["zone_id"], links["level"], strict=True)]
    warns = []
    for lv in resolver.locators:
        w = resolver.warnings(lv)
        if w is not None and school_id in w.index:
            code = str(w.loc[school_id])
            warns.append({"level": lv, "year": resolver.intake_year, "warning": code,
                          "warning_zh": WARNING_ZH.get(code)})

    def opt(col, kind=str):
        v = row.get(col)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else kind(v)

    out = {"school_id": school_id, "name": str(row["name"]), "level": str(row["level"]),
           "ownership": opt("ownership"), "address": opt("address"), "street": opt("street"),
           "community": opt("community"), "lon": lon, "lat": lat,
           "planned_primary_classes": opt("planned_primary_classes", int),
           "planned_junior_classes": opt("planned_junior_classes", int),
           "zones": refs, "warnings": warns}
    return _dumps(out)


def _warnings_body(svc: _Service, level: str, year: int) -> bytes:
    from zoning.capacity import WARNING_ZH, capacity_for_year, district_summary

    try:
        # the same demand as the lookup answers' warnings (Resolver.warnings): no applicants
        table = capacity_for_year(svc.dataset, level=level, year=year)
    except ValidationError as exc:
        raise ApiError(422, "no_warnings", str(exc),
                       f"无法给出{year}年{_LEVEL_ZH[level]}学位预警：只能查询已有入学数据的年份，"
                       f"或之后 12 年内的预测。") from None
    rows = table.reset_index()
    rows["warning_zh"] = rows["warning"].map(WARNING_ZH).fillna("")
    source = table.attrs.get("source", "")
    out = {"level": level, "year": year, "source": source,
           "source_zh": _SOURCE_ZH.get(source, source),
           "summary": district_summary(table),
           "schools": rows.to_dict("records")}
    return _dumps(out)


def app_from_env() -> FastAPI:
    """Application factory for uvicorn workers: the store is named by ``ZONING_API_DATA``.

    ``zoning serve`` sets the variables and starts ``uvicorn zoning.api:app_from_env
    --factory``; each worker process calls this once.
    """
    data = os.environ.get(DATA_ENV)
    if not data:
        raise ValidationError(f"{DATA_ENV} is not set: name the GeoPackage store to serve, or "
                              "start the service with `zoning serve --data PATH`")
    return create_app(data, cache_size=int(os.environ.get(CACHE_ENV, DEFAULT_CACHE)))


def serve(data_path: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8000,
          workers: int = 1, cache_size: int = DEFAULT_CACHE, access_log: bool = False,
          log_level: str = "info") -> None:
    """Run the lookup service with uvicorn until interrupted.

    Parameters
    ----------
    data_path : str or path-like
        GeoPackage store to serve.
    host, port : str, int
        Where to listen. The default is loopback only; put a reverse proxy (TLS, rate limits)
        in front before exposing it.
    workers : int
        Worker processes; each loads the data and answers on one core.
    cache_size : int
        Lookup answers cached per worker.
    access_log : bool
        Log one line per request, with the query string and client address removed.
    log_level : str
        uvicorn's log level.

    Raises
    ------
    ValidationError
        If ``data_path`` does not exist or ``workers`` < 1.
    """
    import uvicorn

    path = Path(data_path).resolve()
    if not path.exists():
        raise ValidationError(f"--data {str(data_path)!r} does not exist; build the demo with "
                              "`zoning demo --out data/demo.gpkg` or pass an existing store")
    if workers < 1:
        raise ValidationError(f"workers={workers}: give at least 1")
    os.environ[DATA_ENV] = str(path)
    os.environ[CACHE_ENV] = str(int(cache_size))
    _install_log_filter()
    # uvicorn's own logging set-up, plus this package's start-up lines through the same handler
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["zoning"] = {"handlers": ["default"], "level": log_level.upper(),
                                       "propagate": False}
    uvicorn.run("zoning.api:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=access_log, log_level=log_level, log_config=log_config,
                server_header=False, proxy_headers=False)
