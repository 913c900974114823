"""The bundler of the MCP Apps views: the import and export forms it knows become plain scope, any
other is refused by name (a missed one would leave an import the view's iframe cannot resolve), and
nothing that would end the inline <script> early gets into the document."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mcp_server.web.bundle import html_document, inline_modules


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_modules_run_in_import_order_with_their_named_renamed_and_default_exports(tmp_path: Path) -> None:
    static = _write(tmp_path, {
        "lib/base.js": "const hidden = 2;\nexport const two = hidden;\nfunction f(x){return x+1}export{f as inc};export default function(n){return n*10}",
        "lib/mid.js": 'import ten, { two, inc as plus } from "./base.js";\n',  # not a form the pages use: refused
    })  # fmt: skip
    with pytest.raises(ValueError, match="lib/mid.js"):
        inline_modules(static, "lib/mid.js")
    _write(tmp_path, {
        "lib/mid.js": 'import { two, inc as plus } from "./base.js";\nimport ten from "./base.js";\n'
                      "export function both() { return ten(plus(two)); }\n",
        "main.js": 'import { both } from "./lib/mid.js";\nconsole.log(both());\n',
    })  # fmt: skip
    script = inline_modules(static, "main.js")
    assert script.index("'lib/base.js'] =") < script.index("'lib/mid.js'] =") < script.index("'main.js'] =")
    node = shutil.which("node")
    if node is None:
        pytest.skip("running the bundle needs Node.js (the browser tests run the views' own bundle)")
    (tmp_path / "bundle.mjs").write_text(script)
    ran = subprocess.run([node, str(tmp_path / "bundle.mjs")], capture_output=True, text=True, check=False, timeout=60)
    assert (ran.returncode, ran.stdout.strip()) == (0, "30"), ran.stderr


@pytest.mark.parametrize("source", [
    'export * from "./a.js";\n',
    'const later = import("./a.js");\n',
    'import "./a.js";\n',
])  # fmt: skip
def test_an_import_or_export_it_does_not_know_is_refused_with_the_module_named(tmp_path: Path, source: str) -> None:
    static = _write(tmp_path, {"a.js": "export const a = 1;\n", "main.js": source})
    with pytest.raises(ValueError, match="main.js"):
        inline_modules(static, "main.js")


def test_a_script_that_would_close_its_element_early_is_refused(tmp_path: Path) -> None:
    static = _write(tmp_path, {"main.js": 'const s = "</script><img src=x>";\n', "style.css": "body {}\n"})
    with pytest.raises(ValueError, match="end their element early"):
        html_document(static, title="t", entry="main.js", styles=("style.css",))
