package dev.ferry.vocabulary;

/** Which way bytes travel. */
public enum Direction {
  /** Client to upstream. */
  UPSTREAM,
  /** Upstream to client. */
  DOWNSTREAM;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
