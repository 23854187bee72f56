-- GCRA rate limits, the rule of verify/domain/gcra.py on Redis's clock, for many keys at once
-- (every charge of one event-loop tick, verify/adapters/gcra_batch.py: one round trip).
-- KEYS[i]: a key's state (its TAT in microseconds); a key may come more than once: the
--   charges apply in order, so a later charge on a key sees the earlier ones
-- ARGV[4i-3 .. 4i]: interval_us, burst, cost, strict of KEYS[i]; with strict = 1 the whole
--   cost must fit (the probing limit: a batch of guesses on one person never passes from a
--   full bucket), else min(cost, burst)
-- returns {allowed_1 (0/1), retry_after_us_1, allowed_2, retry_after_us_2, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local a = 4 * (i - 1)
  local interval = tonumber(ARGV[a + 1])
  local burst = tonumber(ARGV[a + 2])
  local cost = tonumber(ARGV[a + 3])
  local needed = math.min(cost, burst)
  if ARGV[a + 4] == '1' then needed = cost end
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat == nil or tat < now then tat = now end
  local allow_at = tat + interval * needed - interval * burst
  if allow_at > now then
    out[2 * i - 1] = 0
    out[2 * i] = allow_at - now
  else
    local new_tat = tat + interval * cost
    redis.call('SET', KEYS[i], string.format('%d', new_tat),
      'PX', math.ceil((new_tat - now) / 1000) + 1000)
    out[2 * i - 1] = 1
    out[2 * i] = 0
  end
end
return out
