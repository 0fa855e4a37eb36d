-- timers_release.lua: hand claimed timers back at once (the claimer could not fire them: its
-- store was down), so any replica may take them again without waiting out their lease.
--
-- KEYS[1]  P:timers:{P}:pending      (ZSET Timer::member -> fire ms)
-- KEYS[2]  P:timers:{P}:inflight     (ZSET Timer::member -> lease expiry ms)
-- KEYS[3]  P:timers:{P}:inflight-at  (HASH Timer::member -> fire ms)
-- ARGV     Timer::member, ...
-- Returns how many were in flight and went back to pending. A timer rescheduled or acknowledged
-- meanwhile is no longer in flight and is left as it is.
local released = 0
for _, member in ipairs(ARGV) do
  local fire = redis.call('HGET', KEYS[3], member)
  if fire and redis.call('ZREM', KEYS[2], member) == 1 then
    redis.call('ZADD', KEYS[1], fire, member)
    released = released + 1
  end
  redis.call('HDEL', KEYS[3], member)
end
return released
