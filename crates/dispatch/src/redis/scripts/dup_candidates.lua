-- dup_candidates.lua: the tickets sharing a bucket with a request, counted.
--
-- KEYS[1]  P:dup:{P}:V:gen  (missing: flushed or never built)
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
-- ARGV[2]  the newest rev allowed (8 bytes: u64::MAX - since ms): older tickets are outside
--          the window
-- ARGV[3]  how many members to read per bucket at most (the newest)
-- ARGV[4]  how many members to read in all at most
-- ARGV[5..] the request's buckets (16 hex digits each), in band order
-- Returns nil when the index is not built, else {rev .. ticket .. shared-band count (1 byte)}.
--
-- The buckets are read from the least crowded inside the window (ties in band order) until
-- the total is spent, as `MemoryDuplicates::candidates` reads them: a crowded bucket is a band
-- of common bigrams, which says least about a request. Each bucket is its own small set, so
-- counting and reading it costs what its own size does, not the index's.
local base = current(KEYS[1], ARGV[1])
if not base then
  return false
end
local prefix = base .. ':b:'
local upto = '[' .. ARGV[2] .. string.rep('\255', 16)
local per_bucket = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local buckets = {}
for i = 5, #ARGV do
  local key = prefix .. ARGV[i]
  local n = redis.call('ZLEXCOUNT', key, '-', upto)
  if n > 0 then
    buckets[#buckets + 1] = {n, i, key}
  end
end
table.sort(buckets, function(a, b)
  if a[1] ~= b[1] then
    return a[1] < b[1]
  end
  return a[2] < b[2]
end)
local hits, order = {}, {}
for _, entry in ipairs(buckets) do
  if budget <= 0 then
    break
  end
  local take = math.min(entry[1], per_bucket, budget)
  budget = budget - take
  local found = redis.call('ZRANGEBYLEX', entry[3], '-', upto, 'LIMIT', 0, take)
  for _, member in ipairs(found) do
    if hits[member] then
      hits[member] = hits[member] + 1
    else
      hits[member] = 1
      order[#order + 1] = member
    end
  end
end
local out = {}
for _, member in ipairs(order) do
  out[#out + 1] = member .. string.char(hits[member])
end
return out
