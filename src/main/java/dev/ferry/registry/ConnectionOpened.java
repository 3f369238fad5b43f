package dev.ferry.registry;

/**
 * Owner to registry: a connection exists. Sent by the owning listener before any close request for the same id
 * (one sender, so the event bus keeps the order).
 *
 * @param owner      the event-bus address of the listener that owns the sockets and executes the release
 * @param routeFinal false on an address that several routes share: the route is the address's lead until a
 *                   {@link RouteChosen} (or the release) makes it final, and only then is the connection counted
 *                   in a route's {@code ferry_connections_opened_total}
 */
public record ConnectionOpened(ConnectionInfo info, String owner, boolean routeFinal) {

  /** A connection whose route is known at accept. */
  public ConnectionOpened(ConnectionInfo info, String owner) {
    this(info, owner, true);
  }
}
