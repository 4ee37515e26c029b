"""Runtime hot paths: label look-up tables and score reductions (``unitax.kernels``).

This module is the innermost stage of the unitax *runtime*: the compiler emits
look-up tables (dataset label id -> universal id, universal id -> test class) and
class groups (test class -> the universal ids that feed it); the kernels here
apply them to label maps and to per-pixel class scores.  Three modules, by concern:
:mod:`.blocks` (threads, per-thread scratch buffers, block tiling), :mod:`.labels`
(label look-up tables) and :mod:`.scores` (score reductions).  Everything is pure numpy
(plus the standard library), works on arrays of any shape and memory layout, and
is written for throughput on large images:

* :func:`apply_lut`          ``lut[label]`` without an int64 index array;
* :func:`invalid_values`     the label values a LUT would not accept (validation);
* :func:`scores_to_test`     universal class scores -> test class scores (sums of
                             probabilities, optionally after a softmax);
* :func:`labels_from_scores` argmax over test classes of the above, without
                             materialising the summed scores.

Design rules (measured on a 2-vCPU x86-64 VM, numpy 2.4, AVX2; see
``bench/bench_kernels.py`` for the numbers):

* No full-size temporaries.  Index conversions (uint8/uint16 -> intp, which
  ``np.take`` needs) are done on cache-sized chunks in per-thread scratch
  buffers, softmax intermediates on cache-sized chunks of pixels.  The only
  full-size allocation is the result (unless ``out=`` is given).
* Per-chunk Python work is O(number of channels) at most, and chunks are large
  enough that interpreter overhead stays a few percent.
* ``scores_to_test`` / ``labels_from_scores`` split large inputs over up to
  :func:`get_num_threads` threads (ufuncs and reductions release the GIL).
  ``UNITAX_NUM_THREADS=1`` or :func:`set_num_threads` turns this off, e.g. in
  data-loader worker processes.  ``apply_lut`` stays single-threaded:
  two threads over chunks of ``np.take`` measured 1.3-3x *slower* here.

Approaches:

* ``apply_lut`` on uint8 labels views pairs of labels as one uint16 and gathers
  from a 65536-entry "pair LUT" (``pair[a | b << 8] = lut[a] | lut[b] << 8`` on
  little-endian hosts), halving the number of gathers, which dominate the cost;
  the pair LUT is cached by the LUT's bytes (so in-place LUT edits are seen).
  Indices are converted to intp per 64 Ki chunk into a reused buffer, and
  ``np.take(..., mode='clip')`` writes straight into the output
  (``mode='raise'`` would buffer the output).  ~3x faster than ``lut[label]``;
  plain ``np.take`` is ~1.3x.  uint16 labels use chunked ``take`` (~1.7x), other
  dtypes a bounds-checked chunked ``take``.  Tried and dropped: threads (above),
  ``bytes.translate`` (slower than ``take`` here), 256/128 Ki chunks (no gain).
* ``invalid_values``: one ``max`` reduction; when the max is the ignore value,
  one wrapped subtract + ``min`` per chunk decides whether anything lies in
  ``[n_classes, ignore)``.  Only when something is invalid are values collected.
* ``scores_to_test`` from probabilities reads only the channels that feed a
  group, with one ufunc call per channel and chunk (copy / add into the output
  rows; no gathers).  From logits, each chunk's channels are gathered (fancy
  indexing: ``np.take(axis=0)`` would first copy all U channels of a
  non-contiguous chunk) in "level-major" order -- first members of all groups,
  then second members, ... -- so that summing groups is one vectorised add per
  level instead of one call per channel.  The ``x - max`` pass is skipped when
  every per-pixel max lies in a window where exp can neither overflow nor
  underflow anything that matters.  ``np.exp`` (~2 ns/element here) dominates:
  the whole kernel runs at 0.9-1.0x the cost of exp alone over the input.
* ``labels_from_scores`` compares groups in log space: a singleton group's
  score is its logit (no ``exp`` at all), a pair's is ``max + log(1 + exp(-|a -
  b|))`` (one exp), a larger group's its log-sum-exp; when many small groups
  make that dearer than exponentiating every used channel once, it does the
  latter (level sums as above).  The running argmax is compare / maximum /
  ``lab = max(lab, mask * t)`` per group (exact because t increases; a masked
  ``copyto`` is ~40x slower per element).
"""

from __future__ import annotations

from .blocks import get_num_threads, set_num_threads
from .labels import apply_lut, invalid_values
from .scores import labels_from_scores, scores_to_test

__all__ = [
    "apply_lut",
    "invalid_values",
    "scores_to_test",
    "labels_from_scores",
    "get_num_threads",
    "set_num_threads",
]
