-- advance: one tick of the leaderless admission controller; every worker calls it every ~250 ms.
-- It releases min(rate budget, max_active - active - in flight, tail - serving) positions, where
-- the budget comes from the time elapsed since the last tick of *any* worker, so concurrent calls
-- release exactly what one would. Budget left unused (queue empty, cap reached) is not banked:
-- admissions never exceed the rate by more than one tick (invariant 3).
-- No-shows: the budget is divided by the share of released positions that were redeemed, measured
-- over a one-minute window lagged by the grace period, so actual admissions track the rate.
-- KEYS: 1 state, 2 config, 3 sessions, 4 history, 5 used, 6 workers
-- ARGV: 1 now_ms, 2 floor_epoch, 3 floor_tail, 4 floor_serving, 5 worker id,
--       6 max elapsed ms counted per call, 7 hist_from (see snapshot), 8 restore margin
-- Returns {released, snapshot}.
local state, config, sessions, history, used = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = now_ms(ARGV[1])
ensure_state(state, history, now, num(ARGV[2], 0), num(ARGV[3], 0), num(ARGV[4], 0),
  num(ARGV[8], 0))
redis.call('ZADD', KEYS[6], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - 60000)
redis.call('ZREMRANGEBYSCORE', sessions, '-inf', now)
local active = redis.call('ZCARD', sessions)
local mode, rate, max_active, opens_at, grace = read_config(config)
if active >= max_active then
  -- A spell of being full: turns within their grace period when it began are on hold, not
  -- lost (see admit). Spells less than a grace period apart count as one.
  local last_full = num(redis.call('HGET', state, 'last_full'), 0)
  if last_full == 0 or now - last_full > grace * 1000 then
    redis.call('HSET', state, 'full_since', string.format('%d', now))
  end
  redis.call('HSET', state, 'last_full', string.format('%d', now))
end
local waiting_for_opening = before_opening(state, opens_at, now)

local last = num(redis.call('HGET', state, 'last_advance'), now)
local elapsed = math.min(math.max(now - last, 0), num(ARGV[6], 1000))
if now > last then redis.call('HSET', state, 'last_advance', now) end

local released = 0
if mode == 'queue' and not waiting_for_opening and rate > 0 then
  local sec = math.floor(now / 1000)
  local serving = num(redis.call('HGET', state, 'serving'), 0)
  local tail = num(redis.call('HGET', state, 'tail'), 0)
  local ratio = num(redis.call('HGET', state, 'show_ratio'), 1)

  local hi = serving_at(history, sec - grace)
  local lo = serving_at(history, sec - grace - 60)
  if hi ~= nil and lo ~= nil and hi - lo >= 20 then
    ratio = count_bits(used, lo + 1, hi) / (hi - lo)
    ratio = math.min(math.max(ratio, 0.2), 1)
    redis.call('HSET', state, 'show_ratio', ratio)
  end

  -- Released in the last 15 s and expected to redeem soon: they will need a session slot.
  -- Before the history reaches 15 s back, everything since it began is recent.
  local recent = serving_at(history, sec - 15) or num(redis.call('HGET', state, 'base_serving'), 0)
  local in_flight = math.max(0, math.floor((serving - recent) * ratio) - count_bits(used, recent + 1, serving))

  local budget = num(redis.call('HGET', state, 'carry'), 0) + rate * elapsed / 60000 / ratio
  local n = math.floor(budget)
  n = math.min(n, max_active - active - in_flight, tail - serving)
  if n > 0 then
    serving = serving + n
    released = n
    redis.call('HSET', state, 'serving', serving)
    redis.call('ZADD', history, serving, sec)
    if redis.call('ZCARD', history) > 7200 then
      redis.call('ZREMRANGEBYRANK', history, 0, -7201)
    end
  end
  redis.call('HSET', state, 'carry', budget - math.floor(budget))
else
  redis.call('HSET', state, 'carry', 0)
end
return {released, snapshot(state, config, sessions, history, now, num(ARGV[7], -1))}
