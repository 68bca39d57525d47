#!/usr/bin/env python3
"""Regenerate samples/erasure-requests.csv and samples/profiles/customers.txt.

Deterministic (fixed seed). Every identifier is fictional: e-mails use example.* domains
(RFC 2606) and phone numbers use ranges reserved for drama/fiction (+44 7700 900xxx,
+1 555-01xx) or plainly invented ones.
"""
import csv, random, uuid, datetime, os

random.seed(20261124)
here = os.path.dirname(os.path.abspath(__file__))
first = "ana ben chloe dev emma farid grace hugo ines jon kai lena mo nina omar pia raj sara tom uma vik wen yara zoe".split()
last = "smith patel garcia nguyen muller rossi kowalski okafor tanaka silva jensen dubois".split()
domains = ["example.com", "example.org", "example.net", "mail.example.co.uk"]

def email():
    return f"{random.choice(first)}.{random.choice(last)}{random.randint(1, 999)}@{random.choice(domains)}"

def msisdn():
    kind = random.random()
    if kind < 0.4:
        return f"+447700900{random.randint(0, 999):03d}"
    if kind < 0.7:
        return f"91{random.randint(7000000000, 9999999999)}"
    return f"+1555010{random.randint(0, 9999):04d}"

def device():
    return str(uuid.UUID(int=random.getrandbits(128), version=4))

keys = []
seen = set()
while len(keys) < 985:
    r = random.random()
    k = email() if r < 0.45 else msisdn() if r < 0.85 else device()
    if k not in seen:
        seen.add(k)
        keys.append(k)

start = datetime.date(2026, 10, 1)
rows = []
for i, k in enumerate(keys):
    received = start + datetime.timedelta(days=random.randint(0, 50))
    rows.append({
        "request-id": f"DSR-2026-{10000 + i}",
        "key": k,
        "profile-name": "",
        "exparam1": f"DSR-2026-{10000 + i}",
        "exparam2": random.choice(["web-form", "email", "call-centre", "app"]),
        "received": received.isoformat(),
    })
# A few people asked twice (a duplicate key on a later row), and one row has a blank key.
for j in (3, 17, 256, 511, 700, 901):
    dup = dict(rows[j]); dup["request-id"] = f"DSR-2026-{20000 + j}"; dup["exparam1"] = dup["request-id"]
    rows.insert(random.randint(j + 1, len(rows)), dup)
blank = dict(rows[42]); blank["key"] = "   "; blank["request-id"] = "DSR-2026-29999"; blank["exparam1"] = blank["request-id"]
rows.insert(400, blank)
# A handful carry the profile name explicitly.
for j in range(0, len(rows), 97):
    rows[j]["profile-name"] = "customers"

with open(os.path.join(here, "erasure-requests.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["request-id", "key", "profile-name", "exparam1", "exparam2", "received"])
    w.writeheader()
    w.writerows(rows)

# The simulated tenant holds ~88% of the requested keys (the rest answer 1020 "not found"),
# plus people nobody asked to erase.
held = [k for k in keys if random.random() < 0.88]
others = [email() for _ in range(200)] + [msisdn() for _ in range(200)]
os.makedirs(os.path.join(here, "profiles"), exist_ok=True)
with open(os.path.join(here, "profiles", "customers.txt"), "w") as f:
    f.write("# Profiles held by the simulated tenant (profile 'customers'); one key per line.\n")
    for k in sorted(set(held + others)):
        f.write(k + "\n")
print(len(rows), "rows;", len(held), "requested keys held")
