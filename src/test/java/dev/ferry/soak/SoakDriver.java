package dev.ferry.soak;

import dev.ferry.support.Ports;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;

/**
 * The chaos soak: for a bounded time, random (seeded) client behaviours against a real Ferry process whose
 * upstreams are soak backends with random (seeded) behaviours, one of them dying and coming back and one refusing
 * every connect. Then, after a bounded grace period, it checks what Ferry promises: every gauge back at 0, no leak,
 * no detected double free, opened == closed, one access-log line per connection, every well-behaved stream's hash
 * matched, memory back near its baseline, a clean exit 0 on SIGTERM. Used by {@code ChaosSoakTest} (short) and by
 * {@link #main} ({@code bench/soak.sh}, long).
 * <p>
 * Replay: the seed fixes every random choice (the mix of client behaviours in launch order, each backend's sequence
 * of behaviours, sizes, data). Thread timing is not replayed, so a replay runs the same mix, not the same
 * interleaving.
 */
public final class SoakDriver {

  private static final Logger log = LoggerFactory.getLogger(SoakDriver.class);
  private static final long MIB = 1024 * 1024;

  /** What to run. Defaults are the short soak's. */
  public static final class Options {
    Duration duration = Duration.ofSeconds(35);
    int concurrency = 24;
    long seed = System.nanoTime();
    int warmupConnections = 60;
    /** Classpath to run {@code dev.ferry.Main} from; ignored when {@link #ferryJar} is set. */
    String ferryClasspath = System.getProperty("java.class.path");
    Path ferryJar;
    List<String> extraJvmArgs = new ArrayList<>();
    /** Run Netty's pooled arenas on JDK direct buffers, so {@code jvm_buffer_memory_used_bytes} counts them. */
    boolean measurableDirectMemory = true;
    /** External mode: Ferry already runs there (its upstreams must be {@link #backendPorts}). */
    int externalProxyPort = -1;
    int externalAdminPort = -1;
    /** Fixed ports for the backends (MIXED, DYING, WELL_BEHAVED, refusing); null = ephemeral. */
    int[] backendPorts;
    Path workDir;
    long directSlackBytes = 64 * MIB;
    long heapSlackBytes = 64 * MIB;
    Duration grace = Duration.ofSeconds(60);

    public Options duration(Duration d) {
      this.duration = d;
      return this;
    }

    public Options concurrency(int c) {
      this.concurrency = c;
      return this;
    }

    public Options seed(long s) {
      this.seed = s;
      return this;
    }

    public Options warmupConnections(int n) {
      this.warmupConnections = n;
      return this;
    }

    public Options ferryClasspath(String cp) {
      this.ferryClasspath = cp;
      return this;
    }

    public Options ferryJar(Path jar) {
      this.ferryJar = jar;
      return this;
    }

    public Options jvmArg(String arg) {
      this.extraJvmArgs.add(arg);
      return this;
    }

    public Options external(int proxyPort, int adminPort, int[] backendPorts) {
      this.externalProxyPort = proxyPort;
      this.externalAdminPort = adminPort;
      this.backendPorts = backendPorts;
      return this;
    }

    public Options workDir(Path dir) {
      this.workDir = dir;
      return this;
    }

    boolean external() {
      return externalProxyPort > 0;
    }
  }

  /** The outcome of one soak. {@link #failures()} empty means every check held. */
  public record Result(long seed, List<String> failures, long failureCount, long connections, long faultsInjected,
                       long hashesChecked, long hashesMatched, long leaks, long doubleFreesDetected,
                       Duration trafficDuration, Duration totalDuration, String summary) {
    public boolean passed() {
      return failureCount == 0;
    }
  }

  private final Options o;
  private final SoakStats stats = new SoakStats();
  private final StreamLedger ledger = new StreamLedger();
  private final Set<Integer> killable = ConcurrentHashMap.newKeySet();
  private final AtomicLong tokens = new AtomicLong();
  private final AtomicLong runs = new AtomicLong();
  private final AtomicLong chaosRuns = new AtomicLong();

