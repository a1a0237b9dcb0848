"""The root of every error kmslab raises on purpose.

Each package has its own root (``KmsError``, ``EnvelopeError``, ...) that subclasses
:class:`KmslabError`, so the command line can turn any of them into one clear line.
"""

from __future__ import annotations


class KmslabError(Exception):
    """An error the user can act on; the CLI prints its message on one line and exits with status 2."""
