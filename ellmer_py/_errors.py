"""One error hierarchy for everything ellmer-py raises on purpose.

Every error carries the provider name, the HTTP status, the server's own
message and request id where there is one; none of them ever carries a
credential. The tree (classes defined elsewhere say where)::

    EllmerError
    +-- ConfigurationError (ValueError): an argument or setting cannot be used
    |   +-- MissingCredentialsError: no key found for a provider that needs one
    +-- DeprecatedArgumentError (TypeError): an argument R's ellmer deprecated
    |   (``api_key``) was passed
    +-- ModelLimitationError: the model cannot take what the chat asks (a system
    |   prompt, tools, structured output, an image, a PDF), before any request
    |   or when the server says so
    +-- TransportError: the request could not be completed at the network level
    |   (refused, DNS, TLS, too many retries)
    |   +-- RequestTimeoutError: no connection, or no answer, within the timeout
    |   +-- RequestCancelled (_scope): its scope was cancelled (an async task
    |   |   cancelled, a parallel run stopped) before or while it was sent
    |   +-- ConnectionCutError (also a StreamError): the connection closed
    |       before the answer was complete
    +-- HTTPStatusError: the server answered with an error status (any other)
    |   +-- BadRequestError: 400, 422 or another 4xx: the request was rejected
    |   +-- AuthenticationError: 401 or 403: the key is missing, wrong or not
    |   |   allowed
    |   +-- PaymentRequiredError: 402: the account has no credits left
    |   +-- NotFoundError: 404: no such endpoint or model
    |   +-- RateLimitError: 429, still after retrying (``retry_after``)
    |   +-- ServerError: 5xx, still after retrying
    +-- StreamError: a streamed answer could not be read to its end
    |   +-- MalformedResponseError: JSON or SSE that cannot be parsed
    |   +-- StreamErrorEvent: the server sent an error event mid-stream
    |   +-- ConnectionCutError (also a TransportError; see above)
    +-- ToolError: a tool could not be called (an async tool in ``chat()``)
    |   +-- ToolReject (_tools): raised in a tool or an ``on_tool_request``
    |       callback to refuse the call; the model reads the reason
    +-- StructuredOutputError (ValueError; _structured): a structured answer
    |   was cut off, is not JSON, or does not fit the type
    +-- ParallelChatError (_parallel): ``on_error="stop"`` and a prompt failed;
    |   carries the results so far
    +-- BatchError (_batch_job): a batch job cannot go on (the batch API's
    |   answers cannot be read, or point at another host)
    +-- BatchItemError (_batch_job): one prompt of a batch failed; returned in
        its slot by ``batch_chat()``, not raised
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConnectionCutError",
    "DeprecatedArgumentError",
    "EllmerError",
    "HTTPStatusError",
    "MalformedResponseError",
    "MissingCredentialsError",
    "ModelLimitationError",
    "NotFoundError",
    "PaymentRequiredError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StreamError",
    "StreamErrorEvent",
    "ToolError",
    "TransportError",
]


class EllmerError(Exception):
    """Base class of every error ellmer-py raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        server_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.server_message = server_message
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (to and from worker processes: parallel_chat(executor=)): rebuilt
        # without __init__, whose keyword arguments a subclass may require, then given
        # back its attributes.
        return (_rebuild, (type(self), self.args), self.__dict__)


def _rebuild(cls: type[EllmerError], args: tuple[Any, ...]) -> EllmerError:
    """An unpickled error: its class and args; its attributes come next (``__setstate__``)."""
    error = cls.__new__(cls, *args)
    error.args = args
    return error


class ConfigurationError(EllmerError, ValueError):
    """A constructor or setting was given something it cannot use."""


class MissingCredentialsError(ConfigurationError):
    """No credential could be found for a provider that needs one."""


class DeprecatedArgumentError(EllmerError, TypeError):
    """An argument R's ellmer deprecated (``api_key``) was passed.

    ellmer-py rejects it instead of warning; the message says what to use
    instead and never repeats the value that was passed.
    """


class ModelLimitationError(EllmerError):
    """The model cannot do what the chat asks of it (e.g. a system prompt)."""

    def __init__(self, message: str, *, model: str, feature: str, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.model = model
        self.feature = feature


class TransportError(EllmerError):
    """The request could not be completed at the network level."""


class RequestTimeoutError(TransportError):
    """The server did not answer within the timeout."""


class HTTPStatusError(EllmerError):
    """The server answered with an HTTP error status."""


class BadRequestError(HTTPStatusError):
    """400 or 422: the server rejected the request as malformed."""


class AuthenticationError(HTTPStatusError):
    """401 or 403: the credential was missing, wrong or not allowed."""


class PaymentRequiredError(HTTPStatusError):
    """402: the account has run out of credits."""


class NotFoundError(HTTPStatusError):
    """404: the endpoint or model does not exist."""


class RateLimitError(HTTPStatusError):
    """429: too many requests, even after retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(HTTPStatusError):
    """5xx: the server failed, even after retrying."""


class StreamError(EllmerError):
    """A streamed answer could not be read to its end."""


class MalformedResponseError(StreamError):
    """The server sent JSON (or SSE) that cannot be parsed."""


class StreamErrorEvent(StreamError):
    """The server sent an error event in the middle of a stream."""


class ConnectionCutError(StreamError, TransportError):
    """The connection closed before the answer was complete."""


class ToolError(EllmerError):
    """A tool could not be called or failed."""
