"""The authorizer the local KMS engine calls on every operation."""

from __future__ import annotations

from kmslab.kms.authz.decision import Decision, decide
from kmslab.kms.authz.identities import IdentityStore
from kmslab.kms.errors import AccessDeniedException
from kmslab.kms.seams import AuthorizationRequest, Clock, SystemClock


class KmsAuthorizer:
    """Decides requests with key policies, IAM policies (from the identities file) and grants.

    Implements :class:`kmslab.kms.seams.Authorizer`.

    Args:
        store: the identities and their IAM policies.
        clock: the clock for ``aws:CurrentTime`` (default: the wall clock).
    """

    def __init__(self, store: IdentityStore, *, clock: Clock | None = None) -> None:
        self.store = store
        self._clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"KmsAuthorizer({self.store!r})"

    def decide(self, request: AuthorizationRequest) -> Decision:
        """Decide a request without raising.

        Args:
            request: the request.

        Returns:
            The decision.
        """
        return decide(request, self.store, now=self._clock.now())

    def authorize(self, request: AuthorizationRequest) -> None:
        """Allow the request by returning, or refuse it.

        Args:
            request: the request.

        Raises:
            AccessDeniedException: the request is not allowed (AWS's message).
        """
        decision = self.decide(request)
        if not decision.allowed:
            raise AccessDeniedException(decision.message or "")
