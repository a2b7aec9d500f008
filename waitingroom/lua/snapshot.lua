-- snapshot: the room as workers cache it, without changing anything.
-- KEYS: 1 state, 2 config, 3 sessions, 4 history
-- ARGV: 1 now_ms, 2 hist_from (serving value; < 0: the last grace period and a minute more)
local now = now_ms(ARGV[1])
return snapshot(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, num(ARGV[2], -1))
