-- wrk script: replay USSD journeys, many sessions in flight on each connection's thread.
-- Journeys come from the file named by the JOURNEYS environment variable, one hop a
-- line: "<journey>\t<session>\t<text>" (written by bench/throughput.py). Each journey
-- is played again and again, each time by the next caller of the thread: known contacts
-- that bench/journeys.py seeded, "+2237", then 2 * run + thread in 2 digits, then a 5-digit
-- number.
-- A thread keeps POOL journeys going and serves them in turn. A session's next hop is
-- sent only after POOL - 1 other hops were sent, so its previous hop has almost always
-- been answered, as on a phone (a late one is a resent hop, which gateways do too).

local journeys, order, pool, threads = {}, {}, {}, {}
bad, served = 0, 0  -- globals: done() reads them from each thread
local thread_id = 0
local run = tonumber(os.getenv("RUN") or "0")
PER_THREAD = tonumber(os.getenv("PER_THREAD") or "5000")
local token = os.getenv("WEBHOOK_TOKEN") or ""

local function load()
  local file = assert(io.open(os.getenv("JOURNEYS"), "r"))
  for line in file:lines() do
    local name, session, text = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    if not journeys[name] then
      journeys[name] = {}
      table.insert(order, name)
    end
    table.insert(journeys[name], {session = session, text = text})
  end
  file:close()
end

local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  load()
  local size = tonumber(os.getenv("POOL") or "256")
  for n = 1, size do
    pool[n] = {journey = order[(n - 1) % #order + 1], hop = 1, cycle = 0, slot = n}
  end
  thread_id = id
  for _, slot in ipairs(pool) do
    slot.caller = next_caller()
  end
end

local callers = 0

function next_caller()
  callers = callers + 1
  return string.format("%02d%05d", (2 * run + thread_id % 2) % 100, callers % PER_THREAD)
end

local next_slot = 0
-- wrk calls request() once on the first thread to check it, and discards what it returns:
-- that call must not use up a hop, or the session it belongs to would skip its dial.
local checked = false

local function hop_request(slot)
  local hop = journeys[slot.journey][slot.hop]
  local body = "sessionId=b" .. slot.caller .. "s" .. hop.session
    .. "&serviceCode=%2A123%23&networkCode=99999"
    .. "&phoneNumber=%2B2237" .. slot.caller
    .. "&text=" .. encode(hop.text)
  return wrk.format("POST", "/ussd?token=" .. token,
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function request()
  if thread_id == 0 and not checked then
    checked = true
    return hop_request(pool[1])  -- not advanced: the first real call sends it again
  end
  next_slot = next_slot % #pool + 1
  local slot = pool[next_slot]
  local sent = hop_request(slot)
  slot.hop = slot.hop + 1
  if slot.hop > #journeys[slot.journey] then  -- over: the next caller starts it again
    slot.hop, slot.cycle, slot.caller = 1, slot.cycle + 1, next_caller()
  end
  return sent
end

function response(status, headers, body)
  served = served + 1
  local head = body:sub(1, 4)
  if status ~= 200 or (head ~= "CON " and head ~= "END ") then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total, served_total = 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
    served_total = served_total + (thread:get("served") or 0)
  end
  io.write(string.format(
    'JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, '
    .. '"errors_timeout": %d, "bad_answers": %d, "checked": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, bad_total, served_total))
end
