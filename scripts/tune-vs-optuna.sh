#!/usr/bin/env bash
# seq-tag tune against Optuna 5 (scripts/optuna_tune.py) on the same search, seeds 1..3, one after the
# other (each uses both cores). Needs a built seq-tag (npm run build) and a venv with torch and optuna:
#   python3 -m venv .venv-optuna && .venv-optuna/bin/pip install torch==2.13.0 optuna
# Prints one JSON line per run and side: trials and seconds to the first trial with >= 98% held-out
# exact-match, and the best held-out exact-match after 40 trials.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
space=(--space lr=1e-4..3e-2:log --space units=8..128 --space bidirectional=on,off --space encoding=scalar,onehot)
for seed in ${SEEDS:-1 2 3}; do
  node dist/src/cli/main.js tune --preset solve "${space[@]}" --trials 40 --jobs 2 --seed "$seed" --out "$out/seq-tag-$seed" --json > "$out/seq-tag-$seed.json"
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = s.firstSolved;
    console.log(JSON.stringify({ side: "seq-tag", seed: s.seed, trials: s.trials.length, pruned: s.trials.filter((t) => t.status === "pruned").length,
      first_solved_trial: f && f.trialsEnded, first_solved_seconds: f && f.finishedAt, best_held_out_exact: s.bestHeldOutExactMatch,
      selected_held_out_exact: s.best ? s.best.heldOut.exactMatch : null, seconds: s.seconds }));
  ' "$out/seq-tag-$seed.json"
  .venv-optuna/bin/python scripts/optuna_tune.py --seed "$seed" --trials 40 --jobs 2 2> /dev/null | sed 's/^{/{"side": "optuna", /'
done
