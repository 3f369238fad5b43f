package dev.ferry.support;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Bounded polling for state that has no event to wait on (gauges, counters). Fails with a description. */
public final class Await {

  public static final Duration DEFAULT = Duration.ofSeconds(15);

  private Await() {
  }

  public static void until(String what, BooleanSupplier condition) {
    until(what, DEFAULT, condition);
  }

  public static void until(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting until " + what);
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting until " + what);
      }
    }
  }

  /** Waits until {@code value} equals {@code expected}, then asserts it (so the failure shows both). */
  public static <T> void equal(String what, T expected, Supplier<T> value) {
    try {
      until(what + " == " + expected, () -> expected.equals(value.get()));
    } catch (AssertionError e) {
      assertThat(value.get()).as(what).isEqualTo(expected);
    }
  }
}
