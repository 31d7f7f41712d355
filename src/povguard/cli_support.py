"""Helpers shared by the command-line sub-apps: language, messages, errors, consoles.

Each sub-app keeps its own ``LABELS`` (Chinese and English texts, with an ``error``
label) and binds these helpers to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

#: Width of standard output when piped, so ids, keys and hashes are not folded.
PIPE_WIDTH: Final = 160

Labels = Mapping[str, Mapping[str, str]]


def language() -> Literal["zh", "en"]:
    """The user-facing language (``POVGUARD_LANGUAGE``): ``zh`` unless it is ``en``.

    Invalid settings end the command with exit code 2.
    """
    from pydantic import ValidationError

    from povguard.settings import get_settings

    try:
        return "en" if get_settings().language == "en" else "zh"
    except ValidationError as exc:
        message = f"invalid settings: {exc.errors()[0].get('msg', exc)}"
        Console(stderr=True).print(f"[bold red]错误 error:[/] {escape(message)}", soft_wrap=True)
        raise typer.Exit(2) from None


def text(labels: Labels, lang: str, label: str, /, **values: Any) -> str:
    """The text of ``label`` in ``lang`` (Chinese when unknown), formatted with ``values``."""
    template = labels.get(lang, labels["zh"])[label]
    return template.format(**values) if values else template


def fail(labels: Labels, message: str, code: int = 2, lang: str = "zh") -> NoReturn:
    """Print ``message`` as an error on standard error and end with exit ``code``."""
    label = labels.get(lang, labels["zh"])["error"]
    Console(stderr=True).print(f"[bold red]{label}:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def stdout_console() -> Console:
    """Console on standard output: the terminal's, or :data:`PIPE_WIDTH` wide when piped."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=PIPE_WIDTH)
