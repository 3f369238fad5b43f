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
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link BufferLedger} on one thread, as its listener's event loop uses it: what it counts as held and queued, the
 * budget that stops sources and the half of it that lets them go on, and the one release of a buffer (a second one
 * is caught and counted). The racing release is {@link BufferLedgerStressTest}'s subject.
 */
class BufferLedgerTest {

  private static final long BUDGET = 1000;

  private final FerryMetrics metrics = new FerryMetrics(new SimpleMeterRegistry());
  private final BufferLedger ledger = new BufferLedger(metrics, BUDGET);
  private final List<ByteBuf> allocated = new ArrayList<>();

  @AfterEach
  void releaseWhatATestLeftAllocated() {
    for (ByteBuf buf : allocated) {
      if (buf.refCnt() > 0) {
        buf.release(buf.refCnt());
      }
    }
  }

  private ByteBuf pooled(int readable) {
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(readable);
    buf.writeZero(readable);
    allocated.add(buf);
    return buf;
  }

  @Test
  void countsEveryAcquiredBufferAndItsBytesUntilItIsHandedOver() {
    ledger.acquired(100);
    ledger.acquired(30);
    assertThat(ledger.buffersHeld()).isEqualTo(2);
    assertThat(ledger.bytesHeld()).isEqualTo(130);

    ledger.handedOver(100);
    assertThat(ledger.buffersHeld()).isEqualTo(1);
    assertThat(ledger.bytesHeld()).isEqualTo(30);
    ledger.handedOver(30);
    assertThat(ledger.buffersHeld()).isZero();
    assertThat(ledger.bytesHeld()).isZero();
  }

  @Test
  void theMetricGaugesSumWhatTheLedgerHoldsAndQueues() {
    metrics.addLedger(ledger);
    ledger.acquired(64);
    ledger.queued(200);
    assertThat(metrics.buffersHeld()).isEqualTo(1);
    assertThat(metrics.bytesHeld()).isEqualTo(64);
    assertThat(metrics.bytesQueued()).isEqualTo(200);
    ledger.handedOver(64);
    ledger.queued(-200);
    assertThat(metrics.buffersHeld()).isZero();
    assertThat(metrics.bytesQueued()).isZero();
  }

  @Test
  void queuedBytesRiseAndFallWithTheWriteQueues() {
    ledger.queued(300);
    ledger.queued(200);
    assertThat(ledger.bytesQueued()).isEqualTo(500);
    ledger.queued(-450);
    assertThat(ledger.bytesQueued()).isEqualTo(50);
  }

  @Test
  void isOverBudgetFromExactlyTheBudgetOn() {
    ledger.queued(BUDGET - 1);
    assertThat(ledger.overBudget()).isFalse();
    ledger.queued(1);
    assertThat(ledger.overBudget()).as("at the budget").isTrue();
    ledger.queued(1);
    assertThat(ledger.overBudget()).isTrue();
    ledger.queued(-1);
    assertThat(ledger.overBudget()).as("back at the budget").isTrue();
    ledger.queued(-1);
    assertThat(ledger.overBudget()).isFalse();
  }

  @Test
  void waitersResumeOnceWhenTheQueueFallsToHalfTheBudget() {
    int[] resumed = new int[2];
    ledger.queued(BUDGET);
    ledger.awaitBudget(() -> resumed[0]++);
    ledger.awaitBudget(() -> resumed[1]++);

    ledger.queued(-(BUDGET / 2 - 1));
    assertThat(resumed).as("one byte above half").containsExactly(0, 0);
    ledger.queued(-1);
    assertThat(resumed).as("at half: every waiter, once").containsExactly(1, 1);
    ledger.queued(-10);
    ledger.queued(5);
    ledger.queued(-5);
    assertThat(resumed).as("each waiter runs once").containsExactly(1, 1);
  }

  @Test
  void aRisingQueueBelowHalfTheBudgetResumesNobody() {
    int[] resumed = new int[1];
    ledger.awaitBudget(() -> resumed[0]++);
    ledger.queued(10);
    assertThat(resumed[0]).as("only a falling queue resumes").isZero();
    ledger.queued(-1);
    assertThat(resumed[0]).isEqualTo(1);
  }

  @Test
  void aWaiterAddedAfterAResumeWaitsForTheNextFall() {
    int[] resumed = new int[2];
    ledger.queued(BUDGET);
    ledger.awaitBudget(() -> resumed[0]++);
    ledger.queued(-BUDGET);
    ledger.queued(BUDGET);
    ledger.awaitBudget(() -> resumed[1]++);
    assertThat(resumed).containsExactly(1, 0);
    ledger.queued(-BUDGET);
    assertThat(resumed).containsExactly(1, 1);
  }

  @Test
  void releaseFreesTheBufferAndUncountsIt() {
    ByteBuf buf = pooled(48);
    ledger.acquired(48);
    ledger.release(7, buf, 48);
    assertThat(buf.refCnt()).isZero();
    assertThat(ledger.buffersHeld()).isZero();
    assertThat(ledger.bytesHeld()).isZero();
    assertThat(metrics.doubleFreeDetectedTotal()).isZero();
  }

  @Test
  void aSecondReleaseOfTheSameBufferIsCaughtAndCountedAsADoubleFree() {
    Logger log = (Logger) LoggerFactory.getLogger(BufferLedger.class);
    Level level = log.getLevel();
    log.setLevel(Level.OFF);
    try {
      ByteBuf buf = pooled(16);
      ledger.acquired(16);
      ledger.acquired(16);
      ledger.release(7, buf, 16);
      ledger.release(7, buf, 16);
      assertThat(metrics.doubleFreeDetectedTotal()).isEqualTo(1);
      assertThat(metrics.registry().get(MetricNames.DOUBLE_FREE_DETECTED)
        .tag(MetricNames.TAG_KIND, LeakKind.BUFFER.label()).counter().count()).isEqualTo(1);
      assertThat(ledger.buffersHeld()).as("both releases uncount").isZero();
    } finally {
      log.setLevel(level);
    }
  }

  @Test
  void givesItsListenerTheMetricsItCountsInto() {
    assertThat(ledger.metrics()).isSameAs(metrics);
  }
}
