"""Running one crawl in this process: settings from the CLI, the Scrapy run, its outcome."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.adapters.overrides import check_overrides
from crawler.adapters.payment import payment_config
from crawler.adapters.spiders.seeds import SeedSpider, check_seed
from crawler.errors import ProvenanceError, SeedsError, SettingsError
from crawler.frontier.embedded import FILE_NAME, check_file
from crawler.frontier.opening import EMBEDDED, check_spec
from crawler.judging.config import CrawlSetup, check_names, share_setup
from crawler.storage.lock import lock_directory
from crawler.storage.provenance import inspect_db

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from scrapy import Spider

    from crawler.judging.config import CrawlConfig


# Where a crawl writes, under the crawl directory: every command (the lock, pages, audit, export,
# recheck) looks for the crawl there, so no ``-s`` may point any of it elsewhere.
OUTPUT_SETTINGS = {
    "WARC_DIR": "warc",
    "WARC_EVIDENCE_DIR": "evidence",
    "PROVENANCE_DB": "provenance.db",
    # Scrapy's job state is replaced by the frontier (DIR/frontier.db), which survives a kill.
    "JOBDIR": FILE_NAME,
}

# What makes a crawl resumable and fenced: the frontier scheduler, and the handler that refuses to
# send a URL whose lease was lost.
FRONTIER_SETTINGS: dict[str, Any] = {
    "SCHEDULER": "crawler.adapters.scheduler.FrontierScheduler",
    "DOWNLOAD_HANDLERS": {
        "http": "crawler.adapters.fence.FencedDownloadHandler",
        "https": "crawler.adapters.fence.FencedDownloadHandler",
    },
}


def check_output_overrides(out: Path, overrides: Mapping[str, Any]) -> None:
    """Raise SettingsError, naming each, if ``overrides`` sets where the crawl in ``out`` is written.

    ``-s PROVENANCE_DB=elsewhere`` would write a database no command finds and
    no lock guards; ``-s WARC_DIR=elsewhere``, records that ``audit`` and
    ``export`` cannot find; ``-s JOBDIR``, Scrapy's job state beside the
    frontier that already resumes the crawl; ``-s SCHEDULER``, a queue that
    survives no kill.
    """
    problems = [
        f"setting {name} cannot be set: it is {out / place}, inside the crawl directory, where every "
        f"command looks for the crawl; expected no -s {name} (choose the crawl directory instead)"
        for name, place in OUTPUT_SETTINGS.items()
        if name in overrides and name != "JOBDIR"
    ]
    if "JOBDIR" in overrides:
        problems.append(
            f"setting JOBDIR cannot be set: the crawl's frontier, {out / FILE_NAME}, resumes it (after a "
            "kill too) where Scrapy's job state would not; expected no -s JOBDIR"
        )
    problems += [
        f"setting {name} cannot be set: the crawl's frontier schedules and resumes it; expected no -s {name}"
        for name in ("SCHEDULER", "DOWNLOAD_HANDLERS")
        if name in overrides
    ]
    if "PERMITCRAWL_FRONTIER" in overrides:
        problems.append(
            "setting PERMITCRAWL_FRONTIER cannot be set with -s; expected --frontier embedded|redis://HOST:PORT/DB"
        )
    if problems:
        raise SettingsError("\n".join(problems))


def prepare_crawl(
    out: Path,
    *,
    purpose: str | None = None,
    default_policy: str | None = None,
    max_depth: int | None = None,
    max_pages: int | None = None,
    store_dir: Path | None = None,
    unreviewed: str | None = None,
    rsl_credentials: Path | None = None,
    exclude_lists: tuple[Path, ...] = (),
    overrides: dict[str, str] | None = None,
    log_level: str = "WARNING",
    extra: dict[str, Any] | None = None,
    frontier: str | None = None,
    sign_key: Path | None = None,
    signature_agent: str | None = None,
    max_price: str | None = None,
    budget: str | None = None,
    domain_budget: str | None = None,
) -> PreparedCrawl:
    """Return the settings for a crawl writing to ``out`` (WARC files, database, job state), and its setup.

    Every setting is checked here, before anything is created: our own by
    :meth:`CrawlSetup.build` (which loads the ToS store: one that does not
    validate never starts a crawl; and the signing key of ``sign_key``), Scrapy's overridden ones by
    :func:`check_overrides`. The setup built here is the crawl's only one:
    :func:`run_spider` hands it to the crawl's components;
    no override may move what is written out of ``out`` (:func:`check_output_overrides`).
    """
    settings = Settings()
    settings.setmodule("crawler.adapters.settings", priority="project")
    given: dict[str, Any] = {
        **{name: str(out / place) for name, place in OUTPUT_SETTINGS.items() if name != "JOBDIR"},
        "LOG_LEVEL": log_level,
        **(extra or {}),
    }
    if purpose is not None:
        given["POLICY_PURPOSE"] = purpose
    if default_policy is not None:
        given["POLICY_DEFAULT"] = default_policy
    if max_depth is not None:
        given["DEPTH_LIMIT"] = max_depth
    if max_pages is not None:
        given["PERMITCRAWL_MAX_PAGES"] = max_pages
    if store_dir is not None:
        given["POLICY_STORE_DIR"] = str(store_dir)
    if unreviewed is not None:
        given["POLICY_UNREVIEWED"] = unreviewed
    if sign_key is not None:
        given["PERMITCRAWL_SIGN_KEY"] = str(sign_key)
    if signature_agent is not None:
        given["PERMITCRAWL_SIGNATURE_AGENT"] = signature_agent
    if rsl_credentials is not None:
        given["POLICY_RSL_CREDENTIALS"] = str(rsl_credentials)
    for name, price in (
        ("PERMITCRAWL_MAX_PRICE", max_price),
        ("PERMITCRAWL_BUDGET", budget),
        ("PERMITCRAWL_DOMAIN_BUDGET", domain_budget),
    ):
        if price is not None:
            given[name] = price
    if exclude_lists:
        given["POLICY_EXCLUDE_LISTS"] = [str(path) for path in exclude_lists]
    if frontier is not None:
        given.update(FRONTIER_SETTINGS, PERMITCRAWL_FRONTIER=check_spec(frontier))
    settings.setdict(given, priority="cmdline")
    check_output_overrides(out, overrides or {})
    check_names(overrides or {})  # a misspelt name of ours first: its value is not even read
    check_overrides(overrides or {})
    settings.setdict(overrides or {}, priority="cmdline")
    setup = CrawlSetup.build(settings)  # fail now, with the setting named, rather than mid-start-up
    payment_config(settings)  # pay per crawl: prices, budgets, and --sign beside --max-price
    check_layout(setup.config, out / FILE_NAME if frontier == EMBEDDED else None)
    return PreparedCrawl(settings, setup)


@dataclass(frozen=True)
class PreparedCrawl:
    """A crawl's settings, every one checked, and the setup built from them once."""

    settings: Settings
    setup: CrawlSetup


