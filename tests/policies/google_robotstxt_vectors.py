"""Google's robots.txt test suite, as vectors: every matcher expectation of its robots_test.cc.

Source: https://github.com/google/robotstxt, commit 22b355ff855419e6a3ff8ff09c0ad7fdb17116f9
(2026-04-01), files robots_test.cc (the test suite; each vector names its TEST) and robots.cc (the
``extra_*`` vectors: behaviour of the parser that robots_test.cc does not exercise: typo and
prefix keys, ``* garbage``, the caller's user agent compared whole).

Copyright 2019 Google LLC

Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
in compliance with the License. You may obtain a copy of the License at

    https://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the License
is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or
implied. See the License for the specific language governing permissions and limitations under the
License. The licence text is LICENSE-google-robotstxt next to this file.

Modified: the C++ ``EXPECT_TRUE/EXPECT_FALSE(IsUserAgentAllowed(robotstxt, useragent, url))`` calls
are transcribed as ``(test, robots.txt, user agent, URL, Google's answer)`` rows;
``ID_UTF8ByteOrderMarkIsSkipped`` (a parser test counting valid lines) is observed through a
``Disallow`` in :data:`BYTE_CASES`; ``TestGetPathParamsQuery`` is :data:`PATH_CASES`.

:data:`DIFFERENCES` lists the vectors where permitcrawl answers otherwise, on purpose, with the
reason; the tests check that it is exactly the set of vectors where we differ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One ``IsUserAgentAllowed`` expectation: ``google`` is True when Google's parser allows."""

    test: str
    robots: str
    agent: str
    url: str
    google: bool
    id: str = ""


CASES: list[Case] = []
_counts: dict[str, int] = {}


def _e(test: str, robots: str, agent: str, url: str, google: bool) -> None:
    number = _counts.get(test, 0) + 1
    _counts[test] = number
    CASES.append(Case(test, robots, agent, url, google, f"{test}#{number}"))


def _u(path: str) -> str:
    return "http://foo.bar" + path


T = "GoogleOnly_SystemTest"
_r = "user-agent: FooBot\ndisallow: /\n"
_e(T, "", "FooBot", "", True)
_e(T, _r, "", "", True)
_e(T, _r, "FooBot", "", False)
_e(T, "", "", "", True)

T = "ID_LineSyntax_Line"
_e(T, "user-agent: FooBot\ndisallow: /\n", "FooBot", _u("/x/y"), False)
_e(T, "foo: FooBot\nbar: /\n", "FooBot", _u("/x/y"), True)
_e(T, "user-agent FooBot\ndisallow /\n", "FooBot", _u("/x/y"), False)

T = "ID_LineSyntax_Groups"
_r = (
    "allow: /foo/bar/\n\nuser-agent: FooBot\ndisallow: /\nallow: /x/\nuser-agent: BarBot\ndisallow: /\n"
    "allow: /y/\n\n\nallow: /w/\nuser-agent: BazBot\n\nuser-agent: FooBot\nallow: /z/\ndisallow: /\n"
)
_e(T, _r, "FooBot", _u("/x/b"), True)
_e(T, _r, "FooBot", _u("/z/d"), True)
_e(T, _r, "FooBot", _u("/y/c"), False)
_e(T, _r, "BarBot", _u("/y/c"), True)
_e(T, _r, "BarBot", _u("/w/a"), True)
_e(T, _r, "BarBot", _u("/z/d"), False)
_e(T, _r, "BazBot", _u("/z/d"), True)
for _agent in ("FooBot", "BarBot", "BazBot"):
    _e(T, _r, _agent, _u("/foo/bar/"), False)

T = "ID_LineSyntax_Groups_OtherRules"
_r = "User-agent: BarBot\nSitemap: https://foo.bar/sitemap\nUser-agent: *\nDisallow: /\n"
_e(T, _r, "FooBot", _u("/"), False)
_e(T, _r, "BarBot", _u("/"), False)
_r = "User-agent: FooBot\nInvalid-Unknown-Line: unknown\nUser-agent: *\nDisallow: /\n"
_e(T, _r, "FooBot", _u("/"), False)
_e(T, _r, "BarBot", _u("/"), False)

