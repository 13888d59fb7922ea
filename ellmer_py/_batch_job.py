"""One batch job from start to end: submit, wait, retrieve (R: ``BatchJob``).

The provider's :class:`~ellmer_py._protocols.batch.BatchApi` says what to
send; this module sends it (the provider's URL, headers, authentication and
transport, so retries, timeouts, proxies and redaction are those of a chat)
and keeps the state file (``ellmer_py._batch_state``) true after every step.
A job larger than the API's limits is split into several batches, submitted
together and waited for together.

Resuming is safe at any point: a batch is created only by a chunk in stage
``submitting``, and before its creating request is sent the file records
that it is being created, so a run that finds that mark asks the API for the
batch (``BatchApi.find``) before it creates another.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from ._batch_state import ChunkState, JobLock, JobState, job_hash, load_state, save_state
from ._errors import ConfigurationError, EllmerError, HTTPStatusError
from ._progress import Progress, progress_stream
from ._protocols import WireRequest
from ._protocols.batch import (
    EVERY_OTHER,
    BatchAnswer,
    BatchApi,
    BatchCall,
    BatchSteps,
    ItemResult,
    custom_id,
)
from ._turn import AssistantTurn, Turn, UserTurn

if TYPE_CHECKING:
    from ._chat import Chat
    from ._provider import Provider
    from ._structured import StructuredSpec

__all__ = ["BatchError", "BatchItemError", "BatchJob", "batch_api_of"]

_T = TypeVar("_T")
#: Polling: the first wait, each next one 1.5 times longer, up to the last.
FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 60.0


class BatchError(EllmerError):
    """A batch job cannot go on: the API's answers cannot be read, or a batch is lost."""


