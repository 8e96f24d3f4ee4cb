#!/bin/sh
# ncp-web, the browser view, against a running ncpd with an emulator: its
# flags, the page and its WebSocket, then headless Chromium
# (tests/web_check.py): a screenshot shows the real arm and the dashed
# predicted arm where their kinematics put them, the target, the M1
# raster; moving the target with ncpctl moves it in the picture.  The
# server reads nothing while no page is open.  The screenshots stay in
# $BUILD/tests/ (web_a.png, web_b.png).
set -u
TAG=web
. tests/daemon_lib.sh
WEB=client/web/ncp-web
wpid=""
cleanup_web() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	cleanup
}
trap cleanup_web EXIT

# Test dependencies (make deps installs them): without them, a skip that
# says so, not a pass.
$PY -c 'import aiohttp, PIL' 2>/dev/null ||
	{ echo "SKIP: python3-aiohttp and python3-pil are needed (make deps)"; exit 77; }
command -v chromium >/dev/null || { echo "SKIP: chromium is needed (make deps)"; exit 77; }

# --- flags --------------------------------------------------------------------
$PY $WEB --help >"$tmp/help" || fail "--help exited $?"
for w in --shm --address --port --rate; do
	grep -q -- "$w" "$tmp/help" || fail "--help does not document $w"
done
expect_usage() { # expected-substring, args...
	want=$1; shift
	$PY $WEB "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "ncp-web $* exited $rc, want 2"
	grep -qF -- "$want" "$tmp/err" || fail "ncp-web $*: '$(cat "$tmp/err")' lacks '$want'"
}
expect_usage "--rate 0: expected frames per second" --rate 0
expect_usage "--shm ncpd: expected '/'" --shm ncpd
expect_usage "--port 70000: expected 0 to 65535" --port 70000
expect_usage "unrecognized arguments: --frob" --frob
echo "flags checked"

# --- a model, a daemon, the server ----------------------------------------------
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 20 --set task.kind=random --record train \
	>/dev/null 2>"$tmp/rec.err" || fail "recording: $(cat "$tmp/rec.err")"
"$BUILD/ncp-train" --data "$tmp/data/train" --out "$tmp/data/ridge.safetensors" \
	--arch ridge-running --quiet >"$tmp/train.out" 2>&1 || fail "training: $(cat "$tmp/train.out")"
# The server first: it waits for the daemon.
$PY $WEB --shm "$name" --port 0 >"$tmp/web.out" 2>"$tmp/web.err" &
wpid=$!
serving() { grep -q "serving" "$tmp/web.out"; }
wait_for 30 "ncp-web to listen" serving
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/$|\1|p' "$tmp/web.out")
[ -n "$port" ] || fail "no port in '$(cat "$tmp/web.out")'"
http_get() { $PY -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
status_json() { http_get "http://127.0.0.1:$port/status.json"; }
status_json | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["pages"] == 0 and not d["attached"] and d["frames"] == 0, d' ||
	fail "before any page: $(status_json)"
http_get "http://127.0.0.1:$port/" | grep -q '<canvas id="work"' || fail "GET / is not the page"
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground --set emulator.model="$tmp/data/ridge.safetensors" \
	--duration 300 >"$tmp/d.out" 2>"$tmp/d.err" &
dpid=$!
wait_up
echo "ncpd $dpid and ncp-web on port $port"
# A second server on the same port says why it cannot listen.
$PY $WEB --shm "$name" --port "$port" >"$tmp/web2.out" 2>"$tmp/web2.err"
rc=$?
[ $rc -eq 1 ] || fail "a second ncp-web on port $port exited $rc, want 1"
grep -q "ncp-web: cannot listen on 127.0.0.1 port $port" "$tmp/web2.err" || fail "port taken: '$(cat "$tmp/web2.err")'"

# --- the page in Chromium ---------------------------------------------------------
$PY tests/web_check.py "http://127.0.0.1:$port/" "$BUILD/tests" "$CTL" "$sock" || fail "the page"

# With the page closed the server sends nothing and reads nothing.
f0=$(status_json | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["pages"] == 0, d; print(d["frames"])') ||
	fail "pages still open after the browser closed: $(status_json)"
sleep 1
f1=$(status_json | $PY -c 'import json,sys; print(json.load(sys.stdin)["frames"])')
[ "$f0" = "$f1" ] || fail "the server went on reading with no page open ($f0 -> $f1 frames)"
echo "no page: no reads ($f1 frames in all)"

# A WebSocket client gets a hello, then frames of the running daemon.
$PY - "$port" "$name" <<'PYEOF' || fail "the WebSocket's messages"
import asyncio, json, sys
import aiohttp
port, name = sys.argv[1:]
async def main():
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect("http://127.0.0.1:%s/ws" % port) as ws:
            msgs = []
            while len(msgs) < 8:
                msgs.append(json.loads((await ws.receive(timeout=10)).data))
    hello = msgs[0]
    assert hello["type"] == "hello" and hello["shm"] == name and hello["m1_neurons"] == 1000, hello
    frames = [m for m in msgs if m["type"] == "frame"]
    assert frames[0].get("backlog") and frames[0]["spikes"]["n"] == 240, frames[0]["spikes"]["n"]
    steps = [f["step"] for f in frames]
    assert steps == sorted(steps) and steps[-1] > steps[0], steps
    for j, (a, b) in enumerate(zip(frames, frames[1:])):
        # Each frame carries the steps since the previous one, none twice;
        # the first frame all pages get may overlap this page's backlog
        # (the page skips what it holds), but leaves no gap.
        sa, sb = a["spikes"], b["spikes"]
        end = sa["first"] + sa["n"]
        if j == 0:
            assert sa["first"] <= sb["first"] <= end < sb["first"] + sb["n"], (sa["first"], sa["n"], sb["first"], sb["n"])
        else:
            assert sb["first"] == end, (sa["first"], sa["n"], sb["first"])
        assert sb["missed"] == 0, sb["missed"]
        assert len(sb["idx"]) == sum(sb["counts"]) and all(0 <= i < 1000 for i in sb["idx"])
    f = frames[-1]
    assert f["daemon"] == "running" and f["pred"]["model"] == "ridge", f["pred"]
    print("websocket: hello, backlog of 240 steps, %d frames, steps %d..%d" % (len(frames), steps[0], steps[-1]))
asyncio.run(main())
PYEOF

# The daemon stops: the page is told, the server stays up.
kill -TERM "$dpid"
wait "$dpid"
dpid=""
$PY - "$port" <<'PYEOF' || fail "after the daemon stopped"
import asyncio, json, sys
import aiohttp
async def main():
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect("http://127.0.0.1:%s/ws" % sys.argv[1]) as ws:
            for _ in range(20):
                m = json.loads((await ws.receive(timeout=10)).data)
                if m["type"] in ("frame", "status") and m.get("daemon") in ("stopped", "replaced"):
                    print("after the stop: %s" % m["status"])
                    return
    raise SystemExit("no stopped daemon reported")
asyncio.run(main())
PYEOF
kill -0 "$wpid" || fail "ncp-web exited when the daemon stopped"
kill -TERM "$wpid"
wait "$wpid"
rc=$?
wpid=""
[ $rc -eq 0 ] || fail "ncp-web exited $rc on SIGTERM"
finish