T = "ID_REPLineNamesCaseInsensitive"
for _r in (
    "USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n",
    "user-agent: FooBot\nallow: /x/\ndisallow: /\n",
    "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n",
):
    _e(T, _r, "FooBot", _u("/x/y"), True)
    _e(T, _r, "FooBot", _u("/a/b"), False)

T = "ID_UserAgentValueCaseInsensitive"
for _r in (
    "User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n",
    "User-Agent: foo bar\nAllow: /x/\nDisallow: /\n",
    "User-Agent: FoO bAr\nAllow: /x/\nDisallow: /\n",
):
    for _agent in ("Foo", "foo"):
        _e(T, _r, _agent, _u("/x/y"), True)
        _e(T, _r, _agent, _u("/a/b"), False)

T = "GoogleOnly_AcceptUserAgentUpToFirstSpace"
_r = "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n"
_e(T, _r, "Foo", _u("/x/y"), True)
_e(T, _r, "Foo Bar", _u("/x/y"), False)

T = "ID_GlobalGroups_Secondary"
_e(T, "", "FooBot", _u("/x/y"), True)
_r = "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n"
_e(T, _r, "FooBot", _u("/x/y"), False)
_e(T, _r, "BarBot", _u("/x/y"), True)
_r = "user-agent: FooBot\nallow: /\nuser-agent: BarBot\ndisallow: /\nuser-agent: BazBot\ndisallow: /\n"
_e(T, _r, "QuxBot", _u("/x/y"), True)

T = "ID_AllowDisallow_Value_CaseSensitive"
_e(T, "user-agent: FooBot\ndisallow: /x/\n", "FooBot", _u("/x/y"), False)
_e(T, "user-agent: FooBot\ndisallow: /X/\n", "FooBot", _u("/x/y"), True)

T = "ID_LongestMatch"
_url = _u("/x/page.html")
_e(T, "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/\n", "FooBot", _url, False)
_r = "user-agent: FooBot\nallow: /x/page.html\ndisallow: /x/\n"
_e(T, _r, "FooBot", _url, True)
_e(T, _r, "FooBot", _u("/x/"), False)
_e(T, "user-agent: FooBot\ndisallow: \nallow: \n", "FooBot", _url, True)
_e(T, "user-agent: FooBot\ndisallow: /\nallow: /\n", "FooBot", _url, True)
_r = "user-agent: FooBot\ndisallow: /x\nallow: /x/\n"
_e(T, _r, "FooBot", _u("/x"), False)
_e(T, _r, "FooBot", _u("/x/"), True)
_e(T, "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/page.html\n", "FooBot", _url, True)
_r = "user-agent: FooBot\nallow: /page\ndisallow: /*.html\n"
_e(T, _r, "FooBot", _u("/page.html"), False)
_e(T, _r, "FooBot", _u("/page"), True)
_r = "user-agent: FooBot\nallow: /x/page.\ndisallow: /*.html\n"
_e(T, _r, "FooBot", _url, True)
_e(T, _r, "FooBot", _u("/x/y.html"), False)
_r = "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n"
_e(T, _r, "FooBot", _u("/x/page"), True)
_e(T, _r, "FooBot", _u("/y/page"), False)

T = "ID_Encoding"
_e(
    T,
    "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n",
    "FooBot",
    "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par",
    True,
)
_r = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/ツ\n"
_e(T, _r, "FooBot", _u("/foo/bar/%E3%83%84"), True)
_e(T, _r, "FooBot", _u("/foo/bar/ツ"), False)
_r = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%E3%83%84\n"
_e(T, _r, "FooBot", _u("/foo/bar/%E3%83%84"), True)
_e(T, _r, "FooBot", _u("/foo/bar/ツ"), False)
_r = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n"
_e(T, _r, "FooBot", _u("/foo/bar/baz"), False)
_e(T, _r, "FooBot", _u("/foo/bar/%62%61%7A"), True)

