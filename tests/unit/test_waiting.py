"""``wait_until``: the one polling loop (a value back, or an error naming what and how long)."""

from __future__ import annotations

import itertools
import time

import pytest

from employee_pipeline.waiting import WaitTimeoutError, wait_until


def test_returns_the_checks_first_truthy_value() -> None:
    answers = iter([None, 0, "", {"state": "SUCCEEDED"}])
    assert wait_until(lambda: next(answers), timeout=5, message="no answer", interval=0.001) == {"state": "SUCCEEDED"}


def test_a_check_that_holds_at_once_never_sleeps() -> None:
    slept: list[float] = []
    assert wait_until(lambda: 7, timeout=5, message="never", sleep=slept.append) == 7
    assert slept == []


def test_raises_a_timeout_error_with_the_message_and_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError, match=r"^the run is still RUNNING \(gave up after 0\.05s\)$") as raised:
        wait_until(lambda: False, timeout=0.05, message="the run is still RUNNING", interval=0.01)
    assert isinstance(raised.value, TimeoutError)
    assert 0.05 <= time.monotonic() - started < 1


def test_checks_once_more_when_the_time_is_up() -> None:
    calls: list[float] = []

    def check() -> bool:
        calls.append(time.monotonic())
        return False

    started = time.monotonic()
    with pytest.raises(WaitTimeoutError):
        wait_until(check, timeout=0.1, message="never", interval=10)
    # Not a 10 s sleep: the pause is cut to the time left, and the last check comes at the deadline.
    assert len(calls) == 2
    assert calls[-1] - started >= 0.1
    assert time.monotonic() - started < 1


def test_sleeps_the_interval_between_checks() -> None:
    slept: list[float] = []
    answers = iter([False, False, False, True])
    assert wait_until(lambda: next(answers), timeout=60, message="never", interval=0.25, sleep=slept.append)
    assert slept == [0.25, 0.25, 0.25]


def test_the_interval_is_respected_in_real_time() -> None:
    calls: list[float] = []

    def check() -> bool:
        calls.append(time.monotonic())
        return len(calls) == 3

    wait_until(check, timeout=5, message="never", interval=0.02)
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert len(gaps) == 2 and all(0.02 <= gap < 0.5 for gap in gaps)


def test_an_exception_of_the_check_ends_the_wait() -> None:
    def check() -> bool:
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="the process exited"):
        wait_until(check, timeout=5, message="never", interval=0.001)


def test_retried_exceptions_mean_not_yet_and_the_timeout_names_the_last() -> None:
    attempts: list[int] = []

    def check() -> bool:
        attempts.append(1)
        raise ValueError(f"refused {len(attempts)}")

    with pytest.raises(WaitTimeoutError, match="never accepted") as raised:
        wait_until(
            check,
            timeout=0.05,
            message="never accepted",
            interval=0.01,
            retry=lambda err: isinstance(err, ValueError),
        )
    assert isinstance(raised.value.__cause__, ValueError)
    assert str(raised.value.__cause__) == f"refused {len(attempts)}"


def test_an_exception_retry_does_not_accept_ends_the_wait() -> None:
    def check() -> bool:
        raise KeyError("other")

    with pytest.raises(KeyError):
        wait_until(check, timeout=5, message="never", retry=lambda err: isinstance(err, ValueError))


def test_the_caller_chooses_the_error() -> None:
    class NotStartedError(RuntimeError):
        pass

    with pytest.raises(NotStartedError, match=r"did not answer \(gave up after 0s\)"):
        wait_until(lambda: False, timeout=0, message="did not answer", error=NotStartedError)
