-- dup_prelude.lua: shared by the duplicate-index scripts.
--
-- The index lives in generations: a rebuild fills a new one while lookups read the current
-- one (named by `P:dup:{P}:V:gen`), then swaps it in. ROOT is `P:dup:{P}:V:g:`; generation G
-- has, under B = ROOT .. G:
--   B .. ':t'              HASH ticket (16 raw bytes) -> its record
--   B .. ':b:' .. bucket   ZSET, one per bucket (16 hex digits), all scores 0, members
--                          rev (8) .. ticket (16): a lexical order, newest first
-- One small set per bucket (most hold one or two tickets, as a listpack) keeps every lookup
-- and filing O(bands) whatever the number of live tickets: one big set of every filing cost
-- a skip-list descent of ~26 levels per band, most of them cache misses, at 1M tickets.
--
-- A ticket's record:
--   byte 1         n, the number of buckets (<= 255)
--   bytes 2..9     rev: u64::MAX - created ms, big-endian (newer tickets sort first)
--   16n bytes      the buckets, 16 hex digits each (as in their keys: key names stay
--                  printable for redis-cli and the shell scripts that clean a prefix)
--   the rest       the key, `division|category`
-- Every member of a generation's bucket sets has the record that names it, so the records
-- alone say which keys a generation holds (the sweep deletes a retired one by them).

-- Takes the filing a record describes out of generation `base` (an emptied set is deleted
-- by Redis itself).
local function unfile(base, ticket, record)
  local n = string.byte(record, 1)
  local member = string.sub(record, 2, 9) .. ticket
  for i = 0, n - 1 do
    redis.call('ZREM', base .. ':b:' .. string.sub(record, 10 + 16 * i, 25 + 16 * i), member)
  end
end

-- Files a ticket in generation `base` as its record says, replacing its old filing there.
-- Returns 1 when something changed, 0 when it was filed so already.
local function file(base, ticket, record)
  local tickets = base .. ':t'
  local old = redis.call('HGET', tickets, ticket)
  if old == record then
    return 0
  end
  if old then
    unfile(base, ticket, old)
  end
  local n = string.byte(record, 1)
  local member = string.sub(record, 2, 9) .. ticket
  for i = 0, n - 1 do
    redis.call('ZADD', base .. ':b:' .. string.sub(record, 10 + 16 * i, 25 + 16 * i), 0, member)
  end
  redis.call('HSET', tickets, ticket, record)
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
