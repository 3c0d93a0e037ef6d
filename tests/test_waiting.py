"""`tests.waiting.wait_until`: the value once the condition holds, a named failure after."""

import itertools
import time

import pytest

from tests.waiting import wait_until


def test_returns_the_first_truthy_value_as_soon_as_it_comes():
    values = iter([None, [], 0, ["ready"], ["later"]])
    began = time.monotonic()
    assert wait_until(lambda: next(values), timeout_s=30, interval_s=0.01) == ["ready"]
    assert next(values) == ["later"]  # not called once more after it held
    assert time.monotonic() - began < 30


def test_fails_after_the_deadline_naming_what_it_waited_for_and_saw():
    calls = itertools.count(1)
    began = time.monotonic()
    with pytest.raises(AssertionError, match=r"the run's loss did not hold within 0.2 s") as error:
        wait_until(lambda: [] if next(calls) else None, 0.2, 0.01, message=lambda: "the run's loss")
    assert time.monotonic() - began >= 0.2
    assert "last value: []" in str(error.value)
    assert next(calls) > 2  # polled, not called once
