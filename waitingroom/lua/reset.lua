-- reset: start the event over with a new epoch; every ticket and pass of the old epoch is void.
-- KEYS: 1 state, 2 sessions, 3 history, 4 used, 5 audit, 6 config
-- ARGV: 1 now_ms, 2 actor
-- Returns the new epoch.
local now = now_ms(ARGV[1])
local old = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'epoch', string.format('%d', now), 'tail', 0, 'serving', 0,
  'base_serving', 0, 'last_advance', string.format('%d', now), 'carry', 0, 'show_ratio', 1,
  'admitted', 0)
local version = num(redis.call('HGET', KEYS[6], 'version'), 0)
local before = {}
for i = 1, #old, 2 do before[old[i]] = old[i + 1] end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'time', now, 'actor', ARGV[2],
  'version', version, 'old', cjson.encode(before), 'new', cjson.encode({reset = tostring(now)}))
return string.format('%d', now)
