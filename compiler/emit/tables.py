"""Stage 6: write tables, class lists and the manifest. Bytes depend only on the model."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np

from unitax.format import FORMAT_VERSION, table_entry

from .. import analysis
from ..model import LabelSpace, Model
from . import HEADER


def npy_bytes(arr: np.ndarray) -> bytes:
    """Serialize one array as .npy (format 1.0, C order) — byte-stable across numpy versions."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _space_json(space: LabelSpace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": space.role,
        "label_dtype": space.label_dtype,
        "ignore": space.ignore,
        "names": list(space.names),
    }
    if any(c.color is not None for c in space.classes):
        out["colors"] = [list(c.color) if c.color is not None else None for c in space.classes]
    if space.class_list_from:
        out["class_list_from"] = space.class_list_from
    if space.unscored:
        out["unscored"] = list(space.unscored)
    if space.same_classes_as is not None:
        out["same_classes_as"] = space.same_classes_as.data()
    return out


def taxonomy_json(model: Model, tables: dict[str, np.ndarray]) -> dict[str, Any]:
    """Everything the runtime needs besides the arrays: names, colours, roles, the table index."""
    u = model.universal
    universal = _space_json(u)
    universal["parents"] = [c.parent for c in u.classes]
    universal["synsets"] = [c.synset for c in u.classes]
    index = {}
    back = analysis.back_maps(model)
    for key, arr in tables.items():
        kind, name = key.split("/", 1)
        entry: dict[str, Any] = table_entry(f"tables/{key}.npy", arr)
        if kind == "remap":
            m = next(m for m in model.mappings if m.key == name)
            entry.update(source=m.source, target=m.target)
        elif kind == "class_sets":  # one-to-one or union: which lookup table semantics apply
            entry["form"] = next(m.form for m in model.mappings if m.kind == "to_universal" and m.source == name)
        elif kind == "back_map":  # lossless flag, merged and dropped classes by name
            entry.update(analysis.back_map_index(back[name], model))
        index[key] = entry
    return {
        "header": HEADER,
        "fingerprint": analysis.fingerprint(u),  # sha256 of the universal ids and names
        "universal": universal,
        "datasets": {d.name: _space_json(d) for d in model.datasets},
        "tables": index,
    }


def render(model: Model, tables: dict[str, np.ndarray], specs_sha256: str,
           extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """All output files as relative path -> bytes (the manifest last, covering the rest).

    ``extra`` holds the files of the other emitters (docs, sheets); the manifest covers them too.
    """
    return with_manifest(model, {**own_files(model, tables), **(extra or {})}, specs_sha256)


def own_files(model: Model, tables: dict[str, np.ndarray]) -> dict[str, bytes]:
    """This emitter's files but the manifest: the package marker, taxonomy.json and the tables."""
    files: dict[str, bytes] = {
        "__init__.py": f'"""The compiled taxonomy ({HEADER})."""\n'.encode(),
        "taxonomy.json": json_bytes(taxonomy_json(model, tables)),
    }
    for key, arr in tables.items():
        files[f"tables/{key}.npy"] = npy_bytes(arr)
    return files


def with_manifest(model: Model, files: dict[str, bytes], specs_sha256: str,
                  specs_files: list[str] | None = None) -> dict[str, bytes]:
    """``files`` (every other output file) plus ``manifest.json``, which lists each with its sha256.

    ``specs_files``: the spec-relative paths ``specs_sha256`` covers (``format.specs_digest``): the
    runtime hashes them again to tell whether the specs beside a build still compile to it."""
    manifest: dict[str, object] = {
        "header": HEADER,
        "format_version": FORMAT_VERSION,
        "specs_sha256": specs_sha256,
        "universal_classes": len(model.universal.classes),
        "datasets": len(model.datasets),
        "mappings": len(model.mappings),
        "files": {p: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for p, b in sorted(files.items())},
    }
    if specs_files is not None:
        manifest["specs_files"] = sorted(specs_files)
    return {**files, "manifest.json": json_bytes(manifest)}
