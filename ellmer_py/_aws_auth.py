"""AWS request signing as the seam's ``Auth``: SigV4 on the serialized body, or a bearer token.

A credentials function returns :class:`~ellmer_py._sigv4.AwsCredentials`
(the request is signed with SigV4: the exact body bytes hashed, the path
encoded twice, a session token signed), a string (an API key sent as
``Authorization: Bearer``, as Bedrock's API keys are) or a dict of headers.
It is called for every request, so refreshed credentials are used as soon
as they are there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from attrs import field, frozen

from ._credentials import PICKLE_FIX, CredentialValue, _check_value, auth_headers
from ._errors import ConfigurationError
from ._pickling import CopiedAsItself, require_by_reference
from ._sigv4 import AwsCredentials, sign_headers

__all__ = ["AwsCredentialValue", "CheckedAwsCredentials", "SigV4Auth", "aws_credentials"]

#: What an AWS credentials function returns.
AwsCredentialValue = AwsCredentials | CredentialValue
#: Headers signed besides host and the x-amz-* ones sign_headers adds: only
#: those the transport sends unchanged.
_SIGNED = ("content-type",)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@frozen(repr=False)
class SigV4Auth:
    """Sign each request with AWS Signature Version 4 for ``service`` in ``region``.

    A credentials function that returns a string or a dict of headers sends
    those instead (a bearer token, as Bedrock API keys are used).
    """

    credentials: Callable[[], AwsCredentialValue] = field(eq=False)
    region: str
    service: str
    clock: Callable[[], datetime] = field(default=_utcnow, eq=False)

    def __repr__(self) -> str:
        return f"SigV4Auth(region={self.region!r}, service={self.service!r})"

    def apply(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """The headers that authenticate this request (the signature, or the token)."""
        value = self.credentials()
        if not isinstance(value, AwsCredentials):
            return auth_headers(value, "Authorization", "Bearer ")
        signed = {
            k: v
            for k, v in headers.items()
            if k.lower() in _SIGNED
            or (
                k.lower().startswith("x-amz-")
                and k.lower() not in ("x-amz-date", "x-amz-security-token", "x-amz-content-sha256")
            )
        }
        return sign_headers(
            method,
            url,
            signed,
            body,
            credentials=value,
            region=self.region,
            service=self.service,
            timestamp=self.clock(),
        )


def aws_credentials(
    function: str,
    default: Callable[[], AwsCredentialValue],
    credentials: Callable[[], AwsCredentialValue] | None = None,
) -> Callable[[], AwsCredentialValue]:
    """The credentials a constructor uses: the user's function, checked now, or ``default``.

    (R: ``as_credentials()``, for a provider that also takes AWS keys.) The
    user's function is called once here, so that a mistake shows at
    construction, and before every request after that.
    """
    if credentials is None:
        return default
    if not callable(credentials):
        raise ConfigurationError(
            f"{function}(credentials=...) must be a function with no arguments that returns "
            "AwsCredentials, a key or a dict of headers."
        )

    checked = CheckedAwsCredentials(function, credentials)
    checked()
    return checked


class CheckedAwsCredentials(CopiedAsItself):
    """A user's AWS credentials function; what it returns is checked before every request.

    Pickles as the name of the user's function, as
    :class:`~ellmer_py._credentials.CheckedCredentials` does.
    """

    def __init__(self, function: str, credentials: Callable[[], AwsCredentialValue]) -> None:
        self.function = function
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"CheckedAwsCredentials(function={self.function!r})"

    def __getstate__(self) -> dict[str, object]:
        require_by_reference(self.credentials, f"{self.function}(credentials=...)", PICKLE_FIX)
        return dict(vars(self))

    def __call__(self) -> AwsCredentialValue:
        value = self.credentials()
        if isinstance(value, AwsCredentials):
            if not value.access_key_id or not value.secret_access_key:
                raise ConfigurationError(
                    f"{self.function}(credentials=...) returned AwsCredentials without an "
                    "access key id or a secret access key."
                )
            return value
        return _check_value(self.function, value)
