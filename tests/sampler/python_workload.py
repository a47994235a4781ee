"""A python3 workload for the sampler's injection test: dicts, strings, json, sorting."""
import hashlib
import json

table = {}
for i in range(200000):
    table["key%d" % i] = [i, str(i) * 3, {"n": i % 97}]
text = json.dumps(table)
back = json.loads(text)
words = sorted(back.keys(), key=lambda k: (len(k), k[::-1]))
digest = hashlib.sha256("".join(words[:50000]).encode()).hexdigest()
print(len(text), len(back), words[0], words[-1], digest)
total = sum(v[2]["n"] for v in back.values())
print("total", total)
