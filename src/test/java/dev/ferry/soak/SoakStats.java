package dev.ferry.soak;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.List;

/** Named counters of one soak run and the list of its failures. Thread-safe. */
final class SoakStats {

  private static final int MAX_FAILURES = 200;

  private final Map<String, LongAdder> counters = new ConcurrentHashMap<>();
  private final List<String> failures = new CopyOnWriteArrayList<>();
  private final LongAdder failureCount = new LongAdder();

  void inc(String name) {
    add(name, 1);
  }

  void add(String name, long n) {
    counters.computeIfAbsent(name, k -> new LongAdder()).add(n);
  }

  long get(String name) {
    LongAdder a = counters.get(name);
    return a == null ? 0 : a.sum();
  }

  /** The counters whose names start with {@code prefix}, prefix removed, sorted. */
  Map<String, Long> withPrefix(String prefix) {
    Map<String, Long> out = new TreeMap<>();
    counters.forEach((k, v) -> {
      if (k.startsWith(prefix)) {
        out.put(k.substring(prefix.length()), v.sum());
      }
    });
    return out;
  }

  long sumPrefix(String prefix) {
    return withPrefix(prefix).values().stream().mapToLong(Long::longValue).sum();
  }

  /** Records a failed check; the soak fails if any is recorded. */
  void fail(String what) {
    failureCount.increment();
    if (failures.size() < MAX_FAILURES) {
      failures.add(what);
    }
  }

  List<String> failures() {
    return List.copyOf(failures);
  }

  long failureCount() {
    return failureCount.sum();
  }
}