class BatchItemError(EllmerError):
    """One prompt of a batch failed; ``batch_chat()`` returns it in that prompt's slot.

    ``index`` is the prompt's position (0-based); ``status`` the HTTP status
    the API gave that request, where it gave one.
    """

    def __init__(
        self, message: str, *, index: int, provider: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.index = index


def batch_api_of(provider: Provider, function: str) -> BatchApi:
    """The provider's batch API; ConfigurationError naming those that have one, if none."""
    api = getattr(provider, "batch", None)
    if api is not None:
        return api  # type: ignore[no-any-return]
    from ._registry import _REGISTRY

    able = sorted(
        f"{getattr(s.chat_function, '__name__', s.name)}()"
        for s in _REGISTRY.specs().values()
        if s.batch is not None
    )
    raise ConfigurationError(
        f"{function}(): {provider.name} has no batch API. Batch requests work with "
        f"{', '.join(dict.fromkeys(able)) or 'no installed provider'}; for other providers "
        "use parallel_chat() instead."
    )


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


class BatchJob:
    """The job of one ``batch_chat*()`` call (R: ``BatchJob``)."""

    def __init__(
        self,
        chat: Chat,
        user_turns: Sequence[UserTurn],
        path: str | Path,
        *,
        function: str,
        spec: StructuredSpec | None = None,
        wait: bool = True,
        ignore_hash: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.chat = chat
        self.provider = chat.get_provider()
        self.api = batch_api_of(self.provider, function)
        self.function = function
        self.user_turns = list(user_turns)
        self.history: list[Turn] = chat.get_turns(include_system_prompt=True)
        self.path = Path(path)
        self.spec = spec
        self.wait = wait
        self.progress = progress
        self._items: dict[int, dict[str, Any]] = {}
        self._headers: dict[str, str] | None = None
        self._turns: dict[int, AssistantTurn | BatchItemError] = {}
        hashes = self._hash()
        self._lock = JobLock(self.path, function)
        try:
            saved = load_state(self.path)
            if saved is not None:
                self._check_hash(saved.hash, hashes, ignore_hash)
                if saved.chunks[-1].stop != len(self.user_turns):
                    raise ConfigurationError(
                        f"{function}(): {self.path} holds a job of {saved.chunks[-1].stop} "
                        f"prompts, not {len(self.user_turns)}. Pick another path."
                    )
        except BaseException:
            self.close()
            raise
        self._saved = saved is not None
        self._state = saved
        self._hashes = hashes

    def __enter__(self) -> BatchJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the job's lock: another call may run it now."""
        self._lock.release()

    @property
    def state(self) -> JobState:
        """The job's state: as saved, or (a new job) planned on first use."""
        if self._state is None:
            self._state = JobState(api=self.api.name, hash=self._hashes, started_at=time.time())
            self._state.chunks = self._plan()
        return self._state

    # -- the job's identity ------------------------------------------------------------

    def _hash(self) -> dict[str, str]:
        from ._serialize import contents_record

        p = self.provider
        schema = None
        if self.spec is not None:
            from ._protocols._schema import as_json_schema

            schema = as_json_schema(self.spec.sent)
        return job_hash(
            {"name": p.name, "model": p.model, "base_url": p.base_url},
            [contents_record(t) for t in self.user_turns],
            [contents_record(t) for t in self.history],
            schema,
        )

    def _check_hash(self, old: dict[str, str], new: dict[str, str], ignore: bool) -> None:
        differ = [k for k in new if old.get(k) != new[k]]
        if not differ:
            return
        what = " and ".join(differ)
        verb = "doesn't" if len(differ) == 1 else "don't"
        message = (
            f"{self.function}(): the {what} {verb} match those stored in {self.path}, which holds "
            "another job."
        )
        if ignore:
            import warnings

            warnings.warn(message, UserWarning, stacklevel=4)
            return
        raise ConfigurationError(
            f"{message} Pick a different path, or set ignore_hash=True to use the stored job "
            "anyway."
        )

    # -- requests ----------------------------------------------------------------------

    def _request(self, index: int) -> WireRequest:
        turns = [*self.history, self.user_turns[index]]
        sent = self.spec.sent if self.spec is not None else None
        return self.provider.request(turns, stream=False, type=sent)

    def _item(self, index: int) -> dict[str, Any]:
        item = self._items.pop(index, None)
        return item if item is not None else self.api.item(custom_id(index), self._request(index))

    def _plan(self) -> list[ChunkState]:
        """Split the prompts into batches within the API's limits."""
        if not self.user_turns:
            raise ConfigurationError(f"{self.function}(): prompts is empty; give at least one.")
        chunks: list[ChunkState] = []
        start, size = 0, 0
        for i in range(len(self.user_turns)):
            item = self.api.item(custom_id(i), self._request(i))
            self._items[i] = item
            line = len(json.dumps(item, ensure_ascii=False).encode("utf-8")) + 1
            if line > self.api.max_bytes:
                raise ConfigurationError(
                    f"{self.function}(): prompts[{i}] makes a request of {line:,} bytes, over "
                    f"the {self.api.max_bytes:,} bytes a batch may hold."
                )
            if i > start and (i - start >= self.api.max_items or size + line > self.api.max_bytes):
                chunks.append(ChunkState(start, i, uuid.uuid4().hex))
                start, size = i, 0
            size += line
        chunks.append(ChunkState(start, len(self.user_turns), uuid.uuid4().hex))
        return chunks

    def _protocol_headers(self) -> dict[str, str]:
        if self._headers is None:  # anthropic-version and the like go with every call
            self._headers = dict(self._request(0).headers)
        return self._headers

    def _send(self, call: BatchCall) -> BatchAnswer:
        provider = self.provider
        if call.path.startswith(("http://", "https://")):
            if not _same_origin(call.path, provider.base_url):
                raise BatchError(
                    f"{provider.name}: the batch API pointed at {urlsplit(call.path).netloc}, "
                    "another host than the provider's; credentials are not sent there.",
                    provider=provider.name,
                )
            url = call.path + (
                ("&" if "?" in call.path else "?") + urlencode(call.query) if call.query else ""
            )
        else:
            url = provider.url(WireRequest(path=call.path, body={}, query=call.query))
        request = WireRequest(
            path=call.path, body={}, headers={**self._protocol_headers(), **call.headers}
        )
        headers = provider.headers(request)
        headers = {k: v for k, v in headers.items() if k.lower() != "accept"}
        headers["Accept"] = call.accept  # the batch API's files need their own
        body: bytes | None
        if isinstance(call.body, bytes):
            body = call.body
            headers["Content-Type"] = call.content_type or "application/octet-stream"
        elif call.body is not None:
            body = json.dumps(call.body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        else:
            body = None
        try:
            headers = provider.authenticated(call.method, url, headers, body or b"")
            if call.method == "GET":  # a results file may be large: read as it comes, so
                # the time limit is on each gap in it, not on the whole download
                answer = provider.transport.stream(call.method, url, headers=headers)
                data, received = b"".join(answer), answer.headers
            else:
                data, received = provider.transport.request_bytes(
                    call.method, url, headers=headers, body=body
                )
        except EllmerError as exc:
            raise provider._failure(exc, ()) from None
        return BatchAnswer(data, received)

    def _steps(self, steps: BatchSteps[_T], chunk: ChunkState | None = None) -> _T:
        """Run one batch step to its end, sending each call it yields."""
        try:
            call = next(steps)
            while True:
                if call.creates and chunk is not None:
                    chunk.creating_since = time.time()
                    self.save()
                try:
                    answer = self._send(call)
                except HTTPStatusError as exc:
                    if call.creates and chunk is not None and (exc.status or 500) < 500:
                        chunk.creating_since = None  # refused: nothing was created
                        self.save()
                    raise
                call = steps.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except EllmerError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise BatchError(
                f"{self.provider.name}: the batch API's answer could not be read: {exc}",
                provider=self.provider.name,
            ) from None

    # -- the stages --------------------------------------------------------------------

    def save(self) -> None:
        """Write the state file (atomically)."""
        save_state(self.path, self.state)

    def _submit(self, chunk: ChunkState) -> None:
        count = chunk.stop - chunk.start
        if chunk.creating_since is not None:  # killed while creating it: was it made?
            found = self._steps(
                self.api.find(
                    chunk.tag, model=self.provider.model, count=count, since=chunk.creating_since
                )
            )
            if found is not None:
                chunk.batch, chunk.stage, chunk.creating_since = found, "waiting", None
                self.save()
                return
        items = [self._item(i) for i in range(chunk.start, chunk.stop)]
        batch = self._steps(self.api.submit(items, model=self.provider.model, tag=chunk.tag), chunk)
        chunk.batch, chunk.stage, chunk.creating_since = batch, "waiting", None
        self.save()

    def _poll(self, chunk: ChunkState) -> tuple[int, int]:
        """Poll a waiting batch; (answered, failed) so far."""
        assert chunk.batch is not None
        batch = self._steps(self.api.poll(chunk.batch))
        status = self.api.status(batch)
        chunk.batch = batch  # saved when it ends: a running batch is found again by its id,
        if not status.working:  # and the file (every answer so far) is not rewritten per poll
            chunk.stage = "retrieving"
            self.save()
        return status.done, status.failed

    def _retrieve(self, chunk: ChunkState) -> None:
        assert chunk.batch is not None
        found = self._steps(self.api.retrieve(chunk.batch))
        default = found.get(EVERY_OTHER, ItemResult(error="the batch returned no result for it"))
        results = {}
        for i in range(chunk.start, chunk.stop):
            cid = custom_id(i)
            results[cid] = found.get(cid, default).to_json()
        chunk.results, chunk.stage = results, "done"
        self.save()
        from ._tokens import log_turn

        for i in range(chunk.start, chunk.stop):  # R: logged once, on retrieval
            turn = self.turn(i)
            if isinstance(turn, AssistantTurn):
                log_turn(self.provider.name, self.provider.model, turn)

    def _counts(self, polled: dict[int, tuple[int, int]]) -> tuple[int, int]:
        done = failed = 0
        for n, chunk in enumerate(self.state.chunks):
            if chunk.stage in ("retrieving", "done") and chunk.results is not None:
                done += chunk.stop - chunk.start
                failed += sum(1 for r in chunk.results.values() if "doc" not in r)
            else:
                d, f = polled.get(n, (0, 0))
                done, failed = done + d, failed + f
        return done, failed

    def step_until_done(self) -> bool:
        """Take the job as far as it goes: True when every result is in (R: ``step_until_done``).

        Without ``wait``, every batch is polled once and False returned if
        any is still running.
        """
        for chunk in self.state.chunks:
            if chunk.stage == "submitting":
                self._submit(chunk)
        total = len(self.user_turns)
        bar = Progress(total, progress_stream(self.progress) if self.wait else None, self.function)
        bar.start = time.monotonic() - max(0.0, time.time() - self.state.started_at)
        delay = FIRST_WAIT_S
        polled: dict[int, tuple[int, int]] = {}
        try:
            while True:
                for n, chunk in enumerate(self.state.chunks):
                    if chunk.stage == "waiting":
                        polled[n] = self._poll(chunk)
                    if chunk.stage == "retrieving":
                        self._retrieve(chunk)
                if all(c.stage == "done" for c in self.state.chunks):
                    return True
                if not self.wait:
                    return False
                bar.update(*self._counts(polled), force=True)
                time.sleep(delay)
                delay = min(delay * 1.5, LONGEST_WAIT_S)
        finally:
            bar.close()

    def completed(self) -> bool:
        """Whether every result is ready to retrieve, polling once (R: ``batch_chat_completed``)."""
        if not self._saved:
            return False
        for chunk in self.state.chunks:
            if chunk.stage == "submitting":
                return False
            if chunk.stage == "waiting":
                self._poll(chunk)
                if chunk.stage == "waiting":
                    return False
        return True

    # -- results -----------------------------------------------------------------------

    def result(self, index: int) -> ItemResult:
        """Prompt ``index``'s stored outcome (the job must be done)."""
        chunk = next(c for c in self.state.chunks if c.start <= index < c.stop)
        assert chunk.results is not None
        return ItemResult.from_json(chunk.results[custom_id(index)])

    def turn(self, index: int) -> AssistantTurn | BatchItemError:
        """Prompt ``index``'s answer, priced at the batch price, or its error (read once)."""
        if index not in self._turns:
            self._turns[index] = self._read_turn(index)
        return self._turns[index]

    def _read_turn(self, index: int) -> AssistantTurn | BatchItemError:
        from ._tokens import price_turn
        from ._unreadable import check_turn

        name = self.provider.name
        result = self.result(index)
        if result.doc is None:
            return BatchItemError(
                f"{name}: {result.error}", index=index, provider=name, status=result.status
            )
        try:
            turn = self.provider.protocol.parse_response(result.doc)
            check_turn(turn, name)
        except Exception as exc:
            return BatchItemError(
                f"{name}: the answer could not be read: {exc}", index=index, provider=name
            )
        if self.spec is not None:
            from ._structured import json_turn

            turn = json_turn(turn)
        return price_turn(self.provider, turn, {}, self.api.price_factor)
