#!/usr/bin/python3
"""Proves PyTorch interoperability of tfm checkpoints.

Loads a tfm decoder-only LM checkpoint (safetensors) by tensor name into a
PyTorch model written from the model description in docs/checkpoint-format.md,
with strict loading, scores a text with tfm's perplexity rule and compares the
per-token negative log-likelihood with `tfm perplexity --json`.

    apt-get install -y python3-torch      # a tool for this check, not a tfm dependency
    /usr/bin/python3 scripts/torch_interop.py CHECKPOINT TEXTFILE [--tfm build/release/tools/tfm]

Exit code 0 when the relative difference is below --tolerance (default 2e-4).
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


class Attention(nn.Module):
    def __init__(self, d, n_head, window):
        super().__init__()
        self.n_head, self.window = n_head, window
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        B, T, d = x.shape
        h, dh = self.n_head, d // self.n_head
        # head h uses columns h*dh .. (h+1)*dh-1 of each projection
        q, k, v = (p(x).view(B, T, h, dh).transpose(1, 2) for p in (self.q, self.k, self.v))
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
    def __init__(self, d, d_ff, activation):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, d_ff), nn.Linear(d_ff, d)
        self.act = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}[activation]

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["d_model"], c["layer_norm_eps"]
        self.pre = c["norm"] == "pre"
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, c["n_head"], c["attention_window"])
        self.ffn = FeedForward(d, c["d_ff"], c["activation"])

    def forward(self, x):
        if self.pre:
            x = x + self.attn(self.ln1(x))
            return x + self.ffn(self.ln2(x))
        x = self.ln1(x + self.attn(x))
        return self.ln2(x + self.ffn(x))


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        V, d = c["vocab_size"], c["d_model"]
        self.tok_emb, self.pos_emb = nn.Embedding(V, d), nn.Embedding(c["seq_len"], d)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.tied = c["tie_embeddings"]
        if not self.tied:
            self.head = nn.Linear(d, V, bias=False)

    def forward(self, ids):
        x = self.tok_emb(ids) + self.pos_emb(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x)
        x = self.ln_f(x)
        return x @ self.tok_emb.weight.t() if self.tied else self.head(x)


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("textfile")
    ap.add_argument("--tfm", default="build/release/tools/tfm")
    ap.add_argument("--tolerance", type=float, default=2e-4)
    args = ap.parse_args()

    tensors, meta = read_safetensors(args.checkpoint)
    config = json.loads(meta["config"])
    tokenizer = json.loads(meta["tokenizer"])
    assert config["type"] == "lm", "this script checks decoder-only LMs"
    assert config.get("ffn", "feed_forward") == "feed_forward", "custom ffn layers are not described here"
    model = LM(config)
    model.load_state_dict(tensors, strict=True)  # every name and shape must match
    model.eval()

    with open(args.textfile, "r", encoding="utf-8", newline="") as f:
        text = f.read()
    ids = encode(tokenizer, text)
    N, T = len(ids), config["seq_len"]
    total, count = 0.0, 0
    torch.set_num_threads(2)
    with torch.no_grad():
        for s in range(0, N - 1, T):  # windows start at 0, T, 2T, ...
            e = min(s + T, N - 1)
            x = torch.tensor([ids[s:e]])
            y = torch.tensor(ids[s + 1:e + 1])
            logits = model(x)[0].double()
            total += F.cross_entropy(logits, y, reduction="sum").item()
            count += e - s
    torch_nll = total / count

    out = subprocess.run([args.tfm, "perplexity", args.checkpoint, args.textfile, "--json"],
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    tfm = json.loads(out)
    rel = abs(tfm["nll"] - torch_nll) / abs(torch_nll)
    print(f"tokens: tfm {tfm['tokens']}, torch {count}")
    print(f"nll: tfm {tfm['nll']:.8f}, torch {torch_nll:.8f}, relative difference {rel:.2e} "
          f"(tolerance {args.tolerance:g})")
    ok = rel < args.tolerance and tfm["tokens"] == count
    print("interop: OK" if ok else "interop: MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