  public SoakDriver(Options options) {
    this.o = options;
  }

  // ---- the run ------------------------------------------------------------------------------------------------

  public Result run() throws IOException, InterruptedException {
    long startNanos = System.nanoTime();
    log.info("conn=- chaos soak: seed {} (replay with -Dferry.soak.seed={} or SEED={}), duration {} s, "
      + "concurrency {}", o.seed, o.seed, o.seed, o.duration.toSeconds(), o.concurrency);
    Path work = o.workDir != null ? Files.createDirectories(o.workDir) : Files.createTempDirectory("ferry-soak-");
    ExecutorService clients = Executors.newFixedThreadPool(o.concurrency, daemon("soak-client"));
    int backendThreads = 4 * o.concurrency + 16;
    ThreadPoolExecutor backendPool = new ThreadPoolExecutor(backendThreads, backendThreads, 10, TimeUnit.SECONDS,
      new LinkedBlockingQueue<>(), daemon("soak-upstream"));
    ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2, daemon("soak-timer"));
    List<SoakBackend> backends = new ArrayList<>();
    FerryChild child = null;
    HttpClient http = Scrape.client();
    long trafficNanos = 0;
    Map<String, Object> figures = new LinkedHashMap<>();
    try {
      int[] fixed = o.backendPorts != null ? o.backendPorts : new int[] {0, 0, 0, 0};
      SoakBackend.Kind[] kinds = {SoakBackend.Kind.MIXED, SoakBackend.Kind.DYING, SoakBackend.Kind.WELL_BEHAVED};
      for (int i = 0; i < kinds.length; i++) {
        backends.add(new SoakBackend(i, kinds[i], o.seed, fixed[i], tokens, ledger, stats, backendPool, scheduler));
      }
      int refusing = fixed.length > 3 && fixed[3] > 0 ? fixed[3] : Ports.freeLoopbackPort();
      List<String> upstreams = new ArrayList<>();
      for (SoakBackend b : backends) {
        upstreams.add("127.0.0.1:" + b.port());
      }
      upstreams.add("127.0.0.1:" + refusing);
      log.info("conn=- soak upstreams: {} (MIXED, DYING, WELL_BEHAVED, refusing)", upstreams);

      int proxyPort;
      int adminPort;
      if (o.external()) {
        proxyPort = o.externalProxyPort;
        adminPort = o.externalAdminPort;
      } else {
        child = FerryChild.start(ferryCommand(work, upstreams), work, Duration.ofSeconds(60));
        proxyPort = child.proxyPort();
        adminPort = child.adminPort();
      }
      SoakClient client = new SoakClient(proxyPort, child == null ? -1 : child.proxiedPort(), ledger, stats, killable,
        scheduler);
      Scrape first = Scrape.of(http, adminPort);
      checkAlarms(first, "at start");

      // Warm-up: well-behaved traffic only, then quiet, a full GC and the memory baseline.
      runBatch(clients, client, o.warmupConnections, Math.min(8, o.concurrency), true);
      Scrape baseline = awaitQuiet(http, adminPort, "after warm-up");
      boolean gcWorks = child != null && child.gc();
      if (gcWorks) {
        baseline = Scrape.of(http, adminPort);
      }
      long rssBase = child == null ? -1 : child.rssKib();
      log.info("conn=- baseline after warm-up{}: heap {} MiB, direct {} MiB, rss {} MiB", gcWorks ? " and GC" : "",
        baseline.heapUsed() / MIB, baseline.directUsed() / MIB, rssBase / 1024);

      // Chaos.
      backends.get(1).dying(true);
      SplittableRandom chaos = new SplittableRandom(o.seed ^ 0x5DEECE66DL);
      var adminChaos = scheduler.scheduleWithFixedDelay(() -> adminKill(http, adminPort, chaos), 1500, 1500,
        TimeUnit.MILLISECONDS);
      long[] maxOpen = new long[1];
      var progress = scheduler.scheduleWithFixedDelay(() -> progress(http, adminPort, maxOpen), 5, 5,
        TimeUnit.SECONDS);
      long trafficStart = System.nanoTime();
      long end = trafficStart + o.duration.toNanos();
      Semaphore slots = new Semaphore(o.concurrency);
      while (System.nanoTime() < end) {
        if (!slots.tryAcquire(200, TimeUnit.MILLISECONDS)) {
          continue;
        }
        long i = runs.incrementAndGet();
        chaosRuns.incrementAndGet();
        SplittableRandom rnd = new SplittableRandom(o.seed * 0x9E3779B97F4A7C15L + i);
        ClientBehaviour b = pickClient(rnd);
        clients.execute(() -> {
          try {
            client.run(b, rnd);
          } finally {
            slots.release();
          }
        });
      }
      trafficNanos = System.nanoTime() - trafficStart;
      if (!slots.tryAcquire(o.concurrency, SoakClient.RUN_DEADLINE_MS + 15_000, TimeUnit.MILLISECONDS)) {
        stats.fail("client runs still running " + (SoakClient.RUN_DEADLINE_MS + 15_000) + " ms after the traffic "
          + "ended, despite their deadlines");
      } else {
        slots.release(o.concurrency);
      }
      adminChaos.cancel(false);
      progress.cancel(false);
      backends.get(1).dying(false);

      // Let Netty's leak detector see unreachable buffers: a GC, then allocations (it polls on allocation).
      for (int round = 0; round < 2 && gcWorks; round++) {
        child.gc();
        runBatch(clients, client, 16, Math.min(8, o.concurrency), true);
      }

      Scrape last = awaitQuiet(http, adminPort, "after the soak");
      // Health checks go on connecting; what must be gone is every upstream connection from before the quiet.
      long quietAt = System.nanoTime();
      for (SoakBackend b : backends) {
        b.closeStalled();
      }
      awaitBackendsIdle(backends, quietAt);
      if (gcWorks) {
        child.gc();
      }
      last = Scrape.of(http, adminPort);
      long rssEnd = child == null ? -1 : child.rssKib();

      // ---- checks ----
      checkAlarms(last, "at the end");
      if (!last.quiet()) {
        stats.fail("gauges not back at 0 " + o.grace.toSeconds() + " s after the traffic ended: " + last.gauges());
      }
      long opened = (long) last.sum("ferry_connections_opened_total");
      long closed = (long) last.sum("ferry_connections_closed_total");
      if (opened != closed) {
        stats.fail("ferry_connections_opened_total " + opened + " != sum of ferry_connections_closed_total " + closed);
      }
      if (opened < runs.get()) {
        stats.fail("Ferry accepted " + opened + " connections but the soak opened at least " + runs.get());
      }
      long bytesUp = (long) last.sum("ferry_bytes_total", "direction=\"upstream\"");
      long bytesDown = (long) last.sum("ferry_bytes_total", "direction=\"downstream\"");
      StreamLedger.Verdict verdict = ledger.verify();
      if (verdict.checked() == 0) {
        stats.fail("no well-behaved stream was hash-checked");
      }
      for (String m : verdict.mismatches()) {
        stats.fail("stream check: " + m);
      }
      long directEnd = last.directUsed();
      long heapEnd = last.heapUsed();
      if (directEnd > baseline.directUsed() + o.directSlackBytes) {
        stats.fail("direct memory " + directEnd / MIB + " MiB > baseline " + baseline.directUsed() / MIB
          + " MiB + slack " + o.directSlackBytes / MIB + " MiB");
      }
      if (gcWorks && heapEnd > baseline.heapUsed() + o.heapSlackBytes) {
        stats.fail("heap after GC " + heapEnd / MIB + " MiB > baseline after GC " + baseline.heapUsed() / MIB
          + " MiB + slack " + o.heapSlackBytes / MIB + " MiB");
      }
      figures.put("memory", String.format(Locale.ROOT,
        "heap %d -> %d MiB%s, direct %d -> %d MiB, rss %d -> %d MiB", baseline.heapUsed() / MIB, heapEnd / MIB,
        gcWorks ? " (both after a full GC)" : " (no GC possible: not compared)", baseline.directUsed() / MIB,
        directEnd / MIB, rssBase / 1024, rssEnd / 1024));
      figures.put("bytes relayed", "upstream " + bytesUp + ", downstream " + bytesDown);
      figures.put("prevented double frees (suppressed close requests)",
        (long) last.sum("ferry_double_free_prevented_total"));
      figures.put("refused/failed upstream connect attempts",
        (long) last.sum("ferry_upstream_connect_seconds_count", "outcome=\"failure\""));

      if (child != null) {
        checkAccessLog(child, opened, bytesUp, bytesDown, figures);
        checkFailedStreams(child, verdict);
        int exit = child.sigterm(Duration.ofSeconds(30));
        if (exit != 0) {
          stats.fail("exit status after SIGTERM: " + exit + " (-1 = still running after 30 s)");
        }
        String stopped = child.stoppedLine();
        Matcher m = stopped == null ? null : FerryChild.STOPPED.matcher(stopped);
        if (m == null || !m.find()) {
          stats.fail("no 'Ferry stopped: drained N, forced M; connections open 0, buffers held 0' line; tail:\n"
            + child.tail());
        } else {
          figures.put("shutdown", m.group());
          if (!m.group(3).equals("0") || !m.group(4).equals("0")) {
            stats.fail("shutdown summary not clean: " + m.group());
          }
        }
        if (child.leakLines() > 0) {
          stats.fail(child.leakLines() + " 'LEAK:' line(s) in Ferry's output (see ferry-stderr.log in " + work + ")");
        }
        if (child.doubleFreeLines() > 0) {
          stats.fail(child.doubleFreeLines() + " 'double free detected' line(s) in Ferry's output");
        }
        if (child.unexpectedReadLines() > 0) {
          stats.fail(child.unexpectedReadLines() + " read failure(s) that are no socket error in Ferry's output; the "
            + "first:\n    " + String.join("\n    ", child.firstUnexpectedRead()));
        }
        figures.put("notable Ferry log lines", child.notable().size());
      }
      figures.put("close reasons (access log)", child == null ? closeReasons(last) : child.reasons());
      figures.put("hashes", verdict.checked() + " checked, " + verdict.matched() + " matched, " + verdict.excluded()
        + " excluded (their backend died under them)");
      figures.put("leaks", (long) last.sum("ferry_leaks_detected_total"));
      figures.put("double frees detected", (long) last.sum("ferry_double_free_detected_total"));
      return result(startNanos, trafficNanos, opened, verdict, last, figures, work, child);
    } finally {
      clients.shutdownNow();
      scheduler.shutdownNow();
      for (SoakBackend b : backends) {
        b.close();
      }
      backendPool.shutdownNow();
      if (child != null) {
        child.close();
      }
      clients.awaitTermination(10, TimeUnit.SECONDS);
      backendPool.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private Result result(long startNanos, long trafficNanos, long opened, StreamLedger.Verdict verdict, Scrape last,
                        Map<String, Object> figures, Path work, FerryChild child) {
    long faults = stats.sumPrefix("fault.") + stats.get("admin_kills")
      + Math.max(0, (long) last.sum("ferry_upstream_connect_seconds_count", "outcome=\"failure\""));
    long leaks = (long) last.sum("ferry_leaks_detected_total");
    long doubleFrees = (long) last.sum("ferry_double_free_detected_total");
    Duration traffic = Duration.ofNanos(trafficNanos);
    Duration total = Duration.ofNanos(System.nanoTime() - startNanos);
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "chaos soak %s: seed %d, traffic %.1f s, total %.1f s, concurrency %d%n",
      stats.failureCount() == 0 ? "PASSED" : "FAILED (" + stats.failureCount() + " failures)", o.seed,
      trafficNanos / 1e9, total.toMillis() / 1e3, o.concurrency));
    sb.append("  connections: ").append(opened).append(" accepted by Ferry; client runs: ").append(chaosRuns.get())
      .append(" chaos + ").append(runs.get() - chaosRuns.get()).append(" warm-up and leak-probe (NORMAL)\n");
    sb.append("  client behaviours: ").append(stats.withPrefix("client.")).append('\n');
    sb.append("  upstream behaviours: ").append(stats.withPrefix("upstream.")).append('\n');
    sb.append("  faults injected: ").append(faults).append(" = ").append(stats.withPrefix("fault."))
      .append(", admin kills ").append(stats.get("admin_kills")).append(", refused/failed connect attempts ")
      .append((long) last.sum("ferry_upstream_connect_seconds_count", "outcome=\"failure\"")).append('\n');
    sb.append("  client outcomes: ").append(stats.withPrefix("outcome.")).append('\n');
    figures.forEach((k, v) -> sb.append("  ").append(k).append(": ").append(v).append('\n'));
    sb.append("  work dir (Ferry's stdout/stderr): ").append(work).append('\n');
    List<String> failures = stats.failures();
    if (!failures.isEmpty()) {
      sb.append("  FAILURES (seed ").append(o.seed).append("):\n");
      failures.forEach(f -> sb.append("   - ").append(f).append('\n'));
    }
    if (child != null && !child.notable().isEmpty()) {
      int n = failures.isEmpty() ? 10 : 40;
      sb.append("  notable Ferry log lines (ERROR/exception/leak; first ").append(n).append(" of ")
        .append(child.notable().size()).append("):\n");
      child.notable().stream().limit(n).forEach(l -> sb.append("   | ").append(l).append('\n'));
    }
    String summary = sb.toString();
    if (failures.isEmpty()) {
      log.info("conn=- {}", summary);
    } else {
      log.error("conn=- {}", summary);
    }
    return new Result(o.seed, failures, stats.failureCount(), opened, faults, verdict.checked(), verdict.matched(),
      leaks, doubleFrees, traffic, total, summary);
  }

  // ---- phases and checks --------------------------------------------------------------------------------------

  private static ClientBehaviour pickClient(SplittableRandom rnd) {
    int r = rnd.nextInt(100);
    if (r < 44) {
      return ClientBehaviour.NORMAL;
    } else if (r < 52) {
      return ClientBehaviour.SLOW_READ;
    } else if (r < 60) {
      return ClientBehaviour.RST_MID_STREAM;
    } else if (r < 68) {
      return ClientBehaviour.FIN_EARLY;
    } else if (r < 73) {
      return ClientBehaviour.NEVER_READ;
    } else if (r < 82) {
      return ClientBehaviour.GARBAGE;
    } else if (r < 86) {
      return ClientBehaviour.IDLE;
    }
    return ClientBehaviour.VANISH;
  }

  /** Runs {@code n} NORMAL clients, {@code parallel} at a time, and waits for them. */
  private void runBatch(ExecutorService pool, SoakClient client, int n, int parallel, boolean normal)
    throws InterruptedException {
    Semaphore slots = new Semaphore(parallel);
    for (int i = 0; i < n; i++) {
      slots.acquire();
      long k = runs.incrementAndGet();
      SplittableRandom rnd = new SplittableRandom(o.seed * 0x9E3779B97F4A7C15L + k);
      ClientBehaviour b = normal ? ClientBehaviour.NORMAL : pickClient(rnd);
      pool.execute(() -> {
        try {
          client.run(b, rnd);
        } finally {
          slots.release();
        }
      });
    }
    if (!slots.tryAcquire(parallel, SoakClient.RUN_DEADLINE_MS + 15_000, TimeUnit.MILLISECONDS)) {
      stats.fail("a batch of " + n + " NORMAL clients did not finish");
    }
  }

  /** Polls /metrics until the lifecycle gauges read 0, for at most the grace period; returns the last scrape. */
  private Scrape awaitQuiet(HttpClient http, int adminPort, String when) throws IOException {
    long deadline = System.nanoTime() + o.grace.toNanos();
    Scrape s = Scrape.of(http, adminPort);
    while (!s.quiet() && System.nanoTime() < deadline) {
      SoakClient.sleep(200);
      s = Scrape.of(http, adminPort);
    }
    if (!s.quiet()) {
      stats.fail("gauges not back at 0 " + when + " within " + o.grace.toSeconds() + " s: " + s.gauges()
        + connectionsListing(http, adminPort));
    }
    return s;
  }

  private static String connectionsListing(HttpClient http, int adminPort) {
    try {
      return "; GET /connections: " + Scrape.call(http, adminPort, "GET", "/connections?limit=20").body();
    } catch (IOException e) {
      return "; GET /connections failed: " + e;
    }
  }

  private void awaitBackendsIdle(List<SoakBackend> backends, long quietAt) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (backends.stream().anyMatch(b -> b.activeAcceptedBefore(quietAt) > 0) && System.nanoTime() < deadline) {
      SoakClient.sleep(100);
    }
    for (SoakBackend b : backends) {
      int left = b.activeAcceptedBefore(quietAt);
      if (left > 0) {
        stats.fail("backend " + b.kind() + " still serves " + left + " upstream connection(s) 10 s after Ferry "
          + "reported every connection released: Ferry did not close them");
      }
    }
  }

  private void checkAlarms(Scrape s, String when) {
    s.family("ferry_leaks_detected_total").forEach((k, v) -> {
      if (v != 0) {
        stats.fail(k + " = " + v.longValue() + " " + when);
      }
    });
    s.family("ferry_double_free_detected_total").forEach((k, v) -> {
      if (v != 0) {
        stats.fail(k + " = " + v.longValue() + " " + when);
      }
    });
    if (s.family("ferry_leaks_detected_total").size() < 3 || s.family("ferry_double_free_detected_total").size() < 2) {
      stats.fail("alarm counters missing from /metrics " + when);
    }
  }

  private void checkAccessLog(FerryChild child, long opened, long bytesUp, long bytesDown,
                              Map<String, Object> figures) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (child.accessLines() < opened && System.nanoTime() < deadline) {
      SoakClient.sleep(100);
    }
    long lines = child.accessLines();
    figures.put("access-log lines", lines + " (" + child.distinctIds() + " distinct ids)");
    if (lines != opened) {
      stats.fail("access-log lines " + lines + " != ferry_connections_opened_total " + opened);
    }
    if (child.distinctIds() != lines || !child.duplicateIds().isEmpty()) {
      stats.fail("access-log ids not unique: " + child.distinctIds() + " distinct of " + lines + " lines; duplicates "
        + child.duplicateIds().stream().limit(20).toList());
    }
    if (child.bytesUpstream() != bytesUp || child.bytesDownstream() != bytesDown) {
      stats.fail("access-log bytes (upstream " + child.bytesUpstream() + ", downstream " + child.bytesDownstream()
        + ") != ferry_bytes_total (upstream " + bytesUp + ", downstream " + bytesDown + ")");
    }
    if (!child.strayStdout().isEmpty()) {
      stats.fail("stdout lines that are not access-log JSON: " + child.strayStdout().stream().limit(5).toList());
    }
  }

  /** Adds the access-log lines of the failed streams' client ports to the failures, to explain them. */
  private void checkFailedStreams(FerryChild child, StreamLedger.Verdict verdict) {
    for (int port : verdict.failedClientPorts().stream().distinct().limit(20).toList()) {
      stats.fail("  access-log lines for client port " + port + ": " + child.linesForClientPort(port));
    }
  }

  private static Map<String, Long> closeReasons(Scrape s) {
    Map<String, Long> out = new LinkedHashMap<>();
    s.family("ferry_connections_closed_total").forEach((k, v) -> out.put(k, v.longValue()));
    return out;
  }

  private void adminKill(HttpClient http, int adminPort, SplittableRandom chaos) {
    try {
      HttpResponse<String> r = Scrape.call(http, adminPort, "GET", "/connections?limit=1000");
      if (r.statusCode() != 200) {
        stats.fail("GET /connections answered " + r.statusCode() + ": " + r.body());
        return;
      }
      JsonArray list = new JsonObject(r.body()).getJsonArray("connections");
      List<Long> candidates = new ArrayList<>();
      for (Object o : list) {
        JsonObject c = (JsonObject) o;
        String client = c.getString("client", "");
        int port = Integer.parseInt(client.substring(client.lastIndexOf(':') + 1));
        if (killable.contains(port) && "OPEN".equals(c.getString("state")) && c.getLong("age_ms", 0L) > 300) {
          candidates.add(c.getLong("id"));
        }
      }
      if (candidates.isEmpty()) {
        return;
      }
      long id = candidates.get(chaos.nextInt(candidates.size()));
      HttpResponse<String> k = Scrape.call(http, adminPort, "DELETE", "/connections/" + id);
      switch (k.statusCode()) {
        case 202 -> stats.inc("admin_kills");
        case 404, 409 -> stats.inc("admin_kills_raced");
        default -> stats.fail("DELETE /connections/" + id + " answered " + k.statusCode() + ": " + k.body());
      }
    } catch (IOException | RuntimeException e) {
      log.warn("conn=- admin chaos: {}", e.toString());
      stats.inc("admin_call_errors");
    }
  }

  private void progress(HttpClient http, int adminPort, long[] maxOpen) {
    try {
      Scrape s = Scrape.of(http, adminPort);
      maxOpen[0] = Math.max(maxOpen[0], s.count("ferry_connections_open"));
      log.info("conn=- soak progress: {} client runs, opened {}, {}, leaks {}, double frees detected {}, heap {} MiB, "
          + "direct {} MiB", runs.get(), (long) s.sum("ferry_connections_opened_total"), s.gauges(),
        (long) s.sum("ferry_leaks_detected_total"), (long) s.sum("ferry_double_free_detected_total"),
        s.heapUsed() / MIB, s.directUsed() / MIB);
    } catch (IOException | RuntimeException e) {
      log.warn("conn=- soak progress scrape failed: {}", e.toString());
    }
  }

  // ---- Ferry's command and configuration -----------------------------------------------------------------------

  private List<String> ferryCommand(Path work, List<String> upstreams) throws IOException {
    Path config = work.resolve("ferry-soak.yaml");
    StringBuilder y = new StringBuilder()
      .append("admin:\n  host: 127.0.0.1\n  port: 0\n  token: ").append(Scrape.ADMIN_TOKEN).append("\n")
      .append("instances: 2\n")
      .append("registry:\n  shards: 2\n  release-timeout: 10s\n  watchdog-interval: 500ms\n")
      .append("idle-timeout: 2s\n")
      .append("connect:\n  timeout: 1s\n  attempts: 2\n")
      .append("close:\n  flush-timeout: 5s\n")
      .append("shutdown:\n  drain-timeout: 2s\n")
      // Both routes check their upstreams (HAProxy's check): the refusing one goes down, the dying one flaps.
      .append("health:\n  active: {enabled: true, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}\n")
      .append("routes:\n");
    for (String route : new String[] {"plain", "proxied"}) {
      y.append("  - name: ").append(route).append("\n    listen: {host: 127.0.0.1, port: 0}\n");
      if (route.equals("proxied")) {
        y.append("    proxy-protocol: {accept: v1, header-timeout: 2s}\n    balance: source-hash\n");
      }
      y.append("    upstreams:\n");
      for (String u : upstreams) {
        y.append("      - \"").append(u).append("\"\n");
      }
    }
    Files.writeString(config, y.toString());
    // The test classpath carries logback-test.xml; Ferry runs with its production layout instead: the access log
    // alone on stdout, diagnostics (Netty's LEAK: reports included) on stderr.
    Path logback = work.resolve("logback-soak.xml");
    Files.writeString(logback, """
      <configuration>
        <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
          <target>System.err</target>
          <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{0} - %msg%n</pattern></encoder>
        </appender>
        <appender name="ACCESS" class="ch.qos.logback.core.ConsoleAppender">
          <target>System.out</target>
          <encoder><pattern>%msg%n</pattern></encoder>
        </appender>
        <logger name="ferry.access" level="INFO" additivity="false"><appender-ref ref="ACCESS"/></logger>
        <logger name="io.netty" level="WARN"/>
        <logger name="io.vertx" level="INFO"/>
        <root level="INFO"><appender-ref ref="STDERR"/></root>
      </configuration>
      """);
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx256m");
    cmd.add("-XX:MaxDirectMemorySize=256m");
    cmd.add("-Dio.netty.leakDetection.level=paranoid");
    cmd.add("-Dlogback.configurationFile=" + logback);
    if (o.measurableDirectMemory) {
      cmd.add("-Dio.netty.maxDirectMemory=0");
    }
    cmd.addAll(o.extraJvmArgs);
    if (o.ferryJar != null) {
      cmd.add("-jar");
      cmd.add(o.ferryJar.toString());
    } else {
      cmd.add("-cp");
      cmd.add(o.ferryClasspath);
      cmd.add("dev.ferry.Main");
    }
    cmd.add("--config");
    cmd.add(config.toString());
    log.info("conn=- Ferry config {}:\n{}", config, y);
    return cmd;
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  // ---- command line -------------------------------------------------------------------------------------------

  private static final String USAGE = "usage: SoakDriver [--duration 10m] [--concurrency 32] [--seed N] "
    + "[--ferry-jar target/ferry.jar | --ferry-classpath CP] [--jvm-arg ARG]... [--work-dir DIR] "
    + "[--external PROXY_PORT,ADMIN_PORT,B0,B1,B2,B3]";

  /** The long soak; see {@code bench/soak.sh}. Exit status 0 when every check held, 1 otherwise, 2 on bad usage. */
  public static void main(String[] args) throws Exception {
    Options o = new Options();
    try {
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        String v = i + 1 < args.length ? args[i + 1] : null;
        switch (a) {
          case "--duration" -> o.duration(parseDuration(v));
          case "--concurrency" -> o.concurrency(Integer.parseInt(v));
          case "--seed" -> o.seed(Long.parseLong(v));
          case "--ferry-jar" -> o.ferryJar(Path.of(v));
          case "--ferry-classpath" -> o.ferryClasspath(v);
          case "--jvm-arg" -> o.jvmArg(v);
          case "--work-dir" -> o.workDir(Path.of(v));
          case "--warmup" -> o.warmupConnections(Integer.parseInt(v));
          case "--external" -> {
            String[] p = v.split(",");
            int[] backends = new int[p.length - 2];
            for (int k = 2; k < p.length; k++) {
              backends[k - 2] = Integer.parseInt(p[k].trim());
            }
            o.external(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()), backends);
          }
          default -> throw new IllegalArgumentException("unknown argument " + a);
        }
        i++;
      }
      if (o.concurrency < 1 || o.duration.isNegative() || o.duration.isZero()) {
        throw new IllegalArgumentException("duration and concurrency must be positive");
      }
    } catch (RuntimeException e) {
      log.error("soak: {}; {}", e.getMessage(), USAGE);
      System.exit(2);
    }
    Result r = new SoakDriver(o).run();
    System.exit(r.passed() ? 0 : 1);
  }

  static Duration parseDuration(String v) {
    String s = v.trim().toLowerCase(Locale.ROOT);
    if (s.endsWith("ms")) {
      return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
    } else if (s.endsWith("s")) {
      return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
    } else if (s.endsWith("m")) {
      return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
    } else if (s.endsWith("h")) {
      return Duration.ofHours(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    return Duration.ofSeconds(Long.parseLong(s));
  }
}
