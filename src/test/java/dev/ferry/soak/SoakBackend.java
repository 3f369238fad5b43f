package dev.ferry.soak;

import dev.ferry.support.Peer;
import dev.ferry.support.Peer.Digest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.MessageDigest;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One soak upstream on 127.0.0.1 with plain JDK sockets. Each accepted connection gets an {@link UpstreamBehaviour}
 * drawn from the backend's seeded random source and announced with a {@link Hello}; it is served on the shared,
 * bounded pool. A {@link Kind#DYING} backend closes its listen socket every few seconds, resets every connection it
 * holds (as a crashed process would) and rebinds the same port a few seconds later.
 */
final class SoakBackend implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SoakBackend.class);
  private static final int READ_TIMEOUT_MS = 20_000;

  enum Kind {
    /** Every behaviour, faults included. */
    MIXED,
    /** Like MIXED, and dies and comes back. */
    DYING,
    /** Only echo, sink and source: a steady supply of hash-checked streams. */
    WELL_BEHAVED
  }

  private final int index;
  private final Kind kind;
  private final SplittableRandom rnd;
  private final AtomicLong tokens;
  private final StreamLedger ledger;
  private final SoakStats stats;
  private final ExecutorService pool;
  private final ScheduledExecutorService scheduler;

  private record Served(long token, long acceptedNanos) {
  }

  /** The connections being served: each one's token and when it was accepted (System.nanoTime). */
  private final Map<Socket, Served> live = new ConcurrentHashMap<>();
  private final Map<Socket, Boolean> stalled = new ConcurrentHashMap<>();
  private final Thread acceptor;
  private final int port;
  private volatile ServerSocket server;
  private volatile boolean stopping;
  private volatile boolean dyingEnabled;
  private long nextDeathNanos;

  SoakBackend(int index, Kind kind, long seed, int fixedPort, AtomicLong tokens, StreamLedger ledger, SoakStats stats,
              ExecutorService pool, ScheduledExecutorService scheduler) throws IOException {
    this.index = index;
    this.kind = kind;
    this.rnd = new SplittableRandom(seed * 1_000_003L + index);
    this.tokens = tokens;
    this.ledger = ledger;
    this.stats = stats;
    this.pool = pool;
    this.scheduler = scheduler;
    this.server = bind(fixedPort);
    this.port = server.getLocalPort();
    this.acceptor = new Thread(this::acceptLoop, "soak-backend-" + index);
    this.acceptor.setDaemon(true);
    this.acceptor.start();
  }

  private static ServerSocket bind(int port) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    try {
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
      s.setSoTimeout(200);
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  int port() {
    return port;
  }

  Kind kind() {
    return kind;
  }

  /** Turns the die-and-come-back cycle on or off (a DYING backend only); off also means: be up now. */
  void dying(boolean enabled) {
    dyingEnabled = enabled && kind == Kind.DYING;
  }

  /** Connections still being served (stalled ones included). */
  /** Connections accepted before {@code nanos} (System.nanoTime) and still being served. */
  int activeAcceptedBefore(long nanos) {
    return (int) live.values().stream().filter(c -> c.acceptedNanos() - nanos < 0).count();
  }

  boolean listening() {
    return server != null;
  }

  private void acceptLoop() {
    nextDeathNanos = System.nanoTime() + millisToNanos(3000 + rnd.nextInt(5000));
    while (!stopping) {
      ServerSocket s = server;
      if (s == null) {
        if (System.nanoTime() >= nextDeathNanos || !dyingEnabled) {
          comeBack();
        } else {
          SoakClient.sleep(50);
        }
        continue;
      }
      if (dyingEnabled && System.nanoTime() >= nextDeathNanos) {
        die();
        continue;
      }
      try {
        Socket c = s.accept();
        onAccepted(c);
      } catch (SocketTimeoutException tick) {
        // check the death schedule and the stop flag
      } catch (IOException e) {
        if (!stopping && server != null) {
          log.warn("conn=- backend {} accept failed: {}", index, e.toString());
          SoakClient.sleep(50);
        }
      }
    }
  }

  private void die() {
    long downMs = 1500 + rnd.nextInt(1500);
    stats.inc("fault.backend_deaths");
    int killed = 0;
    try {
      server.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    server = null;
    for (Map.Entry<Socket, Served> e : live.entrySet()) {
      ledger.killed(e.getValue().token());
      killed++;
      reset(e.getKey());
    }
    stats.add("fault.connections_killed_by_backend_death", killed);
    log.info("conn=- backend {} (port {}) died: listen socket closed, {} connections reset; back in {} ms", index,
      port, killed, downMs);
    nextDeathNanos = System.nanoTime() + millisToNanos(downMs);
  }

  private void comeBack() {
    long deadline = System.nanoTime() + millisToNanos(10_000);
    while (!stopping) {
      try {
        server = bind(port);
        nextDeathNanos = System.nanoTime() + millisToNanos(5000 + rnd.nextInt(7000));
        log.info("conn=- backend {} back on port {}", index, port);
        return;
      } catch (BindException e) {
        if (System.nanoTime() > deadline) {
          stats.fail("backend " + index + " could not rebind port " + port + " within 10 s: " + e);
          stopping = true;
          return;
        }
        SoakClient.sleep(100);
      } catch (IOException e) {
        stats.fail("backend " + index + " rebind failed: " + e);
        stopping = true;
        return;
      }
    }
  }

  private UpstreamBehaviour pick() {
    int r = rnd.nextInt(100);
    if (kind == Kind.WELL_BEHAVED) {
      return r < 35 ? UpstreamBehaviour.ECHO : r < 55 ? UpstreamBehaviour.SINK : r < 65 ? UpstreamBehaviour.LAZY_SINK
        : r < 70 ? UpstreamBehaviour.SLOW_SINK : UpstreamBehaviour.SOURCE;
    }
    if (r < 25) {
      return UpstreamBehaviour.ECHO;
    } else if (r < 36) {
      return UpstreamBehaviour.SINK;
    } else if (r < 42) {
      return UpstreamBehaviour.LAZY_SINK;
    } else if (r < 50) {
      return UpstreamBehaviour.SLOW_SINK;
    } else if (r < 65) {
      return UpstreamBehaviour.SOURCE;
    } else if (r < 77) {
      return UpstreamBehaviour.RST_AFTER_N;
    } else if (r < 89) {
      return UpstreamBehaviour.CLOSE_AFTER_N;
    }
    return UpstreamBehaviour.STALL;
  }

  private void onAccepted(Socket c) {
    UpstreamBehaviour b = pick();
    long token = tokens.incrementAndGet();
    int param = switch (b) {
      case SOURCE -> 1 + rnd.nextInt(512 * 1024);
      case RST_AFTER_N, CLOSE_AFTER_N -> rnd.nextInt(64 * 1024);
      case LAZY_SINK -> 100 + rnd.nextInt(700);
      default -> 0;
    };
    stats.inc("upstream." + b);
    if (!b.wellBehaved) {
      stats.inc("fault.upstream." + b);
    }
    live.put(c, new Served(token, System.nanoTime()));
    Hello hello = new Hello(b, index, token, param);
    long seed = rnd.nextLong();
    if (b == UpstreamBehaviour.STALL) {
      // Holds no thread: closed later by the scheduler (Ferry should have closed its side long before).
      stalled.put(c, Boolean.TRUE);
      try {
        scheduler.schedule(() -> done(c), 6000 + new SplittableRandom(seed).nextInt(6000), TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        done(c);
      }
      return;
    }
    try {
      pool.execute(() -> serve(c, hello, seed));
    } catch (RejectedExecutionException e) {
      done(c);
    }
  }

  private void serve(Socket c, Hello hello, long seed) {
    long token = hello.token();
    try {
      c.setSoTimeout(READ_TIMEOUT_MS);
      c.setTcpNoDelay(true);
      InputStream in = c.getInputStream();
      OutputStream out = c.getOutputStream();
      out.write(hello.encode());
      out.flush();
      byte[] buf = new byte[16 * 1024];
      switch (hello.behaviour()) {
        case ECHO -> {
          int n;
          while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
          }
        }
        case SINK, SLOW_SINK, LAZY_SINK -> {
          boolean slow = hello.behaviour() == UpstreamBehaviour.SLOW_SINK;
          if (hello.behaviour() == UpstreamBehaviour.LAZY_SINK) {
            SoakClient.sleep(hello.param());
          }
          MessageDigest md = Peer.sha256();
          long total = 0;
          int n;
          while ((n = in.read(buf, 0, slow ? 2048 : buf.length)) >= 0) {
            md.update(buf, 0, n);
            total += n;
            if (slow) {
              SoakClient.sleep(4);
            }
          }
          ledger.upstreamEnd(token, new Digest(md.digest(), total));
        }
        case SOURCE -> {
          SplittableRandom data = new SplittableRandom(seed);
          MessageDigest md = Peer.sha256();
          int left = hello.param();
          while (left > 0) {
            int len = Math.min(left, 1 + data.nextInt(buf.length));
            data.nextBytes(buf);
            md.update(buf, 0, len);
            out.write(buf, 0, len);
            left -= len;
          }
          out.flush();
          ledger.upstreamEnd(token, new Digest(md.digest(), hello.param()));
          c.shutdownOutput();
          while (in.read(buf) >= 0) {
            // discard until Ferry closes this side, so the close below is a clean FIN, not an RST
          }
        }
        case RST_AFTER_N, CLOSE_AFTER_N -> {
          int left = hello.param();
          c.setSoTimeout(3000);
          try {
            int n;
            while (left > 0 && (n = in.read(buf, 0, Math.min(buf.length, left))) >= 0) {
              left -= n;
            }
          } catch (SocketTimeoutException enough) {
            // the client sent fewer bytes: fault now anyway
          }
          if (hello.behaviour() == UpstreamBehaviour.RST_AFTER_N) {
            reset(c);
          }
        }
        default -> {
        }
      }
    } catch (IOException e) {
      if (hello.behaviour().wellBehaved) {
        ledger.upstreamFailed(token, e.toString());
      }
      stats.inc("upstream_io_errors." + hello.behaviour());
    } finally {
      done(c);
    }
  }

  private void done(Socket c) {
    stalled.remove(c);
    live.remove(c);
    try {
      c.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  private static void reset(Socket c) {
    try {
      c.setSoLinger(true, 0);
      c.close();
    } catch (IOException ignored) {
      // gone already
    }
  }

  private static long millisToNanos(long ms) {
    return TimeUnit.MILLISECONDS.toNanos(ms);
  }

  @Override
  public void close() {
    stopping = true;
    try {
      acceptor.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    ServerSocket s = server;
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    for (Socket c : live.keySet()) {
      done(c);
    }
  }

  /** Closes the connections held by STALL behaviours now (end of the soak). */
  void closeStalled() {
    for (Socket c : live.keySet()) {
      // Served connections end on their own; only stalled ones hold no thread.
      if (!c.isClosed() && isStalled(c)) {
        done(c);
      }
    }
  }

  private boolean isStalled(Socket c) {
    return stalled.containsKey(c);
  }
}
