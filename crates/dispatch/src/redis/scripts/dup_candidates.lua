-- dup_candidates.lua: the tickets sharing a bucket with a request, counted.
--
-- KEYS[1]  P:dup:{P}:<scheme>:buckets
-- KEYS[2]  P:dup:{P}:<scheme>:built  (missing: flushed or never built)
-- ARGV[1]  the newest rev allowed (8 bytes: u64::MAX - since ms): older tickets are outside
--          the window
-- ARGV[2]  how many members to read per bucket at most (the newest)
-- ARGV[3]  how many members to read in all at most
-- ARGV[4..] the request's buckets (8 raw bytes each), in band order
-- Returns nil when the index is not built, else {rev .. ticket .. shared-band count (1 byte)}.
--
-- The buckets are read from the least crowded inside the window (ties in band order) until
-- the total is spent, as `MemoryDuplicates::candidates` reads them: a crowded bucket is a band
-- of common bigrams, which says least about a request. Counting a bucket (ZLEXCOUNT) is
-- O(log n); reading it is O(log n + read), and at most ARGV[3] members are read in all.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return false
end
local tail = ARGV[1] .. string.rep('\255', 16)
local per_bucket = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local buckets = {}
for i = 4, #ARGV do
  local bucket = ARGV[i]
  local n = redis.call('ZLEXCOUNT', KEYS[1], '[' .. bucket, '[' .. bucket .. tail)
  if n > 0 then
    buckets[#buckets + 1] = {n, i, bucket}
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
  local bucket = entry[3]
  local found = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. bucket, '[' .. bucket .. tail,
    'LIMIT', 0, take)
  for _, member in ipairs(found) do
    local ticket = string.sub(member, 9)
    if hits[ticket] then
      hits[ticket] = hits[ticket] + 1
    else
      hits[ticket] = 1
      order[#order + 1] = ticket
    end
  end
end
local out = {}
for _, ticket in ipairs(order) do
  out[#out + 1] = ticket .. string.char(hits[ticket])
end
return out
