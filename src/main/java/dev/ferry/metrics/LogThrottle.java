package dev.ferry.metrics;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * At most one log line per {@code interval} for each value of an enum, carrying the count of events since the last
 * line. For events an outsider can cause at a high rate (a flood of accepts failing for lack of descriptors, a
 * slowloris on the admin port): the counter says how many, the log says that it happens, without a line per event.
 * <p>
 * {@code long n = throttle.event(cause); if (n > 0) log.warn("... ({} since the last line)", n);}. Events after the
 * last line of a burst are logged with the next event after the interval (the counter has them at once).
 * <p>
 * Thread-safe and lock-free: events on several event loops race only on a compare-and-set of the line's time.
 */
public final class LogThrottle<E extends Enum<E>> {

  private final long intervalNanos;
  private final LongSupplier nanoClock;
  private final AtomicLong[] pending;
  /** Per key: when the last line was due; {@code Long.MIN_VALUE} until the first. */
  private final AtomicLongArray lastLine;

  public LogThrottle(Class<E> keys, Duration interval) {
    this(keys, interval, System::nanoTime);
  }

  LogThrottle(Class<E> keys, Duration interval, LongSupplier nanoClock) {
    int n = keys.getEnumConstants().length;
    this.intervalNanos = interval.toNanos();
    this.nanoClock = nanoClock;
    this.pending = new AtomicLong[n];
    for (int i = 0; i < n; i++) {
      pending[i] = new AtomicLong();
    }
    this.lastLine = new AtomicLongArray(n);
    for (int i = 0; i < n; i++) {
      lastLine.set(i, Long.MIN_VALUE);
    }
  }

  /**
   * Counts one event of {@code key}.
   *
   * @return 0 when no line is due; else the events since the last line, this one included: log one line now
   */
  public long event(E key) {
    int i = key.ordinal();
    pending[i].incrementAndGet();
    long now = nanoClock.getAsLong();
    long last = lastLine.get(i);
    if (last != Long.MIN_VALUE && now - last < intervalNanos) {
      return 0;
    }
    if (!lastLine.compareAndSet(i, last, now)) {
      return 0; // another thread takes this line
    }
    return pending[i].getAndSet(0);
  }
}
