-- timers_ack.lua: forget a claimed (or pending) timer; drop the ticket's membership record once
-- none of its timers is left.
-- (Prefixed at load time with codec::lua_prelude, which defines members_of.)
--
-- KEYS[1]  P:timers:{P}:pending      (ZSET Timer::member -> fire ms)
-- KEYS[2]  P:timers:{P}:inflight     (ZSET Timer::member -> lease expiry ms)
-- KEYS[3]  P:timers:{P}:inflight-at  (HASH Timer::member -> fire ms)
-- KEYS[4]  P:timers:{P}:tk:<bucket>  (HASH ticket -> compact timers)
-- ARGV[1]  ticket (32 hex)
-- ARGV[2]  Timer::member
-- Returns 1 if the timer was known, else 0.
local member = ARGV[2]
local known = redis.call('ZREM', KEYS[1], member) + redis.call('ZREM', KEYS[2], member)
redis.call('HDEL', KEYS[3], member)
local value = redis.call('HGET', KEYS[4], ARGV[1])
if value then
  local left = false
  for _, other in ipairs(members_of(ARGV[1], value)) do
    if redis.call('ZSCORE', KEYS[1], other) or redis.call('ZSCORE', KEYS[2], other) then
      left = true
      break
    end
  end
  if not left then
    redis.call('HDEL', KEYS[4], ARGV[1])
  end
end
if known > 0 then
  return 1
end
return 0
