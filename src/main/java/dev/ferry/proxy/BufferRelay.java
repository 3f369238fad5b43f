package dev.ferry.proxy;

import dev.ferry.metrics.FerryMetrics;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollChannelConfig;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
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
 * Splice ({@code splice: true}, epoll only): a direction whose last {@link #SPLICE_STREAK} reads each filled at least
 * {@link #SPLICE_READ} bytes is a bulk stream (HAProxy's "streamer" idea; a request/response exchange never reads
 * that much at once, however long it lives) and switches to {@code splice(2)}: the kernel moves its bytes socket → pipe → socket and no buffer of ours is
 * involved ({@link AbstractEpollStreamChannel#spliceTo}, level-triggered). Bytes written before the switch stay
 * ahead of the spliced ones in the sink's outbound queue, so the order holds. Netty stops the source while the sink
 * cannot take more. The splice runs in chunks of {@link #SPLICE_CHUNK}: each completed chunk is counted and the next
 * one queued at once, so a spliced direction's byte count is exact up to less than one chunk. Idleness of a spliced
 * direction is read from the kernel ({@code TCP_INFO} last data received), not from the count.
 * <p>
 * Threading: every method runs on the connection's event loop (client and upstream channels share it). The relay is
 * {@link ChannelHandler.Sharable} only in the sense that it sits in exactly these two pipelines.
 */
@ChannelHandler.Sharable
final class BufferRelay extends ChannelInboundHandlerAdapter {

  /** A read at least this large is a "full" read: the source had more to give than a small exchange does. */
  static final int SPLICE_READ = 32 * 1024;
  /** Consecutive full reads that make a direction a bulk stream, switched to splice (when splicing is enabled). */
  static final int SPLICE_STREAK = 4;
  /** Bytes per splice request; a completed one is counted. */
  static final int SPLICE_CHUNK = 256 * 1024;
  /** Read size when draining a spliced source after its peer's FIN. */
  private static final int DRAIN_READ = 64 * 1024;

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
    /** Non-null once this direction splices: completes each chunk. */
    ChannelFutureListener spliced;
    /** The spliced source's end was seen and what the kernel still held was read through buffers. */
    boolean drained;
    /** Consecutive reads of at least {@link #SPLICE_READ} bytes (splice detection). */
    int fullReads;
    /** The drain of a spliced source waits for its sink to take what was queued. */
    boolean drainPending;

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
  private final boolean splice;
  private final FerryMetrics metrics;

  /**
   * @param client the accepted channel, not reading yet ({@code autoRead} off): it reads once the upstream connects
   * @param splice   whether bulk directions switch to {@code splice(2)}; both channels must be epoll channels
   */
  BufferRelay(long id, Channel client, BufferLedger ledger, Faults faults, int softLimit, int hardLimit,
              boolean splice) {
    this.metrics = ledger.metrics();
    this.id = id;
    this.splice = splice;
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
    if (evt instanceof ChannelInputShutdownEvent || evt instanceof ChannelInputShutdownReadComplete) {
      Leg leg = legFromSource(ctx.channel());
      if (leg.spliced != null && !leg.drained) {
        leg.drained = true;
        drainSplicedSource(leg);
      }
    }
    // Other pipeline events: Ferry ends connections on its own terms, so they are only released.
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
    if (splice && leg.spliced == null && !releasing) {
      if (n < SPLICE_READ) {
        leg.fullReads = 0;
      } else if (++leg.fullReads >= SPLICE_STREAK) {
        startSplice(leg);
      }
    }
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
    if (leg.drainPending && leg.queued <= softLimit / 2) {
      drainSplicedSource(leg);
    }
  }

  // ---- splice ------------------------------------------------------------------------------------------------

  /**
   * Switches {@code leg} to splice. Called while its source is being read: the source's read loop picks the splice
   * request up on its next turn; what this burst already wrote is queued ahead of it in the sink.
   */
  private void startSplice(Leg leg) {
    // Netty's splice closes a source at its peer's FIN after one splice pass, dropping what the socket still holds
    // (observed: 6.2 of 8 MiB arrived). With half-closure Netty only shuts the input down and tells us
    // (ChannelInputShutdownEvent): we read the rest through buffers, then close the source (drainSplicedSource).
    leg.source.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    ((EpollChannelConfig) leg.source.config()).setEpollMode(EpollMode.LEVEL_TRIGGERED);
    ((EpollChannelConfig) leg.sink.config()).setEpollMode(EpollMode.LEVEL_TRIGGERED);
    leg.spliced = f -> spliced(leg, f);
    metrics.spliceStarted(leg.direction);
    spliceNext(leg);
  }

  private void spliceNext(Leg leg) {
    if (releasing || !leg.source.isActive() || !leg.sink.isActive()) {
      return;
    }
    ((AbstractEpollStreamChannel) leg.source).spliceTo((AbstractEpollStreamChannel) leg.sink, SPLICE_CHUNK)
      .addListener(leg.spliced);
  }

  private void spliced(Leg leg, ChannelFuture f) {
    if (f.isSuccess()) {
      leg.bytes += SPLICE_CHUNK;
      spliceNext(leg);
      return;
    }
    Throwable cause = f.cause();
    if (releasing || cause instanceof ClosedChannelException) {
      return;
    }
    // A failed splice names no side: a sink that closed is the one that failed, otherwise the read did.
    if (!leg.sink.isActive()) {
      if (!leg.writeFailureReported) {
        leg.writeFailureReported = true;
        faults.writeFailed(leg.sinkSide, cause);
      }
    } else {
      faults.exception(leg.sinkSide == Side.UPSTREAM ? Side.CLIENT : Side.UPSTREAM, cause);
    }
  }

  /**
   * The spliced source's peer ended (FIN) and Netty shut the input down, so Netty no longer reads it: Ferry reads
   * what the socket still holds through pooled buffers, in order behind the spliced bytes (those are queued in the
   * sink already), with the usual back-pressure: it stops at {@code softLimit} queued bytes and goes on when the sink
   * has taken half ({@link #written}). At the end of the stream it closes the source on the next loop turn, which
   * reports its end as any close does. A read error (a reset) ends the drain and is reported as a read error.
   */
  private void drainSplicedSource(Leg leg) {
    Channel ch = leg.source;
    leg.drainPending = false;
    if (!ch.isOpen()) {
      return;
    }
    ChannelHandlerContext ctx = ch.pipeline().context(this);
    FileDescriptor fd = ((AbstractEpollStreamChannel) ch).fd();
    boolean ended = false;
    // The flush at the end of a pass may write everything at once (and complete the writes then and there), so a
    // pass that stopped at the limit is followed by another until the sink really holds the limit or the stream ends.
    while (!ended && (leg.queued < softLimit || releasing)) {
      while (leg.queued < softLimit || releasing) {
        ByteBuf buf = ch.alloc().directBuffer(DRAIN_READ);
        int n;
        try {
          n = buf.hasMemoryAddress()
            ? fd.readAddress(buf.memoryAddress(), buf.writerIndex(), buf.capacity())
            : fd.read(buf.internalNioBuffer(buf.writerIndex(), buf.writableBytes()), 0, buf.writableBytes());
        } catch (IOException e) {
          // A reset: reported like any read error, ahead of the close that follows.
          faults.exception(sideOf(ch), e);
          n = -1;
        }
        if (n <= 0) {
          // -1: end of stream (or an error); 0 cannot be "try again" after the FIN, and ends the drain all the same.
          buf.release();
          ended = true;
          break;
        }
        buf.writerIndex(buf.writerIndex() + n);
        channelRead(ctx, buf);
      }
      channelReadComplete(ctx);
    }
    if (ended) {
      ch.eventLoop().execute(() -> ch.close());
    } else {
      leg.drainPending = true;
    }
  }

  /**
   * Milliseconds since a spliced direction last received data (the kernel's {@code TCP_INFO}), the least over the
   * spliced directions, or {@code -1} when none splices: a spliced direction's byte count moves only per chunk, so
   * it cannot tell idleness.
   */
  long splicedQuietMillis() {
    long up = quietMillis(this.up);
    long down = quietMillis(this.down);
    return up < 0 ? down : down < 0 ? up : Math.min(up, down);
  }

  private static long quietMillis(Leg leg) {
    if (leg.spliced == null || !leg.source.isActive()) {
      return -1;
    }
    return ((EpollSocketChannel) leg.source).tcpInfo().lastDataRecv();
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
