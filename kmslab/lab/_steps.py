"""The lab's building blocks: steps that call KMS, state what they prove and check what came back.

A chapter is a tuple of :class:`Step`. Each step's action receives the shared
:class:`LabContext`, calls the endpoint through boto3, checks the answer with
:meth:`LabContext.expect` / :meth:`LabContext.expect_error`, and returns the facts to print.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmslab.errors import KmslabError
from kmslab.kms.control import ControlClient

Fact = tuple[str, str]
Action = Callable[["LabContext"], Sequence[Fact]]


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


@dataclass
class LabContext:
    """What every step shares: the boto3 KMS client, the endpoint's control routes and a scratch state.

    Args:
        kms: a boto3 KMS client pointed at the endpoint.
        control: the endpoint's control routes (clock).
        endpoint: the endpoint URL.
        state: values steps hand to later steps (key IDs, ciphertexts).
    """

    kms: Any
    control: ControlClient
    endpoint: str
    state: dict[str, Any] = field(default_factory=dict)

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
        number: the step's number (1-based, across chapters).
        step: the step.
        passed: whether every expectation held.
        facts: what the step printed.
        failure: why it failed, when it did.
    """

    number: int
    step: Step
    passed: bool
    facts: tuple[Fact, ...] = ()
    failure: str | None = None


@dataclass(frozen=True)
class LabReport:
    """How the whole lab went.

    Args:
        results: the steps that ran, in order.
        not_run: titles of steps skipped after a failure.
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


def run_steps(steps: Sequence[Step], ctx: LabContext, emit: Callable[[str], None], *, start: int = 1) -> LabReport:
    """Run steps in order, printing each; stop at the first failure (later steps build on earlier ones).

    Args:
        steps: the steps.
        ctx: the shared context.
        emit: prints one line.
        start: the number of the first step.

    Returns:
        The report.
    """
    results: list[StepResult] = []
    for number, step in enumerate(steps, start=start):
        emit("")
        emit(f"[{number}] {step.title}")
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
            results.append(StepResult(number, step, passed=False, failure=failure))
            return LabReport(tuple(results), tuple(s.title for s in steps[number - start + 1 :]))
        _emit_facts(facts, emit)
        emit("    ok")
        results.append(StepResult(number, step, passed=True, facts=facts))
    return LabReport(tuple(results))


def _emit_facts(facts: Sequence[Fact], emit: Callable[[str], None]) -> None:
    width = max((len(label) for label, _ in facts), default=0)
    for label, value in facts:
        emit(f"    {label.ljust(width)}  {value}")


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
