"""TensorBoard's own reader on seq-tag's event files (`train --logdir`), and a fixture for npm test.

Run from the repository's root with a Python that has TensorFlow and tensorboard (here:
.venv-keras, plus `pip install --no-deps tensorboard` from the local index):

    .venv-keras/bin/python scripts/tensorboard_check.py

1. trains with `seq-tag train --logdir` (validation split, plateau schedule) and checks every scalar
   TensorBoard's EventAccumulator reads against the run's `--json` epochs (float32 rounding);
2. kills a long run with SIGKILL after a few epochs and checks the files still load, with every
   epoch the run printed before it died;
3. trains the seed's linear head and finds the NaN the guard stopped at, and the divergence text;
4. trains with `--log-batches` and finds every batch's batch_loss, averaging to each epoch's loss;
   TensorBoard's HParams plugin shows the run's final metrics (its session is the logdir's root);
5. runs a sweep with `--logdir`, starts a TensorBoard server on it and asks its HParams plugin (the
   dashboard's own HTTP API) for the experiment and the session groups: every run is a session with
   the flag values of its record, its status (success, or failure for a diverged run) and its final
   metrics equal to the record's (held-out loss, accuracy, exact-match; the last epoch's loss);
6. writes test/fixtures/tensorboard/tf-writer.tfevents with TensorFlow's own writer
   (tf.summary.scalar), whose framing and CRCs test/tensorboard.test.ts checks with seq-tag's code.

With `--screenshots`, it also runs `seq-tag sweep --answers --logdir` and saves TensorBoard's
scalars and HParams views, taken by headless Chromium (Debian's `chromium`), to docs/images/.
npm test never needs this script or Python.
"""
import contextlib, glob, json, math, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time, urllib.request

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
    # The run's HParams session sits at the logdir's root ("."): its table shows the final metrics.
    with tensorboard(logdir) as url:
        [group] = session_groups(url)
    [session] = group['sessions']
    values = {m['name']['tag']: m['value'] for m in session['metricValues']}
    ev, last = doc['evaluation'], doc['epochs'][-1]
    want = {'held-out/loss': ev['loss'], 'held-out/accuracy': ev['tokenAccuracy'], 'held-out/exact_match': ev['exactMatch'],
            'train/epoch_loss': last['loss'], 'validation/epoch_loss': last['validation']['loss']}
    for tag, value in want.items():
        assert float(values[tag]) == f32(value), (tag, values.get(tag), value)
    print(f'train: TensorBoard\'s HParams table shows the root session\'s {len(values)} final metrics, equal to --json')


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


def check_batches(root):
    logdir = os.path.join(root, 'batches')
    args = ['train', '--epochs', '3', '--samples', '200', '--seed', '4', '--backend', 'wasm', '--json',
            '--model-dir', os.path.join(root, 'b'), '--logdir', logdir, '--log-batches']
    doc = json.loads(subprocess.run(BIN + args, check=True, capture_output=True, text=True).stdout)
    batch = scalars(os.path.join(logdir, 'train'))['batch_loss']
    per_epoch = math.ceil(200 / 32)
    assert [s for s, _ in batch] == list(range(1, 3 * per_epoch + 1)), batch
    sizes = [32] * (per_epoch - 1) + [200 - 32 * (per_epoch - 1)]
    for e in doc['epochs']:
        losses = [v for _, v in batch[(e['epoch'] - 1) * per_epoch:e['epoch'] * per_epoch]]
        mean = sum(l * n for l, n in zip(losses, sizes)) / 200
        assert abs(mean - e['loss']) < 1e-6, (e, mean)
    print(f'batches: {len(batch)} batch_loss values at steps 1..{len(batch)}, each epoch\'s weighted mean equal to its loss')


