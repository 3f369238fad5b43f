package dev.ferry.soak;

import dev.ferry.support.Peer;
import dev.ferry.support.Peer.Digest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs one soak client connection through Ferry with plain blocking JDK sockets. Every read has a timeout and the
 * whole run a deadline (a watchdog closes the socket then and records a failure), so nothing hangs.
 * <p>
 * Failures recorded here are Ferry's, never the soak's own faults: a connection the proxy should have closed and did
 * not (after a client FIN, an idle period, an upstream that never answered), a corrupted hello, a broken
 * well-behaved stream (judged later by the {@link StreamLedger}).
 */
final class SoakClient {

  static final int SO_TIMEOUT_MS = 10_000;
  static final long RUN_DEADLINE_MS = 40_000;
  /** How long Ferry may take to close a connection it must close: idle 2 s + close.flush-timeout 5 s + slack. */
  static final int MUST_CLOSE_WITHIN_MS = 15_000;

  private final int proxyPort;
  /** The route that takes a PROXY protocol v1 header first, or -1 (an external Ferry has the plain one only). */
  private final int proxiedPort;
  private final StreamLedger ledger;
  private final SoakStats stats;
  private final Set<Integer> killable;
  private final ScheduledExecutorService scheduler;

  SoakClient(int proxyPort, int proxiedPort, StreamLedger ledger, SoakStats stats, Set<Integer> killable,
             ScheduledExecutorService scheduler) {
    this.proxyPort = proxyPort;
    this.proxiedPort = proxiedPort;
    this.ledger = ledger;
    this.stats = stats;
    this.killable = killable;
    this.scheduler = scheduler;
  }

