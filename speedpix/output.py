"""Workflow outputs: every URL in a result becomes a :class:`FileOutput` (a ``str``, the
URL, that can ``read()`` and ``save()`` the file); a result node that is a dict with a
``url`` is a :class:`FileNode`, a dict that can ``save()`` too."""

from ._flows.outputs import FileNode, FileOutput

__all__ = ["FileNode", "FileOutput"]
