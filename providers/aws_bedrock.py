"""Models on AWS Bedrock through the Converse API (R: ``chat_aws_bedrock()``, R/provider-aws.R)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen

from ellmer_py.plugin import (
    AwsCredentialChain,
    AwsCredentialValue,
    BedrockConverse,
    Chat,
    ChatArgs,
    ConfigurationError,
    Echo,
    MissingCredentialsError,
    ModelPrices,
    Params,
    ProviderSpec,
    SigV4Auth,
    SystemPromptFallback,
    aws_credentials,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    list_model_rows,
    price_columns,
    resolve_region,
)

from .aws_bedrock_prices import price_of

__all__ = [
    "BedrockModel",
    "bedrock_endpoint",
    "chat_aws_bedrock",
    "models_aws_bedrock",
]

DEFAULT_MODEL = "us.anthropic.claude-sonnet-5"
#: R reads a Bedrock API key (bearer token) from these first.
BEARER_ENV = ("AWS_BEARER_TOKEN_BEDROCK", "AWS_BEARER_TOKEN")
#: SigV4's service name for both the runtime and the control plane.
SIGNING_SERVICE = "bedrock"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_CACHE = ("auto", "5m", "1h", "none")

#: AWS partitions: region prefix -> (DNS suffix, dual-stack DNS suffix or None).
_PARTITIONS: tuple[tuple[str, str, str | None], ...] = (
    ("cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    ("us-gov-", "amazonaws.com", "api.aws"),
    ("us-isob-", "sc2s.sgov.gov", None),
    ("us-isof-", "csp.hci.ic.gov", None),
    ("us-iso-", "c2s.ic.gov", None),
    ("eu-isoe-", "cloud.adc-e.uk", None),
    ("eusc-", "amazonaws.eu", None),
    ("", "amazonaws.com", "api.aws"),
)


def bedrock_endpoint(
    region: str | None,
    *,
    fips: bool = False,
    dualstack: bool = False,
    endpoint: str | None = None,
    service: str = "bedrock-runtime",
) -> str:
    """The endpoint URL for ``service`` in ``region``, by AWS's endpoint rules.

    FIPS puts ``-fips`` after the service; dual-stack uses the partition's
    dual-stack domain. A custom ``endpoint`` is used as it is, and cannot be
    combined with either. ConfigurationError for what AWS's rules refuse.
    """
    if endpoint:
        if fips:
            raise ConfigurationError(
                "Invalid Configuration: FIPS and custom endpoint are not supported"
            )
        if dualstack:
            raise ConfigurationError(
                "Invalid Configuration: Dualstack and custom endpoint are not supported"
            )
        return endpoint
    if not region:
        raise ConfigurationError("Invalid Configuration: Missing Region")
    if not _REGION.fullmatch(region):
        raise ConfigurationError(f"{region[:64]!r} is not an AWS region (such as 'us-east-1').")
    suffix, dual = next((s, d) for prefix, s, d in _PARTITIONS if region.startswith(prefix))
    if dualstack and dual is None:
        raise ConfigurationError(
            f"Invalid Configuration: DualStack is enabled but region {region} does not support it"
        )
    host = f"{service}-fips" if fips else service
    return f"https://{host}.{region}.{dual if dualstack else suffix}"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def _region(function: str, profile: str | None, base_url: str | None) -> str:
    """The signing region: the environment or profile, else the base URL's host, else refuse."""
    region = resolve_region(profile)
    if region:
        return region
    if base_url is not None:
        host = urlsplit(base_url).hostname or ""
        match = re.search(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.", host)
        return match.group(1) if match else "us-east-1"  # a custom endpoint signs for one
    raise ConfigurationError(
        f"{function}: no AWS region found: set AWS_REGION (for example 'us-east-1'), put "
        "`region =` in the profile of ~/.aws/config, or pass base_url=."
    )


def _default_credentials(profile: str | None) -> Callable[[], AwsCredentialValue]:
    """R's order: a Bedrock API key (bearer), then IAM credentials from AWS's chain."""
    return _DefaultCredentials(
        env_credentials("AWS/Bedrock", BEARER_ENV), AwsCredentialChain(profile)
    )


@frozen
class _DefaultCredentials:  # an object, not a closure, so that a chat pickles
    bearer: Callable[[], AwsCredentialValue]
    chain: AwsCredentialChain

    def __call__(self) -> AwsCredentialValue:
        bearer, chain = self.bearer, self.chain
        if any(os.environ.get(name, "").strip() for name in BEARER_ENV):
            return bearer()
        try:
            return chain.credentials()
        except MissingCredentialsError as exc:
            raise MissingCredentialsError(
                f"No AWS/Bedrock credentials found: set {BEARER_ENV[0]} or {BEARER_ENV[1]} "
                f"(a Bedrock API key), or IAM credentials. {exc}"
            ) from None


def chat_aws_bedrock(
    system_prompt: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    profile: str | None = None,
    cache: str = "auto",
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    echo: Echo | bool | None = None,
    *,
    credentials: Callable[[], AwsCredentialValue] | None = None,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model on AWS Bedrock, with the Converse API (R: ``chat_aws_bedrock()``).

    The default model is ``us.anthropic.claude-sonnet-5`` (a cross-region
    inference profile). Requests go to ``model/{id}/converse`` (and
    ``converse-stream``, an AWS event stream) at
    ``https://bedrock-runtime.{region}.amazonaws.com``, the region from
    ``AWS_REGION``, ``AWS_DEFAULT_REGION`` or the profile
    (``AWS_USE_FIPS_ENDPOINT`` / ``AWS_USE_DUALSTACK_ENDPOINT`` pick those
    endpoints). Credentials are found at the first request, in R's order: a
    Bedrock API key in ``AWS_BEARER_TOKEN_BEDROCK`` or ``AWS_BEARER_TOKEN``
    (a Bearer token); else IAM credentials, signed with SigV4: the
    ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``)
    variables, the ``profile`` (or ``AWS_PROFILE``) in the shared config and
    credentials files (static keys, ``credential_process``), and, with
    ``pip install 'ellmer-py[aws]'``, botocore's full chain (SSO,
    assume-role, instance and container credentials), refreshed before they
    expire. ``credentials=`` (keyword-only, not in R) replaces them: a
    function returning ``AwsCredentials``, a key or headers. ``cache``
    places cache points as R does (``"auto"``: 5 minutes for Claude and
    Nova models). Answers are priced from R's list prices
    (``aws_bedrock_prices.PRICES``) when the model id is in them as it is.
    """
    function = "chat_aws_bedrock"
    if cache not in _CACHE:
        raise ConfigurationError(f"{function}: cache must be one of {_CACHE}, not {cache!r}.")
    region = _region(function, profile, base_url)
    if base_url is None:
        base_url = bedrock_endpoint(
            region,
            fips=_flag("AWS_USE_FIPS_ENDPOINT"),
            dualstack=_flag("AWS_USE_DUALSTACK_ENDPOINT"),
        )
    creds = aws_credentials(function, _default_credentials(profile), credentials)
    args = ChatArgs.of({k: v for k, v in locals().items() if k != "credentials"})
    return build_chat(
        function,
        args,
        name="AWS/Bedrock",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=BedrockConverse(cache=cache),
        auth=SigV4Auth(creds, region=region, service=SIGNING_SERVICE),
        prices=ModelPrices(price_of),
    )


# -- models ----------------------------------------------------------------------------


@frozen
class BedrockModel:
    """One foundation model Bedrock offers, with R's list price if known.

    R: a ``models_aws_bedrock()`` row.
    """

    id: str
    name: str
    provider: str
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def models_aws_bedrock(
    profile: str | None = None,
    base_url: str | None = None,
    *,
    credentials: Callable[[], AwsCredentialValue] | None = None,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[BedrockModel]:
    """The foundation models, from the control plane's ``GET foundation-models`` (R's).

    The endpoint is ``https://bedrock.{region}.amazonaws.com``; as in R, a
    ``base_url`` of the runtime (``bedrock-runtime``, a chat's) is turned
    into it. The request is signed as chat requests are. Each model carries
    R's list price when its id is in ``aws_bedrock_prices.PRICES``.
    """
    function = "models_aws_bedrock"
    region = _region(function, profile, base_url)
    if base_url is None:
        base_url = bedrock_endpoint(
            region,
            fips=_flag("AWS_USE_FIPS_ENDPOINT"),
            dualstack=_flag("AWS_USE_DUALSTACK_ENDPOINT"),
            service="bedrock",
        )
    # R: ListFoundationModels is on the control plane (bedrock.*), not the runtime
    base_url = base_url.replace("bedrock-runtime", "bedrock", 1)
    creds = aws_credentials(function, _default_credentials(profile), credentials)
    url = base_url.rstrip("/") + "/foundation-models"
    auth = SigV4Auth(creds, region=region, service=SIGNING_SERVICE)
    headers = {**dict(api_headers or {}), "Accept": "application/json"}
    headers.update(auth.apply("GET", url, headers, b""))
    rows = list_model_rows(
        "AWS/Bedrock",
        url,
        headers,
        key="modelSummaries",
        max_tries=max_tries,
        timeout_s=timeout_s,
    )
    models = [
        BedrockModel(
            id=str(row.get("modelId", "")),
            name=str(row.get("modelName", "")),
            provider=str(row.get("providerName", "")),
            **price_columns(price_of(str(row.get("modelId", "")))),
        )
        for row in rows
        if row.get("modelId")
    ]
    return sorted(models, key=lambda m: m.id)


def _conformance_kwargs(base_url: str) -> Mapping[str, Any]:
    return {"base_url": base_url}


SPEC = ProviderSpec(
    name="aws_bedrock",
    chat_function=chat_aws_bedrock,
    protocol="bedrock-converse",
    default_model=DEFAULT_MODEL,
    credential_sources=(*BEARER_ENV, "AWS_ACCESS_KEY_ID", "AWS_PROFILE"),
    credential_env=BEARER_ENV,
    description="AWS Bedrock (Converse API), SigV4 or a Bedrock API key.",
    conformance_kwargs=_conformance_kwargs,
    models_function=models_aws_bedrock,
)
ALIAS_SPEC = ProviderSpec(
    name="bedrock",
    chat_function=chat_aws_bedrock,
    protocol="bedrock-converse",
    default_model=DEFAULT_MODEL,
    credential_sources=SPEC.credential_sources,
    credential_env=BEARER_ENV,
    description="Alias of aws_bedrock.",
    conformance_kwargs=_conformance_kwargs,
    models_function=models_aws_bedrock,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_aws_bedrock, and bedrock as its alias."""
    register(SPEC)
    register(ALIAS_SPEC)
