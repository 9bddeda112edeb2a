"""Errors and warnings raised by :mod:`zoning`.

Every error a user can meet is a :class:`ZoningError`; the subclasses also subclass the built-in
exception that fits, so ``except ValueError`` keeps working for callers that do not know this package.
A message names the argument or id, what was expected, what was found, and what to do.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "InfeasibleError",
    "PermissionDenied",
    "PersonalDataError",
    "SignInError",
    "PlanConflict",
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


class PlanConflict(ValidationError):
    """A plan save lost a race; nothing was written.

    Another planner saved over the same version, or the stored plan's status moved on meanwhile:
    reload the newer version and try again.
    """


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


class PermissionDenied(ZoningError, PermissionError):
    """The signed-in user's role may not do this action (:func:`zoning.auth.require`).

    The message is in Chinese (it is shown as it is): who, which role, which action, which roles
    may, and what to do.

    Parameters
    ----------
    message : str
        The Chinese message.
    action : str, optional
        The refused action (``plan.approve`` …).
    role : str, optional
        The user's role (``parent`` for nobody signed in).
    username : str, optional
        The user (None for nobody signed in).
    """

    def __init__(self, message: str, *, action: str | None = None, role: str | None = None,
                 username: str | None = None):
        super().__init__(message)
        self.message_zh = message
        self.action = action
        self.role = role
        self.username = username


class SignInError(ZoningError, PermissionError):
    """Signing in failed, or a session is unknown, expired, revoked or of a disabled user.

    The message is in Chinese and never says whether the user name or the password was wrong.

    Parameters
    ----------
    message : str
        The Chinese message.
    reason : str, optional
        Machine code: ``bad_credentials``, ``no_session``, ``expired``, ``revoked``,
        ``disabled``, ``sign_in_required``.
    """

    def __init__(self, message: str, *, reason: str = "bad_credentials"):
        super().__init__(message)
        self.message_zh = message
        self.reason = reason


class ZoningWarning(UserWarning):
    """Something is suspicious but usable (a school outside its own zone, a sliver)."""
