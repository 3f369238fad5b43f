package dev.ferry.metrics;

/**
 * Every Ferry meter name, in Micrometer's dotted form. The Prometheus names (in comments) are what operators,
 * alerts and dashboards use; Micrometer derives them (dots to underscores, {@code _total} for counters,
 * {@code _seconds} for timers).
 */
public final class MetricNames {

  /** {@code ferry_connections_opened_total}: clients accepted. */
  public static final String CONNECTIONS_OPENED = "ferry.connections.opened";
  /** {@code ferry_connections_closed_total{reason,side}}: connections released, by winning reason. */
  public static final String CONNECTIONS_CLOSED = "ferry.connections.closed";
  /** {@code ferry_connections_open}: accepted and not yet released (OPEN or CLOSING). */
  public static final String CONNECTIONS_OPEN = "ferry.connections.open";
  /** {@code ferry_connections_closing}: a release was ordered and not yet acknowledged. */
  public static final String CONNECTIONS_CLOSING = "ferry.connections.closing";
  /** {@code ferry_double_free_prevented_total{reason}}: close requests suppressed because one already won. */
  public static final String DOUBLE_FREE_PREVENTED = "ferry.double.free.prevented";
  /** {@code ferry_double_free_detected_total{kind}}: a release ran twice or a buffer was released twice. Must stay 0. */
  public static final String DOUBLE_FREE_DETECTED = "ferry.double.free.detected";
  /** {@code ferry_leaks_detected_total{kind}}: a release never acknowledged, a buffer never released. Must stay 0. */
  public static final String LEAKS_DETECTED = "ferry.leaks.detected";
  /** {@code ferry_buffers_held}: pooled buffers Ferry's own code holds outside Netty right now. */
  public static final String BUFFERS_HELD = "ferry.buffers.held";
  /** {@code ferry_buffer_bytes_held}: readable bytes of those buffers. */
  public static final String BUFFER_BYTES_HELD = "ferry.buffer.bytes.held";
  /** {@code ferry_buffer_bytes_queued}: bytes handed to a socket's write queue and not yet written to the kernel. */
  public static final String BUFFER_BYTES_QUEUED = "ferry.buffer.bytes.queued";
  /** {@code ferry_bytes_total{direction}}: bytes relayed; {@code upstream} is client to upstream. */
  public static final String BYTES = "ferry.bytes";
  /** {@code ferry_splice_started_total{direction}}: directions switched to splice(2) (option {@code splice}). */
  public static final String SPLICE_STARTED = "ferry.splice.started";
  /** {@code ferry_connection_duration_seconds}: accept to release. */
  public static final String CONNECTION_DURATION = "ferry.connection.duration";
  /** {@code ferry_upstream_connect_seconds{outcome}}: one upstream connect attempt. */
  public static final String UPSTREAM_CONNECT = "ferry.upstream.connect";

  // Upstream pools (dev.ferry.upstream), labelled only by configured names: route and upstream ("host:port").
  /** {@code ferry_upstream_up{route,upstream}}: 1 while the upstream is eligible for new clients (ready, healthy). */
  public static final String UPSTREAM_UP = "ferry.upstream.up";
  /** {@code ferry_upstream_draining{route,upstream}}: 1 while an operator drains the upstream (no new clients). */
  public static final String UPSTREAM_DRAINING = "ferry.upstream.draining";
  /** {@code ferry_upstream_active_connections{route,upstream}}: clients assigned to the upstream and not yet done. */
  public static final String UPSTREAM_ACTIVE_CONNECTIONS = "ferry.upstream.active.connections";
  /**
   * {@code ferry_upstream_connect_total{route,upstream,outcome}}: connect attempts by upstream. A counter under the
   * same base name as the {@link #UPSTREAM_CONNECT} timer: Prometheus sees two families,
   * {@code ferry_upstream_connect_seconds} and {@code ferry_upstream_connect_total}.
   */
  public static final String UPSTREAM_CONNECTS = "ferry.upstream.connect";
  /** {@code ferry_upstream_ejections_total{route,upstream}}: passive-health ejections. */
  public static final String UPSTREAM_EJECTIONS = "ferry.upstream.ejections";
  /** {@code ferry_health_checks_total{route,upstream,result}}: active health checks by result (when enabled). */
  public static final String HEALTH_CHECKS = "ferry.health.checks";
  /** {@code ferry_route_panic{route}}: 1 while the route's pool is in panic (health ignored). */
  public static final String ROUTE_PANIC = "ferry.route.panic";
  /** {@code ferry_route_panic_entries_total{route}}: times the pool entered panic. */
  public static final String ROUTE_PANIC_ENTRIES = "ferry.route.panic.entries";

  /**
   * {@code ferry_accept_errors_total{cause}}: failed accepts on the listening sockets ({@code too_many_open_files}:
   * out of descriptors; {@code other}).
   */
  public static final String ACCEPT_ERRORS = "ferry.accept.errors";

  // The admin port's own connections.
  /**
   * {@code ferry_admin_connections_closed_total{cause}}: admin connections Ferry closed itself: over
   * {@code admin.max-connections}, no whole request within {@code admin.request-timeout}, or idle past
   * {@code admin.idle-timeout}.
   */
  public static final String ADMIN_CONNECTIONS_CLOSED = "ferry.admin.connections.closed";

  // What comes before the bytes (dev.ferry.proxy's preamble): PROXY protocol headers, ClientHellos, TLS.
  /**
   * {@code ferry_protocol_errors_total{route,cause}}: PROXY protocol headers or passthrough ClientHellos that ended
   * their connection ({@code PROTOCOL_ERROR}), by cause.
   */
  public static final String PROTOCOL_ERRORS = "ferry.protocol.errors";
  /** {@code ferry_tls_errors_total{route,side,cause}}: TLS failures that ended their connection ({@code TLS_ERROR}). */
  public static final String TLS_ERRORS = "ferry.tls.errors";
  /** {@code ferry_tls_certificate_expiry_seconds{route}}: the end of validity of the route's certificate, Unix time. */
  public static final String TLS_CERTIFICATE_EXPIRY = "ferry.tls.certificate.expiry";
  /** {@code ferry_tls_certificate_reloads_total{route,outcome}}: changed certificate files loaded, or refused. */
  public static final String TLS_CERTIFICATE_RELOADS = "ferry.tls.certificate.reloads";

  public static final String TAG_REASON = "reason";
  public static final String TAG_SIDE = "side";
  public static final String TAG_KIND = "kind";
  public static final String TAG_DIRECTION = "direction";
  public static final String TAG_OUTCOME = "outcome";
  public static final String TAG_ROUTE = "route";
  public static final String TAG_UPSTREAM = "upstream";
  public static final String TAG_RESULT = "result";
  public static final String TAG_CAUSE = "cause";

  private MetricNames() {
  }
}
