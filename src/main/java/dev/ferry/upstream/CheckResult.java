package dev.ferry.upstream;

import java.util.Locale;

/** How one active health check ended: the values of {@code ferry_health_checks_total{result}}. */
public enum CheckResult {
  /** Connected, wrote {@code send}, found {@code expect}. */
  PASSED,
  /** The connect failed: refused, unreachable, the name did not resolve. */
  CONNECT_FAILED,
  /** Not finished within the check's timeout (connect, send and reply together). */
  TIMEOUT,
  /** Connected, but the upstream closed before sending {@code expect}, or sent 16 KiB without it. */
  UNEXPECTED_REPLY,
  /** Connected, then a socket error (a reset, a failed write). */
  IO_ERROR;

  private final String label = name().toLowerCase(Locale.ROOT);

  public String label() {
    return label;
  }

  public boolean passed() {
    return this == PASSED;
  }
}
