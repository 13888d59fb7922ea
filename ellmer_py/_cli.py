"""The command line: ``python -m ellmer_py "prompt"`` (also ``ellmer-py``).

With no prompt at a terminal it opens the chat console (``live_console()``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

DEFAULT_PROVIDER = "huggingface"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ellmer-py",
        description="Send one prompt to a model and stream the answer to the terminal; "
        "with no prompt at a terminal, chat in the console (type Q or press Ctrl-D to leave).",
        epilog="The Hugging Face key comes from HUGGINGFACE_API_KEY, HF_TOKEN or "
        "the token file huggingface-cli login writes.",
    )
    parser.add_argument(
        "prompt",
        nargs="?",
        help="what to say; read from standard input if left out or '-' (left out at a "
        "terminal: the chat console)",
    )
    parser.add_argument(
        "-p",
        "--provider",
        default=DEFAULT_PROVIDER,
        help='provider name, or "provider/model" (default: %(default)s)',
    )
    parser.add_argument("-m", "--model", help="model id (default: the provider's default)")
    parser.add_argument("-s", "--system-prompt", help="system prompt")
    parser.add_argument("--base-url", help="API root of another OpenAI-compatible server")
    parser.add_argument(
        "--echo",
        choices=("output", "all"),
        default="output",
        help="what to print for a prompt (default: %(default)s; the console shows the output)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one chat from the command line; return the exit status."""
    args = _parser().parse_args(argv)
    prompt = args.prompt
    console = prompt is None and sys.stdin is not None and sys.stdin.isatty()
    if not console and (prompt is None or prompt == "-"):
        if sys.stdin is None or sys.stdin.isatty():
            print("ellmer-py: give a prompt as an argument or on standard input.", file=sys.stderr)
            return 2
        prompt = sys.stdin.read().rstrip("\r\n")  # the newline that ends piped text
    if not console and not prompt.strip():
        print("ellmer-py: the prompt is empty.", file=sys.stderr)
        return 2

    from ._registry import chat

    name = args.provider
    if args.model:
        if "/" in name:
            print("ellmer-py: give the model in --provider or --model, not both.", file=sys.stderr)
            return 2
        name = f"{name}/{args.model}"
    kwargs: dict[str, Any] = {"echo": args.echo}
    if args.system_prompt:
        kwargs["system_prompt"] = args.system_prompt
    if args.base_url:
        kwargs["base_url"] = args.base_url
    conversation = None
    try:
        conversation = chat(name, **kwargs)
        if console:
            from ._console import live_console

            live_console(conversation)
        else:
            conversation.chat(prompt)
    except KeyboardInterrupt:
        print("\nellmer-py: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # ours, or a bug: either way one line, and no credential in it
        from ._console import describe_error

        sys.stdout.flush()
        print(f"ellmer-py: {describe_error(exc, conversation)}", file=sys.stderr)
        return 1
    return 0
