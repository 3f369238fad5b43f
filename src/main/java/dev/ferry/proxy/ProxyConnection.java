package dev.ferry.proxy;

import dev.ferry.registry.ConnectionInfo;
import dev.ferry.registry.ReleaseOrder;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ConnectTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.ConnectException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One proxied connection: the client socket, its upstream socket, their timers and (through its
 * {@link BufferRelay}) every buffer they hold. It wires every handler of both sockets in one place.
 * <p>
 * Two rules keep the lifecycle honest:
 * <ul>
 *   <li><b>Fault sites only publish.</b> An exception, a close, a failed write, a failed connect, idleness or an
 *       overflow becomes a close request to the registry ({@link #fault}) and nothing else: no close, no release
 *       where the fault is noticed.</li>
 *   <li><b>Only {@link #release} ends the connection</b>, once, when the registry orders it: it closes both
 *       channels (queued writes first, forced after {@code close.flush-timeout}), waits for both close events and
 *       acknowledges. Socket events after the release began are its own consequences and are not
 *       published again. A second order is a detected double free.</li>
 * </ul>
 * Threading: every method runs on the owning listener's event loop.
 */
final class ProxyConnection implements BufferRelay.Faults {

  private static final Logger log = LoggerFactory.getLogger(ProxyConnection.class);

  /** Lifecycle stages, in order. */
  enum Stage { CONNECTING, ESTABLISHED, RELEASING, RELEASED }

  private final long id;
  private final ListenerVerticle owner;
  private final Channel client;
  private final ConnectionInfo info;
  private final BufferRelay relay;
  /** The client IP counted by the connection limits, or null when the client was refused (LIMIT). */
  private final String admittedSource;
  private Channel upstream;
  private Stage stage = Stage.CONNECTING;
  private boolean clientClosed;
  private boolean upstreamClosed;
  private boolean connectInFlight;
  /** The flush bound of the release: a Netty task on this loop (a Vert.x timer would add a context close hook each). */
  private ScheduledFuture<?> forceCloseTimer;
  private long idleSinceNanos;
  private long lastSeenBytes;
  private boolean idleReported;
  private long reportedUp;
  private long reportedDown;

  /**
   * @param client the accepted channel, registered on the owner's event loop and not reading yet: its pipeline gets
   *               the {@link BufferRelay}, which starts its reads once the upstream connects
   */
  ProxyConnection(long id, ListenerVerticle owner, Channel client, ConnectionInfo info, String admittedSource) {
    this.id = id;
    this.owner = owner;
    this.client = client;
    this.info = info;
    this.admittedSource = admittedSource;
    this.relay = new BufferRelay(id, client, owner.ledger(), this, owner.options().bufferSoftLimit(),
      owner.options().bufferHardLimit(), owner.splice());
    client.pipeline().addLast(relay);
  }

  long id() {
    return id;
  }

  ConnectionInfo info() {
    return info;
  }

  Stage stage() {
    return stage;
  }

  String admittedSource() {
    return admittedSource;
  }

  void start() {
    connect(1);
  }

  // ---- connect ----------------------------------------------------------------------------------------------

  private void connect(int attempt) {
    ListenerVerticle.Target target = owner.nextUpstream();
    long startNanos = System.nanoTime();
    connectInFlight = true;
    owner.connect(target, relay).addListener(f -> onConnect(attempt, target, startNanos, (ChannelFuture) f));
  }

  private void onConnect(int attempt, ListenerVerticle.Target target, long startNanos, ChannelFuture ar) {
    connectInFlight = false;
    long now = System.nanoTime();
    owner.metrics().connectAttempt(ar.isSuccess(), now - startNanos);
    if (ar.isSuccess()) {
      upstream = ar.channel();
      info.upstream(target.label());
      relay.connected(upstream);
      if (stage == Stage.RELEASING) {
        // relay.connected has forwarded what the client sent before it ended; the close is queued behind it.
        log.debug("conn={} upstream {} connected after the release began; closing it after the flush", id, target);
        BufferRelay.closeAfterFlush(upstream);
        if (forceCloseTimer == null) {
          // The release's flush bound already expired while connecting: this flush gets its own.
          forceCloseTimer = scheduleForceClose();
        }
        return;
      }
      stage = Stage.ESTABLISHED;
      info.stage(stage.name());
      info.connected(now - info.openedAtNanos());
      idleSinceNanos = now;
      if (log.isDebugEnabled()) {
        log.debug("conn={} connected to {} (attempt {})", id, target, attempt);
      }
      return;
    }
    Throwable cause = ar.cause();
    if (cause == null) {
      cause = new IllegalStateException("connect cancelled");
    }
    if (stage == Stage.RELEASING) {
      if (relay.awaitsUpstream() && attempt < owner.options().connectAttempts()) {
        log.debug("conn={} connect attempt {} to {} failed during the release; the client's bytes still wait",
          id, attempt, target);
        connect(attempt + 1);
        return;
      }
      relay.dropEarly();
      maybeFinish();
      return;
    }
    if (attempt < owner.options().connectAttempts()) {
      log.debug("conn={} connect attempt {} to {} failed: {}; trying the next upstream", id, attempt, target,
        describe(cause));
      connect(attempt + 1);
    } else {
      CloseReason reason = cause instanceof ConnectTimeoutException ? CloseReason.CONNECT_TIMEOUT
        : CloseReason.CONNECT_FAILED;
      fault(reason, Side.UPSTREAM, "attempt " + attempt + " to " + target + ": " + describe(cause));
    }
  }

  // ---- fault sites: publish only ----------------------------------------------------------------------------

  /** Publishes a close request, unless the release already began (then the event is its own consequence). */
  void fault(CloseReason reason, Side side, String detail) {
    if (stage.compareTo(Stage.RELEASING) >= 0) {
      if (log.isDebugEnabled()) {
        log.debug("conn={} {} on {} during release: not published", id, reason, side.label());
      }
      return;
    }
    owner.requestClose(id, reason, side, detail);
  }

  @Override
  public void writeFailed(Side sink, Throwable cause) {
    // A reset noticed by a write is still a reset: the reason names the cause, the detail the operation.
    CloseReason reason = classify(cause) == CloseReason.PEER_RESET ? CloseReason.PEER_RESET : CloseReason.WRITE_FAILED;
    fault(reason, sink, "write: " + describe(cause));
  }

  @Override
  public void overflow(Side sink, long queuedBytes) {
    fault(CloseReason.OVERFLOW, sink, queuedBytes + " bytes queued for the " + sink.label()
      + ", hard limit " + owner.options().bufferHardLimit());
  }

  @Override
  public void exception(Side side, Throwable cause) {
    fault(classify(cause), side, describe(cause));
  }

  @Override
  public void closed(Side side) {
    if (side == Side.CLIENT) {
      clientClosed = true;
    } else {
      upstreamClosed = true;
    }
    if (stage.compareTo(Stage.RELEASING) < 0) {
      fault(CloseReason.PEER_CLOSED, side, "connection closed");
    } else {
      maybeFinish();
    }
  }

  /** Called by the listener's sweep: idle detection and byte metrics. */
  void sweep(long nowNanos, long idleTimeoutNanos) {
    if (stage != Stage.ESTABLISHED) {
      return;
    }
    reportBytes();
    long total = reportedUp + reportedDown;
    long splicedQuiet = relay.splicedQuietMillis();
    if (splicedQuiet >= 0) {
      idleSinceNanos = Math.max(idleSinceNanos, nowNanos - splicedQuiet * 1_000_000);
    }
    if (total != lastSeenBytes) {
      lastSeenBytes = total;
      idleSinceNanos = nowNanos;
    } else if (idleTimeoutNanos > 0 && !idleReported && nowNanos - idleSinceNanos >= idleTimeoutNanos) {
      idleReported = true;
      fault(CloseReason.IDLE_TIMEOUT, Side.PROXY, "no byte moved for " + idleTimeoutNanos / 1_000_000 + " ms");
    }
  }

  // ---- the one release --------------------------------------------------------------------------------------

  /** Executes the registry's release order. Runs at most once; a second call is a detected double free. */
  void release(ReleaseOrder order) {
    if (stage.compareTo(Stage.RELEASING) >= 0) {
      owner.releaseRanTwice(id, order);
      return;
    }
    stage = Stage.RELEASING;
    info.stage(stage.name());
    Side graceful = order.reason() == CloseReason.PEER_CLOSED ? order.side() : null;
    relay.beginRelease(graceful, upstream != null && !upstreamClosed, connectInFlight);
    if (!clientClosed) {
      BufferRelay.closeAfterFlush(client);
    }
    if (upstream != null && !upstreamClosed) {
      BufferRelay.closeAfterFlush(upstream);
    }
    forceCloseTimer = scheduleForceClose();
    maybeFinish();
  }

  /** Bounds the flush of a release by {@code close.flush-timeout}. */
  private ScheduledFuture<?> scheduleForceClose() {
    return client.eventLoop().schedule(this::forceClose, owner.options().closeFlushTimeout().toNanos(),
      TimeUnit.NANOSECONDS);
  }

  /** The peers did not take the queued bytes within the flush timeout: close the channels without flushing. */
  private void forceClose() {
    forceCloseTimer = null;
    log.warn("conn={} queued writes not flushed within {} ms; closing without flush", id,
      owner.options().closeFlushTimeout().toMillis());
    closeChannelsNow();
  }

  /** Closes whatever channel is still open, without flushing; their close events finish the release. */
  void closeChannelsNow() {
    if (!clientClosed) {
      BufferRelay.forceClose(client);
    }
    if (upstream != null && !upstreamClosed) {
      BufferRelay.forceClose(upstream);
    }
  }

  private void maybeFinish() {
    if (stage != Stage.RELEASING || !clientClosed || connectInFlight || (upstream != null && !upstreamClosed)) {
      return;
    }
    stage = Stage.RELEASED;
    info.stage(stage.name());
    if (forceCloseTimer != null) {
      forceCloseTimer.cancel(false);
      forceCloseTimer = null;
    }
    reportBytes();
    owner.released(this, relay.held());
  }

  private void reportBytes() {
    long up = relay.bytes(Direction.UPSTREAM);
    long down = relay.bytes(Direction.DOWNSTREAM);
    if (up != reportedUp || down != reportedDown) {
      owner.metrics().bytes(Direction.UPSTREAM, up - reportedUp);
      owner.metrics().bytes(Direction.DOWNSTREAM, down - reportedDown);
      reportedUp = up;
      reportedDown = down;
      info.bytes(up, down);
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  static CloseReason classify(Throwable t) {
    String m = t.getMessage();
    if (m != null && (m.contains("Connection reset") || m.contains("Broken pipe"))) {
      return CloseReason.PEER_RESET;
    }
    return CloseReason.IO_ERROR;
  }

  private static String describe(Throwable t) {
    if (t instanceof ConnectException || t.getMessage() == null) {
      return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }
    return t.getMessage();
  }
}
