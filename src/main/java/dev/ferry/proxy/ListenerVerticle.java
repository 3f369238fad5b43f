package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.RouteOptions;
import dev.ferry.config.TransportMode;
import dev.ferry.config.TlsMode;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.registry.Addresses;
import dev.ferry.registry.CloseRequest;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.ConnectionOpened;
import dev.ferry.registry.ReleaseAck;
import dev.ferry.registry.ReleaseOrder;
import dev.ferry.registry.RouteChosen;
import dev.ferry.upstream.HealthChecker;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.nio.NioChannelOption;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Owns the sockets of one event loop: a listening socket per route (with {@code instances > 1}, every listener binds
 * each route's port with {@code SO_REUSEPORT} and the kernel spreads the clients) and the upstream channels it
 * connects, so a client and its upstream live on this verticle's event loop and an accept never crosses threads.
 * Accepts clients, keeps their {@link ProxyConnection}s, executes the registry's release orders and acknowledges
 * them. {@link #stop()} drains. Listener 0 also runs the routes' active health checks.
 * <p>
 * The proxied sockets are plain Netty channels on the verticle's event loop, not Vert.x {@code NetSocket}s: a
 * {@code NetSocket} allocates a 4 KB write queue chunk per socket, a promise and a listener per write and metrics
 * lookups per connection, which the benchmark showed to dominate idle memory and connection churn (issue #4).
 * Vert.x still provides the event loop, the transport (epoll or NIO), the name resolver, timers and the event bus.
 * <p>
 * Threading: all state is confined to this verticle's event loop.
 */
public final class ListenerVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(ListenerVerticle.class);

  /** One route as this listener serves it: the bootstrap of its upstream connects. */
  static final class Served {
    final Route route;
    final Bootstrap upstreams;
    /**
     * {@code splice} as configured for the route, when the transport can do it (native epoll) and no TLS engine sits
     * in the route's pipelines.
     */
    final boolean splice;
    /** Key prefix of the route's options in messages: none for the shorthand's one route. */
    final String keys;

    Served(Route route, Bootstrap upstreams, boolean splice, String keys) {
      this.route = route;
      this.upstreams = upstreams;
      this.splice = splice;
      this.keys = keys;
    }
  }

  private final ProxyContext shared;
  private final FerryOptions options;
  /** The registry shard addresses, by shard index: built once, used for every lifecycle message. */
  private final String[] registryShards;
  private final Map<Long, ProxyConnection> connections = new HashMap<>();
  private final List<Listening> listening = new ArrayList<>();
  private final List<HealthChecker> checkers = new ArrayList<>();
  private int index;
  private String address;
  private BufferLedger ledger;
  private long sweepTimer = -1;
  private Promise<Void> allReleased;

  public ListenerVerticle(ProxyContext shared) {
    this.shared = shared;
    this.options = shared.options();
    this.registryShards = new String[options.registry().shards()];
    for (int shard = 0; shard < registryShards.length; shard++) {
      registryShards[shard] = Addresses.registry(shard);
    }
  }

  @Override
  public Future<?> start() {
    index = shared.nextListenerIndex();
    address = Addresses.listener(index);
    // Each listener enforces its share of the global budget on its own event loop: no cross-thread signalling.
    ledger = new BufferLedger(shared.metrics(),
      (long) options.limits().maxBufferedBytes() / options.effectiveInstances());
    shared.metrics().addLedger(ledger);
    VertxInternals internals = new VertxInternals(vertx, context);
    EventLoop loop = internals.eventLoop();
    MessageConsumer<ReleaseOrder> orders = vertx.eventBus().localConsumer(address, m -> onReleaseOrder(m.body()));
    sweepTimer = vertx.setPeriodic(sweepIntervalMs(options), t -> sweep());
    Map<String, List<Served>> byAddress = new java.util.LinkedHashMap<>();
    for (Route route : shared.routes()) {
      RouteOptions ro = route.options();
      Bootstrap upstreams = DataChannels.upstreams(new Bootstrap()
        .group(loop)
        .channelFactory(internals.channelFactory())
        .resolver(internals.resolver()), ro);
      Served s = new Served(route, upstreams, ro.splice() && shared.transport() == TransportMode.EPOLL
        && !ro.tlsEngine(),
        options.shorthand() ? "" : "routes[" + route.name() + "].");
      // Passthrough routes on one fixed address share its socket (config validation made them fit together).
      String address = ro.tls().mode() == TlsMode.PASSTHROUGH && ro.listen().port() != 0
        ? ro.listen().host().toLowerCase(java.util.Locale.ROOT) + "|" + ro.listen().port() : "route|" + route.name();
      byAddress.computeIfAbsent(address, a -> new ArrayList<>()).add(s);
      if (index == 0 && !route.echo()) {
        HealthChecker checker = new HealthChecker(route.pool(), loop, upstreams);
        checkers.add(checker);
        checker.start();
      }
    }
    List<Future<Channel>> binds = new ArrayList<>();
    for (List<Served> routes : byAddress.values()) {
      Listening l = new Listening(routes);
      listening.add(l);
      Route first = routes.get(0).route;
      // Port 0 means "any": the first listener binds an ephemeral port, the others bind the same one.
      Future<Integer> port = first.options().listen().port() != 0 || index == 0
        ? Future.succeededFuture(first.options().listen().port())
        : first.boundPortFuture();
      binds.add(orders.completion()
        .compose(v -> port)
        .compose(p -> bind(internals, loop, l, p))
        .onComplete(ar -> {
          if (index == 0) {
            routes.forEach(s -> s.route.bound(ar.map(ch -> ((InetSocketAddress) ch.localAddress()).getPort())));
          }
        })
        .onSuccess(ch -> l.server = ch));
    }
    return Future.all(binds);
  }

  private Future<Channel> bind(VertxInternals internals, EventLoop loop, Listening l, int port) {
    Served s = l.lead;
    RouteOptions ro = s.route.options();
    boolean reusePort = options.effectiveInstances() > 1;
    ServerBootstrap sb = DataChannels.clients(new ServerBootstrap()
      .group(loop, loop)
      .channelFactory(internals.serverChannelFactory()), ro)
      .handler(new AcceptErrors(s.route.name(), shared.metrics(), shared.acceptErrorLog()))
      .childHandler(new Acceptor(l));
    // Only what the listening socket needs. Accepted sockets keep Netty's defaults (TCP_NODELAY on): Vert.x's
    // configure(NetServerOptions) would also set TCP_USER_TIMEOUT, TCP_QUICKACK, TCP_CORK and SO_KEEPALIVE to their
    // defaults, and TCP_NODELAY again, on every accepted socket: 5 setsockopt calls per connection for nothing
    // (strace, bench/syscalls.sh).
    sb.option(ChannelOption.SO_BACKLOG, ro.listen().backlog()).option(ChannelOption.SO_REUSEADDR, true);
    if (reusePort) {
      // With instances > 1 every listener binds the route's port and the kernel spreads the clients.
      sb.option(shared.transport() == TransportMode.EPOLL ? EpollChannelOption.SO_REUSEPORT
        : NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
    }
    Promise<Channel> bound = internals.promise();
    sb.bind(ro.listen().host(), port).addListener(f -> {
      ChannelFuture cf = (ChannelFuture) f;
      if (cf.isSuccess()) {
        bound.complete(cf.channel());
      } else {
        bound.fail(new IllegalStateException("route " + l.routes.stream().map(r -> r.route.name()).toList() + ": "
          + "cannot listen on " + ro.listen().host() + ":" + port + ": " + cf.cause().getMessage(), cf.cause()));
      }
    });
    return bound.future();
  }

  /** The accepted channels' first handler: hands the channel to {@link #accept} and leaves the pipeline. */
  @ChannelHandler.Sharable
  private final class Acceptor extends ChannelInboundHandlerAdapter {
    private final Listening address;

    Acceptor(Listening address) {
      this.address = address;
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
      ctx.pipeline().remove(this);
      accept(ctx.channel(), address);
      ctx.fireChannelRegistered();
    }
  }

  /** A quarter of the shortest timer the sweep serves (idle, half-closed) over all routes, between 10 ms and 1 s. */
  static long sweepIntervalMs(FerryOptions options) {
    long shortest = Long.MAX_VALUE;
    for (RouteOptions r : options.routes()) {
      shortest = Math.min(shortest, Math.min(positiveOrMax(r.idleTimeout().toMillis()),
        positiveOrMax(r.close().halfClosedTimeout().toMillis())));
    }
    return shortest == Long.MAX_VALUE ? 1000 : Math.max(10, Math.min(1000, shortest / 4));
  }

  private static long positiveOrMax(long ms) {
    return ms > 0 ? ms : Long.MAX_VALUE;
  }

  /**
   * Admits a client under the process's limits, and its route's where the route is known and the client is the TCP
   * peer ({@link Admission}: the rest follows the preamble), and starts its connection; a refusal goes through the
   * registry as any other end does.
   */
  private void accept(Channel ch, Listening address) {
    long id = shared.nextId();
    Served s = address.lead;
    InetSocketAddress remote = (InetSocketAddress) ch.remoteAddress();
    String source = remote.getAddress().getHostAddress();
    Admission admission = new Admission(shared.limits(), shared::processLimitDetail);
    String refusal = admission.admitProcess();
    if (refusal == null && !address.shared()) {
      refusal = admission.admitRoute(s.route.limits(), s.keys);
      if (refusal == null && !s.route.options().proxyProtocol().accepts()) {
        refusal = admission.admitSource(source, s.keys);
      }
    }
    ConnectionInfo info = new ConnectionInfo(id, s.route.name(), source + ":" + remote.getPort(),
      System.currentTimeMillis(), System.nanoTime());
    ProxyConnection conn = new ProxyConnection(id, this, address, s, ch, info, source, admission);
    connections.put(id, conn);
    // Sent before any close request for this id: same sender, same shard, so the registry sees it first.
    vertx.eventBus().send(registryOf(id), new ConnectionOpened(info, this.address, !address.shared()));
    if (refusal == null) {
      if (log.isDebugEnabled()) {
        log.debug("conn={} accepted from {} on route {}, listener {}", id, info.client(), s.route.name(), index);
      }
      conn.start();
    } else {
      // Refused through the same path as any other end: the registry orders the release, the log line says LIMIT.
      conn.fault(CloseReason.LIMIT, Side.PROXY, refusal);
    }
  }

  // ---- called by ProxyConnection (same event loop) ----------------------------------------------------------

  FerryMetrics metrics() {
    return shared.metrics();
  }

  BufferLedger ledger() {
    return ledger;
  }

  /**
   * Connects a new upstream channel on this event loop, with {@code relay} as its pipeline's handler. The bootstrap
   * is this listener's alone and {@code connect} adds the handler to the new channel before it returns, so setting
   * the handler just before is safe (and saves a clone per connect). An IP literal's address comes resolved; a host
   * name's goes through Vert.x's resolver (and its cache) at each connect.
   */
  ChannelFuture connect(Served s, SocketAddress target, Relay relay) {
    return s.upstreams.handler(relay).connect(target);
  }

  /** The shard that serialises every message about {@code id}. */
  private String registryOf(long id) {
    return registryShards[Addresses.shardOf(id, registryShards.length)];
  }

  /** The only way a fault becomes a close: a request to the registry shard of the id. */
  void requestClose(long id, CloseReason reason, Side side, String detail) {
    vertx.eventBus().send(registryOf(id), new CloseRequest(id, reason, side, detail));
  }

  /** The route of a connection on a shared address is final: the registry counts it in that route now. */
  void routeChosen(long id) {
    vertx.eventBus().send(registryOf(id), new RouteChosen(id));
  }

  void released(ProxyConnection conn, int buffersStillHeld) {
    connections.remove(conn.id());
    conn.admission().release();
    vertx.eventBus().send(registryOf(conn.id()), new ReleaseAck(conn.id(), buffersStillHeld));
    if (allReleased != null && connections.isEmpty()) {
      allReleased.tryComplete();
    }
  }

  void releaseRanTwice(long id, ReleaseOrder order) {
    shared.metrics().doubleFreeDetected(LeakKind.RELEASE);
    log.error("conn={} release order {} arrived for a connection already releasing: double free detected",
      id, order.reason());
  }

  // ---- release orders and housekeeping ----------------------------------------------------------------------

  private void onReleaseOrder(ReleaseOrder order) {
    ProxyConnection conn = connections.get(order.id());
    if (conn == null) {
      shared.metrics().doubleFreeDetected(LeakKind.RELEASE);
      log.error("conn={} release order {} for a connection this listener no longer has: double free detected",
        order.id(), order.reason());
      return;
    }
    conn.release(order);
  }

  private void sweep() {
    long now = System.nanoTime();
    for (ProxyConnection c : connections.values()) {
      c.sweep(now);
    }
  }

  /**
   * Drains: stops accepting at once, lets open connections finish for {@code shutdown.drain-timeout}, then asks the
   * registry to close the rest with reason SHUTDOWN. Completes when every connection of this listener is released
   * and every check channel closed.
   */
  @Override
  public Future<?> stop() {
    int atStart = connections.size();
    long drainMs = options.drainTimeout().toMillis();
    // Channels still open after our own forced close had all the time it needs are closed by the backstop.
    long backstopMs = drainMs + 1000 + options.routes().stream()
      .mapToLong(r -> r.close().flushTimeout().toMillis() + r.connect().timeout().toMillis()).max().orElse(0);
    List<Future<Void>> closed = new ArrayList<>();
    for (Listening l : listening) {
      if (l.server != null) {
        Promise<Void> serverClosed = Promise.promise();
        l.server.close().addListener(f -> serverClosed.complete());
        closed.add(serverClosed.future());
      }
    }
    for (HealthChecker checker : checkers) {
      CompletableFuture<Void> done = checker.close();
      closed.add(Future.fromCompletionStage(done));
    }
    allReleased = Promise.promise();
    if (connections.isEmpty()) {
      allReleased.complete();
    }
    closed.add(allReleased.future());
    int[] forced = new int[1];
    long drainTimer = vertx.setTimer(Math.max(1, drainMs), t -> {
      List<ProxyConnection> open = new ArrayList<>(connections.values());
      for (ProxyConnection c : open) {
        if (c.stage().compareTo(ProxyConnection.Stage.RELEASING) < 0) {
          forced[0]++;
          c.fault(CloseReason.SHUTDOWN, Side.PROXY, "drain timeout of " + drainMs + " ms expired");
        }
      }
    });
    // Backstop: a connection whose release never completes (a bug) must not hold the shutdown forever.
    long backstopTimer = vertx.setTimer(backstopMs, t -> {
      for (ProxyConnection c : new ArrayList<>(connections.values())) {
        log.error("conn={} not released {} ms after the drain began; closing its channels", c.id(), backstopMs);
        c.closeChannelsNow();
      }
    });
    return Future.all(closed).onComplete(ar -> {
      vertx.cancelTimer(drainTimer);
      vertx.cancelTimer(backstopTimer);
      vertx.cancelTimer(sweepTimer);
      shared.metrics().removeLedger(ledger);
      shared.drainTally(atStart - forced[0], forced[0]);
      log.info("conn=- listener {} drained: {} connections ended on their own, {} closed by shutdown", index,
        atStart - forced[0], forced[0]);
    });
  }
}
