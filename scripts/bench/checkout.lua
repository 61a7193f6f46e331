-- wrk: authenticated member checkouts (POST /api/v1/checkouts), a stored-value tender, a new
-- Idempotency-Key per request, spread over the cards listed in BENCH_CARDS_FILE (one id a line,
-- each topped up well beyond what the run can spend). Set by checkout.sh: BENCH_TOKEN,
-- BENCH_STORE, BENCH_CARDS_FILE, BENCH_AMOUNT, BENCH_RUN.
local cards = {}
for line in io.lines(os.getenv("BENCH_CARDS_FILE")) do
    if #line > 0 then cards[#cards + 1] = line end
end
local token = os.getenv("BENCH_TOKEN")
local store = os.getenv("BENCH_STORE")
local amount = os.getenv("BENCH_AMOUNT")
local run = os.getenv("BENCH_RUN")

-- A global, so that setup() (run in wrk's main state) can give each thread its number.
thread_no = 0
local next_thread = 0
function setup(thread)
    thread:set("thread_no", next_thread)
    next_thread = next_thread + 1
end

local n = 0
local failures = 0
function init(args)
    math.randomseed(os.time() + (thread_no or 0) * 7919)
end

function request()
    n = n + 1
    local card = cards[math.random(#cards)]
    local body = string.format(
        '{"card_id":"%s","store_id":"%s","terminal_id":"bench","lines":[{"category":"other",' ..
        '"description":"bench","quantity":"1","unit_price":"%s"}],"tenders":[{"kind":"stored_value","amount":"%s"}]}',
        card, store, amount, amount)
    return wrk.format("POST", "/api/v1/checkouts", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token,
        ["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, thread_no or 0, n),
    }, body)
end

function response(status, headers, body)
    if status < 200 or status >= 300 then
        failures = failures + 1
        if failures <= 3 then
            io.stderr:write(string.format("non-2xx %d: %s\n", status, body))
        end
    end
end
