"""One ES module per widget from the modules in ``static/``, without a build step.

anywidget hands the browser a widget's ``_esm`` as one string (a blob URL), so
the browser cannot resolve ``import … from "./core/scene.js"`` itself. Each file
in ``static/`` is nevertheless a real ES module: TypeScript checks them on disk
(``tsconfig.json``), and :func:`bundle` joins the ones a widget needs, in the
order their imports give, each inside its own function scope:

.. code-block:: javascript

    // ---- core/dom.js
    const __dt_core_dom = (() => {
      function el(tag, className, text) { … }
      return { el };
    })();
    // ---- viewer.js
    const __dt_viewer = (() => {
      const { el } = __dt_core_dom;
      …
      return { default: __dt_default };
    })();
    export default __dt_viewer.default;

Only the forms the widgets use are understood, each alone on its own lines at
the top level of a module; anything else is refused with the file and line
(:class:`WidgetModuleError`):

- ``import { a, b as c } from "./x.js";`` (a relative path; may span lines)
- ``export function a``, ``export async function a``, ``export class A``, ``export const a``
- ``export default …;`` (the entry module only: the widget's ``{ render }``)
- ``import(url)`` of a URL the code makes (a blob's); a written path, ``import("./x.js")``,
  would resolve against the widget's blob URL and is refused, as is ``import.meta``

Type-only imports in JSDoc comments (``/** @import { T } from "./x.js" */``)
cost nothing at run time and are left alone.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from dicomteach.errors import DicomTeachError

__all__ = ["STATIC", "WidgetModuleError", "bundle", "bundle_css"]

STATIC = Path(__file__).parent / "static"
"""The widgets' ES modules and style sheets, shipped in the wheel."""

_NAME = r"[A-Za-z_$][\w$]*"
_IMPORT = re.compile(r'import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}/[^"]+\.js)"\s*;?\s*$', re.S)
_IMPORTED = re.compile(rf"^({_NAME})(?:\s+as\s+({_NAME}))?$")
_EXPORT = re.compile(rf"^export\s+(function|async\s+function|class|const)\s+({_NAME})\b")
_EXPORT_DEFAULT = re.compile(r"^export\s+default\s+")
_FROM_END = re.compile(r'\bfrom\s*"[^"]*"\s*;?\s*$')
_KEYWORD = re.compile(r"^\s*(import|export)\b(?!\s*\()")
_DYNAMIC = re.compile(r"\bimport\s*\(\s*[\"'`]|\bimport\.meta\b")
_DEFAULT = "__dt_default"


class WidgetModuleError(DicomTeachError):
    """A widget's ES module uses a form the joiner does not understand, or its imports
    do not fit together (a missing file or name, a cycle)."""


@dataclass
class _Module:
    path: str  # relative to STATIC, with forward slashes
    lines: list[str] = field(default_factory=list)
    imports: list[tuple[str, list[tuple[str, str]], int]] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)

    @property
    def variable(self) -> str:
        return "__dt_" + re.sub(r"\W", "_", self.path.removesuffix(".js"))


def _parse(path: str, root: Path) -> _Module:
    """The module's body with its imports and exports taken out, and what they were."""
    file = root / path
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise WidgetModuleError(f"cannot read the module: {exc.strerror}", file) from exc
    module = _Module(path)
    source = text.splitlines()
    i = 0
    while i < len(source):
        line, number = source[i], i + 1
        stripped = line.lstrip()
        code = not stripped.startswith(("//", "*", "/*"))
        if code and _DYNAMIC.search(line):
            raise WidgetModuleError(
                f"line {number}: dynamic import of a path or import.meta is not supported", file
            )
        keyword = _KEYWORD.match(line) if code else None
        if not keyword:
            module.lines.append(line)
            i += 1
            continue
        if line != stripped:
            raise WidgetModuleError(
                f"line {number}: {keyword.group(1)} must start a line at the top level", file
            )
        if keyword.group(1) == "import":
            statement = line
            # A long import list may span lines, up to its `from "…";`.
            if "{" in line and "}" not in line:
                while not _FROM_END.search(statement) and i + 1 < len(source):
                    i += 1
                    statement += "\n" + source[i]
            match = _IMPORT.fullmatch(statement.strip())
            if not match:
                raise WidgetModuleError(
                    f'line {number}: only `import {{ a, b as c }} from "./x.js";` is supported, '
                    f"not `{line.strip()}`",
                    file,
                )
            names = []
            for item in (s.strip() for s in match.group(1).split(",")):
                if not item:
                    continue
                imported = _IMPORTED.match(item)
                if not imported:
                    raise WidgetModuleError(f"line {number}: cannot read the import {item!r}", file)
                names.append((imported.group(1), imported.group(2) or imported.group(1)))
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), match.group(2)))
            if target.startswith("../"):
                raise WidgetModuleError(f"line {number}: {match.group(2)} is outside static/", file)
            module.imports.append((target, names, number))
            module.lines.append(
                "const { "
                + ", ".join(a if a == b else f"{a}: {b}" for a, b in names)
                + f" }} = {_Module(target).variable};"
            )
        elif _EXPORT_DEFAULT.match(line):
            module.exports.append("default")
            module.lines.append(_EXPORT_DEFAULT.sub(f"const {_DEFAULT} = ", line, count=1))
        else:
            match = _EXPORT.match(line)
            if not match:
                raise WidgetModuleError(
                    f"line {number}: only `export [async] function|class|const NAME` and "
                    f"`export default …;` are supported, not `{line.strip()}`",
                    file,
                )
            module.exports.append(match.group(2))
            module.lines.append(line.removeprefix("export").lstrip())
        i += 1
    return module


