package dev.ferry.proxy;

import dev.ferry.metrics.FerryMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Backpressure} of one direction against Netty's {@link EmbeddedChannel}: the holds that stop its source
 * ({@code autoRead}), and the queued bytes it tracks per write promise, which drive the hard limit and the
 * listener's budget. Promises are completed by hand, so every completion order is exact.
 */
class BackpressureTest {

  private static final int HARD_LIMIT = 100;
  private static final long BUDGET = 1000;

  private final FerryMetrics metrics = new FerryMetrics(new SimpleMeterRegistry());
  private final BufferLedger ledger = new BufferLedger(metrics, BUDGET);
  private final List<String> completions = new ArrayList<>();
  private final Backpressure pressure = new Backpressure(ledger,
    (bytes, failure) -> completions.add(bytes + (failure == null ? "" : " " + failure.getMessage())), HARD_LIMIT);
  private final EmbeddedChannel source = new EmbeddedChannel();
  private final EmbeddedChannel sink = new EmbeddedChannel();

  @AfterEach
  void closeChannels() {
    source.finishAndReleaseAll();
    sink.finishAndReleaseAll();
  }

  private boolean reading() {
    return source.config().isAutoRead();
  }

  @Test
  void startsHeldByTheConnectAndReadsOnceItIsLifted() {
    pressure.source(source);
    assertThat(pressure.holds(Backpressure.CONNECTING)).isTrue();
    source.config().setAutoRead(false);
    pressure.lift(Backpressure.CONNECTING);
    assertThat(pressure.holds(Backpressure.CONNECTING)).isFalse();
    assertThat(reading()).isTrue();
  }

  @Test
  void theFirstHoldStopsTheSourceAndOnlyTheLastLiftLetsItRead() {
    pressure.source(source);
    pressure.lift(Backpressure.CONNECTING);
    pressure.hold(Backpressure.SINK_FULL);
    assertThat(reading()).isFalse();
    pressure.hold(Backpressure.BUDGET);
    pressure.lift(Backpressure.SINK_FULL);
    assertThat(reading()).as("the budget still holds it").isFalse();
    assertThat(pressure.holds(Backpressure.BUDGET)).isTrue();
    assertThat(pressure.holds(Backpressure.SINK_FULL)).isFalse();
    pressure.lift(Backpressure.BUDGET);
    assertThat(reading()).isTrue();
  }

  @Test
  void aSecondHoldDoesNotTouchTheSourceAgain() {
    pressure.source(source);
    pressure.lift(Backpressure.CONNECTING);
    pressure.hold(Backpressure.SINK_FULL);
    source.config().setAutoRead(true);
    pressure.hold(Backpressure.OVERFLOW);
    assertThat(reading()).as("autoRead is switched off only by the first hold").isTrue();
  }

  @Test
  void liftingWhatIsNotHeldChangesNothing() {
    pressure.source(source);
    pressure.lift(Backpressure.CONNECTING);
    source.config().setAutoRead(false);
    pressure.lift(Backpressure.SINK_FULL);
    assertThat(reading()).as("no hold was lifted, so the source is not told to read").isFalse();

    pressure.hold(Backpressure.RELEASING);
    source.config().setAutoRead(true);
    pressure.lift(Backpressure.SINK_FULL);
    assertThat(reading()).isTrue();
    assertThat(pressure.holds(Backpressure.RELEASING)).isTrue();
  }

  @Test
  void holdsAndLiftsBeforeTheSourceIsKnownAreRemembered() {
    pressure.lift(Backpressure.CONNECTING);
    pressure.hold(Backpressure.SINK_FULL);
    assertThat(pressure.holds(Backpressure.SINK_FULL)).isTrue();
    pressure.lift(Backpressure.SINK_FULL);
    assertThat(pressure.holds(Backpressure.SINK_FULL)).isFalse();
    pressure.source(source);
    pressure.hold(Backpressure.OVERFLOW);
    assertThat(reading()).isFalse();
  }

