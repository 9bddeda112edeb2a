"""Keep applicants' personal data only while a season needs it (seeds 000 五(四)).

seeds 000 五(四) 信息非必要不采集: what is collected is only what the rules need, and it is kept
only while needed. A season's personal data — children's names, ID numbers, birth dates,
addresses, 不动产单元号, sibling links, the written reasons of special placements and
overrides, and the admission notices' text (which names the child) — is erased once the season
has ended and the district's retention period has passed (:class:`RetentionSettings`). What is
kept: every row with its 报名号, level, category, application type, school, status, the
eligibility flags, the decisions and their rules (``enrol_results``), the 报到码 and check-ins:
the anonymous counts a district reports and plans with, and the whole audit log (whose entries
carry no names or ID numbers: :mod:`zoning.enroll` records digests and counts).

:func:`retention_status` says per season what is held and when it is due; :func:`apply_retention`
erases what is due, season by season, each in one transaction with its audit entry. It uses only
the store's public methods (``query``, ``write_rows``), so it works on any back end.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import pandas as pd

from zoning.errors import ValidationError

__all__ = ["PERSONAL_FIELDS", "RetentionSettings", "apply_retention", "retention_status"]

#: Columns of ``applicants`` erased when a season's retention period has passed (NULL, or ""
#: for the columns that cannot be NULL; the ID number becomes ``erased:<报名号>`` so the
#: one-application-per-child index stays valid).
PERSONAL_FIELDS = (
    "id_number", "name", "birth_date", "hukou_address", "hukou_unit_code", "hukou_date",
    "property_unit_code", "residence_address", "residence_unit_code", "residence_permit_start",
    "special_reason", "sibling_group", "override_reason",
)
_NOT_NULL = {"name": "", "birth_date": ""}
ERASED_PREFIX = "erased:"


@dataclass(frozen=True)
class RetentionSettings:
    """How long a season's personal data is kept.

    The seeds set no period; these are a district's settings. A season (intake ``year``) ends
    when its pupils have checked in at school: ``season_end`` (month, day) of that year, by
    default 30 September (notices by 20 July, seeds 000 四(五); 报到 at the start of term). Its
    personal data is erased ``keep_days`` after that (default 92: to the end of the year, for
    appeals and transfers in the first weeks of school).

    Attributes
    ----------
    season_end : tuple of int
        (month, day).
    keep_days : int
        Days kept after the season's end (0: erased the day after).
    """

    season_end: tuple[int, int] = (9, 30)
    keep_days: int = 92

    def __post_init__(self):
        try:
            _dt.date(2000, *self.season_end)
        except (TypeError, ValueError):
            raise ValidationError(f"season_end={self.season_end!r}: give (month, day), e.g. "
                                  "(9, 30)") from None
        if int(self.keep_days) < 0:
            raise ValidationError(f"keep_days={self.keep_days}: give 0 or more days")

    def erase_after(self, year: int) -> pd.Timestamp:
        """The first moment a season's personal data is due for erasure (UTC+8 clock)."""
        end = pd.Timestamp(year=int(year), month=self.season_end[0], day=self.season_end[1],
                           tz="Asia/Shanghai")
        return end + pd.Timedelta(days=1 + int(self.keep_days))


def _at(at) -> pd.Timestamp:
    t = pd.Timestamp.now(tz="Asia/Shanghai") if at is None else pd.Timestamp(at)
    return t.tz_localize("Asia/Shanghai") if t.tzinfo is None else t.tz_convert("Asia/Shanghai")


def _held(frame: pd.DataFrame) -> pd.Series:
    """Rows that still hold personal data."""
    ids = frame["id_number"].astype(str)
    return ~ids.str.startswith(ERASED_PREFIX) | (frame["name"].fillna("").astype(str) != "")


