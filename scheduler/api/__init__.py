"""The JSON API under /api/v1 (see views.py)."""
# The blueprint first, whichever module of the package is imported first: views.py imports every route module
# (each of which takes `bp` from it), so a route module imported on its own would otherwise find a half-loaded sibling.
from . import views  # noqa: F401
