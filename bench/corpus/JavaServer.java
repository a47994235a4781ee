// A throttled request loop on the JVM for the recorded leak corpus (see README.md): per-request
// byte[]/HashMap/StringBuilder garbage, and the workloads chosen by key=value arguments common to
// the corpus: a lazily filled LRU cache (access-ordered LinkedHashMap), a TTL session map whose
// entries survive young collections (so the old generation fills slowly), load cycles, and a late
// leak kept in a static HashMap (leak_kind=map) or listener lambdas in a static list
// (leak_kind=listeners). The collector is chosen on the java command line.
import java.util.*;
import java.util.concurrent.ThreadLocalRandom;

public class JavaServer {
  static final Map<String, Double> O = new HashMap<>();
  static String leakKind = "map";
  static final Map<Long, Object> REGISTRY = new HashMap<>();  // leak_kind=map
  static final List<Runnable> LISTENERS = new ArrayList<>();  // leak_kind=listeners
  static final String ALPHA = "abcdefghijklmnopqrstuvwxyz0123456789";
  static long seq = 0, sink = 0;

  record Item(int id, String name, double value) {}
  record Session(long expires, List<Item> data) {}
  record Context(long id, long at, String user, List<Item> trail) {}

  static String randStr(int n) {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    char[] c = new char[n];
    for (int i = 0; i < n; i++) c[i] = ALPHA.charAt(r.nextInt(ALPHA.length()));
    return new String(c);
  }

  // About `bytes` as small records (~100 bytes each), the shape of a parsed row.
  static List<Item> makeRecord(double bytes) {
    List<Item> items = new ArrayList<>();
    for (int i = 0; i < (int) (bytes / 100); i++)
      items.add(new Item(i, randStr(16), ThreadLocalRandom.current().nextDouble()));
    return items;
  }

  static double o(String k) { return O.get(k); }

  public static void main(String[] args) throws Exception {
    String[][] defaults = {{"rate", "200"}, {"cycle", "0"}, {"amp", "0.6"}, {"lru", "0"},
        {"lru_kb", "4"}, {"fill", "1"}, {"ttl", "0"}, {"sess_kb", "4"}, {"sess_frac", "1"},
        {"leak_start", "0"}, {"leak_bytes", "0"}};
    for (String[] d : defaults) O.put(d[0], Double.parseDouble(d[1]));
    for (String a : args) {
      String[] kv = a.split("=");
      if (kv[0].equals("leak_kind")) leakKind = kv[1];
      else if (O.containsKey(kv[0])) O.put(kv[0], Double.parseDouble(kv[1]));
      else throw new IllegalArgumentException("unknown argument " + kv[0]);
    }
    final int lruMax = (int) o("lru");
    LinkedHashMap<Integer, List<Item>> lru = new LinkedHashMap<>(16, 0.75f, true) {
      protected boolean removeEldestEntry(Map.Entry<Integer, List<Item>> e) { return size() > lruMax; }
    };
    ArrayDeque<Long> sessionOrder = new ArrayDeque<>();
    HashMap<Long, Session> sessions = new HashMap<>();
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    long start = System.nanoTime();
    double due = 0;
    long last = start;
    int nextKey = 0;
    while (true) {
      long now = System.nanoTime();
      double t = (now - start) / 1e9;
      double r = o("cycle") > 0 ? o("rate") * (1 + o("amp") * Math.sin(2 * Math.PI * t / o("cycle"))) : o("rate");
      due = Math.min(due + r * (now - last) / 1e9, r);
      last = now;
      while (due >= 1) {
        due -= 1;
        long id = ++seq;
        // Per-request garbage: headers, a body buffer, a rendered page.
        HashMap<String, String> headers = new HashMap<>();
        for (int i = 0; i < 20; i++) headers.put("x-h" + i, randStr(24));
        byte[] body = new byte[16 * 1024];
        rnd.nextBytes(body);
        StringBuilder page = new StringBuilder();
        for (Item it : makeRecord(2000)) page.append("<tr><td>").append(it.name()).append("</td><td>").append(it.value()).append("</td></tr>");
        sink += page.length() + body[rnd.nextInt(body.length)] + headers.size();
        if (lruMax > 0) {
          if (!lru.isEmpty()) {
            List<Item> hit = lru.get(Math.max(0, nextKey - lruMax) + rnd.nextInt(Math.min(nextKey, lruMax)));
            if (hit != null) sink += hit.size();
          }
          if (rnd.nextDouble() < o("lru") / (o("fill") * o("rate"))) lru.put(nextKey++, makeRecord(o("lru_kb") * 1024));
        }
        if (o("ttl") > 0 && rnd.nextDouble() < o("sess_frac")) {
          sessions.put(id, new Session(now + (long) (o("ttl") * 1e9), makeRecord(o("sess_kb") * 1024)));
          sessionOrder.add(id);
        }
        if (o("leak_bytes") > 0 && t >= o("leak_start")) {
          Context ctx = new Context(id, now, randStr(12), makeRecord(o("leak_bytes")));
          if (leakKind.equals("listeners")) LISTENERS.add(() -> sink += ctx.trail().size());
          else REGISTRY.put(id, ctx);
        }
      }
      while (!sessionOrder.isEmpty() && sessions.get(sessionOrder.peekFirst()).expires() <= now)
        sessions.remove(sessionOrder.pollFirst());
      Thread.sleep(10);
    }
  }
}
