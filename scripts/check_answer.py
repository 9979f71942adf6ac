#!/usr/bin/python3
"""Checks what jack_player.py recorded (scripts/host-test.sh): an answer came, every answered
note-on and note-off lies on the 16th grid of the tempo within one sample, every note
has its note-off, and no note-off comes for a note that is not sounding (MIDI sent twice). Prints the count of answered notes and the worst grid error in samples;
exits 1 with the reason otherwise.

    check_answer.py RESULT.json NAME [--period=N] [--no-pass-through] [--cut-answer]
                    [--controllers] [--exit] [--listen PORT] [--span-beats=N]

The grid's phase is not known to a JACK client (the host's transport started it), so it is
fitted: the latest phase at which every answered event is at or after its exact step time.
Each event must then lie within one sample of its step's sample. The player's own events,
when passed through, are told apart from the answer by matching what was sent;
`--no-pass-through` (the host turned it off): everything received is the answer.
`--cut-answer`: the player's note that started a new phrase on the answer's sounding pitch came
out after the answer's note-off, and no note-off cut it short. `--controllers`: the sustain
pedal and pitch bend sent came out. `--listen` (the player recorded the app's audio): the
built-in voice was silent before the phrase, sounded at every answered onset, never past
0 dBFS. `--exit`: the app quit during the answer; the note-offs of
its last frame are not on the grid. `--span-beats=N`: the answer's first and last onsets are
at least N beats apart (nothing, a chord track for one, cut it short). `--clock` (the player
sent a MIDI clock, jack_player.py --clock): the grid is the clock's, every 6th tick from
Start, whatever its tempo; a note in the beat after a change of tempo (the tempo is measured
over a beat of ticks) may be a 16th's quarter off it, every other within `CLOCK_SAMPLES`;
nothing is answered more than two periods after the clock's Stop, and every note has ended
three periods after it.
`--nothing-passed`: Pass-through is off, and none of the player's notes came back.

Exit status 2 instead of 1: a note went out twice or not at all while the JACK server had
xruns (a client finished late; JACK may then read a late client's MIDI twice or not at all).
The recording says nothing of the plugin then, and the caller runs the case again.
"""

import json
import math
import sys


def fail(name, why, status=1):
    print(f"{name}: FAILED: {why}")
    sys.exit(status)


def is_note(b):
    return len(b) == 3 and b[0] & 0xF0 in (0x80, 0x90)


def is_on(b):
    return b[0] & 0xF0 == 0x90 and b[2] > 0


def split_passed_through(sent, received):
    """(answer events, passed-through events): a received event with the bytes of a sent one,
    at the sent frame plus the host's constant latency, is the player's."""
    latency = None
    for s in sent:
        match = [r["frame"] - s["frame"] for r in received if r["bytes"] == s["bytes"] and r["frame"] >= s["frame"]]
        if match:
            latency = min(match)
            break
    if latency is None:
        return received, []
    mine = {(s["frame"] + latency, tuple(s["bytes"])) for s in sent}
    answer = [r for r in received if (r["frame"], tuple(r["bytes"])) not in mine]
    passed = [r for r in received if (r["frame"], tuple(r["bytes"])) in mine]
    return answer, passed


def grid_error(frames, step, period):
    """The worst distance (samples) of an event from its step's sample at the fitted phase,
    and how often the host's delay changed. With `period`, the host may deliver its output a
    whole number of periods later than before (Ardour on a dummy JACK backend does, as it
    recomputes latencies; JACK orders a cycle of clients anew): events are followed in order, and a
    change of delay by 1 to 20 periods is taken when it puts the event within a sample of a
    later step. Only the rest of the distance counts."""
    f0, delay, k0, changes, worst = frames[0], 0, 0, 0, 0.0

    def residual(f, d):
        k = round((f - d - f0) / step)
        return k, f - d - math.ceil(f0 + k * step - 1e-9)

    for f in frames:
        k, r = residual(f, delay)
        if abs(r) > 1 and period:
            for m in sorted(range(-20, 21), key=abs):
                k2, r2 = residual(f, delay + m * period)
                if m and abs(r2) <= 1 and k2 >= k0:
                    delay, k, r, changes = delay + m * period, k2, r2, changes + 1
                    break
        k0 = k
        worst = max(worst, abs(r))
    return round(worst), changes


# How far from the MIDI clock's grid an answered note may be, in samples (a millisecond at
# 48 kHz: a DIN MIDI clock's own jitter is about that).
CLOCK_SAMPLES = 48


