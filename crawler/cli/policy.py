"""``permitcrawl policy``: the maintainers' commands for the ToS policy store.

The store is given with ``--store DIR`` or the ``PERMITCRAWL_POLICY_STORE``
environment variable. Every command that writes validates the whole file before
replacing it; ``validate`` is meant for CI (exit 1 with every problem listed).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

import click

from crawler.cli.output import format_option, write_rows
from crawler.cli.params import DIR, PURPOSES
from policies.errors import PolicyStoreError
from policies.files import POLICY_FILE_MAX, TERMS_FILE_MAX, read_input, read_text_input
from policies.purpose import Purpose
from policies.vocabulary import AI_SCRAPING, ALIASES, COMPETE, LICENSE

STORE_OPTION = click.option(
    "--store",
    type=DIR,
    envvar="PERMITCRAWL_POLICY_STORE",
    required=True,
    help="The policy store directory [env: PERMITCRAWL_POLICY_STORE].",
)


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; expected YYYY-MM-DD") from None


def _past_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """A date that has come: a review dated later than today (2099 for 2029) would never fall due."""
    when = _date(ctx, param, value)
    if when is not None and when > date.today():
        raise click.BadParameter(
            f"{value!r} is later than today ({date.today()}); expected the day the terms were reviewed"
        )
    return when


@click.group()
def policy() -> None:
    """Keep the per-domain Terms-of-Service rules: review, record, validate, find what to review next.

    \b
    Example:
        permitcrawl policy queue crawls/batch1 --store tos-policies
        permitcrawl policy set example.org --store tos-policies --deny ai-train ...
        permitcrawl policy review example.org --store tos-policies --reviewer "A. Maintainer"
        permitcrawl policy validate tos-policies
    """


@policy.command()
@click.argument("directory", type=DIR)
def init(directory: Path) -> None:
    """Create an empty policy store (a directory of one TOML file per domain, for git).

    \b
    Example:
        permitcrawl policy init tos-policies
        git -C tos-policies init
    """
    if directory.exists() and any(directory.glob("*.toml")):
        raise click.ClickException(
            f"{directory} already holds policy files; expected a new or empty directory"
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "README.txt").write_text(
        "A permitcrawl ToS policy store: one <registrable domain>.toml file per domain.\n"
        "Edit with 'permitcrawl policy set DOMAIN --store DIR ...'; "
        "record a review with 'permitcrawl policy review DOMAIN --store DIR --reviewer WHO'.\n"
        "Check with 'permitcrawl policy validate DIR'.\n",
        encoding="utf-8",
    )
    click.echo(f"Created an empty policy store in {directory}", err=True)


def _terms_sha256(tos_text: Path | None, tos_sha256: str | None) -> str | None:
    """The sha256 to record: of the saved terms page's normalised text, else the one given."""
    from policies.terms import terms_text, text_sha256

    if tos_text is None:
        return tos_sha256
    saved = read_input(tos_text, limit=TERMS_FILE_MAX, expected="the terms page you reviewed, saved")
    return text_sha256(terms_text(saved))


def _write(store: Path, domain: str, changes: dict[str, Any], who: str | None, *, create: bool) -> None:
    """Write the rule (see write_rule); print where it is, and whether that was a review or an edit."""
    from crawler.workflows.ledger import actor
    from policies.store import write_rule

    today = date.today()
    rule = write_rule(store, domain, changes, editor=actor(who), today=today, create=create)
    click.echo(
        f"{rule.where}: rule for {rule.scope}{'' if rule.path == '/' else rule.path}, version {rule.version}"
    )
    if changes.get("reviewed") is None and rule.edited == today:
        message = (
            f"edited by {rule.edited_by} on {rule.edited}; the review by {rule.reviewer} of {rule.reviewed} "
            f"stands (review again by {rule.review_by})"
        )
    else:
        message = f"reviewed by {rule.reviewer} on {rule.reviewed}; review again by {rule.review_by}"
    click.echo(message, err=True)


PATH_OPTION = click.option(
    "--path", "rule_path", default=None, help="Narrow the rule to a path prefix (default: the whole host)."
)
TOS_TEXT_OPTION = click.option(
    "--tos-text",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The terms as reviewed (the saved page, HTML or text): their normalised sha256 is kept.",
)
TOS_SHA256_OPTION = click.option(
    "--tos-sha256", help="The normalised-text sha256 of the terms as reviewed (as 'policy queue' shows it)."
)
REVIEW_BY_OPTION = click.option(
    "--review-by", callback=_date, help="When to review again [default: six months after --reviewed]."
)


