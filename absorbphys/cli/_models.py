"""``absorbphys models``: list registered models with their parameters and ranges."""

from __future__ import annotations

import json
import re

from absorbphys._registry import list_models


def register(sub):
    """Add the ``models`` subcommand."""
    p = sub.add_parser("models", help="list registered models, their parameters and ranges")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def describe_models() -> dict:
    """Return ``{name: {class, control, size_param, time_unit, inits, backends, params}}``."""
    out = {}
    for name, cls in list_models().items():
        defaults = cls.defaults()
        out[name] = {
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            "control": cls.control,
            "size_param": cls.size_param,
            "time_unit": cls.time_unit,
            "inits": list(cls.inits),
            "backends": list(cls.backends),
            "params": {k: {"range": v.describe(), "required": k not in defaults,
                           "default": _jsonable(defaults.get(k)), "doc": v.doc}
                       for k, v in cls.params.items()},
        }
    return out


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return getattr(v, "__name__", repr(v))


def plain(text: str) -> str:
    """Return docstring text without reStructuredText markup (````x````, ``:func:`x```)."""
    text = re.sub(r":[a-z:]+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def run(args) -> int:
    """Print the model list (aligned columns, plain text)."""
    info = describe_models()
    if args.json:
        print(json.dumps(info, indent=1, default=str))
        return 0
    for name, d in info.items():
        print(f"{name}  ({d['class']})")
        if d["summary"]:
            print(f"    {plain(d['summary'])}")
        print(f"    control: {d['control']}   size: {d['size_param']}   time: {d['time_unit']}"
              f"   init: {', '.join(d['inits'])}   backends: {', '.join(d['backends'])}")
        rows = [(k, p["range"], "required" if p["required"] else f"default {p['default']}",
                 plain(p["doc"])) for k, p in d["params"].items()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            print("    " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])
        print()
    return 0
