"""Google's Gemini models (R: ``chat_google_gemini()``, R/provider-google.R)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from attrs import frozen

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    ConfigurationError,
    CredentialValue,
    Echo,
    GeminiBatch,
    GeminiProtocol,
    MissingCredentialsError,
    ModelPrices,
    Params,
    Price,
    ProviderSpec,
    SystemPromptFallback,
    ToolBuiltIn,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    list_model_rows,
    model_list_headers,
    price_columns,
    reject_api_key,
)

__all__ = [
    "GoogleDefaultCredentials",
    "GoogleModel",
    "chat_google_gemini",
    "chat_google_vertex",
    "google_tool_web_fetch",
    "google_tool_web_search",
    "models_google_gemini",
    "models_google_vertex",
]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/"
DEFAULT_MODEL = "gemini-3.5-flash"
#: R reads GOOGLE_API_KEY first, then GEMINI_API_KEY.
ENV = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
_HINT = " Create a key at https://aistudio.google.com/apikey."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("Google/Gemini", ENV, hint=_HINT)


def chat_google_gemini(
    system_prompt: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    echo: Echo | bool | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a Google Gemini model (R: ``chat_google_gemini()``).

    The key comes from ``credentials``, or ``GOOGLE_API_KEY`` then
    ``GEMINI_API_KEY``, read at request time, and is sent as
    ``x-goog-api-key`` (never in the URL). The default model is
    ``gemini-3.5-flash``. Requests go to ``models/{model}:generateContent``
    (``:streamGenerateContent?alt=sse`` when streaming); ``params()`` go in
    ``generationConfig`` (``reasoning_tokens`` / ``reasoning_effort`` as
    ``thinkingConfig``).
    """
    reject_api_key("chat_google_gemini", api_key, env=ENV)
    return build_chat(
        "chat_google_gemini",
        ChatArgs.of(locals()),
        name="Google/Gemini",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol="gemini",
        default_credentials=_credentials(),
        auth_header="x-goog-api-key",
        auth_prefix="",
        prices=ModelPrices(price_of),
        batch=GeminiBatch(base_url=base_url),
    )


# -- Vertex AI ---------------------------------------------------------------------------

VERTEX_DEFAULT_MODEL = DEFAULT_MODEL
#: R reads the location and the project from these when they are not given.
VERTEX_ENV = ("GOOGLE_CLOUD_LOCATION", "GOOGLE_CLOUD_PROJECT")
#: The OAuth scope Vertex AI needs (R: ``default_google_credentials(variant = "vertex")``).
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_INSTALL = "pip install 'ellmer-py[google]'"
_LOCATION = re.compile(r"[a-z][a-z0-9-]*")
_PROJECT = re.compile(r"[a-z0-9][a-z0-9.:-]*")


def _vertex_place(function: str, location: str | None, project_id: str | None) -> tuple[str, str]:
    """``location`` and ``project_id``, from the arguments or R's environment variables, checked.

    Both end up in the URL (the location in the host name), so anything but
    Google's own spelling is refused rather than sent somewhere else.
    """
    values = []
    for arg, value, env, pattern in (
        ("location", location, VERTEX_ENV[0], _LOCATION),
        ("project_id", project_id, VERTEX_ENV[1], _PROJECT),
    ):
        if value is None:
            value = os.environ.get(env, "")
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(
                f"{function}: {arg} is empty; pass {arg}= or set the {env} environment variable"
                + (" (for example 'us-central1', or 'global')." if arg == "location" else ".")
            )
        value = value.strip()
        if not pattern.fullmatch(value):
            raise ConfigurationError(
                f"{function}: {arg} {value[:64]!r} is not a Google Cloud {arg.replace('_', ' ')}"
                + (
                    " (lower-case letters, digits and '-', such as 'us-central1' or 'global')."
                    if arg == "location"
                    else " (lower-case letters, digits, '-', and 'domain.com:' before it)."
                )
            )
        values.append(value)
    return values[0], values[1]


def _vertex_host(location: str) -> str:
    # R: google_location(): the global endpoint has no location prefix
    prefix = "" if location == "global" else f"{location}-"
    return f"https://{prefix}aiplatform.googleapis.com"


