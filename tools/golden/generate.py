#!/usr/bin/python3
"""Writes PyTorch golden vectors for Streaming.Models' forward passes.

Run from the repository root with Debian's torch (never a runtime dependency):
    /usr/bin/python3 tools/golden/generate.py
Each model gets <name>.weights.safetensors (its state_dict, PyTorch parameter names) and
<name>.io.safetensors (inputs and expected outputs) under tests/Streaming.Models.Tests/TestData/.
"""
import json
import os
import struct
import sys

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "Streaming.Models.Tests", "TestData")
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}


def save_safetensors(tensors, path, metadata=None):
    """Minimal safetensors writer (python3-safetensors is not packaged in Debian bookworm)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            # numpy has no bfloat16: reinterpret the bits as int16 to get the raw little-endian bytes.
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().newbyteorder("<").tobytes() if sys.byteorder != "little" else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for raw in blobs:
            f.write(raw)


class Forecaster(nn.Module):
    def __init__(self, features, hidden, layers):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, features)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class Vae(nn.Module):
    def __init__(self, encoder, features, steps, hidden, latent, layers=1):
        super().__init__()
        self.kind = encoder
        if encoder == "dense":
            self.encoder = nn.Linear(features * steps, hidden)
        else:
            self.encoder = nn.LSTM(features, hidden, layers, batch_first=True)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.decoder_hidden = nn.Linear(latent, hidden)
        self.decoder_out = nn.Linear(hidden, features * steps)

    def forward(self, x):
        if self.kind == "dense":
            e = torch.tanh(self.encoder(x.flatten(1)))
        else:
            e = self.encoder(x)[0][:, -1]
        mu, logvar = self.fc_mu(e), self.fc_logvar(e)
        recon = self.decoder_out(torch.tanh(self.decoder_hidden(mu))).view_as(x)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        score = (recon - x).pow(2).sum((1, 2)) + kl
        return recon, mu, logvar, score


class Downtime(nn.Module):
    def __init__(self, features, hidden, layers, horizons):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, 1 + horizons)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def write(name, model, io):
    save_safetensors(model.state_dict(), os.path.join(OUT, name + ".weights.safetensors"),
                     {"format": "pt", "torch": torch.__version__})
    save_safetensors(io, os.path.join(OUT, name + ".io.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261122)

    # Forecaster, two stacked layers, plus PyTorch's gradients of one sample's MSE for a backward cross-check.
    m = Forecaster(5, 8, 2)
    x = torch.randn(3, 7, 5)
    target = torch.randn(3, 5)
    with torch.no_grad():
        y = m(x)
    m.zero_grad()
    loss = (m(x[:1]) - target[:1]).pow(2).mean()
    loss.backward()
    io = {"input": x, "target": target, "prediction": y, "loss": loss.detach().reshape(1)}
    io.update({"grad." + n: p.grad for n, p in m.named_parameters()})
    write("forecaster", m, io)

    # Three Adam steps with gradient clipping on a fixed batch, to check the optimiser against torch.optim.Adam.
    m = Forecaster(4, 6, 1)
    initial = {n: p.detach().clone() for n, p in m.state_dict().items()}
    x = torch.randn(5, 6, 4)
    target = torch.randn(5, 4)
    optimizer = torch.optim.Adam(m.parameters(), lr=1e-2)
    norms = []
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.mse_loss(m(x), target).backward()
        norms.append(float(nn.utils.clip_grad_norm_(m.parameters(), max_norm=0.5)))
        optimizer.step()
    io = {"input": x, "target": target, "clip_norms": torch.tensor(norms)}
    io.update({"after." + n: p.detach() for n, p in m.state_dict().items()})
    save_safetensors(initial, os.path.join(OUT, "adam.weights.safetensors"), {"format": "pt"})
    save_safetensors(io, os.path.join(OUT, "adam.io.safetensors"))

    # Forecaster at the benchmark's shape (16 features, 64 hidden, 32 steps).
    m = Forecaster(16, 64, 1)
    x = torch.randn(2, 32, 16)
    with torch.no_grad():
        write("forecaster_16x64", m, {"input": x, "prediction": m(x)})

    for kind in ("dense", "lstm"):
        m = Vae(kind, 4, 6, 10, 3)
        x = torch.randn(3, 6, 4)
        with torch.no_grad():
            recon, mu, logvar, score = m(x)
        write("vae_" + kind, m, {"input": x, "reconstruction": recon, "mu": mu, "logvar": logvar, "score": score})

    m = Downtime(6, 12, 1, 3)
    x = torch.randn(3, 9, 6)
    with torch.no_grad():
        write("downtime", m, {"input": x, "output": m(x)})

    # Other dtypes, to check conversion on load.
    v = torch.tensor([1.0, -2.5, 0.15625, 3.0e-3, 65504.0 / 8])
    save_safetensors({"f64": v.double(), "f16": v.half(), "bf16": v.bfloat16(), "f32": v}, os.path.join(OUT, "dtypes.safetensors"))


if __name__ == "__main__":
    main()
