#!/usr/bin/env bash
# Continuo in real hosts:
# - Ardour (Debian's `ardour`, VST3), headless through its Lua session tool, on Ardour's own
#   dummy backend (no JACK): a new session, a MIDI track with the built Continuo.vst3,
#   pass-through off, the transport rolling; a Lua DSP script before Continuo plays a 2-bar
#   phrase into it and one after it records what comes out (scripts/ardour/). Once at 120 BPM
#   with 512-sample periods, once at 97 BPM with 256.
# - The standalone app on a JACK dummy server: a phrase is answered (the metronome clicks
#   until it starts); a new phrase on the answer's sounding pitch is not cut; the sustain
#   pedal and pitch bend pass through; a MIDI clock with tempo changes and a Stop leads the
#   answer; SIGINT during an answer leaves no note without its note-off and exits 0; its
#   window's device choice connects its ports on the JACK server at once; it remembers its
#   settings across a restart.
# Each check prints the count of answered notes and the worst grid error in samples. A note
# sent twice or lost while the JACK server had xruns (a client late) says nothing of the
# plugin: that standalone case runs again, three times at most. An Ardour case runs once.
# Every process started here is stopped by its id. Needs the bundle (`cargo xtask bundle
# continuo --release`, run here when missing or older than the sources). Installs ardour,
# jackd2 and python3-jack-client when missing (through scripts/setup.sh).
# CONTINUO_STANDALONE_ONLY=1 skips Ardour; CONTINUO_ARDOUR_ONLY=1 skips the standalone;
# CONTINUO_KEEP_HOST_TEST=1 keeps the work folder (sessions, logs, recordings).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh ardour jackd2 python3-jack-client xvfb
lua_tool=$(compgen -c ardour | grep -E '^ardour[0-9]+-lua$' | sort -V | tail -n 1)
ardour_lib=/usr/lib/${lua_tool%-lua}
[ -n "$lua_tool" ] || { echo "host test: no ardour*-lua found" >&2; exit 1; }

bundle=target/bundled/Continuo.vst3
standalone=target/bundled/Continuo
if [ ! -e "$bundle" ] || [ -n "$(find plugin/src core/src -newer "$standalone" -name '*.rs' | head -n 1)" ]; then
  cargo xtask bundle continuo --release
fi

