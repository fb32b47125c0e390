"""The frontier on a Redis server: many workers on many machines share one crawl.

One crawl per Redis database; every key starts with ``permitcrawl:``. Each
operation that changes state is one Lua script (run by EVALSHA), so it is
atomic on the server, and no worker ever sees half of another's change:

* ``seen`` (SET): fingerprints of the filtered entries ever pushed.
* ``scheduled`` (HASH): host -> entries ever queued against the cap of URLs per
  host (:meth:`RedisFrontier.push`'s ``host_cap``); one field per host, on the
  server, so no worker keeps a per-host count.
* ``q:{shard}`` (ZSET): the queue of one shard. Member: the entry's key
  ``{shard}-{sequence:016}``; score: minus its priority. Redis orders equal
  scores by member, so a queue is served by priority, then in arrival order.
* ``e:{shard}`` (HASH): key -> ``{len(url)}:{url}{payload}``, the JSON text the
  caller gave, never a pickle.
* ``p:{shard}`` (HASH): the shard's in-flight entries, key -> ``{epoch} {score}
  {take token}``. Moving one back to ``q:{shard}`` with its own score puts it
  back where it was: ahead of everything of its priority pushed after it.
* ``lease:{shard}`` (STRING, expiring): ``{epoch} {acquired ms} {worker}``;
  ``epoch:{shard}``: the fencing number, incremented at every takeover.
* ``drain:{shard}`` (STRING, expiring): the worker holding the shard beyond its
  fair share (a worker joined) while URLs of it are in flight: it takes nothing
  new from it and gives it up once they are done, so that a handover never
  fetches a URL twice.
* ``hb:{worker}`` (STRING, expiring): a live worker's heartbeat; ``workers``
  (SET) the names to look them up by.
* ``counts``, ``done:shard``, ``done:worker`` (HASH), ``pages``, ``hosts``,
  ``history`` (the last 10,000 lease acquisitions), ``identity``, ``shards``.

What the server cannot answer (refused, timed out, still loading its data)
raises :class:`FrontierUnavailable`; the caller pauses and calls again.
:meth:`RedisFrontier.push`, :meth:`RedisFrontier.take` and
:meth:`RedisFrontier.done` are safe to call again after such an error: a
push whose outcome is unknown is recognised by its token (the batch is not
enqueued twice), a take returns the entries the lost answer held, and done
only removes what is still in flight.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import redis as redis_py
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from crawler.frontier.base import (
    LEASE_SECONDS,
    SHARDS,
    Claim,
    Counts,
    FrontierError,
    FrontierUnavailable,
    Lease,
    Pushed,
    Status,
    Taken,
    shard_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from redis.commands.core import Script

    from crawler.frontier.base import Entry

PREFIX = "permitcrawl:"
# Written with the identity: a database holding another layout (or another program's keys under
# our prefix) is refused rather than misread.
FORMAT = "1"
URL_FORMS = "redis://HOST:PORT/DB (DB a number) or unix:///PATH/TO/SOCKET?db=DB"
# How long a push marker lives: a push retried after an outage up to this long is recognised.
PUSH_MARKER_SECONDS = 86_400
HISTORY_KEPT = 10_000

# --- Lua scripts. KEYS are not declared (the names depend on the shards touched): one standalone
# server per crawl, never Redis Cluster. ARGV[1] is always the key prefix.

_LUA_HELPERS = """
local p = ARGV[1]
local function lease_of(shard)
  local v = redis.call('GET', p .. 'lease:' .. shard)
  if not v then return nil end
  local e, a, w = string.match(v, '^(%d+) (%d+) (.*)$')
  return e, a, w
end
-- Put a shard's in-flight entries back in its queue, each at its own place (score and key).
local function requeue(shard)
  local pk = p .. 'p:' .. shard
  local items = redis.call('HGETALL', pk)
  local n = 0
  for j = 1, #items, 2 do
    local score = string.match(items[j + 1], '^%d+ (%S+)')
    redis.call('ZADD', p .. 'q:' .. shard, score, items[j])
    n = n + 1
  end
  if n > 0 then
    redis.call('DEL', pk)
    redis.call('HINCRBY', p .. 'counts', 'in_flight', -n)
    redis.call('HINCRBY', p .. 'counts', 'queued', n)
  end
