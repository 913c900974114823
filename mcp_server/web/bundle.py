"""One self-contained HTML document from the pages' own ES modules and style sheets, for where /static
cannot be reached: an MCP App's view (mcp_server.web.apps), which a host renders in a sandboxed iframe
of no origin, under a CSP that lets it load nothing from anywhere (inline script and style only).

`inline_modules` is the smallest bundler these modules need, not a general one: each module becomes a
function whose result is its exports, called once in import order, and its imports read those results.
It knows the import and export forms the pages and their vendored Preact and htm use, and refuses
any other (a form it missed would leave an `import` the iframe cannot resolve), so the front end keeps
its no-build-step shape and its tests in a real browser cover this document as well.
"""

from __future__ import annotations

import html
import posixpath
import re
from pathlib import Path

MODULES = "__tracejudge_modules"
"""The one name the bundle adds to the script's scope: the modules' exports, by path."""

_NAME = r"[A-Za-z_$][\w$]*"
_IMPORT = re.compile(rf'\bimport\s*(\{{[^}}]*\}}|{_NAME})\s*from\s*"(\.\.?/[^"]+)"\s*;?')
_EXPORT_LIST = re.compile(r"\bexport\s*\{([^}]*)\}\s*;?")
_EXPORT_DEFAULT = re.compile(r"\bexport\s+default\s+")
_EXPORT_DECLARATION = re.compile(rf"(?m)^export\s+((?:async\s+)?function\*?|class|const|let|var)\s+({_NAME})")
_LEFT_OVER = re.compile(r"\bexport\b|\bimport\s*[{*(\"'$\w]")
# What would end an inline <script> or <style> early, or change how the HTML parser reads it.
_CLOSES_ELEMENT = re.compile(r"</(script|style)|<!--|<script", re.IGNORECASE)


def _pairs(names: str, module: str) -> list[tuple[str, str]]:
    """`a, b as c` as [("a", "a"), ("b", "c")]: (name in the module, name it goes by)."""
    pairs = []
    for item in filter(None, (part.strip() for part in names.split(","))):
        match = re.fullmatch(rf"({_NAME})(?:\s+as\s+({_NAME}))?", item)
        if not match:
            raise ValueError(f"{module}: cannot bundle the import or export item {item!r}")
        pairs.append((match[1], match[2] or match[1]))
    return pairs


def _module_function(path: str, source: str) -> tuple[str, list[str]]:
    """The module as the body of a function returning its exports, and the modules it imports."""
    imports: list[str] = []
    exports: list[tuple[str, str]] = []

    def read_import(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), match[2]))
        imports.append(target)
        source_of = f"{MODULES}[{target!r}]"
        if match[1].startswith("{"):
            names = ", ".join(name if name == local else f"{name}: {local}" for name, local in _pairs(match[1][1:-1], path))
            return f"const {{ {names} }} = {source_of};"
        return f"const {match[1]} = {source_of}.default;"

    def read_declaration(match: re.Match[str]) -> str:
        exports.append((match[2], match[2]))
        return f"{match[1]} {match[2]}"

    def read_list(match: re.Match[str]) -> str:
        exports.extend((exported, local) for local, exported in _pairs(match[1], path))
        return ""

    body = _IMPORT.sub(read_import, source)
    body = _EXPORT_DECLARATION.sub(read_declaration, body)
    body = _EXPORT_LIST.sub(read_list, body)
    body, defaults = _EXPORT_DEFAULT.subn(f"const {MODULES}_default = ", body)
    if defaults:
        exports.append(("default", f"{MODULES}_default"))
    if left := _LEFT_OVER.search(body):
        line = body.count("\n", 0, left.start()) + 1
        raise ValueError(f"{path}: cannot bundle the import or export near line {line}")
    returned = ", ".join(f"{exported!r}: {local}" for exported, local in exports)
    return f"{body}\n;return {{ {returned} }};", imports


def inline_modules(static: Path, entry: str) -> str:
    """The ES module `entry` (a path under `static`) and every module it imports, as one module script."""
    ordered: list[str] = []
    functions: dict[str, str] = {}

    def visit(path: str, importers: tuple[str, ...]) -> None:
        if path in importers:
            raise ValueError(f"cannot bundle the import cycle {' -> '.join((*importers, path))}")
        if path in functions:
            return
        body, imports = _module_function(path, (static / path).read_text(encoding="utf-8"))
        functions[path] = body
        for target in imports:
            visit(target, (*importers, path))
        ordered.append(path)

    visit(entry, ())
    script = "\n".join(f"{MODULES}[{path!r}] = (() => {{\n{functions[path]}\n}})();" for path in ordered)
    return f"const {MODULES} = {{}};\n{script}\n"


def html_document(static: Path, *, title: str, entry: str, styles: tuple[str, ...]) -> str:
    """An HTML page holding the module `entry` and the style sheets `styles` (paths under `static`)
    inline, rendering into <div id="app"> as the pages' shell does."""
    script = inline_modules(static, entry)
    css = "\n".join((static / sheet).read_text(encoding="utf-8") for sheet in styles)
    for what, text in (("script", script), ("styles", css)):
        if found := _CLOSES_ELEMENT.search(text):
            raise ValueError(f"the inlined {what} of {entry} hold {found[0]!r}, which would end their element early")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{css}</style>\n</head>\n<body>\n"
        '<div id="app"><p class="loading">Loading…</p></div>\n'
        f'<script type="module">\n{script}</script>\n</body>\n</html>\n'
    )
