-- release: end a session at once (the backend said `X-WR-Command: release`, or the user left),
-- freeing its slot for the next person in line.
-- KEYS: 1 sessions, 2 state
-- ARGV: 1 now_ms, 2 session id
-- Returns 1 when a session was ended, else 0.
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
if removed == 1 then redis.call('HINCRBY', KEYS[2], 'ended', 1) end
return removed
