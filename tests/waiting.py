"""Waiting for a condition in a test: poll it until a deadline, never sleep a fixed time.

A fixed sleep followed by an assertion fails on a loaded machine (the thing waited for
came later) and wastes time on an idle one; `wait_until` returns as soon as the
condition holds and fails, saying what it last saw, only once the deadline has passed.
"""

import time


def wait_until(condition, timeout_s, interval_s=0.05, message="the condition"):
    """Calls `condition()` every `interval_s` seconds until it returns something truthy.

    Args:
        condition: a function of no arguments; what it returns is the test's value.
        timeout_s: seconds to wait at most (measured on the monotonic clock).
        interval_s: seconds between two calls.
        message: what was waited for, or a function of no arguments returning it (called
            only on failure: a process's output, say).

    Returns:
        The first truthy value `condition()` returned.

    Raises:
        AssertionError: `condition()` was still falsy after `timeout_s`; the message
            names what was waited for and the last value seen.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = message() if callable(message) else message
            raise AssertionError(
                f"{said} did not hold within {timeout_s:g} s (last value: {value!r})"
            )
        time.sleep(interval_s)
