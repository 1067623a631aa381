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
    """Streaming.Models.Networks.DowntimeNetwork: [exponential smoothing] -> [Conv1d + ReLU] -> LSTM -> last state [+ attention over states]
    -> [Linear + ReLU] -> dropout -> head (scaled time, K hazard logits); P(within k) = 1 - prod_{j<=k} (1 - sigmoid(z_j))."""

    def __init__(self, features, hidden, layers, horizons, conv_channels=0, conv_kernel=0, attention=False, head_hidden=0, dropout=0.0,
                 smoothing=0.0):
        super().__init__()
        self.smoothing = smoothing
        lstm_input = features
        if conv_channels:
            self.conv = nn.Conv1d(features, conv_channels, conv_kernel, padding=conv_kernel // 2)
            lstm_input = conv_channels
        else:
            self.conv = None
        self.lstm = nn.LSTM(lstm_input, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        width = hidden
        self.attention = nn.Linear(hidden, 1) if attention else None
        if attention:
            width *= 2
        self.hidden = nn.Linear(width, head_hidden) if head_hidden else None
        if head_hidden:
            width = head_hidden
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, 1 + horizons)

    @staticmethod
    def smoothing_matrix(alpha, steps):
        """s_0 = x_0, s_t = alpha x_t + (1 - alpha) s_{t-1}, as one [T, T] lower-triangular matrix (no parameters)."""
        m = torch.zeros(steps, steps, dtype=torch.float64)
        for t in range(steps):
            for j in range(t + 1):
                m[t, j] = (1 - alpha) ** t if j == 0 else alpha * (1 - alpha) ** (t - j)
        return m.float()

    def forward(self, x):
        if self.smoothing > 0:
            x = torch.matmul(Downtime.smoothing_matrix(self.smoothing, x.shape[1]), x)
        if self.conv is not None:
            x = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        states, _ = self.lstm(x)
        features = states[:, -1]
        if self.attention is not None:
            weights = torch.softmax(self.attention(states).squeeze(-1), 1)
            features = torch.cat([(weights.unsqueeze(-1) * states).sum(1), features], 1)
        if self.hidden is not None:
            features = torch.relu(self.hidden(features))
        return self.head(self.dropout(features))

    @staticmethod
    def probabilities(raw):
        return -torch.expm1(torch.cumsum(nn.functional.logsigmoid(-raw[:, 1:]), 1))


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

    # The downtime predictor plain (LSTM + head) and with every optional part (convolution, attention, hidden layer).
    for name, model in (("downtime", Downtime(6, 12, 1, 3)),
                        ("downtime_full", Downtime(6, 12, 2, 3, conv_channels=8, conv_kernel=3, attention=True, head_hidden=10, dropout=0.2,
                                                  smoothing=0.3))):
        model.eval()
        x = torch.randn(3, 9, 6)
        with torch.no_grad():
            raw = model(x)
            write(name, model, {"input": x, "output": raw, "probabilities": Downtime.probabilities(raw)})

    # Other dtypes, to check conversion on load.
    v = torch.tensor([1.0, -2.5, 0.15625, 3.0e-3, 65504.0 / 8])
    save_safetensors({"f64": v.double(), "f16": v.half(), "bf16": v.bfloat16(), "f32": v}, os.path.join(OUT, "dtypes.safetensors"))


if __name__ == "__main__":
    main()
