"""HTTP lookup service: which school serves an address, a 不动产单元号 or a point (FastAPI).

Endpoints (the OpenAPI schema is at ``/openapi.json``, the interactive docs at ``/docs``):

- ``GET /lookup?address=…`` | ``?parcel=…`` | ``?lon=…&lat=…&coords=wgs84|gcj02|bd09|cgcs2000``
  — exactly one query; the answer of :meth:`zoning.lookup.Resolver.lookup` as JSON.
- ``GET /schools/{school_id}`` — one school: where it is, the zones it serves, its 学位预警.
- ``GET /warnings?level=primary|junior&year=…`` — the 学位预警 of every school (seeds 000 五(一):
  招生预警 is published so that parents can set their expectations).
- ``GET /health`` — liveness, the data's size and the lookup cache's counters.

Writing needs a bearer token of the right role (:mod:`zoning.auth`; every write goes through
:func:`zoning.auth.guard`, the check the CLI and the dashboard use too):

- ``POST /token`` — user name and password (JSON, or an OAuth2 password form) → a bearer token
  that expires; ``DELETE /token`` ends it.
- ``POST /plans`` (planner) — a new draft plan version: a parent plan (a stored plan id, or the
  zones in force) and parcel moves; answers the impact (households moved, schools' demand and
  warning before → after).
- ``GET /plans/{plan_id}`` (planner, approver) — a stored plan's record.
- ``POST /plans/{plan_id}/evaluate`` | ``/approve`` | ``/publish`` (approver, seeds 000 五(一)) —
  the next status; ``evaluate`` answers the impact against the plan's parent.

401 (with ``WWW-Authenticate: Bearer``) without a valid token, 403 with a role that may not,
409 when the plan's stored status is not the one the step starts from (another approver moved
it on, or a step was skipped). Public endpoints are rate-limited per client address when the
service is started with a limit (``zoning serve --rate-limit``): over it, 429 with
``Retry-After``.

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
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from zoning import auth
from zoning.errors import (
    PermissionDenied,
    PlanConflict,
    SignInError,
    UnitCodeError,
    ValidationError,
    ZoningError,
)

__all__ = ["DATA_ENV", "RateLimiter", "create_app", "app_from_env", "serve"]

log = logging.getLogger("zoning.api")

#: Environment variables through which ``zoning serve`` hands its options to each uvicorn worker.
DATA_ENV = "ZONING_API_DATA"
CACHE_ENV = "ZONING_API_CACHE"
RATE_ENV = "ZONING_API_RATE_LIMIT"  # public requests per second per client (0 or unset: off)
BURST_ENV = "ZONING_API_RATE_BURST"

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


class TokenIn(BaseModel):
    """``POST /token`` as JSON (an OAuth2 password form with the same fields works too)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    """A bearer token: send it as ``Authorization: Bearer …``; shown once, it expires."""

    access_token: str
    token_type: Literal["bearer"]
    expires_at: str = Field(description="UTC, ISO 8601")
    username: str
    role: str = Field(description="planner, approver, officer or admin")


class MoveIn(BaseModel):
    """Move parcels (19-character 宗地代码) into a zone of the plan's level."""

    model_config = ConfigDict(extra="forbid")

    parcels: list[str] = Field(min_length=1, max_length=20_000)
    to_zone: str = Field(min_length=1, max_length=64)


