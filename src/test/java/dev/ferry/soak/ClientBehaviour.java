package dev.ferry.soak;

/** What a soak client does with one connection through Ferry. */
enum ClientBehaviour {
  /** Waits for the upstream's hello and completes a transfer checked by SHA-256 (echo, sink or source). */
  NORMAL,
  /** Sends some bytes, then resets (SO_LINGER 0, close). */
  RST_MID_STREAM,
  /** Sends a little, then FIN at once; Ferry must close the connection. */
  FIN_EARLY,
  /** Sends a little and never reads (while the upstream may send), then closes after a few seconds. */
  NEVER_READ,
  /** Reads in small pieces with pauses; a source stream read this way is hash-checked too. */
  SLOW_READ,
  /** Sends random bytes without waiting for anything, reads a little, closes. */
  GARBAGE,
  /** Connects and does nothing: Ferry's idle timeout must close it. */
  IDLE,
  /** Connects and closes at once (FIN or RST). */
  VANISH
}
