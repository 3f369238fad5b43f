package dev.ferry.proxy;

import dev.ferry.metrics.FerryMetrics;
import dev.ferry.vocabulary.LeakKind;
import io.netty.buffer.ByteBuf;
import io.netty.util.IllegalReferenceCountException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;

/**
 * Pooled-buffer accounting of one listener: how many buffers and bytes its connections hold right now, how many
 * bytes sit in socket write queues (against this listener's share of the global buffer budget), and the one place
 * where those buffers are released.
 * <p>
 * Threading: written only from the listener's event loop. The metric gauges read the counters on another thread:
 * the loop publishes them with release stores (no full fence per read and write, which a {@code volatile} store
 * costs on the data path) and the gauges read them with acquire loads.
 */
final class BufferLedger implements FerryMetrics.HeldBuffers {

  private static final Logger log = LoggerFactory.getLogger(BufferLedger.class);

  private final FerryMetrics metrics;
  private final long budget;
  private final ArrayDeque<Runnable> waitingForBudget = new ArrayDeque<>();
  private static final VarHandle BUFFERS;
  private static final VarHandle BYTES;
  private static final VarHandle QUEUED;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      BUFFERS = l.findVarHandle(BufferLedger.class, "buffers", long.class);
      BYTES = l.findVarHandle(BufferLedger.class, "bytes", long.class);
      QUEUED = l.findVarHandle(BufferLedger.class, "queued", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  // Written by the owning event loop only (plain reads there), published with release stores.
  private long buffers;
  private long bytes;
  private long queued;

  /**
   * @param budget this listener's share of {@code limits.max-buffered-bytes}: queued bytes above which sources
   *               wait (see {@link #overBudget()})
   */
  BufferLedger(FerryMetrics metrics, long budget) {
    this.metrics = metrics;
    this.budget = budget;
  }

  /** A buffer became ours (delivered by a socket). */
  void acquired(int readable) {
    BUFFERS.setRelease(this, buffers + 1);
    BYTES.setRelease(this, bytes + readable);
  }

  /** A buffer of ours was handed to a write: Netty owns it now. */
  void handedOver(int readable) {
    BUFFERS.setRelease(this, buffers - 1);
    BYTES.setRelease(this, bytes - readable);
  }

  /** Bytes entered ({@code delta > 0}) or left a socket write queue. Below half the budget, waiters resume. */
  void queued(long delta) {
    long now = queued + delta;
    QUEUED.setRelease(this, now);
    if (delta < 0 && now <= budget / 2 && !waitingForBudget.isEmpty()) {
      Runnable r;
      while ((r = waitingForBudget.poll()) != null) {
        r.run();
      }
    }
  }

  /** True when this listener's connections together queue its share of the global budget or more. */
  boolean overBudget() {
    return queued >= budget;
  }

  /** Runs {@code resume} once queued bytes fall to half the budget. */
  void awaitBudget(Runnable resume) {
    waitingForBudget.add(resume);
  }

  /**
   * Releases a buffer this ledger counts as held. A second release of the same buffer is caught, counted as a
   * detected double free and logged; it never propagates.
   */
  void release(long connectionId, ByteBuf buf, int readable) {
    BUFFERS.setRelease(this, buffers - 1);
    BYTES.setRelease(this, bytes - readable);
    try {
      buf.release();
    } catch (IllegalReferenceCountException e) {
      metrics.doubleFreeDetected(LeakKind.BUFFER);
      log.error("conn={} buffer released twice (refCnt {}): double free detected", connectionId, buf.refCnt());
    }
  }

  FerryMetrics metrics() {
    return metrics;
  }

  @Override
  public long buffersHeld() {
    return (long) BUFFERS.getAcquire(this);
  }

  @Override
  public long bytesHeld() {
    return (long) BYTES.getAcquire(this);
  }

  @Override
  public long bytesQueued() {
    return (long) QUEUED.getAcquire(this);
  }
}
