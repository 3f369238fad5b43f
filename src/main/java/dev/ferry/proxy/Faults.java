package dev.ferry.proxy;

import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;

/**
 * Where a fault is noticed on the data path ({@link Relay}). The implementation ({@link ProxyConnection}) only
 * publishes a close request to the registry, or drops the event when the release already began (it is then the
 * release's own consequence). It never closes a channel, releases a buffer or touches a relay: only the release that
 * the registry orders does.
 */
interface Faults {

  /** An exception surfaced in {@code side}'s pipeline: a read error, typically a reset. */
  void readFailed(Side side, Throwable cause);

  /** A write (or the FIN after the last one) to {@code sink} failed in Netty, which released the buffer. */
  void writeFailed(Side sink, Throwable cause);

  /** More than {@code buffer.hard-limit} bytes wait for {@code sink}. */
  void overflow(Side sink, long queuedBytes);

  /** {@code side}'s channel closed before the release began (after a fault, which is normally reported first). */
  void closed(Side side);

  /** A PROXY protocol header or a ClientHello was late, malformed, truncated, too large, or named no route. */
  void protocolError(ProtocolErrorCause cause, String detail);

  /** TLS failed on {@code side}: a handshake, an alert, a record. */
  void tlsError(Side side, TlsErrorCause cause, String detail);
}
