"""Keras 3 and PyTorch on the same tagged text as seq-tag (not part of npm test; needs no GPU).

    perl scripts/make-corpus.pl /tmp/corpus           # real prose tagged by Lingua::EN::Tagger
    .venv-keras/bin/python scripts/compare_text.py /tmp/corpus --epochs 5

Reads pos-train.txt, pos-dev.txt and pos-test.txt (word/TAG per line) as seq-tag does: the vocabulary
from the training file only (id 0 padding, 1 <unk>, every word seen once or more), sentences longer
than --max-length split into pieces, tags the model never saw in training refused. Then trains, for
each side, Embedding(64, padding masked) -> bidirectional LSTM(64) -> Dense(tags, softmax) with Adam
(lr 0.001), batches of 32 in a seeded order, and prints one JSON line per side: held-out token accuracy
on the test file (padding left out), the fit time (training epochs only, with validation scoring as
seq-tag does) and the seconds per epoch. Run seq-tag with the same flags for its line:

    seq-tag train --data /tmp/corpus/pos-train.txt --validation-data /tmp/corpus/pos-dev.txt \\
      --test-data /tmp/corpus/pos-test.txt --bidirectional --units 64 --embedding-dim 64 --epochs 5 --json
"""
import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def read(path):
    sentences = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            tokens = line.split()
            if tokens:
                sentences.append([(t[: t.rindex("/")], t[t.rindex("/") + 1 :]) for t in tokens])
    return sentences


def encode(sentences, ids, tags, max_length):
    rows = []
    for s in sentences:
        for start in range(0, len(s), max_length):
            piece = s[start : start + max_length]
            rows.append(([ids.get(w, 1) for w, _ in piece], [tags[t] for _, t in piece]))
    steps = max(len(r[0]) for r in rows)
    x = np.zeros((len(rows), steps), dtype=np.int64)
    y = np.zeros((len(rows), steps), dtype=np.int64)
    for i, (w, t) in enumerate(rows):
        x[i, : len(w)] = w
        y[i, : len(t)] = t
    return x, y


def keras_side(data, vocab, n_tags, args):
    import keras

    keras.utils.set_random_seed(args.seed)
    (xt, yt), (xv, yv), (xs, ys) = data
    model = keras.Sequential(
        [
            keras.layers.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocab, 64, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.LSTM(args.units, return_sequences=True)),
            keras.layers.TimeDistributed(keras.layers.Dense(n_tags, activation="softmax")),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(xt, yt, batch_size=32, epochs=args.epochs, validation_data=(xv, yv), shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(xs, batch_size=256, verbose=0).argmax(-1)
    mask = xs != 0
    return {"side": "keras", "keras": keras.__version__, "test_token_accuracy": float((predicted == ys)[mask].mean()), "fit_seconds": seconds}


def torch_side(data, vocab, n_tags, args):
    import torch
    from torch import nn

    torch.manual_seed(args.seed)
    (xt, yt), (xv, yv), (xs, ys) = data

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, 64, padding_idx=0)
            self.lstm = nn.LSTM(64, args.units, batch_first=True, bidirectional=True)
            self.dense = nn.Linear(2 * args.units, n_tags)

        def forward(self, x):
            lengths = (x != 0).sum(1).clamp(min=1)
            packed = nn.utils.rnn.pack_padded_sequence(self.embedding(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            return self.dense(out)

    model = Tagger()
    # Keras's initialisers, so that both sides train the same model from the same kind of start:
    # Embedding uniform(-0.05, 0.05), glorot-uniform kernels, orthogonal recurrent kernels, zero biases
    # with the forget gate's at 1 (PyTorch splits it in two biases: b_ih carries it), zero Dense bias.
    with torch.no_grad():
        nn.init.uniform_(model.embedding.weight, -0.05, 0.05)
        for name, p in model.lstm.named_parameters():
            if name.startswith("weight_ih"):
                # Keras's glorot_uniform over the whole [input, 4 units] kernel.
                bound = (6 / (p.shape[1] + p.shape[0])) ** 0.5
                nn.init.uniform_(p, -bound, bound)
            elif name.startswith("weight_hh"):
                q = torch.empty(args.units, 4 * args.units)
                nn.init.orthogonal_(q)
                p.copy_(q.T)
            elif name.startswith("bias_ih"):
                p.zero_()
                p[args.units : 2 * args.units] = 1.0
            else:
                p.zero_()
        nn.init.xavier_uniform_(model.dense.weight)
        nn.init.zeros_(model.dense.bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    loss_of = nn.CrossEntropyLoss(ignore_index=-1)
    x_train, y_train = torch.tensor(xt), torch.tensor(np.where(xt == 0, -1, yt))
    generator = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        order = generator.permutation(len(xt))
        for b in range(0, len(order), 32):
            idx = torch.tensor(order[b : b + 32])
            xb, yb = x_train[idx], y_train[idx]
            steps = int((xb != 0).sum(1).max())
            optimizer.zero_grad()
            loss = loss_of(model(xb[:, :steps]).reshape(-1, n_tags), yb[:, :steps].reshape(-1))
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            model(torch.tensor(xv))  # the validation pass every epoch, as Keras and seq-tag score it
    seconds = time.perf_counter() - start
    with torch.no_grad():
        predicted = model(torch.tensor(xs)).argmax(-1).numpy()
    mask = xs != 0
    return {"side": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "test_token_accuracy": float((predicted == ys)[mask].mean()), "fit_seconds": seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sides", default="keras,pytorch")
    args = parser.parse_args()
    train, dev, test = (read(os.path.join(args.corpus, f"pos-{s}.txt")) for s in ("train", "dev", "test"))
    counts = {}
    for s in train:
        for w, _ in s:
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    ids = {w: i + 2 for i, w in enumerate(words)}
    tag_list = sorted({t for s in train for _, t in s})
    tags = {t: i for i, t in enumerate(tag_list)}
    for name, part in (("dev", dev), ("test", test)):
        unseen = {t for s in part for _, t in s} - set(tags)
        if unseen:
            raise SystemExit(f"pos-{name}.txt has tags training never saw: {sorted(unseen)}")
    data = [encode(part, ids, tags, args.max_length) for part in (train, dev, test)]
    for side in args.sides.split(","):
        result = (keras_side if side == "keras" else torch_side)(data, len(ids) + 2, len(tags), args)
        result.update(epochs=args.epochs, units=args.units, sentences=[len(train), len(dev), len(test)])
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
