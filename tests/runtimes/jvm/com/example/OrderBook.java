// A test worker for memvisor's JVM heap sample: a leak from a known method among much larger
// churn (short-lived arrays of random sizes), paced by the clock.
//   leak [KIB_PER_S]   archiveOrder keeps 1 KiB per order in a static list (1024 KiB/s by default)
//   map [KIB_PER_S]    rememberSession keeps strings in a static HashMap: the leak is allocated
//                      inside String and HashMap, and must be charged to rememberSession
//   noleak             archiveOrder runs as in leak but drops what it made: nothing is retained
//   print CODE [MS]    prints to stdout and stderr, waits MS milliseconds, exits with CODE
//   bench ROUNDS       a fixed amount of churn and leak work (the list emptied as it goes), then
//                      exits: the benchmark's workload
package com.example;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

public final class OrderBook {
  private static final List<byte[]> ARCHIVE = new ArrayList<>();
  private static final Map<Long, String> SESSIONS = new HashMap<>();
  private static final long CHURN_KIB_PER_S = 24 * 1024;
  private static long sink;

  static void archiveOrder(long id) {
    ARCHIVE.add(new byte[1024]); // LEAK: archiveOrder
  }

  static void rememberSession(long id) {
    SESSIONS.put(id, "session-" + id + "-" + "x".repeat(200)); // LEAK: rememberSession
  }

  static void dropOrder(long id) {
    byte[] order = new byte[1024];
    order[(int) (id % order.length)] = 1;
    sink += order.length;
  }

  // Short-lived: 0.5 to 16.5 KiB, dead at once.
  static int churn(Random random) {
    byte[] buffer = new byte[512 + random.nextInt(16 * 1024)];
    buffer[random.nextInt(buffer.length)] = 1;
    sink += buffer[0];
    return buffer.length;
  }

  // Runs `mode` until the process is stopped, leaking about `leakKib` KiB/s; the list and the
  // map are emptied past 48 MiB so that a long run stays in a small heap.
  static void run(String mode, long leakKib) throws InterruptedException {
    Random random = new Random();
    System.out.println("ready " + mode);
    long start = System.nanoTime();
    long leaked = 0, churned = 0, id = 0;
    while (true) {
      double seconds = (System.nanoTime() - start) / 1e9;
      boolean leakDue = leaked < seconds * leakKib * 1024;
      boolean churnDue = churned < seconds * CHURN_KIB_PER_S * 1024;
      if (leakDue && (!churnDue || random.nextInt(8) == 0)) {
        if (mode.equals("leak")) {
          archiveOrder(id);
          leaked += 1040;
        } else if (mode.equals("map")) {
          rememberSession(id);
          leaked += 320;
        } else {
          dropOrder(id);
          leaked += 1040;
        }
        id++;
        if (ARCHIVE.size() > 48 * 1024) ARCHIVE.clear();
        if (SESSIONS.size() > 150 * 1024) SESSIONS.clear();
      } else if (churnDue) {
        churned += churn(random);
      } else {
        Thread.sleep(1);
      }
    }
  }

  static void bench(long rounds) {
    Random random = new Random(7);
    System.out.println("ready bench");
    long total = 0;
    for (long round = 0; round < rounds; round++) {
      for (int i = 0; i < 24; i++) total += churn(random);
      archiveOrder(round);
      if (ARCHIVE.size() > 16 * 1024) ARCHIVE.clear();
    }
    System.out.println("bench " + rounds + " rounds, " + (total >> 20) + " MiB churned");
  }

  static int print(int code, long lingerMs) throws InterruptedException {
    StringBuilder text = new StringBuilder();
    for (int i = 1; i <= 50; i++) {
      text.append("line ").append(i).append(' ').append(i * i).append('\n');
    }
    System.out.print(text);
    System.out.flush();
    System.err.println("to stderr: " + code);
    Map<Integer, Integer> squares = new HashMap<>();
    for (int i = 0; i < 100000; i++) squares.put(i, i * i);
    System.out.println("sum " + squares.values().stream().mapToLong(Integer::longValue).sum());
    Thread.sleep(lingerMs);
    return code;
  }

  public static void main(String[] args) throws Exception {
    String mode = args.length > 0 ? args[0] : "leak";
    switch (mode) {
      case "print":
        long lingerMs = args.length > 2 ? Long.parseLong(args[2]) : 0;
        System.exit(print(Integer.parseInt(args[1]), lingerMs));
        break;
      case "bench":
        bench(Long.parseLong(args[1]));
        break;
      default:
        run(mode, args.length > 1 ? Long.parseLong(args[1]) : 1024);
    }
  }
}
