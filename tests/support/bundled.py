"""Facts of whatever taxonomy the checkout compiled (generated/), for tests that hold for any.

Tests that need the number of universal classes take it from here rather than writing MSeg's
194, so that they keep running on a user's edited taxonomy.
"""

from __future__ import annotations

import unitax

#: the number of universal classes of the bundled build
N_UNIVERSAL = len(unitax.load().universal_names)
