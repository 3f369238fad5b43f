package dev.ferry.vocabulary;

/**
 * Why a connection ended. The first close request for a connection decides its reason; it drives the
 * access-log line, the {@code reason} label of the close metrics and the registry record.
 */
public enum CloseReason {
  /**
   * The connection ended in order: both sides sent their FIN after their last byte, and everything was delivered
   * (with {@code close.half-close: false}, the first FIN ended it). The side is the one whose FIN came first.
   */
  PEER_CLOSED,
  /** The peer reset the connection (RST, ECONNRESET, EPIPE). */
  PEER_RESET,
  /** Any other I/O error reported by a socket. */
  IO_ERROR,
  /** A write to the socket failed after it was handed to Netty. */
  WRITE_FAILED,
  /** Every upstream connect attempt failed. */
  CONNECT_FAILED,
  /** The last upstream connect attempt timed out. */
  CONNECT_TIMEOUT,
  /** No byte moved in either direction for {@code idle-timeout}. */
  IDLE_TIMEOUT,
  /** One side had sent its FIN and no byte moved for {@code close.half-closed-timeout}. */
  HALF_CLOSED_TIMEOUT,
  /** A sink held more than {@code buffer.hard-limit} bytes not yet written. */
  OVERFLOW,
  /** An operator closed it through the admin API. */
  ADMIN_KILL,
  /** Ferry was shutting down and the drain timeout expired. */
  SHUTDOWN,
  /** Over {@code limits.max-connections} or {@code limits.max-connections-per-source}: closed at once. */
  LIMIT,
  /**
   * What must come before the client's bytes did not: a PROXY protocol header or a ClientHello was missing, malformed,
   * truncated, too large or late, or it named no route ({@link ProtocolErrorCause}). No upstream was dialled.
   */
  PROTOCOL_ERROR,
  /** A TLS handshake failed or timed out, or a TLS record or alert ended the connection ({@link TlsErrorCause}). */
  TLS_ERROR;

  /** The Prometheus label value. */
  public String label() {
    return name();
  }
}
