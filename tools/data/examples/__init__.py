"""``unitax examples``: pictures of every universal class, drawn from prepared trees, for the docs.

Three phases on the batch core (tools/data/batch.py), one job store in the examples folder:

- :mod:`.scan`: the prepared trees' label spaces (``<space>/list/<split>.txt``) and, per chunk of
  samples, where each class lies (pixels, box, whether the border cuts it) and which pixels a
  relabel record moved (a space beside its ``-relabeled`` space);
- :mod:`.pick`: K picks per universal class and dataset space, per relabel move, per union class
  and per dataset, ordered by a hash of the sample path, medium-sized regions not cut by the
  border first (the same data gives the same picks);
- :mod:`.render`: one task per universal class (and per relabeled space, union dataset and dataset)
  writes its thumbnails (JPEG, fixed encoder settings) and a part file, atomically;
- :mod:`.index`: the parts, within the size budget, as ``index.json``, the one file ``unitax docs
  --examples`` reads (as untrusted input: bounded JSON, confined paths).
"""
