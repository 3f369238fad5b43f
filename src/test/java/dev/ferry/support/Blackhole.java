package dev.ferry.support;

import dev.ferry.config.UpstreamAddress;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback listener that never answers a SYN: it never accepts and its accept queue is kept full, so Linux drops
 * further SYNs and a connect to it times out. The only loopback-safe way to produce a connect timeout.
 */
public final class Blackhole implements AutoCloseable {

  private final ServerSocket server;
  private final List<Socket> fillers = new ArrayList<>();

  public Blackhole() throws IOException {
    server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    // Backlog 1: the queue is full after two completed handshakes. Later connects hang, and are abandoned.
    for (int i = 0; i < 4; i++) {
      Socket s = new Socket();
      try {
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()), 300);
        fillers.add(s);
      } catch (IOException timedOut) {
        s.close();
      }
    }
    if (fillers.size() >= 4) {
      throw new IllegalStateException("accept queue did not fill up; a connect timeout cannot be produced");
    }
  }

  public UpstreamAddress address() {
    return new UpstreamAddress("127.0.0.1", server.getLocalPort());
  }

  @Override
  public void close() throws IOException {
    for (Socket s : fillers) {
      s.close();
    }
    server.close();
  }
}
