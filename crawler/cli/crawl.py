"""``crawl`` and ``demo``: run a crawl in this process, then summarise it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.cli.params import DIR, PURPOSES

# crawler.frontier.opening.EMBEDDED, spelled out here (a test checks they agree): the option's
# default is needed to build the command line, and the frontier code is loaded only by a crawl.
EMBEDDED = "embedded"

if TYPE_CHECKING:
    from collections.abc import Iterator


def _summary_lines(summary: dict[str, Any]) -> Iterator[str]:
    yield f"captured {summary['captured']} pages, refused {summary['refused']} URLs"
    for reason, count in summary["refused_by"].items():
        yield f"  refused {count:>5}  {reason}"
    if summary["hosts"]:
        width = max(len(h) for h in summary["hosts"])
        yield f"  {'host':<{width}}  captured  refused"
        for host, counts in summary["hosts"].items():
            yield f"  {host:<{width}}  {counts['captured']:>8}  {counts['refused']:>7}"
    bounds = summary.get("bounds", {})
    for name, what in (
        ("host_budget", "reached the per-host page budget (PERMITCRAWL_HOST_MAX_PAGES); URLs not requested"),
        ("host_queue", "had more links than three times the page budget; links not scheduled"),
        ("depth", "had links past the depth limit (DEPTH_LIMIT); links not followed"),
        ("page_links", "had pages of more than 10,000 links; links not followed"),
        ("sitemap", "had sitemaps past 50,000 URLs or 50 MiB; sitemaps read in part"),
    ):
        hits = bounds.get(name) or {}
        if hits:
            yield f"{len(hits)} host{'s' if len(hits) != 1 else ''} {what}:"
            for host, count in sorted(hits.items(), key=lambda item: (-item[1], item[0]))[:20]:
                yield f"  {count:>7}  {host}"
            if len(hits) > 20:
                yield f"  ... and {len(hits) - 20} more hosts"


def _overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """Parse ``-s NAME=VALUE`` options, warning about names that look like a typo of a known one."""
    from crawler.adapters.overrides import parse_overrides, suspect_names

    parsed = parse_overrides(pairs)
    for warning in suspect_names(parsed):
        click.echo(f"Warning: {warning}", err=True)
    return parsed


def _run(out: Path, seeds: list[str], *, demo: bool = False, **options: Any) -> str | None:
    """Run a crawl writing to ``out`` and print its summary; ``options`` go to prepare_crawl.

    A crawl of the user's own (not ``demo``) into a demo's directory makes it
    the user's: the next demo will refuse to replace it. Fails (exit 1) when
    the crawl could not run, could not start (its spider failed before reading
    every seed), could not write its output or its frontier. Run again with the
    same command after any stop (a kill included), it resumes from the frontier.
    """
    from crawler.adapters.runner import check_frontier, lock_output, prepare_crawl, run_crawl
    from crawler.frontier.embedded import FILE_NAME
    from crawler.localweb.demo import claim_demo_out
    from crawler.storage.queries import open_crawl, summary

    prepared = prepare_crawl(out, **options)  # every setting checked: nothing is created before
    check_frontier(prepared, seeds)  # a Redis that does not answer, or holds another crawl: nothing made
    lock_output(out)  # one writer per crawl directory, for the rest of this process
    if not demo and claim_demo_out(out):
        click.echo(
            f"{out} was made by 'permitcrawl demo'; it now holds a crawl of yours, "
            "so 'permitcrawl demo' will no longer replace it",
            err=True,
        )
    frontier = options.get("frontier") or EMBEDDED
    if frontier == EMBEDDED and (out / FILE_NAME).is_file():
        click.echo(f"Resuming the crawl in {out} (its frontier is {out / FILE_NAME})", err=True)
    result = run_crawl(prepared, seeds=seeds)
    if result.error:
        raise click.ClickException(f"the crawl could not run: {result.error}")
    if result.finish_reason == "archive_error":
        raise click.ClickException(
            f"the crawl stopped: its output could not be written (see the log); output so far is in {out}"
        )
    if result.finish_reason == "writer_lost":
        raise click.ClickException(
            f"the crawl stopped: its writer process ended unexpectedly (see the log); what was committed "
            f"is in {out}: run the same command again to resume"
        )
    if result.finish_reason == "frontier_error":
        raise click.ClickException(
            f"the crawl stopped: its frontier ({frontier}) could not be used (see the log); run the same "
            "command again to resume once it can"
        )
    if result.crawl_id is None:
        raise click.ClickException("the crawl did not start; see the log above")
    if result.finish_reason == "start_error":
        raise click.ClickException(
            "the crawl could not start: reading its seeds failed (see the log above); "
            f"what it recorded is in {out}"
        )
    db = open_crawl(out)
    for line in _summary_lines(summary(db, result.crawl_id)):
        click.echo(line, err=True)  # a summary: the crawl's data is in the directory
    for line in _spending_lines(db):
        click.echo(line, err=True)
    left = _left_in_frontier(out) if frontier == EMBEDDED else None
    if left:
        click.echo(
            f"{left} URLs are still queued in the frontier: crawl into {out} again to go on",
            err=True,
        )
    click.echo(f"finished ({result.finish_reason}); output in {out}", err=True)
    return result.crawl_id


def _spending_lines(db: Any) -> Iterator[str]:
    """What the crawl directory has paid for (pay per crawl), per currency; nothing if nothing was paid."""
    from crawler.storage.charges import spending

    for currency, total in spending(db)["totals"].items():
        line = f"pay per crawl: charged {currency} {total['charged']}"
        if total["unsettled"]:
            line += f", and {currency} {total['unsettled']} unsettled (counted at max-price: see report)"
        yield line


def _left_in_frontier(out: Path) -> int | None:
    """URLs queued in ``out``'s embedded frontier (None if it cannot be read: said elsewhere)."""
    from crawler.frontier.base import FrontierError
    from crawler.frontier.embedded import FILE_NAME, open_readonly

    try:
        reader = open_readonly(out / FILE_NAME)
        try:
            return reader.counts().queued
        finally:
            reader.close()
    except FrontierError:
        return None


