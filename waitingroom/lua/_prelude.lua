-- Shared helpers, prepended to every script of this folder by waitingroom.store.
-- Times are milliseconds. ARGV[1] of every script is "now" in ms, or '' to use the Redis
-- server's clock (TIME): one clock for every worker, so clock skew between hosts never matters.

local function now_ms(arg)
  if arg and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(v, default)
  local n = tonumber(v)
  if n == nil then return default end
  return n
end

-- Create the state hash if it is missing, or raise its counters to the floors a worker has seen.
-- This is the self-healing of invariant 1: after Redis lost data, positions are never reissued.
-- The worker that restores the state may have seen fewer positions than another worker issued
-- just before the loss, so the tail restarts `margin` positions past its floor (the worker's
-- estimate of the joins that can have happened without it seeing them).
-- base_serving marks where the release history starts (see advance's in-flight count).
local function ensure_state(state, history, now, floor_epoch, floor_tail, floor_serving, margin)
  local epoch = num(redis.call('HGET', state, 'epoch'), nil)
  if epoch == nil then
    local tail = floor_tail
    if floor_epoch > 0 then
      epoch = floor_epoch
      tail = floor_tail + math.max(margin or 0, 0)
    else
      epoch = now
    end
    redis.call('HSET', state, 'epoch', string.format('%d', epoch), 'tail', tail,
      'serving', floor_serving, 'base_serving', floor_serving,
      'last_advance', string.format('%d', now), 'carry', 0, 'show_ratio', 1, 'admitted', 0)
    if floor_serving > 0 then
      -- Positions restored as served count as released now, so their owners get the grace period.
      redis.call('ZADD', history, floor_serving, math.floor(now / 1000))
    end
    return epoch
  end
  if floor_epoch == epoch then
    if floor_tail > num(redis.call('HGET', state, 'tail'), 0) then
      -- Redis went backwards (a failover to a replica that lagged): the same margin as above.
      redis.call('HSET', state, 'tail', floor_tail + math.max(margin or 0, 0))
    end
    if floor_serving > num(redis.call('HGET', state, 'serving'), 0) then
      redis.call('HSET', state, 'serving', floor_serving)
      redis.call('ZADD', history, floor_serving, math.floor(now / 1000))
    end
  end
  return epoch
end

-- mode, rate per minute, max active, opens_at (s or nil), grace (s), session lifetime (s)
local function read_config(config)
  local c = redis.call('HMGET', config, 'mode', 'rate_per_minute', 'max_active', 'opens_at',
    'grace_period', 'session_lifetime')
  return c[1] or 'queue', num(c[2], 0), num(c[3], 0), num(c[4], nil), num(c[5], 300), num(c[6], 600)
end

-- At the first call after the opening time, fix the pre-queue's upper bound: arrivals in
-- (prequeue_lo, prequeue_hi] are shuffled by the workers with a keyed permutation.
local function before_opening(state, opens_at, now)
  if opens_at == nil or now >= opens_at * 1000 then
    if redis.call('HEXISTS', state, 'prequeue_lo') == 1
        and redis.call('HEXISTS', state, 'prequeue_hi') == 0 then
      redis.call('HSET', state, 'prequeue_hi', num(redis.call('HGET', state, 'tail'), 0))
    end
    return false
  end
  return true
end

-- The value serving had at the end of second t (history is ordered by time and by serving).
local function serving_at(history, t)
  local lo, hi = 0, redis.call('ZCARD', history) - 1
  local found = nil
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('ZRANGE', history, mid, mid, 'WITHSCORES')
    if tonumber(e[1]) <= t then
      found = tonumber(e[2])
      lo = mid + 1
    else
      hi = mid - 1
    end
  end
  return found
end

-- How many bits are set in the bitmap between bit offsets lo and hi, inclusive.
local function count_bits(key, lo, hi)
  if hi < lo then return 0 end
  local n = 0
  local first_full = math.ceil(lo / 8)
  local last_full = math.floor((hi + 1) / 8) - 1
  if first_full > last_full then
    for b = lo, hi do n = n + redis.call('GETBIT', key, b) end
    return n
  end
  for b = lo, first_full * 8 - 1 do n = n + redis.call('GETBIT', key, b) end
  n = n + redis.call('BITCOUNT', key, first_full, last_full)
  for b = (last_full + 1) * 8, hi do n = n + redis.call('GETBIT', key, b) end
  return n
end

-- What workers cache: state, config, live sessions, server time, and the history entries with
-- serving >= hist_from (hist_from < 0: the entries of the last grace period and a minute more).
local function snapshot(state, config, sessions, history, now, hist_from)
  if hist_from < 0 then
    local _, _, _, _, grace = read_config(config)
    hist_from = serving_at(history, math.floor(now / 1000) - grace - 60) or 0
  end
  local h = redis.call('ZRANGEBYSCORE', history, hist_from, '+inf', 'WITHSCORES', 'LIMIT', 0, 10000)
  return {
    redis.call('HGETALL', state),
    redis.call('HGETALL', config),
    redis.call('ZCOUNT', sessions, '(' .. now, '+inf'),
    now,
    h,
  }
end
