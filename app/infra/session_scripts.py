"""The session store's Lua scripts: what must run in Redis alone, between two commands of
no one else (app/infra/sessions.py)."""

import hashlib

# Take the session's lock, then read the session and, by the phone's hash under
# today's or yesterday's salt, its resume point and profile, and the report
# limits' counts (app/abuse.py), so that no screen costs a round trip more. The
# phone is an argument only: it is hashed here and never written. A lock that holds our
# own token was taken by this very call, run again by redis-py's retry after its reply
# was lost: it goes on, rather than wait for itself. Today's salt is made (the candidate
# ARGV[3]) only when it is missing, and what today's names hold comes in one MGET with
# the session: inside a script, every command costs far more than the key it reads
# (this was 11 commands a navigation hop, now 6).
LOAD = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
  and redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local salts = redis.call('MGET', KEYS[3], KEYS[4])
if not salts[1] then  -- nothing can set it in between: a script runs alone
  redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
  salts[1] = ARGV[3]
end
local prefix, names = ARGV[5], {}
for i = 1, 2 do
  if salts[i] then names[i] = redis.sha1hex(salts[i] .. ARGV[6]) end
end
local today = redis.call('MGET', KEYS[2], prefix .. 'resume:' .. names[1],
  prefix .. 'profile:' .. names[1], prefix .. 'reports:' .. names[1],
  prefix .. 'lookups:' .. names[1])
local out = {today[1], salts[1], salts[2]}
for i, kind in ipairs({'resume:', 'profile:'}) do
  local value, which = today[i + 1], 1
  if not value then
    which = 0
    if names[2] then
      value = redis.call('GET', prefix .. kind .. names[2])
      if value then which = 2 end
    end
  end
  table.insert(out, value)
  table.insert(out, which)
end
table.insert(out, today[4])
table.insert(out, today[5])
for i = 1, 2 do
  table.insert(out, names[i] and redis.call('HGETALL', prefix .. 'repeat:' .. names[i]) or {})
end
return out
"""
LOAD_SHA = hashlib.sha1(LOAD.encode()).hexdigest()
# Give the lock back only if it is still ours (a hop slower than LOCK_MS lost it).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Drop cached profiles, but keep the steps each counts that SQL may lack yet (ARGV[1]):
# a profile without its day stamp makes the next hop write them before it reads the
# database (app/conversation/hop.py), so no step is missing from what it rebuilds.
FORGET = """
for _, name in ipairs(KEYS) do
  local ok, profile = pcall(cjson.decode, redis.call('GET', name) or 'null')
  local steps = ok and type(profile) == 'table' and profile[ARGV[1]]
  if type(steps) == 'table' and #steps > 0 then
    redis.call('SET', name, cjson.encode({[ARGV[1]] = steps}), 'KEEPTTL')
  else
    redis.call('DEL', name)
  end
end
"""
