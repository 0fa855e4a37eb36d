-- release_expired.lua: drop the leases of one station that ran out, and announce those tickets.
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- KEYS[2]  P:tickets                 (HASH ticket -> <tag><station>|...[#<until µs>|<holder>])
-- ARGV[1]  now (µs)
-- ARGV[2]  S
-- ARGV[3]  S's arrivals channel
-- ARGV[4..] tickets the caller found expired in KEYS[1] and on S
-- Returns the tickets released (a lease renewed meanwhile is kept).
local now = tonumber(ARGV[1])
local on_station = ARGV[2] .. '|'
local released = {}
for i = 4, #ARGV do
  local ticket = ARGV[i]
  local value = redis.call('HGET', KEYS[2], ticket)
  local at = value
    and string.sub(value, TAG_LEN + 1, TAG_LEN + #on_station) == on_station
    and string.find(value, '#', 1, true)
  if not at then
    -- Off S or no lease any more: the expiry is stale, unless the ticket moved and was claimed
    -- again since the caller looked (its expiry is then in the future).
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
      redis.call('PUBLISH', ARGV[3], ticket .. string.sub(entry, TAG_LEN + #on_station))
      released[#released + 1] = ticket
    end
  end
end
return released
