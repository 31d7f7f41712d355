"""``povguard users``: add, passwords from standard input, tokens, exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from povguard.cli import app
from povguard.settings import Settings
from povguard.store import make_engine, services, session_factory

runner = CliRunner()


def _run(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["users", *args, "--home", str(home)], input=stdin)
    return result.exit_code, result.output


def test_users_add_token_lock_and_errors(tmp_path: Path) -> None:
    home = tmp_path / "data"
    code, out = _run(
        home, "add", "wang", "--role", "village", "--area", "520102001001",
        "--password-stdin", stdin="a long password\n",
    )  # fmt: skip
    assert code == 0, out
    assert "wang" in out and "520102001001" in out
    code, out = _run(home, "add", "wang", "--role", "village", "--area", "520102001001",
                     "--password-stdin", stdin="a long password\n")  # fmt: skip
    assert code == 1 and "exists" in out
    code, out = _run(home, "add", "li", "--role", "village", "--password-stdin", stdin="x" * 12)
    assert code == 2 and "area" in out
    code, out = _run(home, "add", "li", "--role", "chief", "--password-stdin", stdin="x" * 12)
    assert code == 2 and "unknown role" in out
    code, out = _run(home, "token", "wang", "--name", "dashboard")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("pvg_")
    url = Settings(home=home).ops_url
    engine = make_engine(url)
    with session_factory(engine)() as session:
        assert services.token_user(session, token).username == "wang"  # type: ignore[union-attr]
    code, out = _run(home, "deactivate", "wang")
    assert code == 0
    with session_factory(engine)() as session:
        assert services.token_user(session, token) is None
    engine.dispose()
    assert _run(home, "passwd", "nobody", "--password-stdin", stdin="a long password\n")[0] == 1
