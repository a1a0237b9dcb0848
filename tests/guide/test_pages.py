"""Reading a guide page's Offline steps, and matching their output as the page shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmslab.guide._matching import matches
from kmslab.guide._pages import PageError, offline_blocks

PAGE = """# A page

```bash
echo "outside the tabs: never run"
```

=== "On AWS"

    ```bash
    echo on-aws
    ```

    ```text title="Output"
    on-aws
    ```

=== "Offline"

    Some prose.

    ```bash
    KEY=$(echo abc)
    echo "$KEY"
    ```

    ```text title="Output"
    abc
    ```

    ```json
    {"shown": "not run"}
    ```

    ```bash
    false
    ```

    ```text title="Output (fails)"
    (no output)
    ```

After the tabs.
"""


def test_only_the_offline_tabs_blocks_are_read_with_their_outputs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = offline_blocks(page, name="page.md")
    assert [(b.line, b.language, b.code, b.expected, b.fails) for b in blocks] == [
        (21, "bash", 'KEY=$(echo abc)\necho "$KEY"\n', "abc", False),
        (34, "bash", "false\n", "", True),
    ]
    assert blocks[0].where == "page.md:21"


def test_a_block_without_its_output_is_an_error_naming_the_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('=== "Offline"\n\n    ```bash\n    echo hi\n    ```\n')
    with pytest.raises(PageError, match=r"page.md:3: a bash block in an Offline tab needs"):
        offline_blocks(page, name="page.md")


def test_an_unclosed_block_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('=== "Offline"\n\n    ```bash\n    echo hi\n')
    with pytest.raises(PageError, match="never closed"):
        offline_blocks(page, name="page.md")


@pytest.mark.parametrize(
    ("shown", "printed"),
    [
        ("Enabled", "Enabled  "),
        ("A\n...\nB", "A\nB"),
        ("A\n...\nB", "A\nx\ny\nB"),
        ("...\nlast", "first\nlast"),
        ("upload: ./a.txt to s3://...-data/a.txt", "upload: ./a.txt to s3://kmslab-x1y2-data/a.txt"),
        (
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/0b7c1a8e-1111-4222-8333-123456789012",
        ),
        ("2026-12-02T20:00:00Z", "2031-01-01T00:00:00.123+00:00"),
        ("AKIAALICEJPPQ7RTH3OQ", "ASIAXXXXXXXXXXXXXXXX"),
        ("CiphertextBlob: " + "A" * 60 + "==", "CiphertextBlob: " + "b/+9" * 30),
    ],
)
def test_what_varies_matches_by_pattern(shown: str, printed: str) -> None:
    assert matches(shown, printed)


@pytest.mark.parametrize(
    ("shown", "printed"),
    [("Enabled", "Disabled"), ("A\n...\nB", "A\nx\nC"), ("a", "a\nb"), ("", "something")],
)
def test_a_real_difference_does_not_match(shown: str, printed: str) -> None:
    assert not matches(shown, printed)


def test_the_run_port_is_written_as_the_documented_one() -> None:
    assert matches("https://localhost:4566", "https://localhost:40123", port=40123)
    assert not matches("https://localhost:4566", "https://localhost:40123")
