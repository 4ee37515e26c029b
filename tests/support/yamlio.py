"""YAML for the tests' own reading and editing of spec files, through libyaml where PyYAML has it
(as the compiler parses: compiler/load.py): the same data as ``yaml.safe_load``/``safe_dump``,
about ten times faster, which the tests that rewrite every mapping of the MSeg copy feel."""

from __future__ import annotations

from typing import Any

import yaml

try:
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


def load(text: str) -> Any:
    """``yaml.safe_load(text)``."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def dump(data: Any) -> str:
    """``yaml.safe_dump`` in the layout the tests write specs in (keys in order, unicode as is, long lines)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
