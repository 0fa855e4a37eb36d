-- timers_schedule.lua: replace every timer of one ticket (pending or in flight) with a new set.
-- (Prefixed at load time with codec::lua_prelude, which defines members_of.)
--
-- KEYS[1]  P:timers:{P}:pending      (ZSET Timer::member -> fire ms)
-- KEYS[2]  P:timers:{P}:inflight     (ZSET Timer::member -> lease expiry ms)
-- KEYS[3]  P:timers:{P}:inflight-at  (HASH Timer::member -> fire ms)
-- KEYS[4]  P:timers:{P}:tk:<bucket>  (HASH ticket -> compact timers, codec::ticket_timers_value)
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  the ticket's new compact value ('' = no timers)
-- ARGV[3..] fire ms, member, fire ms, member, ...
-- Returns the number of timers now pending for the ticket.
local ticket = ARGV[1]
local old = redis.call('HGET', KEYS[4], ticket)
-- One call per key, whatever the number of timers (a call from Lua costs more than a member).
if old then
  local members = members_of(ticket, old)
  if #members > 0 then
    redis.call('ZREM', KEYS[1], unpack(members))
    redis.call('ZREM', KEYS[2], unpack(members))
    redis.call('HDEL', KEYS[3], unpack(members))
  end
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[4], ticket)
  return 0
end
if #ARGV >= 4 then
  redis.call('ZADD', KEYS[1], unpack(ARGV, 3))
end
redis.call('HSET', KEYS[4], ticket, ARGV[2])
return (#ARGV - 2) / 2
