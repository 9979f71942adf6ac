#!/usr/bin/env bash
# Continuo in real hosts, on a JACK dummy server:
# - Ardour (Debian's `ardour`, VST3), headless through its Lua session tool: a new session, a
#   MIDI track with the built Continuo.vst3, pass-through off, the transport rolling; a JACK
#   client (scripts/jack_player.py) plays a 2-bar phrase into the track and records what
#   comes out. Once at 120 BPM with 512-sample periods, once at 97 BPM with 256.
# - The standalone app on JACK: a phrase is answered; a new phrase on the answer's sounding
#   pitch is not cut; the sustain pedal and pitch bend pass through; SIGINT during an answer
#   leaves no note without its note-off and exits 0.
# Each check prints the count of answered notes and the worst grid error in samples. A note
# sent twice or lost while the JACK server had xruns (a client late) says nothing of the
# plugin: that case runs again (a standalone case three times at most, an Ardour case as
# often as a failed start of Ardour is retried, eight times in all).
# Every process started here is stopped by its id. Needs the bundle (`cargo xtask bundle
# continuo --release`, run here when missing or older than the sources). Installs ardour,
# jackd2 and python3-jack-client when missing (through scripts/setup.sh).
# CONTINUO_STANDALONE_ONLY=1 skips Ardour; CONTINUO_ARDOUR_ONLY=1 skips the standalone;
# CONTINUO_ARDOUR_ATTEMPTS=N sets the starts of Ardour per case (1: a failed first start is
# a failure, to count how often Ardour starts at the first attempt); CONTINUO_KEEP_HOST_TEST=1
# keeps the work folder (sessions, logs, recordings).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh ardour jackd2 python3-jack-client
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
# A throw-away HOME keeps the test away from the user's plugins, settings and models.
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

# Starts of Ardour per case at most (see ardour_case): at the rate of failed starts seen here
# (9 of 34), eight in a row would fail about once in 40,000 cases, if starts failed
# independently; three in a row did once. Measured again with CONTINUO_ARDOUR_ONLY=1
# CONTINUO_ARDOUR_ATTEMPTS=1 (a run: both cases, each at its first start): 5 of 8 runs
# passed; with Ardour's automatic port connections turned off in session.lua, 17 of 20; with
# the standard busses' off too, 11 of 20. The failed starts are not the connections' doing.
ardour_attempts=${CONTINUO_ARDOUR_ATTEMPTS:-8}

ardour_case() { # bpm period seconds [attempt]
  local bpm=$1 period=$2 seconds=$3 attempt=${4:-1} name="Ardour ($lua_tool, VST3) at $1 BPM, $2-sample periods"
  start_jack "$period"
  rm -f "$work/done"
  cat >"$work/session.lua" <<LUA
AudioEngine:set_backend("JACK", "ardour", "")
local s = create_session("$work/session-$bpm", "continuo-$bpm", 48000)
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
track:monitoring_control():set_value(ARDOUR.MonitorChoice.MonitorInput, PBD.GroupControlDisposition.NoGroup)
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
Session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
print("rolling")
io.stdout:flush()
for _ = 1, 1200 do
  local f = io.open("$work/done", "r")
  if f then f:close() break end
  ARDOUR.LuaAPI.usleep(100000)
end
Session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep(300000)
close_session()
LUA
  "$lua_tool" "$work/session.lua" >"$work/ardour.log" 2>&1 &
  local ardour_pid=$!
  pids+=("$ardour_pid")
  # Ardour scans plugins and builds the session first: on a loaded 2-core machine this once
  # took longer than 30 s. Its log says when the track is made ("rolling"), or that it lost
  # its JACK connection while starting ("CheckRes error", then "JACK HALTED"). That happened
  # in 9 of 34 starts here, 3 of them in a row once: jackd's log then shows Ardour's
  # request stream out of step ("CheckSize error", then the text of a port's pretty-name
  # metadata key read as requests), and the server drops the client. JACK is asked for the
  # port only then; a lost connection is tried again at once, from a fresh server.
  local made=""
  for _ in $(seq 240); do
    grep -q "JACK HALTED" "$work/ardour.log" && break
    grep -q rolling "$work/ardour.log" && { made=1; break; }
    kill -0 "$ardour_pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ -z "$made" ] || grep -q "JACK HALTED" "$work/ardour.log" || ! wait_for_port "ardour:Cont/midi_in 1" 10; then
    cat "$work/ardour.log"
    grep -v -e XRun -e "Unknown request" "$work/jackd.log" | tail -n 20
    [ "$attempt" -lt "$ardour_attempts" ] || exit 1
    # Once more, from a fresh server and session, saying so.
    echo "$name: Ardour did not make its track or lost JACK (attempt $attempt of $ardour_attempts); once more" >&2
    stop "$ardour_pid"
    stop "$jack_pid"
    rm -rf "$work/session-$bpm"
    ardour_case "$bpm" "$period" "$seconds" $((attempt + 1))
    return
  fi
  /usr/bin/python3 scripts/jack_player.py --to "ardour:Cont/midi_in 1" --from "ardour:Cont/midi_out 1" \
    --tempo "$bpm" --seconds "$seconds" --out "$work/ardour-$bpm.json"
  touch "$work/done"
  for _ in $(seq 100); do kill -0 "$ardour_pid" 2>/dev/null || break; sleep 0.1; done
  stop "$ardour_pid"
  stop "$jack_pid"
  local status=0
  /usr/bin/python3 scripts/check_answer.py "$work/ardour-$bpm.json" "$name" --period="$period" --no-pass-through || status=$?
  [ "$status" -eq 0 ] && return
  tail -n 30 "$work/ardour.log"
  [ "$status" -eq 2 ] && [ "$attempt" -lt "$ardour_attempts" ] || exit 1
  echo "$name: JACK had xruns when a note went wrong (attempt $attempt of $ardour_attempts); once more" >&2
  rm -rf "$work/session-$bpm"
  ardour_case "$bpm" "$period" "$seconds" $((attempt + 1))
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

if [ -z "${CONTINUO_STANDALONE_ONLY:-}" ]; then
  ardour_case 120 512 14
  ardour_case 97 256 17
fi

if [ -n "${CONTINUO_ARDOUR_ONLY:-}" ]; then
  echo "host test: passed (Ardour only)"
  exit 0
fi
start_jack 512
standalone_case "standalone on JACK, with its voice" 14 - --listen continuo:output_1
standalone_case "standalone: a new phrase on the answer's sounding pitch" 20 - --cut-answer
standalone_case "standalone: pedal and pitch bend pass through" 14 - --controllers
# The phrase ends about 7 s after the app starts; the answer plays from about 8 s, for 4 s
# (2 bars). SIGINT comes 2 s into it: its first onset may come a beat or two in (a 2-bar
# answer of the default model has 4 to 11 notes; at 1 s in, some had none yet).
standalone_case "standalone: SIGINT during the answer" 12 10
stop "$jack_pid"
echo "host test: passed"
