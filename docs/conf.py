"""Sphinx configuration of the absorbphys documentation.

Build (warnings are errors, as in CI)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

Markdown pages are parsed by myst-parser (through myst-nb), notebooks in ``notebooks/`` are
executed during the build by myst-nb (no pandoc needed), and the API reference is generated
from the numpydoc docstrings by autosummary.
"""

from __future__ import annotations

import os
import sys

# Progress bars off and a per-build Numba cache, so that notebook execution is quiet and
# repeated builds reuse the compiled kernels.
os.environ.setdefault("ABSORBPHYS_PROGRESS", "0")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..",
                                                      ".numba_cache"))

import absorbphys  # noqa: E402  (installed: pip install -e .)

sys.path.insert(0, os.path.abspath("."))

project = "absorbphys"
author = "the absorbphys developers"
copyright = "2026, the absorbphys developers"
release = absorbphys.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",                    # Markdown (myst-parser) + executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# ---------------------------------------------------------------- MyST
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
# Pages edited by several people (performance.md, schema.md) may skip a heading level.
suppress_warnings = ["myst.header"]

# ---------------------------------------------------------------- notebooks (myst-nb)
nb_execution_mode = "force"       # run every notebook on every build
nb_execution_timeout = 300        # seconds per cell: a hang guard (the longest cell: ~20 s alone)
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# ---------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"        # numpydoc docstrings carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()   # ruff's pydocstyle rules check style in CI

# ---------------------------------------------------------------- HTML
html_theme = "alabaster"
html_title = f"absorbphys {release}"
html_theme_options = {
    "description": "Absorbing phase transitions in statistical physics and deep learning",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_static_path: list[str] = []
