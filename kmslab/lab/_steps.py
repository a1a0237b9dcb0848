"""The lab's building blocks: steps that call the local cloud, state what they prove and check what came back.

A chapter is a tuple of :class:`Step` numbered as in the guide. Each step's action receives the
shared :class:`LabContext`, calls the cloud through boto3 as a workshop identity, checks the answer
with :meth:`LabContext.expect` / :meth:`LabContext.expect_error`, and returns the facts to print.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from kmslab.errors import KmslabError
from kmslab.lab._cloud import ROLE_OF

if TYPE_CHECKING:
    from kmslab.trail import TrailRecorder

Fact = tuple[str, str]
Action = Callable[["LabContext"], Sequence[Fact]]
_E = TypeVar("_E", bound=BaseException)

LAB_REGION = "us-east-1"


class LabError(KmslabError):
    """Root of the lab's errors."""


class ExpectationFailed(LabError):
    """A step's answer was not what AWS KMS semantics require."""


@dataclass(frozen=True)
class Step:
    """One numbered step of the lab.

    Args:
        title: the heading, an imperative sentence.
        proves: what the step demonstrates, one sentence.
        action: calls the endpoint, checks the answers, returns ``(label, value)`` facts to print.
    """

    title: str
    proves: str
    action: Action

    def __post_init__(self) -> None:
        if not self.title.strip() or not self.proves.strip():
            raise ValueError("a lab step needs a title and what it proves")


@dataclass(frozen=True)
class Chapter:
    """One chapter of the lab: numbered steps that prove what one workshop chapter says.

    Args:
        number: the chapter's number in the lab (``--chapter N``).
        title: the heading.
        steps: the steps, run in order.
        guide: the workshop page the chapter proves (``workshop/<guide>``), or ``""``.
        requires: chapters whose results this one checks; selecting it runs them first.
    """

    number: int
    title: str
    steps: tuple[Step, ...]
    guide: str = ""
    requires: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.number < 1 or not self.title.strip() or not self.steps:
            raise ValueError("a lab chapter needs a positive number, a title and at least one step")
        if any(required >= self.number for required in self.requires):
            raise ValueError("a chapter can only require earlier chapters")


