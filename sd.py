import sys, threading, time; sys.path.insert(0, "/tmp/docsx")
import h; h.URL = "http://127.0.0.1:17812/"
from h import call, raw
a = call("chat_join", {"name": "x"}, show=False); A = a["session"]
call("chat_enter", {"session": A, "room": "#two"}, show=False)
call("chat_enter", {"session": A, "room": "#three"}, show=False)
print(call("chat_poll", {"session": A, "timeout_ms": 10000}, show=False))
try:
    print(call("chat_poll", {"session": A, "timeout_ms": 10000}, show=False))
except Exception as e: print("poll2", e)
