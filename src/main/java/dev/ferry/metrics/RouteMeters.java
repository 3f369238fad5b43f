package dev.ferry.metrics;

import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Outcome;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The per-connection meters of one route, each labelled {@code route} (a configured name). Every series exists at 0
 * from the route's start, every close reason with every side among them, so an alert's {@code increase()} sees the
 * first event and a dashboard never shows "no data". Thread-safe: the meters are Micrometer's.
 */
public final class RouteMeters {

  private static final Duration[] DURATION_BUCKETS = {
    Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofMillis(100),
    Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(10),
    Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofMinutes(15), Duration.ofHours(1)};
  private static final Duration[] CONNECT_BUCKETS = {
    Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofMillis(2),
    Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
    Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
    Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10)};

  private final String route;
  private final Counter opened;
  private final Map<CloseReason, Map<Side, Counter>> closed = new EnumMap<>(CloseReason.class);
  private final Map<Direction, Counter> bytes = new EnumMap<>(Direction.class);
  private final Map<Direction, Counter> spliceStarted = new EnumMap<>(Direction.class);
  private final Timer duration;
  private final Timer connectOk;
  private final Timer connectFailed;
  private final Map<ProtocolErrorCause, Counter> protocolErrors = new EnumMap<>(ProtocolErrorCause.class);
  /** By side ({@code client} or {@code upstream}: Ferry itself speaks no TLS of its own), then cause. */
  private final Map<Side, Map<TlsErrorCause, Counter>> tlsErrors = new EnumMap<>(Side.class);
  private final Map<Outcome, Counter> certificateReloads = new EnumMap<>(Outcome.class);
  /** The served certificate's notAfter in Unix seconds; 0 while the route terminates no TLS. */
  private final AtomicLong certificateExpiry = new AtomicLong();

  RouteMeters(MeterRegistry registry, String route) {
    this.route = route;
    this.opened = Counter.builder(MetricNames.CONNECTIONS_OPENED).description("Client connections accepted")
      .tag(MetricNames.TAG_ROUTE, route).register(registry);
    for (CloseReason reason : CloseReason.values()) {
      Map<Side, Counter> bySide = new EnumMap<>(Side.class);
      for (Side side : Side.values()) {
        bySide.put(side, Counter.builder(MetricNames.CONNECTIONS_CLOSED)
          .description("Connections released, by the reason that won")
          .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_REASON, reason.label(), MetricNames.TAG_SIDE, side.label())
          .register(registry));
      }
      closed.put(reason, bySide);
    }
    for (Direction d : Direction.values()) {
      bytes.put(d, Counter.builder(MetricNames.BYTES).description("Bytes relayed")
        .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_DIRECTION, d.label()).register(registry));
      spliceStarted.put(d, Counter.builder(MetricNames.SPLICE_STARTED)
        .description("Connection directions switched to splice(2)")
        .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_DIRECTION, d.label()).register(registry));
    }
    this.duration = Timer.builder(MetricNames.CONNECTION_DURATION)
      .description("Connection lifetime, accept to release").serviceLevelObjectives(DURATION_BUCKETS)
      .tag(MetricNames.TAG_ROUTE, route).register(registry);
    this.connectOk = connectTimer(registry, Outcome.SUCCESS);
    this.connectFailed = connectTimer(registry, Outcome.FAILURE);
    for (ProtocolErrorCause cause : ProtocolErrorCause.values()) {
      protocolErrors.put(cause, Counter.builder(MetricNames.PROTOCOL_ERRORS)
        .description("PROXY protocol headers or ClientHellos that ended their connection, by cause")
        .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_CAUSE, cause.label()).register(registry));
    }
    for (Side side : new Side[] {Side.CLIENT, Side.UPSTREAM}) {
      Map<TlsErrorCause, Counter> byCause = new EnumMap<>(TlsErrorCause.class);
      for (TlsErrorCause cause : TlsErrorCause.values()) {
        byCause.put(cause, Counter.builder(MetricNames.TLS_ERRORS)
          .description("TLS failures that ended their connection, by side and cause")
          .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_SIDE, side.label(), MetricNames.TAG_CAUSE, cause.label())
          .register(registry));
      }
      tlsErrors.put(side, byCause);
    }
    for (Outcome outcome : Outcome.values()) {
      certificateReloads.put(outcome, Counter.builder(MetricNames.TLS_CERTIFICATE_RELOADS)
        .description("Changed certificate files: loaded (success) or refused, the old certificate kept (failure)")
        .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_OUTCOME, outcome.label()).register(registry));
    }
    Gauge.builder(MetricNames.TLS_CERTIFICATE_EXPIRY, certificateExpiry, AtomicLong::get).baseUnit("seconds")
      .description("End of validity (notAfter) of the certificate the route serves, Unix time; 0 without TLS")
      .tag(MetricNames.TAG_ROUTE, route).register(registry);
  }

  private Timer connectTimer(MeterRegistry registry, Outcome outcome) {
    return Timer.builder(MetricNames.UPSTREAM_CONNECT).description("One upstream connect attempt")
      .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_OUTCOME, outcome.label()).serviceLevelObjectives(CONNECT_BUCKETS)
      .register(registry);
  }

  public String route() {
    return route;
  }

  void opened() {
    opened.increment();
  }

  void released(CloseReason reason, Side side, long durationNanos) {
    closed.get(reason).get(side).increment();
    duration.record(durationNanos, TimeUnit.NANOSECONDS);
  }

  public void bytes(Direction direction, long amount) {
    if (amount > 0) {
      bytes.get(direction).increment(amount);
    }
  }

  /** A direction of a connection switched to splice(2). */
  public void spliceStarted(Direction direction) {
    spliceStarted.get(direction).increment();
  }

  public void connectAttempt(boolean success, long nanos) {
    (success ? connectOk : connectFailed).record(nanos, TimeUnit.NANOSECONDS);
  }

  /** A PROXY protocol header or a ClientHello ended a connection. */
  public void protocolError(ProtocolErrorCause cause) {
    protocolErrors.get(cause).increment();
  }

  /** TLS ended a connection on {@code side} ({@code client} or {@code upstream}). */
  public void tlsError(Side side, TlsErrorCause cause) {
    Map<TlsErrorCause, Counter> byCause = tlsErrors.get(side);
    if (byCause == null) {
      throw new IllegalArgumentException("no TLS on side " + side);
    }
    byCause.get(cause).increment();
  }

  /** Changed certificate files were loaded ({@code success}) or refused ({@code failure}). */
  public void certificateReload(Outcome outcome) {
    certificateReloads.get(outcome).increment();
  }

  /** The certificate the route serves from now on ends its validity at {@code notAfterEpochSeconds}. */
  public void certificateExpiry(long notAfterEpochSeconds) {
    certificateExpiry.set(notAfterEpochSeconds);
  }

  public long protocolErrorsTotal(ProtocolErrorCause cause) {
    return (long) protocolErrors.get(cause).count();
  }

  public long tlsErrorsTotal(Side side, TlsErrorCause cause) {
    return (long) tlsErrors.get(side).get(cause).count();
  }

  public long certificateReloadsTotal(Outcome outcome) {
    return (long) certificateReloads.get(outcome).count();
  }

  long openedTotal() {
    return (long) opened.count();
  }

  long spliceStartedTotal(Direction direction) {
    return (long) spliceStarted.get(direction).count();
  }
}
