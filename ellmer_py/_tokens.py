"""Tokens and cost: prices, the cost of an answer, and the session-wide usage log.

R: ``token_usage()``, ``get_token_cost()``, ``log_turn()``. Prices are in US
dollars per million tokens. A provider may carry a :class:`PriceSource`
(the Hugging Face plugin reads the router's own ``GET /models``); every
complete answer a provider receives is priced, when the price is known, and
added to the usage log that :func:`token_usage` reports.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol

from attrs import evolve, frozen

from ._errors import ConfigurationError
from ._turn import AssistantPartialTurn, AssistantTurn, Tokens, Turn

__all__ = [
    "ClaudePrices",
    "ModelPrices",
    "Price",
    "PriceSource",
    "PriceTable",
    "PricedModel",
    "account_turn",
    "log_turn",
    "price_turn",
    "table_price",
    "token_cost",
    "token_usage",
    "tokens_by_turn",
    "total_tokens",
    "turns_cost",
]


@frozen
class Price:
    """What a model costs, in US dollars per million tokens (R: a row of ``prices``).

    ``cached_input`` is the price of input tokens read from the provider's
    cache; when it is not known they are charged at the ``input`` price.
    """

    input: float
    output: float
    cached_input: float | None = None


def token_cost(tokens: Tokens, price: Price) -> float:
    """The cost in dollars of ``tokens`` at ``price`` (R: ``get_token_cost()``)."""
    cached = price.cached_input if price.cached_input is not None else price.input
    return (
        tokens.input * price.input + tokens.output * price.output + tokens.cached_input * cached
    ) / 1e6


class PricedModel(Protocol):
    """What pricing needs of a provider: its name, its model and its price source.

    ``Provider`` has these; typing against them keeps this module free of it.
    """

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def prices(self) -> PriceSource | None: ...


class PriceSource(Protocol):
    """Where a provider finds the price of its model.

    ``headers`` are the answer's response headers (lower-cased names), for
    providers that say there who served the request. Return None when the
    price is unknown; raising is allowed too (the answer is then unpriced).
    A source may also define ``cost(provider, turn, headers)``, which then
    prices whole answers (for charges the token counts don't show).
    """

    def price(self, provider: Any, headers: Mapping[str, str]) -> Price | None:
        """The price of ``provider.model`` for the answer that came with ``headers``.

        ``provider`` is the ``Provider`` asking. It is typed ``Any`` so that a
        source may annotate it as ``Provider``: a :class:`PricedModel`
        parameter would refuse that (parameters are contravariant).
        """
        ...


#: A price table as R's ``prices`` holds it: model id -> (input, output, cached input).
PriceTable = Mapping[str, tuple[float | None, float | None, float | None]]


def table_price(table: PriceTable, model: str) -> Price | None:
    """``model``'s row of ``table``, matched exactly as R matches (R: ``get_token_cost()``).

    None for a model not in it, or one without an input or an output price.
    """
    input_price, output_price, cached = table.get(model, (None, None, None))
    if input_price is None or output_price is None:
        return None
    return Price(input_price, output_price, cached)


class ModelPrices:
    """A :class:`PriceSource` pricing answers at the chat's model's price: ``lookup(model)``."""

    def __init__(self, lookup: Callable[[str], Price | None]) -> None:
        self.lookup = lookup

    def price(self, provider: Any, headers: Mapping[str, str]) -> Price | None:
        """The price of ``provider.model``."""
        return self.lookup(provider.model)


class ClaudePrices(ModelPrices):
    """Prices of Claude's answers (R: ``value_turn()`` for Anthropic).

    The model that served the answer (``json["model"]``) is priced when
    ``lookup`` knows it, else the chat's; cache writes
    (``usage.cache_creation_input_tokens``) cost ``surcharge`` times the
    input price on top: 0.25 for the 5-minute cache, 1.0 for ``cache="1h"``.
    """

    def __init__(self, lookup: Callable[[str], Price | None], cache: str = "5m") -> None:
        super().__init__(lookup)
        self.surcharge = 1.0 if cache == "1h" else 0.25

    def cost(self, provider: Any, turn: AssistantTurn, headers: Mapping[str, str]) -> float | None:
        """An answer's tokens at the model's price, plus the cache-write surcharge."""
        doc = turn.json if isinstance(turn.json, Mapping) else {}
        served = doc.get("model")
        price = (self.lookup(served) if isinstance(served, str) else None) or self.lookup(
            provider.model
        )
        if price is None or turn.tokens is None:
            return None
        usage = doc.get("usage")
        written = usage.get("cache_creation_input_tokens") if isinstance(usage, Mapping) else None
        written = written if isinstance(written, int) and not isinstance(written, bool) else 0
        return token_cost(turn.tokens, price) + written * self.surcharge * price.input / 1e6


class _UsageLog:
    """Tokens and cost per (provider, model), summed over the whole process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, provider: str, model: str, tokens: Tokens, cost: float | None) -> None:
        with self._lock:
            row = self._rows.get((provider, model))
            if row is None:
                self._rows[(provider, model)] = {
                    "provider": provider,
                    "model": model,
                    "input": tokens.input,
                    "output": tokens.output,
                    "cached_input": tokens.cached_input,
                    "cost": cost,
                }
                return
            row["input"] += tokens.input
            row["output"] += tokens.output
            row["cached_input"] += tokens.cached_input
            # As in R, one answer of unknown price makes the total unknown.
            row["cost"] = None if row["cost"] is None or cost is None else row["cost"] + cost

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._rows.values()]


