"""Tests of ``content_image_plot()``: a matplotlib figure as an inline PNG.

The PNG's pixel size is read from its IHDR chunk; sending it in a chat goes
to a real loopback server (the fixtures of ``test_content_files``), whose
recorded request must hold the PNG as a data URL. A subprocess shows that
ellmer_py and its other content functions never import matplotlib.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from test_content_files import clean_env, completion, data_url, hf, srv, user_content  # noqa: F401

from ellmer_py import ConfigurationError, ContentImageInline, content_image_plot
from ellmer_py.conformance.fake_server import FakeServer, Reply


@pytest.fixture(autouse=True)
def no_figures() -> Iterator[None]:
    plt.close("all")
    yield
    plt.close("all")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (always the first, at byte 8)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def draw() -> Figure:
    fig = plt.figure(figsize=(4, 3))
    plt.plot([1, 2, 3], [3, 1, 2])
    plt.title("waiting ~ eruptions")
    return fig


def test_the_current_figure_at_r_default_size() -> None:
    draw()
    image = content_image_plot()
    assert isinstance(image, ContentImageInline)
    assert image.type == "image/png"
    assert png_size(image.data) == (768, 768)


@pytest.mark.parametrize(("width", "height"), [(400, 300), (29, 57), (113, 201), (1, 1)])
def test_the_pixel_size_asked_for(width: int, height: int) -> None:
    # 29, 57, 113, 201: sizes whose inches x dpi fall a hair under the whole pixel.
    draw()
    assert png_size(content_image_plot(width, height).data) == (width, height)


def test_the_figure_keeps_its_size_and_the_backend_is_unchanged() -> None:
    fig = draw()
    backend = matplotlib.get_backend()
    content_image_plot(500, 200)
    assert tuple(fig.get_size_inches()) == (4.0, 3.0)
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == [fig.number]


def test_tight_bbox_in_the_users_rc_does_not_change_the_size() -> None:
    draw()
    with matplotlib.rc_context({"savefig.bbox": "tight"}):
        assert png_size(content_image_plot(300, 200).data) == (300, 200)


def test_a_given_figure_needs_no_pyplot() -> None:
    fig = Figure(figsize=(2, 2))  # not pyplot's: no manager, no current figure
    fig.add_subplot().bar(["a", "b"], [1, 2])
    assert plt.get_fignums() == []
    assert png_size(content_image_plot(320, 240, fig=fig).data) == (320, 240)
    assert plt.get_fignums() == []  # gcf() would have made one


def test_the_given_figure_not_the_current_one() -> None:
    first = draw()
    other = plt.figure()
    other.add_subplot().plot([0, 1])
    small = content_image_plot(64, 64, fig=first)
    assert png_size(small.data) == (64, 64)
    assert plt.gcf() is other


def test_no_open_figure_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="no plot to capture: there is no open"):
        content_image_plot()
    assert plt.get_fignums() == []  # asking did not create one


def test_an_empty_figure_is_an_error() -> None:
    plt.figure()
    with pytest.raises(ConfigurationError, match="no plot to capture: the figure is empty"):
        content_image_plot()


@pytest.mark.parametrize("value", [0, -5, 10.5, True, "768", None])
@pytest.mark.parametrize("name", ["width", "height"])
def test_sizes_must_be_whole_positive_numbers(name: str, value: Any) -> None:
    draw()
    with pytest.raises(ConfigurationError, match=rf"{name} must be a whole number of pixels"):
        content_image_plot(**{name: value})


def test_a_whole_float_size_is_accepted() -> None:
    draw()
    assert png_size(content_image_plot(100.0, 50.0).data) == (100, 50)  # type: ignore[arg-type]


def test_fig_must_be_a_figure() -> None:
    fig = draw()
    with pytest.raises(ConfigurationError, match=r"pass ax\.figure\), not Axes"):
        content_image_plot(fig=fig.axes[0])
    with pytest.raises(ConfigurationError, match="fig must be a matplotlib Figure, not str"):
        content_image_plot(fig="plot.png")


def test_a_plot_sent_in_a_chat_is_a_data_url(srv: FakeServer) -> None:  # noqa: F811
    draw()
    image = content_image_plot(256, 128)
    srv.enqueue(Reply.json(completion("A line chart.")))
    chat = hf(srv)
    assert chat.chat("Describe this plot.", image) == "A line chart."
    parts = user_content(srv)
    assert parts[0] == {"type": "text", "text": "Describe this plot."}
    url = parts[1]["image_url"]["url"]
    assert url == data_url("image/png", image.data)
    assert url.startswith("data:image/png;base64,iVBORw0KGgo")  # the PNG signature


def test_importing_and_other_content_functions_never_import_matplotlib(tmp_path: Any) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    code = textwrap.dedent(
        f"""
        import sys
        import ellmer_py
        from ellmer_py import content_image_file, content_image_url
        from ellmer_py._content_plot import content_image_plot

        content_image_file({str(png)!r})
        content_image_url("https://example.org/a.png")
        try:
            content_image_plot()
        except ellmer_py.ConfigurationError as exc:
            assert "no open matplotlib figure" in str(exc), exc
        else:
            raise AssertionError("no error without a figure")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")
        assert not loaded, loaded
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