def retention_status(store, *, settings: RetentionSettings | None = None,
                     at=None) -> pd.DataFrame:
    """Per season: applicants, how many still hold personal data, when due, whether due now.

    Parameters
    ----------
    store : store
        A bare store (trusted) or a guard whose user may apply retention.
    settings : RetentionSettings, optional
    at : datetime, optional
        Now (default the clock).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``year``: ``applicants``, ``personal``, ``erase_after``, ``due``.

    Raises
    ------
    PermissionDenied
        Through a guard, for a user who may not apply retention.
    """
    from zoning.auth import GuardedStore, _raw, require

    if isinstance(store, GuardedStore):
        require(store.user, "retention.apply")
    settings = settings or RetentionSettings()
    now = _at(at)
    apps = _raw(store).query("applicants")
    rows = []
    for year, grp in apps.groupby(pd.to_numeric(apps["year"], errors="coerce")):
        when = settings.erase_after(int(year))
        held = int(_held(grp).sum())
        rows.append({"year": int(year), "applicants": len(grp), "personal": held,
                     "erase_after": when, "due": bool(held and now >= when)})
    return pd.DataFrame(rows, columns=["year", "applicants", "personal", "erase_after", "due"]
                        ).set_index("year")


def _erase(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in PERSONAL_FIELDS:
        if col not in out:
            continue
        if col == "id_number":
            out[col] = ERASED_PREFIX + out["applicant_id"].astype(str)
        elif col in _NOT_NULL:
            out[col] = _NOT_NULL[col]
        else:
            out[col] = None
    return out


def apply_retention(store, *, settings: RetentionSettings | None = None, at=None,
                    years=None) -> pd.DataFrame:
    """Erase the personal data of every season whose retention period has passed.

    Each season is rewritten in one transaction (its ``applicants`` rows with the personal
    fields erased, its notices without their text) together with its ``retention`` audit entry;
    the counts and decisions stay. Seasons already erased, and seasons not yet due, are left.

    Parameters
    ----------
    store : store or GuardedStore
        Through a guard the signed-in user must have ``retention.apply`` (admin) and is the
        audit entry's actor.
    settings : RetentionSettings, optional
    at : datetime, optional
        Now (default the clock).
    years : iterable of int, optional
        Only these seasons (each must be due).

    Returns
    -------
    pandas.DataFrame
        The seasons erased: ``year``, ``applicants``, ``erased`` (rows whose personal fields
        were erased), ``notices``.

    Raises
    ------
    PermissionDenied
        The user may not apply retention.
    ValidationError
        A season in ``years`` that is not due yet.
    """
    from zoning.auth import GuardedStore, _raw, require

    user = store.user if isinstance(store, GuardedStore) else None
    if isinstance(store, GuardedStore):
        require(user, "retention.apply")
    actor = user.username if user is not None else "system"
    settings = settings or RetentionSettings()
    status = retention_status(_raw(store), settings=settings, at=at)
    due = status.index[status["due"]].tolist()
    if years is not None:
        want = sorted({int(y) for y in years})
        early = [y for y in want if y in status.index and y not in due
                 and status.at[y, "personal"]]
        if early:
            y = early[0]
            raise ValidationError(
                f"season {y}: its personal data may be erased only from "
                f"{status.at[y, 'erase_after']:%Y-%m-%d} (retention setting: {settings.keep_days} "
                f"days after {settings.season_end[0]}/{settings.season_end[1]})（{y}年的个人信息"
                f"须在 {status.at[y, 'erase_after']:%Y-%m-%d} 之后才能删除）")
        due = [y for y in due if y in want]
    raw = _raw(store)
    done = []
    for year in due:
        apps = raw.query("applicants", {"year": year})
        held = _held(apps)
        erased = _erase(apps)
        notices = raw.query("notices", {"year": year})
        rows = {"applicants": erased}
        replace = {"applicants": {"year": year}}
        if len(notices):
            rows["notices"] = notices.assign(text_zh="")
            replace["notices"] = {"year": year}
        raw.write_rows(rows, replace=replace, audit=[{
            "actor": actor, "action": "retention", "target": f"applicants {year}",
            "detail": {"applicants": len(apps), "erased": int(held.sum()),
                       "notices": len(notices), "fields": list(PERSONAL_FIELDS),
                       "erase_after": status.at[year, "erase_after"].isoformat(),
                       "keep_days": settings.keep_days,
                       "citation": "seeds 000 五(四)"}}])
        done.append({"year": year, "applicants": len(apps), "erased": int(held.sum()),
                     "notices": len(notices)})
    return pd.DataFrame(done, columns=["year", "applicants", "erased", "notices"])
