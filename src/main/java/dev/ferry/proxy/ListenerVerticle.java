package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.registry.Addresses;
import dev.ferry.registry.CloseRequest;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.ConnectionOpened;
import dev.ferry.registry.ReleaseAck;
import dev.ferry.registry.ReleaseOrder;
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
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.util.NetUtil;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.net.NetServerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Owns the sockets of one event loop: its own listening socket (with {@code instances > 1}, every listener binds the
 * same port with {@code SO_REUSEPORT} and the kernel spreads the clients) and the upstream channels it connects, so a
 * client and its upstream live on this verticle's event loop and an accept never crosses threads. Accepts clients,
 * keeps their {@link ProxyConnection}s, executes the registry's release orders and acknowledges them. {@link #stop()}
 * drains.
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

  private final ProxyContext shared;
  private final FerryOptions options;
  /** The registry shard addresses, by shard index: built once, used for every lifecycle message. */
  private final String[] registryShards;
  private final Map<Long, ProxyConnection> connections = new HashMap<>();
  private int index;
  private String address;
  private BufferLedger ledger;
  private Channel server;
  private Bootstrap upstreams;
  /** {@code splice} as configured, when the transport can do it (native epoll). */
  private boolean splice;
  private int nextUpstream;
  /** {@link #nextUpstream}'s view of the upstream list it was built from (compared by identity: a reload swaps it). */
  private List<UpstreamAddress> targetsOf;
  private Target[] targets;
  private long sweepTimer = -1;
  private Promise<Void> allReleased;

  public ListenerVerticle(ProxyContext shared) {
    this.shared = shared;
    this.options = shared.options();
    this.registryShards = new String[options.registryShards()];
    for (int shard = 0; shard < registryShards.length; shard++) {
      registryShards[shard] = Addresses.registry(shard);
    }
  }

  @Override
  public Future<?> start() {
    index = shared.nextListenerIndex();
    address = Addresses.listener(index);
    nextUpstream = index;
    // Each listener enforces its share of the global budget on its own event loop: no cross-thread signalling.
    ledger = new BufferLedger(shared.metrics(), (long) options.maxBufferedBytes() / options.instances());
    shared.metrics().addLedger(ledger);
    VertxInternals internals = new VertxInternals(vertx, context);
    EventLoop loop = internals.eventLoop();
    splice = options.splice() && vertx.isNativeTransportEnabled();
    upstreams = new Bootstrap()
      .group(loop)
      .channelFactory(internals.channelFactory())
      .resolver(internals.resolver())
      .option(ChannelOption.TCP_NODELAY, true)
      .option(ChannelOption.AUTO_READ, false)
      .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
      .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark(options))
      .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, options.connectTimeout().toMillis()));
    MessageConsumer<ReleaseOrder> orders = vertx.eventBus().localConsumer(address, m -> onReleaseOrder(m.body()));
    long sweepMs = sweepIntervalMs(options);
    sweepTimer = vertx.setPeriodic(sweepMs, t -> sweep());
    // Port 0 means "any": the first listener binds an ephemeral port, the others bind the same one.
    Future<Integer> port = options.listenPort() != 0 || index == 0
      ? Future.succeededFuture(options.listenPort())
      : shared.boundPortFuture();
    return orders.completion()
      .compose(v -> port)
      .compose(p -> bind(internals, loop, p))
      .onComplete(ar -> {
        if (index == 0) {
          shared.bound(ar.map(ch -> ((InetSocketAddress) ch.localAddress()).getPort()));
        }
      })
      .map(ch -> {
        server = ch;
        return null;
      });
  }

  private Future<Channel> bind(VertxInternals internals, EventLoop loop, int port) {
    boolean reusePort = options.instances() > 1;
    ServerBootstrap sb = new ServerBootstrap()
      .group(loop, loop)
      .channelFactory(internals.serverChannelFactory())
      .childOption(ChannelOption.AUTO_READ, false)
      .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
      .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark(options))
      .childHandler(new Acceptor());
    internals.configure(new NetServerOptions()
      .setAcceptBacklog(options.listenBacklog())
      .setTcpNoDelay(true)
      .setReusePort(reusePort), sb);
    if (reusePort && !vertx.isNativeTransportEnabled()) {
      // Vert.x sets SO_REUSEPORT for its native transports only; Java NIO has it on Linux since JDK 9.
      sb.option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
    }
    Promise<Channel> bound = internals.promise();
    sb.bind(options.listenHost(), port).addListener(f -> {
      ChannelFuture cf = (ChannelFuture) f;
      if (cf.isSuccess()) {
        bound.complete(cf.channel());
      } else {
        bound.fail(cf.cause());
      }
    });
    return bound.future();
  }

  /** The accepted channels' first handler: hands the channel to {@link #accept} and leaves the pipeline. */
  @ChannelHandler.Sharable
  private final class Acceptor extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
      ctx.pipeline().remove(this);
      accept(ctx.channel());
      ctx.fireChannelRegistered();
    }
  }

  /**
   * Above the high mark ({@code buffer.soft-limit}) of a channel's write queue, the source that feeds it stops
   * reading until the queue falls to the low mark, half of it ({@link Backpressure}). Both kinds of channel also allow
   * half-closure: a FIN shuts only the input down, and the {@link Relay} passes it on after the last byte.
   */
  private static WriteBufferWaterMark waterMark(FerryOptions options) {
    return new WriteBufferWaterMark(options.bufferSoftLimit() / 2, options.bufferSoftLimit());
  }

  /** A quarter of the shortest timer the sweep serves (idle, half-closed), between 10 ms and 1 s. */
  static long sweepIntervalMs(FerryOptions options) {
    long shortest = Math.min(positiveOrMax(options.idleTimeout().toMillis()),
      positiveOrMax(options.halfClosedTimeout().toMillis()));
    return shortest == Long.MAX_VALUE ? 1000 : Math.max(10, Math.min(1000, shortest / 4));
  }

  private static long positiveOrMax(long ms) {
    return ms > 0 ? ms : Long.MAX_VALUE;
  }

  private void accept(Channel ch) {
    long id = shared.nextId();
    InetSocketAddress remote = (InetSocketAddress) ch.remoteAddress();
    String source = remote.getAddress().getHostAddress();
    ConnectionLimits.Refusal refusal = shared.limits().admit(source);
    ConnectionInfo info = new ConnectionInfo(id, source + ":" + remote.getPort(), System.currentTimeMillis(),
      System.nanoTime());
    ProxyConnection conn = new ProxyConnection(id, this, ch, info, refusal == null ? source : null);
    connections.put(id, conn);
    // Sent before any close request for this id: same sender, same shard, so the registry sees it first.
    vertx.eventBus().send(registryOf(id), new ConnectionOpened(info, address));
    if (refusal == null) {
      if (log.isDebugEnabled()) {
        log.debug("conn={} accepted from {} on listener {}", id, info.client(), index);
      }
      conn.start();
    } else {
      // Refused through the same path as any other end: the registry orders the release, the log line says LIMIT.
      conn.fault(CloseReason.LIMIT, Side.PROXY, refusal == ConnectionLimits.Refusal.TOTAL
        ? "over limits.max-connections (" + options.maxConnections() + ")"
        : "over limits.max-connections-per-source (" + options.maxConnectionsPerSource() + ") for " + source);
    }
  }

  // ---- called by ProxyConnection (same event loop) ----------------------------------------------------------

  FerryOptions options() {
    return options;
  }

  FerryMetrics metrics() {
    return shared.metrics();
  }

  BufferLedger ledger() {
    return ledger;
  }

  boolean splice() {
    return splice;
  }

  /**
   * An upstream as the connects use it: an IP literal is resolved once here, so its connects skip the resolver; a
   * host name stays unresolved and goes through Vert.x's resolver (and its cache) on every connect.
   */
  record Target(SocketAddress socketAddress, String label) {
    static Target of(UpstreamAddress u) {
      InetAddress literal = NetUtil.createInetAddressFromIpAddressString(u.host());
      SocketAddress sa = literal != null ? new InetSocketAddress(literal, u.port())
        : InetSocketAddress.createUnresolved(u.host(), u.port());
      return new Target(sa, u.toString());
    }

    @Override
    public String toString() {
      return label;
    }
  }

  /**
   * Connects a new upstream channel on this event loop, with {@code relay} as its pipeline's handler. The bootstrap
   * is this listener's alone and {@code connect} adds the handler to the new channel before it returns, so setting
   * the handler just before is safe (and saves a clone per connect).
   */
  ChannelFuture connect(Target target, Relay relay) {
    return upstreams.handler(relay).connect(target.socketAddress());
  }

  Target nextUpstream() {
    // One snapshot per call: a reload may swap the list (and its size) between calls, never within one.
    List<UpstreamAddress> all = shared.upstreams();
    if (all != targetsOf) {
      Target[] t = new Target[all.size()];
      for (int i = 0; i < t.length; i++) {
        t[i] = Target.of(all.get(i));
      }
      targets = t;
      targetsOf = all;
    }
    Target a = targets[Math.floorMod(nextUpstream, targets.length)];
    nextUpstream++;
    return a;
  }

  /** The shard that serialises every message about {@code id}. */
  private String registryOf(long id) {
    return registryShards[Addresses.shardOf(id, registryShards.length)];
  }

  /** The only way a fault becomes a close: a request to the registry shard of the id. */
  void requestClose(long id, CloseReason reason, Side side, String detail) {
    vertx.eventBus().send(registryOf(id), new CloseRequest(id, reason, side, detail));
  }

  void released(ProxyConnection conn, int buffersStillHeld) {
    connections.remove(conn.id());
    if (conn.admittedSource() != null) {
      shared.limits().release(conn.admittedSource());
    }
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
    long idle = options.idleTimeout().toNanos();
    long halfClosed = options.halfClosedTimeout().toNanos();
    for (ProxyConnection c : connections.values()) {
      c.sweep(now, idle, halfClosed);
    }
  }

  /**
   * Drains: stops accepting at once, lets open connections finish for {@code shutdown.drain-timeout}, then asks the
   * registry to close the rest with reason SHUTDOWN. Completes when every connection of this listener is released.
   */
  @Override
  public Future<?> stop() {
    int atStart = connections.size();
    long drainMs = options.drainTimeout().toMillis();
    // Channels still open after our own forced close had all the time it needs are closed by the backstop.
    long backstopMs = drainMs + options.closeFlushTimeout().toMillis() + options.connectTimeout().toMillis() + 1000;
    Promise<Void> serverClosed = Promise.promise();
    server.close().addListener(f -> serverClosed.complete());
    allReleased = Promise.promise();
    if (connections.isEmpty()) {
      allReleased.complete();
    }
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
    return Future.all(allReleased.future(), serverClosed.future()).onComplete(ar -> {
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
