"""``povguard linkage review``: list, show, decide, undo and the interactive ``next``.

The review app is mounted on a local Typer app here (the real mount lives in
``povguard.cli``); the operations database is a SQLite file in ``--home``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from click.testing import Result
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from povguard.cli_review import review_app
from povguard.settings import Settings
from povguard.store import make_engine, migrate, services, session_factory

RECORD = {
    "name": "张炜",
    "id_number": "52010219800101123X",
    "birth_date": "1980-01-01",
    "sex": "男",
    "village_code": "520102001001",
}
CANDIDATE = {**RECORD, "name": "张伟", "id_number": "520102198001011234"}
EXPLANATION = [
    {"field": "name", "level": "pinyin equal", "bayes_factor": 8.5},
    {"field": "id_number", "level": "one digit off", "bayes_factor": 3.25},
]
HIGH = "a" * 64
LOW = "b" * 64

app = typer.Typer()
app.add_typer(review_app, name="review")
runner = CliRunner()


def pair(key: str, probability: float, source: str = "health_insurance") -> dict[str, Any]:
    """A pair as the link stage hands it over."""
    return {
        "pair_key": key,
        "period": "2025-06",
        "source": source,
        "file": "feeds/2025-06/health_insurance.xlsx",
        "row": 12,
        "person_id": CANDIDATE["id_number"],
        "household_id": "HH000001",
        "match_probability": probability,
        "explanation": json.dumps(EXPLANATION),
        "record": json.dumps(RECORD, ensure_ascii=False),
        "candidate": json.dumps(CANDIDATE, ensure_ascii=False),
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory whose operations database holds two pending pairs."""
    monkeypatch.delenv("POVGUARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("POVGUARD_HOME", raising=False)
    monkeypatch.setenv("POVGUARD_LANGUAGE", "zh")
    url = Settings(home=tmp_path).ops_url
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            services.queue_link_reviews(session, [pair(LOW, 0.41), pair(HIGH, 0.77)])
    finally:
        engine.dispose()
    return tmp_path


@pytest.fixture
def db(home: Path) -> Iterator[Session]:
    """A session on the fixture's database (to check what the commands stored)."""
    engine = make_engine(Settings(home=home).ops_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def run(home: Path, *args: str, input: str | None = None) -> Result:
    """Invoke ``review <args> --home <home>``."""
    return runner.invoke(app, ["review", *args, "--home", str(home)], input=input)


def test_list(home: Path) -> None:
    result = run(home, "list")
    assert result.exit_code == 0, result.output
    assert "待复核配对" in result.output
    assert result.output.index(HIGH) < result.output.index(LOW)  # most probable first
    assert "张炜" in result.output and "张伟" in result.output
    assert "0.770" in result.output
    assert "待复核 2" in result.output
    result = run(home, "list", "--status", "match")
    assert result.exit_code == 0
    assert HIGH not in result.output and "没有符合条件的配对" in result.output
    result = run(home, "list", "--source", "health_insurance", "--limit", "1")
    assert HIGH in result.output and LOW not in result.output


def test_list_rejects_bad_options(home: Path) -> None:
    assert run(home, "list", "--status", "done").exit_code == 2
    assert run(home, "list", "--limit", "0").exit_code == 2


def test_show_puts_both_records_side_by_side(home: Path) -> None:
    result = run(home, "show", HIGH)
    assert result.exit_code == 0, result.output
    out = result.output
    for value in (*RECORD.values(), CANDIDATE["name"], CANDIDATE["id_number"]):
        assert value in out
    assert "部门记录" in out and "登记库候选" in out
    assert "≠" in out  # differing values are marked
    assert "pinyin equal" in out and "3.25" in out and "0.770" in out
    assert "复核记录" in out and "入队" in out and "system" in out
    assert "feeds/2025-06/health_insurance.xlsx:12" in out


def test_show_turns_match_weights_into_bayes_factors(home: Path) -> None:
    row = pair("d" * 32, 0.5)
    row["explanation"] = json.dumps([{"field": "name", "level": "exact", "weight": 3.0}])
    engine = make_engine(Settings(home=home).ops_url)
    try:
        with session_factory(engine)() as session:
            services.queue_link_reviews(session, [row])
    finally:
        engine.dispose()
    result = run(home, "show", "d" * 32)
    assert result.exit_code == 0, result.output
    assert "8.00" in result.output  # 2 ** 3


def test_show_in_english(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POVGUARD_LANGUAGE", "en")
    result = run(home, "show", HIGH)
    assert result.exit_code == 0, result.output
    assert "department record" in result.output and "registry candidate" in result.output
    assert "queued" in result.output and "部门记录" not in result.output


def test_show_unknown_pair(home: Path) -> None:
    result = run(home, "show", "c" * 64)
    assert result.exit_code == 1
    assert "c" * 64 in result.output and "不存在" in result.output


def test_decide(home: Path, db: Session) -> None:
    result = run(home, "decide", HIGH, "match", "--by", "li", "--reason", "同一身份证")
    assert result.exit_code == 0, result.output
    assert HIGH in result.output and "同一人" in result.output
    assert services.link_decisions(db) == {HIGH: "match"}
    # the same decision again is a no-op; another one is a conflict naming the key
    assert run(home, "decide", HIGH, "match", "--by", "wang").exit_code == 0
    result = run(home, "decide", HIGH, "non-match", "--by", "wang")
    assert result.exit_code == 1
    assert HIGH in result.output and "already decided" in result.output
    history = services.link_review_history(db, HIGH)
    assert [(e.action, e.actor, e.reason) for e in history] == [
        ("queued", "system", None),
        ("decided", "li", "同一身份证"),
    ]
    result = run(home, "decide", LOW, "non_match", "--by", "wang", "--version", "1")
    assert result.exit_code == 0, result.output
    assert services.link_decisions(db) == {HIGH: "match", LOW: "non_match"}


def test_decide_errors(home: Path) -> None:
    assert run(home, "decide", HIGH, "maybe", "--by", "li").exit_code == 2
    assert run(home, "decide", HIGH, "match").exit_code == 2  # --by is required
    assert run(home, "decide", HIGH, "match", "--by", " ").exit_code == 2
    missing = run(home, "decide", "c" * 64, "match", "--by", "li")
    assert missing.exit_code == 1 and "c" * 64 in missing.output
    stale = run(home, "decide", HIGH, "match", "--by", "li", "--version", "7")
    assert stale.exit_code == 1 and HIGH in stale.output and "version" in stale.output


def test_undo(home: Path, db: Session) -> None:
    assert run(home, "decide", HIGH, "non-match", "--by", "li").exit_code == 0
    result = run(home, "undo", HIGH, "--by", "zhao", "--reason", "看错了")
    assert result.exit_code == 0, result.output
    assert HIGH in result.output
    assert services.link_decisions(db) == {}
    item = services.get_link_review(db, HIGH)
    assert item is not None and item.status == "pending" and item.version == 3
    again = run(home, "undo", HIGH, "--by", "zhao", "--reason", "again")
    assert again.exit_code == 1 and HIGH in again.output
    assert run(home, "undo", HIGH, "--by", "zhao").exit_code == 2  # --reason is required
    shown = run(home, "show", HIGH)
    assert "撤销" in shown.output and "看错了" in shown.output


def test_next_decides_the_most_probable_pair_first(home: Path, db: Session) -> None:
    result = run(home, "next", "--by", "li", input="m\n")
    assert result.exit_code == 0, result.output
    assert "张炜" in result.output and "张伟" in result.output
    assert services.link_decisions(db) == {HIGH: "match"}
    # the input ended at the second pair's prompt: that quits
    assert LOW in result.output
    assert "本次决定 1 对" in result.output and "剩余待复核 1 对" in result.output


def test_next_quit_skip_and_invalid_answers(home: Path, db: Session) -> None:
    result = run(home, "next", "--by", "li", input="q\n")
    assert result.exit_code == 0, result.output
    assert services.link_decisions(db) == {}
    assert "本次决定 0 对" in result.output
    result = run(home, "next", "--by", "li", input="s\nwhat\nn\n")
    assert result.exit_code == 0, result.output
    assert "请输入" in result.output  # the invalid answer is asked again
    assert services.link_decisions(db) == {LOW: "non_match"}
    assert "没有待复核的配对了" in result.output


def test_next_with_nothing_pending(home: Path) -> None:
    assert run(home, "next", "--by", "li", input="m\nm\n").exit_code == 0
    result = run(home, "next", "--by", "li", "--source", "health_insurance")
    assert result.exit_code == 0
    assert "没有待复核的配对了" in result.output and "剩余待复核 0 对" in result.output


def test_bad_language_setting_is_a_config_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POVGUARD_LANGUAGE", "fr")
    assert run(home, "list").exit_code == 2
