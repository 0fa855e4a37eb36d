-- queue_ops.lua: the atomic operations on one station's queue, as functions over its keys
-- k = { ready, entries, claimed, gone } (keys::StationKeys, all in the station's slot).
-- (Prefixed at load time with codec::queue_lua_prelude, which defines TAG_LEN and
-- GONE_KEEP_US; used by queue_batch.lua and queue_swap.lua.)
--
-- k[1]  P:q:{S}:ready    ZSET <tag><ticket> -> score (codec::queue_score): unclaimed tickets
-- k[2]  P:q:{S}:entries  HASH ticket -> <tag>|<urgency>|<due>|<enqueued_at>!<version>, and while
--                        claimed #<until µs>|<score>|<holder> after it; or a tombstone
--                        ~<version> for a ticket removed at that version
-- k[3]  P:q:{S}:claimed  ZSET <tag><ticket> -> lease expiry (µs): claimed tickets
-- k[4]  P:q:{S}:gone     ZSET ticket -> when its tombstone was written (µs), for pruning
--
-- A claim moves the ticket's member from `ready` to `claimed` (so the next claim takes the head
-- of `ready` whatever number of tickets staff hold) and keeps its ready score in the lease; a
-- lease that runs out moves it back with that score. Redis spends about a microsecond on each
-- command a script runs, most of an operation's cost, so each operation runs as few as it can.
--
-- Versions: a put or take names the ticket's version in the store. One older than the entry
-- there, or than the tombstone a take left, changes nothing ('stale'): two replicas' updates
-- for one ticket can land in either order and the newer one keeps the last word. (A version
-- is either on a station or not, so a put and a take of one version on one station never
-- disagree; the same version put again after a take is a deliberate re-queue.)

local function member_of(value, ticket)
  return string.sub(value, 1, TAG_LEN) .. ticket
end

-- Drops an entry's member (from whichever set holds it), not the entry itself.
local function unlist(k, ticket, value)
  if string.find(value, '#', 1, true) then
    redis.call('ZREM', k[3], member_of(value, ticket))
  else
    redis.call('ZREM', k[1], member_of(value, ticket))
  end
end

-- A value's parts: the entry with its version (everything before a lease), and its lease's
-- until (number), ready score and holder (nil if not claimed).
local function split(value)
  local at = string.find(value, '#', 1, true)
  if not at then
    return value
  end
  local bar = string.find(value, '|', at, true)
  local bar2 = string.find(value, '|', bar + 1, true)
  return string.sub(value, 1, at - 1), tonumber(string.sub(value, at + 1, bar - 1)),
    string.sub(value, bar + 1, bar2 - 1), string.sub(value, bar2 + 1)
end

-- An entry (as split returns it) without its version, and the version (a number).
local function versioned(head)
  local bang = string.find(head, '!', 1, true)
  if not bang then
    return head, 0
  end
  return string.sub(head, 1, bang - 1), tonumber(string.sub(head, bang + 1))
end

local function is_tombstone(value)
  return string.byte(value, 1) == 126 -- '~'
end

