-- release_expired.lua: drop the leases of one station that ran out, and announce those tickets.
--
-- KEYS[1]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- KEYS[2]  P:q:{S}:entry             (HASH ticket -> <seq>|<urgency>|<due>|<enqueued_at>)
-- KEYS[3]  P:q:{S}:lease             (HASH ticket -> <until µs>|<holder>)
-- ARGV[1]  now (µs)
-- ARGV[2]  S
-- ARGV[3]  arrivals channel
-- ARGV[4..] tickets the caller found expired in KEYS[1] and indexed on S
-- Returns the tickets released (a lease renewed meanwhile is kept).
local now = tonumber(ARGV[1])
local released = {}
for i = 4, #ARGV do
  local ticket = ARGV[i]
  local lease = redis.call('HGET', KEYS[3], ticket)
  if lease then
    local sep = string.find(lease, '|', 1, true)
    if tonumber(string.sub(lease, 1, sep - 1)) <= now then
      redis.call('HDEL', KEYS[3], ticket)
      redis.call('ZREM', KEYS[1], ticket)
      local entry = redis.call('HGET', KEYS[2], ticket)
      if entry then
        redis.call('PUBLISH', ARGV[3], ARGV[2] .. '|' .. ticket .. string.sub(entry, 13))
        released[#released + 1] = ticket
      end
    end
  end
end
return released