def check_clock(name, r, notes, period):
    """The answered notes against the grid of the MIDI clock the player sent (see --clock).
    The app hears the clock and the player hears the app in the same JACK period or the next:
    the grid is taken at the delay (0 or ±1 period) that fits best. Returns the worst error
    away from tempo changes, in samples."""
    ticks = [e["frame"] for e in r["sent"] if e["bytes"] == [0xF8]]
    stop = next(e["frame"] for e in r["sent"] if e["bytes"] == [0xFC])
    grid = ticks[::6]
    intervals = [b - a for a, b in zip(ticks, ticks[1:])]
    changes = [ticks[i] for i in range(1, len(intervals)) if abs(intervals[i] - intervals[i - 1]) > 1.5]
    settling = lambda f: any(c <= f < c + 24 * max(intervals) for c in changes)  # noqa: E731

    def errors(delay):
        """Each note's distance from the grid; the note-offs that the Stop sent are not on it."""
        out = []
        for e in notes:
            f = e["frame"] - delay
            if f < stop:
                g = min(grid, key=lambda g: abs(g - f))
                out.append((abs(f - g), settling(f), e))
        return out

    best = min((errors(d) for d in (0, period, -period)), key=lambda es: max(x for x, s, _ in es if not s))
    steady = max(x for x, s, _ in best if not s)
    moving = max((x for x, s, _ in best if s), default=0)
    sixteenth = min(intervals) * 6
    if steady > CLOCK_SAMPLES or moving > sixteenth / 4:
        fail(name, f"an answered note is {steady} samples off the MIDI clock's grid ({moving} in the beat after a tempo change)")
    # The app hears the Stop in the player's period or the next, and acts on it from its next
    # block (a block's time comes from the clock heard before it).
    late = [e for e in notes if is_on(e["bytes"]) and e["frame"] > stop + 2 * period]
    if late:
        fail(name, f"{len(late)} notes started after the clock's Stop (frame {stop}), the first at {late[0]['frame']}")
    ends = [e["frame"] for e in r["received"] if is_note(e["bytes"]) and not is_on(e["bytes"])]
    if ends and max(ends) > stop + 3 * period:
        fail(name, f"a note ended at frame {max(ends)}, after the clock's Stop at {stop}")
    print(f"{name}: the answer kept to the MIDI clock's grid through {len(changes)} tempo changes: worst "
          f"{steady} samples ({moving} in the beat after a change), nothing begun after Stop")
    return steady


def main():
    path, name = sys.argv[1], sys.argv[2]
    flags = set(sys.argv[3:])
    r = json.load(open(path))
    step = r["rate"] * 60.0 / r["tempo"] / 4.0
    if "--no-pass-through" in flags or "--nothing-passed" in flags:
        answer, passed = r["received"], []
    else:
        answer, passed = split_passed_through(r["sent"], r["received"])
    if "--nothing-passed" in flags:
        check_nothing_passed(name, r, flags)
    # An answer cut short by the player's new phrase ends where the player's note starts.
    cuts = {e["frame"] for e in passed if is_note(e["bytes"]) and is_on(e["bytes"])}
    if "--exit" in flags and r["received"]:
        # Quitting ends every note where the app was asked to: its last frame.
        cuts.add(max(e["frame"] for e in r["received"]))
    notes = [e for e in answer if is_note(e["bytes"]) and (is_on(e["bytes"]) or e["frame"] not in cuts)]
    ons = [e for e in notes if is_on(e["bytes"])]
    if not ons:
        fail(name, f"no answer ({len(r['received'])} events received, {len(passed)} passed through)")
    period = next((int(f.split("=")[1]) for f in flags if f.startswith("--period=")), 0)
    if "--clock" in flags:
        worst, changes = check_clock(name, r, notes, period), 0
    else:
        worst, changes = grid_error([e["frame"] for e in notes], step, period)
    if worst > 1 and "--clock" not in flags:
        fail(name, f"an answered note is {worst} samples off the 16th grid at {r['tempo']} BPM")
    check_pairs(name, r)
    span = next((float(f.split("=")[1]) for f in flags if f.startswith("--span-beats=")), None)
    if span is not None:
        played = (ons[-1]["frame"] - ons[0]["frame"]) / (step * 4.0)
        if played < span:
            fail(name, f"the answer's onsets span {played:.2f} beats, less than {span}: it was cut short")
    if "--cut-answer" in flags:
        check_cut(name, r, passed)
    if "--controllers" in flags:
        kinds = {(e["bytes"][0] & 0xF0, e["bytes"][1] if e["bytes"][0] & 0xF0 == 0xB0 else None) for e in passed}
        if (0xB0, 64) not in kinds or (0xE0, None) not in kinds:
            fail(name, f"the sustain pedal or pitch bend did not pass through: {sorted(kinds, key=str)}")
    if "--listen" in flags:
        check_voice(name, r, notes, period)
    host_late = f" (the host's output delay changed {changes} times by whole periods)" if period else ""
    print(f"{name}: {len(ons)} answered notes, worst grid error {worst} samples{host_late}")


def check_nothing_passed(name, r, flags):
    """No note the player sent came back within two periods (Pass-through off). An answered
    note may have the bytes of one the player sent, later."""
    period = next((int(f.split("=")[1]) for f in flags if f.startswith("--period=")), 512)
    back = [e for e in r["received"] if is_note(e["bytes"])
            and any(s["bytes"] == e["bytes"] and 0 <= e["frame"] - s["frame"] <= 2 * period for s in r["sent"])]
    if back:
        fail(name, f"{len(back)} of the player's notes passed through with Pass-through off, the first at frame {back[0]['frame']}")


