"""The lab: the guide's chapters, run step by step against a local cloud with the kit deployed.

Run it with ``kmslab lab run`` (or ``make lab``); in code, :func:`run_lab` with a :func:`select`-ion.
A chapter is a :class:`Chapter` of :class:`Step`, numbered as the guide's; add one to
:data:`CHAPTERS` in ``kmslab.lab._runner``.
"""

from __future__ import annotations

from kmslab.lab._runner import (
    CHAPTERS,
    LabRun,
    RunOptions,
    Selection,
    UnknownChapterError,
    run_lab,
    select,
    select_chapters,
)
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
    "LabRun",
    "RunOptions",
    "Selection",
    "Step",
    "StepResult",
    "UnknownChapterError",
    "run_lab",
    "select",
    "select_chapters",
]
