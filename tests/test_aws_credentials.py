"""Tests of where AWS credentials and the region come from (``ellmer_py._aws_credentials``).

Every test passes an explicit ``environ`` and writes its AWS files under
``tmp_path``; the real ``~/.aws`` and the network are never touched (the
process environment is scrubbed of ``AWS_*`` and instance metadata is switched
off, for the tests that reach botocore).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import types
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import _aws_credentials as aws
from ellmer_py._aws_credentials import AwsCredentialChain, resolve_region
from ellmer_py._errors import ConfigurationError, MissingCredentialsError

SECRET = "wJalrXUtnFEMI-SECRET-do-not-print-42"
TOKEN = "FwoGZXIvYXdzE-TOKEN-do-not-print-42"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)

#: The credential_process stand-in: counts its runs in argv[1] and answers with the
#: n-th (else the last) entry of the JSON list in argv[2]; ``_stdout``, ``_stderr`` and
#: ``_exit`` in an entry say what to print instead and how to exit.
SCRIPT = """\
import json, pathlib, sys, time
count = pathlib.Path(sys.argv[1])
n = len(count.read_text().splitlines()) if count.exists() else 0
count.write_text("run\\n" * (n + 1))
answers = json.loads(pathlib.Path(sys.argv[2]).read_text())
answer = answers[min(n, len(answers) - 1)]
time.sleep(answer.pop("_sleep", 0))
code = answer.pop("_exit", 0)
sys.stderr.write(answer.pop("_stderr", ""))
sys.stdout.write(answer.pop("_stdout", None) or json.dumps(answer))
sys.exit(code)
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS_* from the real environment, no real ~/.aws, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def no_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the ``[aws]`` extra were not installed."""
    monkeypatch.setattr(aws, "_import_botocore", lambda: None)


def aws_files(
    tmp_path: Path, credentials: str = "", config: str = "", **env: str
) -> dict[str, str]:
    """An environ whose AWS files hold ``credentials`` and ``config`` (absent when empty)."""
    paths = {"AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config}
    environ = {}
    for var, text in paths.items():
        path = tmp_path / var.lower()
        if text:
            path.write_text(text, encoding="utf-8")
        environ[var] = str(path)
    return {**environ, **env}


def process(tmp_path: Path, *answers: dict[str, Any]) -> tuple[str, Callable[[], int]]:
    """A credential_process command line and a function that counts its runs."""
    script, count, answers_file = (tmp_path / n for n in ("proc.py", "count", "answers.json"))
    script.write_text(SCRIPT, encoding="utf-8")
    answers_file.write_text(json.dumps(list(answers)), encoding="utf-8")

    def runs() -> int:
        return len(count.read_text().splitlines()) if count.exists() else 0

    return shlex.join([sys.executable, str(script), str(count), str(answers_file)]), runs


def keys(section: str, key: str) -> str:
    """An INI section with a static key."""
    return f"[{section}]\naws_access_key_id = {key}\naws_secret_access_key = {SECRET}\n"


def answer(key: str = "AKIDPROC", expires: datetime | None = None, **extra: Any) -> dict[str, Any]:
    out = {"Version": 1, "AccessKeyId": key, "SecretAccessKey": SECRET, "SessionToken": TOKEN}
    if expires is not None:
        out["Expiration"] = expires.isoformat().replace("+00:00", "Z")
    return {**out, **extra}


def failure(chain: AwsCredentialChain) -> str:
    with pytest.raises(MissingCredentialsError) as info:
        chain.credentials()
    message = str(info.value)
    assert SECRET not in message and TOKEN not in message
    assert SECRET not in repr(info.value)
    return message


# -- 1. the environment -------------------------------------------------------


def test_env_keys() -> None:
    creds = AwsCredentialChain(
        environ={"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": SECRET}
    ).credentials()
    assert (creds.access_key_id, creds.secret_access_key) == ("AKENV", SECRET)
    assert creds.session_token is None and creds.expiry is None


def test_env_session_token_and_expiration() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "AKENV",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        "AWS_CREDENTIAL_EXPIRATION": "2030-01-01T14:00:00+02:00",
    }
    creds = AwsCredentialChain(environ=environ).credentials()
    assert creds.session_token == TOKEN
    assert creds.expiry == T0


def test_env_half_a_key_is_an_error(tmp_path: Path) -> None:
    environ = aws_files(tmp_path, keys("default", "AKF"))
    message = failure(AwsCredentialChain(environ={**environ, "AWS_SECRET_ACCESS_KEY": SECRET}))
    assert "AWS_SECRET_ACCESS_KEY is set in the environment but AWS_ACCESS_KEY_ID is not" in message


def test_env_bad_expiration_names_the_variable() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_CREDENTIAL_EXPIRATION": "soon",
    }
    with pytest.raises(ConfigurationError, match="AWS_CREDENTIAL_EXPIRATION"):
        AwsCredentialChain(environ=environ).credentials()


def test_env_keys_win_over_aws_profile(tmp_path: Path) -> None:
    environ = aws_files(
        tmp_path,
        keys("dev", "AKFILE"),
        AWS_PROFILE="dev",
        AWS_ACCESS_KEY_ID="AKENV",
        AWS_SECRET_ACCESS_KEY=SECRET,
    )
    assert AwsCredentialChain(environ=environ).credentials().access_key_id == "AKENV"


def test_profile_argument_wins_over_env_keys(tmp_path: Path) -> None:
    environ = aws_files(
        tmp_path,
        keys("dev", "AKFILE"),
        AWS_ACCESS_KEY_ID="AKENV",
        AWS_SECRET_ACCESS_KEY=SECRET,
    )
    assert AwsCredentialChain("dev", environ=environ).credentials().access_key_id == "AKFILE"


# -- 2. the shared files --------------------------------------------------------


def test_credentials_file_default_profile_with_session_token(tmp_path: Path) -> None:
    text = f"{keys('default', 'AKFILE')}aws_session_token = {TOKEN}\n"
    creds = AwsCredentialChain(environ=aws_files(tmp_path, text)).credentials()
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "AKFILE",
        SECRET,
        TOKEN,
    )
    assert creds.expiry is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AWS_PROFILE": "a"}, "AKA"),
        ({"AWS_DEFAULT_PROFILE": "b"}, "AKB"),
        ({"AWS_PROFILE": "a", "AWS_DEFAULT_PROFILE": "b"}, "AKA"),
        ({}, "AKDEFAULT"),
    ],
)
def test_profile_name_order(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    text = "".join(keys(name, f"AK{name.upper()}") for name in ("a", "b", "default"))
    assert (
        AwsCredentialChain(environ=aws_files(tmp_path, text, **env)).credentials().access_key_id
        == expected
    )


def test_config_file_keys_use_profile_sections(tmp_path: Path) -> None:
    config = keys("dev", "AKWRONG") + keys("profile dev", "AKDEV") + keys("default", "AKDEF")
    environ = aws_files(tmp_path, config=config)
    assert AwsCredentialChain("dev", environ=environ).credentials().access_key_id == "AKDEV"
    assert AwsCredentialChain(environ=environ).credentials().access_key_id == "AKDEF"


def test_credentials_file_wins_over_process_and_config(tmp_path: Path) -> None:
    command, runs = process(tmp_path, answer())
    environ = aws_files(
        tmp_path,
        keys("dev", "AKCRED"),
        keys("profile dev", "AKCONF") + f"credential_process = {command}\n",
    )
    assert AwsCredentialChain("dev", environ=environ).credentials().access_key_id == "AKCRED"
    assert runs() == 0


def test_process_wins_over_config_keys(tmp_path: Path) -> None:
    command, runs = process(tmp_path, answer())
    config = keys("profile dev", "AKCONF") + f"credential_process = {command}\n"
    creds = AwsCredentialChain("dev", environ=aws_files(tmp_path, config=config)).credentials()
    assert creds.access_key_id == "AKIDPROC"
    assert runs() == 1


def test_half_a_key_in_a_file_is_an_error(tmp_path: Path) -> None:
    environ = aws_files(tmp_path, f"[default]\naws_secret_access_key = {SECRET}\n")
    message = failure(AwsCredentialChain(environ=environ))
    assert "aws_secret_access_key is set in profile 'default' of" in message
    assert "aws_access_key_id is not" in message


def test_nested_sub_sections_are_tolerated(tmp_path: Path) -> None:
    config = (
        "[profile dev]\nregion = eu-west-3\n"
        "s3 =\n  max_concurrent_requests = 20\n  addressing_style = path\n"
        f"aws_access_key_id = AKDEV\naws_secret_access_key = {SECRET}\n"
    )
    environ = aws_files(tmp_path, config=config)
    assert AwsCredentialChain("dev", environ=environ).credentials().access_key_id == "AKDEV"
    assert resolve_region("dev", environ=environ) == "eu-west-3"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"aws_secret_access_key = {SECRET}\n", "line 1"),
        (f"[default]\nregion = x\n{SECRET}\n", "line 3"),
    ],
)
def test_malformed_file_names_file_and_line_not_values(
    tmp_path: Path, text: str, line: str
) -> None:
    environ = aws_files(tmp_path, config=text)
    for call in (
        lambda: AwsCredentialChain(environ=environ).credentials(),
        lambda: resolve_region(environ=environ),
    ):
        with pytest.raises(ConfigurationError) as info:
            call()
        assert environ["AWS_CONFIG_FILE"] in str(info.value) and line in str(info.value)
        assert SECRET not in str(info.value)
        assert info.value.__context__ is None and info.value.__cause__ is None


# -- credential_process --------------------------------------------------------


def test_process_success_with_token_and_expiry(tmp_path: Path) -> None:
    command, _ = process(tmp_path, answer(expires=T0))
    environ = aws_files(tmp_path, config=f"[default]\ncredential_process = {command}\n")
    creds = AwsCredentialChain(environ=environ, clock=lambda: T0 - timedelta(hours=1)).credentials()
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "AKIDPROC",
        SECRET,
        TOKEN,
    )
    assert creds.expiry == T0 and creds.expiry.tzinfo is not None


def test_process_in_the_credentials_file(tmp_path: Path) -> None:
    command, runs = process(tmp_path, answer(SessionToken=None))
    creds = AwsCredentialChain(
        environ=aws_files(tmp_path, f"[default]\ncredential_process = {command}\n")
    ).credentials()
    assert creds.session_token is None and runs() == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            {"_exit": 3, "_stderr": "token expired, run login\nsecond line\n", "_stdout": SECRET},
            "exit status 3: token expired, run login",
        ),
        ({"_stdout": f"not json {SECRET}"}, "it did not print JSON"),
        ({"_stdout": json.dumps([SECRET])}, "it did not print a JSON object"),
        (answer(Version=2), "does not have Version 1"),
        ({"Version": 1, "SessionToken": TOKEN}, "lacks AccessKeyId, SecretAccessKey"),
        (answer(SecretAccessKey=""), "lacks SecretAccessKey"),
        (answer(Expiration="tomorrow"), "Expiration is not an ISO 8601 time"),
    ],
)
def test_process_failures(
    tmp_path: Path, no_botocore: None, reply: dict[str, Any], expected: str
) -> None:
    command, runs = process(tmp_path, reply)
    environ = aws_files(tmp_path, config=f"[profile dev]\ncredential_process = {command}\n")
    message = failure(AwsCredentialChain("dev", environ=environ))
    assert message.startswith("The credential_process of AWS profile 'dev' failed: ")
    assert expected in message
    assert "second line" not in message
    assert runs() == 1


def test_process_timeout(tmp_path: Path) -> None:
    command, _ = process(tmp_path, answer(_sleep=30))
    environ = aws_files(tmp_path, config=f"[default]\ncredential_process = {command}\n")
    assert "did not finish within 0.5 s" in failure(
        AwsCredentialChain(environ=environ, process_timeout=0.5)
    )


def test_process_not_found_and_unsplittable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-program"
    environ = aws_files(
        tmp_path, config=f"[default]\ncredential_process = {missing} --token {SECRET}\n"
    )
    message = failure(AwsCredentialChain(environ=environ))
    assert "could not start" in message and str(missing) in message
    environ = aws_files(tmp_path, config=f"[default]\ncredential_process = 'unclosed {SECRET}\n")
    with pytest.raises(ConfigurationError, match="cannot be split into words") as info:
        AwsCredentialChain(environ=environ).credentials()
    assert SECRET not in str(info.value)


# -- caching, refreshing, laziness --------------------------------------------------


def test_expiry_leads_to_a_refresh(tmp_path: Path) -> None:
    command, runs = process(
        tmp_path, answer("AK1", T0 + timedelta(hours=1)), answer("AK2", T0 + timedelta(hours=2))
    )
    now = [T0]
    chain = AwsCredentialChain(
        environ=aws_files(tmp_path, config=f"[default]\ncredential_process = {command}\n"),
        clock=lambda: now[0],
    )
    assert chain.credentials().access_key_id == "AK1" and runs() == 1
    now[0] = T0 + timedelta(minutes=54)
    assert chain.credentials().access_key_id == "AK1" and runs() == 1  # cached
    now[0] = T0 + timedelta(minutes=55)  # inside the 5-minute margin
    assert chain.credentials().access_key_id == "AK2" and runs() == 2
    assert chain.credentials().access_key_id == "AK2" and runs() == 2


def test_refresh_margin_is_configurable(tmp_path: Path) -> None:
    command, runs = process(tmp_path, answer(expires=T0 + timedelta(hours=1)))
    environ = aws_files(tmp_path, config=f"[default]\ncredential_process = {command}\n")
    chain = AwsCredentialChain(environ=environ, clock=lambda: T0, refresh_margin=timedelta(hours=2))
    chain.credentials()
    chain.credentials()
    assert runs() == 2


def test_credentials_without_expiry_are_kept(tmp_path: Path) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AK1", "AWS_SECRET_ACCESS_KEY": SECRET}
    chain = AwsCredentialChain(environ=environ, clock=lambda: T0 + timedelta(days=9999))
    first = chain.credentials()
    environ["AWS_ACCESS_KEY_ID"] = "AK2"
    assert chain.credentials() is first


def test_one_resolution_for_many_threads(tmp_path: Path) -> None:
    command, runs = process(tmp_path, answer(expires=T0 + timedelta(hours=1)))
    environ = aws_files(tmp_path, config=f"[default]\ncredential_process = {command}\n")
    chain = AwsCredentialChain(environ=environ, clock=lambda: T0)
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(chain.credentials().access_key_id))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == ["AKIDPROC"] * 8 and runs() == 1


def test_construction_does_no_io(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("I/O at construction")

    monkeypatch.setattr(aws, "_read_ini", forbidden)
    monkeypatch.setattr(aws, "_import_botocore", forbidden)
    monkeypatch.setattr(subprocess, "run", forbidden)
    environ = {"AWS_CONFIG_FILE": str(tmp_path / "nowhere" / "config"), "AWS_PROFILE": "ghost"}
    chain = AwsCredentialChain("ghost", environ=environ)
    AwsCredentialChain()
    assert repr(chain) == "AwsCredentialChain(profile='ghost')"


def test_environ_none_reads_os_environ_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = AwsCredentialChain()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKLATE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert chain.credentials().access_key_id == "AKLATE"
    assert SECRET not in repr(chain) and SECRET not in repr(chain.credentials())


# -- nothing found ----------------------------------------------------------------


def test_message_lists_what_was_looked_for_without_botocore(
    tmp_path: Path, no_botocore: None
) -> None:
    environ = aws_files(
        tmp_path,
        keys("other", "AKOTHER"),
        "[profile dev]\nregion = us-east-1\n",
        AWS_PROFILE="dev",
        AWS_SESSION_TOKEN=TOKEN,
    )
    message = failure(AwsCredentialChain(environ=environ))
    expected = [
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN): not set",
        "profile 'dev' (AWS_PROFILE) in the shared credentials file "
        f"{environ['AWS_SHARED_CREDENTIALS_FILE']} (no such profile)",
        f"the config file {environ['AWS_CONFIG_FILE']} (no keys)",
        "credential_process: not set in the profile",
        "for SSO, assume-role, instance or container credentials: pip install 'ellmer-py[aws]'",
    ]
    positions = [message.index(part) for part in expected]
    assert positions == sorted(positions)
    assert "AKOTHER" not in message


def test_message_with_no_files_and_explicit_profile(tmp_path: Path, no_botocore: None) -> None:
    environ = aws_files(tmp_path, AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY=SECRET)
    message = failure(AwsCredentialChain("dev", environ=environ))
    assert "skipped, a profile was passed" in message
    assert "profile 'dev' (the profile argument)" in message
    assert message.count("(no such file)") == 2


def test_message_when_botocore_finds_nothing(tmp_path: Path) -> None:
    message = failure(AwsCredentialChain(environ=aws_files(tmp_path)))
    assert "profile 'default' (the default)" in message
    assert message.rstrip().endswith("botocore's chain found nothing")
    assert "pip install" not in message


def test_role_profile_is_left_to_botocore(tmp_path: Path, no_botocore: None) -> None:
    environ = aws_files(
        tmp_path,
        keys("dev", "AKSOURCE"),
        "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = dev\n",
    )
    message = failure(AwsCredentialChain("dev", environ=environ))
    assert "the profile uses role_arn, which only botocore handles" in message
    assert "pip install 'ellmer-py[aws]'" in message


# -- 3. botocore ------------------------------------------------------------------

botocore_session = pytest.importorskip("botocore.session")


def test_botocore_runs_a_config_credential_process(tmp_path: Path) -> None:
    command, runs = process(
        tmp_path, answer(expires=datetime.now(timezone.utc) + timedelta(hours=1))
    )
    environ = aws_files(tmp_path, config=f"[profile proc]\ncredential_process = {command}\n")
    paths = (Path(environ["AWS_SHARED_CREDENTIALS_FILE"]), Path(environ["AWS_CONFIG_FILE"]))
    creds = aws._from_botocore(botocore_session, "proc", paths)
    assert creds is not None and runs() == 1
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "AKIDPROC",
        SECRET,
        TOKEN,
    )
    assert creds.expiry is not None and creds.expiry.utcoffset() == timedelta(0)


def test_botocore_failure_shows_no_secret(tmp_path: Path) -> None:
    command, _ = process(
        tmp_path, {"_exit": 1, "_stderr": "login needed\nmore\n", "_stdout": SECRET}
    )
    environ = aws_files(tmp_path, config=f"[profile proc]\ncredential_process = {command}\n")
    paths = (Path(environ["AWS_SHARED_CREDENTIALS_FILE"]), Path(environ["AWS_CONFIG_FILE"]))
    with pytest.raises(
        MissingCredentialsError, match="botocore could not get AWS credentials"
    ) as info:
        aws._from_botocore(botocore_session, "proc", paths)
    assert (
        "login needed" in str(info.value)
        and SECRET not in str(info.value)
        and "more" not in str(info.value)
    )
    assert info.value.__context__ is None


def test_chain_reaches_botocore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore reads the process environment, which this chain's environ does not show.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKBOTO")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert AwsCredentialChain(environ=aws_files(tmp_path)).credentials().access_key_id == "AKBOTO"


def test_botocore_unknown_profile_is_nothing_found(tmp_path: Path) -> None:
    message = failure(AwsCredentialChain("ghost", environ=aws_files(tmp_path)))
    assert "botocore's chain found nothing" in message


class FakeRefreshable:
    def __init__(self, profile: str | None, seen: list[str | None]) -> None:
        seen.append(profile)
        self._expiry_time = datetime(2030, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))

    def get_frozen_credentials(self) -> Any:
        return types.SimpleNamespace(access_key="AKFAKE", secret_key=SECRET, token=TOKEN)


@pytest.mark.parametrize(
    ("profile", "env", "passed"),
    [("dev", {}, "dev"), (None, {"AWS_PROFILE": "env"}, "env"), (None, {}, None)],
)
def test_botocore_gets_the_profile_and_gives_expiry(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile: str | None,
    env: dict[str, str],
    passed: str | None,
) -> None:
    seen: list[str | None] = []

    class Session:
        def __init__(self, profile: str | None) -> None:
            self.profile, self.variables = profile, dict[str, str]()

        def set_config_variable(self, name: str, value: str) -> None:
            self.variables[name] = value

        def get_credentials(self) -> FakeRefreshable:
            assert set(self.variables) == {"credentials_file", "config_file"}
            return FakeRefreshable(self.profile, seen)

    monkeypatch.setattr(aws, "_import_botocore", lambda: types.SimpleNamespace(Session=Session))
    creds = AwsCredentialChain(profile, environ=aws_files(tmp_path, **env)).credentials()
    assert seen == [passed]
    assert creds.expiry == T0 and creds.session_token == TOKEN


# -- the region --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "env", "expected"),
    [
        (None, {"AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2"}, "r1"),
        (None, {"AWS_DEFAULT_REGION": "r2"}, "r2"),
        (None, {}, "r-default"),
        (None, {"AWS_PROFILE": "dev"}, "r-dev"),
        ("dev", {"AWS_PROFILE": "other"}, "r-dev"),
        ("other", {}, None),
        ("dev", {"AWS_REGION": "r1"}, "r1"),
    ],
)
def test_resolve_region(
    tmp_path: Path, profile: str | None, env: dict[str, str], expected: str | None
) -> None:
    config = "[default]\nregion = r-default\n[profile dev]\nregion = r-dev\n"
    config += "[profile other]\noutput = json\n"
    assert resolve_region(profile, environ=aws_files(tmp_path, config=config, **env)) == expected


def test_resolve_region_without_files(tmp_path: Path) -> None:
    assert resolve_region(environ=aws_files(tmp_path)) is None
    assert resolve_region(environ={"AWS_CONFIG_FILE": str(tmp_path / "nowhere")}) is None
