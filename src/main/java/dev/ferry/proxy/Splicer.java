package dev.ferry.proxy;

import dev.ferry.metrics.RouteMeters;
import dev.ferry.vocabulary.Direction;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollChannelConfig;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.DuplexChannel;

import java.nio.channels.ClosedChannelException;

/**
 * Splice of one direction ({@code splice: true}, native epoll only). A direction whose last {@link #STREAK} read bursts
 * each brought at least {@link #FULL_READ} bytes is a bulk stream (HAProxy's "streamer" idea: a request/response
 * exchange never finds that much waiting at once, however long it lives) and switches to {@code splice(2)}: the kernel
 * moves its bytes
 * socket → pipe → socket, and no buffer of Ferry's is involved ({@link AbstractEpollStreamChannel#spliceTo},
 * level-triggered).
 * <p>
 * Order: bytes the relay wrote before the switch stay ahead of the spliced ones in the sink's outbound queue (Netty
 * queues each spliced chunk there too). Netty stops the source while the sink cannot take more.
 * <p>
 * Counting: the splice runs in chunks of {@link #CHUNK}; each completed chunk is counted, so a spliced direction's
 * byte count is exact to less than one chunk. Idleness of a spliced direction is read from the kernel
 * ({@code TCP_INFO} last data received), not from the count.
 * <p>
 * The end: at its peer's FIN Netty shuts the spliced source's input down after one splice pass, leaving in the socket
 * what the pass did not take (observed: 6.2 of 8 MiB arrived). Every channel has half-closure on, so the socket stays
 * open and the relay reads the rest through its buffers ({@link Relay}) before it forwards the FIN.
 * <p>
 * Threading: the connection's event loop only.
 */
final class Splicer {

  /**
   * A read burst (what one wake-up of the source finds, read until the socket is empty or the sink full) at least
   * this large is "full": the source had more to give than a small exchange does. Bursts, not single reads: the last
   * read of every burst is partial, so a streak of single full reads depends on how the bytes happened to arrive.
   * 16 KiB is HAProxy's buffer, whose filling marks a "streamer"; it also stays clear of the water marks, which cut
   * the bursts of a back-pressured direction to between half the soft limit and all of it (32 to 64 KiB by default;
   * measured: bursts of 29 and 64 KiB, so 32 KiB spliced such a stream only by chance).
   */
  static final int FULL_READ = 16 * 1024;
  /** Consecutive full bursts that make a direction a bulk stream. */
  static final int STREAK = 4;
  /** Bytes per splice request; a completed one is counted. */
  static final int CHUNK = 256 * 1024;

  /** What a splice reports to its direction. */
  interface Chunks {
    /** A chunk of {@link #CHUNK} bytes went through. */
    void spliced(int bytes);

    /** A splice failed: the sink's side failed under it ({@code sinkGone}) or the read failed. */
    void spliceFailed(boolean sinkGone, Throwable cause);

    /** Whether the direction still forwards (not ended, not releasing). */
    boolean forwarding();
  }

  private final Direction direction;
  private final RouteMeters metrics;
  private final Chunks chunks;
  private Channel source;
  private Channel sink;
  private int fullReads;
  private boolean active;

  Splicer(Direction direction, RouteMeters metrics, Chunks chunks) {
    this.direction = direction;
    this.metrics = metrics;
    this.chunks = chunks;
  }

  boolean active() {
    return active;
  }

  /**
   * Called at the end of each read burst of the source with the bytes it brought; switches once the streak is
   * reached. The source's next read (epoll is level-triggered from then on) picks the splice request up.
   */
  void observe(long burstBytes, Channel source, Channel sink) {
    if (active) {
      return;
    }
    if (burstBytes < FULL_READ) {
      fullReads = 0;
    } else if (++fullReads >= STREAK) {
      this.source = source;
      this.sink = sink;
      active = true;
      ((EpollChannelConfig) source.config()).setEpollMode(EpollMode.LEVEL_TRIGGERED);
      ((EpollChannelConfig) sink.config()).setEpollMode(EpollMode.LEVEL_TRIGGERED);
      metrics.spliceStarted(direction);
      next();
    }
  }

  private void next() {
    if (!chunks.forwarding() || !source.isActive() || !sink.isActive()) {
      return;
    }
    ((AbstractEpollStreamChannel) source).spliceTo((AbstractEpollStreamChannel) sink, CHUNK)
      .addListener(f -> done((ChannelFuture) f));
  }

  private void done(ChannelFuture f) {
    if (f.isSuccess()) {
      chunks.spliced(CHUNK);
      next();
      return;
    }
    Throwable cause = f.cause();
    // A closed channel reports its own end; a direction that ended or is releasing no longer cares.
    if (cause instanceof ClosedChannelException || !chunks.forwarding()) {
      return;
    }
    // The sink's side failed when it closed or when its output is shut: a failed write shuts it (AUTO_CLOSE is off),
    // and Ferry's own FIN comes only after the direction stopped forwarding.
    chunks.spliceFailed(!sink.isActive() || ((DuplexChannel) sink).isOutputShutdown(), cause);
  }

  /**
   * Milliseconds since the spliced source last received data (the kernel's {@code TCP_INFO}), or {@code -1} when this
   * direction does not splice.
   */
  long quietMillis() {
    if (!active || !source.isActive()) {
      return -1;
    }
    return ((EpollSocketChannel) source).tcpInfo().lastDataRecv();
  }
}
