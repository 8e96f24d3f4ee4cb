#!/bin/sh
# Online training in a real-time daemon started from no model: it trains,
# publishes weights the emulator swaps in, reports through train status
# and the training ring in shared memory; a model saved during training
# is the weights in use bit for bit; load is refused while training.
set -u
TAG=online
. tests/daemon_lib.sh

"$NCPD" --foreground --set shm.name="$name" --set control.socket="$sock" \
	--set data_dir="$tmp/data" --set emulator.model=none \
	--set emulator.online=true --set emulator.warmup=2 2>"$tmp/d.err" &
dpid=$!
wait_up
ctl train status | grep -q "online: true" || fail "training not on"

# Wait for the first weights the emulator runs.
model_loaded() { [ "$(key emulator loaded)" = True ]; }
wait_for 120 "a model from online training" model_loaded
trained() { [ "$(key train updates)" -gt 50 ] && [ "$(key train replay_steps)" -gt 3000 ]; }
wait_for 120 "50 updates and 3000 replay steps" trained
ctl --json train status >"$tmp/t.json" || fail "train status"
$PY - "$tmp/t.json" <<'PYEOF' || fail "train status figures"
import json, sys
t = json.load(open(sys.argv[1]))["train"]
assert t["online"] is True and t["updates"] > 50 and t["swaps"] >= 1, t
assert t["replay_steps"] > 3000, t
print("training: %d updates, %d swaps, validation loss %.4g" % (t["updates"], t["swaps"], t["val_loss"]))
PYEOF

# The training history in shared memory, as ncp-monitor reads it.
"$BUILD/ncp-monitor" --shm "$name" --once --json >"$tmp/mon.json" || fail "monitor snapshot"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["training"] is not None, d.get("training"); assert d["predicted"] is not None' "$tmp/mon.json" ||
	fail "no training entry or prediction in shared memory"

# Load is refused while training; a save during training is the weights
# in use: load it back (training off) and the checksums agree.
ctl load anything 2>"$tmp/e"; grep -q EBUSY "$tmp/e" || fail "load not refused while training: $(cat "$tmp/e")"
ctl --json save during >"$tmp/save.json" || fail "save during training"
saved=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["save"]["checksum"])' "$tmp/save.json")
[ -f "$tmp/data/during.safetensors" ] || fail "no saved file"
# Once train off is answered, no update is made and the buffer stops.
ctl --json train off >"$tmp/off.json" || fail "train off"
sleep 1
ctl --json train status >"$tmp/after.json" || fail "train status after off"
$PY - "$tmp/off.json" "$tmp/after.json" <<'PYEOF' || fail "training went on after train off"
import json, sys
def find(d, k):  # the pairs, however the reply nests its sections
    if isinstance(d, dict):
        if k in d:
            return d[k]
        for v in d.values():
            r = find(v, k)
            if r is not None:
                return r
    return None
off, after = (json.load(open(f)) for f in sys.argv[1:])
assert find(off, "online") is False and find(after, "online") is False, (off, after)
for k in ("updates", "replay_steps"):
    assert find(off, k) == find(after, k), (k, find(off, k), find(after, k))
print("train off: %d updates and %d replay steps, unchanged 1 s later"
      % (find(off, "updates"), find(off, "replay_steps")))
PYEOF
ctl load during >/dev/null || fail "load the saved model"
sleep 0.5
inuse=$(key emulator checksum)
[ "$saved" = "$inuse" ] || fail "saved $saved, in use after loading it $inuse"
echo "a model saved during training loads back bit-identical (checksum $saved)"
ctl save ../out 2>/dev/null && fail "save outside data_dir accepted"

kill -TERM "$dpid"; wait "$dpid"; rc=$?; dpid=""
[ $rc -eq 0 ] || fail "exit $rc"

# Free-run trains in lockstep: the same run twice, the same figures.
for run in a b; do
	"$NCPD" --free-run --duration 8 --set shm.name="$name" --set control.socket="$sock" \
		--set data_dir="$tmp/data" --set emulator.model=none \
		--set emulator.online=true --set emulator.online_every=5 --set emulator.warmup=2 \
		--summary json >"$tmp/$run.json" 2>/dev/null || fail "free run with training"
done
$PY - "$tmp/a.json" "$tmp/b.json" <<'PYEOF' || fail "free-run online training is not deterministic"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["training"]["updates"] > 500 and a["training"]["swaps"] >= 1, a["training"]
assert a["training"] == b["training"], (a["training"], b["training"])
assert a["emulator"]["hand_rmse"] == b["emulator"]["hand_rmse"]
print("free run with online training repeats bit for bit (%d updates)" % a["training"]["updates"])
PYEOF

# The stimulation applied reaches the replay buffer (the model's
# stimulation input): a stimulated run keeps a value per channel and step.
"$NCPD" --free-run --duration 8 --set shm.name="$name" --set control.socket="$sock" \
	--set data_dir="$tmp/data" --set emulator.model=none \
	--set emulator.online=true --set emulator.online_every=5 --set emulator.warmup=2 \
	--set stim.source=noise --set stim.noise=0.1 \
	--summary json >"$tmp/s.json" 2>/dev/null || fail "free run with training and stimulation"
$PY - "$tmp/a.json" "$tmp/s.json" <<'PYEOF' || fail "the stimulation did not reach the replay buffer"
import json, sys
a, s = (json.load(open(f))["training"] for f in sys.argv[1:])
steps = 1.1 * 300 / 0.001          # room the replay buffer keeps
extra = (s["replay_mb"] - a["replay_mb"]) * 2**20
assert abs(extra - steps * (32 * 4 + 1)) < 0.01 * extra, (a["replay_mb"], s["replay_mb"])
assert s["updates"] > 0, s
print("stimulated run: the replay buffer keeps theta (%.1f MiB more)" % (extra / 2**20))
PYEOF
echo ok
