package dev.ferry.proxy;

import dev.ferry.metrics.Direction;
import dev.ferry.registry.Side;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;

/**
 * Zero-copy relay of pooled Netty buffers between one client channel and its upstream channel, installed as the last
 * handler of both pipelines. This is the only class that touches Ferry's pooled buffers and the only one that reads
 * or writes the channels.
 *
 * <h2>Ownership rules</h2>
 * <ol>
 *   <li>A {@link ByteBuf} delivered to {@link #channelRead} is ours (refCnt 1): the ledger counts it as held.</li>
 *   <li>{@code sink.write(buf, promise)} hands it over: not held any more, never touched again. Netty releases it
 *       whatever happens to the write, including a write to a channel that is already closed (the promise then fails
 *       with a {@link ClosedChannelException}). No write failure ever gives a buffer back.</li>
 *   <li>A buffer that cannot be forwarded (the connection is releasing) is released here, once, through the ledger,
 *       which catches and counts a second release.</li>
 *   <li>Nothing is kept inside a transport layer: a read is delivered only while the channel reads, and every read
 *       is forwarded or released before {@link #channelRead} returns, except the client's bytes that arrive before
 *       the upstream exists ({@code early}), which {@link #connected} forwards or {@link #dropEarly} releases.</li>
 * </ol>
 * Back-pressure: bytes handed to a sink and not yet written count as queued for that direction; above
 * {@code softLimit} the source stops reading ({@code autoRead} off), at half of it reads again; above
 * {@code hardLimit} the connection is reported as overflowing. When the listener's connections together queue their
 * share of {@code limits.max-buffered-bytes}, the source that just forwarded waits until the total falls to half.
 * <p>
 * Flush policy: writes made while reading a source are flushed once, when that source's read burst ends
 * ({@code channelReadComplete}); writes made outside a read are flushed at once.
 * <p>
 * Threading: every method runs on the connection's event loop (client and upstream channels share it). The relay is
 * {@link ChannelHandler.Sharable} only in the sense that it sits in exactly these two pipelines.
 */
@ChannelHandler.Sharable
final class BufferRelay extends ChannelInboundHandlerAdapter {

  /** Fault sites of the data path and the channel events; implementations only publish a close request. */
  interface Faults {
    /** A write failed in Netty (e.g. reset while writing); Netty released the buffer. */
    void writeFailed(Side sink, Throwable cause);

    void overflow(Side sink, long queuedBytes);

    /** An exception surfaced in a channel's pipeline (a read error, typically). */
    void exception(Side side, Throwable cause);

    /** The channel of {@code side} closed; fires exactly once per channel that became active. */
    void closed(Side side);
  }

  /**
   * One direction. It is also the listener of every write it makes: writes on one channel complete in the order they
   * were made, so the sizes of the writes in flight are a FIFO ({@link #sizes}) and no per-write closure is needed.
   */
  private final class Leg implements ChannelFutureListener {
    final Direction direction;
    final Side sinkSide;
    Channel source;
    Channel sink;
    long bytes;
    long queued;
    /** Sizes of the writes whose promise has not completed yet, oldest at {@code head}. */
    int[] sizes = new int[2];
    int head;
    int count;
    /** A write was made while reading the source and is not flushed yet. */
    boolean unflushed;
    boolean backpressured;
    boolean waitingForBudget;
    boolean overflowReported;
    /** Every write queued behind a failed one fails the same way: the first failure is the one reported. */
    boolean writeFailureReported;
    boolean forwardWhileReleasing;

    Leg(Direction direction, Side sinkSide) {
      this.direction = direction;
      this.sinkSide = sinkSide;
    }

    void pushSize(int n) {
      if (count == sizes.length) {
        int[] grown = new int[sizes.length * 2];
        for (int i = 0; i < count; i++) {
          grown[i] = sizes[(head + i) % sizes.length];
        }
        sizes = grown;
        head = 0;
      }
      sizes[(head + count) % sizes.length] = n;
      count++;
    }

    int popSize() {
      int n = sizes[head];
      head = (head + 1) % sizes.length;
      count--;
      return n;
    }

    @Override
    public void operationComplete(ChannelFuture future) {
      written(this, popSize(), future);
    }
  }

  private final long id;
  private final BufferLedger ledger;
  private final Faults faults;
  private final int softLimit;
  private final int hardLimit;
  private final Leg up = new Leg(Direction.UPSTREAM, Side.UPSTREAM);
  private final Leg down = new Leg(Direction.DOWNSTREAM, Side.CLIENT);
  /** Client bytes delivered before the upstream existed; created on first use, normally never. */
  private ArrayDeque<ByteBuf> early;
  private int held;
  private boolean connected;
  private boolean releasing;

  /**
   * @param client the accepted channel, not reading yet ({@code autoRead} off): it reads once the upstream connects
   */
  BufferRelay(long id, Channel client, BufferLedger ledger, Faults faults, int softLimit, int hardLimit) {
    this.id = id;
    this.ledger = ledger;
    this.faults = faults;
    this.softLimit = softLimit;
    this.hardLimit = hardLimit;
    up.source = client;
    down.sink = client;
  }

  /** The upstream is connected: forward what arrived early, in order, then let both sides read. */
  void connected(Channel upstream) {
    up.sink = upstream;
    down.source = upstream;
    if (releasing) {
      // A graceful client end during the connect: deliver what it sent; the caller closes after the flush.
      if (up.forwardWhileReleasing) {
        flushEarly();
      }
      return;
    }
    connected = true;
    flushEarly();
    upstream.config().setAutoRead(true);
    resumeIfFree(up);
  }

