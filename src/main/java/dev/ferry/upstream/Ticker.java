package dev.ferry.upstream;

/**
 * The pool's clocks, injected so tests control time: a monotonic one for health ({@link System#nanoTime()}
 * semantics, compared by difference) and a wall clock for what {@code describe()} shows.
 */
public interface Ticker {

  /** The running process's clocks. */
  Ticker SYSTEM = new Ticker() {
    @Override
    public long nanos() {
      return System.nanoTime();
    }

    @Override
    public long epochMillis() {
      return System.currentTimeMillis();
    }
  };

  long nanos();

  long epochMillis();
}
