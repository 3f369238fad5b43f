package dev.ferry.support;

import dev.ferry.config.UpstreamAddress;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A scripted upstream on 127.0.0.1 with an ephemeral port: every accepted connection becomes a {@link Peer} handed
 * to the behaviour on its own thread. The test keeps the peers to act on them or to observe that Ferry closed them.
 */
public final class Backend implements AutoCloseable {

  /** What the backend does with each accepted connection (runs on its own thread). */
  @FunctionalInterface
  public interface Behaviour {
    void serve(Peer peer) throws IOException;
  }

  public static final Behaviour HOLD = peer -> { };

  /**
   * Serves as {@code behaviour} does, then as a well-behaved server ends a connection: it reads to the client's FIN
   * and closes. A proxy with half-close forwards a client's FIN and waits for the server's own.
   */
  public static Behaviour closingAtEof(Behaviour behaviour) {
    return peer -> {
      behaviour.serve(peer);
      peer.readToEnd(java.time.Duration.ZERO);
      peer.close();
    };
  }

  private final ServerSocket server;
  private final Behaviour behaviour;
  private final List<Peer> accepted = new CopyOnWriteArrayList<>();
  private final List<Throwable> failures = new CopyOnWriteArrayList<>();
  private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "backend");
    t.setDaemon(true);
    return t;
  });

  public Backend(Behaviour behaviour) throws IOException {
    this(behaviour, 0);
  }

  /**
   * @param receiveBuffer the receive buffer of accepted connections in bytes (0: the system's); small, a backend that
   *                      does not read stops its sender quickly
   */
  public Backend(Behaviour behaviour, int receiveBuffer) throws IOException {
    this(plain(receiveBuffer), behaviour);
  }

  private Backend(ServerSocket server, Behaviour behaviour) {
    this.server = server;
    this.behaviour = behaviour;
    threads.execute(this::acceptLoop);
  }

  /**
   * A TLS server presenting {@code certificate} (the JDK's): each accepted connection is handshaken before
   * {@code behaviour} gets it, and its peer reads and writes plain bytes.
   */
  public static Backend tls(Certificates certificate, Behaviour behaviour) throws Exception {
    return new Backend(TlsPeers.server(certificate), peer -> {
      ((javax.net.ssl.SSLSocket) peer.socket()).startHandshake();
      behaviour.serve(peer);
    });
  }

  private static ServerSocket plain(int receiveBuffer) throws IOException {
    ServerSocket server = new ServerSocket();
    if (receiveBuffer > 0) {
      server.setReceiveBufferSize(receiveBuffer);
    }
    server.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
    return server;
  }

  /** A port on which nothing listens ({@link Ports#freeLoopbackPort}): connecting to it is refused. */
  public static UpstreamAddress refusingAddress() throws IOException {
    return new UpstreamAddress("127.0.0.1", Ports.freeLoopbackPort());
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        Peer p = new Peer(s);
        accepted.add(p);
        threads.execute(() -> {
          try {
            behaviour.serve(p);
          } catch (IOException e) {
            failures.add(e);
          }
        });
      } catch (SocketException closed) {
        return;
      } catch (IOException e) {
        failures.add(e);
      }
    }
  }

  public UpstreamAddress address() {
    return new UpstreamAddress("127.0.0.1", server.getLocalPort());
  }

  public List<Peer> accepted() {
    return List.copyOf(accepted);
  }

  /** Waits for the n-th (1-based) accepted connection. */
  public Peer awaitAccepted(int n) {
    Await.until(n + " connection(s) accepted by the backend on " + server.getLocalPort(), () -> accepted.size() >= n);
    return accepted.get(n - 1);
  }

  public List<Throwable> failures() {
    return List.copyOf(failures);
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Peer p : accepted) {
      p.close();
    }
    threads.shutdownNow();
    try {
      threads.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
