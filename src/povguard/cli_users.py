"""``povguard users ...``: accounts of the web app and the API.

Mounted into the main command line as ``povguard users``. Passwords are read from
a prompt (never echoed) or, for scripts, from standard input with
``--password-stdin``; they are never accepted as an argument (it would land in the
shell history). Output is Chinese, or English when ``POVGUARD_LANGUAGE=en``.

Exit codes: 0 done; 1 the user does not exist or the name is taken; 2 bad
arguments (role, area, short password) or configuration.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from rich.table import Table

from povguard.cli_support import fail, language, stdout_console, text
from povguard.errors import ConflictError, DataError, NotFoundError

users_app = typer.Typer(
    help="用户与登录 / Users of the web app and the API: add, list, passwords, tokens.",
    no_args_is_help=True,
    add_completion=False,
)

LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "error": "错误",
        "password": "密码",
        "again": "再次输入密码",
        "mismatch": "两次输入的密码不一致",
        "added": "已新建用户 {name}（{role}，区域 {area}）。",
        "password_set": "已为 {name} 设置新密码；其已登录会话均已退出。",
        "token": "{name} 的 API 令牌（仅显示这一次，请以 Authorization: Bearer <令牌> 发送）：",
        "deactivated": "已停用 {name}：其会话和令牌立即失效。",
        "activated": "已启用 {name}。",
        "unlocked": "已解锁 {name}。",
        "revoked": "已吊销令牌 {id}。",
        "users": "用户",
        "tokens": "API 令牌",
        "everywhere": "全部",
    },
    "en": {
        "error": "error",
        "password": "Password",
        "again": "Repeat the password",
        "mismatch": "the two passwords differ",
        "added": "user {name} added ({role}, area {area}).",
        "password_set": "new password set for {name}; its web sessions were ended.",
        "token": "API token of {name} (shown only this once; send it as "
        "Authorization: Bearer <token>):",
        "deactivated": "{name} deactivated: its sessions and tokens stop working at once.",
        "activated": "{name} activated.",
        "unlocked": "{name} unlocked.",
        "revoked": "token {id} revoked.",
        "users": "Users",
        "tokens": "API tokens",
        "everywhere": "everywhere",
    },
}

HomeOption = Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")]
ACTOR: Final = "cli"


def _t(lang: str, label: str, /, **values: Any) -> str:
    return text(LABELS, lang, label, **values)


def _fail(message: str, code: int = 2, lang: str = "zh") -> NoReturn:
    fail(LABELS, message, code, lang)


@contextlib.contextmanager
def _session(home: Path | None, lang: str) -> Iterator[Any]:
    from povguard.cli import _ops_session  # at call time: povguard.cli mounts this app

    try:
        with _ops_session(home) as session:
            yield session
    except (NotFoundError, ConflictError) as exc:
        _fail(str(exc), 1, lang)
    except DataError as exc:
        _fail(str(exc), 2, lang)


def _password(stdin: bool, lang: str) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt(_t(lang, "password"), hide_input=True)
    if typer.prompt(_t(lang, "again"), hide_input=True) != first:
        _fail(_t(lang, "mismatch"), 2, lang)
    return str(first)


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="sign-in name")],
    role: Annotated[
        str,
        typer.Option(
            help="province, city, county, township, village, department, analyst, auditor, admin"
        ),
    ],
    area: Annotated[
        str, typer.Option(help="12-digit region code of the user's area ('' = everywhere)")
    ] = "",
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="API tokens or an identity provider only")
    ] = False,
    home: HomeOption = None,
) -> None:
    """新建用户 / Add a user (asks for the password)."""
    from povguard.store import services

    lang = language()
    password = None if no_password else _password(password_stdin, lang)
    with _session(home, lang) as session:
        user = services.create_user(
            session,
            username=username,
            password=password,
            role=role,
            area_code=area,
            display_name=name,
            actor=ACTOR,
        )
    where = user.area_code or _t(lang, "everywhere")
    stdout_console().print(_t(lang, "added", name=user.username, role=user.role, area=where))


@users_app.command("list")
def list_(home: HomeOption = None) -> None:
    """列出用户 / List users (no secrets)."""
    from povguard.store import services

    lang = language()
    with _session(home, lang) as session:
        users = services.list_users(session)
    table = Table(title=_t(lang, "users"))
    for col in ("username", "name", "role", "area", "active", "locked until", "last sign-in"):
        table.add_column(col)
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            u.role,
            u.area_code or _t(lang, "everywhere"),
            "yes" if u.active else "no",
            f"{u.locked_until:%Y-%m-%d %H:%M}" if u.locked_until else "-",
            f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "-",
        )
    stdout_console().print(table)


@users_app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="sign-in name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    home: HomeOption = None,
) -> None:
    """设置密码 / Set a new password (unlocks the account, ends its sessions)."""
    from povguard.store import services

    lang = language()
    password = _password(password_stdin, lang)
    with _session(home, lang) as session:
        services.set_password(session, username, password, actor=ACTOR)
    stdout_console().print(_t(lang, "password_set", name=username))


@users_app.command("token")
def token(
    username: Annotated[str, typer.Argument(help="sign-in name")],
    name: Annotated[str, typer.Option(help="what the token is for")],
    days: Annotated[
        float | None, typer.Option(help="lifetime in days (default: unlimited)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """签发令牌 / Issue an API token; prints it once."""
    from povguard.store import services

    lang = language()
    with _session(home, lang) as session:
        issued = services.issue_user_token(
            session, username, name=name, expires_days=days, actor=ACTOR
        )
    typer.echo(_t(lang, "token", name=username), err=True)
    typer.echo(issued)


@users_app.command("tokens")
def tokens(
    username: Annotated[str | None, typer.Argument(help="only this user's")] = None,
    home: HomeOption = None,
) -> None:
    """列出令牌 / List API tokens (prefixes only)."""
    from povguard.store import services

    lang = language()
    with _session(home, lang) as session:
        items = services.list_tokens(session, username)
    table = Table(title=_t(lang, "tokens"))
    for col in ("id", "user", "name", "prefix", "created", "expires", "last used", "revoked"):
        table.add_column(col)
    for t in items:
        table.add_row(
            str(t.id),
            t.username,
            t.name,
            t.token_prefix,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "-",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-",
        )
    stdout_console().print(table)


@users_app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(help="token id (see users tokens)")],
    home: HomeOption = None,
) -> None:
    """吊销令牌 / Revoke an API token."""
    from povguard.store import services

    lang = language()
    with _session(home, lang) as session:
        services.revoke_token(session, token_id, actor=ACTOR)
    stdout_console().print(_t(lang, "revoked", id=token_id))


@users_app.command("deactivate")
def deactivate(
    username: Annotated[str, typer.Argument(help="sign-in name")], home: HomeOption = None
) -> None:
    """停用用户 / Deactivate a user: sessions and tokens stop working at once."""
    from povguard.store import services

    lang = language()
    with _session(home, lang) as session:
        services.set_active(session, username, False, actor=ACTOR)
    stdout_console().print(_t(lang, "deactivated", name=username))


@users_app.command("activate")
def activate(
    username: Annotated[str, typer.Argument(help="sign-in name")], home: HomeOption = None
) -> None:
    """启用用户 / Activate a deactivated user."""
    from povguard.store import services

    lang = language()
    with _session(home, lang) as session:
        services.set_active(session, username, True, actor=ACTOR)
    stdout_console().print(_t(lang, "activated", name=username))


@users_app.command("unlock")
def unlock(
    username: Annotated[str, typer.Argument(help="sign-in name")], home: HomeOption = None
) -> None:
    """解锁用户 / Unlock a user locked after wrong passwords."""
    from povguard.store import services

    lang = language()
    with _session(home, lang) as session:
        services.unlock_user(session, username, actor=ACTOR)
    stdout_console().print(_t(lang, "unlocked", name=username))
