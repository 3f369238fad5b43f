package dev.ferry.metrics;

import dev.ferry.vocabulary.AdminCloseCause;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class LogThrottleTest {

  private final AtomicLong now = new AtomicLong(1_000);
  private final LogThrottle<AdminCloseCause> throttle =
    new LogThrottle<>(AdminCloseCause.class, Duration.ofSeconds(10), now::get);

  @Test
  void logsTheFirstEventAtOnceThenOneLinePerIntervalCarryingTheCountSinceTheLastLine() {
    assertThat(throttle.event(AdminCloseCause.REQUEST_TIMEOUT)).isEqualTo(1);
    for (int i = 0; i < 29; i++) {
      now.addAndGet(100_000_000);
      assertThat(throttle.event(AdminCloseCause.REQUEST_TIMEOUT)).as("event %d, within the interval", i).isZero();
    }
    now.addAndGet(Duration.ofSeconds(8).toNanos());
    assertThat(throttle.event(AdminCloseCause.REQUEST_TIMEOUT)).as("29 suppressed and this one").isEqualTo(30);
    assertThat(throttle.event(AdminCloseCause.REQUEST_TIMEOUT)).isZero();
  }

  @Test
  void keepsEachCauseApart() {
    assertThat(throttle.event(AdminCloseCause.REQUEST_TIMEOUT)).isEqualTo(1);
    assertThat(throttle.event(AdminCloseCause.IDLE_TIMEOUT)).as("another cause has its own line").isEqualTo(1);
    assertThat(throttle.event(AdminCloseCause.REQUEST_TIMEOUT)).isZero();
  }
}
