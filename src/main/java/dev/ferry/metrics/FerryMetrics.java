package dev.ferry.metrics;

import dev.ferry.vocabulary.AcceptErrorCause;
import dev.ferry.vocabulary.AdminCloseCause;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToLongFunction;

/**
 * Ferry's own meters, created once per Ferry instance on its registry. Thread-safe: meters are Micrometer's;
 * the gauges read volatile state.
 * <p>
 * Every series exists at 0 from start-up, every label value of it: the alarm counters (leaks, detected double frees)
 * for every kind, prevented double frees for every reason, and each route's meters ({@link RouteMeters}) once the
 * route starts. An alert's {@code increase()} then sees the first event, and a dashboard never shows "no data".
 */
public final class FerryMetrics {

  /** Pooled-buffer accounting of one listener, summed by the gauges. */
  public interface HeldBuffers {
    long buffersHeld();

    long bytesHeld();

    long bytesQueued();
  }

  private final MeterRegistry registry;
  private final AtomicLong open = new AtomicLong();
  private final AtomicLong closing = new AtomicLong();
  private final Map<CloseReason, Counter> prevented = new EnumMap<>(CloseReason.class);
  private final Map<LeakKind, Counter> doubleFreeDetected = new EnumMap<>(LeakKind.class);
  private final Map<LeakKind, Counter> leaks = new EnumMap<>(LeakKind.class);
  private final Map<AdminCloseCause, Counter> adminClosed = new EnumMap<>(AdminCloseCause.class);
  private final Map<AcceptErrorCause, Counter> acceptErrors = new EnumMap<>(AcceptErrorCause.class);
  private final Map<String, RouteMeters> routes = new ConcurrentHashMap<>();
  private final List<HeldBuffers> ledgers = new CopyOnWriteArrayList<>();

  public FerryMetrics(MeterRegistry registry) {
    this.registry = registry;
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
    for (CloseReason reason : CloseReason.values()) {
      prevented.put(reason, Counter.builder(MetricNames.DOUBLE_FREE_PREVENTED)
        .description("Close requests suppressed because an earlier one already won")
        .tag(MetricNames.TAG_REASON, reason.label()).register(registry));
    }
    for (AdminCloseCause cause : AdminCloseCause.values()) {
      adminClosed.put(cause, Counter.builder(MetricNames.ADMIN_CONNECTIONS_CLOSED)
        .description("Admin connections Ferry closed itself: over the cap, no whole request in time, idle")
        .tag(MetricNames.TAG_CAUSE, cause.label()).register(registry));
    }
    for (AcceptErrorCause cause : AcceptErrorCause.values()) {
      acceptErrors.put(cause, Counter.builder(MetricNames.ACCEPT_ERRORS)
        .description("Failed accepts on the listening sockets, by cause")
        .tag(MetricNames.TAG_CAUSE, cause.label()).register(registry));
    }
    Gauge.builder(MetricNames.BUFFERS_HELD, this, m -> m.sum(HeldBuffers::buffersHeld))
      .description("Pooled buffers held by Ferry's own code outside Netty").register(registry);
    Gauge.builder(MetricNames.BUFFER_BYTES_HELD, this, m -> m.sum(HeldBuffers::bytesHeld))
      .description("Readable bytes of the pooled buffers held by Ferry's own code").register(registry);
    Gauge.builder(MetricNames.BUFFER_BYTES_QUEUED, this, m -> m.sum(HeldBuffers::bytesQueued))
      .description("Bytes handed to socket write queues and not yet written to the kernel").register(registry);
  }

  /** The meters of {@code route}, every series created at 0 on the first call (at the route's start). */
  public RouteMeters route(String route) {
    return routes.computeIfAbsent(route, r -> new RouteMeters(registry, r));
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

  public void opened(String route) {
    route(route).opened();
    open.incrementAndGet();
  }

  /** A connection whose route is not final yet was accepted: open, and counted in a route once it is final. */
  public void accepted() {
    open.incrementAndGet();
  }

  /** The route of a connection counted by {@link #accepted()} is final. */
  public void routeOpened(String route) {
    route(route).opened();
  }

  public void closing() {
    closing.incrementAndGet();
  }

  public void released(String route, CloseReason reason, Side side, long durationNanos) {
    // Counted before the gauges fall: whoever reads the open gauge at 0 finds the close already counted
    // (opened = closed + open must hold for a reader on another thread too).
    route(route).released(reason, side, durationNanos);
    closing.decrementAndGet();
    open.decrementAndGet();
  }

  public void doubleFreePrevented(CloseReason reason) {
    prevented.get(reason).increment();
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

  public void acceptError(AcceptErrorCause cause) {
    acceptErrors.get(cause).increment();
  }

  public long acceptErrorsTotal(AcceptErrorCause cause) {
    return (long) acceptErrors.get(cause).count();
  }

  public void adminConnectionClosed(AdminCloseCause cause) {
    adminClosed.get(cause).increment();
  }

  public long adminConnectionsClosedTotal(AdminCloseCause cause) {
    return (long) adminClosed.get(cause).count();
  }

  public long spliceStartedTotal(Direction direction) {
    return routes.values().stream().mapToLong(r -> r.spliceStartedTotal(direction)).sum();
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
    return routes.values().stream().mapToLong(RouteMeters::openedTotal).sum();
  }

  public long closedTotal(CloseReason reason, Side side) {
    return (long) registry.find(MetricNames.CONNECTIONS_CLOSED)
      .tag(MetricNames.TAG_REASON, reason.label()).tag(MetricNames.TAG_SIDE, side.label()).counters().stream()
      .mapToDouble(Counter::count).sum();
  }

  public long closedTotal() {
    return (long) registry.find(MetricNames.CONNECTIONS_CLOSED).counters().stream()
      .mapToDouble(Counter::count).sum();
  }

  public long preventedTotal(CloseReason reason) {
    return (long) prevented.get(reason).count();
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
