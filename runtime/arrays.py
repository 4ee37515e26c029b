"""Runtime: what the remap calls take and give back — numpy arrays, torch tensors, tensors on a device.

The one place that tells them apart (:func:`run`): a numpy array (or anything ``np.asarray``
takes) is remapped by the numpy kernels; a CPU tensor too, without a copy, and the result goes
back as a tensor; a tensor on another device (CUDA) is remapped there with torch ops. Also the
one shape check of score arrays (:func:`class_axis`) and the one dtype check of label arrays
(:func:`label_array`).

Numpy and the standard library only: torch is imported only to hand a result back as a tensor,
which happens only when the caller handed one in.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import LabelError

#: route CPU tensors through the device (torch-op) path too; tests set it to cover that path without a GPU
_force_device_path = False


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (torch is never imported to find out)."""
    return type(x).__module__.split(".", 1)[0] == "torch"


def on_device(x: Any) -> bool:
    """A torch tensor that lives off the CPU (remapped there with torch ops, never copied to host)."""
    return is_torch(x) and (x.device.type != "cpu" or _force_device_path)


def to_numpy(x: Any) -> tuple[np.ndarray, Any]:
    """(array, torch tensor it came from or None). Torch is never imported here.

    bfloat16 tensors (numpy has no such dtype) are widened to float32; arrays in non-native
    byte order are converted to native order (the kernels view raw bytes).
    """
    like = None
    if is_torch(x):
        like = x
        t = x.detach()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        x = t.cpu().resolve_conj().resolve_neg().numpy()
    elif not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as e:
            raise LabelError(f"not an array: {e}") from None
    if x.dtype.byteorder not in "=|" and not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x, like


def back(result: np.ndarray, like: Any, keep_dtype: bool = False) -> Any:
    """``result`` as the caller gave its input: an array, or a tensor on the device of ``like``."""
    if like is None:
        return result
    import torch  # only reached when the caller handed us a tensor

    if not result.flags.c_contiguous:  # (np.ascontiguousarray would turn a 0-d result into 1-d)
        result = result.copy(order="C")
    t = torch.from_numpy(result).to(like.device)
    return t.to(like.dtype) if keep_dtype and t.dtype != like.dtype else t


def check_out(out: Any, like: Any) -> None:
    """Refuse an ``out=`` that is not a numpy array, and any ``out=`` with tensor input."""
    if out is not None and not isinstance(out, np.ndarray):
        raise LabelError(f"out= must be a numpy array, got {type(out).__module__}.{type(out).__name__}")
    if like is not None and out is not None:
        raise LabelError("out= takes a numpy array for numpy input; for a torch tensor the result is a new "
                         "tensor on its device: drop out=")


def run(x: Any, out: Any, host: Callable[[np.ndarray], np.ndarray], device: Callable[[Any], Any] | None = None,
        *, keep_dtype: bool = False) -> Any:
    """The one numpy/torch/device branch of every remap call.

    A tensor on a device goes to ``device(x)`` (when given) and stays there; ``device`` may
    return ``NotImplemented`` for a tensor it does not take, which is then read on the host.
    Everything else is made a numpy array, given to ``host``, and its result handed back as
    the input came (a tensor on its device, with its dtype where ``keep_dtype``). ``out=``
    is checked here, before either.
    """
    if device is not None and on_device(x):
        check_out(out, x)
        result = device(x)
        if result is not NotImplemented:
            return result
    arr, like = to_numpy(x)
    check_out(out, like)
    return back(host(arr), like, keep_dtype)


def is_label_input(x: Any) -> tuple[bool, Any]:
    """(whether ``x`` holds labels: integer or bool, not scores; ``x`` itself or, where it was
    neither an array nor a tensor, the array made of it)."""
    if is_torch(x):
        return not (x.dtype.is_floating_point or x.dtype.is_complex), x
    if not isinstance(x, np.ndarray):
        x, _ = to_numpy(x)
    return x.dtype.kind in "iub", x


def label_array(arr: np.ndarray, space: str) -> np.ndarray:
    """Refuse label arrays that are not integer ids (bool, float, complex, str, object)."""
    if arr.dtype.kind == "b":
        raise LabelError(f"{space} labels must be an integer array, got dtype bool (a mask, not class ids; "
                         "cast to an integer dtype if that is meant)")
    if arr.dtype.kind not in "iu":
        raise LabelError(f"{space} labels must be an integer array, got dtype {arr.dtype}")
    return arr


def class_axis(x: Any, axis: Any, n: int) -> int:
    """The one shape check of universal scores, a numpy array or a tensor alike: a float array
    with ``n`` channels on ``axis`` (negative allowed); returns the axis, made non-negative."""
    tensor = is_torch(x)
    if not (x.dtype.is_floating_point if tensor else np.issubdtype(x.dtype, np.floating)):
        raise LabelError(f"scores must be a float {'tensor' if tensor else 'array'}, got dtype {x.dtype}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise LabelError(f"axis must be an integer, got {axis!r}") from None
    if x.ndim == 0:
        raise LabelError("scores must have a class axis")
    ax: int = axis if axis >= 0 else x.ndim + axis
    if not 0 <= ax < x.ndim:
        raise LabelError(f"axis {axis} out of range for {x.ndim}-d scores")
    if x.shape[ax] != n:
        raise LabelError(f"scores have {x.shape[ax]} channels on axis {axis}; the universal taxonomy has {n}")
    return ax
