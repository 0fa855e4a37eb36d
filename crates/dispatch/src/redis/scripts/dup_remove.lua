-- dup_remove.lua: take a ticket out of the current generation.
--
-- KEYS[1]  P:dup:{P}:V:gen
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
-- ARGV[2]  ticket (16 raw bytes)
-- Returns 1 when it was filed, else 0.
local base = current(KEYS[1], ARGV[1])
if not base then
  return 0
end
return file(base, ARGV[2], false)
