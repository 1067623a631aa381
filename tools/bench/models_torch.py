#!/usr/bin/python3
"""PyTorch side of the model benchmark: LSTM 16 -> 64, T = 32, linear head 64 -> 16, one thread, no_grad.

Prints one line per batch size: "torch <batch> <best windows/s> <best us/batch> <median us/batch>", where best and
median are over timed rounds (the best round is the least disturbed by other load on a shared machine).
"""
import sys
import time

import torch
from torch import nn

FEATURES, HIDDEN, STEPS = 16, 64, 32


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, HIDDEN, 1, batch_first=True)
        self.head = nn.Linear(HIDDEN, FEATURES)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def measure(model, batch, seconds):
    x = torch.randn(batch, STEPS, FEATURES)
    with torch.no_grad():
        for _ in range(50):
            model(x)
        rounds = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            iterations = 100 if batch == 1 else 5
            start = time.perf_counter()
            for _ in range(iterations):
                model(x)
            rounds.append((time.perf_counter() - start) / iterations)
    rounds.sort()
    return rounds[0], rounds[len(rounds) // 2]


def main():
    torch.set_num_threads(1)
    torch.manual_seed(42)
    model = Forecaster().eval()
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    for batch in (1, 64):
        best, median = measure(model, batch, seconds)
        print(f"torch {batch} {batch / best:.0f} {best * 1e6:.1f} {median * 1e6:.1f}")


if __name__ == "__main__":
    main()
