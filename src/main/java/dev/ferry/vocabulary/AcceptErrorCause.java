package dev.ferry.vocabulary;

/** Why a listening socket failed to accept a client: the {@code cause} of {@code ferry_accept_errors_total}. */
public enum AcceptErrorCause {
  /** {@code EMFILE}/{@code ENFILE}: the process (or the system) has no descriptor left for the client's socket. */
  TOO_MANY_OPEN_FILES,
  /** Any other accept failure ({@code ENOBUFS}, {@code ENOMEM}, a socket error). */
  OTHER;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
