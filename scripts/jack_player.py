#!/usr/bin/python3
"""A JACK MIDI client that plays a phrase into a port and records what comes back, with the
frame of every event: the host test's player and ear (scripts/host-test.sh).

    jack_player.py [--to PORT] [--from PORT] --tempo 120 --seconds 12 --out result.json
                   [--start 1.0] [--cut-answer] [--controllers] [--listen AUDIO_PORT]

The phrase is two bars of quarter notes (C major), starting `--start` seconds after the
client runs. `--cut-answer` plays a second phrase whose first note is the pitch the answer
sounds at that moment (to check that the player's note is not cut). `--clock` sends a MIDI
clock (Start, 24 ticks a beat, Stop) at the tempi of `--clock`, `TEMPO[@BEAT],...` (from
the clock's beat 0 on, then from each BEAT), stopping at `--clock-stop` beats; the phrase
then starts on the clock's beat 4. `--controllers` sends a
sustain pedal and a pitch bend inside the phrase. `--listen` records an audio port (connected
as soon as it appears): the peak of each period. The JSON written has the frame rate, every
event sent and received ({"frame": F, "bytes": [..]}), the audio periods ({"frame": F,
"peak": P}, every period from the connection on) and the JACK server's xruns while it ran
({"frame": F, "delayed_usecs": D}).
"""

import argparse
import json
import sys
import time

import jack

PHRASE = [60, 62, 64, 65, 67, 65, 64, 62]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", help="the port to play into (else it connects to us)")
    ap.add_argument("--from", dest="source", help="the port to record (else it connects to us)")
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--start", type=float, default=1.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cut-answer", action="store_true")
    ap.add_argument("--controllers", action="store_true")
    ap.add_argument("--listen", help="an audio output port to record")
    ap.add_argument("--clock", help="send a MIDI clock at these tempi: TEMPO[@BEAT],...")
    ap.add_argument("--clock-stop", type=float, default=26.0, help="the clock's beat at which it stops")
    args = ap.parse_args()

    client = jack.Client("continuo-player", no_start_server=True)
    out_port = client.midi_outports.register("phrase")
    in_port = client.midi_inports.register("answer")
    ear = client.inports.register("voice") if args.listen else None
    audio = []
    rate = client.samplerate
    beat = rate * 60.0 / args.tempo
    start = None
    plan = []  # (frame, bytes), sorted
    sent, received, xruns = [], [], []
    state = {"cut": None}

    def schedule_clock(first_frame):
        """Start, the ticks at the tempi asked for, and Stop; the frame of the clock's beat 4."""
        tempi = [(float(t.split("@")[1]) if "@" in t else 0.0, float(t.split("@")[0])) for t in args.clock.split(",")]
        plan.append((first_frame, bytes([0xFA])))
        frame, beat4 = float(first_frame), None
        for tick in range(round(args.clock_stop * 24)):
            if tick == 4 * 24:
                beat4 = round(frame)
            plan.append((round(frame), bytes([0xF8])))
            tempo = [t for b, t in tempi if b <= tick / 24][-1]
            frame += rate * 60.0 / tempo / 24
        plan.append((round(frame), bytes([0xFC])))
        return beat4

    def schedule(first_frame):
        if args.clock:
            first_frame = schedule_clock(first_frame)
        for i, pitch in enumerate(PHRASE):
            on = first_frame + round(i * beat)
            plan.append((on, bytes([0x90, pitch, 100])))
            plan.append((on + round(0.8 * beat), bytes([0x80, pitch, 0])))
        if args.controllers:
            plan.append((first_frame + round(0.5 * beat), bytes([0xB0, 64, 127])))
            plan.append((first_frame + round(1.5 * beat), bytes([0xE0, 0, 80])))
            plan.append((first_frame + round(7.9 * beat), bytes([0xB0, 64, 0])))
        plan.sort(key=lambda e: e[0])
        state["phrase_end"] = max(f for f, b in plan if len(b) == 3)

    def process(frames):
        nonlocal start
        now = client.last_frame_time
        if start is None:
            start = now + round(args.start * rate)
            schedule(start)
        out_port.clear_buffer()
        if ear is not None and ear.connections:
            samples = memoryview(ear.get_buffer()).cast("f")
            audio.append({"frame": now, "peak": max((abs(x) for x in samples), default=0.0)})
        for offset, data in in_port.incoming_midi_events():
            data = bytes(data)
            received.append({"frame": now + offset, "bytes": list(data)})
            # The answer sounds a note after the phrase: play that pitch as a new phrase.
            is_on = len(data) == 3 and data[0] & 0xF0 == 0x90 and data[2] > 0
            if args.cut_answer and state["cut"] is None and is_on and now + offset > state["phrase_end"]:
                state["cut"] = now + frames + round(0.3 * beat)
                pitch = data[1]
                plan.append((state["cut"], bytes([0x90, pitch, 90])))
                plan.append((state["cut"] + round(beat), bytes([0x80, pitch, 0])))
                plan.sort(key=lambda e: e[0])
        while plan and plan[0][0] < now + frames:
            frame, data = plan.pop(0)
            offset = max(0, frame - now)
            out_port.write_midi_event(offset, data)
            sent.append({"frame": now + offset, "bytes": list(data)})

    def xrun(delayed_usecs):
        # JACK missed a cycle: what a late client wrote may be lost or read twice.
        xruns.append({"frame": client.frame_time, "delayed_usecs": delayed_usecs})

    client.set_process_callback(process)
    client.set_xrun_callback(xrun)
    with client:
        if args.to:
            out_port.connect(args.to)
        if args.source:
            client.connect(args.source, in_port.name)
        until = time.monotonic() + args.seconds
        while args.listen and not ear.connections and time.monotonic() < until:
            try:
                client.connect(args.listen, ear.name)
            except jack.JackError:
                time.sleep(0.05)
        time.sleep(max(0.0, until - time.monotonic()))
    with open(args.out, "w") as f:
        json.dump({"rate": rate, "tempo": args.tempo, "sent": sent, "received": received, "audio": audio, "xruns": xruns}, f)
    print(f"jack_player: sent {len(sent)}, received {len(received)} events, {len(xruns)} xruns", file=sys.stderr)


if __name__ == "__main__":
    main()
