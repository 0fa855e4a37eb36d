-- enqueue.lua: put a ticket on a station's queue, moving it off any other (and dropping its
-- lease), then announce it on the arrivals channel.
--
-- KEYS[1]  P:ticket-station          (HASH ticket -> station)
-- KEYS[2]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- KEYS[3]  P:q:{new}:ready           (ZSET <seq><ticket> -> score)
-- KEYS[4]  P:q:{new}:entry           (HASH ticket -> <seq>|<urgency>|<due>|<enqueued_at>)
-- KEYS[5]  P:q:{new}:seq             (STRING arrival counter)
-- KEYS[6]  P:q:{old}:ready           (old = the station guessed in ARGV[3]; = new if none)
-- KEYS[7]  P:q:{old}:entry
-- KEYS[8]  P:q:{old}:lease
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  new station
-- ARGV[3]  the caller's guess of the ticket's current station ('' = on no queue)
-- ARGV[4]  ready score (codec::queue_score)
-- ARGV[5]  entry tail '|<urgency>|<due>|<enqueued_at>'
-- ARGV[6]  arrivals channel
-- Returns 'ok', or '=<station>' ('=' alone: on no queue) when ARGV[3] was a stale guess: the
-- caller retries with that station's keys.
local ticket = ARGV[1]
local current = redis.call('HGET', KEYS[1], ticket)
if (current or '') ~= ARGV[3] then
  return '=' .. (current or '')
end
if current then
  local old = redis.call('HGET', KEYS[7], ticket)
  if old then
    redis.call('ZREM', KEYS[6], string.sub(old, 1, 12) .. ticket)
    redis.call('HDEL', KEYS[7], ticket)
  end
  redis.call('HDEL', KEYS[8], ticket)
  redis.call('ZREM', KEYS[2], ticket)
end
local seq = string.format('%012x', redis.call('INCR', KEYS[5]))
redis.call('ZADD', KEYS[3], ARGV[4], seq .. ticket)
redis.call('HSET', KEYS[4], ticket, seq .. ARGV[5])
redis.call('HSET', KEYS[1], ticket, ARGV[2])
redis.call('PUBLISH', ARGV[6], ARGV[2] .. '|' .. ticket .. ARGV[5])
return 'ok'
