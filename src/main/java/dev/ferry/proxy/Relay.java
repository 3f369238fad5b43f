package dev.ferry.proxy;

import dev.ferry.metrics.RouteMeters;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;

/**
 * One direction of a proxied connection, installed as the handler of its source channel's pipeline (one instance per
 * pipeline): it forwards the source's pooled buffers to the sink with no copy, flushes once per read burst, and
 * carries the source's FIN to the sink once every byte read before it was written. This is the only class that
 * touches Ferry's pooled buffers.
 *
 * <h2>Ownership rules</h2>
 * <ol>
 *   <li>A {@link ByteBuf} delivered to {@link #channelRead}, or read by {@link #drain}, is ours (refCnt 1): the ledger
 *       counts it as held.</li>
 *   <li>{@code sink.write(buf, promise)} hands it over: not held any more, never touched again. Netty releases it
 *       whatever happens to the write, including a write to a channel that is already closed, or whose output a failed
 *       write shut down (the promise then fails with a {@link ClosedChannelException}). No write failure ever gives a
 *       buffer back.</li>
 *   <li>A buffer that cannot be forwarded (the release began) is released here, once, through the ledger, which
 *       catches and counts a second release.</li>
 *   <li>Nothing is kept: every read is forwarded or released before {@link #channelRead} returns, except the client's
 *       bytes that arrive before the upstream exists ({@code early}): {@link #connect} forwards them,
 *       {@link #release} releases them.</li>
 * </ol>
 *
 * <h2>Mode</h2>
 * <pre>
 *   FORWARDING ──source FIN──► ENDING ──every byte written, FIN sent to the sink──► ENDED
 *        └─────────────────────────┴──────────────── release ──────────────────────────┴──► RELEASED
 * </pre>
 * FORWARDING: reads are forwarded (held in {@code early} while there is no sink). ENDING: the source's FIN arrived
 * after its last byte; what was read is being written, then the sink's output is shut down (Ferry's FIN). ENDED: the
 * FIN went out; the source reads no more. RELEASED: the release began; reads are released and no FIN is sent.
 * <p>
 * Flush policy: writes made while reading the source are flushed once, when its read burst ends
 * ({@code channelReadComplete}); writes made outside a read are flushed at once.
 * <p>
 * Threading: every method runs on the connection's event loop (both channels share it).
 */
final class Relay extends ChannelInboundHandlerAdapter implements Backpressure.Completions, Splicer.Chunks {

  enum Mode { FORWARDING, ENDING, ENDED, RELEASED }

  /** {@code TCP_CLOSE} of Linux's {@code tcp_states.h}: a socket that received a reset (or timed out). */
  private static final int TCP_CLOSE = 7;
  /** Read size when draining a spliced source after its peer's FIN. */
  private static final int DRAIN_READ = 64 * 1024;

  private final Direction direction;
  private final Side sourceSide;
  private final Side sinkSide;
  private final long id;
  private final RelayEvents conn;
  private final BufferLedger ledger;
  private final Backpressure pressure;
  /** Null unless bulk streams switch to splice. */
  private final Splicer splicer;
  private Channel source;
  private Channel sink;
  /** The other direction's relay: the handler of this direction's sink pipeline. */
  private Relay opposite;
  private Mode mode = Mode.FORWARDING;
  /** Client bytes delivered before the upstream existed; created on first use, normally never. */
  private ArrayDeque<ByteBuf> early;
  /** Bytes read from the source and forwarded (spliced chunks included). */
  private long bytes;
  /** Bytes the sink took (write completions). */
  private long written;
  private int held;
  /** A write was made while reading the source and is not flushed yet. */
  private boolean unflushed;
  /** Bytes forwarded in the current read burst (splice detection). */
  private long burst;
  /** The source's FIN arrived (a spliced source may still be drained before the direction ends). */
  private boolean finSeen;
  /** The drain of a spliced source waits for its sink to become writable. */
  private boolean drainPending;
  private boolean overflowReported;
  /** Every write queued behind a failed one fails the same way: the first failure is the one reported. */
  private boolean writeFailureReported;

  /**
   * @param splice whether a bulk stream switches to {@code splice(2)}; both channels must then be epoll channels
   */
  Relay(long id, Direction direction, RelayEvents conn, BufferLedger ledger, RouteMeters meters, int hardLimit,
        boolean splice) {
    this.id = id;
    this.direction = direction;
    this.sourceSide = direction == Direction.UPSTREAM ? Side.CLIENT : Side.UPSTREAM;
    this.sinkSide = direction == Direction.UPSTREAM ? Side.UPSTREAM : Side.CLIENT;
    this.conn = conn;
    this.ledger = ledger;
    this.pressure = new Backpressure(ledger, this, hardLimit);
    this.splicer = splice ? new Splicer(direction, meters, this) : null;
  }

