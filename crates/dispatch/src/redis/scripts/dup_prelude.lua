-- dup_prelude.lua: shared by the duplicate-index scripts.
--
-- A ticket's record (HASH field = ticket, 16 raw bytes):
--   byte 1         n, the number of buckets (<= 255)
--   bytes 2..9     rev: u64::MAX - created ms, big-endian (newer tickets sort first)
--   8n bytes       the buckets, 8 raw bytes each
--   the rest       the key, `division|category`
-- Its members in the bucket set: bucket (8) .. rev (8) .. ticket (16), all scores 0, so one
-- bucket's members are a lexical range, newest first.
local function unfile(buckets_key, ticket, record)
  local n = string.byte(record, 1)
  local rev = string.sub(record, 2, 9)
  local members = {}
  for i = 0, n - 1 do
    members[#members + 1] = string.sub(record, 10 + 8 * i, 17 + 8 * i) .. rev .. ticket
  end
  if #members > 0 then
    redis.call('ZREM', buckets_key, unpack(members))
  end
end
