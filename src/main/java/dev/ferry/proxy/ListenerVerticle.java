package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.LeakKind;
import dev.ferry.registry.Addresses;
import dev.ferry.registry.CloseReason;
import dev.ferry.registry.CloseRequest;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.ConnectionOpened;
import dev.ferry.registry.ReleaseAck;
import dev.ferry.registry.ReleaseOrder;
import dev.ferry.registry.Side;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Owns the sockets of one event loop: a share of the proxy's NetServer and its own NetClient, so a client and its
 * upstream live on the same event loop. Accepts clients, keeps their {@link ProxyConnection}s, executes the
 * registry's release orders and acknowledges them. {@link #stop()} drains.
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
  private NetServer server;
  private NetClient client;
  private int nextUpstream;
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
    client = vertx.createNetClient(new NetClientOptions()
      .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.connectTimeout().toMillis()))
      .setTcpNoDelay(true));
    // Port 0 means "any": -1 makes every instance share one ephemeral port, as a fixed port is shared.
    int port = options.listenPort() == 0 ? -1 : options.listenPort();
    server = vertx.createNetServer(new NetServerOptions()
      .setHost(options.listenHost())
      .setPort(port)
      .setAcceptBacklog(options.listenBacklog())
      .setTcpNoDelay(true));
    server.connectHandler(this::accept);
    MessageConsumer<ReleaseOrder> orders = vertx.eventBus().localConsumer(address, m -> onReleaseOrder(m.body()));
    long sweepMs = sweepIntervalMs(options);
    sweepTimer = vertx.setPeriodic(sweepMs, t -> sweep());
    return orders.completion()
      .compose(v -> server.listen())
      .onSuccess(s -> shared.bound(s.actualPort()));
  }

  static long sweepIntervalMs(FerryOptions options) {
    long idle = options.idleTimeout().toMillis();
    return idle <= 0 ? 1000 : Math.max(10, Math.min(1000, idle / 4));
  }

  private void accept(NetSocket socket) {
    NetSocketInternal so = (NetSocketInternal) socket;
    long id = shared.nextId();
    String source = so.remoteAddress().hostAddress();
    ConnectionLimits.Refusal refusal = shared.limits().admit(source);
    ConnectionInfo info = new ConnectionInfo(id, String.valueOf(so.remoteAddress()), System.currentTimeMillis(),
      System.nanoTime());
    ProxyConnection conn = new ProxyConnection(id, this, so, info, refusal == null ? source : null);
    connections.put(id, conn);
    // Sent before any close request for this id: same sender, same shard, so the registry sees it first.
    vertx.eventBus().send(registryOf(id), new ConnectionOpened(info, address));
    if (refusal == null) {
      log.debug("conn={} accepted from {} on listener {}", id, info.client(), index);
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

  Vertx vertx() {
    return vertx;
  }

  FerryMetrics metrics() {
    return shared.metrics();
  }

  BufferLedger ledger() {
    return ledger;
  }

  NetClient netClient() {
    return client;
  }

  UpstreamAddress nextUpstream() {
    // One snapshot per call: a reload may swap the list (and its size) between calls, never within one.
    List<UpstreamAddress> all = shared.upstreams();
    UpstreamAddress a = all.get(Math.floorMod(nextUpstream, all.size()));
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
    for (ProxyConnection c : connections.values()) {
      c.sweep(now, idle);
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
    // Vert.x closes this share's sockets itself only after our own forced close had all the time it needs.
    long backstopMs = drainMs + options.closeFlushTimeout().toMillis() + options.connectTimeout().toMillis() + 1000;
    Future<Void> serverClosed = server.shutdown(backstopMs, TimeUnit.MILLISECONDS);
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
    return Future.all(allReleased.future(), serverClosed).onComplete(ar -> {
      vertx.cancelTimer(drainTimer);
      vertx.cancelTimer(sweepTimer);
      shared.metrics().removeLedger(ledger);
      shared.drainTally(atStart - forced[0], forced[0]);
      log.info("conn=- listener {} drained: {} connections ended on their own, {} closed by shutdown", index,
        atStart - forced[0], forced[0]);
    });
  }
}
