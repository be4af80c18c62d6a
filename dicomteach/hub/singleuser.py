"""The command of every server the hub starts: JupyterHub's single-user server, lighter to start.

A class starts its servers at once on two cores, so what one start costs is paid
thirty times over (docs/hub.md, "Sizing: a class at once"). Three costs of a
start buy a learner nothing, and this command leaves them out:

- jsonschema registers an "iri" format check when ``rfc3987_syntax`` is
  installed (it comes with ``jsonschema[format-nongpl]``, which Jupyter's event
  logging asks for), and that package builds its grammar when imported: about
  0.6 s of CPU. No event schema of Jupyter Server or its extensions has an "iri"
  field, so the server starts with that checker left out: jsonschema skips a
  format it has no checker for, as it does when the package is absent.
- JupyterLab asks yarn for its package registry when ``jupyterlab.labapp`` is
  imported, running Node.js (about 0.2 s of CPU), in case extensions are
  installed from the server. A learner's server installs none (its extension
  manager is read-only: ``jupyter/singleuser/jupyter_server_config.json``), so
  the server starts as JupyterLab does on a machine without Node.js: with the
  default registry.
- jupyter-lsp looks for language servers at every start, running
  ``npm prefix -g``; the class has none, and the same configuration file turns
  that search off (``LanguageServerManager.autodetect``).

    python -m dicomteach.hub.singleuser [jupyterhub-singleuser options]
"""

from __future__ import annotations

import sys

__all__ = ["lighten", "main"]


def _no_yarn_config(logger: object) -> dict[str, dict]:
    # what jupyterlab.commands._yarn_config returns when Node.js is not found
    return {"yarn config": {}, "npm config": {}}


def lighten() -> None:
    """Leave out the "iri" format checker and JupyterLab's yarn query (module docstring)."""
    # a None entry makes `import rfc3987_syntax` raise ImportError, which jsonschema expects
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    try:
        import jupyterlab.commands as lab_commands
    except ImportError:  # a server without JupyterLab has nothing to leave out
        return
    if hasattr(lab_commands, "_yarn_config"):
        lab_commands._yarn_config = _no_yarn_config


def main() -> int | None:
    """Run ``jupyterhub-singleuser``, lightened (see the module docstring)."""
    lighten()
    from jupyterhub.singleuser import main as singleuser

    return singleuser()


if __name__ == "__main__":
    sys.exit(main())
