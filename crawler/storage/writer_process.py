"""The archive writer in a process of its own: WARC records, digests, compression and commits off the crawl.

No Scrapy here. The crawl process sends typed values (a
:class:`~crawler.storage.records.Capture`, a refusal's decision, an evidence
document) through a pipe, pickled, in batches of up to ``BATCH`` messages (a
flush, the start and the end go at once; a poll sends what waits); the writer
process rebuilds them and hands them, in the order sent, to an
:class:`~crawler.storage.writer.ArchiveWriter`,
which keeps today's guarantees there: WARC bytes reach the file before any row
that points at them is committed, and a held unit commits only once released.

What the crawl needs back at once is made in the crawl process: the WARC
record id of a capture's response and of an evidence document (decisions of
later pages cite evidence by record id) is assigned before sending, and the
writer gives the record that id. Everything else comes back on a second pipe,
in the order it happened (:class:`Report`): how many messages are done (for
back-pressure), which flush committed (only then does a page count as done),
an error, the end.

Back-pressure: when the writer is more than ``bound`` messages behind, the
sender blocks until it catches up (the crawl waits; nothing is dropped); a
write also blocks while the pipe (1 MiB) is full. The writer reads the pipe
itself, between messages: no thread of its own, whose GIL hand-overs would
cost what a writer thread in the crawl cost (see bench/README.md). A
writer that dies (killed, or any error) is noticed at the next send, wait or
poll: :class:`WriterLost` or :class:`WriterFailed` is raised, never a hang.
After its first error the writer writes nothing more: every later message is
skipped, and at the end it commits no row the crawl was not told of, so a page
never counts as done unless the crawl heard its rows committed.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import multiprocessing
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from crawler.errors import ProvenanceError
from crawler.storage.provenance import ProvenanceDB, open_readonly
from crawler.storage.reconcile import reconcile
from crawler.storage.warc import WarcStore, new_record_id
from crawler.storage.writer import ArchiveWriter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime
    from multiprocessing.connection import Connection
    from pathlib import Path

    import sqlite_utils

    from crawler.storage.records import Capture, CrawlStart, Fence
    from crawler.storage.warc import HttpExchange
    from policies.decision import Decision
    from policies.document import Document

JOIN_SECONDS = 30.0  # how long the end of a writer that said it finished may take
PR_SET_PDEATHSIG = 1  # prctl(2)
PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size for unprivileged processes
# Messages sent in one write: each write wakes the writer, and on a busy machine every wake-up
# costs the crawl a context switch. A flush, the start and the end go at once.
BATCH = 16


class WriterLost(ProvenanceError):
    """The writer process ended without being asked to (killed, or it crashed)."""


class WriterFailed(ProvenanceError):
    """The writer process could not write (its error is the message); it writes nothing more."""


# -- what the writer needs to open the output ----------------------------------------------------


@dataclass(frozen=True)
class WarcSpec:
    """One WARC store's settings (see :class:`~crawler.storage.warc.WarcStore`)."""

    directory: Path
    prefix: str
    max_size: int
    gzip_level: int
    info: dict[str, str]

    def open(self, record_id: Callable[[], str]) -> WarcStore:
        """The store these settings describe, taking its record ids from ``record_id``."""
        return WarcStore(
            self.directory,
            prefix=self.prefix,
            max_size=self.max_size,
            gzip_level=self.gzip_level,
            info=self.info,
            record_id=record_id,
        )


@dataclass(frozen=True)
class WriterSpec:
    """Where the writer writes: the page and evidence WARC stores, the database, rows per commit.

    ``recovered``: WARC files just renamed from ``.open``, which reconciling reads.
    """

    pages: WarcSpec
    evidence: WarcSpec
    provenance_db: Path
    batch_size: int
    recovered: tuple[Path, ...] = ()