T = "ID_SpecialCharacters"
_r = "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n"
_e(T, _r, "FooBot", _u("/foo/bar/quz"), False)
_e(T, _r, "FooBot", _u("/foo/quz"), True)
_e(T, _r, "FooBot", _u("/foo//quz"), True)
_e(T, _r, "FooBot", _u("/foo/bax/quz"), True)
_r = "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n"
_e(T, _r, "FooBot", _u("/foo/bar"), False)
_e(T, _r, "FooBot", _u("/foo/bar/qux"), True)
_e(T, _r, "FooBot", _u("/foo/bar/"), True)
_e(T, _r, "FooBot", _u("/foo/bar/baz"), True)
_r = "User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n"
_e(T, _r, "FooBot", _u("/foo/bar"), True)
_e(T, _r, "FooBot", _u("/foo/quz"), False)

T = "GoogleOnly_IndexHTMLisDirectory"
_r = "User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n"
_e(T, _r, "foobot", "http://foo.com/allowed-slash/", True)
_e(T, _r, "foobot", "http://foo.com/allowed-slash/index.htm", False)
_e(T, _r, "foobot", "http://foo.com/allowed-slash/index.html", True)
_e(T, _r, "foobot", "http://foo.com/anyother-url", False)

T = "GoogleOnly_LineTooLong"
_MAX_LINE_LEN = 2083 * 8
_EOL_LEN = len("\n")
_longline = "/x/"
_longline += "a" * (_MAX_LINE_LEN - len(_longline) - len("disallow: ") + _EOL_LEN - len(_longline))
_r = "user-agent: FooBot\ndisallow: " + _longline + "/qux\n"
_e(T, _r, "FooBot", _u("/fux"), True)
_e(T, _r, "FooBot", _u(_longline + "/fux"), False)
_length = _MAX_LINE_LEN - len("/x/") - len("allow: ") + _EOL_LEN
_long_a = "/x/" + "a" * (_length - 3)
_long_b = "/x/" + "b" * (_length - 3)
_r = "user-agent: FooBot\ndisallow: /\nallow: " + _long_a + "/qux\nallow: " + _long_b + "/qux\n"
_e(T, _r, "FooBot", _u("/"), False)
_e(T, _r, "FooBot", _u(_long_a + "/qux"), True)
_e(T, _r, "FooBot", _u(_long_b + "/fux"), True)

T = "GoogleOnly_DocumentationChecks"
_DOCUMENTATION: list[tuple[str, list[tuple[str, bool]]]] = [
    (
        "/fish",
        [("/bar", False), ("/fish", True), ("/fish.html", True), ("/fish/salmon.html", True),
         ("/fishheads", True), ("/fishheads/yummy.html", True), ("/fish.html?id=anything", True),
         ("/Fish.asp", False), ("/catfish", False), ("/?id=fish", False)],
    ),
    (
        "/fish*",
        [("/bar", False), ("/fish", True), ("/fish.html", True), ("/fish/salmon.html", True),
         ("/fishheads", True), ("/fishheads/yummy.html", True), ("/fish.html?id=anything", True),
         ("/Fish.bar", False), ("/catfish", False), ("/?id=fish", False)],
    ),
    (
        "/fish/",
        [("/bar", False), ("/fish/", True), ("/fish/salmon", True), ("/fish/?salmon", True),
         ("/fish/salmon.html", True), ("/fish/?id=anything", True), ("/fish", False),
         ("/fish.html", False), ("/Fish/Salmon.html", False)],
    ),
    (
        "/*.php",
        [("/bar", False), ("/filename.php", True), ("/folder/filename.php", True),
         ("/folder/filename.php?parameters", True), ("//folder/any.php.file.html", True),
         ("/filename.php/", True), ("/index?f=filename.php/", True), ("/php/", False),
         ("/index?php", False), ("/windows.PHP", False)],
    ),
    (
        "/*.php$",
        [("/bar", False), ("/filename.php", True), ("/folder/filename.php", True),
         ("/filename.php?parameters", False), ("/filename.php/", False), ("/filename.php5", False),
         ("/php/", False), ("/filename?php", False), ("/aaaphpaaa", False), ("//windows.PHP", False)],
    ),
    ("/fish*.php", [("/bar", False), ("/fish.php", True), ("/fishheads/catfish.php?parameters", True),
                    ("/Fish.PHP", False)]),
]  # fmt: skip
for _allow, _paths in _DOCUMENTATION:
    for _path, _google in _paths:
        _e(T, f"user-agent: FooBot\ndisallow: /\nallow: {_allow}\n", "FooBot", _u(_path), _google)