@policy.command(name="set")
@click.argument("domain")
@STORE_OPTION
@PATH_OPTION
@click.option("--allow", multiple=True, type=PURPOSES, help="A purpose the terms grant (repeatable).")
@click.option("--deny", multiple=True, type=PURPOSES, help="A purpose the terms reserve (repeatable).")
@click.option(
    "--ai-scraping", type=click.Choice(AI_SCRAPING), help="The AI/scraping verdict (DPI vocabulary)."
)
@click.option(
    "--license",
    "license_",
    type=click.Choice(LICENSE + tuple(ALIASES)),
    help="The licence / field-of-use verdict (DPI's spelling 'Non-Comercial Only' is read as "
    "'Non-Commercial Only').",
)
@click.option("--compete", type=click.Choice(COMPETE), help="The compete / redistribution verdict.")
@click.option("--quote", multiple=True, help="The clause the verdict rests on, verbatim (repeatable).")
@click.option("--tos-url", help="Where the terms are.")
@TOS_TEXT_OPTION
@TOS_SHA256_OPTION
@click.option("--reviewer", help="Who reviewed the terms (a new rule, or a new review with --reviewed).")
@click.option(
    "--reviewed",
    callback=_past_date,
    help="When (YYYY-MM-DD) the terms were reviewed: on an existing rule, records a new review "
    "[default for a new rule: today].",
)
@REVIEW_BY_OPTION
@click.option(
    "--agreement", help="A licence or agreement that grants the allowed purposes (overrides opt-outs)."
)
@click.option("--note", help="Anything else the next reviewer should know.")
@click.option("--by", "who", default=None, help="Who makes an edit [default: your login name].")
def set_rule(
    domain: str,
    store: Path,
    rule_path: str | None,
    tos_text: Path | None,
    who: str | None,
    **fields: Any,
) -> None:
    """Create or change the rule for DOMAIN (or a subdomain of it) in its domain's file.

    A new rule is a review: it needs --ai-scraping, --license, --compete,
    --quote, --tos-url and --reviewer. On an existing rule, --reviewer with
    --reviewed records a new review (as 'policy review' does); anything else is
    an edit: only what is given changes, the review date and review-by date stay
    (unless --review-by is given), and edited / edited_by record who changed it
    and when. The store must exist ('policy init').

    \b
    Example:
        permitcrawl policy set example.org --store tos-policies \\
            --ai-scraping "No AI" --license "Unrestricted Use" --compete "Unrestricted Use" \\
            --deny ai-train --deny ai-input --allow search \\
            --quote "You may not use Content to train machine learning models." \\
            --tos-url https://example.org/terms --tos-text terms.html --reviewer "A. Maintainer"
        permitcrawl policy set example.org --store tos-policies --note "see ticket 12" --by "B. Editor"
    """
    changes: dict[str, Any] = {
        "path": rule_path,
        "ai_scraping": fields["ai_scraping"],
        "license": fields["license_"],
        "compete": fields["compete"],
        "allow": tuple(fields["allow"]) or None,
        "deny": tuple(fields["deny"]) or None,
        "quote": tuple(fields["quote"]) or None,
        "tos_url": fields["tos_url"],
        "tos_sha256": _terms_sha256(tos_text, fields["tos_sha256"]),
        "reviewer": fields["reviewer"],
        "reviewed": fields["reviewed"],
        "review_by": fields["review_by"],
        "agreement": fields["agreement"],
        "note": fields["note"],
    }
    _write(store, domain, changes, who, create=True)


