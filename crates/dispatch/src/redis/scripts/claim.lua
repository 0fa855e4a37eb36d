-- claim.lua: lease a given ticket, or the first one in queue order without a live lease.
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN.)
--
-- KEYS[1]  P:q:{S}:ready             (ZSET <tag><ticket> -> score)
-- KEYS[2]  P:tickets                 (HASH ticket -> <tag><station>|...[#<until µs>|<holder>])
-- KEYS[3]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- ARGV[1]  ticket (32 hex), or '' for the first available
-- ARGV[2]  holder
-- ARGV[3]  lease until (µs)
-- ARGV[4]  now (µs)
-- ARGV[5]  S (a named ticket must be on it)
-- Returns {'ok', ticket} | {'none'} | {'notqueued'} | {'leased', holder, until µs}.
local now = tonumber(ARGV[4])

-- The entry without its lease, and the live lease's holder and until (nil if none or expired).
local function split(value)
  local at = string.find(value, '#', 1, true)
  if not at then
    return value
  end
  local bar = string.find(value, '|', at, true)
  local until_us = string.sub(value, at + 1, bar - 1)
  if tonumber(until_us) > now then
    return string.sub(value, 1, at - 1), string.sub(value, bar + 1), until_us
  end
  return string.sub(value, 1, at - 1)
end

local function take(ticket, entry)
  redis.call('HSET', KEYS[2], ticket, entry .. '#' .. ARGV[3] .. '|' .. ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[3], ticket)
  return { 'ok', ticket }
end

if ARGV[1] ~= '' then
  local ticket = ARGV[1]
  local value = redis.call('HGET', KEYS[2], ticket)
  if not value or string.sub(value, TAG_LEN + 1, TAG_LEN + #ARGV[5] + 1) ~= ARGV[5] .. '|' then
    return { 'notqueued' }
  end
  local entry, holder, until_us = split(value)
  if holder and holder ~= ARGV[2] then
    return { 'leased', holder, until_us }
  end
  return take(ticket, entry)
end

-- Most claims take the head of the queue: look at a few first, then at wider pages.
local start, page = 0, 4
while true do
  local members = redis.call('ZRANGE', KEYS[1], start, start + page - 1)
  if #members == 0 then
    return { 'none' }
  end
  local tickets = {}
  for i, member in ipairs(members) do
    tickets[i] = string.sub(member, TAG_LEN + 1)
  end
  local values = redis.call('HMGET', KEYS[2], unpack(tickets))
  for i, ticket in ipairs(tickets) do
    local value = values[i]
    if value then
      local entry, holder = split(value)
      if not holder then
        return take(ticket, entry)
      end
    end
  end
  if #members < page then
    return { 'none' }
  end
  start = start + page
  page = 64
end