class _Price(click.ParamType):
    """A price as pay per crawl writes it: ``USD 0.01`` (a currency code, one space, a decimal amount)."""

    name = "price"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from policies.payment import parse_price

        try:
            return str(parse_price(str(value)))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


PRICE = _Price()


def _crawl_options(func: Any) -> Any:
    options = [
        click.option(
            "--purpose", type=PURPOSES, default=None, help="What the pages are for [default: ai-train]."
        ),
        click.option(
            "--default-policy",
            type=click.Choice(["allow", "deny"]),
            default=None,
            help="When no signal says anything: allow (opt-out regime, the default) or deny (opt-in).",
        ),
        click.option(
            "--max-pages",
            type=click.IntRange(min=1),
            default=None,
            help="Capture this many pages at most, then stop (PERMITCRAWL_MAX_PAGES).",
        ),
        click.option(
            "--max-depth", type=click.IntRange(min=0), default=None, help="Follow links this deep at most."
        ),
        click.option(
            "-s",
            "--set",
            "overrides",
            multiple=True,
            metavar="NAME=VALUE",
            help="Override a Scrapy or permitcrawl setting (repeatable).",
        ),
        click.option(
            "--policies",
            "store_dir",
            type=DIR,
            default=None,
            help="A ToS policy store (permitcrawl policy init); without one no ToS review applies.",
        ),
        click.option(
            "--rsl-credentials",
            "rsl_credentials",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="RSL licence servers' client credentials (TOML, mode 0600): ask them for licence tokens.",
        ),
        click.option(
            "--exclude-list",
            "exclude_lists",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="FILE",
            help="Never request the hosts, domains and URL prefixes this file lists, one a line "
            "(repeatable; POLICY_EXCLUDE_LISTS).",
        ),
        click.option(
            "--unreviewed",
            type=click.Choice(["hold", "allow", "deny"]),
            default=None,
            help="Where unreviewed or changed terms speak of scraping or AI [default: hold].",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            help="Log more: -v a line per decision (each capture and refusal, and why), -vv debugging.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _log_level(verbose: int) -> str:
    return ("WARNING", "INFO", "DEBUG")[min(verbose, 2)]


@click.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--seeds",
    "seeds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of seed URLs, one per line.",
)
@click.option("--out", type=DIR, required=True, help="Crawl directory to write.")
@click.option(
    "--frontier",
    default=EMBEDDED,
    show_default=True,
    metavar="embedded|redis://HOST:PORT/DB",
    help="Where the URLs to fetch wait: SQLite in --out, or Redis shared by many workers.",
)
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="KEY.jwk",
    help="Sign every request (Web Bot Auth; PERMITCRAWL_SIGN_KEY) with this private key "
    "(permitcrawl keys generate); needs --signature-agent.",
)
@click.option(
    "--signature-agent",
    default=None,
    metavar="https://ORIGIN",
    help="The https origin serving the key's directory at /.well-known/http-message-signatures-directory, "
    "sent as Signature-Agent (PERMITCRAWL_SIGNATURE_AGENT); needs --sign.",
)
@click.option(
    "--max-price",
    type=PRICE,
    default=None,
    metavar='"USD 0.01"',
    help="Pay for pages of hosts that answer HTTP 402 (pay per crawl), at most this much a page; "
    "needs --sign "
    "(PERMITCRAWL_MAX_PRICE).",
)
@click.option(
    "--budget",
    type=PRICE,
    default=None,
    metavar='"USD 5"',
    help="What the crawl may spend in all with --max-price, never exceeded (PERMITCRAWL_BUDGET).",
)
@click.option(
    "--domain-budget",
    type=PRICE,
    default=None,
    metavar='"USD 0.50"',
    help="What the crawl may spend per registrable domain with --max-price (PERMITCRAWL_DOMAIN_BUDGET).",
)
@_crawl_options
def crawl(
    urls: tuple[str, ...],
    seeds_file: Path | None,
    out: Path,
    overrides: tuple[str, ...],
    verbose: int,
    **options: Any,
) -> None:
    """Crawl from seed URLs, staying on each seed's host, and write WARC files and provenance.db.

    Every URL is judged before it is requested; refused URLs are recorded,
    never fetched. Re-running the same command on the same --out resumes, even
    after a kill. With --frontier redis://HOST:PORT/DB, every worker runs the
    same command with its own --out and they share the crawl. With --sign and
    --signature-agent, every request (pages, robots.txt and every other
    evidence document) is signed as Web Bot Auth says; a request that cannot be
    signed is not sent.

    \b
    Example:
        permitcrawl crawl https://example.org/ --out crawls/example --max-pages 100
        permitcrawl crawl --seeds seeds.txt --out crawls/batch1 -s CONCURRENT_REQUESTS=32
        permitcrawl crawl https://example.org/ --out crawls/signed \\
            --sign crawler.jwk --signature-agent https://crawler.example
        permitcrawl crawl https://example.org/ --out crawls/paid --sign crawler.jwk \\
            --signature-agent https://crawler.example --max-price "USD 0.01" --budget "USD 5"
        permitcrawl crawl --seeds seeds.txt --out crawls/eu --exclude-list infringing-sites.txt
    """
    from crawler.adapters.spiders.seeds import check_seed, read_seed_file

    seeds = [check_seed(u, "seed URL") for u in urls]
    if seeds_file is not None:
        seeds += read_seed_file(seeds_file)
    if not seeds:
        raise click.UsageError("give at least one seed URL, or --seeds FILE")
    _run(out, seeds, overrides=_overrides(overrides), log_level=_log_level(verbose), **options)


