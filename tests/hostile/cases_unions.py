"""Hostile inputs to the union helpers (issue 20, class 8): non-finite scores and the ignore ids.

``union_accuracy`` takes scores (argmax along ``axis``): NaN or +inf there must be refused as by
every other call that takes scores (one check, :mod:`unitax.finite`), -inf logits accepted.
``union_nll`` must skip the pixels it is told to skip: ``ignore_index=-100`` (torch's
``cross_entropy`` default) as well as the dataset's own ignore id, and refuse non-finite logits.

The cases run on a small union taxonomy of their own (compiled once per session into a
temporary folder), not on the bundled one.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from support.hostile import Case
from support.union_city import UNIVERSAL, write_specs

import unitax
from unitax import LabelError
from unitax.compiler import build


@functools.lru_cache(maxsize=1)
def tax() -> unitax.Taxonomy:
    """The small union taxonomy, compiled once into a temporary folder (removed at exit)."""
    tmp = Path(tempfile.mkdtemp(prefix="unitax-hostile-unions-"))
    atexit.register(shutil.rmtree, tmp, True)
    specs = write_specs(tmp / "specs")
    build.compile_taxonomy(specs, tmp / "out")
    return unitax.load(tmp / "out")


def _nothing(_: Path) -> None:
    pass


def _no_torch() -> str | None:
    try:
        import torch  # noqa: F401
    except ImportError:
        return "torch is not installed"
    return None


def u(name: str) -> int:
    return UNIVERSAL.index(name)


# a 2x3 label map: road, vehicle, animal / animal, sky (ignored class), 255 (ignore)
LABEL = np.array([[0, 1, 2], [2, 3, 255]], np.uint8)


def scores(bad: float | None = None, at: tuple[int, ...] = (u("dog"), 0, 2)) -> np.ndarray:
    """(U, 2, 3) scores whose argmax is right on road, vehicle and the first animal pixel, wrong
    (person) on the second animal pixel; ``bad`` written at ``at``."""
    x = np.zeros((len(UNIVERSAL), 2, 3), np.float32)
    x[u("road"), 0, 0] = x[u("car"), 0, 1] = x[u("cat"), 0, 2] = x[u("person"), 1, 0] = 5.0
    if bad is not None:
        x[at] = bad
    return x


def acc(x: np.ndarray, label: np.ndarray = LABEL, **kw: Any) -> Any:
    return tax().union_accuracy(x, label, "city", axis=kw.pop("axis", 0), **kw)


def nf(*more: str) -> tuple[str, ...]:
    return ("non-finite", "check_finite=False") + more


def rt(name: str, klass: str, call: Any, *, raises: type[BaseException] | None = None, expect: tuple[str, ...] = (),
       check: Any = None, torch: bool = False) -> Case:
    return Case(name=f"unions/{name}", klass=klass, setup=_nothing, call=lambda root: call(), raises=raises,
                expect=expect, check=check, skip_if=_no_torch if torch else None)


def _score_is(correct: list[int], total: list[int]):
    return lambda r: list(r.correct) == correct and list(r.total) == total


# ----- union_nll ---------------------------------------------------------------------------------

def _logits(seed: int = 0, bad: float | None = None) -> Any:
    import torch

    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((2, len(UNIVERSAL), 2, 3)).astype(np.float32))
    if bad is not None:
        x[1, u("cat"), 0, 2] = bad
    return x


def _nll(label: np.ndarray, bad: float | None = None, **kw: Any) -> Any:
    import torch

    from unitax.torch import union_nll

    return union_nll(_logits(bad=bad), torch.from_numpy(label), "city", taxonomy=tax(), **kw)


def _tensor(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(x)


BATCH = np.stack([LABEL, LABEL]).astype(np.int64)  # (2, 2, 3)
MINUS = BATCH.copy()
MINUS[0, 0, 0] = MINUS[1, 0, 1] = -100  # two pixels the caller marks with cross_entropy's ignore


def _skipped_like_ignore(kw: dict[str, Any]) -> Any:
    """union_nll on MINUS (with ``kw``) equals union_nll where those pixels hold the dataset's ignore."""
    def check(_: Any) -> bool:
        same_as = BATCH.copy()
        same_as[MINUS == -100] = 255
        ok = True
        for reduction in ("none", "sum", "mean"):
            a = _nll(MINUS, reduction=reduction, **kw)
            b = _nll(same_as, reduction=reduction)
            ok = ok and bool(np.allclose(a.numpy(), b.numpy())) and bool(np.isfinite(a.numpy()).all())
        none = _nll(MINUS, reduction="none", **kw).numpy()
        return ok and bool((none[MINUS == -100] == 0).all()) and bool((none[(MINUS >= 0) & (MINUS < 3)] > 0).all())
    return check


