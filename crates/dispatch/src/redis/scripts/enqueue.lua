-- enqueue.lua: put a ticket on a station's queue, moving it off any other (and dropping its
-- lease), then announce it on the station's arrivals channel.
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:tickets                 (HASH ticket -> <tag><station>|<urgency>|<due>|<enqueued_at>[#lease])
-- KEYS[2]  P:q:{new}:ready           (ZSET <tag><ticket> -> score)
-- Only when ARGV[4] is not '' (the ticket is thought to be queued already):
-- KEYS[3]  P:q:{old}:ready           (old = the station guessed in ARGV[4])
-- KEYS[4]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  ready score (codec::queue_score)
-- ARGV[3]  entry value (codec::entry_value), its station the new one
-- ARGV[4]  the caller's guess of the ticket's current station ('' = on no queue)
-- ARGV[5]  the new station's arrivals channel
-- Returns 'ok', or '=<station>' ('=' alone: on no queue) when ARGV[4] was a stale guess: the
-- caller retries with that station's keys.
local ticket, value = ARGV[1], ARGV[3]
if ARGV[4] == '' then
  -- The common case, a ticket on no queue: claiming its field is the check.
  if redis.call('HSETNX', KEYS[1], ticket, value) == 0 then
    local current = redis.call('HGET', KEYS[1], ticket)
    return '=' .. string.sub(current, TAG_LEN + 1, string.find(current, '|', TAG_LEN + 1, true) - 1)
  end
else
  local old = redis.call('HGET', KEYS[1], ticket)
  local current = old and string.sub(old, TAG_LEN + 1, string.find(old, '|', TAG_LEN + 1, true) - 1)
  if current ~= ARGV[4] then
    return '=' .. (current or '')
  end
  redis.call('ZREM', KEYS[3], string.sub(old, 1, TAG_LEN) .. ticket)
  if string.find(old, '#', 1, true) then
    redis.call('ZREM', KEYS[4], ticket)
  end
  -- Overwrites the entry, and so its lease.
  redis.call('HSET', KEYS[1], ticket, value)
end
redis.call('ZADD', KEYS[2], ARGV[2], string.sub(value, 1, TAG_LEN) .. ticket)
-- The message is the value without its tag and station.
local bar = string.find(value, '|', TAG_LEN + 1, true)
redis.call('PUBLISH', ARGV[5], ticket .. string.sub(value, bar))
return 'ok'
