"""Tiny random-weight GGUF chat models for the live tests.

A llama-architecture model (2 layers, 64-wide) with a byte-level GPT-2 BPE
vocabulary: the 256 byte tokens, a few merges, and the ChatML control
tokens its chat template uses. The weights come from a fixed seed, so
greedy decoding gives the same gibberish every time. The output rows of
everything but printable ASCII (and so of the control tokens too) are zero:
their logit is always 0 while some printable token's is positive, so the
answers are ASCII text without newlines and always run to ``max_tokens``.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import numpy.typing as npt

SEED = 1234
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_LAYER = 2
N_CTX_TRAIN = 2048

# ChatML; the content may be a string or a list of text parts.
_MESSAGE = (
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{{ part['text'] }}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
)
_GENERATION = "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
CHATML_TEMPLATE = "{% for message in messages %}" + _MESSAGE + "{% endfor %}" + _GENERATION
# Like Gemma's and Mistral's templates: no system role, an error instead.
# llama-server probes each template with a system message; when the probe
# fails, it folds the system prompt into the first user message itself, so
# this template never makes it answer an error.
GEMMA_LIKE_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}"
    "{% endif %}" + _MESSAGE + "{% endfor %}" + _GENERATION
)
# The same, except that it passes the probe (which renders with an empty
# bos_token): llama-server then answers 400 "... System role not supported"
# for a real request with a system message, as servers without that polyfill do.
NO_SYSTEM_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and bos_token %}"
    "{{ raise_exception('System role not supported') }}"
    "{% endif %}" + _MESSAGE + "{% endfor %}" + _GENERATION
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_MERGE_PAIRS = (
    "t h", "Ġ t", "Ġ a", "h e", "i n", "e r", "a n", "r e", "o n", "Ġ s",
    "e n", "a t", "o r", "Ġ w", "e s", "Ġ th", "Ġ o", "i s", "i t", "Ġ c",
)  # fmt: skip


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def _vocab() -> tuple[list[str], list[int], list[str], list[bool]]:
    """Tokens, token types, merges, and which tokens the model may generate."""
    byte_chars = _bytes_to_unicode()
    tokens = [byte_chars[b] for b in range(256)]
    allowed = [0x20 <= b <= 0x7E for b in range(256)]
    merges = list(_MERGE_PAIRS)
    for pair in merges:
        tokens.append(pair.replace(" ", ""))
        allowed.append(True)
    types = [int(gguf.TokenType.NORMAL)] * len(tokens)
    for special in SPECIAL_TOKENS:
        tokens.append(special)
        types.append(int(gguf.TokenType.CONTROL))
        allowed.append(False)
    return tokens, types, merges, allowed


def write_model(path: Path, *, chat_template: str = CHATML_TEMPLATE, seed: int = SEED) -> Path:
    """Write a tiny random-weight llama GGUF model with ``chat_template`` to ``path``."""
    tokens, types, merges, allowed = _vocab()
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD
    rng = np.random.default_rng(seed)

    def weight(rows: int, cols: int) -> npt.NDArray[np.float32]:
        out: npt.NDArray[np.float32] = rng.standard_normal((rows, cols), dtype=np.float32)
        out /= np.sqrt(cols)
        return out

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("ellmer-py live test model")
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(int(gguf.LlamaFileType.ALL_F32))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_eot_token_id(tokens.index("<|im_end|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat_template)

    # numpy shapes are (out, in): ggml's ne is the reverse.
    writer.add_tensor(
        "token_embd.weight", rng.standard_normal((n_vocab, N_EMBD)).astype(np.float32)
    )
    for i in range(N_LAYER):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(N_HEAD * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(N_EMBD, N_HEAD * head_dim))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(N_EMBD, N_FF))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    output = weight(n_vocab, N_EMBD) * 4.0
    output[~np.array(allowed)] = 0.0
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-chatml.gguf")
    print(write_model(out))
