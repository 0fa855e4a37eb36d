-- dup_put.lua: file a ticket under its key and bands in the current generation, replacing its
-- old filing (atomically).
--
-- KEYS[1]  P:dup:{P}:V:gen  (the current generation; missing: not built)
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
-- ARGV[2]  ticket (16 raw bytes)
-- ARGV[3]  its record (see dup_prelude.lua)
-- Returns 1 when something changed, 0 when it was filed so already, -1 when the index is not
-- built (nothing is filed: the rebuild that must come reads the store, and catches up with
-- what changed while it ran).
local base = current(KEYS[1], ARGV[1])
if not base then
  return -1
end
return file(base, ARGV[2], ARGV[3])
