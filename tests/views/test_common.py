"""`show_failure`: a user's mistake is shown in words; an unexpected failure is logged with
its stack under a short reference that the message quotes."""

from __future__ import annotations

import logging
import re

import pytest
from streamlit.testing.v1 import AppTest

from planning.access.roles import Role
from planning.access.users import User
from views.common import USER_KEY

REFERENCE = re.compile(r"under reference ([0-9a-f]{8})\.$")


def failing_page() -> None:
    """A page whose action fails unexpectedly (a bug, not a user's mistake)."""
    from views.common import show_failure

    def read_totals() -> dict:
        return {"won": 1}["lost"]

    try:
        read_totals()
    except Exception as exc:  # noqa: BLE001 - the behaviour under test
        show_failure(exc, "compute the totals")


def refused_page() -> None:
    """A page whose action fails with a message meant for the user."""
    from planning.errors import RevPlanError
    from views.common import show_failure

    try:
        raise RevPlanError("the fiscal year 1999 has no quotas")
    except RevPlanError as exc:
        show_failure(exc, "compare the quotas")


def failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "views.common"]


def test_an_unexpected_failure_is_logged_with_the_reference_the_user_sees(
        caplog: pytest.LogCaptureFixture) -> None:
    app = AppTest.from_function(failing_page)
    app.session_state[USER_KEY] = User("pat@example.com", "Pat", "acme",
                                       roles=frozenset({Role.REVOPS}))
    with caplog.at_level(logging.ERROR, logger="views.common"):
        app.run()

    assert not app.exception
    [error] = app.error
    assert error.value.startswith("Could not compute the totals because of an unexpected error "
                                  "(KeyError). Nothing was changed; the details are in the "
                                  "server log under reference ")
    shown = REFERENCE.search(error.value)
    assert shown is not None
    [record] = failure_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (f"Unexpected failure, reference {shown.group(1)}: could not "
                                   "compute the totals (user pat@example.com, workspace acme)")
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert "in read_totals" in caplog.text  # the stack, down to the failing function


def test_each_failure_gets_its_own_reference(caplog: pytest.LogCaptureFixture) -> None:
    app = AppTest.from_function(failing_page)
    with caplog.at_level(logging.ERROR, logger="views.common"):
        app.run()
        app.run()

    references = [r.args[0] for r in failure_records(caplog)]
    assert len(references) == 2 and references[0] != references[1]
    assert REFERENCE.search(app.error[0].value).group(1) == references[1]
    assert "(user -, workspace -)" in failure_records(caplog)[0].getMessage()


def test_a_user_error_is_shown_as_it_is_and_not_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    app = AppTest.from_function(refused_page)
    with caplog.at_level(logging.DEBUG, logger="views.common"):
        app.run()

    assert [e.value for e in app.error] == [
        "Could not compare the quotas: the fiscal year 1999 has no quotas"]
    assert failure_records(caplog) == []
