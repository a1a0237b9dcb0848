"""Every Offline step of the guide, executed as a learner would, against a fresh local cloud with the kit deployed.

One ``bash`` session runs the pages in reading order (``index.md``, then chapters 1 to 12): variables, the
working folder and the local clock carry over from page to page, as in a learner's terminal. Each block's
output is compared with the output the page shows (IDs, ARNs and times matched by pattern), and each block's
last command must succeed, or fail where the page says ``Output (fails)``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmslab.guide.blocks import GuideRun, Outcome, offline_blocks, pages_in_order, run_blocks
from tests.assembly import synthesize_kit

pytestmark = pytest.mark.slow

CHAPTERS = range(1, 13)


def _chapter(page: Path) -> int | None:
    match = re.match(r"(\d\d)-", page.name)
    return int(match.group(1)) if match else None


def test_every_chapter_has_offline_steps_a_checkpoint_and_a_quiz() -> None:
    pages = pages_in_order()
    assert [p.name for p in pages][0] == "index.md"
    assert [_chapter(p) for p in pages[1:]] == list(CHAPTERS)
    for page in pages[1:]:
        blocks = offline_blocks(page)
        number = _chapter(page)
        assert len(blocks) >= 3, f"{page.name}: only {len(blocks)} Offline blocks"
        checks = [b for b in blocks if re.search(rf"^kmslab check {number}\b", b.code, re.MULTILINE)]
        assert checks, f"{page.name}: no Offline 'kmslab check {number}' step"
        assert "✓" in checks[-1].expected and "✗" not in checks[-1].expected, f"{page.name}: the check must pass"
        text = page.read_text(encoding="utf-8")
        quiz = text[text.index("\n## Quiz") :] if "\n## Quiz" in text else ""
        questions = re.findall(r"^\?\?\? question ", quiz, re.MULTILINE)  # "???" folds the answer
        assert 3 <= len(questions) <= 5, f"{page.name}: {len(questions)} quiz questions"
        assert text.index("\n## Quiz") > text.index(f"kmslab check {number}"), f"{page.name}: the quiz ends it"


def test_every_offline_block_prints_what_its_page_shows(tmp_path: Path) -> None:
    cdk_out = synthesize_kit(tmp_path / "cdk.out")
    outcomes: list[Outcome] = []
    with GuideRun(cdk_out) as run:
        for page in pages_in_order():
            for outcome in run_blocks(offline_blocks(page), run.shell, run.port):
                outcomes.append(outcome)
        failures = "\n\n".join(o.explain(run.port) for o in outcomes if not o.ok)
    ran = {Path(o.block.page).name for o in outcomes}
    assert ran >= {f.name for f in pages_in_order() if offline_blocks(f)}
    assert len(outcomes) >= 140
    assert not failures, f"{sum(not o.ok for o in outcomes)} of {len(outcomes)} blocks differ:\n{failures}"
    assert sum(o.block.fails for o in outcomes) >= 5  # the refusals the guide teaches really were refused