CASES: list[Case] = [
    # ----- union_accuracy: the shared non-finite check -------------------------------------------
    rt("accuracy-good-scores", "non-finite", lambda: acc(scores()), check=_score_is([1, 1, 1, 0], [1, 1, 2, 0])),
    rt("accuracy-nan-refused", "non-finite", lambda: acc(scores(np.nan)), raises=LabelError,
       expect=nf("1 non-finite", "the channels city reads", "(5, 0, 2)", "'dog'")),
    rt("accuracy-all-nan-refused", "non-finite", lambda: acc(np.full((7, 2, 3), np.nan, np.float32)),
       raises=LabelError, expect=nf("42 non-finite", "(0, 0, 0)")),
    rt("accuracy-posinf-refused", "non-finite", lambda: acc(scores(np.inf)), raises=LabelError, expect=nf()),
    rt("accuracy-nan-float16", "non-finite", lambda: acc(scores(np.nan).astype(np.float16)), raises=LabelError,
       expect=nf()),
    rt("accuracy-nan-channel-last", "non-finite",
       lambda: acc(np.moveaxis(scores(np.nan), 0, -1), axis=-1), raises=LabelError, expect=nf("(0, 2, 5)")),
    rt("accuracy-neginf-logits-allowed", "non-finite", lambda: acc(scores(-np.inf, at=(u("tree"), 1, 1))),
       check=_score_is([1, 1, 1, 0], [1, 1, 2, 0])),
    rt("accuracy-nan-opt-out", "non-finite", lambda: acc(scores(np.nan, at=(u("sky"), 1, 2)), check_finite=False),
       check=_score_is([1, 1, 1, 0], [1, 1, 2, 0])),
    rt("accuracy-nan-torch-cpu", "non-finite",
       lambda: acc(_tensor(scores(np.nan))), raises=LabelError, expect=nf(), torch=True),
    # ----- the ignore ids: -100 as cross_entropy, and the dataset's own ----------------------------
    rt("accuracy-ignore-index-minus-100", "union-ignore",
       lambda: acc(scores(), np.where(LABEL == 1, -100, LABEL.astype(np.int16)), ignore_index=-100),
       check=_score_is([1, 0, 1, 0], [1, 0, 2, 0])),
    rt("accuracy-minus-100-without-ignore-index-refused", "union-ignore",
       lambda: acc(scores(), np.where(LABEL == 1, -100, LABEL.astype(np.int16))), raises=LabelError,
       expect=("outside city's ids", "-100")),
    rt("partial-targets-ignore-index", "union-ignore",
       lambda: tax().partial_targets(np.array([[-100, 2, 255]], np.int32), "city", ignore_index=-100),
       check=lambda r: r.shape == (1, 3, 7) and not r[0, 0].any() and not r[0, 2].any()
       and list(np.flatnonzero(r[0, 1])) == [u("dog"), u("cat")]),
    rt("nll-minus-100-default", "union-ignore", lambda: None, check=_skipped_like_ignore({}), torch=True),
    rt("nll-minus-100-explicit", "union-ignore", lambda: None, check=_skipped_like_ignore({"ignore_index": -100}),
       torch=True),
    rt("nll-other-ignore-index", "union-ignore",
       lambda: _nll(np.where(MINUS == -100, 7, MINUS), ignore_index=7, reduction="none"),
       check=lambda r: bool((r.numpy()[MINUS == -100] == 0).all()) and bool(np.isfinite(r.numpy()).all())),
    rt("nll-minus-100-not-named-refused", "union-ignore", lambda: _nll(MINUS, ignore_index=255), raises=LabelError,
       expect=("outside city's ids", "-100")),
    rt("nll-out-of-range-refused", "union-ignore", lambda: _nll(np.where(MINUS == -100, 9, MINUS)),
       raises=LabelError, expect=("outside city's ids", "9", "-100")),
    # ----- union_nll: non-finite logits -----------------------------------------------------------
    rt("nll-nan-logits-refused", "non-finite",
       lambda: _nll(BATCH, bad=np.nan),
       raises=LabelError, expect=nf("1 non-finite", "(1, 6, 0, 2)", "'cat'"), torch=True),
    rt("nll-neginf-logit-allowed", "non-finite",
       lambda: _nll(BATCH, bad=-np.inf),
       check=lambda r: bool(r.isfinite()), torch=True),
]
