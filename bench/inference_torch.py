"""PyTorch's column of `npm run bench:inference`: model(x) on one-hot digit sequences, no gradients.

LSTM(units[, bidirectional]) -> Linear(H, 2) -> softmax per step, as bench/scale_torch.py builds it;
median of 3 timed passes after a warm-up, for each size. Prints {"LSTM 16": seconds, ...} as JSON.
"""
import argparse
import json

import torch

from scale_common import dataset, features, timed

p = argparse.ArgumentParser()
p.add_argument("--samples", type=int, default=10000)
a = p.parse_args()
torch.manual_seed(1)
digits, _ = dataset(a.samples, 1)
x = torch.from_numpy(features(digits, "onehot"))


class Tagger(torch.nn.Module):
    def __init__(self, units, bidirectional):
        super().__init__()
        self.lstm = torch.nn.LSTM(10, units, batch_first=True, bidirectional=bidirectional)
        self.head = torch.nn.Linear(units * (2 if bidirectional else 1), 2)

    def forward(self, inputs):
        return torch.softmax(self.head(self.lstm(inputs)[0]), -1)



out = {}
with torch.no_grad():
    for units in (16, 32, 64, 128):
        for bidirectional in (False, True):
            model = Tagger(units, bidirectional).eval()
            out[f"{'BiLSTM' if bidirectional else 'LSTM'} {units}"] = timed(lambda: model(x).numpy())
print(json.dumps(out))
