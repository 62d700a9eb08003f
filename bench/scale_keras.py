"""Keras's column of `npm run bench:scale`: the seed program's model at each size, timed around fit.

LSTM(units, return_sequences=True)[ in Bidirectional] -> TimeDistributed(Dense(2, softmax)),
categorical crossentropy, Adam, batch 32, shuffle. Prints {"fitSeconds": ...} as JSON.
"""
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from scale_common import arguments, dataset, features  # noqa: E402

a = arguments()
keras.utils.set_random_seed(a.seed)
digits, labels = dataset(a.samples, a.seed)
x = features(digits, a.encoding)
y = np.eye(2, dtype=np.float32)[labels]
lstm = keras.layers.LSTM(a.units, return_sequences=True)
model = keras.Sequential(
    [
        keras.Input((10, x.shape[-1])),
        keras.layers.Bidirectional(lstm) if a.bidirectional else lstm,
        keras.layers.TimeDistributed(keras.layers.Dense(2, activation="softmax")),
    ]
)
model.compile(optimizer=keras.optimizers.Adam(a.lr), loss="categorical_crossentropy")
started = time.perf_counter()
history = model.fit(x, y, epochs=a.epochs, batch_size=a.batch_size, shuffle=True, verbose=0)
fit = time.perf_counter() - started
print(json.dumps({"fitSeconds": fit, "loss": history.history["loss"][-1], "version": keras.__version__}))
