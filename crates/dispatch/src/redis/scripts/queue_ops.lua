-- queue_ops.lua: the atomic operations on one station's queue, as functions over its keys
-- k = { P:q:{S}:ready, P:q:{S}:entries, P:q:{S}:leases } (keys::StationKeys, one slot).
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN; used by
-- queue_batch.lua and queue_move.lua.)
--
-- k[1]  ready    ZSET <tag><ticket> -> score (codec::queue_score)
-- k[2]  entries  HASH ticket -> <tag>|<urgency>|<due>|<enqueued_at>[#<until µs>|<holder>]
-- k[3]  leases   ZSET ticket -> lease expiry (µs)

-- Puts a ticket on the station (replacing its entry there, and so its lease) and announces it.
-- Returns 'ok'.
local function put(k, ticket, score, value, channel)
  -- The common case, a ticket not on this station: claiming its field is the check.
  if redis.call('HSETNX', k[2], ticket, value) == 0 then
    local old = redis.call('HGET', k[2], ticket)
    redis.call('ZREM', k[1], string.sub(old, 1, TAG_LEN) .. ticket)
    if string.find(old, '#', 1, true) then
      redis.call('ZREM', k[3], ticket)
    end
    redis.call('HSET', k[2], ticket, value)
  end
  redis.call('ZADD', k[1], score, string.sub(value, 1, TAG_LEN) .. ticket)
  -- The message is the value without its tag: <ticket>|<urgency>|<due>|<enqueued_at>.
  redis.call('PUBLISH', channel, ticket .. string.sub(value, TAG_LEN + 1))
  return 'ok'
end

-- Takes a ticket off the station, with its lease. Returns 'removed' or 'none'.
local function take(k, ticket)
  local old = redis.call('HGET', k[2], ticket)
  if not old then
    return 'none'
  end
  redis.call('ZREM', k[1], string.sub(old, 1, TAG_LEN) .. ticket)
  redis.call('HDEL', k[2], ticket)
  if string.find(old, '#', 1, true) then
    redis.call('ZREM', k[3], ticket)
  end
  return 'removed'
end

-- The entry without its lease, and the live lease's holder and until (nil if none or expired).
local function split(value, now)
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

local function lease_to(k, ticket, entry, holder, until_us)
  redis.call('HSET', k[2], ticket, entry .. '#' .. until_us .. '|' .. holder)
  redis.call('ZADD', k[3], until_us, ticket)
  return { 'ok', ticket }
end

-- Claims `ticket` ('' = the first unleased in queue order) for `holder` until `until_us`.
-- Returns {'ok', ticket} | {'none'} | {'notqueued'} | {'leased', holder, until µs}.
local function claim(k, ticket, holder, until_us, now)
  if ticket ~= '' then
    local value = redis.call('HGET', k[2], ticket)
    if not value then
      return { 'notqueued' }
    end
    local entry, other, other_until = split(value, now)
    if other and other ~= holder then
      return { 'leased', other, other_until }
    end
    return lease_to(k, ticket, entry, holder, until_us)
  end
  -- Most claims take the head of the queue: look at a few first, then at wider pages.
  local start, page = 0, 4
  while true do
    local members = redis.call('ZRANGE', k[1], start, start + page - 1)
    if #members == 0 then
      return { 'none' }
    end
    local tickets = {}
    for i, member in ipairs(members) do
      tickets[i] = string.sub(member, TAG_LEN + 1)
    end
    local values = redis.call('HMGET', k[2], unpack(tickets))
    for i, candidate in ipairs(tickets) do
      local value = values[i]
      if value then
        local entry, other = split(value, now)
        if not other then
          return lease_to(k, candidate, entry, holder, until_us)
        end
      end
    end
    if #members < page then
      return { 'none' }
    end
    start = start + page
    page = 64
  end
end

-- Drops up to `limit` leases that ran out by `now` and announces those tickets again.
-- Returns the tickets released.
local function release(k, now, limit, channel)
  local expired = redis.call('ZRANGEBYSCORE', k[3], '-inf', now, 'LIMIT', 0, limit)
  local released = {}
  for _, ticket in ipairs(expired) do
    redis.call('ZREM', k[3], ticket)
    local value = redis.call('HGET', k[2], ticket)
    local at = value and string.find(value, '#', 1, true)
    if at then
      local bar = string.find(value, '|', at, true)
      if tonumber(string.sub(value, at + 1, bar - 1)) <= now then
        local entry = string.sub(value, 1, at - 1)
        redis.call('HSET', k[2], ticket, entry)
        redis.call('PUBLISH', channel, ticket .. string.sub(entry, TAG_LEN + 1))
        released[#released + 1] = ticket
      end
    end
  end
  return released
end
