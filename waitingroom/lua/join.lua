-- join: a newcomer takes the next position in line (invariant 1: unique, ordered by arrival).
-- KEYS: 1 state, 2 config, 3 history
-- ARGV: 1 now_ms ('' = server time), 2 floor_epoch, 3 floor_tail, 4 floor_serving,
--       5 restore margin (see ensure_state)
-- Returns {status, epoch, position, prequeue_lo, prequeue_hi}; status 'ok' | 'closed';
-- prequeue_lo = -1 without a pre-queue; prequeue_hi = -1 while the pre-queue is still open.
local now = now_ms(ARGV[1])
local epoch = ensure_state(KEYS[1], KEYS[3], now, num(ARGV[2], 0), num(ARGV[3], 0),
  num(ARGV[4], 0), num(ARGV[5], 0))
local mode, _, _, opens_at = read_config(KEYS[2])
if mode == 'closed' then
  return {'closed', string.format('%d', epoch), 0, 0, 0}
end
before_opening(KEYS[1], opens_at, now)
local position = redis.call('HINCRBY', KEYS[1], 'tail', 1)
local pq = redis.call('HMGET', KEYS[1], 'prequeue_lo', 'prequeue_hi')
return {'ok', string.format('%d', epoch), position, num(pq[1], -1), num(pq[2], -1)}
