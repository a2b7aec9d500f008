-- admit: redeem a ticket whose turn has come into an active session.
-- A position redeems at most once (a bit in the `used` bitmap; the same ticket asking again gets
-- its live session back). A ticket whose position was released more than the grace period ago is
-- 'expired'. Active sessions never exceed max_active (invariant 3): 'full' means wait a moment.
-- KEYS: 1 state, 2 config, 3 sessions, 4 history, 5 used
-- ARGV: 1 now_ms, 2 epoch, 3 position (after any pre-queue shuffle), 4 session id
-- Returns {status, expires_ms}; status 'ok' | 'wait' | 'full' | 'expired' | 'used' | 'epoch' | 'closed'
local state, config, sessions, history, used = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = now_ms(ARGV[1])
local epoch = redis.call('HGET', state, 'epoch')
if epoch == false then return {'wait', 0} end
if epoch ~= ARGV[2] then return {'epoch', 0} end
local position = tonumber(ARGV[3])
if position > num(redis.call('HGET', state, 'serving'), 0) then return {'wait', 0} end
local mode, _, max_active, _, grace, lifetime = read_config(config)
if mode == 'closed' then return {'closed', 0} end
local sid = ARGV[4]
if redis.call('GETBIT', used, position) == 1 then
  local expires = tonumber(redis.call('ZSCORE', sessions, sid))
  if expires ~= nil and expires > now then return {'ok', expires} end
  return {'used', 0}
end
-- The grace period counts from the release; a turn still within it when the room's current
-- spell of being full began (advance keeps full_since and last_full) is on hold until the spell
-- ends: time spent waiting for a free slot never costs anyone their turn. A turn that had expired
-- before stays expired.
local released = redis.call('ZRANGEBYSCORE', history, position, '+inf', 'LIMIT', 0, 1)[1]
if released == nil then return {'expired', 0} end
local since = tonumber(released) * 1000
local full_since = num(redis.call('HGET', state, 'full_since'), 0)
if full_since > 0 and since + grace * 1000 + 999 >= full_since then
  since = math.max(since, num(redis.call('HGET', state, 'last_full'), 0))
end
if now - since > grace * 1000 + 999 then return {'expired', 0} end
redis.call('ZREMRANGEBYSCORE', sessions, '-inf', now)
if redis.call('ZCARD', sessions) >= max_active then return {'full', 0} end
local expires = now + lifetime * 1000
redis.call('ZADD', sessions, expires, sid)
redis.call('SETBIT', used, position, 1)
redis.call('HINCRBY', state, 'admitted', 1)
return {'ok', expires}
