"""The offline lab: narrated steps that prove AWS KMS semantics against the local KMS endpoint.

Run it with ``kmslab lab run`` (or ``make lab``); in code, :func:`run_lab`. A chapter is a tuple of
:class:`Step`; add one by appending ``(title, steps)`` to :data:`CHAPTERS` in ``kmslab.lab._runner``.
"""

from __future__ import annotations

from kmslab.lab._runner import CHAPTERS, run_lab
from kmslab.lab._steps import ExpectationFailed, LabContext, LabError, LabReport, Step, StepResult

__all__ = ["CHAPTERS", "ExpectationFailed", "LabContext", "LabError", "LabReport", "Step", "StepResult", "run_lab"]
