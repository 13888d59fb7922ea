"""The plugin-author story: a third-party provider package, installed, works and conforms.

``tests/example_plugin`` is its own distribution (``ellmer-py-example``,
with an ``ellmer_py`` entry point). Each test makes a throwaway virtual
environment under ``tmp_path`` that sees the running environment's packages
(ellmer-py, hypothesis), installs the example there without downloading
anything, and then, in that environment's own Python:

- ``chat("example/some-model", ...)`` talks to a fake server;
- ``python -m ellmer_py.conformance example`` exits 0 with every check PASS,
  its own protocol (``example-chat``, added through the protocol hook) tested
  by the fake the plugin names;

all without any change to ellmer-py. ``pip install --no-deps
--no-build-isolation --no-index`` is used when the running environment can
build a wheel offline (pip, and setuptools >= 70.1 or the ``wheel``
package); otherwise, and always in the second test, the distribution is
written as real package metadata (a ``.dist-info`` directory with
``entry_points.txt``) into the environment's site-packages, which is what an
installer leaves behind too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from ellmer_py.conformance import CHECKS

EXAMPLE = Path(__file__).resolve().parent / "example_plugin"
DIST_NAME = "ellmer-py-example"
MODULE = "ellmer_py_example"


def _run(args: list[str], *, cwd: Path, what: str, timeout: float = 120) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("ELLMER_PY_PLUGINS", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    try:
        done = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"{what} could not run ({' '.join(args)}): {exc}")
    if done.returncode != 0:
        pytest.fail(
            f"{what} failed with exit code {done.returncode}: {' '.join(args)}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
        )
    return done.stdout


def _venv(root: Path) -> tuple[Path, Path]:
    """A fresh venv under ``root`` that also sees the running environment's packages.

    ``--system-site-packages`` gives the base interpreter's packages; when the
    tests themselves run in a virtual environment (tox, a venv), its
    site-packages are added with a ``.pth`` file that calls
    ``site.addsitedir``, so their own ``.pth`` files (an editable install of
    ellmer-py) are processed too. Nothing is downloaded.
    """
    venv = root / "venv"
    _run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        cwd=root,
        what="Creating a throwaway virtual environment (python -m venv)",
    )
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = venv / bindir / ("python.exe" if os.name == "nt" else "python")
    if not python.exists():
        pytest.fail(f"python -m venv made {venv} but it has no {python.name}")
    purelib = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=root,
            what="Asking the new environment for its site-packages",
        ).strip()
    )
    parents = [p for p in site.getsitepackages() if Path(p).is_dir()]
    parents.append(sysconfig.get_paths()["purelib"])
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys(parents)]
    (purelib / "_ellmer_py_test_parent_env.pth").write_text("\n".join(lines) + "\n")
    return python, purelib


def _pyproject() -> dict[str, Any]:
    text = (EXAMPLE / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # Python 3.10: pip vendors a TOML reader
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            from pip._vendor import tomli as tomllib  # type: ignore[no-redef]
    data: dict[str, Any] = tomllib.loads(text)
    return data


def _write_dist_info(source: Path, purelib: Path) -> None:
    """Install the example as an installer would: its module and a real .dist-info."""
    project = _pyproject()["project"]
    name, ver = project["name"], project["version"]
    shutil.copy2(source / f"{MODULE}.py", purelib / f"{MODULE}.py")
    dist_info = purelib / f"{name.replace('-', '_')}-{ver}.dist-info"
    dist_info.mkdir()
    requires = "".join(f"Requires-Dist: {r}\n" for r in project.get("dependencies", []))
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n"
        f"Summary: {project['description']}\n{requires}"
    )
    groups = project.get("entry-points", {})
    (dist_info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
            for group, eps in groups.items()
        )
    )
    (dist_info / "top_level.txt").write_text(f"{MODULE}\n")
    (dist_info / "INSTALLER").write_text("ellmer-py-tests\n")
    files = [f"{MODULE}.py", *(f"{dist_info.name}/{f.name}" for f in dist_info.iterdir())]
    (dist_info / "RECORD").write_text(
        "".join(f"{f},,\n" for f in files) + f"{dist_info.name}/RECORD,,\n"
    )


def _pip_can_build_offline() -> bool:
    """pip, and setuptools that can build a wheel without downloading anything."""
    if importlib.util.find_spec("pip") is None or importlib.util.find_spec("setuptools") is None:
        return False
    major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _install(root: Path, installer: str) -> tuple[Path, Path, str]:
    """Make a venv and install the example into it; (python, site-packages, how)."""
    python, purelib = _venv(root)
    source = root / "example_plugin"  # a copy: building writes into the source tree
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    if installer == "pip" and _pip_can_build_offline():
        _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "--quiet",
                str(source),
            ],
            cwd=root,
            what="pip install of the example plugin",
        )
        return python, purelib, "pip"
    _write_dist_info(source, purelib)
    return python, purelib, "dist-info"


CHAT_SCRIPT = textwrap.dedent(
    """
    import json
    from importlib.metadata import distribution, entry_points

    import ellmer_py_example
    from ellmer_py import chat, get_protocol_spec, list_protocols, list_providers
    from ellmer_py.conformance import FakeServer, Reply

    found = [ep for ep in entry_points(group="ellmer_py") if ep.name == "example"]
    with FakeServer() as srv:
        srv.enqueue(Reply.json({
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Hi from the plugin."}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4},
        }))
        made = chat("example/some-model", base_url=srv.base_url,
                    credentials=lambda: "example-key", echo="none")
        answer = made.chat("Hello")
        request = srv.requests[0]
    print(json.dumps({
        "distribution": distribution("ellmer-py-example").metadata["Name"],
        "entry_point": [(ep.value, ep.dist.name if ep.dist else None) for ep in found],
        "example_registered": "example" in list_providers(),
        "protocol_registered": "example-chat" in list_protocols(),
        "protocol_fake": get_protocol_spec("example-chat").fake,
        "module_file": ellmer_py_example.__file__,
        "answer": answer,
        "tokens": made.get_tokens()[0]["input"],
        "path": request.path,
        "model": request.json["model"],
        "authorization": request.headers["authorization"],
    }))
    """
)


@pytest.mark.parametrize("installer", ["pip", "dist-info"])
def test_the_example_plugin_works_and_conforms_once_installed(
    tmp_path: Path, installer: str
) -> None:
    python, purelib, how = _install(tmp_path, installer)
    installed_by = (purelib / "ellmer_py_example-0.1.0.dist-info" / "INSTALLER").read_text()
    assert installed_by == ("pip\n" if how == "pip" else "ellmer-py-tests\n")

    out = _run([str(python), "-c", CHAT_SCRIPT], cwd=tmp_path, what=f"chat() in the venv ({how})")
    seen = json.loads(out)
    module_file = Path(seen.pop("module_file")).resolve()
    assert module_file.parent == purelib.resolve(), f"imported from {module_file}"
    assert seen == {
        "distribution": DIST_NAME,
        "entry_point": [[MODULE, DIST_NAME]],
        "example_registered": True,
        "protocol_registered": True,
        "protocol_fake": "ellmer_py_example:FAKE",
        "answer": "Hi from the plugin.",
        "tokens": 9,
        "path": "/v1/generate",
        "model": "some-model",
        "authorization": "Bearer example-key",
    }

    out = _run(
        [str(python), "-m", "ellmer_py.conformance", "example"],
        cwd=tmp_path,
        what=f"python -m ellmer_py.conformance example ({how})",
    )
    lines = out.splitlines()
    assert lines[0].split() == ["provider", *CHECKS]
    assert lines[2].split() == ["example"] + ["PASS"] * len(CHECKS), out
    assert lines[-1] == f"1 provider(s) x {len(CHECKS)} check(s): {len(CHECKS)} passed, 0 failed."


def test_the_example_plugin_is_not_importable_from_the_test_process() -> None:
    # The tests above prove discovery through installed metadata only: the
    # example is not on this interpreter's path, nor registered here.
    from ellmer_py import list_providers

    assert importlib.util.find_spec(MODULE) is None
    assert "example" not in list_providers()