work=$(mktemp -d /tmp/continuo-hosts.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${CONTINUO_KEEP_HOST_TEST:-}" ]; then echo "host test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# A throw-away HOME keeps the test away from the user's plugins, settings and models
# (cargo, run below once, keeps the user's own).
user_home=$HOME
export HOME=$work/home
mkdir -p "$HOME/.vst3"
cp -r "$bundle" "$HOME/.vst3/"
# Ardour ignores a VST3 whose cache entry is not newer than the module.
find "$HOME/.vst3" -exec touch -d '-2 min' {} +
LD_LIBRARY_PATH=$ardour_lib "$ardour_lib/ardour-vst3-scanner" -f "$HOME/.vst3/Continuo.vst3" >"$work/scan.log" 2>&1 \
  || { cat "$work/scan.log"; echo "host test: the VST3 scanner failed" >&2; exit 1; }

start_jack() { # period
  jackd -d dummy -r 48000 -p "$1" >"$work/jackd.log" 2>&1 &
  jack_pid=$!
  pids+=("$jack_pid")
  for _ in $(seq 100); do jack_lsp >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$work/jackd.log"; echo "host test: jackd did not start" >&2; exit 1
}
stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
wait_for_port() { # port [seconds, default 30]
  # Every jack_lsp is a JACK client coming and going: polled twice a second, not faster, so
  # that a host starting up meets few of them.
  for _ in $(seq $((${2:-30} * 2))); do jack_lsp | grep -qxF "$1" && return 0; sleep 0.5; done
  echo "host test: no JACK port '$1' after ${2:-30} s" >&2; return 1
}

# Ardour runs on its own dummy backend, which needs no JACK server: a Lua DSP script before
# Continuo on the track plays the phrase of scripts/jack_player.py at exact samples, and one
# after it records what Continuo sends, with the transport sample of each event
# (scripts/ardour/). Ardour on JACK lost its server in about a quarter of its starts (jackd's
# log: "CheckSize error", then a port's pretty-name metadata read as requests); the dummy
# backend has no server to lose, so a failed case is a failure, never tried again.
mkdir -p "$HOME/.config/${lua_tool%-lua}/scripts"
cp scripts/ardour/*.lua "$HOME/.config/${lua_tool%-lua}/scripts/"
phrase=$(sed -n 's/^PHRASE = \[\(.*\)\]$/\1/p' scripts/jack_player.py)
[ -n "$phrase" ] || { echo "host test: no PHRASE in scripts/jack_player.py" >&2; exit 1; }

ardour_case() { # bpm period seconds [chords]
  local bpm=$1 period=$2 seconds=$3 name="Ardour ($lua_tool, VST3, dummy backend) at $1 BPM, $2-sample periods"
  # With "chords": a chord track on channel 2 (C Am F G, a bar each from the phrase's start,
  # for 8 bars), Continuo's chord channel set to 2, a 4-bar answer: the chords neither end
  # the phrase nor cut the answer, which must span 2 bars at least.
  local chords=${4:-} checks=()
  [ -z "$chords" ] || { name="$name, over a chord track on channel 2"; checks=(--span-beats=8); }
  cat >"$work/session.lua" <<LUA
ARDOUR.config():set_hide_dummy_backend(false)
local backend = AudioEngine:set_backend("None (Dummy)", "", "")
assert(backend, "no dummy backend")
assert(backend:set_buffer_size($period) == 0, "the dummy backend refused $period-sample periods")
local s = create_session("$work/session-$bpm$chords", "continuo-$bpm$chords", 48000)
assert(s, "no session")
local tm = Temporal.TempoMap.write_copy()
tm:set_tempo(Temporal.Tempo($bpm, $bpm, 4), Temporal.timepos_t(0))
Temporal.TempoMap.update(tm)
local pi = nil
for p in ARDOUR.LuaAPI.list_plugins():iter() do
  if p.name == "Continuo" and ARDOUR.PluginType.name(p.type) == "VST3" then pi = p end
end
assert(pi, "Continuo (VST3) is not among Ardour's plugins")
local tracks = Session:new_midi_track(ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1), ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2),
  false, pi, nil, nil, 1, "Cont", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)
local track = tracks:front()
local proc = track:nth_plugin(0)
local plug = proc:to_insert():plugin(0)
local found = false
for j = 0, plug:parameter_count() - 1 do
  if plug:parameter_label(j) == "Pass-through" then
    ARDOUR.LuaAPI.set_processor_param(proc, j, 0)
    found = true
  end
end
assert(found, "no Pass-through parameter")
local chords = "$chords" ~= ""
if chords then
  local set = {}
  for j = 0, plug:parameter_count() - 1 do
    local label = plug:parameter_label(j)
    if label == "Chord channel" then ARDOUR.LuaAPI.set_processor_param(proc, j, 2); set[label] = true end
    if label == "Answer length" then ARDOUR.LuaAPI.set_processor_param(proc, j, 4); set[label] = true end
  end
  assert(set["Chord channel"] and set["Answer length"], "no Chord channel or Answer length parameter")
end
-- The player before Continuo, the recorder after it.
local player = ARDOUR.LuaAPI.new_luaproc(Session, "Continuo Test Player")
local recorder = ARDOUR.LuaAPI.new_luaproc(Session, "Continuo Test Recorder")
assert(not player:isnil() and not recorder:isnil(), "the test's Lua DSP scripts are not found")
track:add_processor_by_index(player, 0, nil, true)
track:add_processor_by_index(recorder, 2, nil, true)
assert(track:nth_plugin(1):display_name() == "Continuo", "Continuo is not between the player and the recorder")
-- The phrase, as jack_player.py plays it: a note a beat from 1 s after the start, held 0.8 beat.
local phrase, beat = { $phrase }, 48000 * 60 / $bpm
local sent = {}
for i, pitch in ipairs(phrase) do
  local on = math.floor((i - 1) * beat + 0.5)
  sent[#sent + 1] = { on, 0x90, pitch, 100 }
  sent[#sent + 1] = { on + math.floor(0.8 * beat + 0.5), 0x80, pitch, 0 }
end
if chords then
  local progression = { { 48, 52, 55 }, { 45, 48, 52 }, { 41, 45, 48 }, { 43, 47, 50 } }
  for bar = 0, 7 do
    for _, pitch in ipairs(progression[bar % 4 + 1]) do
      sent[#sent + 1] = { math.floor(bar * 4 * beat + 0.5), 0x91, pitch, 80 }
      sent[#sent + 1] = { math.floor((bar + 1) * 4 * beat + 0.5) - 1, 0x81, pitch, 0 }
    end
  end
end
table.sort(sent, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
local plan = player:to_insert():plugin(0):to_luaproc():shmem():to_int(0):array()
plan[1], plan[2] = 48000, #sent
for i, e in ipairs(sent) do
  for j = 1, 4 do plan[2 + 4 * (i - 1) + j] = e[j] end
end
Session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep($seconds * 1000000)
Session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep(300000)
-- What jack_player.py would have written, in transport samples.
local function event(frame, a, b, c) return string.format('{"frame": %d, "bytes": [%d, %d, %d]}', frame, a, b, c) end
local out = {}
for _, e in ipairs(sent) do out[#out + 1] = event(plan[1] + e[1], e[2], e[3], e[4]) end
local got = {}
local log = recorder:to_insert():plugin(0):to_luaproc():shmem():to_int(0):array()
for i = 0, log[1] - 1 do got[#got + 1] = event(log[2 + 4 * i], log[3 + 4 * i], log[4 + 4 * i], log[5 + 4 * i]) end
local f = assert(io.open("$work/ardour-$bpm$chords.json", "w"))
f:write('{"rate": 48000, "tempo": $bpm, "sent": [' .. table.concat(out, ", ") .. '], "received": [' .. table.concat(got, ", ") .. '], "audio": [], "xruns": []}')
f:close()
print("recorded", log[1])
close_session()
LUA
  local status=0
  timeout $((seconds + 120)) "$lua_tool" "$work/session.lua" >"$work/ardour.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || ! grep -q '^recorded' "$work/ardour.log"; then
    cat "$work/ardour.log"
    echo "$name: FAILED: Ardour exited with status $status before it recorded the answer" >&2
    exit 1
  fi
  /usr/bin/python3 scripts/check_answer.py "$work/ardour-$bpm$chords.json" "$name" --period="$period" --no-pass-through \
    "${checks[@]}" || { tail -n 30 "$work/ardour.log"; exit 1; }
}

standalone_case() { # name seconds signal-after player-flags...
  local attempt
  for attempt in 1 2 3; do
    # Called plainly (not in a condition), so that `set -e` still holds inside.
    standalone_attempt "$@"
    [ "$checked" -eq 2 ] || return 0
    echo "$1: JACK had xruns when a note went wrong (attempt $attempt)" >&2
  done
  exit 1
}

# One try of a standalone case; exits on a failure, except the checker's status 2 (xruns),
# which it leaves in `checked` for standalone_case to try again.
standalone_attempt() { # name seconds signal-after player-flags...
  local name=$1 seconds=$2 signal_after=$3
  shift 3
  # The player first (its phrase starts 3 s in); the app connects to it, as a performer's
  # command line would connect a keyboard and a synth.
  /usr/bin/python3 scripts/jack_player.py --tempo 120 --start 3 --seconds "$seconds" --out "$work/standalone.json" "$@" &
  local player=$!
  pids+=("$player")
  wait_for_port "continuo-player:answer"
  "$standalone" --backend jack --connect-jack-midi-input continuo-player:phrase \
    --connect-jack-midi-output continuo-player:answer >"$work/standalone.log" 2>&1 &
  local app=$!
  pids+=("$app")
  if [ "$signal_after" != - ]; then
    sleep "$signal_after"
    kill -INT "$app"
    local status=0
    wait "$app" || status=$?
    [ "$status" -eq 0 ] || { cat "$work/standalone.log"; echo "$name: FAILED: exit status $status after SIGINT" >&2; exit 1; }
  fi
  wait "$player"
  stop "$app"
  local exit_flag=()
  [ "$signal_after" = - ] || exit_flag=(--exit)
  # The player and the app feed each other (a cycle in JACK's graph), so the app's output
  # reaches the player in the same period or the next, as JACK orders them.
  checked=0
  /usr/bin/python3 scripts/check_answer.py "$work/standalone.json" "$name" --period=512 "$@" "${exit_flag[@]}" || checked=$?
  [ "$checked" -eq 0 ] && return
  tail -n 20 "$work/standalone.log"
  [ "$checked" -eq 2 ] || exit 1
}

# The standalone remembers its settings (plugin/src/standalone_settings.rs): the cases above
# named their devices, so the file holds them; Pass-through is set off in it. Started again
# with no device named, in a window (under Xvfb: the window restores the controls), the app
# connects to the player by itself, answers, and passes none of the player's notes; the
# file still says Pass-through off and names the devices after it quits.
restart_case() {
  local name="standalone: its settings survive a restart" settings=$HOME/.local/share/continuo/standalone.json
  grep -q 'continuo-player:phrase' "$settings" || { cat "$settings"; echo "$name: FAILED: the devices were not remembered" >&2; exit 1; }
  /usr/bin/python3 -c 'import json, sys; p = sys.argv[1]; s = json.load(open(p)); s["controls"]["thru"] = "Off"; json.dump(s, open(p, "w"))' "$settings"
  Xvfb :96 -screen 0 1600x1200x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
  pids+=("$!")
  /usr/bin/python3 scripts/jack_player.py --tempo 120 --start 5 --seconds 16 --out "$work/restart.json" &
  local player=$!
  pids+=("$player")
  wait_for_port "continuo-player:answer"
  DISPLAY=:96 "$standalone" >"$work/restart.log" 2>&1 &
  local app=$!
  pids+=("$app")
  wait "$player"
  stop "$app"
  /usr/bin/python3 scripts/check_answer.py "$work/restart.json" "$name" --period=512 --nothing-passed \
    || { tail -n 20 "$work/restart.log"; exit 1; }
  grep -q '"thru": "Off"' "$settings" && grep -q 'continuo-player:phrase' "$settings" \
    || { cat "$settings"; echo "$name: FAILED: the settings file lost them" >&2; exit 1; }
  echo "$name: the devices and Pass-through off came back"
}

if [ -z "${CONTINUO_STANDALONE_ONLY:-}" ]; then
  ardour_case 120 512 14
  ardour_case 97 256 17
  ardour_case 120 512 20 chords
fi

if [ -n "${CONTINUO_ARDOUR_ONLY:-}" ]; then
  echo "host test: passed (Ardour only)"
  exit 0
fi
start_jack 512
# The standalone window's device choice on this server: Continuo's ports connected at once
# (plugin/tests/jack_devices.rs; the features of the test command's last build, so nothing
# is built again).
CONTINUO_REQUIRE_JACK=1 HOME=$user_home cargo test --workspace --locked --features continuo/assert_process_allocs \
  --test jack_devices -- --nocapture >"$work/jack_devices.log" 2>&1 \
  || { tail -n 30 "$work/jack_devices.log"; echo "host test: the JACK devices test failed" >&2; exit 1; }
grep -E "JACK devices" "$work/jack_devices.log"
standalone_case "standalone on JACK, with its voice" 14 - --listen continuo:output_1
standalone_case "standalone: a new phrase on the answer's sounding pitch" 20 - --cut-answer
standalone_case "standalone: pedal and pitch bend pass through" 14 - --controllers
# A MIDI clock leads: Start 3 s in, the phrase at 100 BPM from the clock's beat 4, 140 BPM
# from beat 12 (the answer starts about beat 13.5), 110 BPM from beat 17, Stop at beat 21
# (inside the answer).
standalone_case "standalone: following a MIDI clock (100, 140, 110 BPM, Stop)" 16 - \
  --tempo 100 --clock 100,140@12,110@17 --clock-stop 21
# The phrase ends about 7 s after the app starts; the answer plays from about 8 s, for 4 s
# (2 bars). SIGINT comes 2 s into it: its first onset may come a beat or two in (a 2-bar
# answer of the default model has 4 to 11 notes; at 1 s in, some had none yet).
standalone_case "standalone: SIGINT during the answer" 12 10
restart_case
stop "$jack_pid"
echo "host test: passed"
