"""Errors: one base class, and each subclass also the built-in that fits."""

from __future__ import annotations

import pytest

from zoning.errors import (
    CRSError,
    InfeasibleError,
    PersonalDataError,
    UnitCodeError,
    ValidationError,
    ZoningError,
    ZoningWarning,
)


@pytest.mark.parametrize(("cls", "builtin"), [
    (ValidationError, ValueError), (CRSError, ValueError), (UnitCodeError, ValueError),
    (InfeasibleError, RuntimeError), (PersonalDataError, ValueError),
])
def test_hierarchy(cls, builtin):
    assert issubclass(cls, ZoningError) and issubclass(cls, builtin)


def test_personal_data_error_is_a_validation_error():
    assert issubclass(PersonalDataError, ValidationError)


def test_validation_error_keeps_problems():
    err = ValidationError("2 problems", problems=[{"id": "Z-1"}, {"id": "Z-2"}])
    assert [p["id"] for p in err.problems] == ["Z-1", "Z-2"]
    assert ValidationError("x").problems == []


def test_unit_code_error_carries_chinese_and_position():
    err = UnitCodeError("bad", message_zh="第13位应为字母", position=13)
    assert err.message_zh == "第13位应为字母" and err.position == 13
    assert UnitCodeError("only english").message_zh == "only english"


def test_warning_is_a_user_warning():
    with pytest.warns(UserWarning):
        import warnings

        warnings.warn("suspicious", ZoningWarning, stacklevel=1)
