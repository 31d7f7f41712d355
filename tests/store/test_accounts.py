"""Department accounts of the push API: tokens, hashing, authentication, deactivation.

Runs on SQLite and, when POVGUARD_TEST_DATABASE_URL is set, on PostgreSQL (the
``session`` and ``database_url`` fixtures of ``conftest.py``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store import (
    ApiAccount,
    account_may_push,
    alembic_config,
    authenticate,
    create_account,
    deactivate,
    head_revision,
    list_accounts,
    make_engine,
    migrate,
)
from povguard.store.services.accounts import hash_token, verify_token


def test_create_returns_a_token_and_stores_only_its_hash(session: Session) -> None:
    account, token = create_account(
        session, " county-medical ", "医疗保障局", ["medical_claims", "medical_claims", "water"]
    )
    assert len(token) == 43  # token_urlsafe(32)
    assert account.id is not None
    assert (account.name, account.department) == ("county-medical", "医疗保障局")
    assert account.sources == ["medical_claims", "water"]
    assert account.active and account.last_used_at is None
    session.expire_all()
    stored = session.scalars(select(ApiAccount)).one()
    assert stored.token_prefix == token[:8]
    assert stored.token_hash.startswith("scrypt$")
    assert token not in stored.token_hash
    columns = [str(getattr(stored, c.key)) for c in inspect(ApiAccount).columns]
    assert not any(token in value for value in columns)
    assert stored.sources == ["medical_claims", "water"]


def test_hashes_are_salted_and_verified_in_constant_time() -> None:
    first, second = hash_token("same-token"), hash_token("same-token")
    assert first != second
    assert verify_token("same-token", first) and verify_token("same-token", second)
    assert not verify_token("same-tokem", first)
    for broken in ("", "scrypt$1$2", "bcrypt$x$y$z$a$b", "scrypt$a$8$1$c2FsdA$aGFzaA"):
        assert not verify_token("same-token", broken)


def test_authenticate(session: Session) -> None:
    account, token = create_account(session, "edu", "教育局", ["education"])
    other, other_token = create_account(session, "water", "水务局", ["water"])
    found = authenticate(session, token)
    assert found is not None and found.id == account.id
    assert found.last_used_at is not None
    found_other = authenticate(session, other_token)
    assert found_other is not None and found_other.id == other.id
    # same prefix, wrong rest; wrong prefix; empty; absurdly long
    assert authenticate(session, token[:8] + "x" * 35) is None
    assert authenticate(session, "y" * 43) is None
    assert authenticate(session, "") is None
    assert authenticate(session, None) is None
    assert authenticate(session, token + "x" * 300) is None
    assert authenticate(session, token[:5]) is None


def test_authenticate_records_last_use(session: Session) -> None:
    _, token = create_account(session, "edu", "教育局", ["education"])
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=5)
    authenticate(session, token)
    session.expire_all()
    stored = session.scalars(select(ApiAccount)).one()
    assert stored.last_used_at is not None
    assert stored.last_used_at.replace(tzinfo=None) >= before
    untouched, token2 = create_account(session, "w", "水务局", ["water"])
    assert authenticate(session, token2, touch=False) is not None
    session.expire_all()
    assert session.get(ApiAccount, untouched.id).last_used_at is None  # type: ignore[union-attr]


def test_deactivate(session: Session) -> None:
    account, token = create_account(session, "edu", "教育局", ["education"])
    assert account_may_push(account, "education")
    assert not account_may_push(account, "water")
    done = deactivate(session, account.id)
    assert done.active is False
    assert authenticate(session, token) is None
    assert not account_may_push(done, "education")
    assert deactivate(session, account.id).active is False  # idempotent
    with pytest.raises(DataError):
        deactivate(session, account.id + 1000)


def test_list_accounts(session: Session) -> None:
    a, _ = create_account(session, "a", "教育局", ["education"])
    b, _ = create_account(session, "b", "水务局", ["water"])
    deactivate(session, a.id)
    assert [x.name for x in list_accounts(session)] == ["a", "b"]
    assert [x.id for x in list_accounts(session, include_inactive=False)] == [b.id]


@pytest.mark.parametrize(
    ("name", "department", "sources"),
    [
        ("", "教育局", ["education"]),
        ("x", "  ", ["education"]),
        ("x" * 101, "教育局", ["education"]),
        ("x", "教育局", []),
        ("x", "教育局", ["Education"]),
        ("x", "教育局", ["raw; drop table"]),
    ],
)
def test_create_rejects_bad_input(
    session: Session, name: str, department: str, sources: list[str]
) -> None:
    with pytest.raises(DataError):
        create_account(session, name, department, sources)
    assert list_accounts(session) == []


def test_names_are_unique(session: Session) -> None:
    create_account(session, "edu", "教育局", ["education"])
    with pytest.raises(DataError, match="already exists"):
        create_account(session, "edu", "教育局", ["water"])
    assert len(list_accounts(session)) == 1


def test_migration_adds_and_removes_the_table(database_url: str) -> None:
    assert migrate(database_url) == head_revision()
    engine = make_engine(database_url)
    try:
        assert "api_accounts" in inspect(engine).get_table_names()
        indexes = inspect(engine).get_indexes("api_accounts")
        assert ["token_prefix"] in [i["column_names"] for i in indexes]
        cfg = alembic_config()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0001")
        assert "api_accounts" not in inspect(engine).get_table_names()
        assert "warnings" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert migrate(database_url) == head_revision()  # upgrade again