end
"""

# ARGV: prefix, identity JSON, shards, format. Returns {identity, shards, format} as stored.
_OPEN = """
local p = ARGV[1]
if redis.call('SET', p .. 'identity', ARGV[2], 'NX') then
  redis.call('SET', p .. 'shards', ARGV[3])
  redis.call('SET', p .. 'format', ARGV[4])
end
return {redis.call('GET', p .. 'identity'), redis.call('GET', p .. 'shards') or '',
        redis.call('GET', p .. 'format') or ''}
"""

# ARGV: prefix, token ('' for none), host cap ('0': none), then 7 per entry: fingerprint, shard, host,
# stored value (``{len(url)}:{url}{payload}``), priority, filtered ('1'/'0'), capped ('1'/'0').
# Returns {queued, host, left out, host, left out, ...}: the capped entries of full hosts left out.
_PUSH = """
local p, token, cap = ARGV[1], ARGV[2], tonumber(ARGV[3])
if token ~= '' then
  local before = redis.call('GET', p .. 'push:' .. token)
  if before then
    local answer = cjson.decode(before)
    if type(answer) == 'table' then return answer end
    return {answer}  -- a marker written before per-host caps: the count alone
  end
end
local queued, over, hosts = 0, {}, {}
for b = 4, #ARGV, 7 do
  local shard, host = ARGV[b + 1], ARGV[b + 2]
  local go = ARGV[b + 5] == '0'
  if not go and redis.call('SISMEMBER', p .. 'seen', ARGV[b]) == 0 then
    go = true
    if cap > 0 and ARGV[b + 6] == '1' then
      if tonumber(redis.call('HGET', p .. 'scheduled', host) or '0') >= cap then
        go = false  -- the host is full: left out, and not seen, so a later link is counted again
        if not over[host] then hosts[#hosts + 1] = host; over[host] = 0 end
        over[host] = over[host] + 1
      else
        redis.call('HINCRBY', p .. 'scheduled', host, 1)
      end
    end
    if go then redis.call('SADD', p .. 'seen', ARGV[b]) end
  end
  if go then
    local key = shard .. '-' .. string.format('%016d', redis.call('INCR', p .. 'seq'))
    redis.call('ZADD', p .. 'q:' .. shard, -tonumber(ARGV[b + 4]), key)
    redis.call('HSET', p .. 'e:' .. shard, key, ARGV[b + 3])
    redis.call('SADD', p .. 'hosts', host)
    queued = queued + 1
  end
end
if queued > 0 then redis.call('HINCRBY', p .. 'counts', 'queued', queued) end
local out = {queued}
for _, host in ipairs(hosts) do out[#out + 1] = host; out[#out + 1] = over[host] end
if token ~= '' then redis.call('SET', p .. 'push:' .. token, cjson.encode(out), 'EX', PUSH_MARKER_SECONDS) end
return out
""".replace("PUSH_MARKER_SECONDS", str(PUSH_MARKER_SECONDS))

# ARGV: prefix, worker, limit, token, recover ('1': give back what a lost answer of this token
# held), then pairs shard, epoch (the leases this worker believes it holds, in visiting order).
# Returns flat triples key, epoch, stored value.
_TAKE = (
    _LUA_HELPERS
    + """
local worker, limit, token, recover = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local valid, epochs = {}, {}
for i = 6, #ARGV, 2 do
  local e, a, w = lease_of(ARGV[i])
  if w == worker and e == ARGV[i + 1] then
    valid[#valid + 1] = ARGV[i]
    epochs[ARGV[i]] = e
  end
end
local out = {}
if recover == '1' then
  for _, shard in ipairs(valid) do
    local items = redis.call('HGETALL', p .. 'p:' .. shard)
    for j = 1, #items, 2 do
      local e, t = string.match(items[j + 1], '^(%d+) %S+ (%S+)$')
      if t == token and e == epochs[shard] then
        out[#out + 1] = items[j]
        out[#out + 1] = e
        out[#out + 1] = redis.call('HGET', p .. 'e:' .. shard, items[j])
      end
    end
  end
end
local open = {}  -- a shard draining (beyond this worker's fair share) gives nothing new
for _, shard in ipairs(valid) do
  if redis.call('GET', p .. 'drain:' .. shard) ~= worker then open[#open + 1] = shard end
end
local remaining = limit - #out / 3
local taken = 0
while remaining > 0 and #open > 0 do
  local per = math.max(1, math.floor(remaining / #open))
  local progress = false
  for _, shard in ipairs(open) do
    if remaining <= 0 then break end
    local got = redis.call('ZPOPMIN', p .. 'q:' .. shard, math.min(per, remaining))
    for j = 1, #got, 2 do
      redis.call('HSET', p .. 'p:' .. shard, got[j], epochs[shard] .. ' ' .. got[j + 1] .. ' ' .. token)
      out[#out + 1] = got[j]
      out[#out + 1] = epochs[shard]
      out[#out + 1] = redis.call('HGET', p .. 'e:' .. shard, got[j])
      remaining = remaining - 1
      taken = taken + 1
      progress = true
    end
  end
  if not progress then break end
end
if taken > 0 then
  redis.call('HINCRBY', p .. 'counts', 'queued', -taken)
  redis.call('HINCRBY', p .. 'counts', 'in_flight', taken)
end
return out
"""
)

# ARGV: prefix, worker, then pairs key, epoch ('*': any). Returns how many left the frontier.
_DONE = """
local p, worker = ARGV[1], ARGV[2]
local n = 0
for i = 3, #ARGV, 2 do
  local key, epoch = ARGV[i], ARGV[i + 1]
  local shard = string.match(key, '^(%d+)-')
  if shard then
    local v = redis.call('HGET', p .. 'p:' .. shard, key)
    if v and (epoch == '*' or string.match(v, '^(%d+) ') == epoch) then
      redis.call('HDEL', p .. 'p:' .. shard, key)
      redis.call('HDEL', p .. 'e:' .. shard, key)
      redis.call('HINCRBY', p .. 'done:shard', shard, 1)
      n = n + 1
    end
  end
end
if n > 0 then
  redis.call('HINCRBY', p .. 'counts', 'in_flight', -n)
  redis.call('HINCRBY', p .. 'counts', 'done', n)
  redis.call('HINCRBY', p .. 'done:worker', worker, n)
end
return n
"""

# ARGV: prefix, worker, lease ms, shards. Renews this worker's leases, gives up those beyond its
# fair share, claims free ones up to it. Returns {live workers, then triples shard, epoch, ms}.
_RENEW = (
    _LUA_HELPERS
    + """
local worker, ms, shards = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('SET', p .. 'hb:' .. worker, '1', 'PX', ms)
redis.call('SADD', p .. 'workers', worker)
local live = 0
for _, w in ipairs(redis.call('SMEMBERS', p .. 'workers')) do
  if redis.call('EXISTS', p .. 'hb:' .. w) == 1 then live = live + 1
  else redis.call('SREM', p .. 'workers', w) end
end
local fair = math.ceil(shards / live)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held, free = {}, {}
for s = 0, shards - 1 do
  local e, a, w = lease_of(s)
  if w == worker then held[#held + 1] = {s, e, a}
  elseif not w then free[#free + 1] = s end
end
-- Shards beyond the fair share are given up once nothing of theirs is in flight; until then they
-- drain: kept (their in-flight URLs get done under this lease, never fetched twice), nothing new
-- taken from them.
local keep = {}
for i, h in ipairs(held) do
  if i <= fair then
    redis.call('DEL', p .. 'drain:' .. h[1])
    keep[#keep + 1] = h
  elseif redis.call('HLEN', p .. 'p:' .. h[1]) == 0 then
    redis.call('DEL', p .. 'lease:' .. h[1])
    redis.call('DEL', p .. 'drain:' .. h[1])
  else
    redis.call('SET', p .. 'drain:' .. h[1], worker, 'PX', ms)
    keep[#keep + 1] = h
  end
end
held = keep
for _, h in ipairs(held) do redis.call('PEXPIRE', p .. 'lease:' .. h[1], ms) end
for _, s in ipairs(free) do
  if #held >= fair then break end
  redis.call('DEL', p .. 'drain:' .. s)
  local e = redis.call('INCR', p .. 'epoch:' .. s)
  redis.call('SET', p .. 'lease:' .. s, e .. ' ' .. now .. ' ' .. worker, 'PX', ms)
  requeue(s)
  redis.call('RPUSH', p .. 'history', s .. ' ' .. e .. ' ' .. now .. ' ' .. worker)
  held[#held + 1] = {s, e, now}
end
redis.call('LTRIM', p .. 'history', -HISTORY_KEPT, -1)
local out = {live}
for _, h in ipairs(held) do
  out[#out + 1] = h[1]
  out[#out + 1] = h[2]
  out[#out + 1] = h[3]
end
return out
""".replace("HISTORY_KEPT", str(HISTORY_KEPT))
)

# ARGV: prefix, worker, shards. Gives up every lease of this worker, its in-flight entries back.
_CLOSE = (
    _LUA_HELPERS
    + """
local worker, shards = ARGV[2], tonumber(ARGV[3])
for s = 0, shards - 1 do
  local e, a, w = lease_of(s)
  if w == worker then
    redis.call('DEL', p .. 'lease:' .. s)
    requeue(s)
  end
end
redis.call('DEL', p .. 'hb:' .. worker)
redis.call('SREM', p .. 'workers', worker)
return 0
"""
)

# ARGV: prefix, limit. 1 and one more page counted if the cluster-wide count is under limit.
_RESERVE = """
local n = tonumber(redis.call('GET', ARGV[1] .. 'pages') or '0')
if n >= tonumber(ARGV[2]) then return 0 end
redis.call('INCR', ARGV[1] .. 'pages')
return 1
"""

_RETURN = """
if tonumber(redis.call('GET', ARGV[1] .. 'pages') or '0') > 0 then redis.call('DECR', ARGV[1] .. 'pages') end
return 0
"""


@dataclass(frozen=True)
class Address:
    """Where the server is, parsed from a frontier URL; ``shown`` is the URL without its password."""

    shown: str
    db: int
    host: str | None = None
    port: int | None = None
    socket: str | None = None
    username: str | None = None
    password: str | None = None


def parse_url(url: str) -> Address:
    """Parse ``redis://[[USER]:PASSWORD@]HOST:PORT/DB`` or ``unix:///PATH?db=DB``, strictly.

    Raises FrontierError naming the URL, what is wrong and the forms expected.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _bad_url(url, str(error)) from None
    shown = url if parts.password is None else url.replace(f":{parts.password}@", ":***@", 1)
    if parts.fragment or "#" in url:
        raise _bad_url(shown, "it has a fragment (#...)")
    if parts.scheme == "redis":
        return _parse_tcp(shown, parts, port)
    if parts.scheme == "unix":
        return _parse_unix(shown, parts.netloc, parts.path, parts.query)
    raise _bad_url(shown, f"the scheme is {parts.scheme or 'missing'!r}")


def _parse_tcp(shown: str, parts: SplitResult, port: int | None) -> Address:
    if not parts.hostname:
        raise _bad_url(shown, "it names no host")
    if port is None or port == 0:
        raise _bad_url(shown, "it names no port")
    if parts.query:
        raise _bad_url(shown, f"it has a query ({parts.query!r}); the database goes in the path")
    db = _database(shown, parts.path[1:] if parts.path.startswith("/") else None)
    return Address(
        shown,
        db,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _parse_unix(shown: str, netloc: str, path: str, query: str) -> Address:
    if netloc:
        raise _bad_url(shown, f"it names a host ({netloc!r}); a socket URL is unix:///ABSOLUTE/PATH")
    if not path.startswith("/") or path == "/":
        raise _bad_url(shown, "it names no socket path")
    fields = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    names = [name for name, _ in fields]
    if names != ["db"]:
        raise _bad_url(shown, f"its query must be exactly db=DB, not {query!r}")
    return Address(shown, _database(shown, fields[0][1]), socket=unquote(path))


def _database(shown: str, text: str | None) -> int:
    if text is None or not text.isascii() or not text.isdigit():
        raise _bad_url(shown, f"the database is {text!r}, not a number")
    db = int(text)
    if db > 1_000_000:
        raise _bad_url(shown, f"the database number {db} is out of range")
    return db


def _bad_url(url: str, what: str) -> FrontierError:
    return FrontierError(f"frontier URL {url!r}: {what}; expected {URL_FORMS}")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class RedisFrontier:
    """A :class:`crawler.frontier.base.Frontier` on a Redis server, shared by many workers.

    ``worker`` must be unique to this process (two processes under one name
    would share leases). Leases last ``lease_seconds`` from each renewal;
    ``clock`` (monotonic seconds) is this worker's own, by which
    :meth:`holds` decides without asking the server. ``timeout`` bounds every
    call to the server; past it the call raises :class:`FrontierUnavailable`.
    """

    def __init__(
        self,
        url: str,
        *,
        worker: str,
        lease_seconds: float = LEASE_SECONDS,
        shards: int = SHARDS,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 5.0,
    ) -> None:
        if not worker or any(c.isspace() for c in worker):
            raise FrontierError(f"worker name {worker!r}: expected a non-empty name without whitespace")
        if shards < 1:
            raise FrontierError(f"shards = {shards}: expected at least 1")
        if lease_seconds <= 0.01:
            raise FrontierError(f"lease_seconds = {lease_seconds}: expected more than 0.01")
        self.address = parse_url(url)
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.shards = shards
        self._clock = clock
        self._client = self._connect(timeout)
        self._scripts: dict[str, Script] = {
            name: self._client.register_script(text)
            for name, text in (
                ("open", _OPEN),
                ("push", _PUSH),
                ("take", _TAKE),
                ("done", _DONE),
                ("renew", _RENEW),
                ("close", _CLOSE),
                ("reserve", _RESERVE),
                ("return", _RETURN),
            )
        }
        self._held: dict[int, int] = {}  # shard -> epoch, as at the last successful renewal
        self._deadline = -math.inf  # by self._clock: when the leases held run out unless renewed
        self._acquired: dict[int, str] = {}
        self._taken: dict[str, int] = {}  # key -> epoch it was taken under, until done
        self._unsure_push: tuple[str, str] | None = (
            None  # (batch digest, token) of a push whose outcome is unknown
        )
        self._unsure_take: str | None = None  # token of a take whose answer was lost
        self._turn = 0

    def _connect(self, timeout: float) -> redis_py.Redis:
        a = self.address
        common: dict[str, Any] = {
            "db": a.db,
            "username": a.username,
            "password": a.password,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # No retry inside the client: a script whose answer was lost must not run twice
            # unseen; the caller retries the whole operation, which is made safe to repeat.
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
        }
        if a.socket is not None:
            return redis_py.Redis(unix_socket_path=a.socket, **common)
        return redis_py.Redis(host=a.host or "", port=a.port or 0, **common)

    def _run(self, name: str, args: Sequence[str | int | float]) -> Any:
        """Run one script; a server out of reach becomes FrontierUnavailable naming the URL."""
        try:
            return self._scripts[name](keys=[], args=[PREFIX, *args])
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise FrontierUnavailable(
                f"Redis frontier {self.address.shown} is unavailable ({type(error).__name__}: {error}); "
                "nothing was lost, try again when it is back"
            ) from error
        except RedisError as error:
            raise FrontierError(f"Redis frontier {self.address.shown} refused {name}: {error}") from error

    # --- joining and leaving

    def open(self, identity: Mapping[str, str]) -> None:
        """Join the crawl of this database, creating it with ``identity`` if it holds none; renew.

        Raises FrontierError naming the fields that differ when the database
        holds another crawl, or another number of shards or layout.
        """
        text = self._identity_text(identity)
        stored, shards, layout = self._run("open", [text, self.shards, FORMAT])
        self._compare(stored, shards, layout, dict(identity))
        self.renew()

    def check(self, identity: Mapping[str, str]) -> None:
        """Raise FrontierError as :meth:`open` would; write nothing (a database holding no crawl passes)."""
        self._identity_text(identity)
        keys = [PREFIX + name for name in ("identity", "shards", "format")]
        stored, shards, layout = self._call(lambda client: client.mget(keys))
        if stored is not None:
            self._compare(stored, shards or "", layout or "", dict(identity))

    @staticmethod
    def _identity_text(identity: Mapping[str, str]) -> str:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in identity.items()):
            raise FrontierError("the crawl identity must map names to strings")
        return json.dumps(dict(identity), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def _compare(self, stored: str, shards: str, layout: str, identity: dict[str, str]) -> None:
        if layout != FORMAT:
            raise FrontierError(
                f"Redis frontier {self.address.shown} holds frontier layout {layout!r}, not {FORMAT!r}: "
                "another version's crawl; use another database"
            )
        if shards != str(self.shards):
            raise FrontierError(
                f"Redis frontier {self.address.shown} holds a crawl of {shards} shards, not {self.shards}"
            )
        self._check_identity(stored, identity)

    def _check_identity(self, stored: str, mine: dict[str, str]) -> None:
        try:
            theirs = json.loads(stored)
        except ValueError:
            theirs = None
        if not isinstance(theirs, dict):
            raise FrontierError(f"Redis frontier {self.address.shown} holds a damaged crawl identity")
        differing = sorted(k for k in theirs.keys() | mine.keys() if theirs.get(k) != mine.get(k))
        if differing:
            raise FrontierError(
                f"Redis frontier {self.address.shown} holds another crawl: its "
                f"{', '.join(differing)} differ from this command's; run the crawl's own command, "
                "or use another database"
            )

    def disconnect(self) -> None:
        """Close the connection only: for a frontier :meth:`check`-ed and never opened (no lease held)."""
        self._client.close()

    def close(self) -> None:
        """Give up every lease of this worker; their in-flight entries go back to their queues."""
        self._run("close", [self.worker, self.shards])
        self._held = {}
        self._acquired = {}
        self._deadline = -math.inf
        self._client.close()

    # --- the queue

    def push(self, entries: Sequence[Entry], host_cap: int = 0) -> Pushed:
        """Enqueue ``entries`` (filtered ones only if their fingerprint is new); return what was queued.

        ``host_cap``: see :meth:`crawler.frontier.base.Frontier.push`. Calling
        again with the same entries after FrontierUnavailable is safe: the retry
        carries the lost call's token, and a batch already applied is not
        applied again (its first answer is given again).
        """
        if not entries:
            return Pushed()
        args: list[str | int] = []
        digest = hashlib.blake2b(digest_size=16)
        digest.update(str(host_cap).encode("ascii"))
        for entry in entries:
            fields = self._fields(entry)
            args.extend(fields)
            digest.update(json.dumps(fields).encode("utf-8"))
        # Filtered entries are idempotent by the seen set; unfiltered ones need the marker, and so do
        # capped ones (left out unseen: a retry would count them over the cap twice).
        needs_token = any(not e.filtered or (host_cap and e.capped) for e in entries)
        token = ""
        if needs_token:
            unsure = self._unsure_push
            token = unsure[1] if unsure and unsure[0] == digest.hexdigest() else uuid.uuid4().hex
        try:
            answer = self._run("push", [token, max(0, host_cap), *args])
        except FrontierUnavailable:
            if needs_token:
                self._unsure_push = (digest.hexdigest(), token)
            raise
        self._unsure_push = None
        over = {str(host): int(n) for host, n in zip(answer[1::2], answer[2::2], strict=True)}
        return Pushed(int(answer[0]), over)

    def scheduled(self, host: str) -> int:
        """Entries of ``host`` ever queued against its cap (see :meth:`push`)."""
        return int(self._call(lambda client: client.hget(PREFIX + "scheduled", host)) or 0)

    def _fields(self, entry: Entry) -> list[str | int]:
        if not entry.fingerprint or any(c.isspace() for c in entry.fingerprint):
            raise FrontierError(
                f"entry {entry.url!r}: fingerprint {entry.fingerprint!r} is empty or has spaces"
            )
        if not entry.host:
            raise FrontierError(f"entry {entry.url!r}: no host")
        return [
            entry.fingerprint,
            shard_of(entry.host, self.shards),
            entry.host,
            f"{len(entry.url)}:{entry.url}{entry.payload}",
            int(entry.priority),
            "1" if entry.filtered else "0",
            "1" if entry.capped else "0",
        ]

    def take(self, limit: int) -> list[Taken]:
        """Take up to ``limit`` entries from the shards this worker holds (checked on the server).

        Nothing is taken once this worker's own clock says its leases ran out
        since the last renewal: it must renew first. After FrontierUnavailable,
        the next call first gives back what the lost answer held.
        """
        if limit <= 0 or not self._leases_valid() or not self._held:
            return []
        order = sorted(self._held)
        self._turn = (self._turn + 1) % len(order)
        order = order[self._turn :] + order[: self._turn]  # each call starts at another shard
        pairs = [str(x) for shard in order for x in (shard, self._held[shard])]
        recover = self._unsure_take is not None
        token = self._unsure_take or uuid.uuid4().hex
        try:
            flat = self._run("take", [self.worker, limit, token, "1" if recover else "0", *pairs])
        except FrontierUnavailable:
            self._unsure_take = token
            raise
        self._unsure_take = None
        taken = []
        for i in range(0, len(flat), 3):
            key, epoch, value = flat[i], int(flat[i + 1]), flat[i + 2]
            url, payload = _split_value(value)
            shard = int(key.split("-", 1)[0])
            self._taken[key] = epoch
            taken.append(Taken(Claim(key, shard, epoch, self.worker), url, payload))
        return taken

    def done(self, keys: Sequence[str]) -> None:
        """``keys`` leave the frontier for good; keys not in flight (already done, requeued) are ignored.

        A key this object took is removed only if still in flight under the
        epoch it was taken under (so a stale worker never removes the new
        owner's entry); a key it did not take, under any epoch.
        """
        if not keys:
            return
        pairs = [str(x) for key in keys for x in (key, self._taken.get(key, "*"))]
        self._run("done", [self.worker, *pairs])
        for key in keys:
            self._taken.pop(key, None)

    # --- leases

    def renew(self) -> list[Lease]:
        """Renew this worker's leases, give up those beyond its fair share, claim free ones up to it.

        The fair share is ceil(shards / live workers), a live worker being one
        whose heartbeat has not expired. A shard beyond it with URLs in flight
        is kept, draining (:meth:`take` gives nothing new from it), until they
        are done. Every claim increments the shard's epoch and puts its
        in-flight entries (a lapsed owner's) back in its queue.
        """
        started = self._clock()
        flat = self._run("renew", [self.worker, max(1, round(self.lease_seconds * 1000)), self.shards])
        held: dict[int, int] = {}
        acquired: dict[int, str] = {}
        for i in range(1, len(flat), 3):
            shard, epoch, ms = int(flat[i]), int(flat[i + 1]), int(flat[i + 2])
            held[shard] = epoch
            acquired[shard] = _iso(ms)
        self._held = held
        self._acquired = acquired
        # The server's lease started after `started`, so this worker's deadline comes first.
        self._deadline = started + self.lease_seconds
        self._taken = {k: e for k, e in self._taken.items() if held.get(int(k.split("-", 1)[0])) == e}
        return self._leases()

    def _leases(self) -> list[Lease]:
        return [Lease(s, e, self.worker, self._acquired[s]) for s, e in sorted(self._held.items())]

    def _leases_valid(self) -> bool:
        return self._clock() < self._deadline

    def holds(self, claim: Claim) -> bool:
        """Whether ``claim``'s lease is still this worker's, by its own clock (no call to the server)."""
        return (
            claim.worker == self.worker
            and self._held.get(claim.shard) == claim.epoch
            and self._leases_valid()
        )

    # --- counts and pages

    def counts(self) -> Counts:
        """Cluster-wide counts, as the scripts keep them."""
        values = self._call(lambda c: c.hmget(PREFIX + "counts", ["queued", "in_flight", "done"]))
        return Counts(*(int(v or 0) for v in values))

    def reserve_page(self, limit: int) -> bool:
        """Count one page against the cluster-wide ``limit`` if there is room (atomic on the server)."""
        return bool(self._run("reserve", [limit]))

    def return_page(self) -> None:
        """Give back one reserved page (never below zero)."""
        self._run("return", [])

    def _call(self, action: Callable[[redis_py.Redis], Any]) -> Any:
        try:
            return action(self._client)
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise FrontierUnavailable(
                f"Redis frontier {self.address.shown} is unavailable ({type(error).__name__}: {error})"
            ) from error
        except RedisError as error:
            raise FrontierError(f"Redis frontier {self.address.shown}: {error}") from error

    def status(self) -> Status:
        """Totals, per shard, per worker (live workers and those with work done), leases held, hosts."""
        s = self.shards

        def read(client: redis_py.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=True)  # one consistent snapshot
            pipe.hmget(PREFIX + "counts", ["queued", "in_flight", "done"])
            pipe.hgetall(PREFIX + "done:shard")
            pipe.hgetall(PREFIX + "done:worker")
            pipe.scard(PREFIX + "hosts")
            pipe.get(PREFIX + "pages")
            pipe.llen(PREFIX + "history")
            pipe.smembers(PREFIX + "workers")
            for shard in range(s):
                pipe.zcard(f"{PREFIX}q:{shard}")
                pipe.hlen(f"{PREFIX}p:{shard}")
                pipe.get(f"{PREFIX}lease:{shard}")
            return list(pipe.execute())

        r = self._call(read)
        totals, done_shard, done_worker, hosts, pages, history, workers = r[:7]
        status = Status(
            backend="redis",
            total=Counts(*(int(v or 0) for v in totals)),
            hosts=int(hosts),
            pages=int(pages or 0),
        )
        per_worker = {w: Counts(done=int(n)) for w, n in done_worker.items()}
        for w in workers:
            per_worker.setdefault(w, Counts())
        for shard in range(s):
            queued, in_flight, lease = r[7 + 3 * shard : 10 + 3 * shard]
            status.shards[shard] = Counts(int(queued), int(in_flight), int(done_shard.get(str(shard), 0)))
            if lease:
                epoch, ms, owner = lease.split(" ", 2)
                status.leases.append(Lease(shard, int(epoch), owner, _iso(int(ms))))
                mine = per_worker.setdefault(owner, Counts())
                mine.queued += int(queued)
                mine.in_flight += int(in_flight)
        status.workers = dict(sorted(per_worker.items()))
        status.details = {
            "url": self.address.shown,
            "live workers": str(len(workers)),
            "lease acquisitions": str(history),
            "key prefix": PREFIX,
        }
        return status

    def lease_history(self, last: int = 100) -> list[Lease]:
        """The last ``last`` lease acquisitions (shard, epoch, worker, when), oldest first."""
        rows = self._call(lambda c: c.lrange(PREFIX + "history", -last, -1))
        history = []
        for row in rows:
            shard, epoch, ms, worker = row.split(" ", 3)
            history.append(Lease(int(shard), int(epoch), worker, _iso(int(ms))))
        return history


def _split_value(value: str) -> tuple[str, str]:
    """``{len(url)}:{url}{payload}`` -> (url, payload)."""
    length, _, rest = value.partition(":")
    n = int(length)
    return rest[:n], rest[n:]
