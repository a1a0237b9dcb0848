"""Chapter checkpoints: ``kmslab check N`` says what of chapter N is done in the learner's own state.

Each chapter's checks live in ``chNN.py`` beside this module and define ``CHAPTER``; :func:`chapters`
finds them. The checks work on AWS (with the learner's credentials) and in the local cloud alike.
"""

from __future__ import annotations

import importlib
import pkgutil

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

__all__ = ["Chapter", "CheckEnv", "Finding", "chapters"]


def chapters() -> dict[int, Chapter]:
    """Every chapter that has a checkpoint.

    Returns:
        Chapter number -> chapter, in order.
    """
    found: dict[int, Chapter] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("ch") and info.name[2:].isdigit():
            chapter = importlib.import_module(f"{__name__}.{info.name}").CHAPTER
            assert isinstance(chapter, Chapter)
            found[chapter.number] = chapter
    return dict(sorted(found.items()))
