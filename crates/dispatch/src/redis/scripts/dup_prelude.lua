-- dup_prelude.lua: shared by the duplicate-index scripts (after `local KEEP = <n>`, the
-- filings a bucket keeps, from `BUCKET_KEEP` in duplicates.rs).
--
-- The index lives in generations: a rebuild fills a new one while lookups read the current
-- one (named by `P:dup:{P}:V:gen`), then swaps it in. ROOT is `P:dup:{P}:V:g:`; generation G
-- has, under B = ROOT .. G:
--   B .. ':t'   HASH ticket (16 raw bytes) -> its record
--   B .. ':b'   HASH bucket (8 raw bytes) -> its filings, packed: 24 bytes each,
--               rev (8) .. ticket (16), ascending (newest first), at most KEEP (the newest)
-- So a lookup is one HMGET of the request's buckets, and a filing one HMGET and one HSET of
-- the ticket's: a handful of Redis calls whatever the number of live tickets. (One sorted set
-- of every filing cost a skip-list descent per band, most levels cache misses; one sorted set
-- per bucket, ~100 Redis calls per routed submit from Lua.) A generation is two keys, so
-- retiring it is two UNLINKs, freed off Redis's main thread.
--
-- A ticket's record:
--   byte 1         n, the number of buckets (<= 255)
--   bytes 2..9     rev: u64::MAX - created ms, big-endian (newer tickets sort first)
--   8n bytes       the buckets, 8 raw bytes each
--   the rest       the key, `division|category`
local ENTRY = 24

-- a < b for two filings: the revs as two unsigned 32-bit numbers (two C calls; a Lua loop over
-- bytes cost a filing ~15% of its time), then the tickets byte by byte. (Lua's own `<` on
-- strings follows the locale.)
local function less(a, b)
  local a1, a2 = struct.unpack('>I4I4', a)
  local b1, b2 = struct.unpack('>I4I4', b)
  if a1 ~= b1 then
    return a1 < b1
  end
  if a2 ~= b2 then
    return a2 < b2
  end
  for i = 9, ENTRY do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return false
end

-- The packed filings with `member` in its place (at most KEEP: the oldest falls off).
local function insert(value, member)
  if not value then
    return member
  end
  -- The usual case, a new ticket newer than every one filed: it goes first (its rev is the
  -- smaller), after one comparison of the revs in place, with no search and no copy of the
  -- first filing. (Equal revs, the same ticket filed again included, take the search.)
  local m1, m2 = struct.unpack('>I4I4', member)
  local f1, f2 = struct.unpack('>I4I4', value)
  if m1 < f1 or (m1 == f1 and m2 < f2) then
    if #value < KEEP * ENTRY then
      return member .. value
    end
    return member .. string.sub(value, 1, (KEEP - 1) * ENTRY)
  end
  local lo, hi = 0, #value / ENTRY
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local entry = string.sub(value, mid * ENTRY + 1, mid * ENTRY + ENTRY)
    if entry == member then
      return value
    end
    if less(entry, member) then
      lo = mid + 1
    else
      hi = mid
    end
  end
  local out = string.sub(value, 1, lo * ENTRY) .. member .. string.sub(value, lo * ENTRY + 1)
  if #out > KEEP * ENTRY then
    out = string.sub(out, 1, KEEP * ENTRY)
  end
  return out
end

-- The packed filings without `member`; false when none is left. A plain find (one C call)
-- rather than a Lua loop over the entries; a match must start on an entry's boundary.
local function delete(value, member)
  if not value then
    return false
  end
  local from = 1
  while true do
    local at = string.find(value, member, from, true)
    if not at then
      return value
    end
    if (at - 1) % ENTRY == 0 then
      local out = string.sub(value, 1, at - 1) .. string.sub(value, at + ENTRY)
      if out == '' then
        return false
      end
      return out
    end
    from = at + 1
  end
end

-- A ticket filed for the first time (most filings): every bucket of its record gains it. The
-- general case below without its bookkeeping, which was most of a filing's Lua time.
local function file_new(buckets, tickets, ticket, record)
  local n = string.byte(record, 1)
  local member = string.sub(record, 2, 9) .. ticket
  local names = {}
  for i = 1, n do
    names[i] = string.sub(record, 2 + 8 * i, 9 + 8 * i)
  end
  local values = redis.call('HMGET', buckets, unpack(names))
  local set, k = {}, 0
  for i = 1, n do
    local value = insert(values[i], member)
    if value ~= values[i] then
      set[k + 1] = names[i]
      set[k + 2] = value
      k = k + 2
    end
  end
  if k > 0 then
    redis.call('HSET', buckets, unpack(set, 1, k))
  end
  redis.call('HSET', tickets, ticket, record)
  return 1
end

-- Files a ticket in generation `base` as `record` says (false: takes it out), replacing its
-- old filing there, with one HMGET and at most one HSET and one HDEL of the buckets touched.
-- Returns 1 when something changed, else 0.
local function file(base, ticket, record)
  local tickets, buckets = base .. ':t', base .. ':b'
  local old = redis.call('HGET', tickets, ticket)
  if old == record then
    return 0
  end
  if record and not old then
    return file_new(buckets, tickets, ticket, record)
  end
  local change, order = {}, {}
  local function touch(rec, field)
    local n = string.byte(rec, 1)
    local member = string.sub(rec, 2, 9) .. ticket
    for i = 0, n - 1 do
      local bucket = string.sub(rec, 10 + 8 * i, 17 + 8 * i)
      local c = change[bucket]
      if not c then
        c = {}
        change[bucket] = c
        order[#order + 1] = bucket
      end
      c[field] = member
    end
  end
  if old then
    touch(old, 'del')
  end
  if record then
    touch(record, 'add')
  end
  if #order > 0 then
    local values = redis.call('HMGET', buckets, unpack(order))
    local set, gone = {}, {}
    for i, bucket in ipairs(order) do
      local c = change[bucket]
      local value = values[i]
      if c.del then
        value = delete(value, c.del)
      end
      if c.add then
        value = insert(value, c.add)
      end
      if value ~= values[i] then
        if value then
          set[#set + 1] = bucket
          set[#set + 1] = value
        else
          gone[#gone + 1] = bucket
        end
      end
    end
    if #set > 0 then
      redis.call('HSET', buckets, unpack(set))
    end
    if #gone > 0 then
      redis.call('HDEL', buckets, unpack(gone))
    end
  end
  if record then
    redis.call('HSET', tickets, ticket, record)
  else
    redis.call('HDEL', tickets, ticket)
  end
  return 1
end

-- The current generation's base, or nil when the index was never built (or was flushed).
local function current(gen_key, root)
  local gen = redis.call('GET', gen_key)
  if not gen then
    return nil
  end
  return root .. gen
end
