package dev.ferry.upstream;

import java.util.concurrent.TimeUnit;

/** A clock a test moves by hand; starts near the nano clock's wrap so every comparison must be by difference. */
final class ManualTicker implements Ticker {

  private volatile long nanos = Long.MAX_VALUE - TimeUnit.MINUTES.toNanos(1);
  private volatile long millis = 1_767_225_600_000L;

  @Override
  public long nanos() {
    return nanos;
  }

  @Override
  public long epochMillis() {
    return millis;
  }

  void advance(long amount, TimeUnit unit) {
    nanos += unit.toNanos(amount);
    millis += unit.toMillis(amount);
  }
}
