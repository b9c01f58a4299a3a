"""``client.endpoint`` in the core: paths that could leave the env URL, the query of §8,
per-call headers, bodies, and every kind of answer (no I/O)."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest

import agnost
from agnost._core import endpoint
from agnost._core.endpoint import UNSET, EndpointResponse, Headers, call
from agnost._core.http import ClientConfig, Response

BASE = "https://example.test/e:64f0"
CONFIG = ClientConfig.create(BASE, "ck-123")
TOKEN = "tok-endpoint-0123456789"


def url_of(path: str = "/x", **kwargs: Any) -> str:
    _, built = call("GET", path, **kwargs)
    return CONFIG.url(built.path, built.query)


def answer(status: int, body: Any = b"", reason: str = "OK", **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, reason, headers, raw)


def read(response: Response, returns: str = "json") -> Any:
    reader, built = call("GET", "/x", returns=returns)
    return reader.handle(built, response, sent_token=TOKEN).value


# --- the query (protocol.md §8) ------------------------------------------------------------


def test_the_captured_query_of_the_official_client() -> None:
    params = {"a": "x y", "b": {"k": 1}, "c": None}
    assert url_of("/x", params=params) == BASE + "/x?a=x%20y&b=%7B%22k%22%3A1%7D&c="


def test_values_are_encoded_as_encode_uri_component_does() -> None:
    # encodeURIComponent keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ) and escapes every other byte.
    kept = set(string.ascii_letters + string.digits + "-_.!~*'()")
    every = "".join(map(chr, range(0x20, 0x7F)))
    expected = "".join(c if c in kept else f"%{ord(c):02X}" for c in every)
    assert url_of(params={"v": every}) == f"{BASE}/x?v={expected}"
    assert url_of(params={"ü k&=": "é/€"}) == f"{BASE}/x?%C3%BC%20k%26%3D=%C3%A9%2F%E2%82%AC"


def test_the_auth_calls_encode_their_query_the_same_way() -> None:
    assert CONFIG.url("/p", [("email", "o'b(1)!*@x.co")]) == f"{BASE}/p?email=o'b(1)!*%40x.co"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("", ""),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (-1.5, "-1.5"),
        ([1, "a", None], "%5B1%2C%22a%22%2Cnull%5D"),
        ((1, 2), "%5B1%2C2%5D"),
        ({"k": "é"}, "%7B%22k%22%3A%22%C3%A9%22%7D"),
    ],
)
def test_each_kind_of_value(value: object, sent: str) -> None:
    assert url_of(params={"v": value}) == f"{BASE}/x?v={sent}"


def test_pairs_may_repeat_a_key_and_keep_their_order() -> None:
    assert url_of(params=[("b", 1), ("a", "x"), ("b", 2)]) == f"{BASE}/x?b=1&a=x&b=2"


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"v": float("nan")}, agnost.InvalidArgumentError),
        ({"v": float("inf")}, agnost.InvalidArgumentError),
        ({"v": "\ud800"}, agnost.InvalidArgumentError),
        ({"\udc00": "v"}, agnost.InvalidArgumentError),
        ({"v": [float("nan")]}, agnost.InvalidArgumentError),
        ({"v": object()}, agnost.InvalidArgumentTypeError),
        ({"v": b"bytes"}, agnost.InvalidArgumentTypeError),
        ({1: "v"}, agnost.InvalidArgumentTypeError),
        ([("a", 1, 2)], agnost.InvalidArgumentTypeError),
        ("a=1", agnost.InvalidArgumentTypeError),
        ({"v": 10**5000}, agnost.InvalidArgumentError),
    ],
)
def test_unusable_params_are_refused(params: Any, kind: type[Exception]) -> None:
    with pytest.raises(kind) as info:
        call("GET", "/x", params=params)
    assert info.value.code in ("invalid_params", "invalid_argument")  # type: ignore[attr-defined]


# --- the path: nothing leaves the env URL --------------------------------------------------


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("orders", "/orders"),
        ("  /orders/7 \n", "/orders/7"),
        ("", ""),
        ("/", "/"),
        ("/a b/é", "/a%20b/%C3%A9"),
        ("/a/../b", "/a/../b"),  # stays under the env URL
        ("/a/./b/", "/a/./b/"),
        ("/a%2fb", "/a%2Fb"),  # one encoded slash inside a segment stays inside
        ("/a/%2e%2e/b", "/a/../b"),  # as requests sends it: unreserved escapes decoded
        ("/e:x/@me/it's(1)", "/e:x/@me/it's(1)"),
        ("/a//b", "/a//b"),
        ("/100%25", "/100%25"),
    ],
)
def test_paths_under_the_env_url(path: str, sent: str) -> None:
    assert url_of(path) == BASE + (sent or "/")


LEAVING = [
    "https://evil.test/x",
    "http:evil.test",
    "HTTPS://evil.test",
    "javascript:alert(1)",
    "data:text/html,x",
    "//evil.test/x",
    "///evil.test",
    "  //evil.test",
    "\\\\evil.test\\x",
    "/\\evil.test",
    "\\/evil.test",
    "/a\\..\\..\\x",
    "%2f%2fevil.test",
    "/%2F/evil.test",
    "/%2f%2fevil.test",
    "%5cevil.test",
    "/%5C%5Cevil.test",
    "..",
    "/..",
    "../e:other/x",
    "/a/../../e:other",
    "/a/./../..",
    "/%2e%2e/e:other",
    "/.%2E/e:other",
    "/a%2f..%2f..%2fe:other",
    "/a\x00b",
    "/a\nb",
    "/a\rb",
    "/a\tb",
    "/a\x7fb",
    "/a%00b",
    "/a%0d%0aX-Evil:1",
    "/a?b=1",
    "/a#frag",
    "/a%zz",
    "/a%",
]


@pytest.mark.parametrize("path", LEAVING)
def test_every_way_of_leaving_the_env_url_is_refused(path: str) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        call("GET", path)
    assert info.value.code == "invalid_request_path"


@pytest.mark.parametrize("path", [None, b"/x", 7])
def test_a_path_must_be_text(path: Any) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError) as info:
        call("GET", path)
    assert info.value.code == "invalid_request_path"


def test_a_lone_surrogate_in_the_path_is_refused() -> None:
    with pytest.raises(agnost.InvalidArgumentError):
        call("GET", "/\ud800")


# --- headers -------------------------------------------------------------------------------


def test_per_call_headers_are_kept_in_order() -> None:
    _, built = call("GET", "/x", headers={"X-Trace": "a b", "Accept": "text/csv", "X-E": ""})
    assert built.headers == (("X-Trace", "a b"), ("Accept", "text/csv"), ("X-E", ""))


@pytest.mark.parametrize(
    "name",
    [
        "X-Client",
        "x-client-key",
        "AUTHORIZATION",
        "session",
        "SeSsIoN",
        "Host",
        "content-length",
        "Transfer-Encoding",
        "connection",
        "Cookie",
        "User-Agent",
    ],
)
def test_protected_headers_are_refused_in_any_case(name: str) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        call("GET", "/x", headers={name: "mine"})
    assert info.value.code == "protected_header"
    assert "mine" not in str(info.value)


def test_content_type_is_protected_only_with_a_json_body() -> None:
    _, built = call("POST", "/x", headers={"content-type": "text/plain"})
    assert built.headers == (("content-type", "text/plain"),)
    with pytest.raises(agnost.InvalidArgumentError) as info:
        call("POST", "/x", json={}, headers={"Content-Type": "text/plain"})
    assert info.value.code == "protected_header"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "v\r\nX-Evil: 1"},
        {"X-A": "v\nw"},
        {"X-A": "v\x00"},
        {"X-A": "café"},
        {"X-A": " lead"},
        {"X-A": "trail "},
        {"X-Ä": "v"},
        {"X A": "v"},
        {"X-A:": "v"},
        {"": "v"},
        {"X-A\r\nX-Evil": "v"},
        {"X-A": "1", "x-a": "2"},
    ],
)
def test_header_unsafe_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        call("GET", "/x", headers=headers)
    assert info.value.code == "invalid_header"


@pytest.mark.parametrize("headers", [{"X-A": 1}, {1: "v"}, [("X-A", "v")], "X-A: v"])
def test_headers_must_map_text_to_text(headers: Any) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError):
        call("GET", "/x", headers=headers)


# --- bodies and the other arguments ---------------------------------------------------------


def test_bodies() -> None:
    assert call("POST", "/x")[1].body is None
    assert call("POST", "/x", json=UNSET)[1].body is None
    assert call("POST", "/x", json=None)[1].body == b"null"
    assert call("PUT", "/x", json={"é": [1, 2.5, True]})[1].body == '{"é":[1,2.5,true]}'.encode()


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def _circular() -> Any:
    value: list[Any] = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (float("nan"), agnost.InvalidArgumentError),
        ({"x": float("-inf")}, agnost.InvalidArgumentError),
        ({"x": object()}, agnost.InvalidArgumentTypeError),
        ({1j: 1}, agnost.InvalidArgumentTypeError),
        ({"x": {1, 2}}, agnost.InvalidArgumentTypeError),
        ({"x": "\udfff"}, agnost.InvalidArgumentError),
        (_deep(100_000), agnost.InvalidArgumentError),
        (_circular(), agnost.InvalidArgumentError),
    ],
)
def test_bad_bodies_are_refused_before_sending(body: Any, kind: type[Exception]) -> None:
    with pytest.raises(kind):
        call("POST", "/x", json=body)


@pytest.mark.parametrize(
    ("kwargs", "kind", "code"),
    [
        ({"method": "TRACE"}, agnost.InvalidArgumentError, "invalid_method"),
        ({"method": 1}, agnost.InvalidArgumentError, "invalid_method"),
        ({"returns": "xml"}, agnost.InvalidArgumentError, "invalid_returns"),
        ({"returns": None}, agnost.InvalidArgumentError, "invalid_returns"),
        ({"max_response_bytes": 0}, agnost.InvalidArgumentTypeError, "invalid_max_response_bytes"),
        (
            {"max_response_bytes": True},
            agnost.InvalidArgumentTypeError,
            "invalid_max_response_bytes",
        ),
        (
            {"max_response_bytes": 1.5},
            agnost.InvalidArgumentTypeError,
            "invalid_max_response_bytes",
        ),
    ],
)
def test_other_bad_arguments(kwargs: dict[str, Any], kind: type[Exception], code: str) -> None:
    method = kwargs.pop("method", "GET")
    with pytest.raises(kind) as info:
        call(method, "/x", **kwargs)
    assert info.value.code == code  # type: ignore[attr-defined]


def test_the_method_is_upper_cased_and_the_cap_kept() -> None:
    _, built = call("patch", "/x", max_response_bytes=123)
    assert (built.method, built.max_response_bytes) == ("PATCH", 123)


# --- answers -------------------------------------------------------------------------------


def test_json_answers() -> None:
    assert read(answer(200, {"ok": [1, None]})) == {"ok": [1, None]}
    assert read(answer(201, [1])) == [1]


@pytest.mark.parametrize("body", [b"", b"   ", b"<html>ok</html>", b"{trunc", b"\xff\xfe", b"NaN"])
def test_an_empty_or_non_json_2xx_is_none(body: bytes) -> None:
    assert read(answer(200, body)) is None
    assert read(answer(204, body)) is None


def test_a_2xx_nested_too_deeply_is_a_decode_error() -> None:
    with pytest.raises(agnost.ResponseDecodeError):
        read(answer(200, b"[" * 200_000 + b"]" * 200_000))


def test_text_answers_follow_the_charset() -> None:
    assert read(answer(200, "é€".encode()), "text") == "é€"
    latin = answer(
        200, "é".encode("latin-1"), **{"Content-Type": "text/plain; charset=ISO-8859-1"}
    )
    assert read(latin, "text") == "é"
    quoted = answer(200, "é".encode("utf-16"), **{"Content-Type": 'text/plain; Charset="utf-16"'})
    assert read(quoted, "text") == "é"
    for charset in ("nonesuch", "base64", "idna", "rot13"):
        odd = answer(200, b"ok\xff", **{"Content-Type": f"text/plain; charset={charset}"})
        assert read(odd, "text") == "ok\ufffd"


def test_bytes_answers_are_exact() -> None:
    assert read(answer(200, b"\x00\xff{"), "bytes") == b"\x00\xff{"


def test_response_answers() -> None:
    raw = Response(
        201,
        "Created",
        {"Content-Type": "application/json", "X-Id": "7"},
        b'{"id": 7}',
    )
    value = read(raw, "response")
    assert isinstance(value, EndpointResponse)
    assert (value.status, value.reason, value.content) == (201, "Created", b'{"id": 7}')
    assert value.headers["content-type"] == value.headers["CONTENT-TYPE"] == "application/json"
    assert "x-id" in value.headers and list(value.headers) == ["Content-Type", "X-Id"]
    assert value.json() == {"id": 7} and value.text() == '{"id": 7}'
    with pytest.raises(TypeError):
        value.headers["X-Id"] = "8"  # type: ignore[index]
    assert value == read(raw, "response")


def test_a_response_whose_body_is_not_json_raises_on_json() -> None:
    value = read(answer(200, f"<p>{TOKEN}</p>".encode()), "response")
    with pytest.raises(agnost.ResponseDecodeError) as info:
        value.json()
    assert TOKEN not in str(info.value)
    assert read(answer(200), "response").text() == ""


def test_headers_fold_repeats_and_hide_values() -> None:
    headers = Headers([("Set-Cookie", f"session_token={TOKEN}"), ("set-cookie", "b=2")])
    assert headers["SET-COOKIE"] == f"session_token={TOKEN}, b=2"
    assert len(headers) == 1 and 5 not in headers
    value = EndpointResponse(200, "OK", headers, TOKEN.encode())
    assert TOKEN not in repr(headers) and TOKEN not in repr(value)


@pytest.mark.parametrize("returns", list(endpoint.RETURNS))
def test_an_html_error_page_is_a_decode_error_whatever_returns_is(returns: str) -> None:
    page = b"<html><body>502 Bad Gateway " + TOKEN.encode() + b"</body></html>"
    with pytest.raises(agnost.ResponseDecodeError) as info:
        read(answer(502, page, "Bad Gateway"), returns)
    assert info.value.status == 502 and TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        {"errors": [{"origin": "client_error", "code": "invalid_session_token", "message": "x"}]},
        {"errors": {"origin": "client_error", "code": "invalid_session_token", "message": "x"}},
    ],
)
def test_a_session_token_error_in_both_shapes(body: Any) -> None:
    with pytest.raises(agnost.InvalidSessionTokenError) as info:
        read(answer(401, body, "Unauthorized"))
    assert info.value.status == 401 and info.value.items[0].code == "invalid_session_token"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed(status: int) -> None:
    with pytest.raises(agnost.RedirectError) as info:
        read(answer(status, b"", Location=f"https://evil.test/x?t={TOKEN}"), "bytes")
    assert info.value.location_origin == "https://evil.test"
    assert TOKEN not in str(info.value)


def test_the_response_class_is_exported_from_both_packages() -> None:
    import agnost_async

    assert agnost.EndpointResponse is agnost_async.EndpointResponse is EndpointResponse
    assert agnost.EndpointResponse.__module__ == "agnost"


@pytest.mark.parametrize("body", [b"NaN", b"[Infinity]", b'{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json_in_auth_answers_either(body: bytes) -> None:
    from agnost._core.operations import BY_NAME, handle

    op = BY_NAME["get_all_sessions"]
    with pytest.raises(agnost.ResponseDecodeError):
        handle(op, op.build(), answer(200, body), sent_token=TOKEN)
