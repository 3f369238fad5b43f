package dev.ferry.vocabulary;

/** Who a close request blames: the client socket, the upstream socket, or Ferry itself. */
public enum Side {
  CLIENT, UPSTREAM, PROXY;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