@policy.command()
@click.argument("domain")
@STORE_OPTION
@PATH_OPTION
@click.option("--reviewer", required=True, help="Who reviewed the terms again.")
@click.option("--reviewed", callback=_past_date, help="When (YYYY-MM-DD) [default: today].")
@REVIEW_BY_OPTION
@TOS_TEXT_OPTION
@TOS_SHA256_OPTION
@click.option("--note", help="Anything else the next reviewer should know.")
def review(
    domain: str,
    store: Path,
    rule_path: str | None,
    reviewer: str,
    reviewed: date | None,
    review_by: date | None,
    tos_text: Path | None,
    tos_sha256: str | None,
    note: str | None,
) -> None:
    """Record that the rule for DOMAIN was reviewed again and stands: the review clock starts over.

    Sets reviewer, reviewed (today by default) and review_by (six months
    later by default); with --tos-text or --tos-sha256, the terms as read now
    (after 'policy queue' reports "terms changed"). The rule must exist.
    To change the verdict itself, use 'policy set'.

    \b
    Example:
        permitcrawl policy review example.org --store tos-policies \\
            --reviewer "A. Maintainer" --tos-text terms.html
    """
    changes: dict[str, Any] = {
        "path": rule_path,
        "reviewer": reviewer,
        "reviewed": reviewed or date.today(),
        "review_by": review_by,
        "tos_sha256": _terms_sha256(tos_text, tos_sha256),
        "note": note,
    }
    _write(store, domain, changes, None, create=False)


def _rule_data(rule: Any) -> dict[str, Any]:
    return {"where": rule.where, "version": rule.version, "merged": rule.merged, **rule.content()}


@policy.command()
@click.argument("domain")
@STORE_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def show(domain: str, store: Path, fmt: str) -> None:
    """Show the rules of DOMAIN's file (any host of the domain names it).

    \b
    Example:
        permitcrawl policy show www.example.org --store tos-policies
    """
    from policies.store import check_store
    from policies.urls import registrable_domain
    from policies.validator import load_file

    check_store(store)
    path = store / f"{registrable_domain(domain)}.toml"
    if not path.exists():
        raise click.ClickException(f"{path}: no rules for {registrable_domain(domain)}")
    rules = load_file(path)
    if fmt == "json":
        click.echo(json.dumps([_rule_data(r) for r in rules], indent=2, ensure_ascii=False))
        return
    text = read_text_input(path, limit=POLICY_FILE_MAX, expected="a policy file")  # validated just above
    click.echo(text.rstrip())
    for rule in rules:
        click.echo(f"# {rule.where}: version {rule.version}, merged label {rule.merged!r}", err=True)


# Every field of a rule's row (jsonl, csv); the table shows fewer.
RULE_FIELDS = (
    "domain",
    "scope",
    "path",
    "deny",
    "allow",
    "label",
    "reviewed",
    "review_by",
    "due",
    "version",
    "where",
)


@policy.command(name="list")
@STORE_OPTION
@click.option("--due", is_flag=True, help="Only rules whose review-by date has come.")
@format_option
def list_rules(store: Path, due: bool, fmt: str) -> None:
    """List every rule of the store, one line each.

    \b
    Example:
        permitcrawl policy list --store tos-policies --due
    """
    from policies.store import load_policies

    today = date.today()
    rows = []
    for rule in load_policies(store).all_rules():
        if due and not rule.is_due(today):
            continue
        rows.append(
            {
                "domain": rule.domain,
                "scope": rule.scope,
                "path": rule.path,
                "deny": " ".join(rule.deny),
                "allow": " ".join(rule.allow),
                "label": rule.merged,
                "reviewed": rule.reviewed.isoformat(),
                "review_by": rule.review_by.isoformat(),
                "due": rule.is_due(today),
                "version": rule.version,
                "where": rule.where,
            }
        )
    columns = ["domain", "scope", "path", "deny", "allow", "label", "review_by", "due"]
    write_rows(rows, fmt, fields=RULE_FIELDS, columns=columns)


@policy.command()
@click.argument("directory", type=DIR, required=False)
@click.option("--store", type=DIR, envvar="PERMITCRAWL_POLICY_STORE")
def validate(directory: Path | None, store: Path | None) -> None:
    """Check every policy file; exit 1 listing each problem as path:line: what; expected (for CI).

    Every problem of every file is listed, not only the first (a file that is
    not valid TOML has one: past the syntax error nothing can be read).

    \b
    Example:
        permitcrawl policy validate tos-policies
    """
    from policies.store import load_policies

    directory = directory or store
    if directory is None:
        raise click.UsageError("give the store directory, --store, or PERMITCRAWL_POLICY_STORE")
    try:
        loaded = load_policies(directory)
    except PolicyStoreError as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        problems, files = len(exc.errors), len({error.path for error in exc.errors} - {directory})
        if files:  # (not when the store itself is missing)
            click.echo(
                f"{directory}: {problems} problem{'s' * (problems != 1)} in {files} file{'s' * (files != 1)}",
                err=True,
            )
        raise SystemExit(1) from exc
    lists = _check_exclusion_lists(directory)
    rules = loaded.all_rules()
    listed = f", {lists} exclusion list{'s' * (lists != 1)}" if lists else ""
    click.echo(f"{directory}: {len(rules)} rules in {len(loaded.rules)} files{listed}, all valid")


