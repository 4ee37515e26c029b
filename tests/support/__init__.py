"""Helpers shared by the test modules (import as ``from support.X import ...``, never from conftest,
which keeps only fixtures and hooks).

- ``paths``: ROOT, SPECS and GENERATED (the frozen MSeg copy and its build, what product tests
  use), LIVE_SPECS and LIVE_GENERATED (the user's, for ``live_taxonomy`` tests only), REFERENCE;
- ``session``: the tests' package tree, whose bundled build is the frozen MSeg copy compiled once
  per run (``unitax.load()`` in tests and their subprocesses); ``package_tree`` for other trees;
- ``freeze_mseg``: refreshes tests/fixtures/mseg-specs from taxonomy/ (``python tests/support/freeze_mseg.py``);
- ``bundled``: facts of the tests' build (N_UNIVERSAL);
- ``mseg``: are the user's specs still the bundled MSeg taxonomy? (the one live fidelity test);
- ``edits``: valid edits a user might make (add_universal_class, add_dataset, confirm_drafts);
- ``corpus``: spec copies for the corpus of broken specs (BASE, make_specs);
- ``goldens``: golden files of the emitters over tests/goldens/specs;
- ``mseg_reference``: an independent reader of the MSeg reference files;
- ``cdp``: a minimal Chrome DevTools Protocol client for the browser tests;
- ``hostile``: the hostile-input corpus's Case and snapshot.
"""
