package dev.ferry.proxy;

import dev.ferry.vocabulary.CloseReason;
import io.netty.channel.socket.ChannelOutputShutdownException;

import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLSession;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.channels.NotYetConnectedException;

/** How a connection's events read in close reasons, log details and its record: small pure functions. */
final class FaultText {

  private FaultText() {
  }

  /** The shorter of two quiet times, where -1 means "not spliced" (a spliced direction's count moves per chunk). */
  static long leastQuiet(long a, long b) {
    return a < 0 ? b : b < 0 ? a : Math.min(a, b);
  }

  /**
   * What a failed write reports: with {@code AUTO_CLOSE} off Netty shuts the sink's output down and fails the queued
   * writes with a {@link ChannelOutputShutdownException} whose cause is the socket's error; the error is the story.
   */
  static Throwable cause(Throwable t) {
    return t instanceof ChannelOutputShutdownException && t.getCause() != null ? t.getCause() : t;
  }

  static CloseReason classify(Throwable failure) {
    Throwable t = cause(failure);
    if (t instanceof NotYetConnectedException) {
      // shutdown(2) of an established socket answers ENOTCONN once its peer reset it: Ferry's FIN found it gone.
      return CloseReason.PEER_RESET;
    }
    String m = t.getMessage();
    if (m != null && (m.contains("Connection reset") || m.contains("Broken pipe")
      || m.contains("Transport endpoint is not connected"))) {
      return CloseReason.PEER_RESET;
    }
    return CloseReason.IO_ERROR;
  }

  static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  static String describe(Throwable failure) {
    Throwable t = cause(failure);
    if (t instanceof NotYetConnectedException) {
      return "not connected any more (reset), seen when sending Ferry's FIN";
    }
    if (t instanceof ConnectException || t.getMessage() == null) {
      return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }
    return t.getMessage();
  }

  /** The server name a TLS client asked for (SNI), or null. */
  static String serverName(SSLSession session) {
    if (session instanceof ExtendedSSLSession extended) {
      for (SNIServerName name : extended.getRequestedServerNames()) {
        if (name instanceof SNIHostName host) {
          return host.getAsciiName();
        }
      }
    }
    return null;
  }
}
