package dev.ferry.proxy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.MetricNames;
import dev.ferry.vocabulary.LeakKind;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The release guard under contention: {@link BufferLedger}'s release catches the second release of a pooled buffer,
 * counts it as a detected double free ({@code ferry_double_free_detected_total{kind="buffer"}}) and never lets it
 * escape, however many threads race to release the same buffer.
 * <p>
 * What this covers and why: the ledger's counters are single-writer by design (its listener's event loop), so the
 * stress never calls a counter-writing method of one ledger from two threads. It drives concurrently only what may be
 * raced in the real failure: Netty's atomic reference count, the guard around {@code ByteBuf.release()} and the
 * (thread-safe) Micrometer counter. One ledger per thread (each single-writer), every thread running the full
 * {@code acquired}/{@code release} pair on the same buffer: owners who all believe they hold it, the bug the registry
 * exists to prevent. Each ledger must still balance to 0.
 * Each round allocates one pooled buffer with a reference count of 1 to 3, lets all threads release it at once
 * (a {@link CyclicBarrier} starts and ends the round), and expects exactly {@code threads - refCnt} detections. No
 * buffer is allocated while a round races, so the pooled buffer freed by the winning release cannot be recycled into
 * another allocation under the late releasers (then a late release would free somebody else's buffer, which no guard
 * can detect). Rounds are bounded in number and in time; the expected count is computed from the rounds that ran.
 */
class BufferLedgerStressTest {

  private static final int THREADS = 8;
  private static final int ROUNDS = 1000;
  private static final long TIME_CAP_NANOS = TimeUnit.SECONDS.toNanos(8);

  private final Logger ledgerLog = (Logger) LoggerFactory.getLogger(BufferLedger.class);
  private Level ledgerLogLevel;
  private FerryMetrics metrics;
  private ExecutorService pool;

  @BeforeEach
  void setUp() {
    metrics = new FerryMetrics(new SimpleMeterRegistry());
    pool = Executors.newFixedThreadPool(THREADS);
    // Thousands of expected "buffer released twice" errors: the counter is what is asserted.
    ledgerLogLevel = ledgerLog.getLevel();
    ledgerLog.setLevel(Level.OFF);
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    ledgerLog.setLevel(ledgerLogLevel);
    pool.shutdownNow();
    assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).as("stress threads ended").isTrue();
  }

  /** What one thread does to the round's buffer. */
  @FunctionalInterface
  private interface Releaser {
    void release(int thread, long round, ByteBuf buf);
  }

  /**
   * Runs rounds of {@code THREADS} simultaneous releases of one fresh pooled buffer; returns the number of extra
   * releases (releases beyond the buffer's reference count) over the rounds that ran.
   */
  private long race(Releaser releaser) throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(THREADS + 1);
    List<Throwable> escaped = new CopyOnWriteArrayList<>();
    ByteBuf[] current = new ByteBuf[1];
    boolean[] stop = new boolean[1];
    List<Future<?>> workers = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int thread = t;
      workers.add(pool.submit(() -> {
        for (long round = 0; ; round++) {
          barrier.await(10, TimeUnit.SECONDS);   // round start: current[0] and stop[0] published by the barrier
          if (stop[0]) {
            return null;
          }
          try {
            releaser.release(thread, round, current[0]);
          } catch (Throwable e) {
            escaped.add(e);
          }
          barrier.await(10, TimeUnit.SECONDS);   // round end
        }
      }));
    }
    long extra = 0;
    int rounds = 0;
    long deadline = System.nanoTime() + TIME_CAP_NANOS;
    try {
      for (; rounds < ROUNDS && System.nanoTime() < deadline; rounds++) {
        int refs = 1 + rounds % 3;
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        buf.writeLong(rounds);
        if (refs > 1) {
          buf.retain(refs - 1);
        }
        current[0] = buf;
        barrier.await(10, TimeUnit.SECONDS);
        barrier.await(10, TimeUnit.SECONDS);
        assertThat(buf.refCnt()).as("round %d: the buffer ends released", rounds).isZero();
        extra += THREADS - refs;
      }
      stop[0] = true;
      barrier.await(10, TimeUnit.SECONDS);
    } catch (BrokenBarrierException | TimeoutException e) {
      throw new AssertionError("a stress thread got stuck or died in round " + rounds + "; escaped: " + escaped, e);
    }
    for (Future<?> w : workers) {
      w.get(10, TimeUnit.SECONDS);
    }
    assertThat(escaped).as("exceptions thrown out of the ledger's release").isEmpty();
    assertThat(rounds).as("rounds run within the time cap").isPositive();
    return extra;
  }

  private long detected(LeakKind kind) {
    return (long) metrics.registry().get(MetricNames.DOUBLE_FREE_DETECTED)
      .tag(MetricNames.TAG_KIND, kind.label()).counter().count();
  }

  @Test
  void twoOwnersRacingToReleaseOneBufferEachKeepTheirLedgerBalancedAndEveryExtraReleaseIsCounted() throws Exception {
    BufferLedger[] ledgers = new BufferLedger[THREADS];
    for (int t = 0; t < THREADS; t++) {
      ledgers[t] = new BufferLedger(metrics, Long.MAX_VALUE);
    }

    long extra = race((thread, round, buf) -> {
      // Every round's buffer holds one long; not read from buf, which another thread may have freed already.
      ledgers[thread].acquired(Long.BYTES);
      ledgers[thread].release(round, buf, Long.BYTES);
    });

    assertThat(metrics.doubleFreeDetectedTotal()).as("detected double frees").isEqualTo(extra);
    assertThat(detected(LeakKind.BUFFER)).as("kind=buffer").isEqualTo(extra);
    for (BufferLedger l : ledgers) {
      assertThat(l.buffersHeld()).as("buffers held by one owner's ledger").isZero();
      assertThat(l.bytesHeld()).as("bytes held by one owner's ledger").isZero();
    }
  }
}
