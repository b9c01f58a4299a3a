"""The agnost pytest plugin (registered through the ``pytest11`` entry point).

It provides one fixture, ``agnost_emulator``: a fresh :class:`agnost.emulator.Emulator` per
test, on a free port of 127.0.0.1, with an in-memory database and a low password-hashing
cost (:data:`TEST_HASH_COST`: fast, and fine for test data), stopped after the test. It needs
the ``emulator`` extra (``pip install 'agnost-auth[emulator]'``). Give clients a
:class:`agnost.MemoryStore`, so that tests leave no session files in the user's data
directory::

    import agnost
    from agnost.emulator import Emulator

    def test_sign_in(agnost_emulator: Emulator) -> None:
        client = agnost.create_client(
            agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
        )
        agnost_emulator.configure(email_confirmation=True)
        client.auth.sign_up_with_email("ada@example.com", "correct horse")
        [message] = agnost_emulator.outbox(recipient="ada@example.com")
        client.auth.get_auth_grant(message.access_token)
        ...
        agnost_emulator.reset()  # every user, session and message gone; settings stay

A fake of the app's own backend, on the same emulator (see :mod:`agnost.emulator.endpoints`)::

    def test_orders(agnost_emulator: Emulator) -> None:
        @agnost_emulator.endpoint("GET", "/orders")
        def orders(request):
            return [{"id": 1, "owner": request.user["_id"]}] if request.user else []
        ...
        agnost_emulator.configure(enforce_session=True)  # no session: 401 on app endpoints

The emulator is imported only when the fixture is used, so the plugin costs nothing in test
suites that do not use it, and needs the ``emulator`` extra only in those that do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agnost.emulator import Emulator

__all__ = ["TEST_HASH_COST", "agnost_emulator"]

#: scrypt with N=2**4: hashing takes microseconds instead of tens of milliseconds. The
#: trade-off: such hashes are cheap to crack, which does not matter for throwaway test users
#: in a database that ends with the test.
TEST_HASH_COST = 4


@pytest.fixture
def agnost_emulator() -> Iterator[Emulator]:
    """A running :class:`agnost.emulator.Emulator` for one test: ``base_url``, ``client_key``,
    ``outbox()``, ``configure(...)`` (the settings by their Python names), ``reset()``,
    ``add_endpoint(...)`` and ``endpoint(...)``. In-memory, so nothing outlives the test."""
    from agnost.emulator import Emulator

    with Emulator(database=":memory:", hash_cost=TEST_HASH_COST) as emulator:
        yield emulator
