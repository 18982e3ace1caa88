"""Documentation consistency (fast; the Sphinx build itself runs separately in CI).

* Every public name of ``absorbphys`` and ``absorbphys.analysis`` and every registered
  built-in model class has an entry in the API reference (docs/api.md), so a new public
  function cannot ship undocumented.
* The notebooks are stored without outputs (they are executed during the build) and name
  the ``python3`` kernel.
* Every page under docs/ is reachable from a toctree (Sphinx would fail with -W anyway;
  this gives the one-line reason without building).
"""

import json
import re
from pathlib import Path

import pytest

import absorbphys as ap
from absorbphys import analysis as an

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Not functions or classes: constants and the version string.
# (constants: described in the prose of docs/api.md, not in an autosummary block)
NOT_DOCUMENTED = {"ENTRY_POINT_GROUP", "__version__", "EXPONENTS", "GROUPS", "FAMILIES",
                  "RESOLUTION", "CRITICAL_SIGNATURES", "SIGNIFICANCE", "N_BOOT_MAX",
                  "QUADRATIC_FROM"}


def _autosummary_entries():
    """Return the fully qualified names listed in the autosummary blocks of api.md."""
    text = (DOCS / "api.md").read_text()
    names, module = set(), None
    in_block = False
    for line in text.splitlines():
        m = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if m:
            module = m.group(1)
            continue
        if line.strip().startswith(".. autosummary::"):
            in_block = True
            continue
        if in_block:
            s = line.strip()
            if not s or s.startswith(":"):
                continue
            if not line.startswith("   ") or s.startswith(".. ") or s.startswith("```"):
                in_block = s.startswith(".. autosummary::")
                continue
            names.add(s if s.startswith("absorbphys.") or module is None
                      else f"{module}.{s}")
    return names


def test_api_reference_lists_every_public_name():
    listed = _autosummary_entries()
    missing = [f"absorbphys.{n}" for n in ap.__all__
               if n not in NOT_DOCUMENTED and f"absorbphys.{n}" not in listed]
    missing += [f"absorbphys.analysis.{n}" for n in an.__all__
                if n not in NOT_DOCUMENTED and f"absorbphys.analysis.{n}" not in listed]
    for name, cls in ap.list_models().items():
        if not cls.__module__.startswith("absorbphys.models"):
            continue  # plugins document themselves
        qual = f"{cls.__module__}.{cls.__qualname__}"
        short = f"absorbphys.models.{cls.__qualname__}"
        if qual not in listed and short not in listed:
            missing.append(f"{qual} (model {name!r})")
    assert not missing, f"add to docs/api.md: {', '.join(missing)}"


@pytest.mark.parametrize("path", sorted((DOCS / "notebooks").glob("*.ipynb")),
                         ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: clear the outputs before committing"


def test_every_page_is_in_a_toctree():
    sources = {p.relative_to(DOCS).with_suffix("").as_posix()
               for p in list(DOCS.rglob("*.md")) + list(DOCS.rglob("*.ipynb"))
               if not any(part.startswith(("_", ".")) for part in p.relative_to(DOCS).parts)
               and "generated" not in p.parts and "jupyter_execute" not in p.parts}
    text = (DOCS / "index.md").read_text()
    entries = set()
    for block in re.findall(r"```\{toctree\}(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            s = line.strip()
            if s and not s.startswith(":"):
                entries.add(s)
    orphans = sorted(sources - entries - {"index"})
    assert not orphans, f"pages in no toctree of docs/index.md: {', '.join(orphans)}"


# ------------------------------------------------------------------ numpydoc structure
#: numpydoc checks for the public API: missing docstring, undocumented parameters, no
#: Returns section. (Style is checked by ruff's pydocstyle rules.)
STRUCTURE_CHECKS = {"GL08", "PR01", "RT01"}
#: Gaps present when this test was written, in files owned by others: (name, check). The
#: test fails on any *new* gap and on an entry that has been fixed (then delete it here).
KNOWN_GAPS = set()


def _public_api():
    from absorbphys.models import meanfield

    names = [f"absorbphys.{n}" for n in ap.__all__ if n not in NOT_DOCUMENTED]
    names += [f"absorbphys.analysis.{n}" for n in an.__all__ if n not in NOT_DOCUMENTED]
    names += [f"{c.__module__}.{c.__qualname__}" for c in ap.list_models().values()
              if c.__module__.startswith("absorbphys.models")]
    names += [f"absorbphys.models.meanfield.{n}" for n in
              ("q_star", "chi1", "critical_sigma_w", "critical_line", "kappa")
              if hasattr(meanfield, n)]
    return names


def _only_private(message):
    """Whether a PR01 message names only underscore parameters."""
    import ast

    m = re.search(r"\{.*\}", message)
    names = ast.literal_eval(m.group(0)) if m else set()
    return bool(names) and all(n.lstrip("*").startswith("_") for n in names)


def test_public_docstrings_document_parameters_and_returns():
    validate = pytest.importorskip("numpydoc.validate",
                                   reason="numpydoc comes with the docs extra").validate
    gaps = set()
    for name in _public_api():
        result = validate(name)
        doc = result.get("docstring") or ""
        for code, _msg in result["errors"]:
            if code not in STRUCTURE_CHECKS:
                continue
            if code == "PR01" and result["type"] == "type" and "Attributes\n" in doc:
                continue  # dataclass results documented field by field under Attributes
            if code == "PR01" and _only_private(_msg):
                continue  # underscore keywords are internal, not part of the interface
            gaps.add((name, code))
    new = sorted(gaps - KNOWN_GAPS)
    fixed = sorted(KNOWN_GAPS - gaps)
    assert not new, "document: " + "; ".join(f"{n} ({c})" for n, c in new)
    assert not fixed, "fixed, remove from KNOWN_GAPS: " + "; ".join(f"{n} ({c})"
                                                                  for n, c in fixed)
