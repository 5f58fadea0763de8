"""PyTorch models of tfm's encoder-decoders, written from docs/checkpoint-format.md.

Used by scripts/torch_interop.py: `transformer` (Vaswani et al. 2017) and
`rnn-attention` (the LSTM with the attention of Luong et al. 2015), each with
the teacher-forced NLL of one sentence pair and greedy decoding, plus the
SentencePiece BPE segmentation that tfm's parallel data uses (Debian has no
python3-sentencepiece, so it is written here from the model proto).
Sentences are scored one at a time, without padding: tfm batches them with
padding, so agreement also shows that its masks hide the padding.
"""
import base64
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}


# ---------------------------------------------------------------- SentencePiece BPE

def _varint(b, i):
    x = shift = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return x, i


def _fields(b):
    """(field number, value) of a protobuf message; length-delimited values as bytes."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        wire = key & 7
        if wire == 0:
            v, i = _varint(b, i)
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield key >> 3, v


class SentencePieceBpe:
    """Encoding of a SentencePiece BPE model (sentencepiece's bpe_model.cc rule) for plain ASCII text:
    whitespace runs become one U+2581 and one is prefixed (nmt_nfkc with its defaults changes nothing
    else in printable ASCII); the text is split into characters and the adjacent pair whose concatenation
    is a piece with the highest score is merged, the leftmost first among equals, until none is; a
    symbol that is not a piece is <unk>."""

    NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED = 1, 2, 3, 4, 5

    def __init__(self, tokenizer_json):
        assert tokenizer_json["type"] == "sentencepiece", tokenizer_json["type"]
        proto = base64.b64decode(tokenizer_json["model"])
        self.pieces, self.scores, self.types = [], [], []
        for field, value in _fields(proto):
            if field == 1:  # ModelProto.pieces: {1: piece, 2: score, 3: type}
                piece, score, kind = "", 0.0, self.NORMAL
                for f, v in _fields(value):
                    if f == 1:
                        piece = v.decode("utf-8")
                    elif f == 2:
                        (score,) = struct.unpack("<f", v)
                    elif f == 3:
                        kind = v
                self.pieces.append(piece)
                self.scores.append(score)
                self.types.append(kind)
            elif field == 2:  # TrainerSpec: the model type must be BPE (2)
                for f, v in _fields(value):
                    if f == 3:
                        assert v == 2, f"sentencepiece model_type {v}: only BPE is implemented here"
        self.index = {p: i for i, p in enumerate(self.pieces)
                      if self.types[i] in (self.NORMAL, self.USER_DEFINED, self.UNUSED)}
        self.unk = self.types.index(self.UNKNOWN)
        special = {p: i for i, p in enumerate(self.pieces) if self.types[i] == self.CONTROL}
        self.bos, self.eos, self.pad = special["<s>"], special["</s>"], special.get("<pad>", -1)

    def encode(self, line):
        assert all(32 <= ord(c) < 127 for c in line), f"not printable ASCII: {line!r}"
        words = line.split()
        if not words:
            return []
        symbols = list("\u2581" + "\u2581".join(words))
        while True:
            best, at = None, -1
            for i in range(len(symbols) - 1):
                j = self.index.get(symbols[i] + symbols[i + 1])
                if j is not None and (best is None or self.scores[j] > best):
                    best, at = self.scores[j], i
            if at < 0:
                break
            symbols[at:at + 2] = [symbols[at] + symbols[at + 1]]
        return [self.index.get(s, self.unk) for s in symbols]

    def decode(self, ids):
        """Pieces joined, U+2581 read as a space; the whitespace before the first other character is dropped
        (sentencepiece consumes a leading U+2581 of every piece until it has written something)."""
        text = "".join(" \u2047 " if i == self.unk else self.pieces[i]
                       for i in ids if self.types[i] != self.CONTROL)
        return text.replace("\u2581", " ").lstrip(" ")


# ---------------------------------------------------------------- Transformer

class MultiHeadAttention(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

    def forward(self, query, memory, causal):
        B, Tq, d = query.shape
        Tk = memory.shape[1]
        h, dh = self.n_head, d // self.n_head
        q = self.q(query).view(B, Tq, h, dh).transpose(1, 2)
        k = self.k(memory).view(B, Tk, h, dh).transpose(1, 2)
        v = self.v(memory).view(B, Tk, h, dh).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        if causal:
            future = torch.arange(Tk).view(1, Tk) > torch.arange(Tq).view(Tq, 1)
            scores = scores.masked_fill(future, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(B, Tq, d))


class FeedForward(nn.Module):
    def __init__(self, d, d_ff, activation):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, d_ff), nn.Linear(d_ff, d)
        self.act = ACTIVATIONS[activation]

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def is_pre_norm(c):
    """The placement: "norm_placement", or the legacy "norm": "pre" | "post" of older checkpoints."""
    norm = c.get("norm", "layernorm")
    if norm not in ("pre", "post", "layernorm", {"type": "layernorm"}):
        raise SystemExit(f"torch_seq2seq: only LayerNorm is mirrored here, found norm {norm!r}")
    return c.get("norm_placement", norm if norm in ("pre", "post") else "post") == "pre"


def residual(x, ln, pre_norm, f):
    """Post-LN ln(x + f(x)) (Vaswani et al.), pre-LN x + f(ln(x))."""
    return x + f(ln(x)) if pre_norm else ln(x + f(x))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["d_model"], c["layer_norm_eps"]
        self.pre_norm = is_pre_norm(c)
        self.self_attn = MultiHeadAttention(d, c["n_head"])
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.ffn = FeedForward(d, c["d_ff"], c["activation"])
        self.ln2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        x = residual(x, self.ln1, self.pre_norm, lambda h: self.self_attn(h, h, causal=False))
        return residual(x, self.ln2, self.pre_norm, self.ffn)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["d_model"], c["layer_norm_eps"]
        self.pre_norm = is_pre_norm(c)
        self.self_attn = MultiHeadAttention(d, c["n_head"])
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.cross_attn = MultiHeadAttention(d, c["n_head"])
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.ffn = FeedForward(d, c["d_ff"], c["activation"])
        self.ln3 = nn.LayerNorm(d, eps=eps)

    def forward(self, x, memory):
        x = residual(x, self.ln1, self.pre_norm, lambda h: self.self_attn(h, h, causal=True))
        x = residual(x, self.ln2, self.pre_norm, lambda h: self.cross_attn(h, memory, causal=False))
        return residual(x, self.ln3, self.pre_norm, self.ffn)


class Stack(nn.Module):
    def __init__(self, c, layer, n):
        super().__init__()
        self.layers = nn.ModuleList(layer(c) for _ in range(n))
        if is_pre_norm(c):
            self.ln_f = nn.LayerNorm(c["d_model"], eps=c["layer_norm_eps"])

    def forward(self, x, *memory):
        for layer in self.layers:
            x = layer(x, *memory)
        return self.ln_f(x) if hasattr(self, "ln_f") else x


def sinusoidal_positions(max_len, d):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same), interleaved (Vaswani et al. 3.5)."""
    pe = torch.zeros(max_len, d, dtype=torch.float64)
    pos = torch.arange(max_len, dtype=torch.float64).view(-1, 1)
    freq = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, :d // 2]
    return pe.float()


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        V, d = c["vocab_size"], c["d_model"]
        self.d, self.max_len = d, c["seq_len"]
        self.shared = c["share_embeddings"]
        if self.shared:
            self.emb = nn.Embedding(V, d)
        else:
            self.src_emb, self.tgt_emb = nn.Embedding(V, d), nn.Embedding(V, d)
        self.encoder = Stack(c, EncoderLayer, c["n_encoder_layers"])
        self.decoder = Stack(c, DecoderLayer, c["n_decoder_layers"])
        self.tied = c["tie_embeddings"]
        if not self.tied:
            self.head = nn.Linear(d, V, bias=False)
        self.register_buffer("positions", sinusoidal_positions(self.max_len, d), persistent=False)

    def embed(self, table, ids):
        return table(ids) * math.sqrt(self.d) + self.positions[:ids.shape[1]]

    def logits(self, source, target_in):
        """source [S] ids (eos last), target_in [T] (bos first) -> [T, V]."""
        src_table = self.emb if self.shared else self.src_emb
        tgt_table = self.emb if self.shared else self.tgt_emb
        memory = self.encoder(self.embed(src_table, torch.tensor([source])))
        x = self.decoder(self.embed(tgt_table, torch.tensor([target_in])), memory)[0]
        return x @ tgt_table.weight.t() if self.tied else self.head(x)

    def nll(self, source, target, bos, eos):
        logits = self.logits(source, [bos] + target).double()
        return F.cross_entropy(logits, torch.tensor(target + [eos]), reduction="sum").item()

    def greedy(self, source, bos, eos, max_steps):
        """Recomputes the whole decoder each step (no cache): ids before eos, at most max_steps."""
        out, margins = [], []
        for _ in range(max_steps):
            last = self.logits(source, [bos] + out)[-1]
            top = torch.topk(last, 2).values
            margins.append((top[0] - top[1]).item())
            best = int(torch.argmax(last))
            if best == eos:
                break
            out.append(best)
        return out, margins


# ---------------------------------------------------------------- LSTM with Luong attention

class LuongAttention(nn.Module):
    def __init__(self, H, c):
        super().__init__()
        self.kind, self.score, self.window = c["type"], c["score"], c["window"]
        if self.kind == "none":
            return
        if self.score == "general":
            self.W_a = nn.Linear(H, H, bias=False)
        elif self.score == "concat":
            self.W_ah, self.W_as = nn.Linear(H, H, bias=False), nn.Linear(H, H, bias=False)
            self.v_a = nn.Parameter(torch.zeros(H))
        if self.kind == "local-p":
            self.W_p, self.v_p = nn.Linear(H, H, bias=False), nn.Linear(H, 1, bias=False)
        self.W_c = nn.Linear(2 * H, H, bias=False)

    def forward(self, h, src, t):
        """h [H] the decoder state at target position t, src [S, H] -> the attentional state h~ [H]."""
        if self.kind == "none":
            return h
        S, D = src.shape[0], self.window
        if self.score == "dot":
            scores = src @ h
        elif self.score == "general":
            scores = self.W_a(src) @ h
        else:
            scores = torch.tanh(self.W_ah(h).view(1, -1) + self.W_as(src)) @ self.v_a
        s = torch.arange(S, dtype=torch.float32)
        if self.kind == "global":
            visible = torch.ones(S, dtype=torch.bool)
        elif self.kind == "local-m":
            visible = (s - t).abs() <= D
        else:
            centre = S * torch.sigmoid(self.v_p(torch.tanh(self.W_p(h))))[0]
            visible = (s.double() - centre.double()).abs() <= D
        a = torch.zeros(S)
        if visible.any():
            a[visible] = torch.softmax(scores[visible], dim=0)
        if self.kind == "local-p":
            sigma = max(0.5, D / 2)
            a = a * torch.exp(-((s.double() - centre.double()) ** 2) / (2 * sigma * sigma)).float()
        context = a @ src
        return torch.tanh(self.W_c(torch.cat([context, h])))


class RnnAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        V, H = c["vocab_size"], c["d_model"]
        self.input_feeding = c["input_feeding"]
        self.src_emb, self.tgt_emb = nn.Embedding(V, H), nn.Embedding(V, H)
        self.encoder = nn.LSTM(H, H, batch_first=True)
        self.decoder = nn.LSTMCell(2 * H if self.input_feeding else H, H)
        self.attention = LuongAttention(H, c["attention"])
        self.tied = c["tie_embeddings"]
        if not self.tied:
            self.head = nn.Linear(H, V, bias=False)

    def start(self, source):
        states, (h, c) = self.encoder(self.src_emb(torch.tensor([source])))
        return states[0], (h[0], c[0]), torch.zeros(1, states.shape[2])

    def step(self, token, t, states, state, feed):
        """One decoder step: the LSTM reads the token's embedding (with h~_{t-1} when input feeding)."""
        x = self.tgt_emb(torch.tensor([token]))
        if self.input_feeding:
            x = torch.cat([x, feed], dim=1)
        h, c = self.decoder(x, state)
        feed = self.attention(h[0], states, t).view(1, -1)
        logits = feed @ self.tgt_emb.weight.t() if self.tied else self.head(feed)
        return logits[0], (h, c), feed

    def nll(self, source, target, bos, eos):
        states, state, feed = self.start(source)
        total = 0.0
        for t, (token, expected) in enumerate(zip([bos] + target, target + [eos])):
            logits, state, feed = self.step(token, t, states, state, feed)
            total += F.cross_entropy(logits.double().view(1, -1), torch.tensor([expected]), reduction="sum").item()
        return total

    def greedy(self, source, bos, eos, max_steps):
        states, state, feed = self.start(source)
        out, margins, token = [], [], bos
        for t in range(max_steps):
            logits, state, feed = self.step(token, t, states, state, feed)
            top = torch.topk(logits, 2).values
            margins.append((top[0] - top[1]).item())
            token = int(torch.argmax(logits))
            if token == eos:
                break
            out.append(token)
        return out, margins


MODELS = {"transformer": Transformer, "rnn-attention": RnnAttention}
