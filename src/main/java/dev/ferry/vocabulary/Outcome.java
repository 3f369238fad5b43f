package dev.ferry.vocabulary;

/** How an upstream connect attempt ended: the {@code outcome} label of the connect meters. */
public enum Outcome {
  SUCCESS, FAILURE;

  public static Outcome of(boolean success) {
    return success ? SUCCESS : FAILURE;
  }

  /** The Prometheus label value. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
