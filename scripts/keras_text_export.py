"""A text tagger exported by seq-tag, loaded in Keras 3: the same tags and probabilities (not part of npm test).

    seq-tag train --data pos-train.txt --model-dir tagger ...
    seq-tag export --model tagger --to tagger.keras
    seq-tag predict --model tagger --input sentences.txt --json > tagged.jsonl
    .venv-keras/bin/python scripts/keras_text_export.py tagger tagger.keras tagged.jsonl

Encodes each sentence with the vocabulary saved in tagger/model.json (unknown words as id 1), runs the
Keras model on it and compares the tags and the chosen tags' probabilities with seq-tag's; exits 1 if a
tag differs or a probability differs by more than 1e-6. Calls model(x), not model.predict(x): Keras
3.15's predict() returns a single step for a second sentence length on this masked model.
"""
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402

folder, exported, tagged = sys.argv[1:4]
meta = json.load(open(os.path.join(folder, "model.json")))["userDefinedMetadata"]["text"]
ids = {w: i for i, w in enumerate(meta["words"]) if i > 1}
model = keras.models.load_model(exported)
worst = 0.0
for line in open(tagged):
    d = json.loads(line)
    if not d["tokens"]:
        continue
    p = np.asarray(model(np.array([[ids.get(w, 1) for w in d["tokens"]]])))[0]
    tags = [meta["tags"][k] for k in p.argmax(-1)]
    if tags != d["tags"]:
        sys.exit(f"tags differ: Keras {tags}, seq-tag {d['tags']}")
    worst = max(worst, float(np.abs(p.max(-1) - np.array(d["confidence"])).max()))
print(json.dumps({"keras": keras.__version__, "same_tags": True, "max_probability_difference": worst}))
sys.exit(1 if worst > 1e-6 else 0)
