-- dup_candidates.lua: the tickets sharing a bucket with a request, counted.
--
-- KEYS[1]  P:dup:{P}:<scheme>:buckets
-- KEYS[2]  P:dup:{P}:<scheme>:built  (missing: flushed or never built)
-- ARGV[1]  the newest rev allowed (8 bytes: u64::MAX - since ms): older tickets are outside
--          the window
-- ARGV[2]  how many members to read per bucket (the newest)
-- ARGV[3..] the request's buckets (8 raw bytes each)
-- Returns nil when the index is not built, else {rev .. ticket .. shared-band count (1 byte)}.
-- Reads at most (#ARGV - 2) * ARGV[2] members, whatever the set holds.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return false
end
local tail = ARGV[1] .. string.rep('\255', 16)
local hits, order = {}, {}
for i = 3, #ARGV do
  local bucket = ARGV[i]
  local found = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. bucket, '[' .. bucket .. tail,
    'LIMIT', 0, ARGV[2])
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
