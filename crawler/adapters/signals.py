"""Signals the gate sends, for the archive and the spider to act on.

* ``evidence_fetched(document, request, response)``: an evidence document
  (robots.txt, ...) was fetched, or failed to be. ``response`` is None when no
  response came back. A handler that archives it returns the WARC record id.
* ``host_evidence_ready(evidence)``: a host's evidence was (re)gathered; the
  spider schedules the sitemaps it names.
* ``request_refused(request, decision, response)``: the gate refused a URL.
  ``response`` is None for a pre-fetch refusal (nothing was requested), else
  the response whose signals reserved it (its body is never archived).
* ``recheck_decided(request, decisions, grounded)``: a URL marked
  ``policy_recheck`` was judged again for every purpose (``{Purpose:
  Decision}``) and dropped. ``grounded`` is the same judgement on the host's
  documents that were read whole alone (``policies.evidence.read_whole``), or
  None when nothing was read.
"""

from __future__ import annotations

evidence_fetched = object()
host_evidence_ready = object()
request_refused = object()
recheck_decided = object()
