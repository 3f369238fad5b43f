package dev.ferry.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelPromise;

/**
 * Back-pressure of one direction: whether its source may read, and what its sink has not taken yet.
 *
 * <h2>Holds</h2>
 * The source reads ({@code autoRead} on) while nothing holds it. A hold is one bit; the source stops at the first
 * and reads again when the last is lifted:
 * <ul>
 *   <li>{@link #CONNECTING}: there is no sink yet (the upstream is connecting).</li>
 *   <li>{@link #SINK_FULL}: the sink's write queue went above {@code buffer.soft-limit}. Netty's
 *       {@code WriteBufferWaterMark} (high = soft limit, low = half of it) reports it through
 *       {@code channelWritabilityChanged} in the sink's pipeline, so no per-write check is needed and Netty counts
 *       exactly what it holds. The relay of the other direction lives in that pipeline and forwards the event here.</li>
 *   <li>{@link #BUDGET}: the listener's connections together queue its share of {@code limits.max-buffered-bytes};
 *       lifted when the total falls to half.</li>
 *   <li>{@link #OVERFLOW}: more than {@code buffer.hard-limit} is queued toward the sink (only a read burst already
 *       under way can get there); the connection is being reported and stays stopped.</li>
 *   <li>{@link #RELEASING}: the release began; nothing is read any more.</li>
 * </ul>
 *
 * <h2>Queued bytes</h2>
 * Every write's size is recorded when it is handed to the sink and removed when its promise completes. Writes on one
 * channel complete in the order they were made, so the sizes form a FIFO and this one listener serves every write of
 * the direction (no closure per write). The total drives the hard limit, the listener's budget and
 * {@code ferry_buffer_bytes_queued}.
 * <p>
 * Threading: the connection's event loop only.
 */
final class Backpressure implements ChannelFutureListener {

  static final int CONNECTING = 1;
  static final int SINK_FULL = 1 << 1;
  static final int BUDGET = 1 << 2;
  static final int OVERFLOW = 1 << 3;
  static final int RELEASING = 1 << 4;

  /** What a completed write reports back: its size and, when it failed, the cause. */
  interface Completions {
    void written(int bytes, Throwable failure);
  }

  private final BufferLedger ledger;
  private final Completions completions;
  private final int hardLimit;
  private Channel source;
  private int holds = CONNECTING;
  private long queued;
  /** Sizes of the writes whose promise has not completed yet, oldest at {@code head}. */
  private int[] sizes = new int[2];
  private int head;
  private int count;

  Backpressure(BufferLedger ledger, Completions completions, int hardLimit) {
    this.ledger = ledger;
    this.completions = completions;
    this.hardLimit = hardLimit;
  }

  /** The source channel, known once its pipeline has the relay; it does not read until every hold is lifted. */
  void source(Channel source) {
    this.source = source;
  }

  void hold(int why) {
    boolean wasFree = holds == 0;
    holds |= why;
    if (wasFree && source != null) {
      source.config().setAutoRead(false);
    }
  }

  void lift(int why) {
    if ((holds & why) == 0) {
      return;
    }
    holds &= ~why;
    if (holds == 0 && source != null) {
      source.config().setAutoRead(true);
    }
  }

  boolean holds(int why) {
    return (holds & why) != 0;
  }

  /**
   * Records a write of {@code n} bytes about to be handed to {@code sink}; returns the promise to hand with it.
   * Past the listener's budget, the source waits for it.
   */
  ChannelPromise track(Channel sink, int n) {
    queued += n;
    ledger.queued(n);
    push(n);
    if (ledger.overBudget() && !holds(BUDGET) && !holds(RELEASING)) {
      hold(BUDGET);
      ledger.awaitBudget(() -> lift(BUDGET));
    }
    return sink.newPromise().addListener(this);
  }

  /** True when more than {@code buffer.hard-limit} bytes wait for the sink. */
  boolean overHardLimit() {
    return queued > hardLimit;
  }

  long queued() {
    return queued;
  }

  @Override
  public void operationComplete(ChannelFuture future) {
    int n = pop();
    queued -= n;
    ledger.queued(-n);
    completions.written(n, future.isSuccess() ? null : future.cause());
  }

  private void push(int n) {
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

  private int pop() {
    int n = sizes[head];
    head = (head + 1) % sizes.length;
    count--;
    return n;
  }
}
