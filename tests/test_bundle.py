"""The widgets' ES modules joined into one module per widget (dicomteach/widgets/_bundle.py).

anywidget loads a widget's script from one string, so the modules in
``widgets/static`` are joined in the order their imports give, each in its own
scope. These tests pin that order, that scopes stay apart, that forms the joiner
does not understand are refused with the file and line, and that every widget's
joined module loads in a real JavaScript engine (Node) and exports ``render``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dicomteach.widgets._bundle import WidgetModuleError, bundle, join_modules

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")
WIDGET_ENTRIES = ["viewer.js", "compare.js", "delineator.js", "questions.js"]


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _evaluate(source: str, expression: str) -> object:
    """Import ``source`` as an ES module in Node, as anywidget imports ``_esm`` in the
    browser (a URL holding the text), and return ``expression`` of it as JSON."""
    script = (
        'let text = ""; process.stdin.on("data", (d) => (text += d));'
        'process.stdin.on("end", () => import("data:text/javascript;base64," +'
        ' Buffer.from(text).toString("base64"))'
        f".then((m) => console.log(JSON.stringify({expression})))"
        ".catch((e) => { console.error(String(e)); process.exit(1); }));"
    )
    run = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_modules_come_after_the_modules_they_import(tmp_path):
    root = _write(
        tmp_path,
        {
            "entry.js": 'import { b } from "./lib/b.js";\nexport default { render: b };\n',
            "lib/b.js": 'import { c } from "./c.js";\nexport function b() { return c; }\n',
            "lib/c.js": "export const c = 3;\n",
        },
    )
    source = join_modules("entry.js", root)
    order = [source.index(f"// ---- {name}") for name in ("lib/c.js", "lib/b.js", "entry.js")]
    assert order == sorted(order)
    assert source.rstrip().endswith("export default __dt_entry.default;")


def test_a_module_imported_twice_is_joined_once(tmp_path):
    root = _write(
        tmp_path,
        {
            "entry.js": 'import { a } from "./a.js";\nimport { b } from "./b.js";\n'
            "export default { render: () => a + b };\n",
            "a.js": 'import { shared } from "./shared.js";\nexport const a = shared;\n',
            "b.js": 'import { shared } from "./shared.js";\nexport const b = shared;\n',
            "shared.js": "export const shared = 1;\n",
        },
    )
    assert join_modules("entry.js", root).count("// ---- shared.js") == 1


@needs_node
def test_modules_keep_their_private_names_apart(tmp_path):
    root = _write(
        tmp_path,
        {
            "entry.js": 'import { first } from "./one.js";\n'
            'import {\n  second,\n  label as secondLabel,\n} from "./two.js";\n'
            "const label = 'entry';\n"
            "export default { render() {}, values: [first(), second(), label, secondLabel] };\n",
            "one.js": "const secret = 1;\nconst label = 'one';\n"
            "export function first() { return secret; }\n",
            "two.js": "const secret = 2;\nexport const label = 'two';\n"
            "export function second() { return secret; }\n",
        },
    )
    values = _evaluate(join_modules("entry.js", root), "m.default.values")
    assert values == [1, 2, "entry", "two"]


def test_an_async_function_is_exported_too(tmp_path):
    root = _write(
        tmp_path,
        {
            "entry.js": 'import { later } from "./one.js";\n'
            "export default { render() {}, kind: later.constructor.name };\n",
            "one.js": "export async function later() { return 1; }\n",
        },
    )
    assert _evaluate(join_modules("entry.js", root), "m.default.kind") == "AsyncFunction"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"entry.js": 'import b from "./b.js";\nexport default {};\n', "b.js": ""},
            r"entry\.js: line 1: only `import \{ a, b as c \} from",
        ),
        (
            {"entry.js": 'import * as b from "./b.js";\nexport default {};\n', "b.js": ""},
            r"entry\.js: line 1: only `import",
        ),
        (
            {"entry.js": "const a = 1;\nexport let b = 2;\nexport default {};\n"},
            r"entry\.js: line 2: only `export \[async\] function\|class\|const NAME`",
        ),
        (
            {"entry.js": 'export * from "./b.js";\nexport default {};\n', "b.js": ""},
            r"entry\.js: line 1: only `export",
        ),
        (
            {"entry.js": "const x = 1;\nexport { x };\nexport default {};\n"},
            r"entry\.js: line 2: only `export",
        ),
        (
            {"entry.js": 'const m = await import("./b.js");\nexport default {};\n'},
            r"entry\.js: line 1: dynamic import of a path or import\.meta is not supported",
        ),
        (
            {"entry.js": "const u = import.meta.url;\nexport default {};\n"},
            r"entry\.js: line 1: dynamic import of a path",
        ),
        (
            {"entry.js": "if (true) {\n  export const a = 1;\n}\nexport default {};\n"},
            r"entry\.js: line 2: export must start a line at the top level",
        ),
        (
            {"entry.js": 'import { a } from "https://cdn.example/a.js";\nexport default {};\n'},
            r"entry\.js: line 1: only `import",
        ),
        (
            {"entry.js": 'import { a } from "./missing.js";\nexport default {};\n'},
            r"entry\.js: line 1: no module missing\.js in static/",
        ),
        (
            {"entry.js": 'import { nope } from "./b.js";\nexport default {};\n', "b.js": ""},
            r"entry\.js: line 1: b\.js does not export nope",
        ),
        (
            {
                "entry.js": 'import { a } from "./a.js";\nexport default {};\n',
                "a.js": 'import { b } from "./b.js";\nexport const a = 1;\n',
                "b.js": 'import { a } from "./a.js";\nexport const b = 1;\n',
            },
            r"import cycle: a\.js -> b\.js -> a\.js",
        ),
        (
            {"entry.js": "export const render = 1;\n"},
            r"entry\.js: the entry module has no `export default`",
        ),
        (
            {
                "entry.js": 'import { a } from "./a.js";\nexport default { a };\n',
                "a.js": "export const a = 1;\nexport default a;\n",
            },
            r"a\.js: `export default` belongs to the entry module only",
        ),
    ],
    ids=[
        "default-import",
        "namespace-import",
        "export-let",
        "export-star",
        "export-list",
        "dynamic-import",
        "import-meta",
        "nested-export",
        "url-import",
        "missing-file",
        "missing-name",
        "cycle",
        "no-default",
        "default-outside-entry",
    ],
)
def test_forms_the_joiner_does_not_understand_are_refused_with_file_and_line(
    tmp_path, files, message
):
    root = _write(tmp_path, files)
    with pytest.raises(WidgetModuleError, match=message):
        join_modules("entry.js", root)


def test_comments_and_type_imports_are_left_alone(tmp_path):
    root = _write(
        tmp_path,
        {
            "entry.js": '/** @import { T } from "./types.js" */\n'
            "// export is a word comments may use\n"
            " * import too\n"
            "export default { render() {} };\n",
        },
    )
    source = join_modules("entry.js", root)
    assert '/** @import { T } from "./types.js" */' in source
    assert "// ---- types.js" not in source


@needs_node
@pytest.mark.parametrize("entry", WIDGET_ENTRIES)
def test_every_widget_module_loads_in_node_and_exports_render(tmp_path, entry):
    source = bundle(entry)
    path = tmp_path / entry.replace(".js", ".mjs")
    path.write_text(source, encoding="utf-8")
    check = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert _evaluate(source, "typeof m.default.render") == "function"


def test_a_dynamic_import_of_a_url_the_code_makes_is_kept(tmp_path):
    """A blob URL made at run time resolves in the browser; the joiner leaves it be."""
    (tmp_path / "entry.js").write_text(
        "async function load(url) {\n  return import(url);\n}\nexport default { load };\n"
    )
    assert "return import(url);" in join_modules("entry.js", tmp_path)
