#!/usr/bin/python3
"""Proves PyTorch interoperability of tfm checkpoints.

Loads a tfm checkpoint (safetensors) by tensor name, with strict loading, into
a PyTorch model written from the model description in docs/checkpoint-format.md
and compares the per-token negative log-likelihood with tfm's:

- decoder-only LM (`lm`): a text scored with tfm's perplexity rule, against
  `tfm perplexity CHECKPOINT TEXTFILE --json`; an adaptive softmax head
  ("head": {"type": "adaptive", ...}) is loaded into PyTorch's own
  nn.AdaptiveLogSoftmaxWithLoss, whose per-token log-probabilities score the text;
- encoder-decoders (`transformer`, `rnn-attention`, scripts/torch_seq2seq.py):
  target sentences given source sentences, teacher-forced, against
  `tfm perplexity CHECKPOINT --source SRC --target TGT --json`; with --greedy
  also PyTorch's greedy translations against `tfm translate --beam 1`.

    apt-get install -y python3-torch      # a tool for this check, not a tfm dependency
    /usr/bin/python3 scripts/torch_interop.py CHECKPOINT TEXTFILE [--tfm build/release/tools/tfm]
    /usr/bin/python3 scripts/torch_interop.py CHECKPOINT --source SRC --target TGT [--greedy]

Exit code 0 when the relative difference of the mean NLL is below --tolerance
(default 2e-4), the token counts are equal and (--greedy) the translations agree.
"""
import argparse
import json
import math
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[base + b:base + e], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def lm_norm_settings(c):
    """(norm type, eps, pre-norm) of an lm config; "norm": "pre" | "post" is the legacy placement."""
    norm, eps, placement = c.get("norm", "layernorm"), c["layer_norm_eps"], "pre"
    if isinstance(norm, dict):
        norm, eps = norm.get("type", "layernorm"), norm.get("eps", eps)
    elif norm in ("pre", "post"):
        norm, placement = "layernorm", norm
    return norm, eps, c.get("norm_placement", placement) == "pre"


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight (+ bias), Zhang & Sennrich 2019 (nn.RMSNorm without bias)."""

    def __init__(self, d, eps, bias):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight
        return y + self.bias if self.bias is not None else y


class LayerNormWithoutBias(nn.Module):
    """nn.LayerNorm(d, bias=False) of PyTorch >= 2.1, also on older releases."""

    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, None, self.eps)


def make_norm(c):
    kind, eps, _ = lm_norm_settings(c)
    bias = c.get("bias", True)
    if kind == "rmsnorm":
        return RMSNorm(c["d_model"], eps, bias)
    return nn.LayerNorm(c["d_model"], eps=eps) if bias else LayerNormWithoutBias(c["d_model"], eps)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(T, dh, theta):
    """Hugging Face LLaMA / GPT-NeoX rotary tables: angle(t, i) = t * theta^(-2i/dh), halves repeated."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh))
    angles = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((angles, angles), dim=-1)
    return emb.cos().float(), emb.sin().float()


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, bias = c["d_model"], c.get("bias", True)
        self.n_head, self.window = c["n_head"], c["attention_window"]
        self.n_kv_head = c.get("n_kv_head", self.n_head)
        self.rope_theta = c.get("rope_theta", 10000.0) if c.get("pos_emb", "learned") == "rope" else None
        d_kv = d // self.n_head * self.n_kv_head
        self.q, self.out = nn.Linear(d, d, bias=bias), nn.Linear(d, d, bias=bias)
        self.k, self.v = nn.Linear(d, d_kv, bias=bias), nn.Linear(d, d_kv, bias=bias)

    def forward(self, x):
        B, T, d = x.shape
        h, hk, dh = self.n_head, self.n_kv_head, d // self.n_head
        # head h uses columns h*dh .. (h+1)*dh-1 of each projection
        q = self.q(x).view(B, T, h, dh).transpose(1, 2)
        k, v = (p(x).view(B, T, hk, dh).transpose(1, 2) for p in (self.k, self.v))
        if self.rope_theta is not None:
            cos, sin = rope_cos_sin(T, dh, self.rope_theta)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        # grouped-query: query head i reads key/value head i // (h // hk)
        k, v = k.repeat_interleave(h // hk, dim=1), v.repeat_interleave(h // hk, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        i = torch.arange(T).view(T, 1)
        j = torch.arange(T).view(1, T)
        visible = j <= i
        if self.window > 0:
            visible = visible & (i - j < self.window)
        scores = scores.masked_fill(~visible, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(B, T, d))


class FeedForward(nn.Module):
    def __init__(self, d, d_ff, activation, bias=True):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, d_ff, bias=bias), nn.Linear(d_ff, d, bias=bias)
        self.act = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}[activation]

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)) (Shazeer 2020, LLaMA's MLP)."""

    def __init__(self, d, d_ff, bias=True):
        super().__init__()
        self.gate, self.up = nn.Linear(d, d_ff, bias=bias), nn.Linear(d, d_ff, bias=bias)
        self.down = nn.Linear(d_ff, d, bias=bias)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


def ffn_type(c):
    ffn = c.get("ffn", "feed_forward")
    return ffn["type"] if isinstance(ffn, dict) else ffn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, bias = c["d_model"], c.get("bias", True)
        self.pre = lm_norm_settings(c)[2]
        self.ln1, self.ln2 = make_norm(c), make_norm(c)
        self.attn = Attention(c)
        if ffn_type(c) == "swiglu":
            self.ffn = SwiGLU(d, c["d_ff"], bias)
        else:
            self.ffn = FeedForward(d, c["d_ff"], c["activation"], bias)

    def forward(self, x):
        if self.pre:
            x = x + self.attn(self.ln1(x))
            return x + self.ffn(self.ln2(x))
        x = self.ln1(x + self.attn(x))
        return self.ln2(x + self.ffn(x))


def sinusoids(T, d):
    """PE[t, 2i] = sin(t * 10000^(-2i/d)), PE[t, 2i+1] = cos(...), in double, rounded to float32."""
    t = torch.arange(T, dtype=torch.float64)[:, None]
    c = torch.arange(d)
    angles = t * torch.pow(10000.0, -(c - c % 2).double() / d)[None, :]
    return torch.where(c % 2 == 0, angles.sin(), angles.cos()).float()


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        V, d = c["vocab_size"], c["d_model"]
        self.pos_kind = c.get("pos_emb", "learned")
        self.tok_emb = nn.Embedding(V, d)
        if self.pos_kind == "learned":
            self.pos_emb = nn.Embedding(c["seq_len"], d)
        elif self.pos_kind == "sinusoidal":
            self.register_buffer("sinusoids", sinusoids(c["seq_len"], d), persistent=False)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.ln_f = make_norm(c)
        self.tied = c["tie_embeddings"]
        head = c.get("head", "linear")
        self.adaptive = isinstance(head, dict) and head["type"] == "adaptive"
        if self.adaptive:  # tensors head.head.*, head.tail.i.0.weight, head.tail.i.1.weight
            self.head = nn.AdaptiveLogSoftmaxWithLoss(d, V, cutoffs=head["cutoffs"], div_value=head.get("div_value", 4.0),
                                                      head_bias=head.get("head_bias", False))
        elif not self.tied:
            self.head = nn.Linear(d, V, bias=False)

    def features(self, ids):
        """ln_f of the last block's output: what the head reads."""
        x = self.tok_emb(ids)
        if self.pos_kind == "learned":
            x = x + self.pos_emb(torch.arange(ids.shape[1]))
        elif self.pos_kind == "sinusoidal":
            x = x + self.sinusoids[: ids.shape[1]]
        for b in self.blocks:
            x = b(x)
        return self.ln_f(x)

    def forward(self, ids):
        x = self.features(ids)
        return x @ self.tok_emb.weight.t() if self.tied else self.head(x)

    def nll_sum(self, ids, targets):
        """Sum of -log p(target) over one window, in double."""
        if self.adaptive:
            hidden = self.features(ids)[0]
            out = self.head(hidden, targets)  # .output: log p(target) per row
            full = self.head.log_prob(hidden)
            assert torch.allclose(full.exp().sum(-1), torch.ones(len(targets)), atol=1e-5), "rows must sum to 1"
            assert torch.allclose(full.gather(1, targets[:, None])[:, 0], out.output, atol=1e-5)
            return -out.output.double().sum().item()
        return F.cross_entropy(self(ids)[0].double(), targets, reduction="sum").item()


def encode(tokenizer, text):
    kind = tokenizer["type"]
    if kind == "byte":
        return list(text.encode("utf-8", errors="surrogateescape"))
    if kind == "char":
        index = {c: i for i, c in enumerate(tokenizer["vocab"])}
        return [index[c] for c in text]
    if kind == "word":
        index = {w: i for i, w in enumerate(tokenizer["vocab"])}
        ids = []
        for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
            ids += [index.get(w, index["<unk>"]) for w in line.split()] + [index["<eos>"]]
        return ids
    raise SystemExit(f"tokenizer {kind}: not supported by this script")


def tfm_json(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(out[-1])


def report(what, tfm, torch_nll, count, tolerance):
    rel = abs(tfm["nll"] - torch_nll) / abs(torch_nll)
    print(f"{what}tokens: tfm {tfm['tokens']}, torch {count}")
    print(f"nll: tfm {tfm['nll']:.8f}, torch {torch_nll:.8f}, relative difference {rel:.2e} "
          f"(tolerance {tolerance:g})")
    return rel < tolerance and tfm["tokens"] == count


def check_lm(args, config, tokenizer, tensors):
    assert args.textfile, "a language model is scored on TEXTFILE"
    model = LM(config)
    model.load_state_dict(tensors, strict=True)  # every name and shape must match
    model.eval()
    with open(args.textfile, "r", encoding="utf-8", newline="") as f:
        text = f.read()
    ids = encode(tokenizer, text)
    N, T = len(ids), config["seq_len"]
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, N - 1, T):  # windows start at 0, T, 2T, ...
            e = min(s + T, N - 1)
            x = torch.tensor([ids[s:e]])
            y = torch.tensor(ids[s + 1:e + 1])
            total += model.nll_sum(x, y)
            count += e - s
    tfm = tfm_json([args.tfm, "perplexity", args.checkpoint, args.textfile, "--json"])
    return report("", tfm, total / count, count, args.tolerance)


def read_lines(path):
    """tfm's rule: lines end at '\n' (a missing final newline is fine), a trailing '\r' is dropped."""
    with open(path, "r", encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def check_seq2seq(args, config, tokenizer, tensors):
    import torch_seq2seq

    assert args.source and args.target, "an encoder-decoder is scored on --source and --target"
    assert config.get("ffn", "feed_forward") == "feed_forward", "custom ffn layers are not described here"
    sp = torch_seq2seq.SentencePieceBpe(tokenizer)
    model = torch_seq2seq.MODELS[config["type"]](config)
    model.load_state_dict(tensors, strict=True)  # every name and shape must match
    model.eval()
    L = config["seq_len"]
    sources, targets = read_lines(args.source), read_lines(args.target)
    assert len(sources) == len(targets), "the source and target files differ in length"
    total, count, cut = 0.0, 0, 0
    with torch.no_grad():
        for src_line, tgt_line in zip(sources, targets):
            # tfm train's pairs: source tokens + eos; the decoder reads bos + target, predicts target + eos;
            # a pair longer than seq_len is cut to seq_len tokens (source, eos kept last) and seq_len - 1 (target).
            source, target = sp.encode(src_line) + [sp.eos], sp.encode(tgt_line)
            if len(source) > L or len(target) + 1 > L:
                cut += 1
                source = source[:L - 1] + [sp.eos] if len(source) > L else source
                target = target[:L - 1]
            total += model.nll(source, target, sp.bos, sp.eos)
            count += len(target) + 1
    tfm = tfm_json([args.tfm, "perplexity", args.checkpoint, "--source", args.source, "--target", args.target,
                    "--json"])
    ok = report(f"pairs: {len(sources)} ({cut} cut to seq_len {L}), ", tfm, total / count, count, args.tolerance)
    if args.greedy:
        ok = check_greedy(args, model, sp, sources, L) and ok
    return ok


def check_greedy(args, model, sp, sources, L):
    """tfm translate --beam 1 (batch size 1: the default length limit depends on the batch's longest source)
    against PyTorch's greedy decoding. A differing sentence is forgiven only when PyTorch's choice at some step
    was a near-tie (best two logits within 1e-4), where float rounding may decide."""
    run = subprocess.run([args.tfm, "translate", args.checkpoint, "--input", args.source, "--beam", "1",
                          "--batch-size", "1"], check=True, capture_output=True, text=True)
    tfm_lines = run.stdout.split("\n")[:-1]
    assert len(tfm_lines) == len(sources), f"tfm translate wrote {len(tfm_lines)} lines for {len(sources)}"
    same = ties = 0
    with torch.no_grad():
        for i, (line, theirs) in enumerate(zip(sources, tfm_lines)):
            source = sp.encode(line) + [sp.eos]
            if len(source) > L:
                source = source[:L - 1] + [sp.eos]
            ids, margins = model.greedy(source, sp.bos, sp.eos, min(L, 2 * len(source) + 10))
            ours = sp.decode(ids)
            if ours == theirs:
                same += 1
            elif min(margins) < 1e-4:
                ties += 1
            elif same + ties + 5 > i:  # the first five differences
                print(f"greedy line {i + 1}: tfm {theirs!r}, torch {ours!r} (smallest margin {min(margins):.2e})")
    print(f"greedy: {same}/{len(sources)} translations identical, {ties} differ after a near-tie")
    return same + ties == len(sources) and ties <= len(sources) // 10


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("textfile", nargs="?", help="text to score (language model)")
    ap.add_argument("--source", help="source sentences, one per line (encoder-decoder)")
    ap.add_argument("--target", help="target sentences, aligned with --source (encoder-decoder)")
    ap.add_argument("--greedy", action="store_true", help="also compare greedy translations (encoder-decoder)")
    ap.add_argument("--tfm", default="build/release/tools/tfm")
    ap.add_argument("--tolerance", type=float, default=2e-4)
    args = ap.parse_args()

    tensors, meta = read_safetensors(args.checkpoint)
    config = json.loads(meta["config"])
    tokenizer = json.loads(meta["tokenizer"])
    # The models are tiny: a second thread only adds synchronisation (3x slower measured on a shared 2-core machine).
    torch.set_num_threads(1)
    if config["type"] == "lm":
        assert ffn_type(config) in ("feed_forward", "swiglu"), "custom ffn layers are not described here"
        ok = check_lm(args, config, tokenizer, tensors)
    else:
        ok = check_seq2seq(args, config, tokenizer, tensors)
    print("interop: OK" if ok else "interop: MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
