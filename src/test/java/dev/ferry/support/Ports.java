package dev.ferry.support;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** Port numbers for tests that must name a port before anything binds it. */
public final class Ports {

  private static final byte[] LOOPBACK = {127, 0, 0, 1};

  private Ports() {
  }

  /**
   * A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks an ephemeral port, which is bound and
   * closed again at once. Racy by nature: another process may take it before the caller uses it. Use it only where a
   * port number is needed up front (a child process, a config file, an address that must refuse connects); when the
   * code under test can bind port 0 and report the port, do that instead.
   */
  public static int freeLoopbackPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByAddress(LOOPBACK))) {
      return s.getLocalPort();
    }
  }
}
