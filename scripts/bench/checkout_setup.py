"""Prepares the checkout benchmark on a running server: N customers joined as members, one card
each topped up with enough for the whole run. Prints the card ids to the file named; the store
id, the amount of one checkout (as the server quotes it) and a cashier token to stdout as JSON.
Usage: checkout_setup.py BASE_URL CARDS_FILE N"""
import json
import sys
import urllib.request
import random
import uuid

base, cards_file, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
PASSWORD = "Demo@2026"


def call(method, path, token=None, body=None, key=None):
    req = urllib.request.Request(base + path, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if key:
        req.add_header("Idempotency-Key", key)
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(req, data) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read().decode()}")


def login(user):
    return call("POST", "/api/v1/auth/login", body={"username": user, "password": PASSWORD})["access_token"]


admin = login("admin")
cashier = login("ht01.cashier")
stores = call("GET", "/api/v1/stores", admin)
stores = stores["items"] if isinstance(stores, dict) else stores
store = next(s["id"] for s in stores if s["code"] == "HT01")
prefix = random.randint(0, 9999)
cards = []
for i in range(n):
    c = call("POST", "/api/v1/customers", admin,
             {"store_id": store, "name": f"压测会员{i:04d}", "phone": f"178{prefix:04d}{i:04d}"})
    m = call("POST", "/api/v1/members", admin,
             {"customer_id": c["id"], "store_id": store, "channel": "fee", "fee_paid": "0"})
    card = call("POST", "/api/v1/cards", admin, {"member_id": m["id"]})
    call("POST", f"/api/v1/cards/{card['id']}/top-ups", admin,
         {"amount": "50000.00", "payment_method": "cash"}, key=str(uuid.uuid4()))
    cards.append(card["id"])
with open(cards_file, "w") as f:
    f.write("\n".join(cards) + "\n")
line = {"category": "other", "description": "bench", "quantity": "1", "unit_price": "1.00"}
q = call("POST", "/api/v1/checkouts/quote", cashier, {"card_id": cards[0], "store_id": store, "lines": [line]})
print(json.dumps({"store": store, "amount": q["member_pays"], "token": cashier}))
