package dev.ferry.vocabulary;

/**
 * Label values of {@code ferry_leaks_detected_total} (all kinds) and {@code ferry_double_free_detected_total}
 * ({@code buffer} and {@code release}).
 */
public enum LeakKind {
  /** A pooled buffer reached the garbage collector unreleased (Netty's leak detector). */
  BUFFER,
  /** A release was ordered and not acknowledged within {@code registry.release-timeout}; or ran twice. */
  RELEASE,
  /** A connection finished its release while its ledger still counted buffers. */
  CONNECTION;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