def vertex_url(location: str, project_id: str) -> str:
    """The Vertex AI base URL for a location and project (R: ``vertex_url()``)."""
    return (
        f"{_vertex_host(location)}/v1/projects/{quote(project_id, safe=':')}"
        f"/locations/{location}/publishers/google/"
    )


class GoogleDefaultCredentials:
    """Google's application default credentials, refreshed before they expire.

    Port of R's ``default_google_credentials(variant = "vertex")``: the
    credentials are found with ``google.auth.default()`` (the optional
    ``ellmer-py[google]`` extra, imported at the first request, not before),
    so construction works offline. Each call returns the headers of a valid
    token: ``Authorization: Bearer ...`` and, when the credentials name a
    quota project, ``x-goog-user-project``. google-auth counts a token that
    expires within a few minutes as invalid, and it is then refreshed.
    """

    def __init__(self, function: str = "chat_google_vertex", scope: str = CLOUD_PLATFORM_SCOPE):
        self._function = function
        self._scope = scope
        self._lock = threading.Lock()
        self._credentials: Any = None

    def __repr__(self) -> str:
        return f"GoogleDefaultCredentials(scope={self._scope!r})"

    def __getstate__(self) -> dict[str, Any]:
        """The scope only: a pickled chat finds the credentials again where it runs."""
        return {"_function": self._function, "_scope": self._scope}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["_function"], state["_scope"])  # type: ignore[misc]

    def _load(self) -> Any:
        try:
            import google.auth
            import google.auth.exceptions
        except ImportError:
            raise MissingCredentialsError(
                f"{self._function}: Google application default credentials need the google-auth "
                f"package, which is not installed. Run: {_INSTALL} (or pass credentials=)."
            ) from None
        try:
            credentials, _ = google.auth.default(scopes=[self._scope])
        except google.auth.exceptions.DefaultCredentialsError as error:
            reason = str(error).splitlines()[0][:300] if str(error) else ""
            raise MissingCredentialsError(
                f"{self._function}: no Google application default credentials were found"
                + (f" ({reason})" if reason else "")
                + ". Run `gcloud auth application-default login`, set "
                "GOOGLE_APPLICATION_CREDENTIALS to a key file, or pass credentials=."
            ) from None
        return credentials

    def _refresh(self, credentials: Any) -> None:
        import google.auth.exceptions
        import urllib3
        from google.auth.transport.urllib3 import Request

        http = urllib3.PoolManager(timeout=urllib3.Timeout(total=60))
        try:
            credentials.refresh(Request(http))  # type: ignore[no-untyped-call]
        except google.auth.exceptions.GoogleAuthError as error:
            # the message may quote the token server; name the kind of failure only
            raise MissingCredentialsError(
                f"{self._function}: Google refused to refresh the application default "
                f"credentials ({type(error).__name__}). Run `gcloud auth application-default "
                "login` again, or check the key file in GOOGLE_APPLICATION_CREDENTIALS."
            ) from None
        finally:
            http.clear()

    def __call__(self) -> CredentialValue:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._load()
            credentials = self._credentials
            if not credentials.valid:
                self._refresh(credentials)
            headers = {"Authorization": f"Bearer {credentials.token}"}
            quota = getattr(credentials, "quota_project_id", None)
            if isinstance(quota, str) and quota:
                headers["x-goog-user-project"] = quota
            return headers


