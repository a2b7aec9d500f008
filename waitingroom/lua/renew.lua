-- renew: an admitted user is active; slide their session's expiry forward.
-- KEYS: 1 sessions, 2 config
-- ARGV: 1 now_ms, 2 session id
-- Returns the new expiry in ms, or 0 when the session is gone (expired, released, or reset).
local now = now_ms(ARGV[1])
local expires = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2]))
if expires == nil or expires <= now then return 0 end
local lifetime = num(redis.call('HGET', KEYS[2], 'session_lifetime'), 600)
local renewed = now + lifetime * 1000
redis.call('ZADD', KEYS[1], 'XX', renewed, ARGV[2])
return renewed
