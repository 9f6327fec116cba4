"""Servers for the distributed farm's tests: one private PostgreSQL per session (a fresh database per test) and a
private Redis per test (tests restart it). Tests that need them skip when `make install` has not installed them."""
from __future__ import annotations

import pytest

from fixtures.farm_servers import Postgres, Redis, have_servers


@pytest.fixture(scope="session")
def postgres():
    if not have_servers():
        pytest.skip("needs Debian's redis-server and postgresql (installed by `make install`)")
    server = Postgres().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres) -> str:
    """A new, empty database's URL (with its password)."""
    return postgres.database()


@pytest.fixture
def redis_server(postgres):
    server = Redis().start()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_db(request, tmp_path) -> str:
    """The same store behaviour on both back ends: an SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "results.db")
    return request.getfixturevalue("pg_url")
