package dev.ferry.registry;

/**
 * Owner to registry: a connection exists. Sent by the owning listener before any close request for the same id
 * (one sender, so the event bus keeps the order).
 *
 * @param owner the event-bus address of the listener that owns the sockets and executes the release
 */
public record ConnectionOpened(ConnectionInfo info, String owner) {
}
