package dev.ferry.soak;

/** What a soak upstream does with one accepted connection. */
enum UpstreamBehaviour {
  /** Echoes every byte until end of stream, then closes. */
  ECHO(true),
  /** Reads to end of stream, records the SHA-256 of what it got under the token, then closes. */
  SINK(true),
  /**
   * A sink that reads nothing for {@code param} ms (100 to 800), then reads at full speed: the client's large
   * transfer backs up into Ferry (soft limit reached, client paused) before the client's FIN arrives.
   */
  LAZY_SINK(true),
  /** A sink that reads in small pieces with pauses (a slow reader). */
  SLOW_SINK(true),
  /** Sends {@code param} deterministic random bytes, records their SHA-256, then FIN; reads to end of stream. */
  SOURCE(true),
  /** Reads up to n bytes, then resets the connection (SO_LINGER 0). */
  RST_AFTER_N(false),
  /** Reads up to n bytes, then closes. */
  CLOSE_AFTER_N(false),
  /** Accepts and then never reads nor writes (not even the hello); closed by the soak after a while. */
  STALL(false);

  /** Completes its stream in order when the client does: a stream through it can be hash-checked. */
  final boolean wellBehaved;

  UpstreamBehaviour(boolean wellBehaved) {
    this.wellBehaved = wellBehaved;
  }
}