_e(T, "user-agent: FooBot\nallow: /p\ndisallow: /\n", "FooBot", "http://example.com/page", True)
_e(
    T,
    "user-agent: FooBot\nallow: /folder\ndisallow: /folder\n",
    "FooBot",
    "http://example.com/folder/page",
    True,
)
_e(T, "user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n", "FooBot", "http://example.com/page.htm", False)
_r = "user-agent: FooBot\nallow: /$\ndisallow: /\n"
_e(T, _r, "FooBot", "http://example.com/", True)
_e(T, _r, "FooBot", "http://example.com/page.html", False)

# robots.cc behaviour robots_test.cc does not exercise (KeyIsUserAgent/KeyIsAllow/KeyIsDisallow match
# keys by prefix, with kAllowFrequentTypos; ExtractUserAgent; the caller's agent compared whole).
T = "extra_robots.cc_KeyIsDisallow"
for _key in (
    "disallow",
    "dissallow",
    "dissalow",
    "disalow",
    "diasllow",
    "disallaw",
    "Disallowed",
    "disallow-this",
):
    _e(T, f"user-agent: FooBot\n{_key}: /\n", "FooBot", _u("/a"), False)
T = "extra_robots.cc_KeyIsUserAgent"
for _key in ("useragent", "user agent", "User-agents", "user-agent-x"):
    _e(T, f"{_key}: FooBot\ndisallow: /\n", "FooBot", _u("/a"), False)
T = "extra_robots.cc_KeyIsAllow"
_e(T, "user-agent: FooBot\ndisallow: /\nallowed: /a\n", "FooBot", _u("/a"), True)
T = "extra_robots.cc_GetKeyAndValueFrom"
_e(T, "User-agent: FooBot\nDisallow:/a b\n", "FooBot", _u("/a"), True)
T = "extra_robots.cc_ExtractUserAgent"
_e(T, "user-agent: * garbage\ndisallow: /\n", "FooBot", _u("/a"), False)
_e(T, "user-agent: *garbage\ndisallow: /\n", "FooBot", _u("/a"), True)
_e(T, "user-agent: FooBot/1.2\ndisallow: /\n", "FooBot", _u("/a"), False)
_e(T, "user-agent: FooBot\ndisallow: /\n", "foobot", _u("/a"), False)
T = "extra_robots.cc_AllowedByRobots"
_e(T, "user-agent: FooBot\ndisallow: /a\n", "FooBot/1.2", _u("/a"), True)


@dataclass(frozen=True)
class ByteCase:
    """A robots.txt given as bytes (served as ``text/plain``, no charset), judged for FooBot."""

    test: str
    body: bytes
    url: str
    google: bool


# ID_UTF8ByteOrderMarkIsSkipped: Google counts valid lines; here line 1 is 'User-Agent: FooBot' and a
# Disallow on the next line applies only if line 1 was read (and the Disallow line itself is valid).
_BOM_RULES = b"User-Agent: FooBot\nDisallow: /AnyValue\n"
BYTE_CASES: list[ByteCase] = [
    ByteCase("ID_UTF8ByteOrderMarkIsSkipped#full", b"\xef\xbb\xbf" + _BOM_RULES, _u("/AnyValue"), False),
    ByteCase("ID_UTF8ByteOrderMarkIsSkipped#partial-2", b"\xef\xbb" + _BOM_RULES, _u("/AnyValue"), False),
    ByteCase("ID_UTF8ByteOrderMarkIsSkipped#partial-1", b"\xef" + _BOM_RULES, _u("/AnyValue"), False),
    ByteCase("ID_UTF8ByteOrderMarkIsSkipped#broken", b"\xef\x11\xbf" + _BOM_RULES, _u("/AnyValue"), True),
    ByteCase(
        "ID_UTF8ByteOrderMarkIsSkipped#mid-file",
        b"User-Agent: FooBot\n\xef\xbb\xbfDisallow: /AnyValue\n",
        _u("/AnyValue"),
        True,
    ),
    # MaybeEscapePattern on a file that is not UTF-8: the Latin-1 byte 0xE9 is the pattern '%E9'.
    ByteCase(
        "extra_robots.cc_MaybeEscapePattern#latin1",
        b"User-agent: *\nDisallow: /caf\xe9\n",
        _u("/caf%E9"),
        False,
    ),
    ByteCase(
        "extra_robots.cc_MaybeEscapePattern#latin1-utf8-url",
        b"User-agent: *\nDisallow: /caf\xe9\n",
        _u("/caf%C3%A9"),
        True,
    ),
]