  Mode mode() {
    return mode;
  }

  /**
   * The sink exists (the upstream connected): forward what arrived early, in order, let the source read, and pass on
   * a FIN that arrived meanwhile.
   */
  void connect(Channel sink, Relay opposite) {
    this.sink = sink;
    this.opposite = opposite;
    if (early != null) {
      ByteBuf buf;
      while ((buf = early.poll()) != null) {
        forward(buf);
      }
      sink.flush();
    }
    pressure.lift(Backpressure.CONNECTING);
    if (mode == Mode.ENDING) {
      sendFin();
    }
  }

  /** The release began: from now on reads are released and nothing is forwarded or sent on. */
  void release() {
    mode = Mode.RELEASED;
    pressure.hold(Backpressure.RELEASING);
    if (early != null) {
      ByteBuf buf;
      while ((buf = early.poll()) != null) {
        drop(buf);
      }
    }
  }

  // ---- channel events of the source's pipeline ---------------------------------------------------------------

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    source = ctx.channel();
    pressure.source(source);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    held++;
    ledger.acquired(buf.readableBytes());
    if (mode == Mode.RELEASED) {
      drop(buf);
    } else if (sink == null) {
      if (early == null) {
        early = new ArrayDeque<>(4);
      }
      early.add(buf);
    } else {
      forward(buf);
      unflushed = true;
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (splicer != null && sink != null && mode == Mode.FORWARDING && !finSeen) {
      splicer.observe(burst, source, sink);
    }
    burst = 0;
    flushBurst();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    // Every channel allows half-closure: a FIN shuts the input down after its last byte was read, and says so here.
    if (evt instanceof ChannelInputShutdownEvent && !finSeen && mode == Mode.FORWARDING) {
      finSeen = true;
      if (splicer != null && splicer.active()) {
        drain();
      } else {
        sourceEnded();
      }
    }
    // Other pipeline events (the output shutdown that follows our own FIN, the read-complete after a FIN): nothing to
    // do, and they are not reference counted.
    ReferenceCountUtil.release(evt);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    // This channel is the other direction's sink: its write queue crossed a water mark.
    if (opposite != null) {
      opposite.sinkWritable(ctx.channel().isWritable());
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    conn.readFailed(sourceSide, cause);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    // Writes made in this burst and not flushed yet: the sink may still take them.
    flushBurst();
    conn.closed(sourceSide);
  }

  // ---- forwarding --------------------------------------------------------------------------------------------

  private void forward(ByteBuf buf) {
    int n = buf.readableBytes();
    held--;
    ledger.handedOver(n);
    bytes += n;
    sink.write(buf, pressure.track(sink, n));
    burst += n;
    if (pressure.overHardLimit() && !overflowReported) {
      overflowReported = true;
      pressure.hold(Backpressure.OVERFLOW);
      // Reported after the current read burst: a burst forced by a peer's FIN or reset reads to the end whatever
      // autoRead says. A reset is then the real cause and is published first; after a FIN the bytes are bounded by
      // the kernel's receive buffer and nothing is lost, so it is no overflow.
      long queuedNow = pressure.queued();
      source.eventLoop().execute(() -> {
        if (mode == Mode.FORWARDING && !finSeen && source.isActive() && sink.isActive()) {
          conn.overflow(sinkSide, queuedNow);
        }
      });
    }
  }

  private void flushBurst() {
    if (unflushed) {
      unflushed = false;
      sink.flush();
    }
  }

  /** This direction's sink crossed a water mark of its write queue. */
  private void sinkWritable(boolean writable) {
    if (!writable) {
      pressure.hold(Backpressure.SINK_FULL);
      return;
    }
    pressure.lift(Backpressure.SINK_FULL);
    if (drainPending) {
      drain();
    }
  }

  @Override
  public void written(int n, Throwable failure) {
    written += n;
    // A ClosedChannelException only echoes an earlier end: a failed write (its ChannelOutputShutdownException, which
    // carries the socket's error, was reported first) or a close that the sink's close event reports.
    if (failure != null && !writeFailureReported && mode != Mode.RELEASED
      && !(failure instanceof ClosedChannelException)) {
      writeFailureReported = true;
      conn.writeFailed(sinkSide, failure);
    }
  }

  // ---- the in-order end ----------------------------------------------------------------------------------------

  /** The source's last byte was read: the direction ends once the sink has taken everything, with a FIN. */
  private void sourceEnded() {
    flushBurst();
    mode = Mode.ENDING;
    conn.finReceived(sourceSide);
    if (sink != null && mode == Mode.ENDING) {
      sendFin();
    }
  }

  /**
   * Shuts the sink's output down once every write queued before is written (Netty shuts it down at once and fails
   * what is still queued, hence the empty write first: writes complete in order).
   */
  private void sendFin() {
    sink.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(flushed -> {
      // A failed flush: a write ahead of it failed and reported the sink's fault, or the sink's close event does.
      if (!flushed.isSuccess() || mode != Mode.ENDING) {
        return;
      }
      if (!conn.finNeeded(direction)) {
        mode = Mode.ENDED;
        conn.ended(direction);
        return;
      }
      Fins.shutdownOutput(sink).addListener(shut -> {
        if (mode != Mode.ENDING) {
          return;
        }
        if (shut.isSuccess()) {
          mode = Mode.ENDED;
          conn.ended(direction);
        } else {
          conn.writeFailed(sinkSide, shut.cause());
        }
      });
    });
  }

  /**
   * The spliced source's peer sent its FIN and Netty shut the input down after one splice pass: read what the socket
   * still holds through pooled buffers, in order behind the spliced bytes (those are queued in the sink already),
   * with the usual back-pressure. It stops while the sink is above its high water mark and goes on when it is
   * writable again ({@link #sinkWritable}). At the end of the stream the direction ends as any other does.
   */
  private void drain() {
    drainPending = false;
    if (mode != Mode.FORWARDING || !source.isOpen()) {
      return;
    }
    FileDescriptor fd = ((AbstractEpollStreamChannel) source).fd();
    // The flush at the end of a pass may write everything at once, so a pass that stopped at the water mark is
    // followed by another until the sink really is full or the stream ends.
    while (sink.isWritable()) {
      while (sink.isWritable()) {
        ByteBuf buf = source.alloc().directBuffer(DRAIN_READ);
        int n;
        IOException failure = null;
        try {
          n = buf.hasMemoryAddress()
            ? fd.readAddress(buf.memoryAddress(), buf.writerIndex(), buf.capacity())
            : fd.read(buf.internalNioBuffer(buf.writerIndex(), buf.writableBytes()), 0, buf.writableBytes());
        } catch (IOException e) {
          failure = e;
          n = -1;
        }
        buf.writerIndex(buf.writerIndex() + Math.max(n, 0));
        // Ours from here, counted like any read (rule 1), so that the ledger releases it like any other (rule 3).
        held++;
        ledger.acquired(buf.readableBytes());
        if (n <= 0) {
          drop(buf);
          flushBurst();
          if (failure != null) {
            conn.readFailed(sourceSide, failure);
          } else {
            // -1: end of stream; 0 cannot be "try again" after the FIN, and ends the drain all the same.
            sourceEnded();
          }
          return;
        }
        forward(buf);
        unflushed = true;
      }
      flushBurst();
    }
    drainPending = true;
  }

  // ---- splice chunks -------------------------------------------------------------------------------------------

  @Override
  public void spliced(int n) {
    bytes += n;
  }

  @Override
  public void spliceFailed(boolean sinkGone, Throwable cause) {
    if (!sinkGone) {
      conn.readFailed(sourceSide, cause);
    } else if (!writeFailureReported) {
      writeFailureReported = true;
      conn.writeFailed(sinkSide, cause);
    }
  }

  @Override
  public boolean forwarding() {
    return mode == Mode.FORWARDING && !finSeen;
  }

  // ---- accounting ----------------------------------------------------------------------------------------------

  private void drop(ByteBuf buf) {
    held--;
    ledger.release(id, buf, buf.readableBytes());
  }

  /** Bytes read from the source and forwarded; exact to one splice chunk for a spliced direction. */
  long bytes() {
    return bytes;
  }

  /** Bytes moved either way through this direction so far: read from the source or taken by the sink. */
  long activity() {
    return bytes + written;
  }

  /** Buffers this direction holds right now; 0 once released. */
  int held() {
    return held;
  }

  /**
   * True when the source sent its FIN and has since been reset. Netty reads a channel no more once a FIN shut its
   * input down, so a later reset goes unseen until a write toward it fails; the kernel knows ({@code TCP_INFO}
   * state {@code TCP_CLOSE}). Native epoll only: NIO cannot ask, and such a reset waits for a write or a timer.
   */
  boolean resetAfterFin() {
    return finSeen && source instanceof EpollSocketChannel epoll && epoll.isOpen()
      && epoll.tcpInfo().state() == TCP_CLOSE;
  }

  /** See {@link Splicer#quietMillis()}; {@code -1} when this direction does not splice. */
  long splicedQuietMillis() {
    return splicer == null ? -1 : splicer.quietMillis();
  }
}
