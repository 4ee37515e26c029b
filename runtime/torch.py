"""``unitax.torch``: training losses over union-labelled datasets (imports torch; ``import unitax`` never does).

    import unitax.torch as ut
    loss = ut.union_nll(logits, label, "ade20k-150-unions")   # logits (N, U, ...), label (N, ...)

``union_nll`` is -log of the softmax probability summed over the universal classes of each pixel's
label class (its set in ``tax.class_sets(dataset)``): the partial-label loss of Bevandić et al.
For a one-to-one mapping every set has one class and the loss is ``F.cross_entropy`` on
``tax.to_universal(label)``.

Memory: a custom autograd function. The forward pass keeps no (N, U, ...) tensor of its own (it
saves the logits, which autograd holds anyway, two (N, ...) log-sum-exps and the label); the
covered channels are gathered per pixel into (N, M, ...) with M the largest set (12 of 194 for
ade20k-150-unions), masked with -inf where a set is smaller. The backward pass writes the
gradient softmax - q (q: the softmax restricted to the set) into one (N, U, ...) tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .errors import LabelError
from .finite import message
from .torch_support import check_finite as finite_on_device
from .torch_support import check_labels, device_table

__all__ = ["union_nll", "set_tables"]


def set_tables(sets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(idx, ok): (K + 1, M) int64 channel ids of each class's set padded with its first member (or
    0), and a bool mask of the real entries; row K (ignore) is empty. M = the largest set (>= 1)."""
    k = sets.shape[0]
    m = max(1, int(sets.sum(axis=1).max(initial=0)))
    idx = np.zeros((k + 1, m), dtype=np.int64)
    ok = np.zeros((k + 1, m), dtype=np.bool_)
    for r in range(k):
        members = np.flatnonzero(sets[r])
        if members.size:
            idx[r, :] = members[0]
            idx[r, : members.size] = members
            ok[r, : members.size] = True
    return idx, ok


def _gather_set(logits: torch.Tensor, idx: torch.Tensor, ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked covered logits (N, M, ...), their log-sum-exp (N, ...), 0 where the set is empty)."""
    g = logits.gather(1, idx).masked_fill_(~ok, float("-inf"))
    lse = torch.logsumexp(g, dim=1)
    return g, torch.where(ok[:, 0], lse, torch.zeros_like(lse))


class _UnionNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, rows: torch.Tensor, idx_t: torch.Tensor,
                ok_t: torch.Tensor) -> torch.Tensor:
        idx = idx_t[rows].movedim(-1, 1)  # (N, M, ...)
        ok = ok_t[rows].movedim(-1, 1)
        _, lse_set = _gather_set(logits, idx, ok)
        lse_all = torch.logsumexp(logits, dim=1)
        valid = ok[:, 0]
        ctx.save_for_backward(logits, rows, idx_t, ok_t, lse_all, lse_set)
        return torch.where(valid, lse_all - lse_set, torch.zeros_like(lse_all))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        logits, rows, idx_t, ok_t, lse_all, lse_set = ctx.saved_tensors
        idx = idx_t[rows].movedim(-1, 1)
        ok = ok_t[rows].movedim(-1, 1)
        g, _ = _gather_set(logits, idx, ok)
        q = g.sub_(lse_set.unsqueeze(1)).exp_()  # softmax within the set (0 on padding and empty sets)
        out = logits.detach().sub(lse_all.unsqueeze(1)).exp_()  # softmax over all classes
        out.scatter_add_(1, idx, q.neg_())
        scale = torch.where(ok[:, 0], grad, torch.zeros_like(grad))
        out.mul_(scale.unsqueeze(1).to(out.dtype))
        return out, None, None, None


# torch declares Function.apply without annotations; this typed name for it is what union_nll calls
_union_nll_apply: Callable[..., torch.Tensor] = _UnionNLL.apply

_default: list[Any] = []


def union_nll(logits: torch.Tensor, label: torch.Tensor, dataset: str, ignore_index: int = -100,
              reduction: str = "mean", *, taxonomy: Any = None, check_finite: bool = True) -> torch.Tensor:
    """-log Σ_{u ∈ S(label)} softmax(logits)_u per pixel, reduced like ``F.cross_entropy``.

    Args:
        logits: (N, U) or (N, U, d1, ...) universal logits (U = the number of universal classes).
        label: (N,) or (N, d1, ...) integer ``dataset`` ids. Pixels holding ``ignore_index``
            (default -100, as ``F.cross_entropy``) or the dataset's own ignore id (255, or 65535 for
            uint16 label spaces), and classes whose set is empty (ignored on the way to universal),
            contribute nothing.
        dataset: a train dataset (one-to-one or union mapping to universal).
        reduction: "mean" (over contributing pixels; nan when there are none, as cross_entropy),
            "sum" or "none" (per pixel, 0 where ignored).
        taxonomy: a loaded :class:`unitax.Taxonomy` (default: ``unitax.load()``, loaded once).
        check_finite: raise LabelError where a logit is NaN or +inf (-inf, a masked class, is
            allowed), as every unitax call that takes scores; one fused pass on the device.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    tax = taxonomy
    if tax is None:
        if not _default:
            from . import load

            _default.append(load())
        tax = _default[0]
    sets = tax.class_sets(dataset)
    k, u = sets.shape
    if logits.dim() < 2 or logits.shape[1] != u:
        raise LabelError(f"expected logits (N, {u}, ...) with {u} universal channels on dim 1, "
                         f"got {tuple(logits.shape)}")
    if label.shape != logits.shape[:1] + logits.shape[2:]:
        raise LabelError(f"label of shape {tuple(label.shape)} does not match logits {tuple(logits.shape)} "
                         "(expected (N, ...) without the channel dim)")
    ignore = tax.ignore_index(dataset)
    label = check_labels(label, k, ignore, dataset, "raise", also_ignore=ignore_index)
    if check_finite:
        names = tax.universal_names

        def fail(count: int, pos: tuple[int, ...], value: float, channel: int) -> None:
            raise LabelError(message(count, pos, value, channel, names, dataset))

        finite_on_device(logits.detach(), 1, None, True, fail)
    cache = tax._device_cache
    key = f"class_sets/{dataset}"
    # built only when a device has no copy yet (set_tables loops over the classes in Python)
    idx_t = device_table(cache, (key, "union_idx"), lambda: set_tables(sets)[0], logits.device)
    ok_t = device_table(cache, (key, "union_ok"), lambda: set_tables(sets)[1], logits.device)
    skip = label == ignore
    if ignore_index != ignore:
        skip |= label == ignore_index
    rows = torch.where(skip, k, label.long())
    loss = _union_nll_apply(logits, rows, idx_t, ok_t)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    n = ok_t[:, 0][rows].sum()
    return loss.sum() / n
