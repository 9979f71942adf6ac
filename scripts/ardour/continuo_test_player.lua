ardour {
	["type"]    = "dsp",
	name        = "Continuo Test Player",
	category    = "Utility",
	license     = "MIT",
	author      = "Continuo",
	description = [[scripts/host-test.sh: plays a phrase into the next plugin at exact samples]]
}
-- The plan comes in the shared memory from the session script: [1] the phrase's start, in
-- samples after the transport starts; [2] the count of events; then each event as four
-- integers: its sample after the phrase's start and its three bytes. When the transport first
-- rolls, [1] becomes the transport sample at which the phrase starts. Events of other plugins
-- before it pass through.

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = -1, audio_out = -1 }, }
end

local SLOTS = 2 + 4 * 256
local started = false
local next_event = 1

function dsp_init (rate)
	self:shmem():allocate (SLOTS)
	self:shmem():clear ()
end

function dsp_run (_, _, n_samples)
	local plan = self:shmem():to_int (0):array ()
	local now = Session:transport_sample ()
	local cnt = 1
	for _, b in pairs (midiin) do
		midiout[cnt] = { time = b["time"], data = b["data"] }
		cnt = cnt + 1
	end
	if not Session:transport_rolling () then return end
	if not started then
		plan[1] = now + plan[1]
		started = true
	end
	while next_event <= plan[2] do
		local base = 2 + 4 * (next_event - 1)
		local at = plan[1] + plan[base + 1]
		if at >= now + n_samples then break end
		-- A late event (never, when the plan starts in the future) goes out at once.
		midiout[cnt] = { time = math.max (at - now, 0) + 1, data = { plan[base + 2], plan[base + 3], plan[base + 4] } }
		cnt = cnt + 1
		next_event = next_event + 1
	end
end
