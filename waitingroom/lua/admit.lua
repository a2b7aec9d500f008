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
-- Capacity before grace, and the grace period counts from the later of the release and the
-- last moment the room was full: time spent waiting for a free slot never costs anyone their turn.
redis.call('ZREMRANGEBYSCORE', sessions, '-inf', now)
if redis.call('ZCARD', sessions) >= max_active then
  redis.call('HSET', state, 'last_full', string.format('%d', now))
  return {'full', 0}
end
local released = redis.call('ZRANGEBYSCORE', history, position, '+inf', 'LIMIT', 0, 1)[1]
local since = math.max(tonumber(released or 0) * 1000,
  num(redis.call('HGET', state, 'last_full'), 0))
if since == 0 or now - since > grace * 1000 + 999 then
  return {'expired', 0}
end
local expires = now + lifetime * 1000
redis.call('ZADD', sessions, expires, sid)
redis.call('SETBIT', used, position, 1)
redis.call('HINCRBY', state, 'admitted', 1)
return {'ok', expires}
