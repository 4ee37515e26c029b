"""The root of a unitax checkout: not a module of the package (runtime/ is ``unitax``, compiler/
``unitax.compiler``, tools/ ``unitax.tools``, generated/ ``unitax.generated``; pyproject.toml).

Python reads this file only when the folder that holds the checkout is on ``sys.path`` (a script
run from there: its folder comes first) and the checkout's folder is named ``unitax``: without
it, Python would import the checkout as an empty namespace package (``unitax.load`` missing).
It puts the package of this checkout in its place, as the editable install maps it.
"""

import importlib.util
import sys
from pathlib import Path

_root = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    __name__, _root / "runtime" / "__init__.py", submodule_search_locations=[str(_root / "runtime"), str(_root)])
if _spec is None or _spec.loader is None:  # pragma: no cover - runtime/__init__.py is always there
    raise ImportError(f"{_root}: not a whole unitax checkout (runtime/__init__.py is missing)")
_package = importlib.util.module_from_spec(_spec)
sys.modules[__name__] = _package  # the import statement returns what sys.modules holds after this file ran
_spec.loader.exec_module(_package)
