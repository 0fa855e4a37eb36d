-- timers_claim_due.lua: re-pend timers whose in-flight lease ran out, then move up to `limit`
-- due timers (fire ms <= now, earliest first) to in-flight under a new lease.
--
-- KEYS[1]  P:timers:{P}:pending      (ZSET Timer::member -> fire ms)
-- KEYS[2]  P:timers:{P}:inflight     (ZSET Timer::member -> lease expiry ms)
-- KEYS[3]  P:timers:{P}:inflight-at  (HASH Timer::member -> fire ms)
-- ARGV[1]  now (ms)
-- ARGV[2]  limit (> 0)
-- ARGV[3]  lease until (ms)
-- Returns {member, fire ms, member, fire ms, ...}; never a timer with fire ms > now.
local now = ARGV[1]
local limit = tonumber(ARGV[2])
local chunk = 500

-- Expired leases first (bounded too: what is left is re-pended by the next call).
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, math.max(limit, 256))
for _, member in ipairs(expired) do
  local fire = redis.call('HGET', KEYS[3], member)
  if fire then
    redis.call('ZADD', KEYS[1], fire, member)
  end
  redis.call('ZREM', KEYS[2], member)
  redis.call('HDEL', KEYS[3], member)
end

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local n = #due / 2
if n == 0 then
  return due
end
-- They are the n lowest-ranked members, so they go in one command.
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
local i = 1
while i <= #due do
  local leased, fired = {}, {}
  local last = math.min(i + 2 * chunk - 1, #due)
  for j = i, last, 2 do
    leased[#leased + 1] = ARGV[3]
    leased[#leased + 1] = due[j]
    fired[#fired + 1] = due[j]
    fired[#fired + 1] = due[j + 1]
  end
  redis.call('ZADD', KEYS[2], unpack(leased))
  redis.call('HSET', KEYS[3], unpack(fired))
  i = last + 1
end
return due
