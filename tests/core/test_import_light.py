"""What keeps importing agnost light (issue 12) keeps its behaviour: the patterns compiled on
first use, the plain internal classes, the lazy import of platformdirs."""

from __future__ import annotations

import re
import subprocess
import sys

import attrs
import pytest

import agnost
from agnost._core import endpoint, local, operations
from agnost._core.http import ClientConfig, Request, Response, Secrets
from agnost._core.lazyre import lazy
from agnost._core.wire import _camel


def test_a_lazy_pattern_compiles_on_first_use_and_matches_as_the_compiled_one() -> None:
    source = r"(\d+)-(\w+)"
    pattern = lazy(source)
    compiled = re.compile(source)
    assert "fullmatch" not in vars(pattern)  # nothing compiled yet
    for text in ("12-ab", "x12-ab", "12-", "007-bond"):
        found, wanted = pattern.fullmatch(text), compiled.fullmatch(text)
        assert (found and found.groups()) == (wanted and wanted.groups())
    assert vars(pattern)["fullmatch"].__self__ == compiled  # kept: later calls go straight there
    assert pattern.sub(r"\2", "1-a 22-bb") == compiled.sub(r"\2", "1-a 22-bb")
    assert lazy(rb"[0-9]+", re.ASCII).findall(b"a1b22") == [b"1", b"22"]
    with pytest.raises(AttributeError):
        pattern.__wrapped__  # noqa: B018 - dunder lookups are not forwarded


@pytest.mark.parametrize(
    "name",
    ["user_id", "access_group_keys", "a__b", "a_1", "a_", "_x", "x", "a_Bc", "a_é", "__", ""],
)
def test_camel_case_is_what_the_regular_expression_made(name: str) -> None:
    assert _camel(name) == re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def test_the_tables_and_the_configuration_are_read_only() -> None:
    config = ClientConfig.create("http://127.0.0.1:1/e:1", "ck-secret", "api-secret")
    rows = [
        config,
        operations.OPERATIONS[0],
        local.LOCAL_METHODS[0],
        endpoint.METHODS[0],
        endpoint.RETURNS["json"][0],
    ]
    for row in rows:
        with pytest.raises(AttributeError):
            row.name = "changed"  # type: ignore[union-attr]
        with pytest.raises(AttributeError):
            del row.doc  # type: ignore[union-attr]
    assert "ck-secret" not in repr(config) and "api-secret" not in repr(config)
    assert config.client_key == "ck-secret" and config.api_key == "api-secret"


def test_an_endpoint_replaced_keeps_its_other_fields_and_shows_no_secret() -> None:
    built = operations.reset_pwd_with_code("+15550001", "123456", "new-password-1")
    assert built.codes == ("123456",) and built.passwords == ("new-password-1",)
    assert built.query == (("phone", "+15550001"), ("code", "123456"))
    assert built.body == b'{"newPassword":"new-password-1"}'
    again = built.replace(max_response_bytes=10)
    assert again.max_response_bytes == 10 and built.max_response_bytes is None
    for name in operations.Endpoint.__slots__:
        if name != "max_response_bytes":
            assert getattr(again, name) == getattr(built, name)
    for text in (repr(built), repr(again)):
        assert "123456" not in text and "new-password-1" not in text


def test_requests_responses_and_secrets_show_no_secret_in_their_repr() -> None:
    request = Request("GET", "http://h/p?key=tok-1", {"Session": "tok-2"}, b"pw-3")
    response = Response(200, "OK", {"Set-Cookie": "tok-4"}, b"tok-5")
    secrets = Secrets(tokens=["tok-6", None], passwords=["pw-7"], codes=["", "8"])
    assert secrets.tokens == ("tok-6",) and secrets.codes == ("8",)
    for text, hidden in ((repr(request), "tok-1 tok-2 pw-3"), (repr(response), "tok-4 tok-5")):
        assert all(secret not in text for secret in hidden.split())
    assert "tok-6" not in repr(secrets) and "pw-7" not in repr(secrets)
    assert repr(request) == "Request(method='GET', url='http://h/p', max_response_bytes=None)"


def test_local_changes_compare_by_what_they_change() -> None:
    update: local.StoreUpdate = {"session": {"userId": "u", "token": "t"}}
    assert local.Store(update) == local.Store(dict(update), local.SessionChangeKind.SET)
    assert local.Store(update) != local.Store({"user": {"_id": "u"}})
    assert local.Clear(True, True, "t") == local.Clear(
        stop_sending=True, notify=True, if_token="t"
    )
    assert local.Clear(True) != local.Clear(False)
    assert hash(local.Clear(True, if_token="t")) == hash(local.Clear(True, if_token="t"))
    assert local.Clear(True) != local.Store(update)
    assert "secret-tok" not in repr(local.Clear(True, if_token="secret-tok"))
    assert "secret-tok" not in repr(local.Store({"session": {"token": "secret-tok"}}))


def test_the_public_models_are_still_frozen_attrs_classes() -> None:
    for cls in (
        agnost.User,
        agnost.Session,
        agnost.UserAgent,
        agnost.Device,
        agnost.OperatingSystem,
        agnost.AuthGrant,
        agnost.SignUpResult,
        agnost.SessionChange,
        agnost.StoredAuth,
        agnost.EndpointResponse,
        agnost.ErrorItem,
        agnost.Timeout,
    ):
        assert attrs.has(cls), cls
    device = agnost.Device(family="Mac", major="1")
    assert attrs.evolve(device, major="2") == agnost.Device(family="Mac", major="2")
    assert device == agnost.Device(family="Mac", major="1")
    assert repr(device) == "Device(family='Mac', major='1', minor=None, patch=None)"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        device.family = "x"  # type: ignore[misc]


def test_importing_agnost_imports_no_platformdirs_until_a_default_path_is_needed() -> None:
    code = (
        "import sys, agnost, agnost_async\n"
        "store = agnost.MemoryStore()\n"
        "agnost.create_client('http://127.0.0.1:9/e:x', 'k', storage=store).close()\n"
        "print('platformdirs' in sys.modules)\n"
        "from agnost.storage.filestore import default_data_dir\n"
        "import os; os.environ.pop('AGNOST_DATA_DIR', None)\n"
        "path = default_data_dir()\n"
        "import platformdirs\n"
        "print('platformdirs' in sys.modules, str(path) == platformdirs.user_data_dir('agnost'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True", "True"]


def test_the_models_structure_functions_come_compiled_by_codegen_and_fall_back_on_drift() -> None:
    from agnost._core import _structure, wire

    for cls in wire._MODELS:
        # Made by the generated factory (its code lives in _structure.py), not by exec.
        assert wire._STRICT[cls].__code__.co_filename == _structure.__file__
        own = wire._OwnHooks()
        own.hooks.update(wire._STRICT)
        source, names = wire._structure_source(own, cls)
        assert wire._precompiled(cls, source, names) is not None
        # A source that differs (a model changed, codegen not run): compiled here instead.
        assert wire._precompiled(cls, source + "\n", names) is None
        assert wire._precompiled(cls, source, {**names, "extra_name": 1}) is None
    # Same answers either way.
    fresh, names = wire._structure_source(wire.converter, agnost.Session)
    exec(fresh, names)
    from tests.samples import SESSION

    assert names["structure"](SESSION, agnost.Session) == agnost.from_wire(agnost.Session, SESSION)
