-- remove.lua: take a ticket off its queue, with its lease.
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:tickets                 (HASH ticket -> <tag><station>|...[#lease])
-- KEYS[2]  P:q:{S}:ready             (S = the caller's guess of the ticket's station)
-- KEYS[3]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  S
-- Returns 'removed', 'none' (on no queue), or '=<station>' when S was stale: the caller retries.
local ticket = ARGV[1]
local old = redis.call('HGET', KEYS[1], ticket)
if not old then
  return 'none'
end
local current = string.sub(old, TAG_LEN + 1, string.find(old, '|', TAG_LEN + 1, true) - 1)
if current ~= ARGV[2] then
  return '=' .. current
end
redis.call('ZREM', KEYS[2], string.sub(old, 1, TAG_LEN) .. ticket)
redis.call('HDEL', KEYS[1], ticket)
if string.find(old, '#', 1, true) then
  redis.call('ZREM', KEYS[3], ticket)
end
return 'removed'
