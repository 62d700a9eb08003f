"""Loads seq-tag's .keras exports in Keras 3 and compares their probabilities with seq-tag's (not part of npm test).

    python3 -m venv .venv-keras && .venv-keras/bin/pip install tensorflow-cpu
    npm run build && .venv-keras/bin/python scripts/keras_exports.py

For each source model (models seq-tag trains here, and the Keras fixtures read back), seq-tag
exports a .keras file and tags 200 sequences (or 50 of the fixture's own .npz) with --json; Keras
loads the export with keras.models.load_model and predicts the same sequences. Prints the largest
difference of P(repeated) (or of the raw outputs, for a head that is not softmax) per model, and
whether Keras rebuilds the same optimizer and loss from exports of compiled fixtures; exits 1 if
any difference is above 1e-6 or any compile setting changed.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = ["node", os.path.join(ROOT, "dist", "src", "cli", "main.js")]
FIXTURES = os.path.join(ROOT, "test", "fixtures", "keras")
TOLERANCE = 1e-6

TRAINED = {
    "original (LSTM 16, softmax)": ["--epochs", "3"],
    "solve (BiLSTM 16, one-hot)": ["--preset", "solve", "--samples", "1000", "--epochs", "2"],
    "BatchNorm + LayerNorm, sgd, clipnorm": ["--batch-norm", "--layer-norm", "--optimizer", "sgd", "--clipnorm", "1", "--epochs", "2"],
    "64 units, glorotNormal kernels": ["--units", "64", "--kernel-initializer", "glorotNormal", "--epochs", "1"],
}


def seq_tag(*args):
    run = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"seq-tag {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout


# Fixtures off the digit task are tagged on their own data (predict --data).
DATA = {"masking": "masking.npz", "pos-tagger": "pos.npz", "pos-linear": "pos.npz"}
# Fixtures whose weights are NaN (their training diverged): seq-tag refuses them for predictions;
# and Keras 2.2's hard_sigmoid gates, which Keras 3 has no function for: seq-tag refuses to export them.
DIVERGED = ("seed-linear", "pos-linear", "keras224")


def compare(label, model_path, work):
    target = os.path.join(work, "export.keras")
    seq_tag("export", "--model", model_path, "--to", target, "--force", "--backend", "cpu")
    stem = os.path.basename(model_path).split(".")[0]
    if stem in DATA:
        data = np.load(os.path.join(FIXTURES, DATA[stem]))
        doc = json.loads(seq_tag("predict", "--model", model_path, "--data", os.path.join(FIXTURES, DATA[stem]), "--n", "50", "--json", "--backend", "cpu"))
        x = data["x"][:50]
    else:
        doc = json.loads(seq_tag("predict", "--model", model_path, "--n", "200", "--seed", "11", "--json", "--backend", "cpu"))
        digits = np.array([p["digits"] for p in doc["predictions"]])
        x = digits[:, :, None].astype("float32") if doc["model"]["encoding"] == "scalar" else keras.utils.to_categorical(digits, 10)
    model = keras.models.load_model(target)
    out = model.predict(x, verbose=0)
    if doc["model"].get("compile") and doc["model"]["compile"].get("fromLogits"):
        out = np.exp(out) / np.exp(out).sum(-1, keepdims=True)
    diffs = []
    for k, p in enumerate(doc["predictions"]):
        # seq-tag leaves masked padding out; the first len(p["predicted"]) positions are the real ones.
        rows = out[k, : len(p["predicted"])]
        ours = np.array(p["probs"]) if "probs" in p else np.array(p["outputs"])
        theirs = rows[:, 1] if "probs" in p else rows
        diffs.append(float(np.abs(theirs - ours).max()))
    diff = max(diffs)
    print(f"  {label:<46} {doc['model']['architecture']:<72} max |Keras - seq-tag| = {diff:.2e}")
    return diff


def loss_id(loss):
    """A loss as comparable data: a name ("categorical_crossentropy" and the function of that name are one loss) or a class with its settings."""
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        config.pop("name", None)
        return type(loss).__name__, config
    return loss if isinstance(loss, str) else getattr(loss, "__name__", repr(loss))


def compare_compile(name, work):
    """The export keeps every compile setting: Keras 3 rebuilds the same optimizer and loss."""
    source = keras.models.load_model(os.path.join(FIXTURES, name))
    target = os.path.join(work, "export.keras")
    seq_tag("export", "--model", os.path.join(FIXTURES, name), "--to", target, "--force", "--backend", "cpu")
    exported = keras.models.load_model(target)
    same_optimizer = source.optimizer.get_config() | {"name": None} == exported.optimizer.get_config() | {"name": None}
    same_loss = loss_id(source.loss) == loss_id(exported.loss)
    print(f"  compile settings of {name:<32} optimizer {'kept' if same_optimizer else 'CHANGED'}, loss {'kept' if same_loss else 'CHANGED'}")
    return same_optimizer and same_loss


def main():
    diffs = []
    with tempfile.TemporaryDirectory() as work:
        print(f"Keras {keras.__version__}: seq-tag's exports loaded with keras.models.load_model")
        for label, flags in TRAINED.items():
            folder = os.path.join(work, label.split(" ")[0])
            seq_tag("train", *flags, "--seed", "5", "--model-dir", folder, "--backend", "cpu")
            diffs.append(compare(f"trained: {label}", folder, work))
        for name in sorted(os.listdir(FIXTURES)):
            if name.endswith((".keras", ".h5")) and not name.startswith(DIVERGED):
                diffs.append(compare(f"fixture: {name}", os.path.join(FIXTURES, name), work))
        kept = all([compare_compile(name, work) for name in ("sgd-nesterov.keras", "adamw-schedule.keras", "logits.keras", "sigmoid-ce.h5")])
    worst = max(diffs)
    print(f"largest difference {worst:.2e} over {len(diffs)} models (tolerance {TOLERANCE:g}); compile settings {'all kept' if kept else 'NOT all kept'}")
    sys.exit(0 if worst <= TOLERANCE and kept else 1)


if __name__ == "__main__":
    main()
