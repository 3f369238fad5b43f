package dev.ferry.proxy;

import javax.net.ssl.SSLSession;
import java.net.InetSocketAddress;

/**
 * What a connection's preamble ({@link PreambleHandler}) tells it, step by step, besides its {@link Faults}: a PROXY
 * protocol header, the route a ClientHello chose, an established TLS session, and the end of the preamble.
 */
interface PreambleEvents extends Faults {

  /** A PROXY protocol header named the client and the address it connected to; null, null: LOCAL (keep the peer). */
  void proxyHeader(InetSocketAddress client, InetSocketAddress destination);

  /**
   * The ClientHello of an address several routes share named {@code serverName} (or none), and {@code route} takes
   * it: from now on the connection is that route's. Installs the route's relay, which then receives the ClientHello's
   * bytes, untouched.
   */
  void routeChosen(ListenerVerticle.Served route, String serverName);

  /** The TLS handshake with the client completed. */
  void tlsEstablished(SSLSession session);

  /** Every step is done: the client's own bytes come next. */
  void preambleDone();
}
