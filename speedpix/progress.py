"""A ready-made ``on_progress`` callback: a live line in a terminal, a bar in Jupyter.

>>> from speedpix.progress import ProgressDisplay
>>> output = client.run("your-workflow-id", {"prompt": "a cat"}, on_progress=ProgressDisplay())

In a terminal it rewrites one line on stderr (status, queue position, a bar, ETA); in a
log or pipe it writes short plain lines; in a Jupyter notebook it is one output line
with a progress bar, updated in place (no widget library needed).
"""

from __future__ import annotations

from ._apps.progress import ProgressDisplay

__all__ = ["ProgressDisplay"]