def chat_google_vertex(
    location: str | None = None,
    project_id: str | None = None,
    system_prompt: str | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    echo: Echo | bool | None = None,
    *,
    credentials: Callable[[], CredentialValue] | None = None,
    base_url: str | None = None,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a Gemini model on Google Cloud's Vertex AI (R: ``chat_google_vertex()``).

    ``location`` and ``project_id`` default to ``GOOGLE_CLOUD_LOCATION`` and
    ``GOOGLE_CLOUD_PROJECT``, as in R; the base URL is R's
    (``https://{location}-aiplatform.googleapis.com/v1/projects/{project}/
    locations/{location}/publishers/google/``, no prefix for ``global``).
    Authentication uses Google's application default credentials through
    the optional ``ellmer-py[google]`` extra (google-auth), refreshed before
    they expire; ``credentials=`` (a token, or a dict of headers) replaces
    them. Keyword-only ``base_url`` (not in R) points it elsewhere.
    """
    location, project_id = _vertex_place("chat_google_vertex", location, project_id)
    return build_chat(
        "chat_google_vertex",
        ChatArgs.of(locals()),
        name="Google/Vertex",
        model=default_model(model, VERTEX_DEFAULT_MODEL),
        base_url=base_url or vertex_url(location, project_id),
        # Vertex AI refuses toolConfig.includeServerSideToolInvocations (R:
        # has_google_mixed_tool_support())
        protocol=GeminiProtocol(vertex=True),
        default_credentials=GoogleDefaultCredentials("chat_google_vertex"),
        prices=ModelPrices(price_of),
    )


# -- built-in tools ------------------------------------------------------------------


def google_tool_web_search() -> ToolBuiltIn:
    """Let Gemini search the web with Google Search (R: ``google_tool_web_search()``).

    Register it with ``chat.register_tool()``; the grounding data comes back
    in the turn's ``json`` (``groundingMetadata``).
    """
    return ToolBuiltIn(
        name="web_search",
        json={"google_search": {}},
        description="Search the web for up-to-date information.",
        annotations={"title": "Web search", "read_only_hint": True, "open_world_hint": True},
    )


def google_tool_web_fetch() -> ToolBuiltIn:
    """Let Gemini read URLs that appear in the conversation (R: ``google_tool_web_fetch()``)."""
    return ToolBuiltIn(
        name="web_fetch",
        json={"url_context": {}},
        description="Fetch and analyze content from a web URL.",
        annotations={"title": "Web fetch", "read_only_hint": True, "open_world_hint": True},
    )


# -- prices ----------------------------------------------------------------------------

#: Google's list prices (paid tier, prompts up to 200k tokens), US dollars per
#: million tokens: (model pattern, input, output, cached input). More specific first.
PRICES: tuple[tuple[str, float, float, float], ...] = (
    (r"gemini-3(\.\d)?-pro.*", 2.00, 12.00, 0.20),
    (r"gemini-3(\.\d)?-flash-lite.*", 0.10, 0.40, 0.01),
    (r"gemini-3(\.\d)?-flash.*", 0.50, 3.00, 0.05),
    (r"gemini-2\.5-pro.*", 1.25, 10.00, 0.125),
    (r"gemini-2\.5-flash-lite.*", 0.10, 0.40, 0.01),
    (r"gemini-2\.5-flash.*", 0.30, 2.50, 0.03),
    (r"gemini-2\.0-flash-lite.*", 0.075, 0.30, 0.01875),
    (r"gemini-2\.0-flash.*", 0.10, 0.40, 0.025),
    (r"gemini-1\.5-pro.*", 1.25, 5.00, 0.3125),
    (r"gemini-1\.5-flash.*", 0.075, 0.30, 0.01875),
)


def price_of(model: str) -> Price | None:
    """The list price of a Gemini model, or None for a model not in the table."""
    model = model.removeprefix("models/")
    for pattern, input_price, output_price, cached in PRICES:
        if re.fullmatch(pattern, model):
            return Price(input_price, output_price, cached)
    return None


# -- models ----------------------------------------------------------------------------


@frozen
class GoogleModel:
    """One model Gemini serves, with its list price if known (R: ``models_google_gemini()``)."""

    id: str
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def models_google_gemini(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[GoogleModel]:
    """The models that can ``generateContent``, by id (R: ``models_google_gemini()``).

    Every page of ``GET models`` is read. Prices come from :data:`PRICES`.
    """
    reject_api_key("models_google_gemini", api_key, env=ENV)
    headers = model_list_headers(
        "models_google_gemini",
        _credentials(),
        credentials,
        api_headers,
        env=ENV,
        header="x-goog-api-key",
        prefix="",
    )
    rows = _pages("Google/Gemini", base_url, "models", headers, max_tries, timeout_s)
    ids = []
    for row in rows:
        methods = row.get("supportedGenerationMethods")
        if isinstance(methods, list) and "generateContent" in methods:
            ids.append(str(row.get("name", "")).removeprefix("models/"))
    return _priced(ids)


#: The location and project in a Vertex AI base URL (see :func:`vertex_url`).
_VERTEX_PLACE = re.compile(r"/projects/([^/]+)/locations/([^/]+)/")


def models_google_vertex(
    location: str | None = None,
    project_id: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    base_url: str | None = None,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[GoogleModel]:
    """Google's models on Vertex AI that can generate content (R: ``models_google_vertex()``).

    Reads ``GET publishers/google/models`` (v1beta1) with the project in
    ``x-goog-user-project``, keeps the models offering
    ``openGenerationAiStudio`` as R does, every page. A ``base_url`` that
    names a project and location (a chat's, as R's ``models_list()`` uses
    it) gives them when they are not passed.
    """
    found = _VERTEX_PLACE.search(base_url or "")
    if found is not None:
        location = location if location is not None else unquote(found.group(2))
        project_id = project_id if project_id is not None else unquote(found.group(1))
    location, project_id = _vertex_place("models_google_vertex", location, project_id)
    headers = model_list_headers(
        "models_google_vertex",
        GoogleDefaultCredentials("models_google_vertex"),
        credentials,
        {**dict(api_headers or {}), "x-goog-user-project": project_id},
    )
    root = base_url or f"{_vertex_host(location)}/v1beta1/publishers/google/"
    rows = _pages("Google/Vertex", root, "publisherModels", headers, max_tries, timeout_s)
    ids = []
    for row in rows:
        actions = row.get("supportedActions")
        if isinstance(actions, Mapping) and "openGenerationAiStudio" in actions:
            ids.append(str(row.get("name", "")).removeprefix("publishers/google/models/"))
    return _priced(ids)


def _pages(
    name: str,
    base_url: str,
    key: str,
    headers: Mapping[str, str],
    max_tries: int | None,
    timeout_s: float | None,
) -> list[Mapping[str, Any]]:
    """Every row under ``key`` of ``GET models``, following ``nextPageToken``."""
    root = base_url.rstrip("/") + "/models?pageSize=1000"

    def next_page(doc: Mapping[str, Any], page: list[Mapping[str, Any]]) -> str | None:
        token = doc.get("nextPageToken")
        return (
            f"{root}&pageToken={quote(token, safe='')}"
            if isinstance(token, str) and token
            else None
        )

    return list_model_rows(
        name, root, headers, key=key, next_page=next_page, max_tries=max_tries, timeout_s=timeout_s
    )


def _priced(ids: list[str]) -> list[GoogleModel]:
    return [GoogleModel(id=i, **price_columns(price_of(i))) for i in sorted(ids)]


def _conformance_kwargs(base_url: str) -> Mapping[str, Any]:
    return {"base_url": base_url}


SPEC = ProviderSpec(
    name="google_gemini",
    batch=GeminiBatch(),
    chat_function=chat_google_gemini,
    protocol="gemini",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Google Gemini (generativelanguage.googleapis.com), generateContent.",
    conformance_kwargs=_conformance_kwargs,
    models_function=models_google_gemini,
)
GEMINI_SPEC = ProviderSpec(
    name="gemini",
    batch=GeminiBatch(),
    chat_function=chat_google_gemini,
    protocol="gemini",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Alias of google_gemini.",
    conformance_kwargs=_conformance_kwargs,
    models_function=models_google_gemini,
)


VERTEX_SPEC = ProviderSpec(
    name="google_vertex",
    chat_function=chat_google_vertex,
    protocol="gemini",
    default_model=VERTEX_DEFAULT_MODEL,
    description="Gemini on Google Cloud Vertex AI (application default credentials).",
    conformance_kwargs=lambda base_url: {
        "base_url": base_url,
        "location": "us-central1",
        "project_id": "conformance",
    },
    models_function=models_google_vertex,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_google_gemini (gemini as its alias) and chat_google_vertex."""
    register(SPEC)
    register(GEMINI_SPEC)
    register(VERTEX_SPEC)
