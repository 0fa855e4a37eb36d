-- remove.lua: take a ticket off its queue, with its lease.
--
-- KEYS[1]  P:ticket-station          (HASH ticket -> station)
-- KEYS[2]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- KEYS[3]  P:q:{S}:ready             (S = the station the caller read from KEYS[1])
-- KEYS[4]  P:q:{S}:entry
-- KEYS[5]  P:q:{S}:lease
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  S
-- Returns 'removed', 'none' (on no queue), or '=<station>' when S was stale: the caller retries.
local ticket = ARGV[1]
local current = redis.call('HGET', KEYS[1], ticket)
if not current then
  return 'none'
end
if current ~= ARGV[2] then
  return '=' .. current
end
local old = redis.call('HGET', KEYS[4], ticket)
if old then
  redis.call('ZREM', KEYS[3], string.sub(old, 1, 12) .. ticket)
  redis.call('HDEL', KEYS[4], ticket)
end
redis.call('HDEL', KEYS[5], ticket)
redis.call('ZREM', KEYS[2], ticket)
redis.call('HDEL', KEYS[1], ticket)
return 'removed'
