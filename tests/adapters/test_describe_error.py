"""Errors are stored and printed as `ExceptionName: message`, never as a Twisted Failure's repr."""

from __future__ import annotations

from scrapy.exceptions import DownloadFailedError
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseNeverReceived

from crawler.adapters.fetcher import describe_error


def _wrapped(error: Exception) -> DownloadFailedError:
    # As Scrapy's download handler does: the Twisted error becomes the cause.
    try:
        try:
            raise error
        except Exception as cause:
            raise DownloadFailedError(str(cause)) from cause
    except DownloadFailedError as wrapped:
        return wrapped


def test_the_causes_a_twisted_wrapper_holds_are_named() -> None:
    never = ResponseNeverReceived([Failure(ConnectionDone())])
    assert describe_error(never) == "ResponseNeverReceived: ConnectionDone: Connection was closed cleanly."
    assert (
        describe_error(_wrapped(never))
        == "DownloadFailedError: ConnectionDone: Connection was closed cleanly."
    )


def test_a_failure_repr_in_a_message_is_replaced() -> None:
    text = str(ResponseNeverReceived([Failure(ConnectionLost("gone")), Failure(ConnectionDone())]))
    assert "twisted.python.failure" in text
    described = describe_error(DownloadFailedError(text))
    assert described.startswith("DownloadFailedError: ConnectionLost: ")
    assert described.endswith(", ConnectionDone: Connection was closed cleanly.")
    assert "Failure" not in described and "<" not in described


def test_a_failure_str_with_a_traceback_is_replaced() -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        failure = Failure()
    assert describe_error(RuntimeError(str(failure))) == "RuntimeError: ZeroDivisionError: division by zero"


def test_plain_errors() -> None:
    assert describe_error(ValueError("bad")) == "ValueError: bad"
    assert describe_error(KeyError()) == "KeyError"
