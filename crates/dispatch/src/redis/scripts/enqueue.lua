-- enqueue.lua: put a ticket on a station's queue, moving it off any other (and dropping its
-- lease), then announce it on the arrivals channel.
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:ticket-station          (HASH ticket -> station)
-- KEYS[2]  P:q:{new}:ready           (ZSET <tag><ticket> -> score)
-- KEYS[3]  P:q:{new}:entry           (HASH ticket -> <tag>|<urgency>|<due>|<enqueued_at>[#lease])
-- Only when ARGV[3] is not '' (the ticket is thought to be queued already):
-- KEYS[4]  P:q:{old}:ready           (old = the station guessed in ARGV[3])
-- KEYS[5]  P:q:{old}:entry
-- KEYS[6]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  new station
-- ARGV[3]  the caller's guess of the ticket's current station ('' = on no queue)
-- ARGV[4]  ready score (codec::queue_score)
-- ARGV[5]  entry value '<tag>|<urgency>|<due>|<enqueued_at>' (codec::entry_value)
-- ARGV[6]  the new station's arrivals channel
-- Returns 'ok', or '=<station>' ('=' alone: on no queue) when ARGV[3] was a stale guess: the
-- caller retries with that station's keys.
local ticket, station, value = ARGV[1], ARGV[2], ARGV[5]
if ARGV[3] == '' then
  -- The common case, a ticket on no queue: claiming its index field is the check.
  if redis.call('HSETNX', KEYS[1], ticket, station) == 0 then
    return '=' .. redis.call('HGET', KEYS[1], ticket)
  end
else
  local current = redis.call('HGET', KEYS[1], ticket)
  if current ~= ARGV[3] then
    return '=' .. (current or '')
  end
  local old = redis.call('HGET', KEYS[5], ticket)
  if old then
    redis.call('ZREM', KEYS[4], string.sub(old, 1, TAG_LEN) .. ticket)
    if string.find(old, '#', 1, true) then
      redis.call('ZREM', KEYS[6], ticket)
    end
  end
  if current ~= station then
    -- On the same station the HSET below overwrites the entry (and so its lease).
    redis.call('HDEL', KEYS[5], ticket)
    redis.call('HSET', KEYS[1], ticket, station)
  end
end
redis.call('ZADD', KEYS[2], ARGV[4], string.sub(value, 1, TAG_LEN) .. ticket)
redis.call('HSET', KEYS[3], ticket, value)
redis.call('PUBLISH', ARGV[6], ticket .. string.sub(value, TAG_LEN + 1))
return 'ok'
