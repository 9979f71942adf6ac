ardour {
	["type"]    = "dsp",
	name        = "Continuo Test Recorder",
	category    = "Utility",
	license     = "MIT",
	author      = "Continuo",
	description = [[scripts/host-test.sh: records the MIDI the plugin before it sends, at exact samples]]
}
-- The shared memory holds [1] the count of events, then each event as four integers: the
-- transport sample it came at and its first three bytes (0 where the event is shorter). It
-- records while the transport rolls, up to 4,096 events, and passes everything through.

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = -1, audio_out = -1 }, }
end

local EVENTS = 4096

function dsp_init (rate)
	self:shmem():allocate (1 + 4 * EVENTS)
	self:shmem():clear ()
end

function dsp_run (_, _, n_samples)
	local log = self:shmem():to_int (0):array ()
	local now = Session:transport_sample ()
	local rolling = Session:transport_rolling ()
	local cnt = 1
	for _, b in pairs (midiin) do
		midiout[cnt] = { time = b["time"], data = b["data"] }
		cnt = cnt + 1
		if rolling and log[1] < EVENTS then
			local base = 1 + 4 * log[1]
			log[base + 1] = now + b["time"] - 1
			for j = 1, 3 do log[base + 1 + j] = b["data"][j] or 0 end
			log[1] = log[1] + 1
		end
	end
end