@contextlib.contextmanager
def tensorboard(logdir):
    """A TensorBoard server on a free local port, stopped on exit."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, '-m', 'tensorboard.main', '--logdir', logdir, '--port', str(port),
                             '--host', '127.0.0.1', '--load_fast', 'false', '--reload_interval', '1'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + '/data/runs')
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(3)  # the first load of the logs
        yield url
    finally:
        proc.terminate()
        proc.wait()


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
    return json.loads(urllib.request.urlopen(request).read())


def session_groups(url):
    statuses = ['STATUS_UNKNOWN', 'STATUS_SUCCESS', 'STATUS_FAILURE', 'STATUS_RUNNING']
    return post(url + '/data/plugin/hparams/session_groups',
                {'experimentName': '', 'allowedStatuses': statuses, 'colParams': [], 'startIndex': 0, 'sliceSize': 1000})['sessionGroups']


def check_sweep(root):
    logdir, out = os.path.join(root, 'sweep-logs'), os.path.join(root, 'sweep')
    args = ['sweep', '--grid', 'activation=softmax,linear', '--seeds', '2', '--samples', '200', '--epochs', '3',
            '--backend', 'wasm', '--jobs', '2', '--out', out, '--logdir', logdir]
    subprocess.run(BIN + args, check=True, capture_output=True)
    with open(os.path.join(out, 'results.jsonl')) as f:
        records = [json.loads(line) for line in f]
    with tensorboard(logdir) as url:
        experiment = post(url + '/data/plugin/hparams/experiment', {'experimentName': ''})
        groups = {g['name']: g for g in session_groups(url)}
    differs = sorted(h['name'] for h in experiment['hparamInfos'] if h.get('differs'))
    assert differs == ['activation'], differs
    assert sorted(groups) == sorted({r['label'] for r in records}), sorted(groups)
    checked = 0
    for r in records:
        group = groups[r['label']]
        hp = group['hparams']
        assert (hp['activation'], hp['samples'], hp['epochs'], hp['batch-size']) == (r['config']['activation'], 200, 3, 32), hp
        assert 'seed' not in hp, hp
        [session] = [s for s in group['sessions'] if s['name'] == f"{r['label']}/seed-{r['seed']}"]
        want_status = 'STATUS_SUCCESS' if r['status'] == 'ok' else 'STATUS_FAILURE'
        assert session['status'] == want_status, (r['label'], session['status'])
        got = {(m['name']['group'], m['name']['tag']): m['value'] for m in session['metricValues']}
        want = {('train', 'epoch_loss'): r['epochs'][-1]['loss'] if r['status'] == 'ok' else float('nan')}
        if r['status'] == 'ok':
            want['train', 'epoch_learning_rate'] = r['config']['lr']
            ev = r['evaluation']
            want |= {('held-out', 'loss'): ev['loss'], ('held-out', 'accuracy'): ev['tokenAccuracy'], ('held-out', 'exact_match'): ev['exactMatch']}
        assert set(got) == set(want), (r['label'], sorted(got), sorted(want))
        for key, value in want.items():
            have = float(got[key])
            assert (have != have and value != value) or have == f32(float(value)), (r['label'], key, have, value)
            checked += 1
    print(f'sweep: TensorBoard\'s HParams plugin lists {len(records)} sessions in {len(groups)} groups (one per configuration) with their records\' flags and statuses; '
          f'{checked} final metrics equal the records (as float32); differing: {", ".join(differs)}')


def screenshots(root):
    """`sweep --answers --logdir`, then TensorBoard's scalars and HParams views as PNGs in docs/images/."""
    logdir, out = os.path.join(root, 'answers-logs'), os.path.join(root, 'answers')
    subprocess.run(BIN + ['sweep', '--answers', '--jobs', '2', '--out', out, '--logdir', logdir], check=True, capture_output=True)
    os.makedirs('docs/images', exist_ok=True)
    # The scalars of each configuration's first seed (the others diverge at epoch 1: no curve), and
    # the HParams table: one row per configuration, its metrics averaged over its seeds.
    views = {'tensorboard-scalars.png': ('#scalars&regexInput=seed-1%2Ftrain&tagFilter=epoch_loss', '1400,900'),
             'tensorboard-hparams.png': ('#hparams', '2000,650')}
    with tensorboard(logdir) as url:
        for name, (view, size) in views.items():
            path = os.path.join('docs/images', name)
            subprocess.run(['chromium', '--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                            f'--window-size={size}', '--virtual-time-budget=20000', f'--screenshot={path}', url + '/' + view],
                           check=True, capture_output=True, timeout=300)
            print(f'{path}: {os.path.getsize(path)} bytes')


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
    check_batches(root)
    check_sweep(root)
    write_fixture()
    if '--screenshots' in sys.argv:
        screenshots(root)
