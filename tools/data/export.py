"""`unitax export FORMAT`: a label space's classes, colours and mapping as training frameworks read them.

Formats (see ``FORMATS``): ``huggingface`` (JSON to merge into a ``transformers`` config),
``mmsegmentation``, ``detectron2`` and ``cityscapes`` (Python files). The bytes depend only on the
compiled build and the arguments (no dates, no paths), and every file names the command that
wrote it on its first line (JSON: the ``unitax`` key), which is how a later export knows it may
replace the file.

For a dataset with a mapping to universal the mmsegmentation and detectron2 files describe
training in the universal classes: the class list is the universal one and the map sends the
dataset's ids to universal ids (ignored classes to the universal ignore value). For
``universal`` and datasets without such a mapping (test and source datasets) they describe the
space's own classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import unitax
from unitax import pictures
from unitax.taxonomy import UNIVERSAL, names_fingerprint

from ...fileops import jsonio
from ...fileops.atomic import write_atomic
from ..errors import ToolError

MARK_PY = "# Written by `unitax export "


class ExportError(ToolError):
    """An export that cannot be written (bad space, a file that is not ours, ...)."""


# ----- facts about a space ------------------------------------------------------------------


def _has(tax: unitax.Taxonomy, key: str) -> bool:
    return key in tax._c.taxonomy["tables"]


def to_universal(tax: unitax.Taxonomy, space: str) -> list[int] | None:
    """Per class of ``space``, its universal id (the universal ignore value where ignored); None without a mapping."""
    if space == UNIVERSAL or not _has(tax, f"to_universal/{space}"):
        return None
    lut = tax.lut(space)
    return [int(lut[i]) for i in range(len(tax.names(space)))]


def universal_ids(tax: unitax.Taxonomy, space: str) -> list[list[int]] | None:
    """Per class of ``space``, the universal classes it corresponds to (None where nothing relates them).

    Universal: itself. A dataset mapped to universal: its universal class (for a union mapping, the
    class's set). A test dataset: the
    universal classes that count as it. A source dataset: through its first compiled remap into
    one of those.
    """
    n = len(tax.names(space))
    if space == UNIVERSAL:
        return [[i] for i in range(n)]
    if _has(tax, f"class_sets/{space}"):  # one class each, or a set for a union mapping's classes
        return [[int(u) for u in np.flatnonzero(row)] for row in tax.class_sets(space)]
    ignore_u = tax.ignore_index(UNIVERSAL)
    fwd = to_universal(tax, space)
    if fwd is not None:
        return [[] if u == ignore_u else [u] for u in fwd]
    if _has(tax, f"matrix/{space}"):
        return [[int(u) for u in np.flatnonzero(row)] for row in tax.matrix(space)]
    for src, dst in tax.remaps:
        if src != space:
            continue
        via = universal_ids(tax, dst)
        if via is None:
            continue
        lut, ign = tax.remap_lut(src, dst), tax.ignore_index(dst)
        return [[] if int(lut[i]) == ign else via[int(lut[i])] for i in range(n)]
    return None


def categories(tax: unitax.Taxonomy, space: str) -> list[str]:
    """Per class of ``space``: the universal parent of the universal class(es) it corresponds to.

    A universal class without a parent is its own category; classes ignored on the way to
    universal are ``void``; classes fed by universal classes of several categories are ``mixed``;
    where nothing relates the space to universal, ``unmapped``.
    """
    u = tax._space(UNIVERSAL)
    own = [p if p else name for name, p in zip(u["names"], u["parents"], strict=False)]
    ids = universal_ids(tax, space)
    if ids is None:
        return ["unmapped"] * len(tax.names(space))
    out = []
    for us in ids:
        cats = sorted({own[i] for i in us})
        out.append("void" if not cats else cats[0] if len(cats) == 1 else "mixed")
    return out


# ----- rendering ----------------------------------------------------------------------------


def _header(fmt: str, space: str, tax: unitax.Taxonomy) -> str:
    return (f"{MARK_PY}{fmt} --space {space}`; rerun it rather than editing this file.\n"
            f"# unitax taxonomy: universal fingerprint {tax.fingerprint}, specs sha256 {tax.specs_sha256}\n")


def _py_list(items: list[str], indent: str = "    ") -> str:
    return "".join(f"{indent}{it},\n" for it in items)


def _rgb(c: Any) -> str:
    return f"[{int(c[0])}, {int(c[1])}, {int(c[2])}]"


def _target(tax: unitax.Taxonomy, space: str) -> tuple[str, list[int] | None]:
    """(the space a model trains in, dataset id -> that space's id or None for the identity)."""
    fwd = to_universal(tax, space)
    return (UNIVERSAL, fwd) if fwd is not None else (space, None)


def render_huggingface(tax: unitax.Taxonomy, space: str) -> bytes:
    names = tax.names(space)
    label2id: dict[str, int] = {}
    for i, n in enumerate(names):
        label2id.setdefault(n, i)  # a repeated name (coco-panoptic-201's 'unlabeled') stands for its lowest id
    doc = {
        "id2label": {str(i): n for i, n in enumerate(names)},
        "label2id": label2id,
        "num_labels": len(names),
        "semantic_loss_ignore_index": tax.ignore_index(space),
        "unitax": {"written_by": f"unitax export huggingface --space {space}", "space": space,
                   "names_fingerprint": names_fingerprint(names), "universal_fingerprint": tax.fingerprint,
                   "specs_sha256": tax.specs_sha256},
    }
    return (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode()


def render_mmsegmentation(tax: unitax.Taxonomy, space: str) -> bytes:
    target, fmap = _target(tax, space)
    ign = tax.ignore_index(target)
    names, cols = tax.names(target), pictures.palette(tax, target)
    cls_name = "Unitax" + "".join(ch for ch in space.title() if ch.isalnum()) + "Dataset"
    lines = [_header("mmsegmentation", space, tax),
             f'"""mmsegmentation (1.x) metadata of {space}' +
             (f", trained in the universal classes: METAINFO lists the {len(names)}\nuniversal classes and "
              f"label_map sends each {space} id to its universal id ({ign}: ignored)." if fmap is not None else
              f": METAINFO lists its {len(names)} classes; label_map is None\n(ids are used as they are)."),
             "",
             "    from this_module import register",
             f"    register()   # a BaseSegDataset subclass {cls_name!r} in mmseg's DATASETS registry",
             f"    # config: dataset=dict(type={cls_name!r}, data_root=..., reduce_zero_label=False, ...)",
             "",
             "label_map is what mmseg's LoadAnnotations applies (results['label_map']); set ignore_index="
             f"{ign} in the decode head's loss.",
             '"""', "",
             f"DATASET = {space!r}",
             f"SPACE = {target!r}  # the classes a model trains in",
             f"IGNORE_INDEX = {ign}",
             "",
             "METAINFO = dict(",
             "    classes=(",
             _py_list([repr(n) for n in names], " " * 8) + "    ),",
             "    palette=[",
             _py_list([_rgb(c) for c in cols], " " * 8) + "    ],",
             ")",
             ""]
    if fmap is not None:
        src = tax.names(space)
        lines += ["# the dataset's own classes (the ids in its label files)",
                  "SOURCE_METAINFO = dict(",
                  "    classes=(",
                  _py_list([repr(n) for n in src], " " * 8) + "    ),",
                  "    palette=[",
                  _py_list([_rgb(c) for c in pictures.palette(tax, space)], " " * 8) + "    ],",
                  ")",
                  "",
                  f"# {space} id -> universal id ({ign}: ignored)",
                  "label_map = {",
                  "".join(f"    {i}: {u},  # {src[i]!r} -> {names[u]!r}\n" if u != ign else
                          f"    {i}: {u},  # {src[i]!r} ignored\n" for i, u in enumerate(fmap)) + "}",
                  ""]
    else:
        lines += ["label_map = None", ""]
    lines += ["",
              f"def register(name={cls_name!r}):",
              '    """Register (once) and return a BaseSegDataset subclass with METAINFO and label_map. Imports mmseg."""',  # noqa: E501  (generated code)
              "    from mmseg.datasets import BaseSegDataset",
              "    from mmseg.registry import DATASETS",
              "",
              "    if name in DATASETS.module_dict:",
              "        return DATASETS.module_dict[name]",
              "",
              "    class _Dataset(BaseSegDataset):",
              "        METAINFO = globals()['METAINFO']",
              "",
              "        @classmethod",
              "        def get_label_map(cls, new_classes=None):",
              "            return None if label_map is None else dict(label_map)",
              "",
              "    _Dataset.__name__ = _Dataset.__qualname__ = name",
              "    DATASETS.register_module(name=name, module=_Dataset)",
              "    return _Dataset",
              ""]
    return "\n".join(lines).encode()


def render_detectron2(tax: unitax.Taxonomy, space: str) -> bytes:
    target, fmap = _target(tax, space)
    ign = tax.ignore_index(target)
    names, cols = tax.names(target), pictures.palette(tax, target)
    if fmap is None:
        d2c = {i: i for i in range(len(names))}
        about = f"its {len(names)} classes; label files hold these ids."
    else:
        d2c = {i: u for i, u in enumerate(fmap) if u != ign}
        about = (f"the {len(names)} universal classes it trains in. The ground-truth files register() reads must "
                 f"hold universal ids\n(`unitax remap-dir GT OUT --from {space} --to universal`); "
                 f"stuff_dataset_id_to_contiguous_id records the\nmapping ({space} id -> universal id; ignored ids "
                 "are left out, several ids may share one universal id).")
    src = tax.names(space)
    lines = [_header("detectron2", space, tax),
             f'"""detectron2 semantic-segmentation metadata of {space}: {about}',
             "",
             "    from this_module import register",
             f"    register('{space}_train', 'images/train', 'labels/train')   # then cfg.DATASETS.TRAIN = ('{space}_train',)",  # noqa: E501  (generated code)
             '"""', "",
             f"DATASET = {space!r}",
             f"SPACE = {target!r}  # the classes of stuff_classes",
             "",
             "stuff_classes = [",
             _py_list([repr(n) for n in names]) + "]",
             "",
             "stuff_colors = [",
             _py_list([_rgb(c) for c in cols]) + "]",
             "",
             "stuff_dataset_id_to_contiguous_id = {",
             "".join(f"    {i}: {c},  # {src[i]!r}\n" for i, c in d2c.items()) + "}",
             "",
             f"ignore_label = {ign}",
             "",
             "",
             "def register(name, image_root, gt_root, *, gt_ext='png', image_ext='jpg'):",
             '    """Register NAME in DatasetCatalog (detectron2\'s load_sem_seg over the two folders) and set its metadata.',  # noqa: E501  (generated code)
             "",
             "    Imports detectron2. Returns the Metadata.",
             '    """',
             "    from detectron2.data import DatasetCatalog, MetadataCatalog",
             "    from detectron2.data.datasets import load_sem_seg",
             "",
             "    DatasetCatalog.register(",
             "        name, lambda: load_sem_seg(gt_root, image_root, gt_ext=gt_ext, image_ext=image_ext))",
             "    meta = MetadataCatalog.get(name)",
             "    meta.set(",
             "        stuff_classes=list(stuff_classes),",
             "        stuff_colors=[list(c) for c in stuff_colors],",
             "        stuff_dataset_id_to_contiguous_id=dict(stuff_dataset_id_to_contiguous_id),",
             "        ignore_label=ignore_label,",
             "        image_root=image_root,",
             "        sem_seg_root=gt_root,",
             "        evaluator_type='sem_seg',",
             "    )",
             "    return meta",
             ""]
    return "\n".join(lines).encode()


def render_cityscapes(tax: unitax.Taxonomy, space: str) -> bytes:
    names = tax.names(space)
    fwd = to_universal(tax, space)
    u_ign = tax.ignore_index(UNIVERSAL)
    train = fwd if fwd is not None else list(range(len(names)))
    cats = categories(tax, space)
    order = ["void"] + [c for c in dict.fromkeys(cats) if c != "void"]
    cat_id = {c: i for i, c in enumerate(order)}
    cols = pictures.palette(tax, space)
    ign = tax.ignore_index(space)
    ign_name = "ignore" if "ignore" not in names else "ignore (unitax)"
    rows = [(n, i, t, c, cat_id[c], False, t == u_ign if fwd is not None else False, tuple(int(v) for v in cols[i]))
            for i, (n, t, c) in enumerate(zip(names, train, cats, strict=False))]
    rows.append((ign_name, ign, u_ign if fwd is not None else ign, "void", 0, False, True, (0, 0, 0)))
    trainid = ("the universal id the class trains as (255: ignored)" if fwd is not None
               else "the class's own id (the space is not mapped into universal)")
    w = max(len(repr(r[0])) for r in rows)
    wc = max(len(repr(r[3])) for r in rows)
    body = "".join(
        f"    Label(  {r[0]!r:<{w}} , {r[1]:>5} , {r[2]:>8} , {r[3]!r:<{wc}} , {r[4]:>5} , {r[5]!s:<12} , "
        f"{r[6]!s:<12} , ({r[7][0]:>3},{r[7][1]:>3},{r[7][2]:>3}) ),\n" for r in rows)
    head = (f"    #       {'name':<{w}}   {'id':>5}   {'trainId':>8}   {'category':<{wc}}   {'catId':>5}   "
            f"{'hasInstances':<12}   {'ignoreInEval':<12}   color\n")
    text = f'''{_header("cityscapes", space, tax)}"""Cityscapes-style labels of {space} (the layout of cityscapesScripts' helpers/labels.py).

id: the class id in {space}'s label files; the last row is its ignore value.
trainId: {trainid}.
category: the universal parent of the corresponding universal class (a class without a parent is
its own category; 'void': ignored on the way to universal; 'mixed': fed by several categories;
'unmapped': nothing relates the space to universal). categoryId numbers them, void = 0.
hasInstances: the taxonomy records no thing/stuff split, so False throughout.
"""

from collections import namedtuple

Label = namedtuple('Label', [
    'name',          # the class name
    'id',            # the id in the label files
    'trainId',       # {trainid}
    'category',      # the universal parent
    'categoryId',    # the category's id ("catId")
    'hasInstances',  # always False (no thing/stuff split in the taxonomy)
    'ignoreInEval',  # True where pixels of this class are not evaluated
    'color',         # (r, g, b)
])

labels = [
{head}{body}]

# name to label object
name2label = {{label.name: label for label in labels}}
# id to label object
id2label = {{label.id: label for label in labels}}
# trainId to label object
trainId2label = {{label.trainId: label for label in reversed(labels)}}
# category to list of label objects
category2labels = {{}}
for label in labels:
    category2labels.setdefault(label.category, []).append(label)
'''  # noqa: E501  (generated code)
    return text.encode()


FORMATS: dict[str, tuple[Callable[[unitax.Taxonomy, str], bytes], str]] = {
    "huggingface": (render_huggingface, "id2label/label2id JSON for a transformers config"),
    "mmsegmentation": (render_mmsegmentation, "Python: METAINFO, label_map, register()"),
    "detectron2": (render_detectron2, "Python: stuff_classes/colors, id map, ignore_label, register()"),
    "cityscapes": (render_cityscapes, "Python: a cityscapesScripts labels.py table"),
}


def render(tax: unitax.Taxonomy, fmt: str, space: str) -> bytes:
    """The bytes of ``fmt`` for ``space``; UnknownDatasetError for a space the build lacks."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    tax.names(space)  # raises UnknownDatasetError listing the spaces
    return FORMATS[fmt][0](tax, space)


# ----- writing ------------------------------------------------------------------------------


def written_by_export(path: Path) -> bool:
    """True if ``path`` holds a file ``unitax export`` wrote (its first line, or the JSON ``unitax`` key)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data.startswith(MARK_PY.encode()):
        return True
    try:
        doc = jsonio.loads(data, max_bytes=1 << 20)
    except ValueError:
        return False
    return (isinstance(doc, dict) and isinstance(doc.get("unitax"), dict)
            and str(doc["unitax"].get("written_by", "")).startswith("unitax export "))


def write(path: Path, data: bytes, *, force: bool = False) -> str:
    """Write ``data`` to ``path`` atomically; ``"wrote"`` or ``"unchanged"``.

    An existing file with the same bytes is left alone; one written by ``unitax export`` is
    replaced only with ``force``; any other existing file (or a folder, a link) is never replaced.
    """
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ExportError(f"{path}: exists and is not a plain file; not replaced")
    if path.exists():
        if path.read_bytes() == data:
            return "unchanged"
        if not written_by_export(path):
            raise ExportError(f"{path}: exists and was not written by `unitax export`; not replaced "
                              "(even with --force): remove it or choose another -o")
        if not force:
            raise ExportError(f"{path}: exists (an earlier export, now different); pass --force to replace it")
    if not path.parent.is_dir():
        raise ExportError(f"{path.parent}: no such folder")
    write_atomic(path, data, mode=0o644)
    return "wrote"
