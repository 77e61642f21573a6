"""A ready-made ``on_progress`` callback: a live line in a terminal, a bar in Jupyter.

>>> from speedpix.progress import ProgressDisplay
>>> output = client.run("your-workflow-id", {"prompt": "a cat"}, on_progress=ProgressDisplay())
"""

from __future__ import annotations

from ._apps.progress import ProgressDisplay

__all__ = ["ProgressDisplay"]