class PlanIn(BaseModel):
    """``POST /plans``: a new draft version from a parent and parcel moves."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["primary", "junior"] = "primary"
    parent_id: str | None = Field(None, min_length=1, max_length=64,
                                  description="a stored plan id; null: the zones in force")
    moves: list[MoveIn] = Field(min_length=1, max_length=200)
    note: str = Field("", max_length=200, description="方案说明")


class SchoolImpactOut(BaseModel):
    """One school whose starting-grade demand the plan changes."""

    school_id: str
    name: str
    seats: int
    demand_before: float
    demand_after: float
    warning_before: str
    warning_after: str


class ImpactOut(BaseModel):
    """What the plan changes against its parent."""

    parcels_moved: int
    households_moved: int
    schools: list[SchoolImpactOut]
    over_cap_crossed: list[str] = Field(description="schools that go above their seats")
    over_cap_relieved: list[str] = Field(description="schools back within their seats")
    mean_distance_before_m: float
    mean_distance_after_m: float
    summary_zh: str


class PlanOut(BaseModel):
    """A stored plan version (without its zones) and, when computed, its impact."""

    plan_id: str
    parent_id: str | None
    level: str
    status: Literal["draft", "evaluated", "approved", "published"]
    author: str
    note: str
    created_at: str
    impact: ImpactOut | None = None


# ------------------------------------------------------------------------------------ errors
class ApiError(Exception):
    """An error answered with :class:`ErrorOut` and a 4xx status."""

    def __init__(self, status: int, error: str, message: str, message_zh: str, *,
                 position: int | None = None, detail: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers
        self.body = ErrorOut(error=error, message=message, message_zh=message_zh,
                             position=position, detail=detail)


def _error_response(status: int, body: ErrorOut, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=status,
                        headers={**_NO_STORE, **(headers or {})})


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


# ------------------------------------------------------------------------------------ rate limit
class RateLimiter:
    """Token buckets per client: ``rate`` requests a second, bursts of up to ``burst``.

    In-process and per worker (with ``--workers 2`` a client gets up to twice the rate), keyed by
    the client address uvicorn sees (behind a reverse proxy that is the proxy's: limit there).
    A check is a dictionary look-up and a little arithmetic, about a microsecond.

    Parameters
    ----------
    rate : float
        Requests per second, > 0.
    burst : float
        Bucket size, ≥ 1.
    max_clients : int
        Buckets kept; when full, those idle long enough to be full again are dropped.
    clock : callable
        Seconds (``time.monotonic``; tests pass their own).
    """

    def __init__(self, rate: float, burst: float, *, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        if not rate > 0 or not burst >= 1:
            raise ValidationError(f"rate limit {rate}/s with bursts of {burst}: give a rate > 0 "
                                  "and a burst ≥ 1 (or turn the limit off with 0)")
        self.rate, self.burst = float(rate), float(burst)
        self.max_clients = int(max_clients)
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}

    def check(self, client: str) -> float:
        """0.0 when ``client`` may go on (a token is taken), else the seconds until it may."""
        now = self.clock()
        b = self._buckets.get(client)
        if b is None:
            if len(self._buckets) >= self.max_clients:
                self._prune(now)
            self._buckets[client] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, b[0] + (now - b[1]) * self.rate)
        b[1] = now
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return 0.0
        b[0] = tokens
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = self.burst / self.rate
        for key in [k for k, (_, t) in self._buckets.items() if now - t >= full]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:  # all busy: forget the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[
                    : len(self._buckets) // 2]:
                del self._buckets[key]


#: Paths under the public limit (everything that needs no token), and the sign-in path.
_PUBLIC = ("/lookup", "/schools/", "/warnings", "/health", "/docs", "/redoc", "/openapi.json")
_SIGN_IN = "/token"


class _RateLimited:
    """ASGI middleware: 429 with ``Retry-After`` for a client over its limit on public paths.

    ``POST /token`` has a bucket of its own, at most 1 a second (bursts of 5): password guessing
    is slowed down per client address whatever the public rate.
    """

    def __init__(self, app, limiter: RateLimiter, sign_in: RateLimiter):
        self.app = app
        self.limiter = limiter
        self.sign_in = sign_in

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            limiter = (self.sign_in if path == _SIGN_IN
                       else self.limiter if path.startswith(_PUBLIC) else None)
            if limiter is not None:
                client = scope.get("client")
                wait = limiter.check(client[0] if client else "-")
                if wait:
                    secs = max(1, math.ceil(wait))
                    body = ErrorOut(error="rate_limited",
                                    message=f"too many requests from this client; retry in "
                                            f"{secs} s",
                                    message_zh=f"查询过于频繁，请 {secs} 秒后再试。")
                    await _error_response(429, body, {"Retry-After": str(secs)})(
                        scope, receive, send)
                    return
        await self.app(scope, receive, send)


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

    path: str
    dataset: Any
    resolver: Any
    started_in: float
    cache_size: int
    t0: float
    lookup_bytes: Callable
    to_lonlat: Callable
    warnings_cache: dict
    school_cache: dict
    store: Any = None
    auth_settings: Any = None
    simulators: dict | None = None
    lock: Any = None

    def simulator(self, level: str):
        """``(Simulator, plan of the zones in force)`` of ``level``, built on first use."""
        from zoning.simulate import Simulator, current_plan

        with self.lock:
            hit = self.simulators.get(level)
            if hit is None:
                hit = (Simulator(self.dataset, level=level),
                       current_plan(self.dataset, level=level, note="现行片区"))
                self.simulators[level] = hit
        return hit


def _load(path: str, cache_size: int) -> _Service:
    from zoning.crs import from_working
    from zoning.lookup import Resolver
    from zoning.store import open_store, store_label

    t0 = time.perf_counter()
    ds = open_store(path).load()
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
             store_label(open_store(path)), len(ds.schools), len(ds.zones), len(ds.parcels),
             len(ds.addresses), started)
    import threading

    from zoning.auth import AuthSettings
    from zoning.store import open_store

    return _Service(path=path, dataset=ds, resolver=resolver, started_in=started,
                    cache_size=max(0, cache_size), t0=time.monotonic(), lookup_bytes=cached,
                    to_lonlat=to_lonlat, warnings_cache={}, school_cache={},
                    store=open_store(path), auth_settings=AuthSettings.from_env(),
                    simulators={}, lock=threading.Lock())


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
def create_app(data_path: str | os.PathLike, *, cache_size: int = DEFAULT_CACHE,
               rate_limit: float | None = None, rate_burst: float | None = None) -> FastAPI:
    """The lookup service over one store, as a FastAPI application.

    Parameters
    ----------
    data_path : str or path-like
        GeoPackage store (``zoning demo`` builds one). It is read, and the resolver built, when
        the application starts (its lifespan), once per worker process.
    cache_size : int
        Lookup answers kept per worker (LRU); 0 turns the cache off.
    rate_limit : float, optional
        Public requests per second per client address (None or 0: no limit, no cost);
        ``zoning serve`` turns it on.
    rate_burst : float, optional
        Requests a client may send at once (default 3 × ``rate_limit``, at least 10).

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
    from zoning.store import open_store, store_location

    try:
        path = store_location(data_path)
        if "://" in path:
            open_store(path).layers()  # a PostGIS store: reachable and filled, checked now
    except ValidationError as exc:
        raise ValidationError(f"data_path={str(data_path)!r}: {exc}; build the demo with "
                              "`zoning demo --out data/demo.gpkg` or pass an existing store"
                              ) from exc

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
    if rate_limit:
        burst = rate_burst or max(10.0, 3.0 * rate_limit)
        app.add_middleware(_RateLimited, limiter=RateLimiter(rate_limit, burst),
                           sign_in=RateLimiter(min(1.0, rate_limit), 5))

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(exc.status, exc.body, exc.headers)

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
        elif exc.status_code == 400:  # a body that is not JSON: malformed, as any other
            body = ErrorOut(error="invalid_query", message=f"{exc.detail}; send JSON as "
                            "described in /docs", message_zh="请求内容无法解析，请按接口说明发送 JSON。")
            return _error_response(422, body)
        else:
            body = ErrorOut(error="http_error", message=str(exc.detail),
                            message_zh="请求无法处理。")
        return _error_response(exc.status_code, body)

    errors_422 = {422: {"model": ErrorOut, "description": "malformed request"},
                  429: {"model": ErrorOut, "description": "too many requests from this client "
                                                          "(Retry-After says when to retry)"}}

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

    @app.get("/health", response_model=HealthOut, tags=["service"], summary="服务状态 (health)",
             responses={429: errors_422[429]})
    async def health(request: Request) -> HealthOut:
        """Liveness, the size of the data served and this worker's lookup-cache counters."""
        svc = _service(request)
        ds = svc.dataset
        info = svc.lookup_bytes.cache_info()
        district = (str(ds.district["name"].iloc[0]) if ds.district is not None
                    and "name" in ds.district and len(ds.district) else None)
        from zoning.store import store_label

        return HealthOut(status="ok", data=store_label(svc.store), district=district,
                         schools=len(ds.schools), zones=len(ds.zones), parcels=len(ds.parcels),
                         addresses=len(ds.addresses), intake_year=svc.resolver.intake_year,
                         worker_pid=os.getpid(),
                         started_in_s=round(svc.started_in, 3),
                         uptime_s=round(time.monotonic() - svc.t0, 3),
                         cache=CacheOut(size=info.currsize, max_size=svc.cache_size,
                                        hits=info.hits, misses=info.misses))

    _add_write_endpoints(app, errors_422[429])
    return app


# ------------------------------------------------------------------------------------ writing
_BEARER = HTTPBearer(auto_error=False, description="token from POST /token")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_STATUS_STEP = {"evaluate": "evaluated", "approve": "approved", "publish": "published"}
_STEP_ZH = {"evaluate": "评估", "approve": "批准", "publish": "发布"}
_STATUS_ZH = {"draft": "草稿", "evaluated": "已评估", "approved": "已批准", "published": "已发布"}


def _signed_in(request: Request, creds: HTTPAuthorizationCredentials | None):
    """The user of the request's bearer token, or a 401."""
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise ApiError(401, "not_signed_in", "this needs a bearer token: POST /token first, then "
                       "send Authorization: Bearer TOKEN", "请先登录（POST /token 获取凭证）。",
                       headers=_CHALLENGE)
    svc = _service(request)
    try:
        return auth.session_user(svc.store, creds.credentials)
    except SignInError as exc:
        raise ApiError(401, exc.reason, f"the token is not valid ({exc.reason}); sign in again",
                       exc.message_zh, headers=_CHALLENGE) from None


def _user(request: Request,
          creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None):
    return _signed_in(request, creds)


def _denied(exc: PermissionDenied) -> ApiError:
    return ApiError(403, "forbidden", f"role {exc.role} may not {exc.action}", exc.message_zh)


def _plan_out(rec: dict, impact=None) -> dict:
    keys = ("plan_id", "parent_id", "level", "status", "author", "note", "created_at")
    return {**{k: rec.get(k) for k in keys}, "impact": impact}


def _impact_out(simr, before, after) -> dict:
    imp = simr.impact(before, after)
    t = imp.schools
    schools = [{"school_id": str(sid), "name": str(r["name"]), "seats": int(r["seats_after"]),
                "demand_before": round(float(r["demand_before"]), 2),
                "demand_after": round(float(r["demand_after"]), 2),
                "warning_before": str(r["warning_before"]),
                "warning_after": str(r["warning_after"])} for sid, r in t.iterrows()]
    return {"parcels_moved": len(imp.moved), "households_moved": imp.households_moved,
            "schools": schools, "over_cap_crossed": list(map(str, imp.over_cap["crossed"])),
            "over_cap_relieved": list(map(str, imp.over_cap["relieved"])),
            "mean_distance_before_m": round(float(imp.distance["mean_before"]), 1),
            "mean_distance_after_m": round(float(imp.distance["mean_after"]), 1),
            "summary_zh": imp.summary_zh()}


def _zoning_error(exc: ZoningError, what: str) -> ApiError:
    if isinstance(exc, PermissionDenied):
        return _denied(exc)
    zh = getattr(exc, "message_zh", None) or f"{what}失败：{exc}"
    if isinstance(exc, PlanConflict):
        return ApiError(409, "conflict", str(exc), zh)
    return ApiError(422, "invalid_plan", str(exc), zh)


def _token_body(raw: bytes, content_type: str) -> TokenIn:
    from urllib.parse import parse_qs

    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
            return TokenIn(username=(form.get("username") or [""])[0],
                           password=(form.get("password") or [""])[0])
        return TokenIn.model_validate_json(raw or b"{}")
    except (UnicodeDecodeError, PydanticValidationError):
        raise ApiError(422, "invalid_query", "give username and password (JSON, or an OAuth2 "
                       "password form)", "请填写用户名和密码。") from None


def _add_write_endpoints(app: FastAPI, too_many: dict) -> None:
    """POST /token, DELETE /token, POST /plans, GET /plans/{id}, POST /plans/{id}/<step>."""
    from zoning import simulate as sim

    err = {"model": ErrorOut}
    need_token = {401: {**err, "description": "no valid bearer token"},
                  403: {**err, "description": "the role may not do this"},
                  422: {**err, "description": "malformed request"}}

    @app.post("/token", response_model=TokenOut, tags=["sign-in"], summary="登录 (sign in)",
              responses={401: {**err, "description": "wrong user name or password"},
                         422: {**err, "description": "malformed request"}, 429: too_many},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": TokenIn.model_json_schema()},
                  "application/x-www-form-urlencoded": {
                      "schema": TokenIn.model_json_schema()}}}})
    async def token(request: Request) -> Response:
        """User name and password → a bearer token (shown once; it expires).

        Wrong name, wrong password and disabled user all answer the same 401.
        """
        body = _token_body(await request.body(), request.headers.get("content-type", ""))
        svc = _service(request)
        try:
            session = await run_in_threadpool(auth.sign_in, svc.store, body.username,
                                              body.password, settings=svc.auth_settings)
        except SignInError as exc:
            raise ApiError(401, exc.reason, "wrong user name or password", exc.message_zh,
                           headers=_CHALLENGE) from None
        out = TokenOut(access_token=session.token, token_type="bearer",
                       expires_at=session.expires_at.isoformat(timespec="seconds"),
                       username=session.user.username, role=session.user.role.value)
        return Response(out.model_dump_json(), media_type=_JSON, headers=_NO_STORE)

    @app.delete("/token", status_code=204, tags=["sign-in"], summary="退出登录 (sign out)",
                responses={401: need_token[401]})
    def sign_out(request: Request,
                 creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None
                 ) -> Response:
        """End the session of the bearer token."""
        _signed_in(request, creds)
        auth.sign_out(_service(request).store, creds.credentials)
        return Response(status_code=204)

    @app.post("/plans", response_model=PlanOut, status_code=201, tags=["plans"],
              summary="新建片区方案草稿 (a new draft plan)",
              responses={**need_token, 404: {**err, "description": "unknown parent plan"},
                         409: {**err, "description": "a newer version was saved meanwhile"}})
    def new_plan(request: Request, body: PlanIn,
                 user: Annotated[auth.User, Depends(_user)]) -> Response:
        """A planner's new draft: parcel moves on a parent plan, saved, with their impact."""
        svc = _service(request)
        try:
            auth.require(user, "plan.edit")
        except PermissionDenied as exc:
            raise _denied(exc) from None
        store = auth.guard(svc.store, user)
        simr, current = svc.simulator(body.level)
        ds = svc.dataset
        try:
            parent = current
            if body.parent_id is not None:
                parent = _stored_plan(store, body.parent_id, ds)
                if parent.level != body.level:
                    raise ValidationError(f"plan {body.parent_id} is a {parent.level} plan, not "
                                          f"{body.level}; give level={parent.level}")
            plan, changed = parent, set()
            for m in body.moves:
                plan = sim.move_parcels(plan, m.parcels, m.to_zone, ds.parcels,
                                        author=user.username, note=body.note)
                changed |= set(plan.changed)
            if plan.parent_id != parent.plan_id:  # several moves: one version from the parent
                from dataclasses import replace

                plan = replace(plan, parent_id=parent.plan_id, changed=tuple(sorted(changed)))
            sim.save_plan(store, plan, actor=user.username)
            impact = _impact_out(simr, parent, plan)
        except ZoningError as exc:
            raise _zoning_error(exc, "保存方案") from None
        out = _plan_out({"plan_id": plan.plan_id, "parent_id": plan.parent_id,
                         "level": plan.level, "status": plan.status, "author": plan.author,
                         "note": plan.note, "created_at": plan.created_at}, impact)
        return Response(_dumps(out), status_code=201, media_type=_JSON, headers=_NO_STORE)

    @app.get("/plans/{plan_id}", response_model=PlanOut, tags=["plans"],
             summary="片区方案 (a stored plan)",
             responses={**need_token, 404: {**err, "description": "unknown plan"}})
    def get_plan(request: Request,
                 plan_id: Annotated[str, PathParam(min_length=1, max_length=64)],
                 user: Annotated[auth.User, Depends(_user)]) -> Response:
        """A stored plan's record: status, author, note, parent (planner, approver)."""
        store = auth.guard(_service(request).store, user)
        try:
            rec = _plan_record(store, plan_id)
        except PermissionDenied as exc:
            raise _denied(exc) from None
        return Response(_dumps(_plan_out(rec)), media_type=_JSON, headers=_NO_STORE)

    def step(request: Request, plan_id: str, user, action: str) -> Response:
        svc = _service(request)
        try:
            auth.require(user, f"plan.{action}")
        except PermissionDenied as exc:
            raise _denied(exc) from None
        store = auth.guard(svc.store, user)
        ds = svc.dataset
        try:
            plan = _stored_plan(store, plan_id, ds)
            target = _STATUS_STEP[action]
            at, want = sim.STATUSES.index(plan.status), sim.STATUSES.index(target)
            if at + 1 != want:
                now_zh = _STATUS_ZH.get(plan.status, plan.status)
                zh = (f"方案 {plan_id} 已是“{now_zh}”，无需再{_STEP_ZH[action]}。" if at >= want else
                      f"方案 {plan_id} 当前为“{now_zh}”，不能直接{_STEP_ZH[action]}：须依次评估、批准、"
                      "发布（seeds 000 五(一)）。")
                raise ApiError(
                    409, "wrong_status", f"plan {plan_id} is {plan.status}; it cannot become "
                    f"{target} (draft → evaluated → approved → published)", zh)
            impact = None
            if action == "evaluate":
                simr, current = svc.simulator(plan.level)
                try:
                    parent = _stored_plan(store, plan.parent_id, ds) if plan.parent_id else current
                except ApiError:
                    parent = current
                impact = _impact_out(simr, parent, plan)
            moved = sim.set_status(plan, target, actor=user.username)
            sim.save_plan(store, moved, actor=user.username)
        except ZoningError as exc:
            if isinstance(exc, PermissionDenied):
                raise _denied(exc) from None
            raise ApiError(409, "conflict", str(exc),
                           f"方案 {plan_id} 的状态已被更改，请刷新后重试：{exc}") from None
        rec = _plan_record(store, plan_id)
        return Response(_dumps(_plan_out(rec, impact)), media_type=_JSON, headers=_NO_STORE)

    def make(action: str):
        def endpoint(request: Request,
                     plan_id: Annotated[str, PathParam(min_length=1, max_length=64)],
                     user: Annotated[auth.User, Depends(_user)]) -> Response:
            return step(request, plan_id, user, action)

        return endpoint

    for action in _STATUS_STEP:
        endpoint = make(action)
        endpoint.__doc__ = (f"{_STEP_ZH[action]}：move a plan to {_STATUS_STEP[action]} "
                            "(approver; seeds 000 五(一)).")
        app.post(f"/plans/{{plan_id}}/{action}", response_model=PlanOut, tags=["plans"],
                 name=f"plan_{action}", summary=f"{_STEP_ZH[action]}片区方案 ({action})",
                 responses={**need_token, 404: {**err, "description": "unknown plan"},
                            409: {**err, "description": "the plan is not at the status this "
                                                        "step starts from"}})(endpoint)


