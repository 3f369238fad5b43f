package dev.ferry.vocabulary;

/**
 * Why TLS ended a connection ({@link CloseReason#TLS_ERROR}): the {@code cause} label of
 * {@code ferry_tls_errors_total}.
 */
public enum TlsErrorCause {
  /** The handshake did not complete within {@code tls.handshake-timeout} (an upstream's: {@code connect.timeout}). */
  TIMEOUT,
  /** The peer's first bytes are not a TLS record (plain text on a TLS port). */
  NOT_TLS,
  /** The handshake failed: no protocol or cipher in common, a bad message, an alert from the peer during it. */
  HANDSHAKE,
  /** The upstream's certificate was not trusted ({@code upstream-tls.ca}) or not for its name. */
  CERTIFICATE,
  /** The peer ended (FIN) or closed during the handshake. */
  TRUNCATED,
  /** After the handshake, the peer sent a fatal alert. */
  ALERT,
  /** After the handshake, a record could not be read (bad MAC, bad length, a protocol violation). */
  RECORD;

  /** The Prometheus label value. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
