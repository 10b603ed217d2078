"""The errors the Kubernetes adapter raises, as ebb's own exceptions.

Class names are part of ebb's interface (Step Functions matches a task's `errorType` on them):
`EvictionRefused` in particular is what the scale-in workflow waits out before its deadline.
"""

from __future__ import annotations

from ebb.errors import ConfigError, EbbError, RetryableError


class KubernetesError(EbbError):
    """The Kubernetes API answered with an error ebb cannot act on by retrying.

    `status` is the HTTP status code (None when no response arrived), `reason` the `Status`
    reason the API server gave (``NotFound``, ``Invalid``, ...), when it gave one.
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KubernetesNotFound(KubernetesError):
    """The object (or, for a custom resource, its whole type) does not exist."""


class KubernetesUnauthorized(KubernetesError):
    """The API server rejected ebb's IAM token, even a freshly made one (401)."""


class KubernetesForbidden(KubernetesError):
    """ebb's identity lacks the RBAC permission for the request (403): a deployment problem."""


class KubernetesRejected(KubernetesError):
    """The API server refused the request as malformed or invalid (400, 405, 415, 422, ...)."""


class ClusterCertificateRejected(KubernetesError):
    """The API server's TLS certificate does not verify against the cluster CA from EKS."""


class KubernetesUnavailable(KubernetesError, RetryableError):
    """5xx answers, timeouts or refused connections, still failing after the adapter's retries."""


class KubernetesThrottled(KubernetesError, RetryableError):
    """API Priority and Fairness kept answering 429 with Retry-After beyond the adapter's retries."""


class KubernetesConflict(KubernetesError, RetryableError):
    """A write kept meeting a newer resourceVersion (409) beyond the adapter's retries."""


class EvictionRefused(KubernetesError):
    """The Eviction API refused to evict a pod because of a PodDisruptionBudget (429).

    Never retried by the adapter: the caller decides whether to wait and try again before its
    deadline. `budget_messages` are the API server's `DisruptionBudget` causes, which name the
    budget and how many healthy pods it needs.
    """

    def __init__(
        self,
        message: str,
        *,
        namespace: str,
        pod: str,
        budget_messages: tuple[str, ...],
        status: int = 429,
        reason: str = "TooManyRequests",
    ) -> None:
        super().__init__(message, status=status, reason=reason)
        self.namespace = namespace
        self.pod = pod
        self.budget_messages = budget_messages


class EksClusterNotFound(ConfigError):
    """EKS has no cluster of the configured name in the configured region."""
