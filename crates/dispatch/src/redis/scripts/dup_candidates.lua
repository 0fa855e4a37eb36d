-- dup_candidates.lua: the filings of a request's buckets, for the caller to count and rank
-- (`RedisDuplicates::candidates`: the least crowded buckets inside the window first, as
-- `MemoryDuplicates::candidates` reads them).
--
-- KEYS[1]  P:dup:{P}:V:gen  (missing: flushed or never built)
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
-- ARGV[2..] the request's buckets (8 raw bytes each), in band order
-- Returns nil when the index is not built, else each bucket's packed filings (nil if none),
-- in the order asked.
local base = current(KEYS[1], ARGV[1])
if not base then
  return false
end
return redis.call('HMGET', base .. ':b', unpack(ARGV, 2))
