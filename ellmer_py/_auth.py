"""Authentication applied to a serialized request (the ``Auth`` side of the seam).

A credential is a key or a dict of headers (see ellmer_py._credentials);
:class:`HeaderAuth` puts a key in one header after a prefix
(``Authorization: Bearer <key>``, Anthropic's ``x-api-key: <key>``). Auth runs
after the body is serialized, so a signing scheme (AWS SigV4) can hash it.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from ._credentials import Credentials, auth_headers

__all__ = ["HeaderAuth"]


@frozen(repr=False)
class HeaderAuth:
    """A key from ``credentials`` in ``header`` after ``prefix``; a dict is sent as headers.

    ``credentials`` is called for every request, so rotating tokens work;
    None sends no authentication.
    """

    credentials: Credentials | None = field(eq=False)
    header: str = "Authorization"
    prefix: str = "Bearer "

    def __repr__(self) -> str:
        return f"HeaderAuth(header={self.header!r})"

    def apply(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """The headers that authenticate this request."""
        if self.credentials is None:
            return {}
        return auth_headers(self.credentials(), self.header, self.prefix)