# -- messages: the crawl to the writer ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """Write the configuration record and the crawl's row (answered with ``started``).

    ``pid``: the crawl's process, recorded in its row (rather than the writer's).
    """

    start: CrawlStart
    pid: int


@dataclass(frozen=True, slots=True)
class RecordCapture:
    """Write a capture; its response record gets ``record_id``."""

    capture: Capture
    record_id: str


@dataclass(frozen=True, slots=True)
class RecordEvidence:
    """Write an evidence document; its response record (if ``exchange``) gets ``record_id``."""

    crawl_id: str
    document: Document
    origin: str
    exchange: HttpExchange | None
    details: Mapping[str, Any] | None
    record_id: str


@dataclass(frozen=True, slots=True)
class RecordRefusal:
    """Queue a refusal row (held under ``fence``'s key, if any)."""

    crawl_id: str
    decision: Decision
    status: int | None
    response_headers: list[tuple[str, str]] | None
    evidence: Mapping[str, Any] | None
    fence: Fence | None


@dataclass(frozen=True, slots=True)
class AddLease:
    """Queue a lease row."""

    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Release:
    """Queue the units held under ``keys`` for the next commit."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DropHeld:
    """Forget the units held under ``keys`` (their request was never sent)."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Flush:
    """Write out the WARC buffers and commit every queued row; answered with ``committed`` and ``token``."""

    token: int


@dataclass(frozen=True, slots=True)
class Finish:
    """Commit, close the WARC files, record the crawl's end; answered with ``finished``. The last message."""

    crawl_id: str | None
    finished_at: datetime
    finish_reason: str
    stats: Mapping[str, Any]


Message = (
    Start | RecordCapture | RecordEvidence | RecordRefusal | AddLease | Release | DropHeld | Flush | Finish
)


@dataclass(frozen=True, slots=True)
class Report:
    """The writer to the crawl. ``kind``: ready, started, done, committed, error, finished.

    ``number``: ready, how many orphan records reconciling named superseded;
    done, how many messages are processed; committed, the flush's token.
    ``error``: what failed (error; started or finished, if something did).
    """

    kind: str
    number: int = 0
    error: str | None = None


def describe(exc: BaseException) -> str:
    """An error as one line: its text, or its type if it has none."""
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return text or type(exc).__name__


# -- the writer process ---------------------------------------------------------------------------


class _Ids:
    """Record ids for a store: the one set for the next record, else fresh ones."""

    def __init__(self) -> None:
        self.next: str | None = None

    def __call__(self) -> str:
        given, self.next = self.next, None
        return given or new_record_id()


def _relative(base: Path, path: Path) -> str:
    # Rows name WARC files relative to the database, so a crawl directory can move.
    return os.path.relpath(path, base).replace(os.sep, "/")


class _Served:
    """The writer's state in its process: the stores with their id hooks, the ArchiveWriter, failed or not."""

    def __init__(self, spec: WriterSpec) -> None:
        self.page_ids, self.evidence_ids = _Ids(), _Ids()
        self.pages = spec.pages.open(self.page_ids)
        self.evidence = spec.evidence.open(self.evidence_ids)
        db = ProvenanceDB.open(spec.provenance_db, batch_size=spec.batch_size)
        self.reconciled = len(reconcile(spec.provenance_db.parent, db.db, recovered=spec.recovered))
        base = spec.provenance_db.parent
        self.writer = ArchiveWriter(
            self.pages,
            db,
            evidence_warc=self.evidence,
            warc_path=functools.lru_cache(maxsize=64)(lambda path: _relative(base, path)),
        )
        self.failed: str | None = None

    def handle(self, message: Message) -> Report | None:
        """Carry out one message; return the report it is answered with, if any."""
        writer = self.writer
        match message:
            case RecordCapture(capture, record_id):
                self.pages.begin_unit()  # a new file's warcinfo takes its id before the response
                self.page_ids.next = record_id
                records = writer.record_capture(capture)
                if records.response.record_id != record_id:
                    raise ProvenanceError(f"the capture of {capture.exchange.url} got another record id")
            case RecordEvidence(crawl_id, document, origin, exchange, details, record_id):
                if exchange is not None:
                    self.evidence.begin_unit()
                    self.evidence_ids.next = record_id
                writer.record_evidence(crawl_id, document, origin=origin, exchange=exchange, details=details)
            case RecordRefusal(crawl_id, decision, status, headers, evidence, fence):
                writer.record_refusal(
                    crawl_id,
                    decision,
                    status=status,
                    response_headers=headers,
                    evidence=evidence,
                    fence=fence,
                )
            case AddLease(row):
                writer.db.add_lease(row)
            case Release(keys):
                writer.db.release(keys)
            case DropHeld(keys):
                writer.db.drop_held(keys)
            case Flush(token):
                writer.flush()
                return Report("committed", token)
            case Start(start, pid):
                return self._start(start, pid)
        return None

    def _start(self, start: CrawlStart, pid: int) -> Report:
        # As the crawl did it inline: the crawl row is written even if the configuration record is not.
        error = None
        record_id = None
        try:
            self.pages.directory.mkdir(parents=True, exist_ok=True)
            record_id = self.writer.record_configuration(start)
        except Exception as exc:
            error = describe(exc)
        self.writer.record_start(start, record_id)
        with self.writer.db.db.atomic():
            self.writer.db.db.table("crawls").update(start.crawl_id, {"pid": pid})
        if error is not None:
            self.failed = error
        return Report("started", error=error)

    def carry_out(self, message: Message) -> Report | None:
        """Carry out a message unless the writer failed earlier; the report it is answered with, if any.

        The first error is reported, and makes the writer skip every later message but the end.
        """
        if self.failed is not None:
            return None
        try:
            return self.handle(message)
        except Exception as exc:
            self.failed = describe(exc)
            return Report("error", error=self.failed)

    def finish(self, message: Finish) -> Report:
        if self.failed is not None:
            # Rows the crawl was never told were committed stay out: their pages are fetched again,
            # and the records they point at are named superseded then.
            self.writer.db.before_flush = functools.partial(_refuse, self.failed)
        try:
            self.writer.finish(
                message.crawl_id,
                finished_at=message.finished_at,
                finish_reason=message.finish_reason,
                stats=message.stats,
            )
        except Exception as exc:
            return Report("finished", error=self.failed or describe(exc))
        return Report("finished", error=self.failed)


def _refuse(error: str) -> None:
    raise ProvenanceError(f"the writer failed earlier ({error}); uncommitted rows are left out")


def _die_with(parent: int) -> None:
    """Be killed when the crawl process dies (Linux): a crawl killed leaves no writer behind it.

    Otherwise a writer would go on writing into a crawl directory that the
    resumed crawl already reconciles. Elsewhere the writer ends when it reads
    the end of the pipe, doing nothing more.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # it died before the request took hold


def serve(spec: WriterSpec, inbox: Connection, outbox: Connection, bound: int, parent: int) -> None:
    """The writer process: open the output, then carry out messages in order until Finish or the crawl's end.

    Ctrl-C reaches the whole process group: the writer ignores it, and ends
    when the crawl tells it to (or the crawl's end of the pipe closes, or the
    crawl process dies: then at once on Linux, leaving what it was sent undone).
    """
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        served = _Served(spec)
    except Exception as exc:
        outbox.send(Report("error", error=describe(exc)))
        return
    outbox.send(Report("ready", served.reconciled))
    # The pipe itself is the queue (1 MiB; the crawl also stops at ``bound`` messages behind): no
    # reader thread, whose every hand-over of the GIL would cost the writer a switch interval.
    step = max(1, bound // 4)
    done = 0
    while True:
        try:
            batch: list[Message] = inbox.recv()
        except (EOFError, OSError):
            return  # the crawl process is gone: nothing more is committed, as if both were killed
        for message in batch:
            if isinstance(message, Finish):
                outbox.send(served.finish(message))
                return
            report = served.carry_out(message)
            done += 1
            if report is not None:
                outbox.send(report)
            if done % step == 0:  # while the writer lags, a report every quarter of the bound
                outbox.send(Report("done", done))
        if not inbox.poll():  # caught up: said at once
            outbox.send(Report("done", done))


# -- the crawl's side -----------------------------------------------------------------------------


class WriterClient:
    """The crawl's end of the writer process: sends in order, with back-pressure; reads its reports.

    Nothing here blocks except :meth:`start`, a send while the writer is more
    than ``bound`` messages behind, :meth:`sync` and :meth:`finish`; each of
    those returns (or raises) as soon as the writer process ends.
    """

    def __init__(self, spec: WriterSpec, *, bound: int) -> None:
        if bound < 1:
            raise ValueError(f"bound must be at least 1, got {bound}")
        self.spec = spec
        self.bound = bound
        self.rows = RemoteRows(self)
        self.pid: int | None = None
        self._process: Any = None
        self._send_conn: Connection | None = None
        self._reports: Connection | None = None
        self._batch: list[Message] = []  # handed over, not yet written to the pipe
        self._sent = 0  # messages handed over (batched or written)
        self._done = 0
        self.waits = 0  # how many sends waited for the writer to catch up (back-pressure)
        self._committed: deque[int] = deque()  # flush tokens committed, their hooks not yet run
        self._highest = 0  # the highest flush token committed
        self._last_token = 0
        self._started: Report | None = None
        self._finished: Report | None = None
        self.error: ProvenanceError | None = None  # set once: the writer failed or was lost

    # -- the process --------------------------------------------------------------------------

    def start(self) -> int:
        """Start the writer process and wait until its output is open; return how many records it reconciled.

        Raises ProvenanceError with the writer's reason if it cannot open the output.
        """
        # Spawned: never fork a process that runs a reactor (its threads and file descriptors).
        context = multiprocessing.get_context("spawn")
        inbox_read, inbox_write = context.Pipe(duplex=False)
        outbox_read, outbox_write = context.Pipe(duplex=False)
        process = context.Process(
            target=serve,
            args=(self.spec, inbox_read, outbox_write, self.bound, os.getpid()),
            name="permitcrawl-writer",
            daemon=True,
        )
        process.start()
        # Only the writer holds its ends: its death closes them, and a send or read here says so.
        inbox_read.close()
        outbox_write.close()
        _widen(inbox_write)
        self._process, self.pid = process, process.pid
        self._send_conn, self._reports = inbox_write, outbox_read
        report = self._next_report()
        if report.kind != "ready":
            self._reap()
            raise ProvenanceError(report.error or "the writer process could not open the output")
        return report.number

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.exitcode is None and self.error is None

    def _lost(self) -> WriterLost:
        process = self._process
        with contextlib.suppress(Exception):
            process.join(timeout=1.0)
        code = process.exitcode if process is not None else None
        if code is None:
            how = "its pipe closed"
        elif code < 0:
            how = f"killed by signal {-code} ({signal.Signals(-code).name})"
        else:
            how = f"exit code {code}"
        return WriterLost(f"the writer process (pid {self.pid}) ended unexpectedly: {how}")

    def _set_error(self, error: ProvenanceError) -> ProvenanceError:
        if self.error is None:
            self.error = error
        return self.error

    def _reap(self) -> None:
        for conn in (self._send_conn, self._reports):
            if conn is not None:
                conn.close()
        self._send_conn = self._reports = None
        if self._process is not None:
            self._process.join(timeout=JOIN_SECONDS)
            if self._process.exitcode is None:
                self._process.kill()
                self._process.join()

    # -- reports ------------------------------------------------------------------------------

    def _next_report(self, timeout: float | None = None) -> Report:
        """Wait for the next report (``timeout``: at most so long, then Report("none")).

        Raises WriterLost if the process ends with nothing more to read.
        """
        reports = self._reports
        if reports is None:
            raise self.error or WriterLost("the writer process is not running")
        if timeout == 0:
            # One poll(2): a dead writer's pipe reads as its end (EOF), so this sees a death too.
            ready: list[Any] = [reports] if reports.poll() else []
        else:
            ready = wait([reports, self._process.sentinel], timeout)
        if not ready:
            return Report("none")
        if reports in ready or reports.poll():
            try:
                return reports.recv()
            except (EOFError, OSError):
                pass
        raise self._set_error(self._lost())

    def _take(self, report: Report) -> None:
        match report.kind:
            case "done":
                self._done = report.number
            case "committed":
                self._committed.append(report.number)
                self._highest = max(self._highest, report.number)
            case "error":
                self._set_error(WriterFailed(f"the archive writer failed: {report.error}"))
            case "started":
                self._started = report
                if report.error is not None:  # the writer writes nothing more (see serve)
                    self._set_error(WriterFailed(f"the archive writer failed: {report.error}"))
            case "finished":
                self._finished = report

    def drain(self) -> None:
        """Read every report waiting, without blocking; raise if the writer failed or is lost."""
        if self.error is not None:
            raise self.error
        while True:
            report = self._next_report(timeout=0)
            if report.kind == "none":
                break
            self._take(report)
        if self.error is not None:
            raise self.error

    def poll(self) -> None:
        """Send what waits, read the reports waiting, run the after-commit hooks of every flush committed."""
        self._write()
        self.drain()
        while self._committed:
            self._committed.popleft()
            self.rows.committed()

    def _wait(self, until: Callable[[], bool]) -> None:
        self._write()  # what the writer is waited for must have reached it
        while not until():
            if self.error is not None:
                raise self.error
            self._take(self._next_report())
        if self.error is not None:
            raise self.error

    # -- sending ------------------------------------------------------------------------------

    def send(self, message: Message, *, now: bool = False) -> None:
        """Send one message, in order; first wait while the writer is more than ``bound`` messages behind.

        Messages go in batches of ``BATCH``; ``now``: this one and those before
        it go at once (a poll sends what waits, too).
        """
        if self.error is not None:
            raise self.error
        if self._sent - self._done >= self.bound:
            self.waits += 1
            self._wait(lambda: self._sent - self._done < self.bound)
        self._batch.append(message)
        self._sent += 1
        if now or len(self._batch) >= BATCH:
            self._write()

    def _write(self) -> None:
        """Write the messages handed over to the pipe (one pickle, one write); read the reports waiting."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        assert self._send_conn is not None
        try:
            self._send_conn.send(batch)
        except OSError:
            raise self._set_error(self._lost()) from None
        self.drain()

    def record_capture(self, capture: Capture) -> str:
        """Send a capture; return its response record's id (the record is written later)."""
        record_id = new_record_id()
        if capture.fence is not None:
            self.rows.hold(capture.fence.key)
        self.send(RecordCapture(capture, record_id))
        return record_id

    def record_evidence(
        self,
        crawl_id: str,
        document: Document,
        *,
        origin: str,
        exchange: HttpExchange | None,
        details: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Send an evidence document; return the record id it will have (None: nothing came back)."""
        record_id = new_record_id()
        self.send(RecordEvidence(crawl_id, document, origin, exchange, details, record_id))
        return record_id if exchange is not None else None

    def record_refusal(
        self,
        crawl_id: str,
        decision: Decision,
        *,
        status: int | None = None,
        response_headers: list[tuple[str, str]] | None = None,
        evidence: Mapping[str, Any] | None = None,
        fence: Fence | None = None,
    ) -> None:
        """Send a refusal (held under ``fence``'s key until released, if any)."""
        if fence is not None:
            self.rows.hold(fence.key)
        self.send(RecordRefusal(crawl_id, decision, status, response_headers, evidence, fence))

    def start_crawl(self, start: CrawlStart) -> None:
        """Write the configuration record and the crawl's row, and wait for it.

        Raises WriterFailed if the configuration record could not be written
        (the crawl's row is written all the same), WriterLost if the writer died.
        """
        self.send(Start(start, os.getpid()), now=True)
        self._wait(lambda: self._started is not None)

    def flush(self) -> int:
        """Ask for a commit of everything sent so far; return its token (its report comes later)."""
        self._last_token += 1
        self.send(Flush(self._last_token), now=True)
        return self._last_token

    def sync(self, token: int) -> None:
        """Wait until the flush ``token`` has committed, then run the hooks of every flush committed."""
        self._wait(lambda: self._highest >= token)
        self.poll()

    def finish(
        self, crawl_id: str | None, *, finished_at: datetime, finish_reason: str, stats: Mapping[str, Any]
    ) -> None:
        """Have the writer commit, close its files and record the crawl's end; wait for it, then reap it.

        Raises WriterLost if the writer is gone (nothing of its end is
        recorded), WriterFailed if it failed (now or earlier).
        """
        try:
            if self.error is None or isinstance(self.error, WriterFailed):
                # The stats as the crawls row records them: numbers and text (datetimes as text).
                self._sent_finish(Finish(crawl_id, finished_at, finish_reason, _plain(stats)))
                self._wait_finished()
        finally:
            self.rows.close()
            self._reap()
        if self._finished is None:
            raise self.error or WriterLost("the writer process ended before the crawl's end was recorded")
        if self._finished.error:
            raise WriterFailed(f"the archive writer failed: {self._finished.error}")

    def _sent_finish(self, message: Finish) -> None:
        # Sent even after the writer failed: it closes its files and records how the crawl ended.
        assert self._send_conn is not None
        try:
            self._send_conn.send([*self._batch, message])
            self._batch = []
        except OSError:
            raise self._set_error(self._lost()) from None

    def _wait_finished(self) -> None:
        while self._finished is None:
            self._take(self._next_report())
            if isinstance(self.error, WriterLost):
                raise self.error

    def abandon(self) -> None:
        """The crawl ends without its writer (lost, or failed): close the pipes, reap the process."""
        self.rows.close()
        self._reap()


def _widen(conn: Connection) -> None:
    """Give the pipe to the writer 1 MiB (Linux; 64 KiB otherwise): a page's message goes in one write."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(conn.fileno(), setsize, PIPE_BYTES)


def _plain(stats: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value if value is None or isinstance(value, bool | int | float | str) else str(value)
        for key, value in stats.items()
    }


class RemoteRows:
    """The part of :class:`~crawler.storage.provenance.ProvenanceDB` the frontier scheduler uses, remotely.

    Same contract: ``before_flush`` runs before each commit is asked for (the
    scheduler queues a page's links there), ``after_flush`` hooks once that
    commit is done: every unit released before ``before_flush`` ran is in the
    database then. Unlike ProvenanceDB, :meth:`flush` only asks: the hooks run
    when the writer says it committed (at :meth:`WriterClient.poll`), and one
    commit at a time is asked for. Which keys hold units is known here, without
    asking. Once the writer failed or was lost, nothing is sent and no hook runs.
    """

    def __init__(self, client: WriterClient) -> None:
        self._client = client
        self._held: set[str] = set()
        self._asked: int | None = None  # the flush asked for and not yet committed
        self._again = False  # another flush was asked for meanwhile
        self.before_flush: Callable[[], None] = lambda: None
        self.after_flush: list[Callable[[], None]] = []
        self._reader: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The database, read-only (the scheduler reads what an earlier run committed)."""
        if self._reader is None:
            self._reader = open_readonly(self._client.spec.provenance_db)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _send(self, message: Message) -> None:
        # The scheduler's bookkeeping must not fail on the writer's end: the archive extension stops
        # the crawl for it, and a page whose rows were never committed is never counted done.
        with contextlib.suppress(ProvenanceError):
            self._client.send(message)

    def hold(self, key: str) -> None:
        self._held.add(key)

    def holds(self, key: str) -> bool:
        return key in self._held

    @property
    def held(self) -> int:
        return len(self._held)

    def release(self, keys: Iterable[str]) -> None:
        keys = tuple(keys)
        self._held.difference_update(keys)
        if keys:
            self._send(Release(keys))

    def drop_held(self, keys: Iterable[str]) -> None:
        keys = tuple(keys)
        self._held.difference_update(keys)
        if keys:
            self._send(DropHeld(keys))

    def add_lease(self, row: dict[str, Any]) -> None:
        self._send(AddLease(row))

    def flush(self) -> None:
        """Ask for a commit (after ``before_flush``), unless one is on its way: then another follows it."""
        if self._client.error is not None:
            return
        if self._asked is not None:
            self._again = True
            return
        self.before_flush()
        with contextlib.suppress(ProvenanceError):
            self._asked = self._client.flush()

    def committed(self) -> None:
        """The writer committed the flush asked for: run the hooks, then ask again if asked meanwhile."""
        self._asked = None
        for hook in self.after_flush:
            hook()
        if self._again:
            self._again = False
            self.flush()

    def sync(self) -> None:
        """Commit everything released so far and wait for it (the hooks run); raise if the writer cannot."""
        client = self._client
        if self._asked is not None:
            client.sync(self._asked)
        self.flush()
        if self._asked is None:
            raise client.error or ProvenanceError("the writer did not take the commit")
        client.sync(self._asked)
