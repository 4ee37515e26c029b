"""Runtime: PyTorch paths, imported only when a caller hands unitax a tensor or asks for a module.

CPU tensors go through the numpy kernels of :mod:`unitax.kernels` without copies (``Tensor.numpy()``
shares memory); tensors on other devices (CUDA) are remapped there with torch ops, so data never
leaves the device. Nothing here is imported by ``import unitax``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .errors import LabelError
from .finite import message


def device_table(cache: dict[Any, Any], key: tuple[Any, ...], make: Any, device: torch.device,
                 dtype: torch.dtype | None = None) -> torch.Tensor:
    """A cached copy on ``device`` of the array ``make()`` returns, cached under what it is.

    ``cache`` belongs to one loaded taxonomy and ``key`` names the table (e.g.
    ``("matrix/camvid-11", "used")``), so two tables never share an entry (keys by ``id()`` of
    temporary arrays did: CPython reuses ids, and another dataset's table came back).
    """
    k = key + (str(device), str(dtype))
    t = cache.get(k)
    if t is None:
        t = torch.from_numpy(np.array(make())).to(device=device, dtype=dtype)
        cache[k] = t
    return t


def check_labels(label: torch.Tensor, n: int, ignore: int, space: str, out_of_range: str,
                 also_ignore: int | None = None) -> torch.Tensor:
    """Refuse (or send to ignore) values that are not ids of ``space``; one pass on the device.

    ``ignore`` (and ``also_ignore`` where given, e.g. -100 for a loss) are skipped, not refused.
    """
    if label.dtype.is_floating_point or label.dtype.is_complex or label.dtype == torch.bool:
        raise LabelError(f"{space} labels must be an integer tensor, got {label.dtype}")
    bad_mask = (label < 0) | ((label >= n) & (label != ignore)) if label.dtype != torch.uint8 else \
        ((label >= n) & (label != ignore))
    if also_ignore is not None and also_ignore != ignore:
        bad_mask &= label != also_ignore
    if bool(bad_mask.any()):
        if out_of_range != "ignore":
            bad = torch.unique(label[bad_mask]).tolist()
            shown = ", ".join(str(v) for v in bad[:20]) + (" ..." if len(bad) > 20 else "")
            also = f", {also_ignore}" if also_ignore is not None and also_ignore != ignore else ""
            raise LabelError(f"label values outside {space}'s ids 0..{n - 1} (and ignore {ignore}{also}): {shown}; "
                             "pass out_of_range='ignore' to send them to ignore")
        label = torch.where(bad_mask, torch.full_like(label, ignore), label)
    return label


def apply_lut(label: torch.Tensor, lut: np.ndarray, cache: dict[Any, Any], key: str) -> torch.Tensor:
    """``lut[label]`` on label's device, int32 indices (not int64) where the device needs indices at all."""
    table = device_table(cache, (key, "lut"), lambda: lut, label.device,
                         torch.uint8 if lut.dtype == np.uint8 else torch.int32)
    idx = label.to(torch.int32) if label.dtype != torch.int64 else label
    out = table[idx]
    return out if lut.dtype == np.uint8 else out.to(torch.int32)


def check_finite(x: torch.Tensor, axis: int, used: torch.Tensor | None, logits: bool, fail: Any) -> None:
    """Call ``fail(count, first index, its value, channel)`` where the channels ``used`` of ``x`` (None: all
    of them, read in place without a copy) hold values the policy of :mod:`unitax.finite` refuses.

    The same policy as ``finite.bad_values``, with torch ops on x's device: one fused pass.
    """
    if fail is None or x.numel() == 0:
        return
    sub = x if used is None else x.index_select(axis, used)
    bad = (torch.isnan(sub) | torch.isposinf(sub)) if logits else ~torch.isfinite(sub)
    if not bool(bad.any()):
        return
    if used is None:
        mask = bad
    else:
        mask = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
        mask.index_copy_(axis, used, bad)
    first = tuple(int(i) for i in mask.nonzero()[0].tolist())
    fail(int(mask.sum()), first, float(x[first]), first[axis])


def _used(matrix: np.ndarray) -> np.ndarray:
    return np.flatnonzero(matrix.any(axis=0)).astype(np.int64)


def scores_to_test(x: torch.Tensor, matrix: np.ndarray, axis: int, from_logits: bool, cache: dict[Any, Any], key: str,
                   fail: Any = None) -> torch.Tensor:
    """Sum universal scores (or softmax of logits) into test classes along ``axis``, on x's device."""
    idx = device_table(cache, (key, "used"), lambda: _used(matrix), x.device)
    if from_logits:
        check_finite(x, axis, None, True, fail)  # every channel feeds the softmax
        x = torch.softmax(x, dim=axis)
    else:
        check_finite(x, axis, idx, False, fail)
    sub = x.index_select(axis, idx)
    m = device_table(cache, (key, "weights"), lambda: np.ascontiguousarray(matrix[:, _used(matrix)]), x.device, x.dtype)
    moved = sub.movedim(axis, -1)
    return torch.matmul(moved, m.T).movedim(-1, axis)


def labels_from_scores(x: torch.Tensor, matrix: np.ndarray, axis: int, from_logits: bool, cache: dict[Any, Any],
                       key: str, fail: Any = None) -> torch.Tensor:
    """argmax over test classes of the summed scores; with logits only the feeding channels are read."""
    idx = device_table(cache, (key, "used"), lambda: _used(matrix), x.device)
    check_finite(x, axis, idx, from_logits, fail)
    sub = x.index_select(axis, idx)
    if from_logits:  # softmax's denominator cancels in the argmax
        sub = torch.exp(sub - sub.amax(dim=axis, keepdim=True))
    m = device_table(cache, (key, "weights"), lambda: np.ascontiguousarray(matrix[:, _used(matrix)]), x.device, x.dtype)
    scores = torch.matmul(sub.movedim(axis, -1), m.T)
    out = scores.argmax(dim=-1)
    return out.to(torch.uint8 if matrix.shape[0] < 255 else torch.int32)


class ToTest(torch.nn.Module):
    """Maps universal logits or probabilities (N, U, ...) to test-class scores (N, T, ...).

    The binary matrix is a buffer, not a parameter: it moves with ``.to(device)`` and is saved
    in ``state_dict`` but never trained.
    """

    used: torch.Tensor  # buffers (registered in __init__)
    weight: torch.Tensor

    def __init__(self, matrix: np.ndarray, test_dataset: str, from_logits: bool = True, dim: int = 1,
                 check_finite: bool = True, names: Any = None):
        super().__init__()
        self.check_finite = check_finite
        self._names = tuple(names) if names is not None else None
        used = np.flatnonzero(matrix.any(axis=0))
        self.test_dataset = test_dataset
        self.from_logits = from_logits
        self.dim = dim
        self.n_universal = int(matrix.shape[1])
        self.register_buffer("used", torch.from_numpy(used.astype(np.int64)), persistent=False)
        self.register_buffer("weight", torch.from_numpy(np.ascontiguousarray(matrix[:, used], dtype=np.float32)))

    def extra_repr(self) -> str:
        return (f"test_dataset={self.test_dataset!r}, universal={self.n_universal}, test={self.weight.shape[0]}, "
                f"from_logits={self.from_logits}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[self.dim] != self.n_universal:
            raise LabelError(f"expected {self.n_universal} universal channels on dim {self.dim}, "
                             f"got {x.shape[self.dim]}")
        if self.check_finite:
            dim = self.dim % x.ndim
            check_finite(x, dim, None if self.from_logits else self.used, self.from_logits, self._fail)
        if self.from_logits:
            x = torch.softmax(x, dim=self.dim)
        sub = x.index_select(self.dim, self.used)
        return torch.matmul(sub.movedim(self.dim, -1), self.weight.to(sub.dtype).T).movedim(-1, self.dim)


    def _fail(self, count: int, pos: tuple[int, ...], value: float, channel: int) -> None:
        raise LabelError(message(count, pos, value, channel, self._names, self.test_dataset))


def is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)
