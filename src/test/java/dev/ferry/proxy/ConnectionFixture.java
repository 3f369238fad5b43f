package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.RouteOptions;
import dev.ferry.config.TransportMode;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.MetricNames;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.ReleaseOrder;
import dev.ferry.support.TestConfig;
import dev.ferry.upstream.UpstreamPool;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.NoopAddressResolver;
import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Vertx;

import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One {@link ProxyConnection} between {@link EmbeddedSocket}s, owned by a real {@link ListenerVerticle} that serves
 * no route of its own (it binds nothing): the connection's client is an embedded socket, and its route's bootstrap
 * makes an embedded socket per connect attempt, whose connect the test completes ({@link Attempt}). So the
 * connection, both relays, the ledger, the pool and the limits are Ferry's own, and every step runs on the test's
 * thread (the embedded event loop, whose clock the test moves); only what the listener publishes crosses to Vert.x:
 * the close requests and acknowledgements sent to registry shard 0, collected in order ({@link #published}).
 */
final class ConnectionFixture implements AutoCloseable {

  static final UpstreamAddress A = new UpstreamAddress("127.0.0.1", 7101);
  static final UpstreamAddress B = new UpstreamAddress("127.0.0.2", 7102);
  static final String SOURCE = "10.1.1.1";
  static final int LOW = 32;
  static final int HIGH = 64;
  /**
   * The upstreams are IP literals, resolved already. Netty's own groups keep a resolver per event loop and watch its
   * termination, which an embedded event loop does not offer: this one hands out a fresh no-op resolver instead.
   */
  private static final AddressResolverGroup<SocketAddress> LITERALS_ONLY = new AddressResolverGroup<>() {
    @Override
    protected AddressResolver<SocketAddress> newResolver(EventExecutor executor) {
      return new NoopAddressResolver(executor);
    }

    @Override
    public AddressResolver<SocketAddress> getResolver(EventExecutor executor) {
      return newResolver(executor);
    }
  };

  /** One connect attempt: its channel (the upstream socket) and the connect the test completes. */
  static final class Attempt extends ChannelOutboundHandlerAdapter {
    final EmbeddedSocket channel = new EmbeddedSocket();
    SocketAddress remote;
    private ChannelPromise connect;
    /** As a real channel: closing it fails the connect in flight. False: the connect may still win the race. */
    boolean closeFailsTheConnect = true;

    Attempt() {
      channel.pipeline().addLast(this);
    }

    @Override
    public void connect(ChannelHandlerContext ctx, SocketAddress remote, SocketAddress local, ChannelPromise p) {
      this.remote = remote;
      this.connect = p;
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
      if (closeFailsTheConnect && connect != null) {
        connect.tryFailure(new ClosedChannelException());
      }
      super.close(ctx, promise);
    }

    void succeed() {
      channel.connected();
      connect.setSuccess();
    }

    void fail(Throwable cause) {
      connect.setFailure(cause);
    }
  }

  final FerryOptions options;
  final RouteOptions routeOptions;
  final FerryMetrics metrics = new FerryMetrics(new SimpleMeterRegistry());
  final UpstreamPool pool;
  final Route route;
  final EmbeddedSocket client = new EmbeddedSocket(LOW, HIGH);
  /**
   * Owns the upstreams' event loop. Not the client's: an embedded channel's close cancels every timer of its loop,
   * and the release's flush timer lives on the client's. (So the flush timeout can be seen only toward a client
   * that does not read: the client's own close cancels it.)
   */
  private final EmbeddedSocket upstreamLoop = new EmbeddedSocket(LOW, HIGH);
  final ConnectionInfo info;
  final List<Attempt> attempts = new ArrayList<>();
  /** Every buffer the test handed to a socket: each must end released (by Ferry, or by Netty after a write). */
  private final List<ByteBuf> allocated = new ArrayList<>();
  final ProxyConnection conn;
  /**
   * Set: no upstream socket can even be created (socket() failing with EMFILE); Netty's bootstrap then returns an
   * attempt already failed.
   */
  io.netty.channel.ChannelException socketFailure;
  /** Connects the attempts of every route of the fixture ({@link #served}). */
  private final Bootstrap upstreams;
  /** The process's limits, shared by every listener (the route's are {@code route.limits()}). */
  final ConnectionLimits processLimits;
  private final RegistryProbe registry;

  /** The upstreams A and B, the embedded sockets' water mark, and {@code config}'s route keys on top. */
  static TestConfig config() {
    return new TestConfig().set("listen.host", "127.0.0.1").set("listen.port", 0).set("upstreams", List.of(A, B))
      .set("buffer.soft-limit", 1024).set("buffer.hard-limit", 2048).set("close.flush-timeout", "5s")
      .set("idle-timeout", "1h").set("close.half-closed-timeout", "1m");
  }

  /**
   * A connection accepted from {@link #SOURCE}; {@code admitted} ones took their places in the limits first (the
   * process's, the route's, the source's unless the route accepts a PROXY header), as the listener's accept does; others took none yet (their
   * {@code conn.admission()} is for the test to fill). Not started: {@link #start} begins the connect.
   */
  ConnectionFixture(Vertx vertx, TestConfig config, boolean admitted) throws Exception {
    this.options = config.options();
    this.routeOptions = options.routes().get(0);
    this.pool = new UpstreamPool(routeOptions.name(), routeOptions.pool(), metrics.registry());
    this.route = ProxyContext.route(routeOptions, pool, false, metrics);
    // The descriptor limit unknown: the process's limit is limits.max-connections as configured.
    ProxyContext shared = new ProxyContext(options, metrics, List.of(), TransportMode.NIO,
      DescriptorBudget.of(options, -1, 0, false));
    Admission admission = new Admission(shared.limits(), shared::processLimitDetail);
    if (admitted) {
      assertThat(admission.admitProcess()).isNull();
      assertThat(admission.admitRoute(route.limits(), "")).isNull();
      if (!routeOptions.proxyProtocol().accepts()) {
        // A route that accepts a PROXY header counts the header's client, after it (ProxyConnection.preambleDone).
        assertThat(admission.admitSource(SOURCE, "")).isNull();
      }
    }
    this.processLimits = shared.limits();
    registry = new RegistryProbe(vertx, shared);
    client.config().setAutoRead(false);
    client.freezeTime();
    upstreams = new Bootstrap().group(upstreamLoop.eventLoop())
      .channelFactory(() -> {
        if (socketFailure != null) {
          throw socketFailure;
        }
        Attempt a = new Attempt();
        attempts.add(a);
        return a.channel;
      })
      .resolver(LITERALS_ONLY)
      .option(ChannelOption.AUTO_READ, false)
      .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(LOW, HIGH));
    ListenerVerticle.Served served = new ListenerVerticle.Served(route, upstreams, false, "");
    Listening address = new Listening(List.of(served));
    info = new ConnectionInfo(1, routeOptions.name(), SOURCE + ":5555", System.currentTimeMillis(),
      System.nanoTime());
    conn = new ProxyConnection(1, registry.listener, address, served, client, info, SOURCE, admission);
  }

  /**
   * Another route at run time (one connection per source), served by this fixture's upstream sockets: one a ClientHello
   * may choose.
   */
  ListenerVerticle.Served served(String name, UpstreamAddress upstream) {
    RouteOptions other = new TestConfig().route(name, upstream).routeSet(name, "limits.max-connections-per-source", 1)
      .options().routes().get(0);
    Route r = ProxyContext.route(other, new UpstreamPool(name, other.pool(), metrics.registry()), false, metrics);
    return new ListenerVerticle.Served(r, upstreams, false, "");
  }

  /** Starts the first connect attempt and lets it reach its socket. */
  Attempt start() {
    conn.start();
    upstreamLoop.runPendingTasks();
    return attempts.isEmpty() ? null : attempts.get(attempts.size() - 1);
  }

  /** Starts and completes the first connect: the connection is established; its upstream socket. */
  EmbeddedSocket established() {
    Attempt a = start();
    a.succeed();
    return a.channel;
  }

  /** The latest connect attempt, once the previous one failed. */
  Attempt next() {
    upstreamLoop.runPendingTasks();
    return attempts.get(attempts.size() - 1);
  }

  void release(CloseReason reason, Side side) {
    conn.release(new ReleaseOrder(1, reason, side));
  }

  /** Moves the embedded event loop's clock and runs the timers that are due. */
  void advance(Duration d) {
    client.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
    client.runScheduledPendingTasks();
  }

  /** What the listener sent to the registry since the last call, in order ({@link RegistryProbe#published}). */
  List<String> published() throws InterruptedException {
    return registry.published();
  }

  /** A pooled buffer with {@code text}, as a socket delivers it; checked at the end to be released. */
  ByteBuf bytes(String text) {
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(Math.max(1, text.length()));
    buf.writeCharSequence(text, StandardCharsets.US_ASCII);
    allocated.add(buf);
    return buf;
  }

  /** {@code ferry_upstream_connect_total} of the upstream by outcome ({@code success}, {@code failure}). */
  double connects(UpstreamAddress u, String outcome) {
    return metrics.registry().get(MetricNames.UPSTREAM_CONNECTS).tag(MetricNames.TAG_UPSTREAM, u.toString())
      .tag(MetricNames.TAG_OUTCOME, outcome).counter().count();
  }

  /** The pool's view of an upstream: {@code active_connections} and {@code consecutive_failures}. */
  String upstreamState(UpstreamAddress u) {
    var ups = pool.describe().getJsonArray("upstreams");
    for (int i = 0; i < ups.size(); i++) {
      var json = ups.getJsonObject(i);
      if (json.getString("upstream").equals(u.toString())) {
        return "active " + json.getInteger("active_connections") + ", failures "
          + json.getInteger("consecutive_failures");
      }
    }
    throw new AssertionError("no upstream " + u);
  }

  /** The upstream a connect attempt went to. */
  static UpstreamAddress target(Attempt a) {
    java.net.InetSocketAddress remote = (java.net.InetSocketAddress) a.remote;
    return new UpstreamAddress(remote.getHostString(), remote.getPort());
  }

  @Override
  public void close() throws Exception {
    client.finishAndReleaseAll();
    upstreamLoop.finishAndReleaseAll();
    for (Attempt a : attempts) {
      a.channel.finishAndReleaseAll();
    }
    registry.close();
    assertThat(registry.listener.ledger().buffersHeld()).as("buffers held at the end").isZero();
    assertThat(allocated).as("buffers still referenced").allSatisfy(b -> assertThat(b.refCnt()).isZero());
  }
}