  void run(ClientBehaviour b, SplittableRandom rnd) {
    stats.inc("client." + b);
    if (b != ClientBehaviour.NORMAL && b != ClientBehaviour.SLOW_READ) {
      stats.inc("fault.client." + b);
    }
    Socket s = new Socket();
    AtomicBoolean finished = new AtomicBoolean();
    ScheduledFuture<?> watchdog = null;
    int port = -1;
    // A third of the clients come "through a load balancer": a PROXY v1 header naming a 10/8 client first.
    boolean proxied = proxiedPort > 0 && rnd.nextInt(3) == 0;
    try {
      s.connect(new InetSocketAddress("127.0.0.1", proxied ? proxiedPort : proxyPort), 5000);
      port = s.getLocalPort();
      if (proxied) {
        stats.inc("route.proxied");
        // The header's source port is the socket's own: the access log and GET /connections still name this client
        // by its port, as the checks and the admin kills look it up.
        String header = "PROXY TCP4 10." + rnd.nextInt(256) + "." + rnd.nextInt(256) + "." + (1 + rnd.nextInt(254))
          + " 127.0.0.1 " + port + " " + proxiedPort + "\r\n";
        s.getOutputStream().write(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      }
      int localPort = port;
      try {
        watchdog = scheduler.schedule(() -> {
          if (!finished.get()) {
            stats.fail("client " + b + " on local port " + localPort + " exceeded its " + RUN_DEADLINE_MS
              + " ms deadline (a blocked write or read): socket closed by the watchdog");
            closeQuietly(s);
          }
        }, RUN_DEADLINE_MS, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException stopping) {
        return;
      }
      s.setSoTimeout(SO_TIMEOUT_MS);
      s.setTcpNoDelay(true);
      String outcome = switch (b) {
        case NORMAL -> normal(s, rnd, false);
        case SLOW_READ -> normal(s, rnd, true);
        case RST_MID_STREAM -> rstMidStream(s, rnd);
        case FIN_EARLY -> finEarly(s, rnd);
        case NEVER_READ -> neverRead(s, rnd);
        case GARBAGE -> garbage(s, rnd);
        case IDLE -> idle(s, rnd);
        case VANISH -> vanish(s, rnd);
      };
      stats.inc("outcome." + b + "." + outcome);
    } catch (Hello.CorruptHello e) {
      stats.fail("client " + b + " on local port " + port + ": " + e.getMessage());
    } catch (IOException e) {
      if (port < 0) {
        stats.fail("client " + b + " could not connect to Ferry: " + e);
      } else {
        stats.inc("outcome." + b + ".io_error");
      }
    } finally {
      finished.set(true);
      if (watchdog != null) {
        watchdog.cancel(false);
      }
      killable.remove(port);
      closeQuietly(s);
    }
  }

  // ---- NORMAL and SLOW_READ: act on the upstream's announcement --------------------------------------------

  private String normal(Socket s, SplittableRandom rnd, boolean slow) throws IOException {
    InputStream in = s.getInputStream();
    Hello h;
    try {
      h = Hello.read(in);
    } catch (SocketTimeoutException e) {
      stats.fail("client " + (slow ? "SLOW_READ" : "NORMAL") + " on local port " + s.getLocalPort()
        + ": no hello and not closed within " + SO_TIMEOUT_MS + " ms (connect timeouts and the idle timeout are "
        + "far shorter)");
      return "hung_before_hello";
    }
    if (h == null) {
      return "closed_before_hello";
    }
    int port = s.getLocalPort();
    UpstreamBehaviour kind = h.behaviour();
    if (!kind.wellBehaved) {
      return upstreamFault(s, rnd, h);
    }
    if (slow && kind != UpstreamBehaviour.SOURCE && kind != UpstreamBehaviour.ECHO) {
      return slowDrain(s, rnd);
    }
    try {
      switch (kind) {
        case ECHO -> echo(s, rnd, h, slow);
        case SINK, SLOW_SINK, LAZY_SINK -> send(s, rnd, h);
        case SOURCE -> receive(s, rnd, h, slow);
        default -> throw new IllegalStateException(kind.name());
      }
      return kind.name().toLowerCase() + "_done";
    } catch (IOException e) {
      ledger.clientFailed(h.token(), kind, e.toString(), port);
      return kind.name().toLowerCase() + "_failed";
    }
  }

  private void echo(Socket s, SplittableRandom rnd, Hello h, boolean slow) throws IOException {
    int n = slow ? 1 + rnd.nextInt(16 * 1024) : 1 + rnd.nextInt(128 * 1024);
    byte[] data = new byte[n];
    rnd.nextBytes(data);
    byte[] back = new byte[16 * 1024];
    InputStream in = s.getInputStream();
    OutputStream out = s.getOutputStream();
    int off = 0;
    String mismatch = null;
    while (off < n && mismatch == null) {
      int len = Math.min(n - off, 1 + rnd.nextInt(16 * 1024));
      out.write(data, off, len);
      int got = 0;
      while (got < len) {
        int r = in.read(back, got, slow ? Math.min(len - got, 1 + rnd.nextInt(1024)) : len - got);
        if (r < 0) {
          throw new IOException("echo stream ended after " + (off + got) + " of " + n + " bytes");
        }
        got += r;
        if (slow) {
          sleep(1 + rnd.nextInt(2));
        }
      }
      if (!Arrays.equals(data, off, off + len, back, 0, len)) {
        mismatch = "bytes " + off + ".." + (off + len) + " of " + n + " came back different";
      }
      off += len;
    }
    ledger.echoChecked(h.token(), mismatch == null, mismatch, s.getLocalPort());
    if (rnd.nextBoolean()) {
      s.shutdownOutput();
      expectClosedByProxy(s, "after FIN following an echo");
    }
  }

  private void send(Socket s, SplittableRandom rnd, Hello h) throws IOException {
    int n = switch (h.behaviour()) {
      case SLOW_SINK -> 1 + rnd.nextInt(48 * 1024);
      case LAZY_SINK -> 256 * 1024 + rnd.nextInt(3 * 1024 * 1024);
      default -> 1 + rnd.nextInt(256 * 1024);
    };
    byte[] data = new byte[n];
    rnd.nextBytes(data);
    OutputStream out = s.getOutputStream();
    int off = 0;
    while (off < n) {
      int len = Math.min(n - off, 1 + rnd.nextInt(32 * 1024));
      out.write(data, off, len);
      off += len;
    }
    out.flush();
    s.shutdownOutput();
    ledger.clientEnd(h.token(), h.behaviour(), Digest.of(data), s.getLocalPort());
    expectClosedByProxy(s, "after FIN following a sink transfer");
  }

  private void receive(Socket s, SplittableRandom rnd, Hello h, boolean slow) throws IOException {
    InputStream in = s.getInputStream();
    MessageDigest md = Peer.sha256();
    byte[] buf = new byte[16 * 1024];
    long total = 0;
    int r;
    while ((r = in.read(buf, 0, slow ? 1 + rnd.nextInt(4096) : buf.length)) >= 0) {
      md.update(buf, 0, r);
      total += r;
      if (slow) {
        sleep(1 + rnd.nextInt(2));
      }
    }
    ledger.clientEnd(h.token(), UpstreamBehaviour.SOURCE, new Digest(md.digest(), total), s.getLocalPort());
  }

  /** The upstream announced a fault (RST or close after n bytes): send until it happens. */
  private String upstreamFault(Socket s, SplittableRandom rnd, Hello h) {
    try {
      byte[] data = new byte[8 * 1024];
      rnd.nextBytes(data);
      int target = h.param() + rnd.nextInt(32 * 1024);
      int sent = 0;
      while (sent < target) {
        s.getOutputStream().write(data, 0, Math.min(data.length, target - sent));
        sent += Math.min(data.length, target - sent);
      }
      if (drainUntilClosed(s)) {
        return "upstream_fault_seen";
      }
      stats.fail("client on local port " + s.getLocalPort() + ": upstream " + h.behaviour() + " (n=" + h.param()
        + ") ended its side but Ferry did not close the client within " + SO_TIMEOUT_MS + " ms");
      return "upstream_fault_not_seen";
    } catch (IOException e) {
      return "upstream_fault_seen";
    }
  }

  private String slowDrain(Socket s, SplittableRandom rnd) {
    try {
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      while (in.read(buf, 0, 1 + rnd.nextInt(buf.length)) >= 0) {
        sleep(2);
      }
      return "slow_drained";
    } catch (SocketTimeoutException e) {
      stats.fail("SLOW_READ client on local port " + s.getLocalPort() + ": nothing moved for " + SO_TIMEOUT_MS
        + " ms and Ferry did not close the idle connection");
      return "hung";
    } catch (IOException e) {
      return "slow_drain_reset";
    }
  }

  // ---- faulty clients -----------------------------------------------------------------------------------------

  private String rstMidStream(Socket s, SplittableRandom rnd) throws IOException {
    if (rnd.nextBoolean()) {
      Hello.read(s.getInputStream());
    }
    try {
      byte[] data = new byte[1 + rnd.nextInt(64 * 1024)];
      rnd.nextBytes(data);
      s.getOutputStream().write(data);
    } catch (IOException e) {
      return "closed_before_rst";
    }
    s.setSoLinger(true, 0);
    s.close();
    return "rst_sent";
  }

  private String finEarly(Socket s, SplittableRandom rnd) throws IOException {
    byte[] data = new byte[rnd.nextInt(4096)];
    rnd.nextBytes(data);
    try {
      s.getOutputStream().write(data);
    } catch (IOException e) {
      return "closed_before_fin";
    }
    s.shutdownOutput();
    return expectClosedByProxy(s, "after an early FIN") ? "closed_by_proxy" : "hung";
  }

  private String neverRead(Socket s, SplittableRandom rnd) throws IOException {
    killable.add(s.getLocalPort());
    try {
      byte[] data = new byte[rnd.nextInt(32 * 1024)];
      rnd.nextBytes(data);
      s.getOutputStream().write(data);
    } catch (IOException e) {
      return "closed_while_sending";
    }
    sleep(1000 + rnd.nextInt(4000));
    // Closing with unread bytes in the receive buffer makes the kernel send an RST.
    s.close();
    return "held_then_closed";
  }

  private String garbage(Socket s, SplittableRandom rnd) throws IOException {
    byte[] data = new byte[1 + rnd.nextInt(128 * 1024)];
    rnd.nextBytes(data);
    try {
      s.getOutputStream().write(data);
    } catch (IOException e) {
      return "closed_while_sending";
    }
    s.setSoTimeout(300);
    try {
      s.getInputStream().read(new byte[4096]);
    } catch (IOException e) {
      // nothing to read, or reset
    }
    return "sent_and_closed";
  }

  private String idle(Socket s, SplittableRandom rnd) throws IOException {
    killable.add(s.getLocalPort());
    sleep(2500 + rnd.nextInt(3500));
    return expectClosedByProxy(s, "while idle (idle-timeout)") ? "closed_by_proxy" : "hung";
  }

  private String vanish(Socket s, SplittableRandom rnd) throws IOException {
    if (rnd.nextBoolean()) {
      s.setSoLinger(true, 0);
    }
    s.close();
    return "vanished";
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  /**
   * Ferry must close this connection: reads (and discards) until end of stream or reset, within
   * {@link #MUST_CLOSE_WITHIN_MS}. Records a failure when it stays open.
   */
  private boolean expectClosedByProxy(Socket s, String when) throws IOException {
    s.setSoTimeout(MUST_CLOSE_WITHIN_MS);
    if (drainUntilClosed(s)) {
      return true;
    }
    stats.fail("client on local port " + s.getLocalPort() + ": Ferry did not close the connection " + when
      + " within " + MUST_CLOSE_WITHIN_MS + " ms");
    return false;
  }

  /** True if the stream ended (EOF or reset) before a read timed out or the deadline passed. */
  private static boolean drainUntilClosed(Socket s) {
    byte[] buf = new byte[16 * 1024];
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MUST_CLOSE_WITHIN_MS);
    try {
      InputStream in = s.getInputStream();
      while (in.read(buf) >= 0) {
        if (System.nanoTime() > deadline) {
          return false;
        }
      }
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
