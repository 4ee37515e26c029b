"""Hostile runtime inputs: odd dtypes, byte orders, NaN/inf at every entry point, bool, shapes,
torch tensors, and tampered builds (FIFOs, /dev/zero, links out, folders, huge manifests).

Every accepted input must give the answer of the plain numpy reference (``lut[label]``, a dense
matmul); every refused one a unitax error that says what is wrong.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from support.bundled import N_UNIVERSAL
from support.hostile import Case
from support.paths import GENERATED  # the frozen MSeg build (a product test never reads generated/)

import unitax
from unitax import IntegrityError, LabelError
from unitax.relabel import relabel_segments

TEST = "camvid-11"
TRAIN = "ade20k-150"


@functools.lru_cache(maxsize=1)
def tax() -> unitax.Taxonomy:
    return unitax.load()


def _no_torch() -> str | None:
    try:
        import torch  # noqa: F401
    except ImportError:
        return "torch is not installed"
    return None


def _nothing(_: Path) -> None:
    pass


def read_channel(test: str = TEST) -> int:
    """A universal channel that ``test`` reads (so a bad value there must be refused)."""
    return int(tax().groups(test)[1][0])


def scores(bad: float | None = None, channel: int | None = None, shape=(4, 5), dtype=np.float32, at=(1, 2)):
    x = np.random.default_rng(0).random((N_UNIVERSAL,) + shape).astype(dtype)
    if bad is not None:
        x[(read_channel() if channel is None else channel,) + at] = bad
    return x


def ref_to_test(x: np.ndarray, test: str = TEST, axis: int = 0) -> np.ndarray:
    m = tax().matrix(test).astype(np.float64)
    return np.moveaxis(np.tensordot(m, np.moveaxis(x.astype(np.float64), axis, 0), axes=1), 0, axis)


def ref_lut(label: np.ndarray, ds: str = TRAIN) -> np.ndarray:
    return tax().lut(ds)[np.asarray(label).astype(np.int64)]


def same(a: Any, b: np.ndarray) -> bool:
    a = a.numpy() if hasattr(a, "numpy") and not isinstance(a, np.ndarray) else np.asarray(a)
    return a.shape == b.shape and bool((a == b).all())


def close(a: Any, b: np.ndarray, tol: float = 1e-5) -> bool:
    if not isinstance(a, np.ndarray):
        a = a.float().numpy()
    return a.shape == b.shape and bool(np.allclose(a, b, atol=tol, rtol=tol))


def evaluate(pred: Any, gt: Any, dataset: str = TEST, **kw: Any) -> Any:
    ev = tax().evaluator(dataset)
    ev.update(pred, gt, **kw)
    return ev.result()


def nf(*more: str) -> tuple[str, ...]:
    return ("non-finite", "check_finite=False") + more


def _relabeled_big_endian():
    """relabel_segments with a big-endian segment map: (ids it did not find, the label it wrote)."""
    label = np.zeros((2, 2), np.uint8)
    missing = relabel_segments(label, np.array([[1, 2], [1, 0]], ">u4"), np.array([1], np.uint32),
                               np.array([3], np.uint8))
    return missing, label


def rt(name: str, klass: str, call, *, raises=None, expect=(), check=None, torch: bool = False) -> Case:
    return Case(name=f"runtime/{name}", klass=klass, setup=_nothing, call=lambda root: call(), raises=raises,
                expect=tuple(expect), check=check, skip_if=_no_torch if torch else None)


def t():
    import torch

    return torch


class _Device:
    """Route CPU tensors through the device (torch-op) path, as on CUDA."""

    def __enter__(self) -> None:
        import unitax.arrays as T

        T._force_device_path = True

    def __exit__(self, *a: Any) -> None:
        import unitax.arrays as T

        T._force_device_path = False


def on_device(f):
    def run():
        with _Device():
            return f()
    return run


U16 = np.array([[0, 5], [149, 255]], dtype=np.uint16)

CASES: list[Case] = [
    # ----- non-finite scores, every entry point ------------------------------------------------
    rt("nan-to-test", "non-finite", lambda: tax().to_test(scores(np.nan), TEST), raises=LabelError,
       expect=nf("1 non-finite", "(", "1, 2)")),
    rt("posinf-to-test", "non-finite", lambda: tax().to_test(scores(np.inf), TEST), raises=LabelError, expect=nf()),
    rt("neginf-probs-to-test", "non-finite", lambda: tax().to_test(scores(-np.inf), TEST), raises=LabelError,
       expect=nf()),
    rt("nan-logits-unread-channel", "non-finite",
       lambda: tax().to_test(scores(np.nan, channel=int(np.flatnonzero(~tax().matrix(TEST).any(0))[0])), TEST,
                             from_logits=True), raises=LabelError, expect=nf()),
    rt("neginf-logits-allowed", "non-finite",
       lambda: tax().to_test(scores(-np.inf), TEST, from_logits=True),
       check=lambda r: bool(np.isfinite(r).all())),
    rt("nan-to-test-labels", "non-finite", lambda: tax().to_test_labels(scores(np.nan), TEST), raises=LabelError,
       expect=nf()),
    rt("posinf-logits-to-test-labels", "non-finite",
       lambda: tax().to_test_labels(scores(np.inf), TEST, from_logits=True), raises=LabelError, expect=nf()),
    rt("nan-from-universal-backmap", "non-finite", lambda: tax().from_universal(scores(np.nan), TRAIN),
       raises=LabelError, expect=nf(TRAIN)),
    rt("nan-from-universal-test", "non-finite", lambda: tax().from_universal(scores(np.nan), TEST),
       raises=LabelError, expect=nf()),
    rt("nan-evaluator-update", "non-finite",
       lambda: evaluate(scores(np.nan), np.zeros((4, 5), np.uint8)), raises=LabelError, expect=nf()),
    rt("nan-evaluator-dataset-scores", "non-finite",
       lambda: evaluate(np.full((11, 2, 2), np.nan, np.float32), np.zeros((2, 2), np.uint8), pred_space="dataset"),
       raises=LabelError, expect=nf("4 non-finite", "(0, 0, 0)")),
    rt("nan-evaluator-opt-out", "non-finite",
       lambda: evaluate(scores(np.nan), np.zeros((4, 5), np.uint8), check_finite=False),
       check=lambda r: r.pixels == 20),
    rt("nan-to-test-opt-out", "non-finite", lambda: tax().to_test(scores(np.nan), TEST, check_finite=False),
       check=lambda r: bool(np.isnan(r).any())),
    rt("nan-count-and-first", "non-finite",
       lambda: tax().to_test(np.where(np.arange(5) >= 3, np.nan, scores()).astype(np.float32), TEST),
       raises=LabelError, expect=nf(", 0, 3)")),
    rt("inf-float16", "non-finite", lambda: tax().to_test_labels(scores(np.inf, dtype=np.float16), TEST),
       raises=LabelError, expect=nf()),
    rt("nan-channel-last", "non-finite",
       lambda: tax().to_test(np.moveaxis(scores(np.nan), 0, -1), TEST, axis=-1), raises=LabelError,
       expect=nf("(1, 2, ")),
    rt("nan-torch-cpu", "non-finite", lambda: tax().to_test(t().from_numpy(scores(np.nan)), TEST),
       raises=LabelError, expect=nf(), torch=True),
    rt("nan-torch-device-to-test", "non-finite",
       on_device(lambda: tax().to_test(t().from_numpy(scores(np.nan)), TEST)),
       raises=LabelError, expect=nf("1 non-finite", "1, 2)"), torch=True),
    rt("nan-torch-device-logits", "non-finite",
       on_device(lambda: tax().to_test_labels(t().from_numpy(scores(np.nan)), TEST, from_logits=True)),
       raises=LabelError, expect=nf(), torch=True),
    rt("nan-torch-device-opt-out", "non-finite",
       on_device(lambda: tax().to_test(t().from_numpy(scores(np.nan)), TEST, check_finite=False)),
       check=lambda r: bool(r.isnan().any()), torch=True),
    rt("nan-torch-module", "non-finite",
       lambda: tax().torch_module(TEST, from_logits=False, dim=0)(t().from_numpy(scores(np.nan))),
       raises=LabelError, expect=nf("1 non-finite", "1, 2)"), torch=True),
    rt("posinf-torch-module-logits", "non-finite",
       lambda: tax().torch_module(TEST, dim=0)(t().from_numpy(scores(np.inf, channel=0))),
       raises=LabelError, expect=nf("(0, 1, 2)"), torch=True),
    rt("torch-module-opt-out", "non-finite",
       lambda: tax().torch_module(TEST, dim=0, check_finite=False)(t().from_numpy(scores(np.nan))),
       check=lambda r: bool(r.isnan().any()), torch=True),
    # ----- byte order --------------------------------------------------------------------------
    rt("be-u2-to-universal", "byte-order", lambda: tax().to_universal(U16.astype(">u2"), TRAIN),
       check=lambda r: same(r, ref_lut(U16))),
    rt("be-i4-to-universal", "byte-order", lambda: tax().to_universal(U16.astype(">i4"), TRAIN),
       check=lambda r: same(r, ref_lut(U16))),
    rt("be-u2-invalid-refused", "byte-order", lambda: tax().to_universal(np.array([150], ">u2"), TRAIN),
       raises=LabelError, expect=("150",)),
    rt("be-u2-invalid-ignored", "byte-order",
       lambda: tax().to_universal(np.array([150, 3], ">u2"), TRAIN, out_of_range="ignore"),
       check=lambda r: same(r, np.array([255, tax().lut(TRAIN)[3]], np.uint8))),
    rt("be-i4-negative-refused", "byte-order", lambda: tax().to_universal(np.array([-1], ">i4"), TRAIN),
       raises=LabelError, expect=("-1",)),
    rt("be-i8-test-labels", "byte-order",
       lambda: tax().to_test_labels(np.array([0, 1, 193, 255], ">i8"), TEST),
       check=lambda r: same(r, tax().test_lut(TEST)[[0, 1, 193, 255]])),
    rt("be-u2-remap", "byte-order",
       lambda: tax().remap(np.array([0, 7, 33], ">u2"), "cityscapes-34", "cityscapes-19"),
       check=lambda r: same(r, tax().remap_lut("cityscapes-34", "cityscapes-19")[[0, 7, 33]])),
    rt("be-u2-evaluator", "byte-order",
       lambda: evaluate(np.array([0, 1, 2], ">u2"), np.array([0, 1, 255], ">u2")).pixels,
       check=lambda r: r == 2),
    rt("be-f4-scores", "byte-order", lambda: tax().to_test(scores().astype(">f4"), TEST),
       check=lambda r: close(r, ref_to_test(scores()))),
    # ----- dtypes, bool, shapes and layouts ----------------------------------------------------
    rt("bool-to-universal", "dtype", lambda: tax().to_universal(np.ones((2, 2), bool), TRAIN),
       raises=LabelError, expect=("bool",)),
    rt("bool-evaluator-gt", "dtype", lambda: evaluate(np.ones(3, np.uint8), np.ones(3, bool)),
       raises=LabelError, expect=("bool",)),
    rt("bool-evaluator-pred", "dtype", lambda: evaluate(np.ones(3, bool), np.ones(3, np.uint8)),
       raises=LabelError, expect=("bool",)),
    rt("bool-to-test-labels", "dtype", lambda: tax().to_test_labels(np.ones(3, bool), TEST),
       raises=LabelError, expect=("bool",)),
    rt("bool-from-universal", "dtype", lambda: tax().from_universal(np.ones(3, bool), TRAIN),
       raises=LabelError, expect=("bool",)),
    rt("float-labels", "dtype", lambda: tax().to_universal(np.array([1.0, 2.0]), TRAIN),
       raises=LabelError, expect=("integer", "float64")),
    rt("complex-scores", "dtype", lambda: tax().to_test_labels(np.ones((N_UNIVERSAL, 2), complex), TEST),
       raises=LabelError, expect=("float", "complex")),
    rt("str-labels", "dtype", lambda: tax().to_universal(np.array(["1"]), TRAIN), raises=LabelError,
       expect=("integer",)),
    rt("object-labels", "dtype", lambda: tax().to_universal(np.array([1, None]), TRAIN), raises=LabelError,
       expect=("object",)),
    rt("ragged-list", "dtype", lambda: tax().to_universal([[1, 2], [3]], TRAIN), raises=LabelError),
    rt("zero-d-label", "shape", lambda: tax().to_universal(np.uint8(3), TRAIN),
       check=lambda r: same(r, ref_lut(np.uint8(3)))),
    rt("empty-label", "shape", lambda: tax().to_universal(np.zeros((0, 7), np.uint16), TRAIN),
       check=lambda r: r.shape == (0, 7)),
    rt("empty-scores", "shape", lambda: tax().to_test_labels(np.zeros((N_UNIVERSAL, 0, 3), np.float32), TEST),
       check=lambda r: r.shape == (0, 3)),
    rt("negative-strides", "shape",
       lambda: tax().to_universal(np.arange(300, dtype=np.uint16).reshape(20, 15)[::-2, ::-3] % 150, TRAIN),
       check=lambda r: same(r, ref_lut(np.arange(300).reshape(20, 15)[::-2, ::-3] % 150))),
    rt("fortran-scores", "shape", lambda: tax().to_test(np.asfortranarray(scores()), TEST),
       check=lambda r: close(r, ref_to_test(scores()))),
    rt("read-only-label", "shape",
       lambda: tax().to_universal(np.broadcast_to(np.uint8(7), (3, 4)), TRAIN),
       check=lambda r: same(r, np.full((3, 4), tax().lut(TRAIN)[7]))),
    rt("axis-not-int", "shape", lambda: tax().to_test(scores(), TEST, axis=0.5), raises=LabelError,
       expect=("axis",)),
    rt("wrong-channel-count", "shape", lambda: tax().to_test(np.zeros((19, 2), np.float32), TEST),
       raises=LabelError, expect=("19 channels", str(N_UNIVERSAL))),
    Case(name="runtime/memmap-read-only-label", klass="shape",
         setup=lambda root: np.save(root / "l.npy", (np.arange(60, dtype=np.uint16) % 150).reshape(6, 10)),
         call=lambda root: tax().to_universal(np.load(root / "l.npy", mmap_mode="r"), TRAIN),
         check=lambda r: same(r, ref_lut((np.arange(60) % 150).reshape(6, 10)))),
    Case(name="runtime/memmap-big-endian-scores", klass="byte-order",
         setup=lambda root: np.save(root / "s.npy", scores().astype(">f4")),
         call=lambda root: tax().to_test_labels(np.load(root / "s.npy", mmap_mode="r"), TEST),
         check=lambda r: same(r, tax().to_test_labels(scores(), TEST))),
    rt("relabel-bool-segment-map", "dtype",
       lambda: relabel_segments(np.zeros((2, 2), np.uint8), np.ones((2, 2), bool), np.array([1]), np.array([3])),
       raises=LabelError, expect=("segment map", "bool")),
    rt("relabel-float-label", "dtype",
       lambda: relabel_segments(np.zeros((2, 2)), np.ones((2, 2), np.uint32), np.array([1]), np.array([3])),
       raises=LabelError, expect=("label", "integer")),
    rt("relabel-big-endian-segments", "byte-order",
       lambda: _relabeled_big_endian(),
       check=lambda r: r[0].size == 0 and r[1].tolist() == [[3, 0], [3, 0]]),
    # ----- torch ------------------------------------------------------------------------------
    rt("torch-out-ndarray", "torch",
       lambda: tax().to_universal(t().zeros(3, dtype=t().uint8), TRAIN, out=np.empty(3, np.uint8)),
       raises=LabelError, expect=("out=", "tensor"), torch=True),
    rt("numpy-in-tensor-out", "torch",
       lambda: tax().to_test(scores(), TEST, out=t().empty(11, 4, 5)), raises=LabelError,
       expect=("out= must be a numpy array", "torch"), torch=True),
    rt("torch-0d", "torch", lambda: tax().to_universal(t().tensor(3, dtype=t().uint8), TRAIN),
       check=lambda r: tuple(r.shape) == () and int(r) == int(tax().lut(TRAIN)[3]), torch=True),
    rt("torch-device-0d", "torch", on_device(lambda: tax().to_universal(t().tensor(3, dtype=t().uint8), TRAIN)),
       check=lambda r: tuple(r.shape) == () and int(r) == int(tax().lut(TRAIN)[3]), torch=True),
    rt("torch-bfloat16", "torch",
       lambda: tax().to_test(t().from_numpy(scores()).to(t().bfloat16), TEST),
       check=lambda r: str(r.dtype) == "torch.bfloat16" and close(r, ref_to_test(scores()), 0.05), torch=True),
    rt("torch-device-bfloat16", "torch",
       on_device(lambda: tax().to_test(t().from_numpy(scores()).to(t().bfloat16), TEST)),
       check=lambda r: str(r.dtype) == "torch.bfloat16" and close(r, ref_to_test(scores()), 0.05), torch=True),
    rt("torch-float16-labels", "torch",
       lambda: tax().to_test_labels(t().from_numpy(scores()).half(), TEST),
       check=lambda r: (r.numpy() == tax().to_test_labels(scores().astype(np.float16), TEST)).all(), torch=True),
    rt("torch-bool-device", "torch", on_device(lambda: tax().to_universal(t().ones(3, dtype=t().bool), TRAIN)),
       raises=LabelError, expect=("bool",), torch=True),
    rt("torch-device-alternating-datasets", "torch",
       on_device(lambda: all(
           close(tax().to_test(t().from_numpy(scores()), ds), ref_to_test(scores(), ds))
           for _ in range(3) for ds in tax().test_datasets)),
       check=lambda r: r is True, torch=True),
]


# ----- tampered builds -----------------------------------------------------------------------

TABLE = "tables/to_universal/cityscapes-19.npy"


def copy_build(root: Path) -> Path:
    b = root / "build"
    b.mkdir()
    for f in ("manifest.json", "taxonomy.json", "relabel.json"):
        shutil.copy2(GENERATED / f, b / f)
    shutil.copytree(GENERATED / "tables", b / "tables")
    return b


def tampered(name: str, tamper, expect: tuple[str, ...], *, skip_if=None) -> Case:
    def setup(root: Path) -> None:
        tamper(copy_build(root))

    return Case(name=f"runtime/build-{name}", klass="special-file", setup=setup,
                call=lambda root: unitax.load(root / "build"), raises=IntegrityError, expect=expect, skip_if=skip_if)


def _replace(p: Path, make) -> None:
    p.unlink()
    make(p)


def _huge(p: Path, size: int) -> None:
    with open(p, "wb") as f:
        f.truncate(size)  # sparse: no disk used


def _nested(p: Path) -> None:
    p.write_text("[" * 200000 + "]" * 200000)


def _swap(b: Path) -> None:
    a, c = b / TABLE, b / "tables/to_universal/ade20k-150.npy"
    tmp = b / "swap.tmp"
    a.rename(tmp)
    c.rename(a)
    tmp.rename(c)


def _manifest_lie(b: Path) -> None:
    m = json.loads((b / "manifest.json").read_text())
    m["files"][TABLE]["bytes"] = 1 << 40
    (b / "manifest.json").write_text(json.dumps(m))


def _outside(b: Path) -> None:
    outside = b.parent / "outside.npy"
    shutil.copy2(b / TABLE, outside)
    _replace(b / TABLE, lambda p: p.symlink_to(outside))


def _no_dev_zero() -> str | None:
    return None if os.path.exists("/dev/zero") else "no /dev/zero"


CASES += [
    tampered("table-fifo", lambda b: _replace(b / TABLE, os.mkfifo), ("{tmp}/build/" + TABLE, "FIFO")),
    tampered("manifest-fifo", lambda b: _replace(b / "manifest.json", os.mkfifo),
             ("{tmp}/build/manifest.json", "FIFO")),
    tampered("taxonomy-fifo", lambda b: _replace(b / "taxonomy.json", os.mkfifo),
             ("{tmp}/build/taxonomy.json",)),
    tampered("table-dev-zero", lambda b: _replace(b / TABLE, lambda p: p.symlink_to("/dev/zero")),
             ("{tmp}/build/" + TABLE, "outside the build"), skip_if=_no_dev_zero),
    tampered("manifest-dev-zero", lambda b: _replace(b / "manifest.json", lambda p: p.symlink_to("/dev/zero")),
             ("{tmp}/build/manifest.json",), skip_if=_no_dev_zero),
    tampered("table-link-outside", _outside, ("{tmp}/build/" + TABLE, "outside the build")),
    tampered("table-link-inside-other", lambda b: _replace(
        b / TABLE, lambda p: p.symlink_to(b / "tables/to_universal/ade20k-150.npy")), ("{tmp}/build/" + TABLE,)),
    tampered("table-directory", lambda b: _replace(b / TABLE, os.mkdir), ("{tmp}/build/" + TABLE, "folder")),
    tampered("manifest-directory", lambda b: _replace(b / "manifest.json", os.mkdir),
             ("{tmp}/build/manifest.json", "folder")),
    tampered("table-truncated", lambda b: (b / TABLE).write_bytes((b / TABLE).read_bytes()[:100]),
             ("{tmp}/build/" + TABLE, "100 bytes")),
    tampered("table-huge-sparse", lambda b: _huge(b / TABLE, 1 << 20), ("{tmp}/build/" + TABLE, "bytes")),
    tampered("tables-swapped", _swap, ("{tmp}/build/", "sha256 differs from the manifest")),
    tampered("manifest-huge", lambda b: _huge(b / "manifest.json", (16 << 20) + 1),
             ("{tmp}/build/manifest.json", "manifest")),
    tampered("manifest-deeply-nested", lambda b: _nested(b / "manifest.json"), ("{tmp}/build/manifest.json",)),
    tampered("taxonomy-deeply-nested", lambda b: _nested(b / "taxonomy.json"), ("{tmp}/build/taxonomy.json",)),
    tampered("manifest-size-lie", _manifest_lie, ("{tmp}/build/" + TABLE, "bytes")),
]
