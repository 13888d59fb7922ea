"""AWS Bedrock Converse clients (``model/{modelId}/converse``): urllib3 floor, ellmer-py, boto3.

All three go to ``<root>/model/{modelId}/converse`` and ``.../converse-stream``
(an AWS event stream), where ``<root>`` is the bench URL without its
``/v1`` and the model id is percent-encoded (``:`` as ``%3A``), as the real
endpoint ``https://bedrock-runtime.{region}.amazonaws.com`` is addressed.
ellmer-py and boto3 are given explicit credentials and sign every request
with SigV4 (the signing is part of their per-request overhead); the floor
sends unsigned requests.  ``run.py`` runs every worker with the AWS
configuration files pointed at ``/dev/null``, the instance metadata service
disabled and no other ``AWS_*`` variables, so boto3 reads no local
configuration and nothing leaves the loopback.  Loaded by ``_clients`` only
when one of these clients is built, in the worker measuring it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _clients import PROMPT, Runner, root_url

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["BEDROCK_MODEL", "Boto3", "EllmerPy", "Urllib3"]

#: A Bedrock model id: its ``:`` is sent percent-encoded.
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
_KEY_ID = "AKIDBENCH"
_SECRET = "secret"
_REGION = "us-east-1"
_DELTA = b"contentBlockDelta"


class Urllib3(Runner):
    """The two Converse URLs with a PoolManager, unsigned; event-stream frames by hand.

    A frame is split off by its 4-byte total length; its headers are only
    searched for ``contentBlockDelta`` (the ``:event-type``), whose JSON
    payload carries the text.  No CRC is checked.
    """

    def __init__(self, base_url: str) -> None:
        import json
        from urllib.parse import quote

        import urllib3

        self._loads = json.loads
        self._pool = urllib3.PoolManager()
        model_url = f"{root_url(base_url)}/model/{quote(BEDROCK_MODEL, safe='')}"
        self._url = model_url + "/converse"
        self._stream_url = model_url + "/converse-stream"
        self._headers = {"Content-Type": "application/json"}
        body = {"messages": [{"role": "user", "content": [{"text": PROMPT}]}]}
        self._body = json.dumps(body).encode()

    def request(self) -> str:
        resp = self._pool.request("POST", self._url, body=self._body, headers=self._headers)
        blocks = self._loads(resp.data)["output"]["message"]["content"]
        return "".join(block.get("text", "") for block in blocks)

    def stream(self) -> Iterator[str]:
        resp = self._pool.request(
            "POST", self._stream_url, body=self._body, headers=self._headers, preload_content=False
        )
        loads = self._loads
        from_bytes = int.from_bytes
        pending = b""
        try:
            for data in resp.stream(65536):
                pending += data
                pos, size = 0, len(pending)
                while size - pos >= 12:
                    total = from_bytes(pending[pos : pos + 4], "big")
                    if size - pos < total:
                        break
                    headers_end = pos + 12 + from_bytes(pending[pos + 4 : pos + 8], "big")
                    if _DELTA in pending[pos + 12 : headers_end]:
                        text = loads(pending[headers_end : pos + total - 4])["delta"].get("text")
                        if text:
                            yield text
                    pos += total
                pending = pending[pos:]
        finally:
            resp.release_conn()


class EllmerPy(Runner):
    """``ellmer_py.chat_aws_bedrock`` (SigV4-signed); turns cleared before each call."""

    def __init__(self, base_url: str) -> None:
        from ellmer_py import AwsCredentials, chat_aws_bedrock

        self._chat = chat_aws_bedrock(
            base_url=root_url(base_url),
            model=BEDROCK_MODEL,
            credentials=lambda: AwsCredentials(_KEY_ID, _SECRET),
            echo="none",
        )

    def request(self) -> str:
        self._chat.set_turns([])
        text: str = self._chat.chat(PROMPT)
        return text

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(PROMPT)


class Boto3(Runner):
    """``boto3.client("bedrock-runtime", ...)``'s ``converse`` / ``converse_stream``.

    The stream is ``response["stream"]``, iterated for each
    ``contentBlockDelta``'s ``delta.text``.
    """

    def __init__(self, base_url: str) -> None:
        import boto3

        self._client = boto3.client(
            "bedrock-runtime",
            region_name=_REGION,
            endpoint_url=root_url(base_url),
            aws_access_key_id=_KEY_ID,
            aws_secret_access_key=_SECRET,
        )
        self._messages = [{"role": "user", "content": [{"text": PROMPT}]}]

    def request(self) -> str:
        resp = self._client.converse(modelId=BEDROCK_MODEL, messages=self._messages)
        return "".join(block.get("text", "") for block in resp["output"]["message"]["content"])

    def stream(self) -> Iterator[str]:
        resp = self._client.converse_stream(modelId=BEDROCK_MODEL, messages=self._messages)
        for event in resp["stream"]:
            delta = event.get("contentBlockDelta")
            if delta is not None:
                text = delta["delta"].get("text")
                if text:
                    yield text