def _not_a_directory(path: Path) -> str | None:
    """What ``path`` is, if something other than a directory (or nothing) is there."""
    if not os.path.lexists(path) or path.is_dir():
        return None
    if path.is_symlink() and not path.exists():
        return "a broken symbolic link"
    return "a file" if path.is_file() else "not a directory"


def check_layout(config: CrawlConfig, frontier: Path | None) -> None:
    """Refuse, before anything is created, an output that a crawl could not write into.

    Each of the WARC directory and the evidence directory must be a directory
    or absent; the provenance database must be absent or a permitcrawl
    provenance database (checked reading only); the embedded ``frontier``
    absent or a file. Raise ProvenanceError naming the path, what is there and
    what was expected.
    """
    directories = [
        (config.warc_dir, "the directory of the captured pages' WARC files"),
        (config.warc_evidence_dir, "the directory of the evidence WARC files"),
    ]
    for path, expected in directories:
        found = _not_a_directory(path)
        if found:
            raise ProvenanceError(f"{path}: is {found}; expected {expected}, or nothing there")
    if frontier is not None and os.path.lexists(frontier):
        if not frontier.is_file():
            raise ProvenanceError(
                f"{frontier}: is not a file; expected the crawl's frontier database, or nothing there"
            )
        check_file(frontier)
    if os.path.lexists(config.provenance_db):
        inspect_db(config.provenance_db)


