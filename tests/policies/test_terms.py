"""Terms pages: finding the link, the normalised text and its digest, the passages kept for review."""

from __future__ import annotations

import pytest

from policies.terms import find_terms_links, restrictive_passages, terms_text, text_sha256

HOME = (
    b'<html><body><nav><a href="/">Home</a><a href="/about">About us</a></nav>'
    b'<footer><a href="/privacy">Privacy</a><a href="/legal">Legal</a>'
    b'<a href="/policies/terms-of-use#top">Terms of Use</a>'
    b'<a href="https://other.org/terms">Partner terms</a>'
    b'<a href="mailto:x@y">Contact</a></footer></body></html>'
)


def test_terms_links_best_first() -> None:
    links = find_terms_links(HOME, "https://www.example.org/")
    assert links[0] == "https://www.example.org/policies/terms-of-use"
    assert "https://www.example.org/legal" in links
    assert "https://www.example.org/privacy" not in links and "https://www.example.org/about" not in links
    assert links[-1] == "https://other.org/terms"  # another site's terms come last
    assert (
        find_terms_links(b"", "https://x/") == []
        and find_terms_links(b"\x00\xff garbage", "https://x/") == []
    )


@pytest.mark.parametrize(
    ("anchor", "found"),
    [
        (b'<a href="/agb">AGB</a>', True),
        (b'<a href="/x">Conditions g\xc3\xa9n\xc3\xa9rales</a>', True),
        (b'<a href="/terms-and-conditions">Read</a>', True),  # the path says it
        (b'<a href="/stories">Stories</a>', False),
        (b'<a href="/tosca">Opera</a>', False),  # whole words only
    ],
)
def test_terms_link_words(anchor: bytes, found: bool) -> None:
    assert bool(find_terms_links(b"<html><body>" + anchor + b"</body></html>", "https://x/")) is found


def test_normalised_text_is_stable() -> None:
    html = b"<html><head><style>p{}</style><script>var x=1</script></head>"
    html += b"<body><p>Terms\n\n of   Use</p><p>\xef\xbc\xa1I</p></body></html>"
    assert terms_text(html) == "Terms of Use AI"  # scripts dropped, whitespace collapsed, NFKC (fullwidth A)
    same = b"<html><body><div>Terms of Use</div> <span>AI</span></body></html>"
    assert text_sha256(terms_text(html)) == text_sha256(terms_text(same))
    assert terms_text(b"Plain  text\nterms") == "Plain text terms"


def test_passages() -> None:
    text = (
        "Welcome to our site. You may not scrape, crawl or index the Service by automated means. "
        "Payment is due monthly. Our content may not be used for machine learning or to train AI models! "
        "We like robots? Contact us."
    )
    found = restrictive_passages(text)
    assert found == (
        "You may not scrape, crawl or index the Service by automated means.",
        "Our content may not be used for machine learning or to train AI models!",
        "We like robots?",
    )
    assert restrictive_passages("Be nice. Pay bills. Maintain your account.") == ()
    assert restrictive_passages("SAID is a word. Chair.") == ()  # 'ai' only as a word
