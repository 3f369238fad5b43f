package dev.ferry.metrics;

import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Ferry's own meters, created once per Ferry instance on its registry. Thread-safe: meters are Micrometer's;
 * the gauges read volatile state.
 * <p>
 * The alarm counters (leaks, detected double frees) exist from start at 0 for every kind, so an alert on their
 * increase works from the first scrape. Close and prevented-double-free counters appear with their first event, and
 * so do the splice counters (only where {@code splice} is enabled and a direction switched).
 */
public final class FerryMetrics {

  /** Pooled-buffer accounting of one listener, summed by the gauges. */
  public interface HeldBuffers {
    long buffersHeld();

    long bytesHeld();

    long bytesQueued();
  }

  private static final Duration[] DURATION_BUCKETS = {
    Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofMillis(100),
    Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(10),
    Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofMinutes(15), Duration.ofHours(1)};
  private static final Duration[] CONNECT_BUCKETS = {
    Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofMillis(2),
    Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
    Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
    Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10)};

  private final MeterRegistry registry;
  private final Counter opened;
  private final AtomicLong open = new AtomicLong();
  private final AtomicLong closing = new AtomicLong();
  private final Map<CloseReason, Map<Side, Counter>> closed = new EnumMap<>(CloseReason.class);
  private final Map<CloseReason, Counter> prevented = new EnumMap<>(CloseReason.class);
  private final Map<LeakKind, Counter> doubleFreeDetected = new EnumMap<>(LeakKind.class);
  private final Map<LeakKind, Counter> leaks = new EnumMap<>(LeakKind.class);
  private final Map<Direction, Counter> bytes = new EnumMap<>(Direction.class);
  private final Map<Direction, Counter> spliceStarted = new EnumMap<>(Direction.class);
  private final Timer duration;
  private final Timer connectOk;
  private final Timer connectFailed;
  private final List<HeldBuffers> ledgers = new CopyOnWriteArrayList<>();

  public FerryMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.opened = Counter.builder(MetricNames.CONNECTIONS_OPENED)
      .description("Client connections accepted").register(registry);
    Gauge.builder(MetricNames.CONNECTIONS_OPEN, open, AtomicLong::get)
      .description("Connections accepted and not yet released").register(registry);
    Gauge.builder(MetricNames.CONNECTIONS_CLOSING, closing, AtomicLong::get)
      .description("Connections whose release was ordered and not yet acknowledged").register(registry);
    for (LeakKind kind : new LeakKind[] {LeakKind.BUFFER, LeakKind.RELEASE}) {
      doubleFreeDetected.put(kind, Counter.builder(MetricNames.DOUBLE_FREE_DETECTED)
        .description("A release ran twice or a buffer was released twice; must stay 0")
        .tag(MetricNames.TAG_KIND, kind.label()).register(registry));
    }
    for (LeakKind kind : LeakKind.values()) {
      leaks.put(kind, Counter.builder(MetricNames.LEAKS_DETECTED)
        .description("Resources never released; must stay 0")
        .tag(MetricNames.TAG_KIND, kind.label()).register(registry));
    }
    for (Direction d : Direction.values()) {
      bytes.put(d, Counter.builder(MetricNames.BYTES).description("Bytes relayed")
        .tag(MetricNames.TAG_DIRECTION, d.label()).register(registry));
    }
    Gauge.builder(MetricNames.BUFFERS_HELD, this, m -> m.sum(HeldBuffers::buffersHeld))
      .description("Pooled buffers held by Ferry's own code outside Netty").register(registry);
    Gauge.builder(MetricNames.BUFFER_BYTES_HELD, this, m -> m.sum(HeldBuffers::bytesHeld))
      .description("Readable bytes of the pooled buffers held by Ferry's own code").register(registry);
    Gauge.builder(MetricNames.BUFFER_BYTES_QUEUED, this, m -> m.sum(HeldBuffers::bytesQueued))
      .description("Bytes handed to socket write queues and not yet written to the kernel").register(registry);
    this.duration = Timer.builder(MetricNames.CONNECTION_DURATION)
      .description("Connection lifetime, accept to release").serviceLevelObjectives(DURATION_BUCKETS)
      .register(registry);
    this.connectOk = connectTimer("success");
    this.connectFailed = connectTimer("failure");
  }

  private Timer connectTimer(String outcome) {
    return Timer.builder(MetricNames.UPSTREAM_CONNECT).description("One upstream connect attempt")
      .tag(MetricNames.TAG_OUTCOME, outcome).serviceLevelObjectives(CONNECT_BUCKETS).register(registry);
  }

  private double sum(ToLongFunction<HeldBuffers> f) {
    long total = 0;
    for (HeldBuffers ledger : ledgers) {
      total += f.applyAsLong(ledger);
    }
    return total;
  }

  public MeterRegistry registry() {
    return registry;
  }

  public void addLedger(HeldBuffers ledger) {
    ledgers.add(ledger);
  }

  public void removeLedger(HeldBuffers ledger) {
    ledgers.remove(ledger);
  }

  public void opened() {
    opened.increment();
    open.incrementAndGet();
  }

  public void closing() {
    closing.incrementAndGet();
  }

  public void released(CloseReason reason, Side side, long durationNanos) {
    // Counted before the gauges fall: whoever reads the open gauge at 0 finds the close already counted
    // (opened = closed + open must hold for a reader on another thread too).
    closedCounter(reason, side).increment();
    duration.record(durationNanos, TimeUnit.NANOSECONDS);
    closing.decrementAndGet();
    open.decrementAndGet();
  }

  private Counter closedCounter(CloseReason reason, Side side) {
    Map<Side, Counter> bySide;
    synchronized (closed) {
      bySide = closed.computeIfAbsent(reason, r -> new EnumMap<>(Side.class));
    }
    return lazyCounter(bySide, side, s -> Counter.builder(MetricNames.CONNECTIONS_CLOSED)
      .description("Connections released, by the reason that won")
      .tag(MetricNames.TAG_REASON, reason.label()).tag(MetricNames.TAG_SIDE, s.label()).register(registry));
  }

  public void doubleFreePrevented(CloseReason reason) {
    lazyCounter(prevented, reason, r -> Counter.builder(MetricNames.DOUBLE_FREE_PREVENTED)
      .description("Close requests suppressed because an earlier one already won")
      .tag(MetricNames.TAG_REASON, r.label()).register(registry)).increment();
  }

  /** Only {@link LeakKind#BUFFER} and {@link LeakKind#RELEASE} can be freed twice. */
  public void doubleFreeDetected(LeakKind kind) {
    Counter c = doubleFreeDetected.get(kind);
    if (c == null) {
      throw new IllegalArgumentException("no double free of kind " + kind);
    }
    c.increment();
  }

  public void leakDetected(LeakKind kind) {
    leaks.get(kind).increment();
  }

  public void bytes(Direction direction, long amount) {
    if (amount > 0) {
      bytes.get(direction).increment(amount);
    }
  }

  /** A direction of a connection switched to splice(2). */
  public void spliceStarted(Direction direction) {
    lazyCounter(spliceStarted, direction, d -> Counter.builder(MetricNames.SPLICE_STARTED)
      .description("Connection directions switched to splice(2)")
      .tag(MetricNames.TAG_DIRECTION, d.label()).register(registry)).increment();
  }

  /**
   * The counter for {@code key}, registered on first use: series that appear with their first event. The map is
   * its own lock (listeners and registry shards call from different event loops).
   */
  private static <K> Counter lazyCounter(Map<K, Counter> counters, K key, Function<K, Counter> register) {
    synchronized (counters) {
      return counters.computeIfAbsent(key, register);
    }
  }

  public long spliceStartedTotal(Direction direction) {
    synchronized (spliceStarted) {
      Counter c = spliceStarted.get(direction);
      return c == null ? 0 : (long) c.count();
    }
  }

  public void connectAttempt(boolean success, long nanos) {
    (success ? connectOk : connectFailed).record(nanos, TimeUnit.NANOSECONDS);
  }

  // Read side, for the admin API and tests.

  public long connectionsOpen() {
    return open.get();
  }

  public long connectionsClosing() {
    return closing.get();
  }

  public long buffersHeld() {
    return (long) sum(HeldBuffers::buffersHeld);
  }

  public long bytesHeld() {
    return (long) sum(HeldBuffers::bytesHeld);
  }

  public long bytesQueued() {
    return (long) sum(HeldBuffers::bytesQueued);
  }

  public long openedTotal() {
    return (long) opened.count();
  }

  public long closedTotal(CloseReason reason, Side side) {
    Counter c = registry.find(MetricNames.CONNECTIONS_CLOSED)
      .tag(MetricNames.TAG_REASON, reason.label()).tag(MetricNames.TAG_SIDE, side.label()).counter();
    return c == null ? 0 : (long) c.count();
  }

  public long closedTotal() {
    return (long) registry.find(MetricNames.CONNECTIONS_CLOSED).counters().stream()
      .mapToDouble(Counter::count).sum();
  }

  public long preventedTotal(CloseReason reason) {
    Counter c = registry.find(MetricNames.DOUBLE_FREE_PREVENTED).tag(MetricNames.TAG_REASON, reason.label()).counter();
    return c == null ? 0 : (long) c.count();
  }

  public long preventedTotal() {
    return (long) registry.find(MetricNames.DOUBLE_FREE_PREVENTED).counters().stream()
      .mapToDouble(Counter::count).sum();
  }

  public long doubleFreeDetectedTotal() {
    return (long) doubleFreeDetected.values().stream().mapToDouble(Counter::count).sum();
  }

  public long leaksTotal(LeakKind kind) {
    return (long) leaks.get(kind).count();
  }

  public long leaksTotal() {
    return (long) leaks.values().stream().mapToDouble(Counter::count).sum();
  }
}
