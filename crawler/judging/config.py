"""Our settings: their defaults, and their strict reading into a typed CrawlConfig.

Settings come from Scrapy (``settings.py``, ``-s NAME=VALUE``, the add-on); the
components receive a :class:`CrawlConfig`, never Scrapy's Settings. Every bad
value fails at start-up with the setting's name, the value found and what was
expected. No Scrapy import here: Settings is read through its public getters.

A crawl reads its settings once: :meth:`CrawlSetup.build` checks them and loads
the ToS store, and every component of the crawl (gate, evidence fetcher,
archive, budgets) gets that one :class:`CrawlSetup` from :func:`setup_of`, so
that the configuration and rules the archive records are those the gate applies.
"""

from __future__ import annotations

import difflib
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar
from weakref import WeakKeyDictionary

from crawler import __version__
from crawler.errors import PermitcrawlError, SettingsError
from crawler.identity.signer import RequestSigner, SigningError, check_signature_agent
from crawler.judging.judge import PAGE_MAX_SIZE, JudgeConfig
from policies.aiagents import AgentListError, load_agents
from policies.decision import DefaultPolicy
from policies.document import EVIDENCE_MAX_SIZE
from policies.exclusion import ExclusionList, load_exclusion_list, store_exclusion_files
from policies.purpose import Purpose
from policies.readings import Readings
from policies.robotstxt import PARSE_LIMIT
from policies.rslclient import RslCredentials, load_rsl_credentials
from policies.store import load_policies
from policies.tos import Unreviewed

if TYPE_CHECKING:
    from collections.abc import Callable

CONTACT_PLACEHOLDER = "https://permitcrawl.invalid/contact"

# Our settings and their defaults. The add-on installs them at "addon" priority,
# so a project's settings.py and -s NAME=VALUE override them.
DEFAULTS: dict[str, Any] = {
    "POLICY_ENABLED": True,
    "POLICY_PURPOSE": Purpose.AI_TRAIN.value,
    "POLICY_DEFAULT": DefaultPolicy.ALLOW.value,
    "POLICY_ROBOTS_TOKEN": "permitcrawl",
    "POLICY_CONTACT_URL": CONTACT_PLACEHOLDER,
    "POLICY_EVIDENCE_TTL": 86400,
    "POLICY_UNREACHABLE_RETRY": 600,
    "POLICY_ROBOTS_MAX_REDIRECTS": 5,
    "POLICY_ROBOTS_PARSE_LIMIT": PARSE_LIMIT,
    "POLICY_EVIDENCE_MAX_SIZE": EVIDENCE_MAX_SIZE,
    "POLICY_EVIDENCE_TIMEOUT": 30,
    "POLICY_MAX_CRAWL_DELAY": 60,
    # Hosts whose evidence is kept in memory at once; the least recently used is dropped (and fetched again).
    # About 6 KB a host (bench/hosts.py --evidence-size): 3,000 hosts keep 20,000 hosts' RSS within 25% of
    # 2,000's (bench/README.md); a host that comes back after 3,000 others costs its evidence requests again.
    "POLICY_HOSTS_KEPT": 3_000,
    "POLICY_DELIVER_REFUSED": False,
    **{f"POLICY_READ_{name.upper()}": True for name in Readings.switches()},
    # The agents directory where 'permitcrawl agents update' installs newer ai.robots.txt lists;
    # empty: PERMITCRAWL_AGENTS_DIR if set, else none (the bundled snapshot).
    "POLICY_AI_AGENTS_DIR": "",
    "POLICY_AIPREF_VOCAB": "08",
    "POLICY_RSL_USER": "commercial",
    "POLICY_RSL_GEO": "",
    "POLICY_STORE_DIR": "",
    # Exclusion lists (crawl --exclude-list FILE, repeatable): hosts and URL prefixes never requested.
    "POLICY_EXCLUDE_LISTS": [],
    # RSL licence servers' client credentials (crawl --rsl-credentials): a file, never the secrets themselves.
    "POLICY_RSL_CREDENTIALS": "",
    "POLICY_UNREVIEWED": Unreviewed.HOLD.value,
    "PERMITCRAWL_HOST_MAX_PAGES": 10_000,
    "PERMITCRAWL_MAX_PAGES": 0,
    # Where the URLs to fetch wait: "embedded" (DIR/frontier.db) or redis://HOST:PORT/DB (crawl --frontier).
    "PERMITCRAWL_FRONTIER": "embedded",
    # Seconds a worker's lease on a shard lasts unless renewed (it renews every third of it).
    "PERMITCRAWL_FRONTIER_LEASE": 30.0,
    # Where WARC records and rows are written: "process" (a writer process of its own) or "inline"
    # (the crawl's thread). A process by measurement: 1.48x plain Scrapy against 1.81x inline on an
    # idle 2-core machine (bench/README.md, "The writer process").
    "PERMITCRAWL_WRITER": "process",
    # Messages (captures, evidence, refusals...) the writer process may lag behind before the crawl waits.
    "PERMITCRAWL_WRITER_QUEUE": 64,
    # Back-off after a 429 or 5xx answer (crawler.adapters.backoff): seconds for the first error of a
    # run without Retry-After (doubled at each next one), and the longest wait, Retry-After included.
    "PERMITCRAWL_BACKOFF_BASE": 1.0,
    "PERMITCRAWL_BACKOFF_MAX": 600.0,
    # Signed requests (Web Bot Auth): the private key file (crawl --sign) and the https origin
    # serving its key directory (crawl --signature-agent); both or neither. Empty: no signing.
    "PERMITCRAWL_SIGN_KEY": "",
    "PERMITCRAWL_SIGNATURE_AGENT": "",
    # Pay per crawl (crawl --max-price, --budget, --domain-budget; crawler/adapters/payment.py): empty,
    # nothing is paid for. A paid request answered with a retryable crawler-error is asked again this
    # many times, after this many seconds, doubled each time.
    "PERMITCRAWL_MAX_PRICE": "",
    "PERMITCRAWL_BUDGET": "",
    "PERMITCRAWL_DOMAIN_BUDGET": "",
    "PERMITCRAWL_PAYMENT_RETRIES": 3,
    "PERMITCRAWL_PAYMENT_BACKOFF": 1.0,
    "WARC_DIR": "crawl/warc",
    "WARC_EVIDENCE_DIR": "",
    "WARC_PREFIX": "permitcrawl",
    "WARC_MAX_SIZE": 1_000_000_000,
    "WARC_GZIP_LEVEL": 6,
    "WARC_OPERATOR": "",
    "PROVENANCE_DB": "crawl/provenance.db",
    "PROVENANCE_BATCH_SIZE": 500,
}

