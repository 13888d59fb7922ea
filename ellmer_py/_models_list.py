"""Model lists: what every ``models_<name>()`` shares, and ``Provider.list_models()``.

R's ``models_*()`` functions all do the same thing: one authenticated GET
(or a few, for a paged list), the array of models out of the answer, a
record per model with its list price. The steps that are not about one
provider live here, once; a plugin says where to look and how to read its
rows. ``list_models_of()`` is R's ``models_list()`` generic: it finds the
plugin's ``models_<name>()`` in the registry (``ProviderSpec.models_function``)
and points it at a chat's own provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, TypeVar

from ._credentials import Credentials, as_credentials, auth_headers
from ._errors import MalformedResponseError, MissingCredentialsError
from ._transport import Transport

if TYPE_CHECKING:
    from ._provider import Provider
    from ._tokens import Price

__all__ = [
    "MAX_PAGES",
    "NextPage",
    "PriceColumns",
    "list_model_rows",
    "list_models_of",
    "model_list_headers",
    "model_rows",
    "newest_first",
    "price_columns",
    "unix_time",
]

#: A paged list stops here even if the server never says it is done.
MAX_PAGES = 1000

#: Given one page's answer and its rows, the URL of the next page (None: the last).
NextPage = Callable[[Mapping[str, Any], list[Mapping[str, Any]]], str | None]


def model_list_headers(
    function: str,
    default: Credentials,
    credentials: Credentials | None,
    api_headers: Mapping[str, str] | None,
    *,
    env: Sequence[str] = (),
    header: str = "Authorization",
    prefix: str = "Bearer ",
    public: bool = False,
) -> dict[str, str]:
    """The headers of a model-list request: ``api_headers``, then the key (R: ``base_request()``).

    The key comes from ``credentials`` (checked as ``as_credentials()``
    checks it) or ``default``, and goes in ``header`` after ``prefix``. For a
    ``public`` list, a missing key sends the request without one.
    """
    headers = dict(api_headers or {})
    try:
        creds = as_credentials(function, default, credentials, env=env)
        headers.update(auth_headers(creds(), header, prefix))
    except MissingCredentialsError:
        if not public:
            raise
    return headers


def model_rows(
    doc: Any, provider: str, *, key: str = "data", expected: str | None = None
) -> list[Mapping[str, Any]]:
    """The rows (objects) of the array ``key`` of a model-list answer.

    Without the array: no rows, or, when ``expected`` says what ``base_url``
    should be (``"the API root (https://...)"``), a MalformedResponseError
    that says so. Entries that are not objects are dropped.
    """
    data = doc.get(key) if isinstance(doc, Mapping) else None
    if not isinstance(data, list):
        if expected is None:
            return []
        raise MalformedResponseError(
            f"{provider}: the model list has no {key!r} array; is base_url {expected}?",
            provider=provider,
        )
    return [row for row in data if isinstance(row, Mapping)]


def list_model_rows(
    provider: str,
    url: str,
    headers: Mapping[str, str],
    *,
    key: str = "data",
    expected: str | None = None,
    next_page: NextPage | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
    transport: Transport | None = None,
) -> list[Mapping[str, Any]]:
    """GET a provider's model list and return its rows (R: the start of each ``models_*()``).

    ``provider`` is the display name (in errors); ``key`` and ``expected``
    are as for :func:`model_rows`. ``next_page`` follows a paged list: it is
    given each page's answer and rows and returns the next URL, or None; an
    empty page ends the list too. Requests retry and time out as chat
    requests do (``max_tries``, ``timeout_s``); HTTP errors raise the usual
    typed errors. A ``transport`` given is used and left open (for more
    requests after the list); otherwise one is made and closed.
    """
    own = transport is None
    sender = (
        transport
        if transport is not None
        else Transport(provider, max_tries=max_tries, timeout_s=timeout_s)
    )
    rows: list[Mapping[str, Any]] = []
    try:
        for _ in range(MAX_PAGES):
            doc = sender.request_json("GET", url, headers=headers)
            page = model_rows(doc, provider, key=key, expected=expected)
            rows.extend(page)
            following = next_page(doc, page) if next_page is not None and page else None
            if not following:
                break
            url = following
    finally:
        if own:
            sender.close()
    return rows


def unix_time(value: Any) -> datetime | None:
    """A ``created`` field (whole seconds since 1970) as a UTC datetime; None if it is not one."""
    if type(value) is int and 0 <= value < 2**40:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


class _Dated(Protocol):
    @property
    def created_at(self) -> datetime | None: ...


_D = TypeVar("_D", bound=_Dated)


def newest_first(models: list[_D]) -> list[_D]:
    """``models`` sorted by ``created_at``, newest first, undated ones last (as R sorts)."""
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(models, key=lambda m: m.created_at or oldest, reverse=True)


class PriceColumns(TypedDict):
    """The price fields of a model record, dollars per million tokens."""

    input_price: float | None
    output_price: float | None
    cached_input_price: float | None


def price_columns(price: Price | None) -> PriceColumns:
    """The price fields of a model record (R: ``match_prices()``): input, output, cached input.

    Dollars per million tokens; all None for a model without a list price.
    """
    return {
        "input_price": price.input if price else None,
        "output_price": price.output if price else None,
        "cached_input_price": price.cached_input if price else None,
    }


def list_models_of(function: str, provider: Provider) -> list[Any]:
    """The models ``provider`` serves (R: ``models_list()``), by its plugin's ``models_<name>()``.

    ``function`` names the ``chat_<name>()`` that built the provider; the
    registered ProviderSpec with that ``chat_function`` gives the
    ``models_function``, which is called with the provider's ``base_url``,
    credentials (the chat's, or its request signer's), ``api_headers``,
    ``max_tries`` and ``timeout_s``. A provider whose plugin has none raises
    NotImplementedError, as R's ``models_list()`` does, naming the providers
    that can list models.
    """
    from ._registry import _REGISTRY

    specs = _REGISTRY.specs().values()
    mine = [s for s in specs if getattr(s.chat_function, "__name__", None) == function]
    lister = next((s.models_function for s in mine if s.models_function is not None), None)
    if lister is None:
        able = ", ".join(sorted(s.name for s in specs if s.models_function is not None))
        raise NotImplementedError(
            f"{provider.name} doesn't support model listing: its plugin registers no "
            f"models_function. Providers that can list models: {able or 'none'}."
        )
    credentials = getattr(provider.auth, "credentials", provider.credentials)
    models = lister(
        base_url=provider.base_url,
        credentials=credentials,
        api_headers=dict(provider.api_headers),
        max_tries=provider.transport.max_tries,
        timeout_s=provider.transport.timeout_s,
    )
    return list(models)
