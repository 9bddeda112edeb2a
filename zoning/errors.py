"""Errors and warnings raised by :mod:`zoning`.

Every error a user can meet is a :class:`ZoningError`; the subclasses also subclass the built-in
exception that fits, so ``except ValueError`` keeps working for callers that do not know this package.
A message names the argument or id, what was expected, what was found, and what to do.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "InfeasibleError",
    "PersonalDataError",
    "UnitCodeError",
    "ValidationError",
    "ZoningError",
    "ZoningWarning",
]


class ZoningError(Exception):
    """Base class of every error raised by :mod:`zoning`."""


class ValidationError(ZoningError, ValueError):
    """Input data breaks a rule: a missing column, a broken geometry, an overlap.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    problems : list, optional
        Every problem found (validators collect them all before raising), for callers that want
        to show them one by one.
    """

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class PersonalDataError(ValidationError):
    """Input carries personal data the seeds forbid collecting (seeds 000 五(四))."""


class CRSError(ZoningError, ValueError):
    """A layer has no coordinate reference system, or one its coordinates cannot be in."""


class UnitCodeError(ZoningError, ValueError):
    """A 不动产单元号 (GB/T 37346-2019) or 宗地代码 is malformed.

    Parameters
    ----------
    message : str
        English message for logs and developers.
    message_zh : str, optional
        The same in plain Chinese for a parent.
    position : int, optional
        1-based character position of the first problem, when there is one.
    """

    def __init__(self, message: str, *, message_zh: str | None = None, position: int | None = None):
        super().__init__(message)
        self.message_zh = message_zh or message
        self.position = position


class InfeasibleError(ZoningError, RuntimeError):
    """An optimisation or allocation has no solution under its hard constraints.

    Parameters
    ----------
    message : str
        What cannot be satisfied and what to change.
    shortfall : dict, optional
        ``{school_id: classes}``: the schools short of seats and how many starting-grade classes
        each would need for a solution to exist.
    """

    def __init__(self, message: str, shortfall: dict | None = None):
        super().__init__(message)
        self.shortfall = dict(shortfall or {})


class ZoningWarning(UserWarning):
    """Something is suspicious but usable (a school outside its own zone, a sliver)."""
