"""gleaner_api"""

import gleaner  # noqa: F401  (first: its import hook keeps optional extras out of dependencies)
