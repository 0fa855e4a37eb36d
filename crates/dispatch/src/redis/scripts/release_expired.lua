-- release_expired.lua: drop the leases of one station that ran out, and announce those tickets.
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- KEYS[2]  P:q:{S}:entry             (HASH ticket -> <tag>|<urgency>|<due>|<enqueued_at>[#lease])
-- ARGV[1]  now (µs)
-- ARGV[2]  S's arrivals channel
-- ARGV[3..] tickets the caller found expired in KEYS[1] and indexed on S
-- Returns the tickets released (a lease renewed meanwhile is kept).
local now = tonumber(ARGV[1])
local released = {}
for i = 3, #ARGV do
  local ticket = ARGV[i]
  local value = redis.call('HGET', KEYS[2], ticket)
  local at = value and string.find(value, '#', 1, true)
  if not at then
    -- No entry or no lease on S any more: the expiry is stale, unless the ticket moved and was
    -- claimed again since the caller looked (its expiry is then in the future).
    local expiry = redis.call('ZSCORE', KEYS[1], ticket)
    if expiry and tonumber(expiry) <= now then
      redis.call('ZREM', KEYS[1], ticket)
    end
  else
    local bar = string.find(value, '|', at, true)
    if tonumber(string.sub(value, at + 1, bar - 1)) <= now then
      local entry = string.sub(value, 1, at - 1)
      redis.call('HSET', KEYS[2], ticket, entry)
      redis.call('ZREM', KEYS[1], ticket)
      redis.call('PUBLISH', ARGV[2], ticket .. string.sub(entry, TAG_LEN + 1))
      released[#released + 1] = ticket
    end
  end
end
return released