def _check_exclusion_lists(directory: Path) -> int:
    """Check the exclusion lists of a store (``exclude/*.txt``): exit 1 listing each problem, else count."""
    from policies.exclusion import load_exclusion_list, store_exclusion_files
    from policies.files import InputFileError

    files = store_exclusion_files(directory)
    problems: list[str] = []
    for path in files:
        try:
            load_exclusion_list(path)
        except PolicyStoreError as exc:
            problems += [str(error) for error in exc.errors]
        except InputFileError as exc:
            problems.append(str(exc))
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        count = len(problems)
        click.echo(f"{directory}: {count} problem{'s' * (count != 1)} in its exclusion lists", err=True)
        raise SystemExit(1)
    return len(files)


@policy.command()
@click.argument("url")
@STORE_OPTION
@click.option("--purpose", type=PURPOSES, default=Purpose.AI_TRAIN.value, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(url: str, store: Path, purpose: str, fmt: str) -> None:
    """Say which rule applies to URL and what it decides for the purpose (the terms are not fetched).

    \b
    Example:
        permitcrawl policy check https://www.example.org/blog/post --store tos-policies --purpose ai-train
    """
    from crawler.adapters.spiders.seeds import check_seed
    from policies.store import load_policies
    from policies.tos import Unreviewed, tos_basis
    from policies.urls import registrable_domain

    url = check_seed(url, "URL")
    loaded = load_policies(store)
    from urllib.parse import urlsplit

    from policies.patterns import path_of

    host = urlsplit(url).hostname or ""
    rules = loaded.applicable(host, path_of(url))
    basis = tos_basis(
        loaded, url, Purpose(purpose), terms=None, unreviewed=Unreviewed.HOLD, today=date.today()
    )
    if fmt == "json":
        data = {
            "url": url,
            "purpose": purpose,
            "rules": [_rule_data(r) for r in rules],
            "basis": basis.as_dict(),
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"{url} ({purpose})")
    if not rules:
        click.echo(f"  no rule for {host} (domain {registrable_domain(host)})")
    for rule in rules:
        click.echo(f"  rule: {rule.where}, scope {rule.scope}, path {rule.path}, version {rule.version}")
    click.echo(f"  [{basis.verdict}] {basis.reason}")


@policy.command()
@click.argument("crawl_dirs", nargs=-1, required=True, type=DIR)
@click.option("--store", type=DIR, envvar="PERMITCRAWL_POLICY_STORE")
@format_option
def queue(crawl_dirs: tuple[Path, ...], store: Path | None, fmt: str) -> None:
    """List what to review: domains crawled with no rule, terms changed since review, reviews due.

    Without --store, the rules each crawl recorded as in force are used.

    \b
    Example:
        permitcrawl policy queue crawls/batch1 crawls/batch2 --store tos-policies
        permitcrawl policy queue crawls/batch1 --format jsonl   # with the passages to read
    """
    from crawler.storage.queries import open_crawl
    from crawler.workflows.queue import QueueItem, build_queue, rules_from_crawls, rules_from_store
    from policies.store import load_policies

    dbs = [open_crawl(d) for d in crawl_dirs]
    rules = rules_from_store(load_policies(store)) if store else rules_from_crawls(dbs)
    items = [item.as_dict() for item in build_queue(dbs, rules, date.today())]
    if fmt == "table":
        for item in items:
            item["passages"] = len(item["passages"])
            hosts = item["hosts"]
            item["hosts"] = " ".join(hosts) if len(hosts) <= 3 else f"{hosts[0]} and {len(hosts) - 1} more"
    columns = ["domain", "hosts", "reason", "pages", "held", "passages", "terms_url"]
    write_rows(items, fmt, fields=[f.name for f in dataclasses.fields(QueueItem)], columns=columns)
