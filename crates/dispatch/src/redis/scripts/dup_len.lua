-- dup_len.lua: how many tickets the current generation files (0 when not built).
--
-- KEYS[1]  P:dup:{P}:V:gen
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
local base = current(KEYS[1], ARGV[1])
if not base then
  return 0
end
return redis.call('HLEN', base .. ':t')
