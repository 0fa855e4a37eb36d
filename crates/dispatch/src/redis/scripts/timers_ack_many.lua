-- timers_ack_many.lua: timers_ack.lua for many timers in one call (a fired batch).
-- (Prefixed at load time with codec::lua_prelude, which defines members_of.)
--
-- KEYS[1]  P:timers:{P}:pending      (ZSET Timer::member -> fire ms)
-- KEYS[2]  P:timers:{P}:inflight     (ZSET Timer::member -> lease expiry ms)
-- KEYS[3]  P:timers:{P}:inflight-at  (HASH Timer::member -> fire ms)
-- KEYS[4..] P:timers:{P}:tk:<bucket>  (HASH ticket -> compact timers), as ARGV names them
-- ARGV     triples: ticket (32 hex), Timer::member, index into KEYS of the ticket's bucket
-- Returns how many of the timers were known.
local known = 0
local touched = {}
for i = 1, #ARGV, 3 do
  local member = ARGV[i + 1]
  known = known + math.min(1, redis.call('ZREM', KEYS[1], member) + redis.call('ZREM', KEYS[2], member))
  redis.call('HDEL', KEYS[3], member)
  touched[ARGV[i]] = KEYS[tonumber(ARGV[i + 2])]
end
-- Drop a ticket's membership record once none of its timers is left.
for ticket, bucket in pairs(touched) do
  local value = redis.call('HGET', bucket, ticket)
  if value then
    local left = false
    for _, other in ipairs(members_of(ticket, value)) do
      if redis.call('ZSCORE', KEYS[1], other) or redis.call('ZSCORE', KEYS[2], other) then
        left = true
        break
      end
    end
    if not left then
      redis.call('HDEL', bucket, ticket)
    end
  end
end
return known
