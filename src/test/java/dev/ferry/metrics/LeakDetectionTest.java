package dev.ferry.metrics;

import dev.ferry.support.Await;
import dev.ferry.support.ExpectedLeaks;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.LeakCheckExtension;
import dev.ferry.vocabulary.LeakKind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The buffer-leak alarm is live: a pooled buffer dropped unreleased shows up in ferry_leaks_detected_total. */
@ExpectedLeaks(1)
class LeakDetectionTest {

  @Test
  void countsAPooledBufferThatReachesTheCollectorUnreleased() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options())) {
      assertThat(ferry.metrics().leaksTotal(LeakKind.BUFFER)).isZero();
      dropUnreleased();
      Await.until("Netty reports the leak", () -> {
        LeakCheckExtension.collect();
        return ferry.metrics().leaksTotal(LeakKind.BUFFER) == 1;
      });
      String metrics = ferry.admin("GET", "/metrics").body();
      assertThat(metrics).contains("ferry_leaks_detected_total{kind=\"buffer\"} 1.0");
    }
  }

  private static void dropUnreleased() {
    ByteBuf leaked = PooledByteBufAllocator.DEFAULT.directBuffer(64);
    leaked.writeLong(42);
  }
}