# Every setting name with one of these prefixes is ours: one we do not know is a misspelling,
# and a misspelt POLICY_DEFAULT would otherwise run a crawl under the default it meant to change.
OUR_PREFIXES = ("POLICY_", "WARC_", "PROVENANCE_", "PERMITCRAWL_")

_TOKEN = re.compile(r"[A-Za-z_-]+")
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+")
_RSL_USER = re.compile(r"commercial|non-commercial|education|government|personal")
_GEO = re.compile(r"(?:[A-Za-z]{2})?")
_WRITER = re.compile(r"process|inline")
_VOCAB = re.compile(r"08|07")
# Where 'permitcrawl agents' and a crawl find the agents directory when no option or setting names one.
AGENTS_DIR_ENV = "PERMITCRAWL_AGENTS_DIR"

T = TypeVar("T")


class SettingsLike(Protocol):
    """The part of Scrapy's Settings this module reads."""

    def get(self, name: str, default: Any = None) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class CrawlConfig:
    """Every permitcrawl setting, checked and typed."""

    purpose: Purpose
    default_policy: DefaultPolicy
    robots_token: str
    user_agent: str
    contact_url: str
    evidence_ttl: float
    unreachable_retry: float
    robots_max_redirects: int
    robots_parse_limit: int
    evidence_max_size: int
    evidence_timeout: float
    max_crawl_delay: float
    hosts_kept: int
    deliver_refused: bool
    readings: Readings
    store_dir: Path | None
    exclude_lists: tuple[Path, ...]
    unreviewed: Unreviewed
    host_max_pages: int
    max_pages: int
    frontier_lease: float
    writer: str
    writer_queue: int
    backoff_base: float
    backoff_max: float
    sign_key: Path | None
    signature_agent: str
    warc_dir: Path
    warc_evidence_dir: Path
    warc_prefix: str
    warc_max_size: int
    warc_gzip_level: int
    warc_operator: str
    provenance_db: Path
    provenance_batch_size: int

    def summary(self) -> dict[str, Any]:
        """The configuration as JSON-ready data, for the crawl record."""
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}
        data["exclude_lists"] = [str(p) for p in self.exclude_lists]
        data["readings"] = dict(self.readings.__dict__)
        # Which AI-crawler list judged (its upstream commit and the file's sha256).
        data["ai_agents"] = load_agents(self.readings.ai_agents_dir).record()
        return data


