-- set_config: change the room config, versioned, and append the change to the audit stream.
-- KEYS: 1 config, 2 audit, 3 state
-- ARGV: 1 now_ms, 2 expected version ('' = any), 3 actor, 4 only if missing ('1' | '0'),
--       5 a fresh random seed for a new pre-queue's shuffle, 6.. field, value pairs (validated
--       by the caller)
-- Returns {'ok', version} | {'conflict', version} | {'exists', version}
local now = now_ms(ARGV[1])
local version = num(redis.call('HGET', KEYS[1], 'version'), 0)
if ARGV[4] == '1' and version > 0 then return {'exists', version} end
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= version then return {'conflict', version} end
local old, new = {}, {}
for i = 6, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  old[field] = redis.call('HGET', KEYS[1], field) or ''
  new[field] = value
  redis.call('HSET', KEYS[1], field, value)
  if field == 'opens_at' and value ~= old[field] and value ~= '' and tonumber(value) * 1000 > now then
    -- A new opening time starts a new pre-queue at the current end of the line (unless one is
    -- open already: its arrivals keep their pre-queue standing).
    local pq = redis.call('HMGET', KEYS[3], 'prequeue_lo', 'prequeue_hi')
    if pq[1] == false or pq[2] ~= false then
      redis.call('HDEL', KEYS[3], 'prequeue_hi')
      redis.call('HSET', KEYS[3], 'prequeue_lo', num(redis.call('HGET', KEYS[3], 'tail'), 0),
        'prequeue_seed', ARGV[5])
    end
  end
end
version = version + 1
redis.call('HSET', KEYS[1], 'version', version)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'time', now, 'actor', ARGV[3],
  'version', version, 'old', cjson.encode(old), 'new', cjson.encode(new))
return {'ok', version}