  private void flushEarly() {
    if (early == null) {
      return;
    }
    ByteBuf buf;
    boolean any = false;
    while ((buf = early.poll()) != null) {
      forward(up, buf);
      any = true;
    }
    if (any) {
      up.unflushed = false;
      up.sink.flush();
    }
  }

  /** True while the client's bytes wait for an upstream to be delivered to (graceful end during the connect). */
  boolean awaitsUpstream() {
    return releasing && up.forwardWhileReleasing && up.sink == null;
  }

  /** No upstream will take the client's early bytes: release them. */
  void dropEarly() {
    if (early == null) {
      return;
    }
    ByteBuf buf;
    while ((buf = early.poll()) != null) {
      drop(buf);
    }
  }

  // ---- channel events (both pipelines) ----------------------------------------------------------------------

  private Leg legFromSource(Channel ch) {
    return ch == up.source ? up : down;
  }

  private Side sideOf(Channel ch) {
    return ch == up.source ? Side.CLIENT : Side.UPSTREAM;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    Leg leg = legFromSource(ctx.channel());
    held++;
    ledger.acquired(buf.readableBytes());
    if (releasing && !leg.forwardWhileReleasing) {
      drop(buf);
    } else if (leg.sink == null) {
      if (early == null) {
        early = new ArrayDeque<>(4);
      }
      early.add(buf);
    } else {
      forward(leg, buf);
      leg.unflushed = true;
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    Leg leg = legFromSource(ctx.channel());
    if (leg.unflushed) {
      leg.unflushed = false;
      leg.sink.flush();
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    faults.exception(sideOf(ctx.channel()), cause);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    Channel ch = ctx.channel();
    Leg leg = legFromSource(ch);
    // Writes made in this burst and not flushed yet: the sink may still take them.
    if (leg.unflushed) {
      leg.unflushed = false;
      leg.sink.flush();
    }
    faults.closed(sideOf(ch));
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    // Pipeline events (e.g. input shutdown notices): Ferry ends connections on its own terms, so they are only
    // released.
    ReferenceCountUtil.release(evt);
  }

  // ---- forwarding -------------------------------------------------------------------------------------------

  private void forward(Leg leg, ByteBuf buf) {
    int n = buf.readableBytes();
    held--;
    ledger.handedOver(n);
    leg.bytes += n;
    leg.queued += n;
    ledger.queued(n);
    leg.pushSize(n);
    leg.sink.write(buf, leg.sink.newPromise().addListener(leg));
    if (leg.queued > hardLimit) {
      if (!leg.overflowReported && !releasing) {
        leg.overflowReported = true;
        leg.source.config().setAutoRead(false);
        // Reported after the current read burst: a burst forced by a peer's FIN or reset reads to the end whatever
        // autoRead says, and the reset or close it ends with is the real cause, so it is published first.
        long queuedNow = leg.queued;
        leg.source.eventLoop().execute(() -> {
          // A channel that closed meanwhile reports its own end; the overflow is only its consequence then.
          if (!releasing && leg.source.isActive() && leg.sink.isActive()) {
            faults.overflow(leg.sinkSide, queuedNow);
          }
        });
      }
    } else if (leg.queued >= softLimit && !leg.backpressured && !releasing) {
      leg.backpressured = true;
      leg.source.config().setAutoRead(false);
    }
    if (ledger.overBudget() && !leg.waitingForBudget && !releasing) {
      leg.waitingForBudget = true;
      leg.source.config().setAutoRead(false);
      ledger.awaitBudget(() -> {
        leg.waitingForBudget = false;
        resumeIfFree(leg);
      });
    }
  }

  /** Resumes a leg's source unless something still holds it: its own sink, the budget, the connect, the release. */
  private void resumeIfFree(Leg leg) {
    if (!leg.backpressured && !leg.waitingForBudget && !releasing && (leg != up || connected)) {
      leg.source.config().setAutoRead(true);
    }
  }

  private void written(Leg leg, int n, ChannelFuture future) {
    leg.queued -= n;
    ledger.queued(-n);
    if (!future.isSuccess()) {
      Throwable cause = future.cause();
      // Netty released the buffer. A ClosedChannelException only echoes a close that the sink's close event
      // reports with its real cause.
      if (!releasing && !leg.writeFailureReported && !(cause instanceof ClosedChannelException)) {
        leg.writeFailureReported = true;
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

  // ---- release ----------------------------------------------------------------------------------------------

  /**
   * The release began. From now on reads are released, except the early bytes of a client that ended in order while
   * its upstream was still connecting: they stay in {@code early} until the connect ends ({@link #connected}
   * forwards them, {@link #dropEarly} gives up).
   */
  void beginRelease(Side gracefulSource, boolean upstreamOpen, boolean connectPending) {
    releasing = true;
    up.forwardWhileReleasing = gracefulSource == Side.CLIENT && (up.sink != null ? upstreamOpen : connectPending);
    if (!up.forwardWhileReleasing) {
      dropEarly();
    }
  }

  /**
   * Closes {@code ch} once everything written to it so far is flushed ("close on flush"); a sink that does not take
   * its bytes is closed by the caller's flush timeout ({@link #forceClose}).
   */
  static void closeAfterFlush(Channel ch) {
    ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
  }

  /** Closes {@code ch} now; writes still queued fail and Netty releases their buffers. */
  static void forceClose(Channel ch) {
    ch.close();
  }

  long bytes(Direction direction) {
    return direction == Direction.UPSTREAM ? up.bytes : down.bytes;
  }

  /** Buffers this connection holds right now; 0 once released. */
  int held() {
    return held;
  }
}
