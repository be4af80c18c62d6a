"""The command of every server the hub starts: JupyterHub's single-user server, lighter to start.

jsonschema registers an "iri" format check when ``rfc3987_syntax`` is installed
(it comes with ``jsonschema[format-nongpl]``, which Jupyter's event logging asks
for), and that package builds its grammar when imported: about 0.6 s of CPU at
every server start, a third of what a start costs. With a class starting at once
on two cores, that third is paid thirty times over (docs/hub.md, "Sizing: a
class at once"). No event schema of Jupyter Server or its extensions has an
"iri" field, so the server starts with that checker left out: jsonschema skips a
format it has no checker for, as it does when the package is absent.

    python -m dicomteach.hub.singleuser [jupyterhub-singleuser options]
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int | None:
    """Run ``jupyterhub-singleuser`` without the "iri" format checker."""
    # a None entry makes `import rfc3987_syntax` raise ImportError, which jsonschema expects
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from jupyterhub.singleuser import main as singleuser

    return singleuser()


if __name__ == "__main__":
    sys.exit(main())