@click.command()
@click.option(
    "--out",
    type=DIR,
    default=Path("permitcrawl-demo"),
    show_default=True,
    help="Crawl directory to write: new, empty, or made by an earlier demo (then replaced).",
)
@_crawl_options
def demo(out: Path, overrides: tuple[str, ...], verbose: int, **options: Any) -> None:
    """Crawl the built-in demo web (served on 127.0.0.1, no network needed) and summarise.

    \b
    Example:
        permitcrawl demo
        permitcrawl pages permitcrawl-demo --usable
        permitcrawl explain permitcrawl-demo http://open.demo.test/private/notes
    """
    import logging
    import shutil

    from crawler.adapters.runner import lock_output, prepare_crawl
    from crawler.localweb.demo import (
        DEMO_SEEDS,
        DEMO_SITES,
        DemoHostsDown,
        check_demo_out,
        demo_store,
        describe_demo,
        prepare_demo_out,
    )
    from crawler.localweb.server import serve

    parsed = _overrides(overrides)
    signing = sorted({"PERMITCRAWL_SIGN_KEY", "PERMITCRAWL_SIGNATURE_AGENT"} & set(parsed))
    if signing:
        raise click.UsageError(
            f"-s {signing[0]}: the demo does not sign its requests (its hosts are made up and verify "
            "nothing); expected permitcrawl crawl --sign KEY.jwk --signature-agent https://ORIGIN"
        )
    replace = check_demo_out(out, options.get("store_dir"))
    # Every setting is checked before the directory is touched (the packaged store stands in for its copy).
    prepare_crawl(out, overrides=parsed, **{**options, "store_dir": options.get("store_dir") or demo_store()})
    lock_output(out)  # before anything is removed: another process may be writing there
    try:
        prepare_demo_out(out, replace=replace)
        if options.get("store_dir") is None:
            # The demo's own store, copied so that it can be edited (and used elsewhere: see check_demo_out).
            options["store_dir"] = out / "policies"
            shutil.copytree(demo_store(), options["store_dir"])
    except OSError as exc:
        raise click.ClickException(f"could not prepare {out} for the demo: {exc}") from exc
    server = serve(DEMO_SITES)
    # The demo hosts exist only on the local server: route every request through it.
    for name in ("no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY"):
        os.environ.pop(name, None)
    os.environ["http_proxy"] = server.proxy_url
    click.echo(f"Serving the demo web ({len(DEMO_SITES)} hosts) on {server.proxy_url}", err=True)
    for line in describe_demo():
        click.echo(line, err=True)
    logging.getLogger("scrapy.downloadermiddlewares.retry").addFilter(DemoHostsDown())
    try:
        _run(
            out,
            list(DEMO_SEEDS),
            demo=True,
            overrides=parsed,
            log_level=_log_level(verbose),
            # A local web answers in microseconds: no need to wait seconds between requests.
            extra={"AUTOTHROTTLE_START_DELAY": 0.05, "PROGRESS_INTERVAL": 0},
            frontier=EMBEDDED,
            **options,
        )
    finally:
        server.close()
    click.echo(
        f"\nNext: permitcrawl pages {out} --usable\n"
        f"      permitcrawl explain {out} http://open.demo.test/private/notes\n"
        f"      permitcrawl policy queue {out} --store {options['store_dir']}\n"
        f"      permitcrawl audit {out} && permitcrawl report {out}",
        err=True,
    )
