-- remove.lua: take a ticket off its queue, with its lease.
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:ticket-station          (HASH ticket -> station)
-- KEYS[2]  P:q:{S}:ready             (S = the caller's guess of the ticket's station)
-- KEYS[3]  P:q:{S}:entry
-- KEYS[4]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  S
-- Returns 'removed', 'none' (on no queue), or '=<station>' when S was stale: the caller retries.
local ticket = ARGV[1]
-- An entry on S means the index says S too (the scripts keep them together): no index read.
local old = redis.call('HGET', KEYS[3], ticket)
if not old then
  local current = redis.call('HGET', KEYS[1], ticket)
  if not current then
    return 'none'
  end
  if current ~= ARGV[2] then
    return '=' .. current
  end
  -- Indexed on S without an entry (nothing writes that): drop what is left.
  redis.call('ZREM', KEYS[4], ticket)
  redis.call('HDEL', KEYS[1], ticket)
  return 'removed'
end
redis.call('ZREM', KEYS[2], string.sub(old, 1, TAG_LEN) .. ticket)
redis.call('HDEL', KEYS[3], ticket)
if string.find(old, '#', 1, true) then
  redis.call('ZREM', KEYS[4], ticket)
end
redis.call('HDEL', KEYS[1], ticket)
return 'removed'
