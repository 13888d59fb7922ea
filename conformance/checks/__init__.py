"""The conformance checks: plain functions ``check_<name>(ctx) -> None``.

Each one raises ``AssertionError`` with a message that says what the
provider did wrong; ``ctx`` (a :class:`~ellmer_py.conformance.Context`)
knows the provider under test and builds chats against a fresh fake
server. Checks over a large input space use hypothesis (``@given`` inside
the check, under the ``"ellmer_py.conformance"`` settings profile: no
deadline, ``ELLMER_PY_CONFORMANCE_EXAMPLES`` examples, 20 by default), so
they run the same from pytest, from ``python -m ellmer_py.conformance`` or
from a notebook.

:data:`CHECKS` maps each check's name to its function, in the order the
results table shows them. A retired provider (``ProviderSpec.retired``)
is held to one thing only, by every check: its constructor raises a
ConfigurationError that says the service is gone.

One module per concern: ``arguments`` (api_args, api_headers),
``credentials`` (api_key, credentials), ``limitations``, ``params``,
``streaming``, ``finish`` (truncation warnings), ``errors``,
``record_replay``, ``tools``, ``structured``, ``images``, ``asynchronous``,
``batch`` (batch_chat() on the provider's batch API);
``retired`` and ``_common`` hold what they share.
"""

from __future__ import annotations

from ._common import PROFILE
from ._common import Check as Check
from .arguments import check_api_args, check_api_headers
from .asynchronous import check_async
from .batch import check_batch
from .credentials import check_api_key, check_credentials
from .errors import check_errors
from .finish import check_finish_reason
from .images import check_images
from .limitations import check_limitations
from .limitations import conformance_probe as conformance_probe
from .params import PARAM_VALUES as PARAM_VALUES
from .params import check_params
from .record_replay import check_record_replay
from .signing import check_sigv4_signing
from .streaming import check_streaming
from .structured import ConformancePerson as ConformancePerson
from .structured import check_structured
from .tools import check_tools

__all__ = [
    "CHECKS",
    "PROFILE",
    "check_api_args",
    "check_api_headers",
    "check_api_key",
    "check_async",
    "check_batch",
    "check_credentials",
    "check_errors",
    "check_finish_reason",
    "check_images",
    "check_limitations",
    "check_params",
    "check_record_replay",
    "check_sigv4_signing",
    "check_streaming",
    "check_structured",
    "check_tools",
]

#: Every check by name, in the order of the results table.
CHECKS: dict[str, Check] = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_api_args,
        check_api_headers,
        check_api_key,
        check_credentials,
        check_sigv4_signing,
        check_limitations,
        check_params,
        check_streaming,
        check_finish_reason,
        check_errors,
        check_record_replay,
        check_tools,
        check_structured,
        check_images,
        check_async,
        check_batch,
    )
}
