package dev.ferry.proxy;

import dev.ferry.metrics.Direction;
import dev.ferry.registry.Side;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.AsyncResult;
import io.vertx.core.internal.net.NetSocketInternal;

import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;

/**
 * Zero-copy relay of pooled Netty buffers between one client socket and its upstream socket. This is the only
 * class that touches Ferry's pooled buffers; it uses {@link NetSocketInternal} because the public
 * {@code NetSocket.handler} path copies every read twice.
 *
 * <h2>Ownership rules</h2>
 * <ol>
 *   <li>A {@link ByteBuf} delivered to a {@code messageHandler} is ours (refCnt 1): the ledger counts it as held.</li>
 *   <li>{@code writeMessage(buf)} hands it over: not held any more, never touched again, except:</li>
 *   <li>a write that fails with {@link NetSocketInternal#CLOSED_EXCEPTION} (compared by identity) never reached
 *       Netty, so ownership came back and we release it. Any other write failure means Netty released it
 *       already: releasing again would be the double free this project exists to prevent.</li>
 *   <li>A buffer that cannot be forwarded (the connection is releasing) is released here, once, through the
 *       ledger, which catches and counts a second release.</li>
 *   <li>Reads that Vert.x keeps for a paused socket stay inside Vert.x until {@code resume()}, even after close:
 *       {@link #beginRelease} and {@link #drain} resume the sockets so those reads come here and are
 *       forwarded (graceful end) or released.</li>
 * </ol>
 * Back-pressure: bytes handed to a sink and not yet written count as queued for that direction; above
 * {@code softLimit} the source is paused, at half of it resumed; above {@code hardLimit} the connection is
 * reported as overflowing. When the listener's connections together queue their share of
 * {@code limits.max-buffered-bytes}, the source that just forwarded waits until the total falls to half.
 * <p>
 * Threading: every method runs on the connection's event loop (client and upstream sockets share it).
 */
final class BufferRelay {

  /** Fault sites of the data path; implementations only publish a close request. */
  interface Faults {
    /** A write failed in Netty (e.g. reset while writing); Netty released the buffer. */
    void writeFailed(Side sink, Throwable cause);

    void overflow(Side sink, long queuedBytes);
  }

  private final class Leg {
    final Direction direction;
    final Side sinkSide;
    NetSocketInternal source;
    NetSocketInternal sink;
    long bytes;
    long queued;
    boolean backpressured;
    boolean waitingForBudget;
    boolean overflowReported;
    boolean forwardWhileReleasing;

    Leg(Direction direction, Side sinkSide) {
      this.direction = direction;
      this.sinkSide = sinkSide;
    }
  }

  private final long id;
  private final BufferLedger ledger;
  private final Faults faults;
  private final int softLimit;
  private final int hardLimit;
  private final Leg up = new Leg(Direction.UPSTREAM, Side.UPSTREAM);
  private final Leg down = new Leg(Direction.DOWNSTREAM, Side.CLIENT);
  /** Client bytes delivered before the upstream existed; normally empty because the client is paused. */
  private final ArrayDeque<ByteBuf> early = new ArrayDeque<>(2);
  private int held;
  private boolean connected;
  private boolean releasing;

  BufferRelay(long id, NetSocketInternal client, BufferLedger ledger, Faults faults, int softLimit, int hardLimit) {
    this.id = id;
    this.ledger = ledger;
    this.faults = faults;
    this.softLimit = softLimit;
    this.hardLimit = hardLimit;
    up.source = client;
    down.sink = client;
    client.messageHandler(msg -> onMessage(up, msg));
    // Paused until the upstream is connected. After messageHandler: pause() acts on the raw handler then.
    client.pause();
  }

  /** The upstream is connected: forward what arrived early, in order, then let the client flow. */
  void connected(NetSocketInternal upstream) {
    up.sink = upstream;
    down.source = upstream;
    upstream.messageHandler(msg -> onMessage(down, msg));
    if (releasing) {
      // A graceful client end during the connect: deliver what it sent; the caller closes after the flush.
      if (up.forwardWhileReleasing) {
        flushEarly();
      }
      return;
    }
    connected = true;
    flushEarly();
    resumeIfFree(up);
  }