  @Test
  void tracksQueuedBytesUntilEachWriteCompletes() {
    ChannelPromise a = pressure.track(sink, 30);
    ChannelPromise b = pressure.track(sink, 50);
    assertThat(pressure.queued()).isEqualTo(80);
    assertThat(ledger.bytesQueued()).isEqualTo(80);
    a.setSuccess();
    assertThat(pressure.queued()).isEqualTo(50);
    assertThat(ledger.bytesQueued()).isEqualTo(50);
    b.setSuccess();
    assertThat(pressure.queued()).isZero();
    assertThat(ledger.bytesQueued()).isZero();
    assertThat(completions).containsExactly("30", "50");
  }

  @Test
  void reportsAFailedWriteWithItsSizeAndCause() {
    ChannelPromise a = pressure.track(sink, 12);
    a.setFailure(new IOException("Broken pipe"));
    assertThat(completions).containsExactly("12 Broken pipe");
    assertThat(pressure.queued()).isZero();
  }

  @Test
  void returnsAPromiseOfTheSink() {
    assertThat(pressure.track(sink, 1).channel()).isSameAs(sink);
  }

  @Test
  void sizesComeBackInWriteOrderWhileTheQueueGrowsAndWraps() {
    List<ChannelPromise> promises = new ArrayList<>();
    promises.add(pressure.track(sink, 1));
    promises.add(pressure.track(sink, 2));
    promises.remove(0).setSuccess();
    // The head is now in the middle of the ring: these grow it across the wrap.
    for (int n = 3; n <= 9; n++) {
      promises.add(pressure.track(sink, n));
    }
    promises.remove(0).setSuccess();
    promises.remove(0).setSuccess();
    for (int n = 10; n <= 20; n++) {
      promises.add(pressure.track(sink, n));
    }
    promises.forEach(ChannelPromise::setSuccess);
    List<String> expected = new ArrayList<>();
    for (int n = 1; n <= 20; n++) {
      expected.add(String.valueOf(n));
    }
    assertThat(completions).containsExactlyElementsOf(expected);
    assertThat(pressure.queued()).isZero();
  }

  @Test
  void keepsTheSizesOfThousandsOfOutstandingWrites() {
    // A peer that stopped reading leaves every write of a long burst outstanding.
    List<ChannelPromise> promises = new ArrayList<>();
    for (int n = 1; n <= 5000; n++) {
      promises.add(pressure.track(sink, n % 7 + 1));
    }
    assertThat(pressure.queued()).isEqualTo(promises.size() * 4L - 3);
    promises.forEach(ChannelPromise::setSuccess);
    assertThat(completions).hasSize(5000);
    for (int i = 0; i < completions.size(); i++) {
      assertThat(completions.get(i)).isEqualTo(String.valueOf((i + 1) % 7 + 1));
    }
    assertThat(pressure.queued()).isZero();
  }

  @Test
  void isOverTheHardLimitOnlyAboveIt() {
    ChannelPromise a = pressure.track(sink, HARD_LIMIT);
    assertThat(pressure.overHardLimit()).as("at the limit").isFalse();
    ChannelPromise b = pressure.track(sink, 1);
    assertThat(pressure.overHardLimit()).isTrue();
    a.setSuccess();
    assertThat(pressure.overHardLimit()).isFalse();
    b.setSuccess();
  }

  @Test
  void overTheListenersBudgetTheSourceWaitsUntilTheQueueFallsToHalf() {
    pressure.source(source);
    pressure.lift(Backpressure.CONNECTING);
    ChannelPromise a = pressure.track(sink, (int) BUDGET - 1);
    assertThat(pressure.holds(Backpressure.BUDGET)).as("below the budget").isFalse();
    ChannelPromise b = pressure.track(sink, 1);
    assertThat(pressure.holds(Backpressure.BUDGET)).isTrue();
    assertThat(reading()).isFalse();
    ChannelPromise c = pressure.track(sink, 1);
    a.setSuccess();
    assertThat(pressure.holds(Backpressure.BUDGET)).as("fell to 2 bytes: resumed").isFalse();
    assertThat(reading()).isTrue();
    b.setSuccess();
    c.setSuccess();
  }

  @Test
  void aReleasingDirectionIsNotHeldForTheBudget() {
    pressure.source(source);
    pressure.hold(Backpressure.RELEASING);
    ChannelPromise a = pressure.track(sink, (int) BUDGET);
    assertThat(pressure.holds(Backpressure.BUDGET)).isFalse();
    a.setSuccess();
  }
}
