"""Requests as JSON text for the frontier: callbacks by name, bytes in base64, never pickle.

What a request carries between the spider and the downloader is what Scrapy's
``Request.to_dict`` gives, with the meta values that only make sense in this
process left out (the gate's typed decisions, budget tokens: objects, set
again when the request is next fetched). A request that cannot be written
(a callback that is not a method of the spider) raises ValueError: it is not
queued silently changed.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from scrapy.utils.request import request_from_dict

if TYPE_CHECKING:
    from scrapy import Request, Spider

_BYTES = "$b64"
# Set by the frontier scheduler when a request is taken; never stored with it.
CLAIM_META = "frontier_claim"
# Meta of this process only, never stored: the page budget's token counts a page in flight here.
# The gate's meta ("policy_"): its decisions, and the mark of an evidence request that it does not
# judge. Made again when the request is next fetched; never stored, so no queued request can carry
# a mark that would let it through unjudged.
PROCESS_ONLY = ("_permitcrawl_", "policy_")
# Set on a request dropped for a reason that is not its URL's (the page budget spent): the
# frontier keeps it queued for a later run rather than counting it done.
PUT_BACK = "_permitcrawl_put_back"


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {
            str(k if not isinstance(k, bytes) else k.decode("latin-1")): _encode(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _BYTES in value:
            return base64.b64decode(value[_BYTES])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _portable(value: Any) -> bool:
    """Whether ``value`` survives JSON as itself (numbers, text, lists and dicts of them)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_portable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _portable(v) for k, v in value.items())
    return False


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _without_licence_tokens(headers: dict[Any, Any]) -> dict[Any, Any]:
    """``headers`` without an RSL licence token (``Authorization: License ...``): a secret is never stored.

    The gate sets it again, freshly, when the request is next fetched.
    """
    kept = {}
    for name, values in headers.items():
        if _text(name).lower() == "authorization":
            values = [v for v in values if not _text(v).lower().startswith("license ")]
            if not values:
                continue
        kept[name] = values
    return kept


def encode_request(request: Request, spider: Spider) -> str:
    """The JSON text of ``request`` (its process-only meta left out)."""
    data = request.to_dict(spider=spider)
    meta = data.get("meta") or {}
    data["meta"] = {
        k: v for k, v in meta.items() if k != CLAIM_META and not k.startswith(PROCESS_ONLY) and _portable(v)
    }
    data["headers"] = _without_licence_tokens(data.get("headers") or {})
    return json.dumps(_encode(data), separators=(",", ":"), sort_keys=True)


def decode_request(text: str, spider: Spider) -> Request:
    """The request ``encode_request`` wrote (callbacks found on ``spider`` by name)."""
    return request_from_dict(_decode(json.loads(text)), spider=spider)
