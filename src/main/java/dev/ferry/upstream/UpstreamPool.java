package dev.ferry.upstream;

import dev.ferry.config.BalanceAlgorithm;
import dev.ferry.config.PoolOptions;
import dev.ferry.config.WeightedUpstream;
import dev.ferry.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The upstreams of one route: which one a new client goes to, and what the pool learned about each.
 * <pre>
 *   choose(client, tried) ─► usable = panic ? non-draining : eligible     (eligible = ready ∧ up ∧ ¬ejected)
 *                            candidates = usable − tried, or usable when every one was tried
 *                            balancer(candidates, hash(client)) ─► upstream, added to tried
 *   caller: opened(u) ─► connect ─► connectSucceeded(u) | connectFailed(u, cause) ─► ... ─► closed(u)
 * </pre>
 * <b>Panic</b> (Envoy's): when fewer than {@code panic-threshold} % of the non-draining upstreams are healthy,
 * health is ignored and clients spread over every non-draining upstream: a check that misfires, or a network blip
 * that ejects everything, degrades to "try them all" instead of refusing every client. Each entry is counted
 * ({@code ferry_route_panic_entries_total}) and logged once, as is the exit.
 * <p>
 * {@link #choose} returns null only when no upstream may be used: every one drained, or none healthy with
 * {@code panic-threshold: 0}. The caller then ends the client as a failed connect.
 * <p>
 * Threading: one pool serves every listener event loop. {@code choose} takes no lock: it reads the current
 * {@link Members} (one volatile read), each upstream's published health (volatile reads) and runs a balancer that
 * belongs to the calling thread (a {@link ThreadLocal} lookup; nginx likewise keeps round-robin state per worker),
 * O(N) with N ≤ 64. Health events lock their one upstream briefly ({@link Upstream}); a success on an upstream
 * that has not failed takes no lock at all. Panic transitions are a compare-and-set. Admin operations and
 * {@link #replace} are serialised by the pool's monitor; they are rare and never on the connect path.
 */
public final class UpstreamPool implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);

  /** A thread's own balancing state; rebuilt when the members change, its generator and ordinal kept. */
  private static final class PerThread {
    final int ordinal;
    final SplittableRandom random;
    Balancer balancer;

    PerThread(int ordinal, SplittableRandom random) {
      this.ordinal = ordinal;
      this.random = random;
    }
  }

  private final String route;
  private final MeterRegistry registry;
  private final Ticker ticker;
  private final SplittableRandom seeds;
  private final AtomicInteger threads = new AtomicInteger();
  private final ThreadLocal<PerThread> perThread = new ThreadLocal<>();
  private final AtomicBoolean panic = new AtomicBoolean();
  private final Counter panicEntries;
  private final Gauge panicGauge;
  private volatile Members members;
  private volatile PoolOptions options;
  private boolean closed;

  /** A pool on the system clocks with a random seed. */
  public UpstreamPool(String route, PoolOptions options, MeterRegistry registry) {
    this(route, options, registry, Ticker.SYSTEM, ThreadLocalRandom.current().nextLong());
  }

  /**
   * @param route    the route's configured name: the {@code route} label and the log lines' subject
   * @param options  at least one upstream (the caller substitutes the embedded echo for an empty list)
   * @param registry where the pool's meters go; every series is registered here, at 0
   * @param ticker   the clocks
   * @param seed     seeds every thread's random generator (random-two): a fixed seed makes a test repeatable
   */
  public UpstreamPool(String route, PoolOptions options, MeterRegistry registry, Ticker ticker, long seed) {
    this.route = Objects.requireNonNull(route, "route");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    this.seeds = new SplittableRandom(seed);
    requireUpstreams(options);
    this.panicEntries = Counter.builder(MetricNames.ROUTE_PANIC_ENTRIES)
      .description("Times the route's pool entered panic").tag(MetricNames.TAG_ROUTE, route).register(registry);
    replace(options);
    this.panicGauge = Gauge.builder(MetricNames.ROUTE_PANIC, this, p -> p.inPanic() ? 1 : 0)
      .description("1 while the route's pool is in panic: too few healthy upstreams, health ignored")
      .tag(MetricNames.TAG_ROUTE, route).strongReference(true).register(registry);
  }

  public String route() {
    return route;
  }

  public PoolOptions options() {
    return options;
  }

  /** The current upstreams, in configured order. */
  public List<Upstream> upstreams() {
    return members.list();
  }

  /** The current upstream with this label, or null. */
  public Upstream upstream(String label) {
    return members.byLabel(label);
  }

  // ---- choosing ---------------------------------------------------------------------------------------------

  /**
   * The upstream for a client's next connect attempt, added to {@code tried}: one not tried yet while a usable one
   * remains, then the usable ones again. Call {@link #opened} before connecting.
   *
   * @param clientIp the client's address as text (source-hash hashes it); never becomes a label
   * @return the upstream, or null when none may be used (all drained, or none healthy and panic disabled)
   */
  public Upstream choose(String clientIp, Tried tried) {
    Members m = members;
    long nonDraining = nonDraining(m);
    long healthy = healthy(m, nonDraining, ticker.nanos());
    long usable = notePanic(healthy, nonDraining) ? nonDraining : healthy;
    if (usable == 0) {
      return null;
    }
    long candidates = usable & ~tried.slots();
    if (candidates == 0) {
      candidates = usable;
    }
    long key = m.algorithm == BalanceAlgorithm.SOURCE_HASH ? SourceHash.of(clientIp) : 0;
    int slot = balancer(m).pick(candidates, key);
    tried.add(slot);
    return m.bySlot[slot];
  }

  private Balancer balancer(Members m) {
    PerThread t = perThread.get();
    if (t == null) {
      SplittableRandom random;
      synchronized (seeds) {
        random = seeds.split();
      }
      t = new PerThread(threads.getAndIncrement(), random);
      perThread.set(t);
    }
    if (t.balancer == null || t.balancer.members() != m) {
      t.balancer = Balancer.create(m, t.random, t.ordinal);
    }
    return t.balancer;
  }

  private static long nonDraining(Members m) {
    long set = 0;
    for (long bits = m.present; bits != 0; bits &= bits - 1) {
      int s = Long.numberOfTrailingZeros(bits);
      set |= m.bySlot[s].draining() ? 0 : 1L << s;
    }
    return set;
  }

  private static long healthy(Members m, long among, long now) {
    long set = 0;
    for (long bits = among; bits != 0; bits &= bits - 1) {
      int s = Long.numberOfTrailingZeros(bits);
      set |= m.bySlot[s].healthy(now) ? 1L << s : 0;
    }
    return set;
  }

  /** Whether the pool is in panic by these sets; counts and logs each entry and exit once. */
  private boolean notePanic(long healthy, long nonDraining) {
    int h = Long.bitCount(healthy);
    int n = Long.bitCount(nonDraining);
    boolean now = n > 0 && h * 100 < options.panicThresholdPercent() * n;
    if (now != panic.get() && panic.compareAndSet(!now, now)) {
      if (now) {
        panicEntries.increment();
        log.warn("conn=- route {}: panic: {} of {} non-draining upstreams healthy, below panic-threshold {}%; "
          + "spreading clients over all of them, health ignored", route, h, n, options.panicThresholdPercent());
      } else {
        log.info("conn=- route {}: panic over: {} of {} non-draining upstreams healthy", route, h, n);
      }
    }
    return now;
  }

  /** Whether the pool is in panic now (re-evaluated, so it is current without traffic; entries are counted). */
  public boolean inPanic() {
    Members m = members;
    long nonDraining = nonDraining(m);
    return notePanic(healthy(m, nonDraining, ticker.nanos()), nonDraining);
  }

  public long panicEntries() {
    return (long) panicEntries.count();
  }

  // ---- what the caller reports ------------------------------------------------------------------------------

  /** A client was assigned to {@code u}: call it right after {@link #choose}, before connecting. */
  public void opened(Upstream u) {
    u.opened();
  }

  /**
   * The client is done with {@code u}: its connect failed, or its connection was released. Exactly once per
   * {@link #opened}; harmless on an upstream a reload removed.
   */
  public void closed(Upstream u) {
    if (!u.closed()) {
      log.warn("conn=- route {}: upstream {} closed more often than opened; the count stays at 0", route, u);
    }
  }

  /** A connect to {@code u} succeeded: resets its failure run and ends an ejection (passive health). */
  public void connectSucceeded(Upstream u) {
    UpstreamMeters meters = u.meters;
    if (meters != null) {
      meters.connect(true);
    }
    if (u.connectSucceeded(ticker.nanos())) {
      log.info("conn=- route {}: upstream {} back from ejection: a connect succeeded", route, u);
      inPanic();
    }
  }

  /**
   * A connect to {@code u} failed through the upstream's fault: refused, timed out, unreachable, unresolved. Not
   * for a connect the caller cancelled (its client went away).
   */
  public void connectFailed(Upstream u, Throwable cause) {
    UpstreamMeters meters = u.meters;
    if (meters != null) {
      meters.connect(false);
    }
    long now = ticker.nanos();
    if (u.connectFailed(now, Upstream.describe(cause))) {
      if (meters != null) {
        meters.ejected();
      }
      log.warn("conn=- route {}: upstream {} ejected for {} ms after {} consecutive connect failures "
          + "(ejection {} in a row): {}", route, u, Math.max(0, (u.ejectedUntil() - now) / 1_000_000),
        u.consecutiveFailures(), u.ejectionLevel(), u.lastFailure());
      inPanic();
    }
  }

  /** The result of an active check of {@code u} (from {@link HealthChecker}). */
  void checked(Upstream u, CheckResult result, String detail) {
    UpstreamMeters meters = u.meters;
    if (meters != null) {
      meters.checked(result);
    }
    int change = u.checked(ticker.nanos(), new Upstream.LastCheck(ticker.epochMillis(), result, detail));
    if (change > 0) {
      log.info("conn=- route {}: upstream {} is UP: passed {} check(s) in a row", route, u,
        options.active().rise());
    } else if (change < 0) {
      log.warn("conn=- route {}: upstream {} is DOWN: check {}: {}", route, u, result.label(), detail);
    }
    if (change != 0) {
      inPanic();
    }
  }

  // ---- admin ------------------------------------------------------------------------------------------------

  /**
   * Sends the upstream no new clients; its open connections continue (HAProxy's {@code set server state drain}).
   *
   * @return false if no upstream of this pool has that label
   */
  public synchronized boolean drain(String label) {
    Upstream u = upstream(label);
    if (u == null) {
      return false;
    }
    if (u.drain(ticker.nanos())) {
      log.info("conn=- route {}: upstream {} draining: no new clients, {} open connections continue", route, u,
        u.activeConnections());
      inPanic();
    }
    return true;
  }

  /** Ends a drain. @return false if no upstream of this pool has that label */
  public synchronized boolean ready(String label) {
    Upstream u = upstream(label);
    if (u == null) {
      return false;
    }
    if (u.ready(ticker.nanos())) {
      log.info("conn=- route {}: upstream {} ready: takes new clients again", route, u);
      inPanic();
    }
    return true;
  }

  /**
   * Applies a reload: an upstream that stays (same {@code host:port}) keeps its health, counts, slot and meters and
   * takes its new weight; a new one starts fresh (up, not ejected, ready); a removed one leaves, with its meters,
   * and the connections still using it may call {@link #closed} on it without harm. New options (balance, health,
   * panic threshold) apply to every upstream at once.
   *
   * @throws IllegalArgumentException when {@code next} has no upstream (the caller substitutes the echo)
   */
  public synchronized void replace(PoolOptions next) {
    if (closed) {
      throw new IllegalStateException("route " + route + ": pool closed");
    }
    requireUpstreams(next);
    long now = ticker.nanos();
    Members old = members;
    Map<String, Upstream> current = new HashMap<>();
    if (old != null) {
      old.list().forEach(u -> current.put(u.label(), u));
    }
    long used = 0;
    for (WeightedUpstream w : next.upstreams()) {
      Upstream kept = current.get(w.label());
      if (kept != null) {
        used |= 1L << kept.slot();
      }
    }
    List<Upstream> list = new ArrayList<>(next.upstreams().size());
    int[] weights = new int[next.upstreams().size()];
    int added = 0;
    for (int i = 0; i < weights.length; i++) {
      WeightedUpstream w = next.upstreams().get(i);
      Upstream u = current.remove(w.label());
      if (u == null) {
        int slot = Long.numberOfTrailingZeros(~used);
        used |= 1L << slot;
        u = new Upstream(w.address(), slot, next.passive(), next.active());
        u.meters = new UpstreamMeters(registry, route, u, ticker);
        added++;
      } else {
        u.options(next.passive(), next.active(), now);
      }
      list.add(u);
      weights[i] = w.weight();
    }
    for (Upstream gone : current.values()) {
      gone.meters.remove();
      gone.meters = null;
    }
    options = next;
    members = new Members(next.balance(), list, weights);
    if (old != null) {
      log.info("conn=- route {}: upstreams reloaded: {} kept, {} added, {} removed; balance {}", route,
        list.size() - added, added, current.size(), next.balance().configValue());
    }
    inPanic();
  }

  private void requireUpstreams(PoolOptions next) {
    if (next.upstreams().isEmpty()) {
      throw new IllegalArgumentException("route " + route + ": a pool needs at least one upstream");
    }
  }

  /** What {@code GET /routes} shows of this route. */
  public JsonObject describe() {
    return PoolDescription.of(this, members, ticker.nanos(), ticker.epochMillis());
  }

  /** Removes every meter of the pool (the route is gone). Choosing still works on the last members. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Upstream u : upstreams()) {
      if (u.meters != null) {
        u.meters.remove();
        u.meters = null;
      }
    }
    registry.remove(panicGauge);
    registry.remove(panicEntries);
  }
}