-- Puts a ticket on the station (replacing its entry there, and so its lease) and announces it.
-- The same entry already there (perhaps of an older version) is left in line, lease included:
-- putting a ticket where it already is (a repair, a retried update, a flag raised while it
-- waits) must not take it from the staff member holding it. Returns 'ok' or 'stale'.
local function put(k, ticket, score, value, channel)
  -- The common case, a ticket not on this station: claiming its field is the check.
  if redis.call('HSETNX', k[2], ticket, value) == 0 then
    local old = redis.call('HGET', k[2], ticket)
    local entry, version = versioned(value)
    if is_tombstone(old) then
      -- (Equal versions: the same update again, after a removal that dropped its lease.)
      if tonumber(string.sub(old, 2)) > version then
        return 'stale'
      end
      redis.call('ZREM', k[4], ticket)
    else
      local head = split(old)
      local old_entry, old_version = versioned(head)
      if old_version > version then
        return 'stale'
      end
      if old_entry == entry then
        if old_version ~= version then
          redis.call('HSET', k[2], ticket, value .. string.sub(old, #head + 1))
        end
        return 'ok'
      end
      unlist(k, ticket, old)
    end
    redis.call('HSET', k[2], ticket, value)
  end
  redis.call('ZADD', k[1], score, member_of(value, ticket))
  -- The message is the value without its tag: <ticket>|<urgency>|<due>|<enqueued_at>!<version>.
  redis.call('PUBLISH', channel, ticket .. string.sub(value, TAG_LEN + 1))
  return 'ok'
end

-- Drops tombstones older than GONE_KEEP_US. One take in 16 (by the microsecond it runs at)
-- drops up to 64, so a station's tombstones stay bounded by its recent removals while most
-- takes spend no command on it.
local function prune(k, now)
  local at = tonumber(now)
  if at % 16 ~= 0 then
    return
  end
  local old = redis.call('ZRANGEBYSCORE', k[4], '-inf', at - GONE_KEEP_US, 'LIMIT', 0, 64)
  for _, ticket in ipairs(old) do
    local value = redis.call('HGET', k[2], ticket)
    if value and is_tombstone(value) then
      redis.call('HDEL', k[2], ticket)
    end
    redis.call('ZREM', k[4], ticket)
  end
end

-- Takes a ticket off the station as of `version`, with its lease, leaving a tombstone (an
-- entry of a newer version stays). `now` in µs. Returns 'removed', 'none' or 'stale'.
local function take(k, ticket, version, now)
  version = tonumber(version)
  prune(k, now)
  local old = redis.call('HGET', k[2], ticket)
  local answer = 'none'
  if old then
    if is_tombstone(old) then
      if tonumber(string.sub(old, 2)) >= version then
        return 'none'
      end
    else
      local _, old_version = versioned(split(old))
      if old_version > version then
        return 'stale'
      end
      unlist(k, ticket, old)
      answer = 'removed'
    end
  end
  redis.call('HSET', k[2], ticket, '~' .. string.format('%d', version))
  redis.call('ZADD', k[4], now, ticket)
  return answer
end

-- Releases up to `limit` claims whose lease ran out by `now` (µs, as the caller's string: Lua
-- numbers are doubles, which redis.call would print inexactly). Returns the tickets released.
local function release(k, now, limit, channel)
  local expired = redis.call('ZRANGEBYSCORE', k[3], '-inf', now, 'LIMIT', 0, limit)
  local released = {}
  for _, member in ipairs(expired) do
    local ticket = string.sub(member, TAG_LEN + 1)
    redis.call('ZREM', k[3], member)
    local value = redis.call('HGET', k[2], ticket)
    local entry, _, score = split(value or '')
    if score then
      redis.call('ZADD', k[1], score, member)
      redis.call('HSET', k[2], ticket, entry)
      redis.call('PUBLISH', channel, ticket .. string.sub(entry, TAG_LEN + 1))
      released[#released + 1] = ticket
    end
  end
  return released
end

local function lease_to(k, ticket, entry, score, holder, until_us)
  redis.call('HSET', k[2], ticket, entry .. '#' .. until_us .. '|' .. score .. '|' .. holder)
  redis.call('ZADD', k[3], until_us, member_of(entry, ticket))
  return { 'ok', ticket }
end

-- Claims `ticket` for `holder` until `until_us` (`now_us` as a string, as for release).
-- Returns {'ok', ticket} | {'notqueued'} | {'leased', holder, until µs}.
local function claim_named(k, ticket, holder, until_us, now_us)
  local value = redis.call('HGET', k[2], ticket)
  if not value or is_tombstone(value) then
    return { 'notqueued' }
  end
  local entry, other_until, score, other = split(value)
  if not score then
    local member = member_of(value, ticket)
    score = redis.call('ZSCORE', k[1], member)
    redis.call('ZREM', k[1], member)
  elseif other ~= holder and other_until > tonumber(now_us) then
    return { 'leased', other, string.format('%d', other_until) }
  end
  return lease_to(k, ticket, entry, score, holder, until_us)
end

-- Claims the first unclaimed ticket in queue order. The caller releases leases that ran out
-- first (once per batch), so they are in line again. Returns {'ok', ticket} | {'none'}.
local function claim_head(k, holder, until_us)
  while true do
    local head = redis.call('ZPOPMIN', k[1])
    if #head == 0 then
      return { 'none' }
    end
    local ticket = string.sub(head[1], TAG_LEN + 1)
    local value = redis.call('HGET', k[2], ticket)
    -- (A member without its entry is left behind by nothing; it is dropped, not served.)
    if value and not is_tombstone(value) then
      return lease_to(k, ticket, value, head[2], holder, until_us)
    end
  end
end
