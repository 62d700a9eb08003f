"""TensorBoard's own reader on seq-tag's event files (`train --logdir`), and a fixture for npm test.

Run from the repository's root with a Python that has TensorFlow and tensorboard (here:
.venv-keras, plus `pip install --no-deps tensorboard` from the local index):

    .venv-keras/bin/python scripts/tensorboard_check.py

1. trains with `seq-tag train --logdir` (validation split, plateau schedule) and checks every scalar
   TensorBoard's EventAccumulator reads against the run's `--json` epochs (float32 rounding);
2. kills a long run with SIGKILL after a few epochs and checks the files still load, with every
   epoch the run printed before it died;
3. trains the seed's linear head and finds the NaN the guard stopped at, and the divergence text;
4. writes test/fixtures/tensorboard/tf-writer.tfevents with TensorFlow's own writer
   (tf.summary.scalar), whose framing and CRCs test/tensorboard.test.ts checks with seq-tag's code.
npm test never needs this script or Python.
"""
import glob, json, os, shutil, signal, struct, subprocess, sys, tempfile, time

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

BIN = ['node', 'dist/src/cli/main.js']


def scalars(run_dir):
    ea = EventAccumulator(run_dir, size_guidance={'scalars': 0})
    ea.Reload()
    return {tag: [(e.step, e.value) for e in ea.Scalars(tag)] for tag in ea.Tags()['scalars']}


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def check_train(root):
    logdir = os.path.join(root, 'logs')
    args = ['train', '--epochs', '6', '--samples', '300', '--seed', '2', '--validation-split', '0.2',
            '--lr-schedule', 'plateau', '--lr-patience', '1', '--backend', 'cpu', '--json',
            '--model-dir', os.path.join(root, 'm'), '--logdir', logdir]
    doc = json.loads(subprocess.run(BIN + args, check=True, capture_output=True, text=True).stdout)
    train, val = scalars(os.path.join(logdir, 'train')), scalars(os.path.join(logdir, 'validation'))
    expected = {
        ('train', 'epoch_loss'): [(e['epoch'], e['loss']) for e in doc['epochs']],
        ('train', 'epoch_learning_rate'): [(e['epoch'], e['lr']) for e in doc['epochs']],
        ('validation', 'epoch_loss'): [(e['epoch'], e['validation']['loss']) for e in doc['epochs']],
        ('validation', 'epoch_accuracy'): [(e['epoch'], e['validation']['tokenAccuracy']) for e in doc['epochs']],
        ('validation', 'epoch_exact_match'): [(e['epoch'], e['validation']['exactMatch']) for e in doc['epochs']],
    }
    got = {('train', k): v for k, v in train.items()} | {('validation', k): v for k, v in val.items()}
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for key, want in expected.items():
        have = got[key]
        assert [s for s, _ in have] == [s for s, _ in want], (key, have, want)
        assert all(v == f32(w) for (_, v), (_, w) in zip(have, want)), (key, have, want)
    print(f'train: {sum(len(v) for v in got.values())} scalars in {len(got)} tags equal --json (as float32)')


def check_killed(root):
    logdir = os.path.join(root, 'killed')
    args = ['train', '--epochs', '1000', '--samples', '256', '--units', '32', '--seed', '3', '--backend', 'cpu',
            '--model-dir', os.path.join(root, 'k'), '--logdir', logdir]
    proc = subprocess.Popen(BIN + args, stdout=subprocess.PIPE, text=True)
    printed = 0
    for line in proc.stdout:
        if line.startswith('epoch'):
            printed += 1
            if printed == 5:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait()
    loss = scalars(os.path.join(logdir, 'train'))['epoch_loss']
    assert len(loss) >= 5 and [s for s, _ in loss] == list(range(1, len(loss) + 1)), loss
    print(f'killed after {printed} printed epochs: TensorBoard reads {len(loss)} epochs of epoch_loss')


def check_diverged(root):
    logdir = os.path.join(root, 'nan')
    args = ['train', '--activation', 'linear', '--seed', '1', '--backend', 'wasm', '--model-dir', os.path.join(root, 'n'), '--logdir', logdir]
    assert subprocess.run(BIN + args, capture_output=True).returncode == 3
    ea = EventAccumulator(os.path.join(logdir, 'train'), size_guidance={'tensors': 0})
    ea.Reload()
    [(step, loss)] = [(e.step, e.value) for e in ea.Scalars('epoch_loss')]
    [text] = ea.Tensors('divergence')
    assert step == 1 and loss != loss, (step, loss)
    assert text.tensor_proto.string_val == [b'NaN guard: training stopped: loss nan at epoch 1, batch 1'], text
    print(f'diverged: epoch_loss NaN at step {step} and the divergence text, read by TensorBoard')


def write_fixture():
    import tensorflow as tf
    out = 'test/fixtures/tensorboard'
    tmp = tempfile.mkdtemp()
    writer = tf.summary.create_file_writer(tmp)
    with writer.as_default():
        for step, value in enumerate([0.6931, 0.5123, float('nan')], start=1):
            tf.summary.scalar('epoch_loss', value, step=step)
    writer.close()
    [path] = glob.glob(os.path.join(tmp, 'events.out.tfevents.*'))
    shutil.copy(path, os.path.join(out, 'tf-writer.tfevents'))
    print(f'{out}/tf-writer.tfevents: {os.path.getsize(path)} bytes from TensorFlow {tf.__version__}')


if __name__ == '__main__':
    root = tempfile.mkdtemp()
    check_train(root)
    check_killed(root)
    check_diverged(root)
    write_fixture()
