-- claim.lua: lease a given ticket, or the first one in queue order without a live lease.
--
-- KEYS[1]  P:q:{S}:ready             (ZSET <seq><ticket> -> score)
-- KEYS[2]  P:q:{S}:entry             (HASH ticket -> entry)
-- KEYS[3]  P:q:{S}:lease             (HASH ticket -> <until µs>|<holder>)
-- KEYS[4]  P:lease-expiry            (ZSET ticket -> lease expiry µs)
-- ARGV[1]  ticket (32 hex), or '' for the first available
-- ARGV[2]  holder
-- ARGV[3]  lease until (µs)
-- ARGV[4]  now (µs)
-- Returns {'ok', ticket} | {'none'} | {'notqueued'} | {'leased', holder, until µs}.
local now = tonumber(ARGV[4])

-- The live lease on a ticket as (holder, until), or nil.
local function live(ticket)
  local lease = redis.call('HGET', KEYS[3], ticket)
  if not lease then
    return nil
  end
  local sep = string.find(lease, '|', 1, true)
  local until_us = string.sub(lease, 1, sep - 1)
  if tonumber(until_us) > now then
    return string.sub(lease, sep + 1), until_us
  end
  return nil
end

local function take(ticket)
  redis.call('HSET', KEYS[3], ticket, ARGV[3] .. '|' .. ARGV[2])
  redis.call('ZADD', KEYS[4], ARGV[3], ticket)
  return { 'ok', ticket }
end

if ARGV[1] ~= '' then
  local ticket = ARGV[1]
  if redis.call('HEXISTS', KEYS[2], ticket) == 0 then
    return { 'notqueued' }
  end
  local holder, until_us = live(ticket)
  if holder and holder ~= ARGV[2] then
    return { 'leased', holder, until_us }
  end
  return take(ticket)
end

local page = 64
local start = 0
while true do
  local members = redis.call('ZRANGE', KEYS[1], start, start + page - 1)
  for _, member in ipairs(members) do
    local ticket = string.sub(member, 13)
    if not live(ticket) then
      return take(ticket)
    end
  end
  if #members < page then
    return { 'none' }
  end
  start = start + page
end