@dataclass
class LabContext:
    """What every step shares: the lab's cloud (signed clients per identity), its clock, a scratch state.

    Args:
        lab: the running local cloud with the kit deployed (:class:`kmslab.lab._cloud.LabCloud`).
        work_dir: a scratch directory for files the steps write.
        state: values steps hand to later steps (key IDs, ciphertexts, query results).
        artefacts: what the report shows (query tables), by name.
    """

    lab: Any
    work_dir: Path = field(default_factory=Path)
    state: dict[str, Any] = field(default_factory=dict, repr=False)
    artefacts: dict[str, Any] = field(default_factory=dict, repr=False)
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)

    @property
    def account(self) -> str:
        """The account that owns the kit."""
        return str(self.lab.account)

    @property
    def kms(self) -> Any:
        """The admin's KMS client in :data:`LAB_REGION`."""
        return self.client("admin")

    @property
    def control(self) -> Any:
        """The cloud's clock (``now()``, ``advance(delta)``)."""
        return self.lab.clock

    @property
    def recorder(self) -> TrailRecorder | None:
        """The cloud's CloudTrail recorder."""
        recorder: TrailRecorder | None = self.lab.cloud.recorder
        return recorder

    def client(self, who: str = "admin", *, region: str = LAB_REGION, service: str = "kms") -> Any:
        """Return a boto3 client signed as one of the workshop identities.

        Args:
            who: ``admin``, ``alice`` (the kit's key-user role), ``bob`` or ``auditor`` (the kit's auditor role).
            region: the Region the client signs for.
            service: the boto3 service.

        Returns:
            The client (made once, then reused).
        """
        key = (who, service, region)
        if key not in self._clients:
            self._clients[key] = self.lab.client(service, who, region=region)
        return self._clients[key]

    def arn_of(self, who: str) -> str:
        """Return the principal a policy names for a workshop identity.

        Args:
            who: ``root``, ``admin``, ``bob``, ``alice`` or ``auditor``.

        Returns:
            The account root, the IAM user, or the kit's role the identity's profile assumes.
        """
        if who == "root":
            return f"arn:aws:iam::{self.account}:root"
        if who in ROLE_OF:
            return f"arn:aws:iam::{self.account}:role/{ROLE_OF[who]}"
        return f"arn:aws:iam::{self.account}:user/{who}"

    def caller_arn(self, who: str) -> str:
        """Return the ARN AWS names in a refusal: an IAM user, or the role session (``assumed-role/<role>/<who>``).

        Args:
            who: the identity.

        Returns:
            The caller's ARN.
        """
        if who in ROLE_OF:
            return f"arn:aws:sts::{self.account}:assumed-role/{ROLE_OF[who]}/{who}"
        return self.arn_of(who)

    def need(self, name: str) -> Any:
        """Return a value an earlier step left in :attr:`state`.

        Args:
            name: the state key.

        Returns:
            The value.

        Raises:
            ExpectationFailed: no earlier step left it (the step that does was not run).
        """
        if name not in self.state:
            raise ExpectationFailed(f"an earlier step should have left {name!r}; was it run?")
        return self.state[name]

    def expect(self, condition: bool, message: str) -> None:
        """Check one expectation.

        Args:
            condition: what must hold.
            message: what was expected, shown when it does not hold.

        Raises:
            ExpectationFailed: ``condition`` is false.
        """
        if not condition:
            raise ExpectationFailed(message)

    def expect_error(self, call: Callable[[], Any], code: str, *, message_contains: str = "") -> ClientError:
        """Check that a call is refused with an AWS error code.

        Args:
            call: the boto3 call to make.
            code: the expected AWS error code.
            message_contains: text the error message must contain.

        Returns:
            The refusal, for printing.

        Raises:
            ExpectationFailed: the call succeeded or failed differently.
        """
        try:
            call()
        except ClientError as exc:
            got = exc.response.get("Error", {})
            if got.get("Code") != code:
                raise ExpectationFailed(f"expected {code}, got {got.get('Code')}: {got.get('Message')}") from exc
            if message_contains not in str(got.get("Message", "")):
                raise ExpectationFailed(
                    f"expected the {code} message to contain {message_contains!r}, got {got.get('Message')!r}"
                ) from exc
            return exc
        raise ExpectationFailed(f"expected {code}, but the call succeeded")

    def expect_raises(self, call: Callable[[], Any], kind: type[_E], *, message_contains: str = "") -> _E:
        """Check that a local call (not an AWS call) raises a given exception.

        Args:
            call: what to call.
            kind: the exception type expected.
            message_contains: text the exception's message must contain.

        Returns:
            The exception, for printing.

        Raises:
            ExpectationFailed: the call returned, or raised something else.
        """
        try:
            call()
        except kind as exc:
            if message_contains not in str(exc):
                raise ExpectationFailed(
                    f"expected {kind.__name__} mentioning {message_contains!r}, got {str(exc)!r}"
                ) from exc
            return exc
        except Exception as exc:
            raise ExpectationFailed(f"expected {kind.__name__}, got {type(exc).__name__}: {exc}") from exc
        raise ExpectationFailed(f"expected {kind.__name__}, but the call succeeded")

    def advance_clock(self, delta: timedelta) -> str:
        """Move the cloud's clock forward (as ``kmslab local advance-time`` does).

        Args:
            delta: how far.

        Returns:
            The endpoint's new time, ISO 8601.
        """
        return str(self.control.advance(delta).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class StepResult:
    """How one step went.

    Args:
        number: the step's running number in this lab run (1-based, across chapters).
        step: the step.
        passed: whether every expectation held.
        facts: what the step printed.
        failure: why it failed, when it did.
        label: how the step is shown: ``<chapter>.<step>`` (``"3.2"``), or the running number.
        seconds: how long it took.
    """

    number: int
    step: Step
    passed: bool
    facts: tuple[Fact, ...] = ()
    failure: str | None = None
    label: str = ""
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The label shown in headings: ``label`` or the running number."""
        return self.label or str(self.number)


@dataclass(frozen=True)
class LabReport:
    """How the whole lab went.

    Args:
        results: the steps that ran, in order.
        not_run: steps skipped after a failure, as ``"<label> <title>"``.
    """

    results: tuple[StepResult, ...]
    not_run: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Whether every step ran and passed."""
        return not self.not_run and all(result.passed for result in self.results)

    @property
    def failures(self) -> tuple[StepResult, ...]:
        """The steps that failed."""
        return tuple(result for result in self.results if not result.passed)


def show_blob(blob: bytes) -> str:
    """Describe a ciphertext without printing it: its length and a short prefix.

    Args:
        blob: the ciphertext.

    Returns:
        For example ``"184 bytes, starts 0x0102..."``.
    """
    return f"{len(blob)} bytes, starts 0x{blob[:6].hex()}..."


def show_context(context: Mapping[str, str]) -> str:
    """Render an encryption context compactly.

    Args:
        context: the encryption context.

    Returns:
        ``{k=v, ...}``.
    """
    return "{" + ", ".join(f"{key}={value}" for key, value in sorted(context.items())) + "}"


def show_refusal(exc: object) -> str:
    """Describe an AWS refusal: HTTP status, error code and message.

    Args:
        exc: a botocore ``ClientError``.

    Returns:
        For example ``"refused: HTTP 400 DisabledException: <arn> is disabled."``.
    """
    response = getattr(exc, "response", {})
    error = response.get("Error", {})
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = error.get("Message")
    return f"refused: HTTP {status} {error.get('Code')}" + (f": {message}" if message else " (no message)")


def show_table(columns: Sequence[str], rows: Sequence[Sequence[object]], *, limit: int = 8) -> list[Fact]:
    """Render a small result table as facts: a header line, then one line per row.

    Args:
        columns: the column names.
        rows: the rows.
        limit: at most this many rows are shown; a last line says how many more there are.

    Returns:
        Facts whose label is ``""`` and whose value is one aligned line.
    """
    shown = [[_cell(value) for value in row] for row in rows[:limit]]
    widths = [max([len(name)] + [len(row[i]) for row in shown]) for i, name in enumerate(columns)]
    lines = ["  ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in shown]
    if len(rows) > limit:
        lines.append(f"... and {len(rows) - limit} more row(s)")
    return [("", line.rstrip()) for line in lines]


def _cell(value: object) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 90 else text[:87] + "..."
