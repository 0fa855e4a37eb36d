-- dup_filed.lua: the records of some tickets in the current generation.
--
-- KEYS[1]  P:dup:{P}:V:gen
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
-- ARGV[2..] tickets (16 raw bytes each)
-- Returns one record (or nil) per ticket, in order; an empty list when the index is not built.
local base = current(KEYS[1], ARGV[1])
if not base or #ARGV < 2 then
  return {}
end
return redis.call('HMGET', base .. ':t', unpack(ARGV, 2))
