"""Back-off on server errors: a host answering 429 or 5xx is sent nothing more until it had time to recover.

The crawler best practices (draft-illyes-webbotauth-cbcp, editor's copy of 5
October 2026, §2.3) ask for "back-out logic that relies on at least the standard
signals defined by Section 15.6 of [HTTP-SEMANTICS]" (the 5xx codes); 429 (RFC
6585 §4) says the same of a client, and both may carry ``Retry-After`` (RFC
9110 §10.2.3: seconds, or an HTTP-date). Scrapy's RetryMiddleware sends its
retries as soon as they are scheduled and reads no Retry-After, and AutoThrottle
never raises the delay for an error answer; so the download handler asks
:class:`HostBackoff` before each send and waits until the host's back-off has
passed. No Scrapy here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

# Hosts whose back-off is kept at once; past it, those whose back-off has ended are dropped.
KEPT = 10_000


def backs_off(status: int) -> bool:
    """True for the answers that ask a client to wait: 429 Too Many Requests and every 5xx."""
    return status == 429 or 500 <= status <= 599


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds ``Retry-After`` asks for (delay-seconds, or an HTTP-date after ``now``); None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class HostBackoff:
    """When each host (download slot) may next be sent a request, after the errors it answered.

    An error answer sets the host's back-off: the ``Retry-After`` it gives, or
    ``base`` seconds doubled at each error in a row without one, never more than
    ``maximum``; a later, longer back-off extends it, a shorter one never shortens
    it. Any other answer ends the run of errors (the next error starts again at
    ``base``). ``clock`` is monotonic seconds, ``wall`` the time Retry-After dates are read against.
    """

    def __init__(
        self,
        base: float,
        maximum: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base = base
        self.maximum = maximum
        self.clock = clock
        self.wall = wall
        self._until: dict[str, float] = {}
        self._errors: dict[str, int] = {}

    def observe(self, host: str, status: int, retry_after: str | None) -> float | None:
        """Note ``host``'s answer; return the seconds it is now backed off for (None: not an error)."""
        if not backs_off(status):
            self._errors.pop(host, None)
            return None
        errors = self._errors[host] = self._errors.get(host, 0) + 1
        asked = retry_after_seconds(retry_after, self.wall())
        wait = min(self.maximum, asked if asked is not None else self.base * 2 ** min(errors - 1, 30))
        now = self.clock()
        if len(self._until) >= KEPT:  # bounded: a host whose back-off has passed needs no entry
            self._until = {key: until for key, until in self._until.items() if until > now}
            self._errors = {key: n for key, n in self._errors.items() if key in self._until}
        self._until[host] = max(self._until.get(host, now), now + wait)
        return wait

    def remaining(self, host: str) -> float:
        """Seconds before ``host`` may be sent its next request (0: now)."""
        until = self._until.get(host)
        if until is None:
            return 0.0
        left = until - self.clock()
        if left <= 0:
            del self._until[host]
            return 0.0
        return left
