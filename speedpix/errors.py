"""The exceptions of the SDK (defined in :mod:`speedpix._core.errors`): one hierarchy
for the API's three error layers, rooted at :class:`SpeedPixException`."""

from ._core.errors import *  # noqa: F403
from ._core.errors import __all__ as __all__
