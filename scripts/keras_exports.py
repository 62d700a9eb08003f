"""Loads seq-tag's .keras exports in Keras 3 and compares their probabilities with seq-tag's (not part of npm test).

    python3 -m venv .venv-keras && .venv-keras/bin/pip install tensorflow-cpu
    npm run build && .venv-keras/bin/python scripts/keras_exports.py

For each source model (models seq-tag trains here, and the Keras fixtures read back), seq-tag
exports a .keras file and tags 200 sequences with --json; Keras loads the export with
keras.models.load_model and predicts the same sequences. Prints the largest difference of
P(repeated) per model; exits 1 if any is above 1e-6.
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


def compare(label, model_path, work):
    target = os.path.join(work, "export.keras")
    seq_tag("export", "--model", model_path, "--to", target, "--force", "--backend", "cpu")
    doc = json.loads(seq_tag("predict", "--model", model_path, "--n", "200", "--seed", "11", "--json", "--backend", "cpu"))
    digits = np.array([p["digits"] for p in doc["predictions"]])
    ours = np.array([p["probs"] for p in doc["predictions"]])
    x = digits[:, :, None].astype("float32") if doc["model"]["encoding"] == "scalar" else keras.utils.to_categorical(digits, 10)
    model = keras.models.load_model(target)
    out = model.predict(x, verbose=0)
    if doc["model"].get("compile") and doc["model"]["compile"].get("fromLogits"):
        out = np.exp(out) / np.exp(out).sum(-1, keepdims=True)
    theirs = out[..., 1] / out.sum(-1)
    diff = float(np.abs(theirs - ours).max())
    print(f"  {label:<46} {doc['model']['architecture']:<72} max |Keras - seq-tag| = {diff:.2e}")
    return diff


def main():
    diffs = []
    with tempfile.TemporaryDirectory() as work:
        print(f"Keras {keras.__version__}: seq-tag's exports loaded with keras.models.load_model")
        for label, flags in TRAINED.items():
            folder = os.path.join(work, label.split(" ")[0])
            seq_tag("train", *flags, "--seed", "5", "--model-dir", folder, "--backend", "cpu")
            diffs.append(compare(f"trained: {label}", folder, work))
        for name in sorted(os.listdir(FIXTURES)):
            if name.endswith((".keras", ".h5")) and not name.startswith("seed-linear"):
                diffs.append(compare(f"fixture: {name}", os.path.join(FIXTURES, name), work))
    worst = max(diffs)
    print(f"largest difference {worst:.2e} over {len(diffs)} models (tolerance {TOLERANCE:g})")
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
