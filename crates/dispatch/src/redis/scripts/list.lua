-- list.lua: a station's queue, read atomically (read-only).
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:q:{S}:ready             (ZSET <tag><ticket> -> score)
-- KEYS[2]  P:q:{S}:entries           (HASH ticket -> <tag>|...[#<until µs>|<score>|<holder>])
-- KEYS[3]  P:q:{S}:claimed           (ZSET <tag><ticket> -> lease expiry)
-- Returns {ticket, value, ticket, value, ...}: the unclaimed in queue order, then the claimed
-- (the caller orders the whole from the entries). Members without a value are skipped.
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  members[#members + 1] = member
end
local out = {}
-- HMGET in pages: unpack() has a bounded stack.
local PAGE = 1000
for first = 1, #members, PAGE do
  local last = math.min(#members, first + PAGE - 1)
  local tickets = {}
  for i = first, last do
    tickets[#tickets + 1] = string.sub(members[i], TAG_LEN + 1)
  end
  local values = redis.call('HMGET', KEYS[2], unpack(tickets))
  for i = 1, #tickets do
    if values[i] then
      out[#out + 1] = tickets[i]
      out[#out + 1] = values[i]
    end
  end
end
return out