def _setting(settings: SettingsLike, name: str) -> Any:
    value = settings.get(name)
    return DEFAULTS.get(name) if value is None else value


def _convert(settings: SettingsLike, name: str, convert: Callable[[Any], T], expected: str) -> T:
    value = _setting(settings, name)
    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        detail = str(exc)
        if "expected" in detail:  # the converter already said what it wants
            message = f"setting {name}={value!r} is not usable: {detail}"
        elif detail and not detail.startswith(("could not", "invalid literal")):
            message = f"setting {name}={value!r} is not usable ({detail}); expected {expected}"
        else:
            message = f"setting {name}={value!r} is not usable; expected {expected}"
        raise SettingsError(message) from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _number(low: float, high: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        number = float(value)
        if not low <= number <= high:
            raise ValueError(f"{number:g} is out of range")
        return number

    return convert


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range")
        return number

    return convert


def _matching(pattern: re.Pattern[str]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"{value!r} does not match {pattern.pattern}")
        return value

    return convert


def _agents_dir(value: Any) -> str:
    """The agents directory in force, absolute (empty: the bundled list); its list must load."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a directory name")
    value = value or os.environ.get(AGENTS_DIR_ENV, "")
    if not value:
        return ""
    directory = Path(value)
    if not directory.is_dir():
        raise ValueError(f"{value} is not a directory; expected the agents directory of 'permitcrawl agents'")
    try:
        load_agents(str(directory.resolve()))
    except AgentListError as exc:
        raise ValueError(
            f"its AI-crawler list does not load: {exc}; expected the list as installed"
        ) from None
    return str(directory.resolve())


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"(https?|mailto):\S+", value):
        raise ValueError(f"{value!r} is not an http(s) or mailto URL")
    return value


def _paths(value: Any) -> tuple[Path, ...]:
    """A list of file paths: a list or tuple of them, or one string of comma-separated paths."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str | Path) for i in items):
        raise ValueError(f"{value!r} is not a list of paths")
    return tuple(Path(i) for i in (str(i).strip() for i in items) if i)


def exclusion_files(config: CrawlConfig) -> list[Path]:
    """The exclusion list files of a crawl: ``--exclude-list`` ones, then its store's ``exclude/*.txt``."""
    stored = store_exclusion_files(config.store_dir) if config.store_dir is not None else []
    return [*config.exclude_lists, *stored]


def load_exclusions(config: CrawlConfig) -> tuple[ExclusionList, ...]:
    """Every exclusion list of the crawl, read and parsed strictly.

    Raise InputFileError (a file that cannot be read) or PolicyStoreError (every
    bad line: file, line, what was wrong, what was expected). A file given
    twice is read once.
    """
    lists: list[ExclusionList] = []
    seen: set[Path] = set()
    for path in exclusion_files(config):
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        # The WARC record the crawl archives it in, named now: the refusals the gate records cite it.
        record_id = f"<urn:uuid:{uuid.uuid4()}>"
        lists.append(replace(load_exclusion_list(path), record_id=record_id))
    return tuple(lists)


def check_names(names: Iterable[str]) -> None:
    """Raise SettingsError for every setting name with one of our prefixes that is none of our settings.

    The message suggests the closest of our names, so that ``POLICY_DEFUALT``
    is caught before a crawl runs under the default it meant to change.
    """
    problems = []
    for name in names:
        if not isinstance(name, str) or not name.startswith(OUR_PREFIXES) or name in DEFAULTS:
            continue
        close = difflib.get_close_matches(name, DEFAULTS, n=1, cutoff=0.7)
        hint = f"did you mean {close[0]}?" if close else "expected one of the settings listed in the README"
        problems.append(f"setting {name} is not a permitcrawl setting; {hint}")
    if problems:
        raise SettingsError("\n".join(problems))


def user_agent(token: str, contact_url: str) -> str:
    """Return the User-Agent header: product token, version, contact URL."""
    return f"{token}/{__version__} (+{contact_url})"


def load_config(settings: SettingsLike) -> CrawlConfig:
    """Read and check every permitcrawl setting; raise SettingsError on the first bad one.

    An unknown name with one of our prefixes is an error too (:func:`check_names`),
    when ``settings`` can list its names (Scrapy's Settings can).
    """
    if isinstance(settings, Iterable):
        check_names(settings)
    token = _convert(
        settings, "POLICY_ROBOTS_TOKEN", _matching(_TOKEN), "a product token of letters, '-' and '_'"
    )
    contact = _convert(
        settings, "POLICY_CONTACT_URL", _url, "an http(s) or mailto URL where site owners reach you"
    )
    agent = settings.get("USER_AGENT")
    if not agent or agent.startswith("Scrapy/"):
        agent = user_agent(token, contact)
    elif token.lower() not in agent.lower():
        # Sites match robots.txt groups and logs on the token: it must be visible.
        raise SettingsError(
            f"setting USER_AGENT={agent!r} does not carry the robots token {token!r}; "
            f"expected something like {user_agent(token, contact)!r}"
        )
    return CrawlConfig(
        purpose=_convert(settings, "POLICY_PURPOSE", Purpose.parse, "one of " + ", ".join(Purpose)),
        default_policy=_convert(settings, "POLICY_DEFAULT", DefaultPolicy, "allow or deny"),
        robots_token=token,
        user_agent=agent,
        contact_url=contact,
        # RFC 9309 §2.4: a cached robots.txt should not be used for more than 24 hours.
        evidence_ttl=_convert(settings, "POLICY_EVIDENCE_TTL", _number(1, 86400), "seconds, 1 to 86400"),
        unreachable_retry=_convert(
            settings, "POLICY_UNREACHABLE_RETRY", _number(0, 86400), "seconds, 0 to 86400"
        ),
        # RFC 9309 §2.3.1.2: follow at least five redirects.
        robots_max_redirects=_convert(
            settings, "POLICY_ROBOTS_MAX_REDIRECTS", _integer(5, 20), "a whole number of redirects, 5 to 20"
        ),
        # RFC 9309 §2.5: parse at least 500 KiB.
        robots_parse_limit=_convert(
            settings,
            "POLICY_ROBOTS_PARSE_LIMIT",
            _integer(PARSE_LIMIT, 64 * 1024 * 1024),
            f"bytes, at least {PARSE_LIMIT}",
        ),
        # Evidence is read whole up to this many bytes (after decompression), or refused.
        evidence_max_size=_convert(
            settings,
            "POLICY_EVIDENCE_MAX_SIZE",
            _integer(PARSE_LIMIT, 256 * 1024 * 1024),
            f"bytes, {PARSE_LIMIT} (the RFC 9309 minimum) to 268435456",
        ),
        evidence_timeout=_convert(settings, "POLICY_EVIDENCE_TIMEOUT", _number(1, 600), "seconds, 1 to 600"),
        max_crawl_delay=_convert(
            settings, "POLICY_MAX_CRAWL_DELAY", _number(0, 86400), "seconds, 0 to 86400"
        ),
        # At least the hosts a crawl has in flight at once (Scrapy's default CONCURRENT_REQUESTS is 16):
        # fewer would drop evidence still being used, and fetch it again and again.
        hosts_kept=_convert(
            settings, "POLICY_HOSTS_KEPT", _integer(100, 10**7), "a whole number of hosts, 100 to 10000000"
        ),
        deliver_refused=_convert(settings, "POLICY_DELIVER_REFUSED", _bool, "true or false"),
        readings=Readings(
            **{
                name: _convert(settings, f"POLICY_READ_{name.upper()}", _bool, "true or false")
                for name in Readings.switches()
            },
            ai_agents_dir=_convert(
                settings,
                "POLICY_AI_AGENTS_DIR",
                _agents_dir,
                "an agents directory ('permitcrawl agents update --agents-dir DIR' makes one), or empty",
            ),
            aipref_vocab=_convert(
                settings, "POLICY_AIPREF_VOCAB", _matching(_VOCAB), "08 (vocab-08, the default) or 07"
            ),
            rsl_user=_convert(
                settings,
                "POLICY_RSL_USER",
                _matching(_RSL_USER),
                "commercial, non-commercial, education, government or personal",
            ),
            rsl_geo=_convert(
                settings, "POLICY_RSL_GEO", _matching(_GEO), "an ISO 3166-1 alpha-2 code such as DE, or empty"
            ),
        ),
        store_dir=_convert(
            settings, "POLICY_STORE_DIR", lambda v: Path(v) if v else None, "a directory or empty"
        ),
        exclude_lists=_convert(
            settings, "POLICY_EXCLUDE_LISTS", _paths, "a list of exclusion list files (comma-separated)"
        ),
        unreviewed=_convert(settings, "POLICY_UNREVIEWED", Unreviewed, "hold, allow or deny"),
        host_max_pages=_convert(
            settings,
            "PERMITCRAWL_HOST_MAX_PAGES",
            _integer(0, 10**12),
            "a whole number of pages per host (0: no limit)",
        ),
        max_pages=_convert(
            settings,
            "PERMITCRAWL_MAX_PAGES",
            _integer(0, 10**12),
            "a whole number of pages captured in all (0: no limit)",
        ),
        frontier_lease=_convert(
            settings, "PERMITCRAWL_FRONTIER_LEASE", _number(1, 3600), "seconds, 1 to 3600"
        ),
        writer=_convert(settings, "PERMITCRAWL_WRITER", _matching(_WRITER), "process or inline"),
        writer_queue=_convert(
            settings,
            "PERMITCRAWL_WRITER_QUEUE",
            _integer(1, 100_000),
            "a whole number of messages, 1 to 100000",
        ),
        backoff_base=_convert(settings, "PERMITCRAWL_BACKOFF_BASE", _number(0, 3600), "seconds, 0 to 3600"),
        backoff_max=_convert(settings, "PERMITCRAWL_BACKOFF_MAX", _number(0, 86400), "seconds, 0 to 86400"),
        **_signing(settings),
        warc_dir=_convert(settings, "WARC_DIR", Path, "a directory path"),
        # Empty: 'evidence' beside WARC_DIR, so that a project setting only WARC_DIR keeps both together.
        warc_evidence_dir=_convert(
            settings,
            "WARC_EVIDENCE_DIR",
            lambda v: Path(v) if v else Path(_setting(settings, "WARC_DIR")).parent / "evidence",
            "a directory path, or empty for 'evidence' beside WARC_DIR",
        ),
        warc_prefix=_convert(
            settings, "WARC_PREFIX", _matching(_PREFIX), "letters, digits, '.', '-' and '_'"
        ),
        warc_max_size=_convert(
            settings, "WARC_MAX_SIZE", _integer(1024 * 1024, 2**40), "bytes, at least 1 MiB"
        ),
        warc_gzip_level=_convert(settings, "WARC_GZIP_LEVEL", _integer(0, 9), "a gzip level, 0 (none) to 9"),
        warc_operator=_convert(settings, "WARC_OPERATOR", str, "text"),
        provenance_db=_convert(settings, "PROVENANCE_DB", Path, "a file path"),
        provenance_batch_size=_convert(
            settings, "PROVENANCE_BATCH_SIZE", _integer(1, 100_000), "rows, 1 to 100000"
        ),
    )


def _signing(settings: SettingsLike) -> dict[str, Any]:
    """The signing settings, checked: both or neither, the agent an https origin (the key is read later)."""
    key = _convert(settings, "PERMITCRAWL_SIGN_KEY", str, "a key file path, or empty")
    agent = _convert(settings, "PERMITCRAWL_SIGNATURE_AGENT", str, "an https origin, or empty")
    if bool(key) != bool(agent):
        given, missing = (
            (
                "--sign KEY.jwk (PERMITCRAWL_SIGN_KEY)",
                "--signature-agent https://ORIGIN (PERMITCRAWL_SIGNATURE_AGENT)",
            )
            if key
            else ("--signature-agent (PERMITCRAWL_SIGNATURE_AGENT)", "--sign KEY.jwk (PERMITCRAWL_SIGN_KEY)")
        )
        raise SettingsError(
            f"{given} is given without {missing}: a signed request names both the key and the origin "
            "serving its key directory; expected both, or neither"
        )
    if agent:
        try:
            agent = check_signature_agent(agent)
        except SigningError as exc:
            raise SettingsError(f"setting PERMITCRAWL_SIGNATURE_AGENT (--signature-agent): {exc}") from None
    return {"sign_key": Path(key) if key else None, "signature_agent": agent}


def signer_of(config: CrawlConfig) -> RequestSigner | None:
    """The crawl's request signer, its key loaded and checked once; None if the crawl does not sign.

    Raise SettingsError naming the key file and what is wrong with it, or
    that it is a published test key.
    """
    if config.sign_key is None:
        return None
    try:
        return RequestSigner.from_key_file(config.sign_key, config.signature_agent)
    except PermitcrawlError as exc:  # KeyFileError names the file; SigningError the test key
        raise SettingsError(f"setting PERMITCRAWL_SIGN_KEY (--sign): {exc}") from None


@dataclass(frozen=True)
class CrawlSetup:
    """One crawl's configuration, built once: every setting checked, and how the crawl judges.

    ``judge`` holds the loaded ToS store; ``config`` every other setting;
    ``signer`` signs every request sent (None: requests are not signed).
    ``rsl_credentials`` the RSL licence servers' client credentials
    (``POLICY_RSL_CREDENTIALS``; None: no licence server is asked for a token).
    ``exclusions`` the exclusion lists (``POLICY_EXCLUDE_LISTS`` and the store's
    ``exclude/*.txt``): their URLs are never requested.
    """

    config: CrawlConfig
    judge: JudgeConfig
    signer: RequestSigner | None = None
    rsl_credentials: RslCredentials | None = None
    exclusions: tuple[ExclusionList, ...] = ()

    @classmethod
    def build(cls, settings: SettingsLike) -> Self:
        """Check every setting and load the ToS store; raise SettingsError or PolicyError naming it."""
        config = load_config(settings)
        # Scrapy's page bound, as audit will read pages (0, no bound: the add-on's default instead).
        page_max_size = _convert(
            settings, "DOWNLOAD_MAXSIZE", lambda v: int(v or 0), "a whole number of bytes"
        )
        judge = judge_of(config, page_max_size=page_max_size or PAGE_MAX_SIZE)
        credentials = _convert(settings, "POLICY_RSL_CREDENTIALS", str, "a file path or empty")
        # Read and checked now (CredentialsError names the file and line), before anything is created.
        return cls(
            config,
            judge,
            signer_of(config),
            load_rsl_credentials(Path(credentials)) if credentials else None,
            load_exclusions(config),
        )


class CrawlerLike(Protocol):
    """The part of Scrapy's Crawler :func:`setup_of` reads."""

    @property
    def settings(self) -> Any: ...


# The setup each running crawl shares among its components (the runner hands it over, or the
# first component to ask builds it), dropped with the crawler.
_SETUPS: WeakKeyDictionary[Any, CrawlSetup] = WeakKeyDictionary()


def share_setup(crawler: CrawlerLike, setup: CrawlSetup) -> None:
    """Give ``crawler``'s components ``setup``, built by whoever started the crawl."""
    _SETUPS[crawler] = setup


def setup_of(crawler: CrawlerLike) -> CrawlSetup:
    """The setup ``crawler``'s components share: the one handed over, else built once from its settings."""
    setup = _SETUPS.get(crawler)
    if setup is None:
        setup = _SETUPS[crawler] = CrawlSetup.build(crawler.settings)
    return setup


def judge_of(config: CrawlConfig, *, page_max_size: int) -> JudgeConfig:
    """The judge of a crawl with these checked settings, its ToS store loaded.

    Raise PolicyError (naming the file and line) if the store does not validate.
    """
    return JudgeConfig(
        purpose=config.purpose,
        default_policy=config.default_policy,
        token=config.robots_token,
        readings=config.readings,
        unreviewed=config.unreviewed,
        store=load_policies(config.store_dir) if config.store_dir is not None else None,
        max_crawl_delay=config.max_crawl_delay,
        parse_limit=config.robots_parse_limit,
        evidence_max_size=config.evidence_max_size,
        page_max_size=page_max_size,
    )
