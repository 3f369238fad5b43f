package dev.ferry.vocabulary;

/**
 * Why a connection's preamble (a PROXY protocol header, or the ClientHello of a TLS passthrough route) ended it with
 * {@link CloseReason#PROTOCOL_ERROR}: the {@code cause} label of {@code ferry_protocol_errors_total}.
 */
public enum ProtocolErrorCause {
  /** It did not arrive whole within {@code proxy-protocol.header-timeout} (or {@code tls.handshake-timeout}). */
  TIMEOUT,
  /** It is not a PROXY protocol header, or not a TLS ClientHello. */
  MALFORMED,
  /** The client ended (FIN) or closed before it was whole. */
  TRUNCATED,
  /** Larger than the decoder's bound (PROXY v1: 108 bytes; v2: 16 + 216 bytes of addresses + TLVs; a ClientHello). */
  TOO_LARGE,
  /** A PROXY protocol version the route does not take ({@code proxy-protocol.accept: v1} given v2, or the reverse). */
  WRONG_VERSION,
  /** The ClientHello's server name matches no route on the address, and the address has no default route. */
  NO_ROUTE;

  /** The Prometheus label value. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