def _ordered(entry: str, root: Path) -> list[_Module]:
    """The entry's module graph, each module after the ones it imports."""
    modules: dict[str, _Module] = {}
    order: list[_Module] = []
    visiting: list[str] = []

    def visit(path: str) -> None:
        if path in visiting:
            cycle = " -> ".join([*visiting[visiting.index(path) :], path])
            raise WidgetModuleError(f"import cycle: {cycle}", root / path)
        if path in modules:
            return
        visiting.append(path)
        module = _parse(path, root)
        for target, names, number in module.imports:
            if not (root / target).is_file():
                raise WidgetModuleError(
                    f"line {number}: no module {target} in static/", root / path
                )
            visit(target)
            missing = [a for a, _ in names if a not in modules[target].exports]
            if missing:
                raise WidgetModuleError(
                    f"line {number}: {target} does not export {', '.join(missing)}", root / path
                )
        visiting.pop()
        modules[path] = module
        order.append(module)

    visit(entry)
    return order


def join_modules(entry: str, root: Path = STATIC) -> str:
    """The module graph of ``entry`` (a path under ``root``) as one ES module.

    Each module runs in its own function scope, after the modules it imports, and
    hands its exports on; only the entry's default export leaves the result.

    >>> source = join_modules("viewer.js")
    >>> source.rstrip().endswith("export default __dt_viewer.default;")
    True
    >>> source.index("// ---- core/dom.js") < source.index("// ---- viewer.js")
    True
    """
    order = _ordered(entry, root)
    variables = [m.variable for m in order]
    if len(set(variables)) != len(variables):
        raise WidgetModuleError("two modules map to the same name; rename one", root / entry)
    if "default" not in order[-1].exports:
        raise WidgetModuleError("the entry module has no `export default`", root / entry)
    parts = [f"// dicomteach widget module joined from static/{entry} and its imports."]
    for module in order:
        if "default" in module.exports and module is not order[-1]:
            raise WidgetModuleError(
                "`export default` belongs to the entry module only", root / module.path
            )
        returned = ", ".join(
            f"default: {_DEFAULT}" if name == "default" else name for name in module.exports
        )
        parts += [
            f"// ---- {module.path}",
            f"const {module.variable} = (() => {{",
            *module.lines,
            f"return {{ {returned} }};",
            "})();",
        ]
    parts.append(f"export default {order[-1].variable}.default;")
    return "\n".join(parts) + "\n"


@functools.cache
def bundle(entry: str) -> str:
    """The ES module of a widget whose entry module is ``static/<entry>`` (cached).

    >>> "export default" in bundle("viewer.js")
    True
    """
    return join_modules(entry)


def bundle_css(*names: str) -> str:
    """One style sheet from ``viewer.css`` (every widget's frame) and the widget's own files.

    >>> css = bundle_css("compare.css")
    >>> css.index(".dt-viewer {") < css.index(".dt-compare-panes")
    True
    """
    files = ["viewer.css", *(n for n in names if n != "viewer.css")]
    return "\n".join((STATIC / name).read_text(encoding="utf-8") for name in files)