def _plan_record(store, plan_id: str) -> dict:
    try:
        return store.plan_record(plan_id)
    except PermissionDenied:
        raise
    except ZoningError:
        raise ApiError(404, "unknown_plan", f"no plan {plan_id!r}",
                       f"没有编号为 {plan_id} 的片区方案。") from None


def _stored_plan(store, plan_id: str, ds):
    from zoning.simulate import load_plan

    _plan_record(store, plan_id)  # 404 for an unknown id
    return load_plan(store, plan_id, crs=ds.crs)


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
    rate = float(os.environ.get(RATE_ENV) or 0) or None
    burst = float(os.environ.get(BURST_ENV) or 0) or None
    return create_app(data, cache_size=int(os.environ.get(CACHE_ENV, DEFAULT_CACHE)),
                      rate_limit=rate, rate_burst=burst)


def serve(data_path: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8000,
          workers: int = 1, cache_size: int = DEFAULT_CACHE, access_log: bool = False,
          log_level: str = "info", rate_limit: float = 10.0,
          rate_burst: float | None = None) -> None:
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
    rate_limit : float
        Public requests per second per client address and worker (0: off; benchmarks turn it
        off); over it, 429 with ``Retry-After``.
    rate_burst : float, optional
        Requests a client may send at once (default 3 × ``rate_limit``, at least 10).

    Raises
    ------
    ValidationError
        If ``data_path`` does not exist or ``workers`` < 1.
    """
    import uvicorn

    from zoning.store import store_location

    try:
        path = store_location(data_path)
    except ValidationError as exc:
        raise ValidationError(f"--data {str(data_path)!r}: {exc}; build the demo with "
                              "`zoning demo --out data/demo.gpkg` or pass an existing store"
                              ) from exc
    if workers < 1:
        raise ValidationError(f"workers={workers}: give at least 1")
    os.environ[DATA_ENV] = str(path)
    os.environ[CACHE_ENV] = str(int(cache_size))
    os.environ[RATE_ENV] = str(float(rate_limit or 0))
    os.environ[BURST_ENV] = str(float(rate_burst or 0))
    _install_log_filter()
    # uvicorn's own logging set-up, plus this package's start-up lines through the same handler
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["zoning"] = {"handlers": ["default"], "level": log_level.upper(),
                                       "propagate": False}
    uvicorn.run("zoning.api:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=access_log, log_level=log_level, log_config=log_config,
                server_header=False, proxy_headers=False)
