#!/usr/bin/env python3
"""A client of the Python prototype, unchanged in spirit: it uses `requests`
the way the prototype's Core modules and dashboard did, and checks every field
and type they read. Exit status 0 means the bridge is a drop-in replacement.

Usage: prototype_client.py [BASE_URL]   (default http://127.0.0.1:8000)

Against a bridge with an auth file, COREBRIDGE_TOKEN is sent as a bearer
token with every update (a producer's) and COREBRIDGE_VIEWER_TOKEN with every
read (a viewer's): the only change such a client needs.
"""
import os
import sys
import time
import uuid
from datetime import datetime

import requests

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"


def bearer(var):
    token = os.environ.get(var)
    return {"Authorization": "Bearer " + token} if token else {}


PRODUCE = bearer("COREBRIDGE_TOKEN")
VIEW = bearer("COREBRIDGE_VIEWER_TOKEN")


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


session_id = str(uuid.uuid4())
payload = {
    "module": "education",
    "data": {"student_id": "S-1042", "course": "algebra", "score": 87.5, "progress": {"done": 12, "total": 20}},
    "session_id": session_id,
}
r = requests.post(f"{BASE}/core/update", json=payload, headers=PRODUCE, timeout=10)
check(r.status_code == 200, f"POST /core/update status {r.status_code}: {r.text}")
body = r.json()
check(body["status"] == "success", f"status field: {body}")
check(body["session_id"] == session_id, f"session_id echoed: {body}")
check(body["message"] == "Data received and logged for module education", f"message: {body}")
check(isinstance(body["timestamp"], str) and body["timestamp"].endswith("Z"), f"timestamp: {body}")
datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))

# Without a session_id the bridge makes one, as the prototype did.
r = requests.post(f"{BASE}/core/update", json={"module": "finance", "data": {"amount": 12.5}}, headers=PRODUCE, timeout=10)
check(r.status_code == 200, f"POST without session_id: {r.status_code}")
uuid.UUID(r.json()["session_id"])

# A bad body gets FastAPI's 422 shape.
r = requests.post(f"{BASE}/core/update", json={"data": {}}, headers=PRODUCE, timeout=10)
check(r.status_code == 422, f"missing module: {r.status_code}")
detail = r.json()["detail"]
check(isinstance(detail, list) and detail[0]["loc"] == ["body", "module"] and "msg" in detail[0] and "type" in detail[0],
      f"422 detail: {detail}")

# The bridge delivers to its Bucket; wait (bounded) until both records are synced.
deadline = time.time() + 10
while True:
    s = requests.get(f"{BASE}/bucket/status", headers=VIEW, timeout=10).json()
    if s["total_sync_count"] >= 2 or time.time() > deadline:
        break
    time.sleep(0.1)
check(s["total_sync_count"] >= 2, f"records were not synced: {s}")
check(s["last_sync_time"].endswith("Z"), f"last_sync_time after a sync: {s}")
check(isinstance(s["last_sync_time"], str), f"last_sync_time: {s}")
check(isinstance(s["total_sync_count"], int), f"total_sync_count: {s}")
check(isinstance(s["module_sync_counts"], dict), f"module_sync_counts: {s}")
check(all(isinstance(k, str) and isinstance(v, int) for k, v in s["module_sync_counts"].items()), f"module_sync_counts types: {s}")

h = requests.get(f"{BASE}/core/health", headers=VIEW, timeout=10).json()
check(h["status"] in ("ok", "degraded", "down"), f"status: {h}")
check(isinstance(h["uptime_s"], (int, float)), f"uptime_s: {h}")
check(isinstance(h["last_sync_ts"], str), f"last_sync_ts: {h}")
check(isinstance(h["pending_queue"], int) and h["pending_queue"] >= 0, f"pending_queue: {h}")
check(h["last_sync_ts"].endswith("Z") and h["avg_latency_ms_24h"] > 0, f"sync figures after a sync: {h}")
check(isinstance(h["error_count_24h"], int), f"error_count_24h: {h}")
check(isinstance(h["avg_latency_ms_24h"], (int, float)), f"avg_latency_ms_24h: {h}")
print("prototype client: OK")
