"""Helpers shared by the test modules (import as ``from support.X import ...``, never from conftest,
which keeps only fixtures and hooks).

- ``paths``: ROOT, SPECS, GENERATED, REFERENCE;
- ``bundled``: facts of whatever taxonomy generated/ holds (N_UNIVERSAL), for generic tests;
- ``mseg``: is the taxonomy still the bundled MSeg one? (the ``mseg_specs`` marker's check);
- ``edits``: valid edits a user might make (the edited-taxonomy test);
- ``corpus``: spec copies for the corpus of broken specs (BASE, make_specs);
- ``goldens``: golden files of the emitters over tests/goldens/specs;
- ``mseg_reference``: an independent reader of the MSeg reference files;
- ``cdp``: a minimal Chrome DevTools Protocol client for the browser tests;
- ``hostile``: the hostile-input corpus's Case and snapshot.
"""
