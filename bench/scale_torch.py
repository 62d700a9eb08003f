"""PyTorch's column of `npm run bench:scale`: the same model and training loop, timed around the fit.

LSTM(units, return sequences[, bidirectional]) -> Linear(H, 2) per step, softmax crossentropy,
Adam, shuffled mini-batches. Prints {"fitSeconds": ...} as JSON. CPU, PyTorch's default threads.
"""
import json
import time

import numpy as np
import torch

from scale_common import arguments, dataset, features

a = arguments()
torch.manual_seed(a.seed)
digits, labels = dataset(a.samples, a.seed)
x = torch.from_numpy(features(digits, a.encoding))
y = torch.from_numpy(labels)


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(x.shape[-1], a.units, batch_first=True, bidirectional=a.bidirectional)
        self.head = torch.nn.Linear(a.units * (2 if a.bidirectional else 1), 2)

    def forward(self, inputs):
        return self.head(self.lstm(inputs)[0])


model = Tagger()
optimizer = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()
started = time.perf_counter()
for epoch in range(a.epochs):
    order = torch.randperm(a.samples)
    for start in range(0, a.samples, a.batch_size):
        idx = order[start : start + a.batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(x[idx]).reshape(-1, 2), y[idx].reshape(-1))
        loss.backward()
        optimizer.step()
fit = time.perf_counter() - started
print(json.dumps({"fitSeconds": fit, "loss": float(loss), "threads": torch.get_num_threads(), "version": torch.__version__}))
