#!/usr/bin/python3
"""Loads models trained by Streaming.Models (TorchSharp) into PyTorch and checks their outputs.

    /usr/bin/python3 tools/golden/check_trained.py DIR
DIR holds one sub-directory per model (manifest.json + weights.safetensors, as `streaming train` writes them) and
<name>.io.safetensors with the inputs and the outputs TorchSharp computed. Builds the PyTorch module from the manifest,
loads the state_dict strictly, and exits 1 unless every output matches within 1e-5 relative (1e-6 absolute).
Run by PyTorchRoundTripTests; needs Debian's python3-torch.
"""
import json
import os
import struct
import sys

import numpy
import torch

sys.path.insert(0, os.path.dirname(__file__))
from generate import Downtime, Forecaster, Vae  # noqa: E402

NUMPY = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        array = numpy.frombuffer(body[start:end], dtype=NUMPY[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.astype("float32"))
    return tensors


def build(manifest):
    a = manifest["architecture"]
    kind = manifest["kind"]
    if kind == "LstmForecaster":
        return Forecaster(a["inputSize"], a["hiddenSize"], a["numLayers"])
    if kind == "Vae":
        encoder = a["encoder"].lower()
        return Vae(encoder, a["inputSize"], a["sequenceLength"], a["hiddenSize"], a["latentSize"], a["numLayers"])
    if kind == "DowntimePredictor":
        return Downtime(a["inputSize"], a["hiddenSize"], a["numLayers"], len(a["horizons"]), a["convChannels"], a["convKernel"],
                        a["attention"], a["headHiddenSize"], a["dropout"], a.get("smoothing", 0.0))
    raise ValueError(f"unknown kind {kind}")


def outputs(kind, model, x):
    if kind == "LstmForecaster":
        return {"prediction": model(x)}
    if kind == "Vae":
        recon, mu, logvar, score = model(x)
        return {"reconstruction": recon, "mu": mu, "logvar": logvar, "score": score}
    raw = model(x)
    return {"output": raw, "probabilities": Downtime.probabilities(raw)}


def main(directory):
    failures = 0
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not os.path.isdir(path):
            continue
        with open(os.path.join(path, "manifest.json")) as f:
            manifest = json.load(f)
        model = build(manifest)
        model.load_state_dict(load_safetensors(os.path.join(path, "weights.safetensors")), strict=True)
        model.eval()
        io = load_safetensors(os.path.join(directory, name + ".io.safetensors"))
        with torch.no_grad():
            ours = outputs(manifest["kind"], model, io["input"])
        for key, value in ours.items():
            expected = io[key]
            worst = float(((value - expected).abs() - 1e-5 * expected.abs()).max())
            ok = worst <= 1e-6
            failures += 0 if ok else 1
            print(f"{name}.{key}: {'ok' if ok else 'MISMATCH'} (max |torch - torchsharp| - 1e-5 |torchsharp| = {worst:.2e})")
    print("torch", torch.__version__)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