def check_pairs(name, r):
    """Every note-on has its note-off (player's and answer's together, by channel and pitch).
    A note-off of a note that is not sounding means MIDI went out twice (or an on was lost).
    On failure the events received around it are printed, and the JACK server's xruns
    during the recording make it status 2 (see the module's doc)."""
    received = sorted(r["received"], key=lambda e: e["frame"])
    sounding = {}
    for i, e in enumerate(received):
        b = e["bytes"]
        if is_note(b):
            key = (b[0] & 0x0F, b[1])
            sounding[key] = sounding.get(key, 0) + (1 if is_on(b) else -1)
            if sounding[key] < 0:
                unpaired(name, r, received[max(0, i - 4):i + 3],
                         f"a note-off of a note that was not sounding at frame {e['frame']}: {b} (sent twice?)")
    stuck = [k for k, n in sounding.items() if n > 0]
    if stuck:
        unpaired(name, r, [], f"notes without a note-off (channel, pitch): {stuck}")


def unpaired(name, r, around, why):
    for e in around:
        print(f"  received at frame {e['frame']}: {e['bytes']}")
    xruns = [x["frame"] for x in r.get("xruns", [])]
    if not xruns:
        fail(name, why)
    print(f"  the JACK server had {len(xruns)} xruns while recording, at frames {xruns}")
    fail(name, f"{why}; during xruns, so it says nothing of the plugin", status=2)


# The metronome's loudest click (the bar line's) at the voice's default level, −6 dB.
CLICK_PEAK = 0.5 * 0.5
# How long the voice rings after a note-off or a click (its release is 0.3 s).
RING_SECONDS = 0.35


def check_voice(name, r, answer, period):
    """The app's built-in voice: before the phrase, the metronome's clicks only (no louder
    than its bar-line click); from the player's first note to the answer's, once the player's
    notes have rung out, silent (the metronome stops when the player plays); sounding while
    the answer's notes play (a period after each onset, allowing the output's period of
    delay); never past 0 dBFS."""
    audio = r["audio"]
    if not audio:
        fail(name, "the voice's audio port was never recorded")
    notes_sent = [e for e in r["sent"] if is_note(e["bytes"])]
    first_sent = min(e["frame"] for e in notes_sent)
    before = [a["peak"] for a in audio if a["frame"] + period <= first_sent]
    clicks = sum(1 for p in before if p > 1e-2)
    if not clicks or max(before) > CLICK_PEAK * 1.01:
        fail(name, f"before the phrase, not the metronome's clicks alone ({len(before)} periods, {clicks} loud, "
                   f"peak {max(before, default=0):.2e})")
    onsets = [e["frame"] for e in answer if is_on(e["bytes"])]
    rung_out = max(e["frame"] for e in notes_sent) + RING_SECONDS * r["rate"]
    between = [a["peak"] for a in audio if rung_out <= a["frame"] and a["frame"] + period <= min(onsets)]
    if not between or max(between) > 1e-4:
        fail(name, f"the metronome did not stop once the player played ({len(between)} periods, peak "
                   f"{max(between, default=0):.2e})")
    loudest = max(a["peak"] for a in audio)
    if not 0.0 < loudest <= 1.0:
        fail(name, f"the voice's peak is {loudest}")
    heard = [o for o in onsets if any(o <= a["frame"] <= o + 3 * period and a["peak"] > 1e-2 for a in audio)]
    if len(heard) < len(onsets):
        fail(name, f"the voice is silent at {len(onsets) - len(heard)} of {len(onsets)} answered onsets")
    print(f"{name}: the voice sounded every answered onset ({len(onsets)}), peak {loudest:.2f}; before the phrase "
          f"the metronome clicked ({clicks} loud periods), and stopped when the player played")


def check_cut(name, r, passed):
    """The player's last note-on (the new phrase on the answer's pitch) comes out after any
    note-off of that pitch in its frame, and nothing but its own note-off ends it."""
    starts = [e for e in passed if is_on(e["bytes"])]
    if not starts:
        fail(name, "the new phrase did not pass through")
    cut = starts[-1]
    key = (cut["bytes"][0] & 0x0F, cut["bytes"][1])
    received = r["received"]
    at = received.index(cut)
    same = lambda e: is_note(e["bytes"]) and (e["bytes"][0] & 0x0F, e["bytes"][1]) == key
    offs_after = [e for e in received[at + 1:] if same(e) and not is_on(e["bytes"])]
    if not offs_after or offs_after[0] not in passed:
        fail(name, f"the player's note {key} was ended by the answer at frame {offs_after[0]['frame'] if offs_after else '-'}")


if __name__ == "__main__":
    main()