  private void flushEarly() {
    ByteBuf buf;
    while ((buf = early.poll()) != null) {
      forward(up, buf);
    }
  }

  /** True while the client's bytes wait for an upstream to be delivered to (graceful end during the connect). */
  boolean awaitsUpstream() {
    return releasing && up.forwardWhileReleasing && up.sink == null;
  }

  /** No upstream will take the client's early bytes: release them. */
  void dropEarly() {
    ByteBuf buf;
    while ((buf = early.poll()) != null) {
      drop(buf);
    }
  }

  private void onMessage(Leg leg, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    held++;
    ledger.acquired(buf.readableBytes());
    if (releasing && !leg.forwardWhileReleasing) {
      drop(buf);
    } else if (leg.sink == null) {
      early.add(buf);
    } else {
      forward(leg, buf);
    }
  }

  private void forward(Leg leg, ByteBuf buf) {
    int n = buf.readableBytes();
    held--;
    ledger.handedOver(n);
    leg.bytes += n;
    leg.queued += n;
    ledger.queued(n);
    leg.sink.writeMessage(buf).onComplete(ar -> written(leg, buf, n, ar));
    if (leg.queued > hardLimit) {
      if (!leg.overflowReported && !releasing) {
        leg.overflowReported = true;
        faults.overflow(leg.sinkSide, leg.queued);
      }
    } else if (leg.queued >= softLimit && !leg.backpressured && !releasing) {
      leg.backpressured = true;
      leg.source.pause();
    }
    if (ledger.overBudget() && !leg.waitingForBudget && !releasing) {
      leg.waitingForBudget = true;
      leg.source.pause();
      ledger.awaitBudget(() -> {
        leg.waitingForBudget = false;
        resumeIfFree(leg);
      });
    }
  }

  /** Resumes a leg's source unless something still holds it: its own sink, the budget, the connect, the release. */
  private void resumeIfFree(Leg leg) {
    if (!leg.backpressured && !leg.waitingForBudget && !releasing && (leg != up || connected)) {
      leg.source.resume();
    }
  }

  private void written(Leg leg, ByteBuf buf, int n, AsyncResult<Void> ar) {
    leg.queued -= n;
    ledger.queued(-n);
    if (ar.failed()) {
      Throwable cause = ar.cause();
      if (cause == NetSocketInternal.CLOSED_EXCEPTION) {
        ledger.releaseReturned(id, buf);
      } else if (!releasing && !(cause instanceof ClosedChannelException)) {
        // A ClosedChannelException only echoes a close that the sink's close event reports with its real cause.
        faults.writeFailed(leg.sinkSide, cause);
      }
    }
    if (leg.backpressured && leg.queued <= softLimit / 2) {
      leg.backpressured = false;
      resumeIfFree(leg);
    }
  }

  private void drop(ByteBuf buf) {
    held--;
    ledger.release(id, buf, buf.readableBytes());
  }

  /**
   * The release began. Reads still held by Vert.x are delivered now: forwarded if their source ended in order
   * ({@code gracefulSource}) and the other side can still take them, released otherwise. A client that ended in
   * order while its upstream was still connecting keeps its bytes in {@code early} until the connect ends
   * ({@link #connected} forwards them, {@link #dropEarly} gives up).
   */
  void beginRelease(Side gracefulSource, boolean clientOpen, boolean upstreamOpen, boolean connectPending) {
    releasing = true;
    up.forwardWhileReleasing = gracefulSource == Side.CLIENT && (up.sink != null ? upstreamOpen : connectPending);
    down.forwardWhileReleasing = gracefulSource == Side.UPSTREAM && clientOpen;
    if (!up.forwardWhileReleasing) {
      dropEarly();
    }
    drain(up.source);
    if (down.source != null) {
      drain(down.source);
    }
  }

  /** Delivers whatever Vert.x still holds for {@code socket} (a paused socket keeps reads even after close). */
  void drain(NetSocketInternal socket) {
    socket.resume();
  }

  long bytes(Direction direction) {
    return direction == Direction.UPSTREAM ? up.bytes : down.bytes;
  }

  /** Buffers this connection holds right now; 0 once released. */
  int held() {
    return held;
  }
}
