"""Client-side errors (protocol.md §1): refused before anything is sent, with the official
client's codes, as ValueError/TypeError where that fits; and the two clients' symmetry."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import agnost
import agnost_async
from agnost._auth import Auth
from agnost_async._auth import AsyncAuth

from ._support import Flavour, RecordingServer, session_wire

BAD_ENV_URLS = [
    "",
    "   ",
    "example.com",
    "ftp://example.com",
    "//example.com",
    None,
    42,
    b"http://x",
]


@pytest.mark.parametrize("env_url", BAD_ENV_URLS, ids=repr)
def test_a_bad_env_url_is_a_missing_required_value(flavour: Flavour, env_url: Any) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        flavour.make(env_url)

    assert isinstance(info.value, ValueError)
    assert info.value.code == "missing_required_value"
    assert info.value.items[0].origin == "client_error"


@pytest.mark.parametrize("key", ["", "   ", "\t\n"], ids=repr)
def test_a_blank_client_key_is_a_missing_required_value(
    flavour: Flavour, server: RecordingServer, key: str
) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        flavour.make(server.env_url, key)

    assert isinstance(info.value, ValueError)
    assert info.value.code == "missing_required_value"


@pytest.mark.parametrize("key", [None, 42, b"key", ["key"]], ids=repr)
def test_a_client_key_that_is_not_a_string_is_an_invalid_client_key(
    flavour: Flavour, server: RecordingServer, key: Any
) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError) as info:
        flavour.make(server.env_url, key)

    assert isinstance(info.value, TypeError)
    assert info.value.code == "invalid_client_key"


def test_an_api_key_that_is_not_a_string_is_refused(
    flavour: Flavour, server: RecordingServer
) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError):
        flavour.make(server.env_url, api_key=123)


def test_a_sign_in_redirect_that_is_not_callable_is_refused(
    flavour: Flavour, server: RecordingServer
) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError) as info:
        flavour.make(server.env_url, sign_in_redirect="https://app.example.com/login")

    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("timeout", [0, -1, "5", agnost.Timeout], ids=repr)
def test_an_unusable_timeout_is_refused(
    flavour: Flavour, server: RecordingServer, timeout: Any
) -> None:
    with pytest.raises(agnost.ClientError):
        flavour.make(server.env_url, timeout=timeout)


BAD_CALLS = [
    ("sign_up_with_email", (None, "pw")),
    ("sign_up_with_email", ("a@b.co", 1234)),
    ("sign_up_with_email", ("a@b.co", "pw", 42)),
    ("sign_up_with_email", ("a@b.co", "pw", {"when": object()})),
    ("sign_up_with_phone", (15551234567, "pw")),
    ("sign_in_with_email", (b"a@b.co", "pw")),
    ("sign_in_with_email", ("a@b.co", None)),
    ("sign_in_with_phone", (["+1555"], "pw")),
    ("sign_out", (42,)),
    ("get_auth_grant", (42,)),
    ("set_session", (session_wire(),)),
    ("set_user", ({"_id": "u1"},)),
]


@pytest.mark.parametrize(
    ("method_name", "args"), BAD_CALLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_CALLS)]
)
def test_an_argument_of_the_wrong_type_is_refused_and_nothing_is_sent(
    flavour: Flavour, server: RecordingServer, method_name: str, args: tuple[Any, ...]
) -> None:
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.InvalidArgumentTypeError, client, method_name, *args)

    assert isinstance(error, TypeError)
    assert error.items[0].origin == "client_error"
    assert server.requests == []
    assert flavour.call(client, "get_session") is None


@pytest.mark.parametrize(
    "access_token",
    [None, "", "   ", "https://app.example.com/welcome?status=200&action=signin", "?x=1"],
    ids=repr,
)
def test_get_auth_grant_without_a_token_or_a_url_carrying_one_is_refused(
    flavour: Flavour, server: RecordingServer, access_token: str | None
) -> None:
    client = flavour.make(server.env_url)

    if access_token is None:
        error = flavour.raises(agnost.InvalidArgumentError, client, "get_auth_grant")
    else:
        error = flavour.raises(agnost.InvalidArgumentError, client, "get_auth_grant", access_token)

    assert isinstance(error, ValueError)
    assert error.code == "missing_access_token"
    assert server.requests == []


def test_sign_out_of_an_empty_token_is_refused(flavour: Flavour, server: RecordingServer) -> None:
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.InvalidArgumentError, client, "sign_out", "")

    assert error.code == "missing_required_value"
    assert server.requests == []


@pytest.mark.parametrize("provider", ["", "Google!", "../admin", "go ogle"], ids=repr)
def test_sign_in_with_an_unusable_provider_name_is_refused(
    flavour: Flavour, server: RecordingServer, provider: str
) -> None:
    client = flavour.make(server.env_url)

    with pytest.raises(agnost.InvalidArgumentError):
        client.auth.sign_in_with_provider(provider)


# --- the two clients are twins ---------------------------------------------------------------


def _public_methods(cls: type) -> dict[str, Any]:
    """The public methods of ``cls``, by name."""
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_both_auth_classes_have_the_same_methods() -> None:
    sync_auth = _public_methods(Auth)
    async_auth = _public_methods(AsyncAuth)

    assert sorted(sync_auth) == sorted(async_auth)
    assert len(sync_auth) == 30  # 23 HTTP operations, 6 local methods, sign_in_with_provider


def test_client_auth_is_the_generated_auth_class(server: RecordingServer) -> None:
    with agnost.create_client(server.env_url, "k", storage=agnost.MemoryStore()) as client:
        assert type(client.auth) is Auth
    assert agnost_async.AsyncClient.__annotations__["auth"] in (AsyncAuth, "AsyncAuth")


@pytest.mark.parametrize("name", sorted(_public_methods(Auth)))
def test_a_method_has_the_same_signature_in_both_clients(name: str) -> None:
    sync_method = getattr(Auth, name)
    async_method = getattr(AsyncAuth, name)

    assert inspect.signature(sync_method) == inspect.signature(async_method)
    sync_params = inspect.signature(sync_method, eval_str=True).parameters
    async_params = inspect.signature(async_method, eval_str=True).parameters
    assert [(p.name, p.kind, p.default, p.annotation) for p in sync_params.values()] == [
        (p.name, p.kind, p.default, p.annotation) for p in async_params.values()
    ]
    assert inspect.signature(sync_method, eval_str=True).return_annotation == (
        inspect.signature(async_method, eval_str=True).return_annotation
    )
    assert not inspect.iscoroutinefunction(sync_method)
    if name == "sign_in_with_provider":
        assert not inspect.iscoroutinefunction(async_method)
    else:
        assert inspect.iscoroutinefunction(async_method)


def test_create_client_takes_the_same_arguments_in_both_flavours() -> None:
    sync_params = inspect.signature(agnost.create_client).parameters
    async_params = inspect.signature(agnost_async.create_client).parameters

    assert list(sync_params) == list(async_params)
    for name in sync_params:
        if name != "http_session":
            assert sync_params[name].default == async_params[name].default
            assert sync_params[name].kind == async_params[name].kind


def test_both_packages_export_the_same_models_and_errors() -> None:
    shared = set(agnost.__all__) - {"Client", "create_client"}

    for name in shared:
        assert getattr(agnost_async, name) is getattr(agnost, name), name
