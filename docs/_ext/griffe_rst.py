"""Griffe extension: render the reStructuredText bits of the NumPy-style docstrings as Markdown.

The docstrings use Sphinx roles (``:func:`derivative```, ``:class:`~pkg.History```) and
``.. math::`` directives, which Markdown would show verbatim. This extension rewrites them
when mkdocstrings loads the package: roles become inline code of the name as Sphinx would
show it, ``:math:`` and ``.. math::`` become inline code and code blocks, a paragraph
ending in ``::`` (an RST literal block) ends in ``:``, and doctest blocks are fenced.
Nothing is linked, so a name that is not documented cannot break ``mkdocs build --strict``.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(func|class|meth|attr|data|mod|obj|exc|const):`([^`]+)`")
MATH_ROLE = re.compile(r":math:`([^`]+)`")
MATH_LINE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<expr>\S.*)$", re.M)
MATH_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)\.\. math::[ \t]*\n(?:[ \t]*\n)*(?P<body>(?:(?P=indent)[ \t]+\S.*\n?"
    r"|[ \t]*\n)+)",
    re.M,
)
LITERAL = re.compile(r"(\S)::[ \t]*$", re.M)


def _role(match: re.Match[str]) -> str:
    role, target = match.groups()
    target = re.sub(r"^.*<(.+)>$", r"\1", target)  # :func:`text <target>`
    shown = target.lstrip("!")
    if shown.startswith("~"):
        shown = shown[1:].rsplit(".", 1)[-1]
    if role in ("func", "meth") and not shown.endswith(")"):
        shown += "()"
    return f"`{shown}`"


def _math_block(match: re.Match[str]) -> str:
    indent = match.group("indent")
    body = textwrap.dedent(match.group("body")).strip("\n")
    lines = "\n".join(indent + line for line in body.splitlines())
    return f"{indent}```text\n{lines}\n{indent}```\n\n"


def _math_line(match: re.Match[str]) -> str:
    indent = match.group("indent")
    return f"{indent}```text\n{indent}{match.group('expr').strip()}\n{indent}```"


def fence_doctests(text: str) -> str:
    """Put each doctest block (a ``>>>`` line up to the next blank line) in a code fence.

    Outside an Examples section Markdown would read ``[...]`` in an output line as a link.
    """
    out: list[str] = []
    indent: str | None = None
    for line in text.split("\n"):
        stripped = line.lstrip()
        if indent is None and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
        elif indent is not None and not stripped:
            out.append(f"{indent}```")
            indent = None
        out.append(line)
    if indent is not None:
        out.append(f"{indent}```")
    return "\n".join(out)


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with its Sphinx roles and math directives made Markdown."""
    text = fence_doctests(text)
    text = MATH_BLOCK.sub(_math_block, text)
    text = MATH_LINE.sub(_math_line, text)
    text = MATH_ROLE.sub(r"`\1`", text)
    text = ROLE.sub(_role, text)
    return LITERAL.sub(r"\1:", text)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring once the package is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
