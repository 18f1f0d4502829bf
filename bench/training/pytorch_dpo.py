#!/usr/bin/env python3
"""Plain-PyTorch DPO training step on a llama-family GGUF: the reference for the libtorch trainer.

Builds the same model as plugins/trainer/src/model.cpp (RMSNorm, llama.cpp's RoPE, grouped-query
attention, SwiGLU, tied or untied output, qwen2 biases) from the same GGUF (F32/F16 tensors, read
by the small reader below, no gguf-py needed), the same synthetic batch (token (i, j) =
(7*i + 13*j + 5*side) % n_vocab), and times the same step: forward of chosen+rejected, sigmoid
DPO loss (beta 0.1) against reference log-probs computed once, backward, grad-norm clip 1.0,
AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1). Prints one JSON object.

Run with Debian's torch: /usr/bin/python3 bench/training/pytorch_dpo.py --model M.gguf
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# --- a minimal GGUF reader (v2/v3) ---------------------------------------------------------

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_gguf(path):
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8", "replace")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(_SCALAR[t])

    assert buf[:4] == b"GGUF", "not a GGUF file"
    pos = 4
    take("<I")  # version
    n_tensors, n_kv = take("<Q"), take("<Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = kv.get("general.alignment", 32)
    start = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        n = int(np.prod(ne))
        if typ == 0:
            a = np.frombuffer(buf, dtype=np.float32, count=n, offset=start + off)
        elif typ == 1:
            a = np.frombuffer(buf, dtype=np.float16, count=n, offset=start + off).astype(np.float32)
        else:
            raise SystemExit(f"tensor {name}: ggml type {typ} not supported by this reader")
        tensors[name] = torch.from_numpy(a.copy()).reshape(list(reversed(ne)))
    return kv, tensors


# --- the model -------------------------------------------------------------------------------


class Llama:
    def __init__(self, path):
        kv, t = read_gguf(path)
        arch = kv["general.architecture"]
        if arch not in ("llama", "qwen2"):
            raise SystemExit(f"architecture {arch} not supported")
        g = lambda k, d=None: kv.get(f"{arch}.{k}", d)
        self.n_layer = g("block_count")
        self.n_embd = g("embedding_length")
        self.n_head = g("attention.head_count")
        self.n_head_kv = g("attention.head_count_kv", self.n_head)
        self.hd = self.n_embd // self.n_head
        self.eps = g("attention.layer_norm_rms_epsilon", 1e-5)
        self.neox = arch == "qwen2"
        base = g("rope.freq_base", 10000.0)
        factor = g("rope.scaling.factor", 0.0) or 0.0
        self.freq_scale = 1.0 if factor == 0 else 1.0 / factor
        self.theta_scale = np.float32(base) ** np.float32(-2.0 / self.hd)
        self.params = []

        def p(name):
            if name not in t:
                return None
            x = t[name].clone().requires_grad_(False)
            self.params.append(x)
            return x

        self.tok_embd = p("token_embd.weight")
        self.output_norm = p("output_norm.weight")
        self.output = p("output.weight")
        self.output_b = p("output.bias")
        self.layers = []
        for i in range(self.n_layer):
            b = f"blk.{i}."
            L = {"attn_norm": p(b + "attn_norm.weight"), "ffn_norm": p(b + "ffn_norm.weight")}
            for k in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
                L[k] = (p(b + k + ".weight"), p(b + k + ".bias"))
            self.layers.append(L)
        self.rope_n = 0

    def ensure_rope(self, n):
        if n <= self.rope_n:
            return
        half = self.hd // 2
        c = np.zeros((n, half), np.float32)
        s = np.zeros((n, half), np.float32)
        for pos in range(n):  # ggml's float recurrence
            theta = np.float32(pos)
            for i in range(half):
                th = np.float32(self.freq_scale) * theta
                c[pos, i], s[pos, i] = np.cos(th), np.sin(th)
                theta = np.float32(theta * self.theta_scale)
        self.cos, self.sin = torch.from_numpy(c), torch.from_numpy(s)
        self.rope_n = n

    def rope(self, x):
        B, T, H, hd = x.shape
        c = self.cos[:T].view(1, T, 1, hd // 2)
        s = self.sin[:T].view(1, T, 1, hd // 2)
        if not self.neox:
            xv = x.reshape(B, T, H, hd // 2, 2)
            x0, x1 = xv[..., 0], xv[..., 1]
            return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).view(B, T, H, hd)
        x0, x1 = x[..., : hd // 2], x[..., hd // 2:]
        return torch.cat((x0 * c - x1 * s, x0 * s + x1 * c), -1)

    @staticmethod
    def rms(x, w, eps):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def hidden(self, ids):
        B, T = ids.shape
        self.ensure_rope(T)
        H, Hkv, hd = self.n_head, self.n_head_kv, self.hd
        rep = H // Hkv
        mask = torch.full((T, T), float("-inf")).triu_(1)
        h = F.embedding(ids, self.tok_embd)
        for L in self.layers:
            x = self.rms(h, L["attn_norm"], self.eps)
            q = self.rope(F.linear(x, *L["attn_q"]).view(B, T, H, hd))
            k = self.rope(F.linear(x, *L["attn_k"]).view(B, T, Hkv, hd))
            v = F.linear(x, *L["attn_v"]).view(B, T, Hkv, hd)
            q = q.view(B, T, Hkv, rep, hd).permute(0, 2, 3, 1, 4).reshape(B, Hkv, rep * T, hd)
            k = k.permute(0, 2, 1, 3)
            v = v.permute(0, 2, 1, 3)
            scores = torch.matmul(q, k.transpose(-1, -2)).mul_(1.0 / math.sqrt(hd))
            probs = torch.softmax(scores.view(B, Hkv, rep, T, T) + mask, -1)
            o = torch.matmul(probs.view(B, Hkv, rep * T, T), v)
            o = o.view(B, Hkv, rep, T, hd).permute(0, 3, 1, 2, 4).reshape(B, T, H * hd)
            h = h + F.linear(o, *L["attn_output"])
            x = self.rms(h, L["ffn_norm"], self.eps)
            h = h + F.linear(F.silu(F.linear(x, *L["ffn_gate"])) * F.linear(x, *L["ffn_up"]), *L["ffn_down"])
        return self.rms(h, self.output_norm, self.eps)

    def logits(self, h):
        w = self.tok_embd if self.output is None else self.output
        return F.linear(h, w, self.output_b)


def make_batch(seqs):
    """seqs: list of (prompt, target) token lists; right padding (see train.cpp)."""
    T = max(len(p) + len(t) - 1 for p, t in seqs)
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    sel, labels, seg = [], [], []
    tokens = 0
    for i, (p, t) in enumerate(seqs):
        full = p + t
        ids[i, : len(full) - 1] = torch.tensor(full[:-1])
        for j in range(len(p) - 1, len(full) - 1):
            sel.append(i * T + j)
            labels.append(full[j + 1])
            seg.append(i)
        tokens += len(full) - 1
    return ids, torch.tensor(sel), torch.tensor(labels), torch.tensor(seg), tokens


def seq_logps(m, batch):
    ids, sel, labels, seg, _ = batch
    h = m.hidden(ids)
    hs = h.reshape(-1, h.size(2)).index_select(0, sel)
    lp = torch.log_softmax(m.logits(hs), -1).gather(1, labels.unsqueeze(1)).squeeze(1)
    return torch.zeros(ids.size(0)).index_add(0, seg, lp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--target-len", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-6)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Llama(a.model)
    V = m.tok_embd.shape[0]
    tok = lambda i, j, side: (7 * i + 13 * j + 5 * side) % V
    P, Tt = a.prompt_len, a.target_len
    pairs = []
    for i in range(a.pairs):
        prompt = [tok(i, j, 0) for j in range(P)]
        pairs.append((prompt, [tok(i, P + j, 0) for j in range(Tt)], [tok(i, P + j, 1) for j in range(Tt)]))
    seqs = [(p, c) for p, c, _ in pairs] + [(p, r) for p, _, r in pairs]
    with torch.no_grad():
        ref = seq_logps(m, make_batch(seqs))
    B = a.pairs
    ref_c, ref_r = ref[:B], ref[B:]
    for x in m.params:
        x.requires_grad_(True)
    opt = torch.optim.AdamW(m.params, lr=a.lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    losses, times, tokens = [], [], 0
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        batch = make_batch(seqs)
        lp = seq_logps(m, batch)
        cr = 0.1 * (lp[:B] - ref_c)
        rj = 0.1 * (lp[B:] - ref_r)
        loss = -F.logsigmoid(cr - rj).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.params, 1.0)
        opt.step()
        losses.append(loss.item())
        dt = time.perf_counter() - t0
        tokens = batch[4]
        if s >= a.warmup:
            times.append(dt)
    times.sort()
    sps = times[len(times) // 2]
    print(json.dumps({"seconds_per_step": sps, "tokens_per_s": tokens / sps, "tokens_per_step": tokens,
                      "losses": losses, "torch_version": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    sys.exit(main())
