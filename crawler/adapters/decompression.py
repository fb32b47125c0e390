"""StrictDecompressionMiddleware: Scrapy's HttpCompressionMiddleware, made strict about what it cannot decode.

The add-on puts it in place of Scrapy's middleware (same priority, 590).
Scrapy's version returns what it could decompress of a stream cut short and
passes unknown content-codings through with a warning; a page read that way
may have lost the ``<meta>`` that reserves it. Here the body is decoded by
:func:`policies.contentcoding.decode_content`, whole or not at all, within the
request's size bound (``policy_evidence_limit`` for evidence documents, else
``download_maxsize`` / ``DOWNLOAD_MAXSIZE``), counted after decompression. A
body that cannot be decoded is passed on as received, with the reason in
``response.meta["policy_incomplete"]``: the gate refuses such a page (signal
``incomplete``), the evidence fetcher reads such a document as not read whole.
``audit`` decodes archived bodies with the same function and the same bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import TextResponse
from scrapy.responsetypes import responsetypes

from policies.contentcoding import ContentCodingError, codings, decode_content, undecodable

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response

INCOMPLETE = "policy_incomplete"  # request meta: why the response is not the whole document
DECODED = "policy_decoded"  # request meta: the body was decoded from a content-coding (whole)


def size_bound(request: Request, default: int) -> int:
    """The bound a response body must stay within, after decompression (0: none)."""
    evidence = request.meta.get("policy_evidence_limit")
    if evidence:
        return int(evidence)
    return int(request.meta.get("download_maxsize", default) or 0)


class StrictDecompressionMiddleware(HttpCompressionMiddleware):
    """Decodes Content-Encoding whole and within the size bound, or marks the response incomplete."""

    def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.method == "HEAD":
            return response
        applied = codings(v.decode("latin-1") for v in response.headers.getlist("Content-Encoding"))
        if not applied:
            return response
        bound = size_bound(request, self._max_size)
        try:
            body = decode_content(response.body, applied, bound or 2**62)
        except ContentCodingError as exc:
            request.meta[INCOMPLETE] = undecodable(applied, exc)
            if self.stats:
                self.stats.inc_value("policy/incomplete/content-coding")
            return response
        request.meta[DECODED] = True  # a cut stream would not have decoded
        if self.stats:
            self.stats.inc_value("httpcompression/response_bytes", len(body))
            self.stats.inc_value("httpcompression/response_count")
        headers = response.headers.copy()
        del headers["Content-Encoding"]
        cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
        kwargs = {"encoding": None} if issubclass(cls, TextResponse) else {}
        return response.replace(cls=cls, body=body, headers=headers, **kwargs)
