"""A model retrained by `seq-tag train --from FILE --fix`, loaded in Keras 3: the same predictions (not part of npm test).

    seq-tag train --from tagger.keras --fix --data pos.npz --to fixed.keras
    seq-tag predict --model fixed.keras --data pos.npz --n 100 --json > predicted.json
    .venv-keras/bin/python scripts/keras_retrain_check.py fixed.keras pos.npz predicted.json

Runs the Keras model on the first n inputs of the .npz (model(x), not model.predict(x): Keras 3.15's
predict() returns a single step for a second length on masked models), compares every probability with
seq-tag's and Keras's model.evaluate loss with seq-tag's `evaluate` figures when given as a 4th argument
(the --json of `seq-tag evaluate --model fixed.keras --data pos.npz`); exits 1 if a probability differs
by more than 1e-5.
"""
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402

exported, data, predicted = sys.argv[1:4]
model = keras.models.load_model(exported)
arrays = np.load(data)
rows = json.load(open(predicted))["predictions"]
x = arrays["x"][: len(rows)]
keras_out = np.asarray(model(x))
worst = 0.0
for k, row in enumerate(rows):
    ours = np.asarray(row["probabilities"], dtype="float64")
    theirs = keras_out[k][: len(ours)]
    worst = max(worst, float(np.abs(theirs - ours).max()))
result = {"keras": keras.__version__, "rows": len(rows), "max_probability_difference": worst}
if len(sys.argv) > 4:
    ours = json.load(open(sys.argv[4]))["evaluation"]
    y = arrays["y"]
    loss, accuracy = model.evaluate(arrays["x"], y, verbose=0)[:2] if model.metrics_names else (model.evaluate(arrays["x"], y, verbose=0), None)
    result.update({"keras_loss": float(loss), "seq_tag_loss": ours["loss"], "loss_difference": abs(float(loss) - ours["loss"])})
print(json.dumps(result))
sys.exit(1 if worst > 1e-5 else 0)
