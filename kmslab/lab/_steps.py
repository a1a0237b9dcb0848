"""The lab's building blocks: steps that call KMS, state what they prove and check what came back.

A chapter is a tuple of :class:`Step`. Each step's action receives the shared
:class:`LabContext`, calls the endpoint through boto3, checks the answer with
:meth:`LabContext.expect` / :meth:`LabContext.expect_error`, and returns the facts to print.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from kmslab.errors import KmslabError
from kmslab.kms.control import ControlClient

if TYPE_CHECKING:
    from kmslab.kms.authz import IdentityStore
    from kmslab.trail import TrailRecorder

Fact = tuple[str, str]
Action = Callable[["LabContext"], Sequence[Fact]]
#: ``(who, service, region) -> boto3 client`` signed with that lab identity's credentials
ClientFactory = Callable[[str, str, str], Any]
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
    """What every step shares: signed boto3 clients, the endpoint's control routes, its recorder, a scratch state.

    Args:
        kms: the root user's boto3 KMS client for :data:`LAB_REGION`, pointed at the endpoint.
        control: the endpoint's control routes (clock).
        endpoint: the endpoint URL.
        state: values steps hand to later steps (key IDs, ciphertexts).
        work_dir: a scratch directory for files the steps write (removed with the lab's directory).
        account: the account that owns the keys.
        identities: the identities the endpoint verifies signatures against (None: unsigned lab).
        recorder: the endpoint's CloudTrail recorder (None: no trail).
        trail_dir: where the recorder writes its log files.
        client_factory: builds the other clients (``who``, ``service``, ``region``).
        closers: called once when the lab ends, last added first (steps that start helpers add here).
    """

    kms: Any
    control: ControlClient
    endpoint: str
    state: dict[str, Any] = field(default_factory=dict, repr=False)
    work_dir: Path = field(default_factory=Path)
    account: str = "111122223333"
    identities: IdentityStore | None = field(default=None, repr=False)
    recorder: TrailRecorder | None = None
    trail_dir: Path | None = None
    client_factory: ClientFactory | None = field(default=None, repr=False)
    closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)

    def client(self, who: str = "root", *, region: str = LAB_REGION, service: str = "kms") -> Any:
        """Return a boto3 client signed as one of the lab's identities.

        Args:
            who: ``root``, ``alice`` or ``bob``.
            region: the region the client signs for.
            service: the boto3 service (``kms`` or ``cloudtrail``; both answered by the endpoint).

        Returns:
            The client (made once, then reused).

        Raises:
            LabError: the lab was started without a client factory.
        """
        if who == "root" and region == LAB_REGION and service == "kms":
            return self.kms
        if self.client_factory is None:
            raise LabError("this lab context has no client factory: only the root KMS client exists")
        key = (who, service, region)
        if key not in self._clients:
            self._clients[key] = self.client_factory(who, service, region)
        return self._clients[key]

    def arn_of(self, who: str) -> str:
        """Return the principal ARN of a lab identity.

        Args:
            who: ``root`` or an IAM user name.

        Returns:
            ``arn:aws:iam::<account>:root`` or ``arn:aws:iam::<account>:user/<who>``.
        """
        return f"arn:aws:iam::{self.account}:root" if who == "root" else f"arn:aws:iam::{self.account}:user/{who}"

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
        """Move the endpoint's clock forward through its control route.

        Args:
            delta: how far.

        Returns:
            The endpoint's new time, ISO 8601.
        """
        return self.control.advance(delta).isoformat(timespec="seconds")


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
    """

    number: int
    step: Step
    passed: bool
    facts: tuple[Fact, ...] = ()
    failure: str | None = None
    label: str = ""

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


def run_steps(
    steps: Sequence[Step],
    ctx: LabContext,
    emit: Callable[[str], None],
    *,
    start: int = 1,
    chapter: int | None = None,
) -> LabReport:
    """Run steps in order, printing each; stop at the first failure (later steps build on earlier ones).

    Args:
        steps: the steps.
        ctx: the shared context.
        emit: prints one line.
        start: the running number of the first step.
        chapter: the chapter's number: steps are then labelled ``<chapter>.<n>``.

    Returns:
        The report.
    """
    results: list[StepResult] = []
    for index, step in enumerate(steps):
        number = start + index
        label = f"{chapter}.{index + 1}" if chapter is not None else str(number)
        emit("")
        emit(f"[{label}] {step.title}")
        emit(f"    proves: {step.proves}")
        failure: str | None = None
        try:
            facts = tuple(step.action(ctx))
        except (KmslabError, ClientError, BotoCoreError) as exc:
            failure = " ".join(str(exc).split()) or type(exc).__name__
        except Exception as exc:  # a missing field or a client bug: the step failed, the lab goes on reporting
            failure = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if failure is not None:
            emit(f"    FAILED: {failure}")
            results.append(StepResult(number, step, passed=False, failure=failure, label=label))
            later = [
                f"{chapter}.{index + 2 + n}" if chapter is not None else str(number + 1 + n)
                for n in range(len(steps) - index - 1)
            ]
            return LabReport(
                tuple(results), tuple(f"{name} {s.title}" for name, s in zip(later, steps[index + 1 :], strict=True))
            )
        _emit_facts(facts, emit)
        emit("    ok")
        results.append(StepResult(number, step, passed=True, facts=facts, label=label))
    return LabReport(tuple(results))


def _emit_facts(facts: Sequence[Fact], emit: Callable[[str], None]) -> None:
    width = max((len(label) for label, _ in facts if label), default=0)
    for label, value in facts:
        emit(f"    {label.ljust(width)}  {value}".rstrip() if label else f"      {value}".rstrip())


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