_usage = _UsageLog()


def token_usage() -> list[dict[str, Any]]:
    """Tokens used in this session, one row per provider and model (R: ``token_usage()``).

    Each row is a dict with ``provider``, ``model``, ``input``, ``output``,
    ``cached_input`` (token counts) and ``cost`` (dollars, or None when the
    price of any of its answers is unknown), summed over every ``Chat`` in
    the process, in the order they were first used. Answers cut short (partial
    turns) are not counted. ``pandas.DataFrame(token_usage())`` makes a table.
    """
    return _usage.rows()


@contextlib.contextmanager
def _local_token_usage() -> Iterator[None]:
    """Start from an empty usage log and restore the old one after (R: ``local_tokens()``).

    For tests; not thread-safe with respect to chats running meanwhile.
    """
    global _usage
    old, _usage = _usage, _UsageLog()
    try:
        yield
    finally:
        _usage = old


def _price_of(provider: PricedModel, headers: Mapping[str, str]) -> Price | None:
    source: PriceSource | None = getattr(provider, "prices", None)
    if source is None:
        return None
    try:
        return source.price(provider, headers)
    except Exception as exc:  # a price is a nicety: never break a chat for it
        import logging

        logging.getLogger("ellmer_py").debug(
            "%s: no price for %s: %s", provider.name, provider.model, exc
        )
        return None


def _cost_of(
    provider: PricedModel, turn: AssistantTurn, headers: Mapping[str, str]
) -> float | None:
    """The cost of an answer: the price source's own ``cost()`` if it has one, else tokens x price.

    A price source with ``cost(provider, turn, headers)`` can charge what
    tokens alone don't show (Anthropic's cache writes).
    """
    source = getattr(provider, "prices", None)
    cost = getattr(source, "cost", None)
    if callable(cost):
        try:
            value = cost(provider, turn, headers)
        except Exception:  # a price is a nicety: never break a chat for it
            return None
        return float(value) if isinstance(value, (int, float)) else None
    price = _price_of(provider, headers)
    return token_cost(turn.tokens, price) if price is not None and turn.tokens else None


def account_turn(
    provider: PricedModel, turn: AssistantTurn, headers: Mapping[str, str]
) -> AssistantTurn:
    """Price a complete answer and add it to the session's usage log.

    Returns the turn with ``cost`` set when its tokens and the model's price
    are known. A partial turn is returned as it is, neither priced nor logged.
    Never raises because of pricing.
    """
    if isinstance(turn, AssistantPartialTurn):
        return turn
    turn = price_turn(provider, turn, headers)
    log_turn(provider.name, provider.model, turn)
    return turn


def price_turn(
    provider: PricedModel,
    turn: AssistantTurn,
    headers: Mapping[str, str],
    factor: float = 1.0,
) -> AssistantTurn:
    """The turn with ``cost`` set, when its tokens and the model's price are known.

    ``factor`` scales the list price (0.5: a batch API's half price). A turn
    that already has a cost keeps it. Never raises because of pricing.
    """
    if turn.cost is None and turn.tokens is not None:
        cost = _cost_of(provider, turn, headers)
        if cost is not None:
            turn = evolve(turn, cost=cost * factor)
    return turn


def log_turn(provider: str, model: str, turn: AssistantTurn) -> None:
    """Add an answer's tokens and cost to the session's usage log (R: ``log_turn()``)."""
    _usage.add(provider, model, turn.tokens or Tokens(), turn.cost)


# -- a conversation's tokens and cost (Chat's get_tokens(), get_cost()) -------------------


def total_tokens(turns: Iterable[Turn]) -> Tokens:
    """The tokens of all the assistant turns, summed."""
    total = Tokens()
    for turn in turns:
        if isinstance(turn, AssistantTurn) and turn.tokens is not None:
            total = total + turn.tokens
    return total


def tokens_by_turn(turns: Iterable[Turn]) -> list[dict[str, Any]]:
    """Tokens of each assistant turn: input, output, cached input, cost (R: ``$get_tokens()``)."""
    rows = []
    for turn in turns:
        if isinstance(turn, AssistantTurn):
            tokens = turn.tokens or Tokens()
            rows.append(
                {
                    "role": turn.role,
                    "input": tokens.input,
                    "output": tokens.output,
                    "cached_input": tokens.cached_input,
                    "cost": turn.cost,
                }
            )
    return rows


def turns_cost(turns: Iterable[Turn], include: Literal["all", "last"] = "all") -> float | None:
    """The cost of all the answers, or of the last one; None where unknown (R: ``$get_cost()``)."""
    answers = [t for t in turns if isinstance(t, AssistantTurn)]
    if include == "last":
        answers = answers[-1:]
    elif include != "all":
        raise ConfigurationError(f"include must be 'all' or 'last', not {include!r}.")
    costs = [t.cost for t in answers if t.cost is not None]
    return sum(costs) if costs else None
