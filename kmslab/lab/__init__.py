"""The offline lab: narrated steps that prove AWS KMS semantics against the local KMS endpoint.

Run it with ``kmslab lab run`` (or ``make lab``); in code, :func:`run_lab`. A chapter is a
:class:`Chapter` of :class:`Step`; add one to :data:`CHAPTERS` in ``kmslab.lab._runner``.
"""

from __future__ import annotations

from kmslab.lab._runner import CHAPTERS, UnknownChapterError, run_lab, select_chapters
from kmslab.lab._steps import (
    Chapter,
    ExpectationFailed,
    LabContext,
    LabError,
    LabReport,
    Step,
    StepResult,
)

__all__ = [
    "CHAPTERS",
    "Chapter",
    "ExpectationFailed",
    "LabContext",
    "LabError",
    "LabReport",
    "Step",
    "StepResult",
    "UnknownChapterError",
    "run_lab",
    "select_chapters",
]
