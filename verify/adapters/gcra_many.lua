-- GCRA rate limits, the rule of verify/domain/gcra.py on Redis's clock, for many keys at once
-- (every charge of one event-loop tick, verify/adapters/gcra_batch.py: one round trip).
-- KEYS[i]: a key's state (its TAT in microseconds); a key may come more than once: the
--   charges apply in order, so a later charge on a key sees the earlier ones
-- ARGV: runs of five numbers, count, interval_us, burst, cost, strict: the next `count` keys
--   are each charged `cost` under that rule (a tick's charges mostly share one rule and cost,
--   so a batch of 1,000 charges is a handful of arguments, not 4,000); with strict = 1 the
--   whole cost must fit (the probing limit: a batch of guesses on one person never passes
--   from a full bucket), else min(cost, burst)
-- returns the number of keys it decided, then the refused charges only,
--   {#KEYS, i_1, retry_after_us_1, i_2, retry_after_us_2, ...} (i: the charge's index in
--   KEYS, from 1); every other charge was allowed. The count lets the caller tell an
--   all-allowed answer from a reply that is not this command's (a connection out of step)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local total = 0
for a = 1, #ARGV, 5 do total = total + tonumber(ARGV[a]) end
if total ~= #KEYS or #ARGV % 5 ~= 0 then  -- checked before any write
  return redis.error_reply('gcra_many: runs cover ' .. total .. ' of ' .. #KEYS .. ' keys')
end
local out = {#KEYS}
local i = 0
for a = 1, #ARGV, 5 do
  local count = tonumber(ARGV[a])
  local interval = tonumber(ARGV[a + 1])
  local burst = tonumber(ARGV[a + 2])
  local cost = tonumber(ARGV[a + 3])
  local needed = math.min(cost, burst)
  if ARGV[a + 4] == '1' then needed = cost end
  local step = interval * cost
  local early = interval * needed - interval * burst
  for _ = 1, count do
    i = i + 1
    local key = KEYS[i]
    local tat = tonumber(redis.call('GET', key))
    if tat == nil or tat < now then tat = now end
    local allow_at = tat + early
    if allow_at > now then
      out[#out + 1] = i
      out[#out + 1] = allow_at - now
    else
      local new_tat = tat + step
      redis.call('SET', key, string.format('%d', new_tat),
        'PX', math.ceil((new_tat - now) / 1000) + 1000)
    end
  end
end
return out