def lock_output(out: Path) -> None:
    """Create the crawl directory ``out`` if need be and take its lock for the rest of the process.

    Raise DirectoryInUseError (naming the holder) if another process writes to
    it, ProvenanceError if it cannot be created or locked.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvenanceError(f"{out}: cannot create the crawl directory ({exc.strerror})") from exc
    lock_directory(out)


@dataclass(frozen=True)
class RunResult:
    """How a crawl run ended."""

    crawl_id: str | None
    finish_reason: str | None
    error: str | None


def run_crawl(crawl: PreparedCrawl, *, seeds: list[str]) -> RunResult:
    """Run the seed spider to completion in this process (Scrapy's reactor runs once per process).

    Call :func:`check_frontier` first, before anything is created.
    """
    return run_spider(crawl, SeedSpider, seeds=seeds)[0]


def check_frontier(crawl: PreparedCrawl, seeds: list[str]) -> None:
    """Refuse, before Scrapy starts, to join a Redis frontier that holds another crawl.

    Nothing is written: the first worker's scheduler creates the crawl when it
    opens the frontier, and checks again there; a refusal there comes from
    inside Scrapy's start-up, which then logs tracebacks of its own around the
    message. Seeds that are not URLs are left to the spider to refuse. Raises
    FrontierError (FrontierUnavailable if the server does not answer) naming
    the fields that differ.
    """
    from crawler.adapters.addon import PolicyAddon
    from crawler.adapters.scheduler import crawl_identity
    from crawler.frontier.redis import RedisFrontier

    spec = crawl.settings.get("PERMITCRAWL_FRONTIER") or EMBEDDED
    if spec == EMBEDDED:
        return  # one worker: the directory's own frontier, checked when it opens
    try:
        spider_seeds = [check_seed(seed) for seed in seeds]
    except SeedsError:
        return
    settings = crawl.settings.copy()
    PolicyAddon().update_settings(settings)  # its defaults (DEPTH_LIMIT) apply as they will in the crawl
    identity = crawl_identity(spider_seeds, crawl.setup.config, settings)
    frontier = RedisFrontier(spec, worker="check", lease_seconds=crawl.setup.config.frontier_lease)
    try:
        frontier.check(identity)
    finally:
        frontier.disconnect()


def run_spider(
    crawl: PreparedCrawl, spider_class: type[Spider], **arguments: Any
) -> tuple[RunResult, Spider | None]:
    """Run one spider to completion in this process; return how it ended, and the spider.

    The crawl's components (gate, archive, budgets) share ``crawl.setup``: the
    configuration and ToS rules checked before the crawl are those it applies
    and records.
    """
    try:
        process = CrawlerProcess(crawl.settings)
        crawler = process.create_crawler(spider_class)
        share_setup(crawler, crawl.setup)
    except Exception as exc:  # a setting Scrapy reads as it starts: said as an error, not a traceback
        return RunResult(crawl_id=None, finish_reason=None, error=f"{type(exc).__name__}: {exc}"), None
    errors: list[str] = []
    deferred = process.crawl(crawler, **arguments)
    deferred.addErrback(lambda failure: errors.append(f"{type(failure.value).__name__}: {failure.value}"))
    process.start()
    try:
        stats = crawler.stats
    except RuntimeError:  # the crawl never started; the errback has said why
        stats = None
    result = RunResult(
        crawl_id=stats.get_value("permitcrawl/crawl_id") if stats else None,
        finish_reason=stats.get_value("finish_reason") if stats else None,
        error=errors[0] if errors else None,
    )
    return result, crawler.spider
