package dev.ferry.vocabulary;

/** Why the admin listener closed one of its own connections: the {@code cause} of {@code ferry_admin_connections_closed_total}. */
public enum AdminCloseCause {
  /** Over {@code admin.max-connections}: closed as soon as it was accepted. */
  MAX_CONNECTIONS,
  /** A request line and headers not whole within {@code admin.request-timeout} of the connect. */
  REQUEST_TIMEOUT,
  /** No next request within {@code admin.idle-timeout} of the previous answer (keep-alive). */
  IDLE_TIMEOUT;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
