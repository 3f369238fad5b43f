package dev.ferry;

import dev.ferry.config.TransportMode;
import io.vertx.core.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which Netty transport Ferry runs on: the configured one where it works, otherwise a fallback that is logged loudly
 * (never assumed: the start-up log names the transport in use).
 * <ul>
 *   <li>{@code auto}, {@code epoll}: native epoll; NIO where epoll does not load ({@code epoll} then fails instead).</li>
 *   <li>{@code nio}: Java NIO.</li>
 * </ul>
 * Not io_uring: on Netty 4.2.10 (the Vert.x 5.0.8 BOM's) its reads misbehave when {@code autoRead} is switched off,
 * which Ferry's back-pressure does (netty#15510, fixed by netty#15541): 17 of 66 data-path tests failed on it,
 * connections ending on a FIN no peer sent. On Netty 4.2.18, which has the fix, it measured 1.7x epoll's connections
 * per core-second but still lost bytes and hung under back-pressure (branch {@code uring}; docs/benchmarks.md).
 *
 * @param actual    the transport in use: {@link TransportMode#EPOLL} or {@link TransportMode#NIO}
 * @param transport Vert.x's transport for it
 * @param fallback  why the configured transport is not the one in use, or null
 */
record TransportChoice(TransportMode actual, Transport transport, String fallback) {

  private static final Logger log = LoggerFactory.getLogger(TransportChoice.class);

  static TransportChoice of(TransportMode configured) {
    return switch (configured) {
      case NIO -> new TransportChoice(TransportMode.NIO, Transport.NIO, null);
      case EPOLL, AUTO -> epollOrNio();
    };
  }

  private static TransportChoice epollOrNio() {
    if (usable(Transport.EPOLL)) {
      return new TransportChoice(TransportMode.EPOLL, Transport.EPOLL, null);
    }
    return new TransportChoice(TransportMode.NIO, Transport.NIO, "native epoll unavailable (" + cause(Transport.EPOLL)
      + ")");
  }

  private static boolean usable(Transport t) {
    return t != null && t.available();
  }

  private static String cause(Transport t) {
    if (t == null) {
      return "its library is not on the class path";
    }
    Throwable c = t.unavailabilityCause();
    return c == null ? "unknown" : c.toString();
  }

  /** True when the configured transport is required and missing: {@code transport: epoll} on NIO. */
  boolean requiredButMissing(TransportMode configured) {
    return configured == TransportMode.EPOLL && actual != TransportMode.EPOLL;
  }

  /** Logs the transport in use, a fallback as a loud warning. */
  void log(TransportMode configured) {
    String name = actual == TransportMode.NIO ? "NIO" : "native " + actual.configValue();
    if (fallback == null) {
      log.info("conn=- transport: {}{}", name, configured == TransportMode.NIO ? " (configured)" : "");
    } else {
      log.warn("conn=- !!! transport: NIO fallback, {}; a paused NIO socket does not notice its peer closing, and "
        + "throughput is lower !!!", fallback);
    }
  }
}