# TestGetPathParamsQuery: URL -> the path (with params and query) that patterns are matched against.
PATH_CASES: list[tuple[str, str]] = [
    ("", "/"),
    ("http://www.example.com", "/"),
    ("http://www.example.com/", "/"),
    ("http://www.example.com/a", "/a"),
    ("http://www.example.com/a/", "/a/"),
    ("http://www.example.com/a/b?c=http://d.e/", "/a/b?c=http://d.e/"),
    ("http://www.example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"),
    ("example.com", "/"),
    ("example.com/", "/"),
    ("example.com/a", "/a"),
    ("example.com/a/", "/a/"),
    ("example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"),
    ("a", "/"),
    ("a/", "/"),
    ("/a", "/a"),
    ("a/b", "/b"),
    ("example.com?a", "/?a"),
    ("example.com/a;b#c", "/a;b"),
    ("//a/b/c", "/b/c"),
]

# TestMaybeEscapePattern: a pattern as it is compared.
ESCAPE_CASES: list[tuple[str, str]] = [
    ("http://www.example.com", "http://www.example.com"),
    ("/a/b/c", "/a/b/c"),
    ("á", "%C3%A1"),
    ("%aa", "%AA"),
]

_ENCODING = (
    "RFC 9309 §2.2.2: octets outside US-ASCII in the URI and in robots.txt paths are percent-encoded "
    "before comparison (both sides; Google leaves the URL to its caller, which sends it encoded anyway)"
)
_UNRESERVED = (
    "RFC 3986 §6.2.2.2 (which RFC 9309 §2.2.2 points to): %62%61%7A and baz are the same path; "
    "Google compares the strings (its own comment calls the rule illegal under RFC 3986)"
)
_CALLER_TOKEN = (
    "RFC 9309 §2.2.1: the product token is what is matched; the caller's name is cut to its product "
    "token (letters, '-', '_') as the robots.txt side is, Google compares the caller's string whole"
)
_MOST_RESTRICTIVE = (
    "the most restrictive reading applies (README 'Every plausible reading'): RFC 9309's reading "
    "(no line cap, §2.5; exact keys, §2.2) refuses and Google's reading allows, so the page is refused"
)

# Vector id -> (our answer, why we differ). Anything not listed must give Google's answer.
DIFFERENCES: dict[str, tuple[bool, str]] = {
    "GoogleOnly_AcceptUserAgentUpToFirstSpace#2": (True, _CALLER_TOKEN),
    "extra_robots.cc_AllowedByRobots#1": (False, _CALLER_TOKEN),
    "ID_Encoding#3": (True, _ENCODING),
    "ID_Encoding#5": (True, _ENCODING),
    "ID_Encoding#6": (True, _UNRESERVED),
    "GoogleOnly_LineTooLong#5": (False, _MOST_RESTRICTIVE + " (the Allow cut at 16,663 bytes widens)"),
    "extra_robots.cc_KeyIsAllow#1": (False, _MOST_RESTRICTIVE + " ('allowed:' is no Allow under RFC 9309)"),
    "extra_robots.cc_MaybeEscapePattern#latin1-utf8-url": (
        False,
        "a file that is not UTF-8 is also read as windows-1252, where 'Disallow: /caf\\xe9' is /café "
        "(/caf%C3%A9); the most restrictive reading applies",
    ),
}
