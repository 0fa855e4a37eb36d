-- timers_of.lua: the pending (not in-flight) timers of one ticket.
-- (Prefixed at load time with codec::lua_prelude, which defines members_of.)
--
-- KEYS[1]  P:timers:{P}:pending      (ZSET Timer::member -> fire ms)
-- KEYS[2]  P:timers:{P}:tk:<bucket>  (HASH ticket -> compact timers)
-- ARGV[1]  ticket (32 hex)
-- Returns {member, fire ms, ...} in no particular order.
local value = redis.call('HGET', KEYS[2], ARGV[1])
local out = {}
if value then
  for _, member in ipairs(members_of(ARGV[1], value)) do
    local fire = redis.call('ZSCORE', KEYS[1], member)
    if fire then
      out[#out + 1] = member
      out[#out + 1] = fire
    end
  end
end
return out
